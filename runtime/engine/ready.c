/* Readiness waits the scheduler's own thread polls (threads backend).
 *
 * A coroutine's wait for a socket, pipe or terminal to be ready (a POLL
 * op: rw.c and net.c wait so before the call again; a POLLSET op: the
 * program's poll, select or epoll_wait) needs no worker of its own on the
 * threads backend.  The op stays on its thread's list, and the scheduler
 * polls the fds of every op there itself:
 *
 *  - while coroutines run, a poll() with no timeout every LOOK_NS at
 *    most, when the scheduler looks for completions;
 *  - when nothing can run, a ppoll() until the earliest deadline, in
 *    place of its futex sleep — so a thread that serves 1024 connections
 *    sleeps in one system call, as an epoll loop does, and a ready fd
 *    costs no thread wake-up.
 *
 * Only a worker could wake a sleeping scheduler otherwise, and a worker
 * wakes it through a futex, which a ppoll does not hear.  So the
 * scheduler sleeps in ppoll only while none of its calls is out on the
 * pool; when some are, its readiness waits go to workers as they did
 * before (one worker's poll() each) and it sleeps on the futex, which
 * hears both.  The engine holds no fd for this: the program's numbers
 * and RLIMIT_NOFILE stay its own.
 *
 * The answer is the one a worker's poll() gives: the revents of a POLL
 * op's fd (POLLNVAL for a number closed meanwhile), how many fds of a
 * POLLSET are ready, with their revents written into its set.  A
 * deadline or cancel takes the op off the list (wait.c).
 *
 * A stop does not stretch a deadline.  The kernel's ppoll, stopped
 * (SIGSTOP, SIGTSTP) and continued with no handler to run, writes the
 * time left back into its timeout and starts again with that: the time
 * the process stood still is added to the wait, so an op's deadline would
 * pass unseen and an fd that became ready after it would still answer it
 * (the program's own calls differ: glibc's poll() on x86-64 keeps its
 * end, a select() or ppoll() adds the stop, an epoll_wait() says EINTR;
 * README, Known blind spots — but the engine's own wait must never move
 * the end it was given).  So the timeout reaches the kernel read-only
 * (asy__ppoll_until): it cannot be written back, the kernel ends the
 * ppoll with EINTR instead (poll_select_finish), and the scheduler
 * measures again from its absolute deadlines. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"

#define LOOK_NS 20000 /* 20 µs: a busy scheduler's poll(0) at most this often */

/* The op's fds: a POLL op's one, or a POLLSET's set. */
static unsigned nfds_of(const struct asy_waiter *w)
{
	return w->io.op == ASY_OP_POLL ? 1 : w->io.npfd;
}

int asy__ready_submit(struct asy_thread *t, struct asy_waiter *w)
{
	if ((w->io.op != ASY_OP_POLL && w->io.op != ASY_OP_POLLSET) ||
	    t->be != &asy__backend_threads || t->ready_failed)
		return 0;
	w->local = 1; /* not be_priv: a worker writes that one */
	w->next = t->ready;
	t->ready = w;
	t->ready_n++;
	t->ready_fds += nfds_of(w);
	return 1;
}

static void unlink_ready(struct asy_thread *t, struct asy_waiter *w)
{
	struct asy_waiter **pp = &t->ready;
	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = w->next;
	t->ready_n--;
	t->ready_fds -= nfds_of(w);
}

int asy__ready_cancel(struct asy_thread *t, struct asy_waiter *w)
{
	if (!w->local)
		return 0;
	unlink_ready(t, w);
	w->local = 0;
	asy__complete(w, -ECANCELED); /* its own coroutine asks: no unpark */
	return 1;
}

struct asy_waiter *asy__ready_take_all(struct asy_thread *t)
{
	struct asy_waiter *all = t->ready;
	for (struct asy_waiter *w = all; w; w = w->next)
		w->local = 0;
	t->ready = NULL;
	t->ready_n = t->ready_fds = 0;
	return all;
}

/* The thread's poll array, large enough for every fd on the list. */
static struct pollfd *array(struct asy_thread *t)
{
	size_t need = (size_t)t->ready_fds * sizeof(struct pollfd);
	if (need <= t->ready_cap)
		return t->ready_pfd;
	size_t cap = 4096;
	while (cap < need)
		cap *= 2;
	void *p = asy__map(cap);
	if (p == MAP_FAILED)
		return NULL;
	if (t->ready_pfd)
		asy__unmap(t->ready_pfd, t->ready_cap);
	t->ready_pfd = p;
	t->ready_cap = cap;
	return p;
}

/* Poll every fd on the list, waiting up to `deadline` (-1 none, 0 not at
 * all); finish the ops that have an fd ready.  -errno when poll itself
 * failed (EINVAL: more fds than RLIMIT_NOFILE). */
