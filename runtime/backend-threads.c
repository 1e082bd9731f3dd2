/* The worker-pool backend: a process-wide pool of threads that run the
 * calls with plain system calls, for kernels or sandboxes without io_uring.
 *
 * It behaves as io_uring does, so the engine treats both alike: a pipe or
 * socket is waited on with poll() and then moved with RWF_NOWAIT (a write
 * may come back short), and such a wait can be cancelled through the
 * worker's own eventfd.  Regular files are one blocking call, as in the
 * kernel (a signal does not interrupt them there either).
 *
 * Workers block every signal.  The SIGPIPE a worker's write raises stays
 * pending on the worker; it is taken off there and replayed in the calling
 * thread by the engine (NOTES §2). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"

int asy__fd_own(int fd);

struct worker {
	int cancel_efd;            /* written to wake a poll() for a cancel */
	struct asy_waiter *cur;    /* what it runs now (under pool.lock) */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct asy_waiter *head, *tail;
	unsigned nthreads, idle;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0 };

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WORKER_STACK (1 << 20)
#else
#define WORKER_STACK (64 << 10)
#endif

/* Wait until fd is ready for op or w is cancelled; 0 or -ECANCELED. */
static int wait_ready(struct worker *wk, struct asy_waiter *w)
{
	struct pollfd p[2] = {
		{ .fd = w->io.fd, .events = w->io.op == ASY_OP_READ ? POLLIN : POLLOUT },
		{ .fd = wk->cancel_efd, .events = POLLIN },
	};
	for (;;) {
		if (atomic_load(&w->cancel))
			return -ECANCELED;
		long r = asy_sys(SYS_poll, p, 2, -1, 0, 0, 0);
		if (r < 0 && r != -EINTR)
			return (int)r;
		if (p[1].revents) {
			uint64_t v;
			asy_sys_read(wk->cancel_efd, &v, sizeof v);
			if (atomic_load(&w->cancel))
				return -ECANCELED; /* nothing moved yet */
		}
		if (p[0].revents)
			return 0;
	}
}

static long transfer(const struct asy_io *io, int flags)
{
	return io->op == ASY_OP_READ ?
		       asy_sys_preadv2(io->fd, io->iov, io->iovcnt, io->off, flags) :
		       asy_sys_pwritev2(io->fd, io->iov, io->iovcnt, io->off, flags);
}

/* A stream op: what io_uring does for a pollable file. */
static long run_stream(struct worker *wk, struct asy_waiter *w)
{
	int nowait = 1;
	for (;;) {
		long r = transfer(&w->io, w->io.rwflags | (nowait ? RWF_NOWAIT : 0));
		if (r == -EOPNOTSUPP && nowait) {
			nowait = 0; /* no RWF_NOWAIT here (ttys): poll, then the call */
		} else if (r != -EAGAIN || !nowait) {
			return r;
		}
		int c = wait_ready(wk, w);
		if (c < 0)
			return c;
	}
}

static long run(struct worker *wk, struct asy_waiter *w)
{
	const struct asy_io *io = &w->io;
	switch (io->op) {
	case ASY_OP_FSYNC:
		return asy_sys(SYS_fsync, io->fd, 0, 0, 0, 0, 0);
	case ASY_OP_FDATASYNC:
		return asy_sys(SYS_fdatasync, io->fd, 0, 0, 0, 0, 0);
	}
	if (!w->kind)
		return transfer(io, io->rwflags);
	long r = run_stream(wk, w);
	if (r == -EPIPE && io->op == ASY_OP_WRITE) {
		/* Take our SIGPIPE off the worker; the caller raises it. */
		sigset_t set;
		struct timespec zero = { 0, 0 };
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		if (asy_sys(SYS_rt_sigtimedwait, &set, NULL, &zero, 8, 0, 0) == SIGPIPE)
			w->sigpipe = 1;
	}
	return r;
}

static struct asy_waiter *take(struct worker *wk)
{
	pthread_mutex_lock(&pool.lock);
	while (!pool.head) {
		pool.idle++;
		pthread_cond_wait(&pool.cond, &pool.lock);
		pool.idle--;
	}
	struct asy_waiter *w = pool.head;
	pool.head = w->next;
	if (!pool.head)
		pool.tail = NULL;
	w->be_priv = wk;
	wk->cur = w;
	pthread_mutex_unlock(&pool.lock);
	return w;
}

