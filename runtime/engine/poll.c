/* Readiness inside coroutines: poll, ppoll, select, pselect, epoll_wait,
 * epoll_pwait, epoll_pwait2.
 *
 * Every answer is the program's own call with a zero timeout, made in the
 * calling thread: it validates the arguments, fills revents, the fd sets
 * or the events exactly as the kernel does.  Only when that finds nothing
 * and the call may wait does the coroutine wait — one POLLSET op on a
 * private copy of the fds (an epoll fd is itself one fd to wait on) —
 * and then asks again; a wake-up that finds nothing (another thread took
 * the data) waits again for what is left of the timeout.  The timeout's
 * end is the scheduler's timer; the coroutine's I/O deadline and
 * asy_cancel() end the wait with ETIMEDOUT / ECANCELED.
 *
 * A call with a signal mask other than the thread's own (ppoll, pselect,
 * epoll_pwait*) is the program's own call: only the kernel can install a
 * mask for exactly the length of a wait.  So is a call of a coroutine
 * alone on its thread, as for files. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <time.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

#define NS 1000000000LL
#define SMALL_SET 64

/* The fds to wait for, on the stack when few, else in a mapping. */
struct pset {
	struct pollfd *p;
	unsigned n;
	size_t mapped;
	struct pollfd small[SMALL_SET];
};

static int pset_init(struct pset *s, unsigned n)
{
	s->n = 0;
	s->mapped = 0;
	s->p = s->small;
	if (n > SMALL_SET) {
		s->mapped = n * sizeof *s->p;
		s->p = asy__map(s->mapped);
		if (s->p == MAP_FAILED)
			return -ENOMEM;
	}
	return 0;
}

/* io_uring's POLL_ADD lets a wake-up through only when its key shares a
 * bit with the events other than POLLPRI, so a wait for POLLPRI alone
 * never ends (TCP's urgent data, select's exceptfds); POLLRDBAND, which
 * the same wake-ups carry, lets them through.  The answer is the
 * program's own call's. */
static void pset_add(struct pset *s, int fd, short events)
{
	if (events & POLLPRI)
		events |= POLLRDBAND;
	s->p[s->n].fd = fd;
	s->p[s->n].events = events;
	s->p[s->n].revents = 0;
	s->n++;
}

static void pset_free(struct pset *s)
{
	if (s->mapped)
		asy__unmap(s->p, s->mapped);
}

/* A number of the set closed while the call waited (by another thread):
 * the kernel's call holds the files it waits on, and sees the number
 * closed only at its next pass — a wake-up of the set or the timeout.
 * Take such numbers out of the wait (as ~fd: poll ignores a negative fd,
 * and the number stays known) and wait on; the pass after the next
 * wake-up says they are closed, as the kernel's would.  How many were
 * taken out. */
static unsigned drop_closed(struct pset *s)
{
	static const struct timespec zero = { 0, 0 };
	unsigned dropped = 0;
	if (asy_sys(SYS_ppoll, s->p, s->n, &zero, NULL, 8, 0) <= 0)
		return 0;
	for (unsigned i = 0; i < s->n; i++)
		if (s->p[i].fd >= 0 && (s->p[i].revents & POLLNVAL)) {
			s->p[i].fd = ~s->p[i].fd;
			dropped++;
		}
	return dropped;
}

/* Did the program's poll find nothing but numbers closed meanwhile? */
static int only_closed(const struct pollfd *fds, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		if (fds[i].revents && fds[i].revents != POLLNVAL)
			return 0;
	return 1;
}

/* Park until one of s is ready or `until`: 0 woken, -ETIME the timeout,
 * -ETIMEDOUT / -ECANCELED the coroutine's deadline or a cancel. */