static long look(struct asy_thread *t, int64_t deadline, const uint64_t *mask)
{
	struct pollfd *p = array(t);
	if (!p)
		return -ENOMEM;
	unsigned n = 0;
	for (struct asy_waiter *w = t->ready; w; w = w->next) {
		if (w->io.op == ASY_OP_POLL) {
			p[n] = (struct pollfd){ .fd = asy__poll_fd(&w->io), .events = w->io.events };
			n++;
		} else {
			memcpy(p + n, w->io.pfd, w->io.npfd * sizeof *p);
			n += w->io.npfd;
		}
	}
	t->ready_look = asy_now();
	long r = asy__ppoll_until(&t->ready_ts, p, n, deadline, mask);
	if (r == -EINTR)
		t->signals++;
	if (r > 0 && asy__forked_in_wait(t))
		return 0; /* a handler's fork child: its waiters are the copies' */
	if (r <= 0)
		return r == -EINTR ? 0 : r;
	/* One pass: a ready op leaves the list where the walk is. */
	unsigned at = 0;
	struct asy_waiter **pp = &t->ready;
	while (*pp) {
		struct asy_waiter *w = *pp;
		unsigned k = nfds_of(w), ready = 0;
		for (unsigned i = 0; i < k; i++)
			ready += p[at + i].revents != 0;
		at += k;
		if (!ready) {
			pp = &w->next;
			continue;
		}
		long res = w->io.op == ASY_OP_POLL ? p[at - k].revents : (long)ready;
		if (w->io.op == ASY_OP_POLLSET)
			for (unsigned i = 0; i < k; i++)
				w->io.pfd[i].revents = p[at - k + i].revents;
		*pp = w->next;
		t->ready_n--;
		t->ready_fds -= k;
		w->local = 0;
		asy__complete_local(t, w, res);
	}
	return r;
}

void asy__ready_look(struct asy_thread *t)
{
	if (t->ready && asy_now() - t->ready_look >= LOOK_NS && look(t, 0, NULL) < 0)
		t->ready_failed = 1;
}

int asy__ready_sleep(struct asy_thread *t, int64_t deadline, unsigned seq)
{
	if (!t->ready || t->ready_failed || t->pool_out > t->ready_n)
		return 0; /* a worker may finish a call meanwhile: the futex */
	uint64_t old; /* a handler just before the sleep ends it (wait.c) */
	int masked = asy__sleep_mask(t, seq, &old);
	long r = look(t, masked == 1 ? 0 : deadline, masked ? NULL : &old);
	if (!masked)
		asy__sleep_unmask(&old);
	if (r < 0) {
		t->ready_failed = 1;
		return 0;
	}
	return 1;
}

/* The page the timeout is written to and its read-only view: one shared
 * anonymous page mapped twice (no fd).  A fork child does not get it
 * (MADV_DONTFORK: a shared page would carry one process's timeouts into
 * the other's waits); its thread forgets it (asy__ro_ts_forget) and maps
 * its own at its first wait. */
static int ro_ts_init(struct asy_ro_ts *t)
{
	size_t len = sizeof(struct timespec);
	/* Both views on pages of the engine's region (arena.c), where they
	 * take no range the program just unmapped; else where mmap puts them. */
	void *at = asy__map(len), *ro_at = asy__map(len);
	int placed = asy__in_arena(at) && asy__in_arena(ro_at);
	if (!placed) {
		if (at != MAP_FAILED)
			asy__unmap(at, len);
		if (ro_at != MAP_FAILED)
			asy__unmap(ro_at, len);
	}
	void *rw = mmap(placed ? at : NULL, len, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS | (placed ? MAP_FIXED : 0), -1, 0);
	void *ro = rw == MAP_FAILED ? MAP_FAILED :
		   placed ? mremap(rw, 0, len, MREMAP_MAYMOVE | MREMAP_FIXED, ro_at) :
			    mremap(rw, 0, len, MREMAP_MAYMOVE);
	if (ro != MAP_FAILED && mprotect(ro, len, PROT_READ) == 0 &&
	    madvise(rw, len, MADV_DONTFORK) == 0 && madvise(ro, len, MADV_DONTFORK) == 0) {
		t->rw = rw;
		t->ro = ro;
		return 0;
	}
	if (ro != MAP_FAILED || placed)
		asy__unmap(ro != MAP_FAILED ? ro : ro_at, len);
	if (rw != MAP_FAILED || placed)
		asy__unmap(rw != MAP_FAILED ? rw : at, len);
	return -1;
}

long asy__ppoll_until(struct asy_ro_ts *t, struct pollfd *p, unsigned n, int64_t deadline,
		      const uint64_t *mask)
{
	struct timespec own, *ts = NULL;
	const struct timespec *arg = NULL;
	if (deadline >= 0) {
		int64_t left = deadline > 0 ? deadline - asy_now() : 0;
		if (left < 0)
			left = 0;
		/* A zero timeout is never written back: no view needed. */
		if (left > 0 && (t->ro || ro_ts_init(t) == 0)) {
			ts = t->rw;
			arg = t->ro;
		} else {
			ts = &own; /* no mapping to be had: as before, a stop stretches it */
			arg = ts;
		}
		ts->tv_sec = left / 1000000000;
		ts->tv_nsec = left % 1000000000;
	}
	return asy_sys(SYS_ppoll, p, n, arg, mask, 8, 0);
}

void asy__ro_ts_forget(struct asy_ro_ts *t)
{
	t->rw = NULL;
	t->ro = NULL;
}

void asy__ro_ts_fini(struct asy_ro_ts *t)
{
	if (t->ro) {
		asy__unmap((void *)t->ro, sizeof *t->ro);
		asy__unmap(t->rw, sizeof *t->rw);
	}
	t->rw = NULL;
	t->ro = NULL;
}

void asy__ready_fini(struct asy_thread *t)
{
	asy__ro_ts_fini(&t->ready_ts);
	if (t->ready_pfd)
		asy__unmap(t->ready_pfd, t->ready_cap);
	t->ready_pfd = NULL;
	t->ready_cap = 0;
	t->ready = NULL;
	t->ready_n = t->ready_fds = 0;
}