static void *worker_main(void *arg)
{
	struct worker wk = { .cancel_efd = (int)(intptr_t)arg };
	for (;;) {
		struct asy_waiter *w = take(&wk);
		long res = run(&wk, w);
		pthread_mutex_lock(&pool.lock);
		wk.cur = NULL;
		pthread_mutex_unlock(&pool.lock);
		/* w may be gone as soon as done is set: take what we need
		 * first.  The thread's refs keep its eventfd open meanwhile. */
		struct asy_thread *t = w->thread;
		uint64_t one = 1;
		asy__complete(w, res);
		asy_sys_write(t->efd, &one, sizeof one);
		atomic_fetch_sub_explicit(&t->refs, 1, memory_order_release);
	}
	return NULL;
}

/* Start one more worker; 0 or -errno.  Called with pool.lock held. */
static int spawn(void)
{
	int efd = asy__fd_own((int)asy_sys(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0));
	if (efd < 0)
		return efd;
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&th, &attr, worker_main, (void *)(intptr_t)efd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r) {
		asy_sys_close(efd);
		return -r;
	}
	pool.nthreads++;
	return 0;
}

static int threads_thread_init(struct asy_thread *t)
{
	return 0;
}

/* The thread is going away: wait until no worker still has to signal its
 * eventfd, so that the number is never written after it is reused. */
static void threads_thread_fini(struct asy_thread *t)
{
	struct timespec ts = { 0, 50000 };
	while (atomic_load_explicit(&t->refs, memory_order_acquire) > 0)
		nanosleep(&ts, NULL);
}

static void threads_thread_forget(struct asy_thread *t)
{
}

static int threads_submit(struct asy_thread *t, struct asy_waiter *w)
{
	pthread_mutex_lock(&pool.lock);
	if (pool.idle == 0 && pool.nthreads < asy__cfg.workers) {
		int r = spawn();
		if (r < 0 && pool.nthreads == 0) {
			pthread_mutex_unlock(&pool.lock);
			return r;
		}
	}
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	w->next = NULL;
	w->be_priv = NULL;
	if (pool.tail)
		pool.tail->next = w;
	else
		pool.head = w;
	pool.tail = w;
	pthread_cond_signal(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

static void threads_cancel(struct asy_thread *t, struct asy_waiter *w)
{
	atomic_store(&w->cancel, 1);
	pthread_mutex_lock(&pool.lock);
	struct worker *wk = w->be_priv;
	if (!wk) { /* still queued: it never started */
		struct asy_waiter **pp = &pool.head, *prev = NULL;
		while (*pp && *pp != w)
			prev = *pp, pp = &(*pp)->next;
		if (*pp) {
			*pp = w->next;
			if (pool.tail == w)
				pool.tail = prev;
			atomic_fetch_sub(&t->refs, 1);
			asy__complete(w, -ECANCELED);
		}
	} else if (wk->cur == w) {
		uint64_t one = 1;
		asy_sys_write(wk->cancel_efd, &one, sizeof one);
	}
	pthread_mutex_unlock(&pool.lock);
}

static void threads_reap(struct asy_thread *t)
{
}

static void threads_wait(struct asy_thread *t, int64_t deadline)
{
	uint64_t v;
	int ms = -1;
	if (deadline >= 0) {
		int64_t left = deadline - asy_now();
		ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
	}
	struct pollfd p = { .fd = t->efd, .events = POLLIN };
	if (asy_sys(SYS_poll, &p, 1, ms, 0, 0, 0) > 0)
		asy_sys_read(t->efd, &v, sizeof v);
}

/* The child has none of the parent's workers; start from nothing. */
static void threads_fork_child(void)
{
	pthread_mutex_init(&pool.lock, NULL);
	pthread_cond_init(&pool.cond, NULL);
	pool.head = pool.tail = NULL;
	pool.nthreads = pool.idle = 0;
}

const struct asy_backend asy__backend_threads = {
	.name = "threads",
	.thread_init = threads_thread_init,
	.thread_fini = threads_thread_fini,
	.thread_forget = threads_thread_forget,
	.submit = threads_submit,
	.cancel = threads_cancel,
	.reap = threads_reap,
	.wait = threads_wait,
	.fork_child = threads_fork_child,
};