static long wait_set(struct asy_io *io, struct pset *s, int64_t until)
{
	long r = 0;
	if (s->n > 0) {
		struct asy_thread *t = asy__thread();
		if (!t)
			return -ENOMEM;
		struct asy_waiter w = { .io = { .op = ASY_OP_POLLSET, .call = io->call, .fd = -1,
						.pfd = s->p, .npfd = s->n } };
		r = asy__op(t, &w, until);
		io->via = w.io.via;
	}
	/* Nothing to wait for: a sleep to the end. */
	if (s->n == 0) {
		io->via = ASY_VIA_TIMER;
		int64_t io_deadline = asy__coro_io_deadline();
		int64_t t = io_deadline >= 0 && (until < 0 || io_deadline < until) ? io_deadline : until;
		int e = asy__park(t);
		if (e == -ETIMEDOUT && t == until)
			return -ETIME;
		return e < 0 ? e : 0;
	}
	/* EBADF: a number not open (the ring's POLL op refuses it, poll()
	 * says POLLNVAL): the look after the wait gives the kernel's answer */
	return r < 0 && r != -EBADF ? r : 0;
}

/* An absolute end on the asy_now() clock from a timeout in ms (< 0 none,
 * 0: do not wait). */
static int64_t end_ms(int ms)
{
	return ms < 0 ? -1 : ms == 0 ? 0 : asy_now() + (int64_t)ms * 1000000;
}

/* From a timespec the program passed (NULL: none).  -EFAULT/-EINVAL
 * when the kernel would refuse it: the program's call says so. */
