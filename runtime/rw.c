/* A coroutine's read or write: what the row of its kind of fd says
 * (runtime/fdkind.c).  Three shapes:
 *
 *  - files (regular, block device): the non-blocking try, and what it
 *    could not do (a cache miss, a buffered write the file system cannot
 *    try, O_DIRECT) as one backend op for the rest;
 *  - pipes and sockets: the non-blocking try; when it would wait, a POLL
 *    op, then the try again — in the calling thread, so the data, SIGPIPE
 *    and every error come from the kernel to the calling thread.  A read
 *    is one transfer; a write goes on until everything moved, as the
 *    kernel's blocking write does, except a record (datagram, seqpacket),
 *    which is one call or none;
 *  - ttys, character devices, event fds: poll(0) says whether the call
 *    would wait; it is made as the program's own call once it would not.
 *
 * The program's vector is never cut into pieces: the kernel sees it whole,
 * validates it, and takes the lock and the atomicity that go with it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <termios.h>

#include "engine.h"
#include "fdkind.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

#define SMALL_VEC 8
#define LOWAT_LOOK_NS 1000000

/* What is left of the program's vector after `done` bytes; small ones on
 * the stack, others in a mapping of their own (rest_free). */
struct rest {
	struct iovec *v;
	int cnt;
	struct iovec small[SMALL_VEC];
	size_t mapped;
};

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

