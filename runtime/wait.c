/* Waiting for a backend's completion: a plain thread blocks on its
 * eventfd (or pipe) with read(2), which restarts under SA_RESTART and is a
 * cancellation point exactly as a read() of a pipe is (NOTES §1); a
 * coroutine parks and the scheduler waits for the whole thread
 * (asy__engine_idle).  A wait interrupted by a signal handler cancels the
 * call and still reaps it: bytes that moved are returned, never lost. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

/* Are the thread's fds still ours?  Once not, they never are again. */
int asy__fds_ours(struct asy_thread *t)
{
	if (!t->lost && !asy__fd_is(t->id_fd, t->id_dev, t->id_ino))
		t->lost = 1;
	return !t->lost;
}

/* Block until the thread's eventfd fires; 0, -EINTR, or -EBADF when the
 * program closed our eventfd.  read() and poll() are the real libc ones:
 * cancellation points, and read() restarts under SA_RESTART as a plain
 * read() of a pipe would (NOTES §1). */
static int efd_wait(struct asy_thread *t, enum asy_wait how)
{
	uint64_t v[8];
	int saved = errno, r = 0;
	if (t->lost)
		return -EBADF;
	if (how == ASY_WAIT_ANY) {
		struct pollfd p = { .fd = t->efd, .events = POLLIN };
		if (asy__libc.poll(&p, 1, -1) < 0)
			r = -errno;
		else if (p.revents & POLLNVAL)
			r = -EBADF;
		else
			asy_sys_read(t->efd, v, sizeof v);
	} else if (asy__libc.read(t->efd, v, sizeof v) < 0) {
		r = -errno;
	}
	errno = saved;
	return r;
}

/* Wait for w without any interruption and without cancellation points:
 * after a cancel, and from a cancellation cleanup handler. */
static void wait_quiet(struct asy_thread *t, struct asy_waiter *w)
{
	uint64_t v[8];
	for (;;) {
		t->be->reap(t);
		if (atomic_load_explicit(&w->done, memory_order_acquire))
			return;
		if (t->lost || asy_sys_read(t->efd, v, sizeof v) == -EBADF) {
			/* Our fds are gone: the backend's own wait still works
			 * (the ring through its registered index; the pool by
			 * looking again every millisecond). */
			t->lost = 1;
			t->be->wait(t, asy_now() + 1000000, atomic_load(&t->wake_seq));
		}
	}
}

static void wait_cleanup(void *arg)
{
	struct asy_waiter *w = arg;
	w->thread->be->cancel(w->thread, w);
	wait_quiet(w->thread, w);
	asy__depth = 0;
}

void asy__complete(struct asy_waiter *w, long res)
{
	w->res = res;
	atomic_store_explicit(&w->done, 1, memory_order_release);
}

/* A coroutine's waiter is on its thread's parked list while it waits; the
 * scheduler's thread looks there for finished ones.  Only the owning
 * thread touches the list, so completions from workers need no more than
 * the done flag. */
static void parked_add(struct asy_thread *t, struct asy_waiter *w)
{
	w->pprev = NULL;
	w->pnext = t->parked;
	if (t->parked)
		t->parked->pprev = w;
	t->parked = w;
}

static void parked_del(struct asy_thread *t, struct asy_waiter *w)
{
	if (w->pprev)
		w->pprev->pnext = w->pnext;
	else
		t->parked = w->pnext;
	if (w->pnext)
		w->pnext->pprev = w->pprev;
}

/* Unpark the coroutines whose calls finished; how many. */
static int unpark_done(struct asy_thread *t)
{
	int n = 0;
	for (struct asy_waiter *w = t->parked; w; w = w->pnext) {
		if (atomic_load_explicit(&w->done, memory_order_acquire)) {
			asy__coro_unpark(w->coro);
			n++;
		}
	}
	return n;
}

int asy__engine_idle(int64_t deadline)
{
	struct asy_thread *t = asy__tls_thread;
	if (!t || !t->be || t->gen != atomic_load(&asy__fork_gen)) {
		if (deadline > 0) {
			struct timespec ts = { deadline / 1000000000, deadline % 1000000000 };
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		return 0;
	}
	int saved = errno;
	asy__depth++;
	unsigned seq = atomic_load(&t->wake_seq); /* before looking: no lost wake-up */
	t->be->reap(t);
	int n = unpark_done(t);
	if (n || deadline == 0) {
		t->be->wait(t, 0, seq);
	} else {
		t->be->wait(t, deadline, seq);
		t->be->reap(t);
		n = unpark_done(t);
	}
	asy__depth--;
	errno = saved;
	return n;
}

/* A coroutine's wait: park until the completion unparks it, so that the
 * thread runs the other coroutines meanwhile.  The coroutine's I/O
 * deadline and asy_cancel() end it with ETIMEDOUT / ECANCELED; the call is
 * cancelled first and its completion awaited, so the kernel never writes
 * into memory the coroutine no longer owns.  Signals do not interrupt
 * calls made inside coroutines (see README). */
static long wait_coro(struct asy_thread *t, struct asy_waiter *w)
{
	int64_t deadline = asy__coro_io_deadline();
	int r = 0;
	int depth = asy__depth;
	asy__depth = 0; /* other coroutines use the engine while this one waits */
	parked_add(t, w);
	while (!atomic_load_explicit(&w->done, memory_order_acquire)) {
		r = asy__coro_park(deadline, 1);
		if (r < 0 && !atomic_load_explicit(&w->done, memory_order_acquire)) {
			t->be->cancel(t, w);
			while (!atomic_load_explicit(&w->done, memory_order_acquire))
				asy__coro_park(-1, 0);
			break;
		}
	}
	parked_del(t, w);
	asy__depth = depth;
	if (r < 0 && (w->res == -ECANCELED || w->res == -EINTR))
		return r;
	return w->res;
}

/* Wait for w's completion; its result, or -EINTR when a signal handler
 * ended the wait before anything moved. */
long asy__wait(struct asy_thread *t, struct asy_waiter *w, enum asy_wait how)
{
	if (w->coro)
		return wait_coro(t, w);
	volatile long r = 0; /* lives across the cancellation cleanup's longjmp */
	pthread_cleanup_push(wait_cleanup, w);
	for (;;) {
		t->be->reap(t);
		if (atomic_load_explicit(&w->done, memory_order_acquire))
			break;
		r = efd_wait(t, how);
		if (r == -EINTR && how != ASY_WAIT_FILE) {
			t->be->cancel(t, w);
			wait_quiet(t, w);
			ASY_COUNT(interrupted);
			break;
		}
		if (r < 0 && r != -EINTR) {
			wait_quiet(t, w);
			break;
		}
	}
	pthread_cleanup_pop(0);
	if (r == -EINTR && how != ASY_WAIT_FILE && (w->res == -ECANCELED || w->res == -EINTR))
		return -EINTR;
	return w->res;
}