static int64_t end_ts(const struct timespec *tmo, int *bad)
{
	struct timespec ts;
	if (!tmo)
		return -1;
	if (asy__copy_in(&ts, tmo, sizeof ts) < 0 || ts.tv_sec < 0 || ts.tv_nsec < 0 ||
	    ts.tv_nsec >= NS) {
		*bad = 1;
		return 0;
	}
	if (ts.tv_sec >= INT64_MAX / NS / 2)
		return -1;
	if (ts.tv_sec == 0 && ts.tv_nsec == 0)
		return 0; /* do not wait */
	return asy_now() + (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* Is `mask` the thread's own mask (or NULL)?  Then the call waits as
 * without one. */
static int mask_is_own(const sigset_t *mask)
{
	sigset_t own, m;
	if (!mask)
		return 1;
	if (asy__copy_in(&m, mask, 8) < 0 ||
	    asy_sys(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &own, 8, 0, 0) < 0)
		return 0;
	/* The kernel never blocks these two: a full set is the mask of a
	 * thread that blocked everything it could */
	sigdelset(&m, SIGKILL);
	sigdelset(&m, SIGSTOP);
	return memcmp(&m, &own, 8) == 0;
}

/* ---- poll, ppoll --------------------------------------------------------- */

static long do_poll(struct pollfd *fds, nfds_t n, const struct timespec *zero)
{
	return asy_sys(SYS_ppoll, fds, n, zero, NULL, 8, 0);
}

static long poll_call(struct asy_io *io, struct pollfd *fds, nfds_t n, int64_t until)
{
	static const struct timespec zero = { 0, 0 };
	long r = do_poll(fds, n, &zero);
	if (r != 0 || until == 0)
		return r > 0 ? asy__inline(io, r) : r;
	struct pset s;
	if (n > (1u << 20) || pset_init(&s, (unsigned)n) < 0)
		return ASY_PASS;
	for (nfds_t i = 0; i < n; i++)
		if (fds[i].fd >= 0)
			pset_add(&s, fds[i].fd, fds[i].events);
	for (;;) {
		long w = wait_set(io, &s, until);
		r = do_poll(fds, n, &zero);
		if (r > 0 && w >= 0 && only_closed(fds, n) && drop_closed(&s))
			continue; /* POLLNVAL at the next pass */
		if (r != 0 || w == -ETIME)
			break;
		if (w < 0) {
			r = w;
			break;
		}
	}
	pset_free(&s);
	return r;
}

/* ---- select, pselect ----------------------------------------------------- */

#define SET_BYTES(n) ((((size_t)(n) + 63) / 64) * 8)

/* The program's three sets, and copies of what it asked, to ask again
 * (and to give back when the wait ends early, as the kernel leaves the
 * sets of a select that a signal ended): on the stack up to FD_SETSIZE,
 * else in a mapping (glibc's callers may pass larger sets). */
struct sets {
	fd_set *p[3];
	unsigned char *copy[3];
	int bits; /* of each set the kernel reads and writes */
	size_t bytes, mapped;
	unsigned char *buf;
	unsigned char small[3][SET_BYTES(FD_SETSIZE)];
};

static int in_set(const unsigned char *set, int fd)
{
	return set && (set[fd / 8] >> (fd % 8)) & 1;
}

/* Copy in what the program asked; -EFAULT as the kernel would say. */
static int sets_init(struct sets *s, int n, fd_set **sets)
{
	s->bits = n;
	s->bytes = n > 0 ? SET_BYTES(n) : 0;
	s->mapped = 0;
	s->buf = s->small[0];
	if (s->bytes > sizeof s->small[0]) {
		void *m = asy__map(3 * s->bytes);
		if (m == MAP_FAILED)
			return -ENOMEM;
		s->buf = m;
		s->mapped = 3 * s->bytes;
	}
	for (int i = 0; i < 3; i++) {
		s->p[i] = sets[i];
		s->copy[i] = sets[i] ? s->buf + i * s->bytes : NULL;
		if (sets[i] && asy__copy_in(s->copy[i], sets[i], s->bytes) < 0)
			return -EFAULT;
	}
	return 0;
}

static void sets_free(struct sets *s)
{
	if (s->mapped)
		asy__unmap(s->buf, s->mapped);
}

/* The program's sets as it gave them. */
static void sets_restore(struct sets *s)
{
	for (int i = 0; i < 3; i++)
		if (s->p[i])
			memcpy(s->p[i], s->copy[i], s->bytes);
}

static void set_bit(fd_set *set, int fd, int on)
{
	unsigned char *b = (unsigned char *)set;
	if (set)
		b[fd / 8] = (unsigned char)(on ? b[fd / 8] | 1 << (fd % 8) : b[fd / 8] & ~(1 << (fd % 8)));
}

/* Ask again what the program asked.  A number closed while the call
 * waited (drop_closed) is no EBADF there — the kernel checks the sets'
 * numbers at the start only — but reported in every set that asks for
 * it, as the kernel's pass reports a number it finds closed. */
static long do_select(int n, struct sets *s, const struct pset *ps, long *closed)
{
	static const struct timespec zero = { 0, 0 };
	*closed = 0;
	sets_restore(s);
	for (unsigned i = 0; i < ps->n; i++)
		if (ps->p[i].fd < 0)
			for (int k = 0; k < 3; k++)
				set_bit(s->p[k], ~ps->p[i].fd, 0);
	long r = asy_sys(SYS_pselect6, n, s->p[0], s->p[1], s->p[2], &zero, NULL);
	for (unsigned i = 0; r >= 0 && i < ps->n; i++)
		for (int k = 0; ps->p[i].fd < 0 && k < 3; k++)
			if (in_set(s->copy[k], ~ps->p[i].fd)) {
				set_bit(s->p[k], ~ps->p[i].fd, 1);
				r++;
				(*closed)++;
			}
	return r;
}

static long select_wait(struct asy_io *io, int n, struct sets *s, int64_t until)
{
	static const struct timespec zero = { 0, 0 };
	long r = asy_sys(SYS_pselect6, n, s->p[0], s->p[1], s->p[2], &zero, NULL);
	if (r != 0 || until == 0)
		return r > 0 ? asy__inline(io, r) : r;
	struct pset ps;
	if (pset_init(&ps, (unsigned)s->bits) < 0)
		return ASY_PASS;
	for (int fd = 0; fd < s->bits; fd++) {
		short ev = (in_set(s->copy[0], fd) ? POLLIN : 0) |
			   (in_set(s->copy[1], fd) ? POLLOUT : 0) | (in_set(s->copy[2], fd) ? POLLPRI : 0);
		if (ev)
			pset_add(&ps, fd, ev);
	}
	struct asy_again again = { 0, 0 };
	for (;;) {
		long w = wait_set(io, &ps, until);
		long closed;
		r = do_select(n, s, &ps, &closed);
		if (r == -EBADF && (w >= 0 || w == -ETIME) && drop_closed(&ps))
			r = do_select(n, s, &ps, &closed);
		if (r > 0 && r == closed && w >= 0)
			continue; /* closed ones only: at the timeout, or with others */
		if (r != 0 || w == -ETIME)
			break;
		/* Ready by poll (a hang-up poll always reports), not in the
		 * sets select asked for: look again after a pause.
		 * -EAGAIN from the pause: the timeout came. */
		if (w >= 0 && (w = asy__pause_again(&again, until, 0)) == -EAGAIN)
			break;
		if (w < 0) {
			/* ended early: the sets stay as the program gave them,
			 * as after a signal */
			sets_restore(s);
			r = w;
			break;
		}
	}
	pset_free(&ps);
	return r;
}

/* min(n, the size of the fd table): the kernel reads and writes that
 * many bits of each set, whatever the program's n (a program may pass a
 * larger n than its sets hold).  Is b below the size?  When it is open,
 * or when a select that asks for it alone says EBADF (at or above the
 * size it is ignored).  -1: no memory to ask. */
static int table_bits(int n)
{
	static const struct timespec zero = { 0, 0 };
	size_t bytes = SET_BYTES(n);
	unsigned char *one = asy__map(bytes);
	if (one == MAP_FAILED)
		return -1;
	int lo = 0, hi = n;
	while (lo < hi) {
		int b = lo + (hi - lo) / 2, below = asy_sys_fcntl(b, F_GETFD, 0) >= 0;
		if (!below) {
			one[b / 8] = (unsigned char)(1 << (b % 8));
			below = asy_sys(SYS_pselect6, b + 1, one, NULL, NULL, &zero, NULL) == -EBADF;
			one[b / 8] = 0;
		}
		if (below)
			lo = b + 1;
		else
			hi = b;
	}
	asy__unmap(one, bytes);
	return lo;
}

static long select_call(struct asy_io *io, int n, fd_set **sets, int64_t until)
{
	struct sets s;
	if (n < 0)
		return ASY_PASS; /* EINVAL */
	/* Up to FD_SETSIZE every fd_set holds the bits */
	int bits = n > FD_SETSIZE ? table_bits(n) : n;
	if (bits < 0)
		return ASY_PASS;
	long r = sets_init(&s, bits, sets);
	if (r == 0)
		r = select_wait(io, n, &s, until);
	else
		r = ASY_PASS; /* EFAULT, or no memory */
	sets_free(&s);
	return r;
}

/* select's timeval as glibc reads it: tv_usec as a 32-bit int (a
 * negative one, or tv_sec: EINVAL), carried into tv_sec, saturated at
 * INT64_MAX s + 999999999 ns.  0, or -EINVAL. */
static int select_timeout(const struct timeval *tv, struct timespec *ts)
{
	int32_t us = (int32_t)tv->tv_usec;
	if (tv->tv_sec < 0 || us < 0)
		return -EINVAL;
	if (us / 1000000 > INT64_MAX - tv->tv_sec) {
		*ts = (struct timespec){ INT64_MAX, NS - 1 };
	} else {
		ts->tv_sec = tv->tv_sec + us / 1000000;
		ts->tv_nsec = us % 1000000 * 1000;
	}
	return 0;
}

/* select() on Linux writes the time left into its timeval (glibc from
 * the kernel's timespec, as it counts it). */
static void time_left(struct timeval *tvp, struct timespec ts, int64_t start)
{
	asy__time_left(&ts, start);
	/* glibc's select writes it itself: a read-only one faults there too */
	*tvp = (struct timeval){ ts.tv_sec, ts.tv_nsec / 1000 };
}

/* ---- epoll ----------------------------------------------------------------- */

/* The epoll set is held while the call waits, as the kernel's call holds
 * it: another thread's close of its number, or a dup2 over it, leaves the
 * set to this call, whose POLL op waits on that copy from then on
 * (keep.c). */
static long epoll_call(struct asy_io *io, int ep, struct epoll_event *ev, int max, int64_t until)
{
	long r = asy_sys(SYS_epoll_pwait, ep, ev, max, 0, NULL, 8);
	if (r != 0 || until == 0)
		return r > 0 ? asy__inline(io, r) : r;
	struct asy_keep keep = { .fd = -1, .held = -1 };
	asy__keep_begin(&keep, ep);
	for (;;) {
		/* woken (revents, or EBADF: the look after says), -ETIME,
		 * or the coroutine's deadline or cancel */
		long w = asy__wait_ready(io, asy__keep_fd(&keep, ep), POLLIN, until, &keep);
		if (w == ASY_PASS)
			w = -ENOMEM;
		else if (w > 0 || w == -EBADF)
			w = 0;
		r = asy_sys(SYS_epoll_pwait, asy__keep_fd(&keep, ep), ev, max, 0, NULL, 8);
		if (r != 0 || w == -ETIME)
			break;
		if (w < 0) {
			r = w;
			break;
		}
	}
	asy__keep_end(&keep);
	return r;
}

long asy__poll(struct asy_io *io)
{
	const long *a = io->a;
	int bad = 0;
	int64_t until;
	if (asy__coro_alone())
		return ASY_PASS;
	switch (io->call) {
	case ASY_CALL_poll:
		return poll_call(io, (struct pollfd *)a[0], (nfds_t)a[1], end_ms((int)a[2]));
	case ASY_CALL_ppoll:
		until = end_ts((const struct timespec *)a[2], &bad);
		if (bad || !mask_is_own((const sigset_t *)a[3]))
			return ASY_PASS;
		return poll_call(io, (struct pollfd *)a[0], (nfds_t)a[1], until);
	case ASY_CALL_select: {
		struct timeval tv, *tvp = (struct timeval *)a[4];
		struct timespec ts;
		int64_t start = asy_now();
		until = -1;
		if (tvp) {
			if (asy__copy_in(&tv, tvp, sizeof tv) < 0 || select_timeout(&tv, &ts) < 0)
				return ASY_PASS; /* glibc's EFAULT or EINVAL */
			until = ts.tv_sec == 0 && ts.tv_nsec == 0 ?
					0 : asy__timeo_end(start, ts.tv_sec, ts.tv_nsec / 1000);
		}
		fd_set *sets[3] = { (fd_set *)a[1], (fd_set *)a[2], (fd_set *)a[3] };
		long r = select_call(io, (int)a[0], sets, until);
		/* Linux writes what is left back, whatever the answer */
		if (tvp && r != ASY_PASS)
			time_left(tvp, ts, start);
		return r;
	}
	case ASY_CALL_pselect: {
		until = end_ts((const struct timespec *)a[4], &bad);
		if (bad || !mask_is_own((const sigset_t *)a[5]))
			return ASY_PASS;
		fd_set *sets[3] = { (fd_set *)a[1], (fd_set *)a[2], (fd_set *)a[3] };
		return select_call(io, (int)a[0], sets, until);
	}
	case ASY_CALL_epoll_wait:
		return epoll_call(io, io->fd, (struct epoll_event *)a[0], (int)a[1], end_ms((int)a[2]));
	case ASY_CALL_epoll_pwait:
		if (!mask_is_own((const sigset_t *)a[3]))
			return ASY_PASS;
		return epoll_call(io, io->fd, (struct epoll_event *)a[0], (int)a[1], end_ms((int)a[2]));
	case ASY_CALL_epoll_pwait2:
		until = end_ts((const struct timespec *)a[2], &bad);
		if (bad || !mask_is_own((const sigset_t *)a[3]))
			return ASY_PASS;
		return epoll_call(io, io->fd, (struct epoll_event *)a[0], (int)a[1], until);
	}
	return ASY_PASS;
}