static int rest_of(struct rest *r, const struct asy_io *io, size_t done)
{
	const struct iovec *v = io->iov;
	int cnt = io->iovcnt;
	while (cnt > 0 && done >= v->iov_len)
		done -= v->iov_len, v++, cnt--;
	r->v = r->small;
	r->mapped = 0;
	if (cnt > SMALL_VEC) {
		r->mapped = (size_t)cnt * sizeof *v;
		r->v = mmap(NULL, r->mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (r->v == MAP_FAILED)
			return -ENOMEM;
	}
	memcpy(r->v, v, (size_t)cnt * sizeof *v);
	if (cnt) {
		r->v[0].iov_base = (char *)r->v[0].iov_base + done;
		r->v[0].iov_len -= done;
	}
	r->cnt = cnt;
	return 0;
}

static void rest_free(struct rest *r)
{
	if (r->mapped)
		munmap(r->v, r->mapped);
}

static long file_flags(int fd)
{
	return asy_sys_fcntl(fd, F_GETFL, 0);
}

/* The call minus the wait.  A socket write continued after bytes moved
 * says MSG_NOSIGNAL: the kernel's one write would not raise SIGPIPE then. */
static long nowait(const struct asy_io *io, const struct iovec *v, int cnt, off_t off,
		   int nosignal)
{
	if (io->op == ASY_OP_READ)
		return asy_sys_preadv2(io->fd, v, cnt, off, io->rwflags | RWF_NOWAIT);
	if (nosignal) {
		struct msghdr m = { .msg_iov = (struct iovec *)v, .msg_iovlen = (size_t)cnt };
		return asy_sys(SYS_sendmsg, io->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL, 0, 0, 0);
	}
	return asy_sys_pwritev2(io->fd, v, cnt, off, io->rwflags | RWF_NOWAIT);
}

static long done_inline(struct asy_io *io, long r)
{
	io->via = ASY_VIA_INLINE;
	ASY_COUNT(inline_done);
	return r;
}

/* One op on the backend for what is left after `done` bytes. */
static long op_rest(struct asy_io *io, long done, enum asy_op op, short events, int64_t deadline)
{
	struct asy_thread *t = asy__thread();
	if (!t)
		return ASY_PASS; /* no memory for the thread's state */
	struct rest rest;
	struct asy_waiter w = { .io = *io };
	if (op != ASY_OP_POLL) {
		int e = rest_of(&rest, io, (size_t)done);
		if (e < 0)
			return e;
		w.io.iov = rest.v;
		w.io.iovcnt = rest.cnt;
		w.io.off = io->off >= 0 ? io->off + done : -1;
	}
	w.io.op = (unsigned char)op;
	w.io.events = events;
	long r = asy__op(t, &w, deadline);
	if (op != ASY_OP_POLL)
		rest_free(&rest);
	io->via = w.io.via;
	return r;
}

/* ---- files ----------------------------------------------------------- */

static long rw_file(struct asy_io *io)
{
	/* A coroutine alone on its thread: nothing else could run while its
	 * file call waits, so the call is the program's own (as on a plain
	 * thread) — a handoff would only add wake-ups. */
	if (asy__coro_alone())
		return ASY_PASS;
	long fl = file_flags(io->fd);
	long r = -EAGAIN, done = 0;
	/* RWF_NOWAIT does not keep a direct read from waiting for the device:
	 * it would hold the whole thread.  The backend validates it instead. */
	if (fl < 0 || !(fl & O_DIRECT))
		r = nowait(io, io->iov, io->iovcnt, io->off, 0);
	if (r == -EOPNOTSUPP && asy__kernel_fs(io->fd))
		return ASY_PASS; /* /proc, /sys: never waits for a device */
	if (r < 0 && r != -EAGAIN && r != -EOPNOTSUPP)
		return r;
	if (r >= 0) {
		size_t total = iov_total(io->iov, io->iovcnt);
		done = r;
		/* A read that stopped short: at EOF, or where the cached part
		 * ends.  Another try says which, without a backend. */
		while (io->op == ASY_OP_READ && r > 0 && (size_t)done < total) {
			struct rest rest;
			if (rest_of(&rest, io, (size_t)done) < 0)
				return done;
			r = nowait(io, rest.v, rest.cnt, io->off >= 0 ? io->off + done : -1, 0);
			rest_free(&rest);
			done += r > 0 ? r : 0;
		}
		if ((size_t)done == total || r == 0 || (r < 0 && r != -EAGAIN))
			return done_inline(io, done);
	}
	long more = op_rest(io, done, (enum asy_op)io->op, 0, -1);
	if (more == ASY_PASS)
		return done ? done : ASY_PASS;
	return more < 0 ? (done ? done : more) : done + more;
}

/* ---- pipes and sockets ------------------------------------------------ */

static int64_t sock_deadline(const struct asy_io *io, int64_t start)
{
	struct timeval tv;
	socklen_t len = sizeof tv;
	int opt = io->op == ASY_OP_READ ? SO_RCVTIMEO : SO_SNDTIMEO;
	if (asy_sys(SYS_getsockopt, io->fd, SOL_SOCKET, opt, &tv, &len, 0) < 0 ||
	    (tv.tv_sec == 0 && tv.tv_usec == 0))
		return -1;
	return start + (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

/* SO_RCVLOWAT above 1 on a stream socket: a blocking read waits until
 * min(lowat, count) bytes are there (or EOF, an error).  poll() cannot
 * say that (AF_UNIX ignores the mark; TCP ignores the count), so the
 * queue is measured: 1 when the read may go ahead now. */
static int lowat_ready(const struct asy_io *io)
{
	int lowat = 1, queued = 0;
	socklen_t len = sizeof lowat;
	if (asy_sys(SYS_getsockopt, io->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len, 0) < 0 ||
	    lowat <= 1)
		return 1;
	size_t want = iov_total(io->iov, io->iovcnt);
	if (want > (size_t)lowat)
		want = (size_t)lowat;
	if (asy_sys(SYS_ioctl, io->fd, FIONREAD, &queued, 0, 0, 0) < 0 || (size_t)queued >= want)
		return 1;
	struct pollfd p = { .fd = io->fd, .events = POLLRDHUP };
	return asy_sys(SYS_poll, &p, 1, 0, 0, 0, 0) > 0 &&
	       (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

/* Wait for the lowat mark: look again every LOWAT_LOOK_NS. */
static long lowat_wait(int64_t deadline)
{
	int64_t at = asy_now() + LOWAT_LOOK_NS;
	if (deadline >= 0 && deadline < at)
		at = deadline;
	int64_t io_deadline = asy__coro_io_deadline();
	if (io_deadline >= 0 && io_deadline < at)
		at = io_deadline;
	int r = asy__coro_park(at, 1);
	if (r == -ETIMEDOUT && io_deadline >= 0 && at == io_deadline)
		return -ETIMEDOUT;
	if (r == -ETIMEDOUT && deadline >= 0 && asy_now() >= deadline)
		return -ETIME;
	return r == -ETIMEDOUT ? 0 : r;
}

static long rw_stream(struct asy_io *io, const struct asy_kind_def *k)
{
	int64_t start = asy_now(), deadline = -1;
	long done = 0, fl = -1;
	size_t total = 0;
	int waited = 0, lowat = 0;
	if (io->op == ASY_OP_READ && k->lowat && !lowat_ready(io)) {
		fl = file_flags(io->fd);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			lowat = 1;
	}
	for (;;) {
		long r;
		if (lowat && !lowat_ready(io)) {
			r = -EAGAIN;
		} else if (done == 0) {
			r = nowait(io, io->iov, io->iovcnt, io->off, 0);
		} else {
			struct rest rest;
			if (rest_of(&rest, io, (size_t)done) < 0)
				return done;
			r = nowait(io, rest.v, rest.cnt, -1, k->nosignal);
			rest_free(&rest);
		}
		if (r >= 0 && io->op == ASY_OP_READ)
			return waited ? r : done_inline(io, r);
		if (r >= 0) {
			if (!done)
				total = iov_total(io->iov, io->iovcnt);
			done += r;
			if ((size_t)done == total || k->record)
				return waited ? done : done_inline(io, done);
		} else if (r != -EAGAIN) {
			return done ? done : r;
		}
		/* It would wait (or a write moved part): a non-blocking fd
		 * answers now, as the kernel would. */
		if (fl < 0)
			fl = file_flags(io->fd);
		if (fl >= 0 && (fl & O_NONBLOCK))
			return done ? done : r;
		if (k->timeo && deadline < 0)
			deadline = sock_deadline(io, start);
		if (lowat)
			r = lowat_wait(deadline);
		else
			r = op_rest(io, 0, ASY_OP_POLL, io->op == ASY_OP_READ ? POLLIN : POLLOUT,
				    deadline);
		if (r == -ETIME)
			return done ? done : -EAGAIN;
		if (r == ASY_PASS)
			return done ? done : ASY_PASS;
		if (r < 0)
			return done ? done : r;
		waited = 1;
	}
}

/* ---- ttys, character devices, event fds -------------------------------- */

/* The total length of a vector the kernel has not seen yet, read without
 * trusting the pointer (process_vm_readv reports EFAULT). */
static long vec_total_safe(const struct asy_io *io)
{
	if (!io->iov || io->iov == &io->one)
		return (long)io->one.iov_len;
	long total = 0;
	for (int i = 0; i < io->iovcnt; i += SMALL_VEC) {
		struct iovec part[SMALL_VEC];
		int n = io->iovcnt - i < SMALL_VEC ? io->iovcnt - i : SMALL_VEC;
		struct iovec l = { part, (size_t)n * sizeof *part };
		struct iovec rm = { (void *)(io->iov + i), l.iov_len };
		if (asy_sys(SYS_process_vm_readv, asy__pid, &l, 1, &rm, 1, 0) != (long)l.iov_len)
			return -EFAULT;
		total += (long)iov_total(part, n);
	}
	return total;
}

static int tty_vmin0(int fd)
{
	struct termios tio;
	return asy_sys(SYS_ioctl, fd, TCGETS, &tio, 0, 0, 0) == 0 && !(tio.c_lflag & ICANON) &&
	       tio.c_cc[VMIN] == 0;
}

/* 1 when the program's own call would not wait (as far as can be told
 * without making it). */
static int would_not_wait(const struct asy_io *io, const struct asy_kind_def *k)
{
	long fl = file_flags(io->fd);
	if (fl < 0 || (fl & O_NONBLOCK) || vec_total_safe(io) <= 0)
		return 1;
	return io->op == ASY_OP_READ && k->vmin && tty_vmin0(io->fd);
}

static long rw_polled(struct asy_io *io, const struct asy_kind_def *k)
{
	short ev = io->op == ASY_OP_READ ? POLLIN : POLLOUT;
	if (io->flags & ASY_F_EXPLICIT)
		return ASY_PASS;
	for (int first = 1;; first = 0) {
		struct pollfd p = { .fd = io->fd, .events = ev };
		if (asy_sys(SYS_poll, &p, 1, 0, 0, 0, 0) != 0)
			return ASY_PASS;
		if (first && would_not_wait(io, k))
			return ASY_PASS;
		long r = op_rest(io, 0, ASY_OP_POLL, ev, -1);
		if (r == ASY_PASS || r < 0)
			return r;
	}
}

long asy__rw(struct asy_io *io)
{
	/* Calls that never wait, or that the kernel refuses before looking
	 * at the fd, get libc's own answer. */
	if ((io->rwflags & RWF_NOWAIT) || ((io->flags & ASY_F_EXPLICIT) && io->off < 0))
		return ASY_PASS;
	if (io->iov == NULL && io->iovcnt == 1 && !(io->flags & ASY_F_VEC)) {
		if (io->one.iov_len > SSIZE_MAX)
			return ASY_PASS; /* the kernel's EFAULT */
		io->iov = &io->one;
	}
	if (!io->iov || io->iovcnt <= 0 || io->iovcnt > IOV_MAX)
		return ASY_PASS;
	int kind = asy__fd_kind(io->fd);
	if (kind < 0)
		return ASY_PASS;
	const struct asy_kind_def *k = &asy__kinds[kind];
	switch (k->try) {
	case ASY_TRY_NOWAIT:
		return k->wait == ASY_WAIT_OP ? rw_file(io) : rw_stream(io, k);
	case ASY_TRY_POLL:
		return rw_polled(io, k);
	default:
		return ASY_PASS;
	}
}
