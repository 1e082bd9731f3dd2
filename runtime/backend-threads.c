/* The worker-pool backend: a process-wide pool of threads that run the
 * calls with plain system calls, for kernels or sandboxes without io_uring.
 *
 * It behaves as io_uring does, so the engine treats both alike: a pipe or
 * socket is waited on with poll() and then moved with RWF_NOWAIT (a write
 * may come back short).  Such a wait looks at its cancel flag every
 * CANCEL_POLL_MS: the workers hold no fds of their own that a program
 * could close under them.  Regular files are one blocking call, as in the
 * kernel (a signal does not interrupt them there either).  A finished call
 * is announced by one byte on the calling thread's pipe.
 *
 * Workers block every signal.  The SIGPIPE a worker's write raises stays
 * pending on the worker; it is taken off there and replayed in the calling
 * thread by the engine (NOTES §2). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/stat.h>
#include <time.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"

int asy__fd_own(int fd);
int asy__fd_is(int fd, dev_t dev, ino_t ino);

struct worker {
	struct asy_waiter *_Atomic cur; /* what it runs now */
	_Atomic unsigned go;            /* futex: set when handed work */
	struct worker *next_idle;
};

#define CANCEL_POLL_MS 20

/* Idle workers wait on a futex each, on a stack: a new call wakes the
 * one that went idle last, whose CPU is the likeliest to be awake (a
 * condition variable wakes the one waiting longest).  Waking a sleeping
 * thread costs ≈ 7-13 µs on these VMs (NOTES §5), more than the rest of a
 * handoff, so a coroutine scheduler and its workers also look a little
 * before they sleep:
 *  - a worker that finishes a coroutine's call while its scheduler is
 *    awake looks for the next call for WORKER_SPIN_NS (the coroutine it
 *    finished usually makes one within microseconds), one such worker at
 *    a time;
 *  - the scheduler, while its coroutines have calls on workers, looks
 *    for a completion for SCHED_SPIN_NS before it sleeps on its futex.
 * Longer looks pay at some depths and cost at others (8 coroutines:
 * 0.74 -> 0.85 of fio psync with 200 us; 32: 0.88 -> 0.74, the workers
 * need the CPU): these are the measured middle.
 * Measured with `make bench-iops`; see README, Performance. */
static struct {
	pthread_mutex_t lock;
	struct asy_waiter *head, *tail;
	struct worker *idle_top;
	_Atomic unsigned queued; /* written under lock; spinners read it */
	unsigned nthreads, idle, spinning;
} pool = { PTHREAD_MUTEX_INITIALIZER, NULL, NULL, NULL, 0, 0, 0, 0 };

#define WORKER_SPIN_NS 20000
#define SCHED_SPIN_NS 10000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* Look at *word until it is no longer `value` or `ns` have passed. */
static void spin_while(_Atomic unsigned *word, unsigned value, int64_t ns)
{
	int64_t until = asy_now() + ns;
	while (atomic_load_explicit(word, memory_order_relaxed) == value && asy_now() < until)
		for (int i = 0; i < 64; i++)
			cpu_relax();
}

/* Workers idle this long exit (one stays). */
#define IDLE_EXIT_S 10
/* A stream call may wait for another call of the program (a pipe read for
 * its writer), so those always get a worker of their own, up to this; the
 * ASYNCIFY_WORKERS limit applies to files. */
#define MAX_THREADS 4096

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WORKER_STACK (1 << 20)
#else
#define WORKER_STACK (64 << 10)
#endif

/* Wait until fd is ready for op or w is cancelled; 0 or -ECANCELED. */
static int wait_ready(struct worker *wk, struct asy_waiter *w)
{
	struct pollfd p = { .fd = w->io.fd, .events = w->io.op == ASY_OP_READ ? POLLIN : POLLOUT };
	for (;;) {
		if (atomic_load(&w->cancel))
			return -ECANCELED; /* nothing moved yet */
		long r = asy_sys(SYS_poll, &p, 1, CANCEL_POLL_MS, 0, 0, 0);
		if (r < 0 && r != -EINTR)
			return (int)r;
		if (r > 0 && !atomic_load(&w->cancel))
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

/* A file call on the calling thread (a coroutine that is alone on its
 * thread).  Files are not interrupted by signals here either. */
static long threads_run_here(struct asy_waiter *w)
{
	long r;
	do
		r = run(NULL, w);
	while (r == -EINTR);
	return r;
}

/* The next call to run, or NULL when this worker should exit.  `spin`:
 * look for a while before sleeping. */
static struct asy_waiter *take(struct worker *wk, int spin)
{
	pthread_mutex_lock(&pool.lock);
	if (spin && !pool.head && pool.spinning == 0) {
		pool.spinning++;
		pthread_mutex_unlock(&pool.lock);
		spin_while(&pool.queued, 0, WORKER_SPIN_NS);
		pthread_mutex_lock(&pool.lock);
		pool.spinning--;
	}
	while (!pool.head) {
		atomic_store_explicit(&wk->go, 0, memory_order_relaxed);
		wk->next_idle = pool.idle_top;
		pool.idle_top = wk;
		pool.idle++;
		pthread_mutex_unlock(&pool.lock);
		struct timespec left = { IDLE_EXIT_S, 0 };
		long r = 0;
		while (!atomic_load_explicit(&wk->go, memory_order_acquire) && r != -ETIMEDOUT)
			r = asy_sys(SYS_futex, &wk->go, FUTEX_WAIT_PRIVATE, 0, &left, 0, 0);
		pthread_mutex_lock(&pool.lock);
		if (!atomic_load_explicit(&wk->go, memory_order_relaxed)) {
			/* Timed out, still on the stack: leave it. */
			struct worker **pp = &pool.idle_top;
			while (*pp != wk)
				pp = &(*pp)->next_idle;
			*pp = wk->next_idle;
			pool.idle--;
			if (!pool.head && pool.nthreads > 1) {
				pool.nthreads--;
				pthread_mutex_unlock(&pool.lock);
				return NULL;
			}
		}
	}
	struct asy_waiter *w = pool.head;
	pool.head = w->next;
	pool.queued--;
	if (!pool.head)
		pool.tail = NULL;
	w->be_priv = wk;
	atomic_store(&wk->cur, w);
	pthread_mutex_unlock(&pool.lock);
	return w;
}

static void *worker_main(void *arg)
{
	struct worker wk = { NULL, 0, NULL };
	struct asy_waiter *w;
	int spin = 0;
	while ((w = take(&wk, spin))) {
		spin = 0;
		long res = run(&wk, w);
		/* A cancel that still finds w here only wakes the next poll. */
		atomic_store(&wk.cur, NULL);
		/* w may be gone as soon as done is set: take what we need
		 * first.  The thread's refs keep its eventfd open meanwhile. */
		struct asy_thread *t = w->thread;
		int coro = w->coro != NULL;
		asy__complete(w, res);
		if (coro) {
			atomic_fetch_add(&t->wake_seq, 1);
			int sl = atomic_load(&t->sleeping);
			if (sl)
				asy_sys(SYS_futex, &t->wake_seq, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
			spin = !sl; /* it is running: a call may follow soon */
		} else if (asy__fd_is(t->wake_wr, t->id_dev, t->id_ino)) {
			asy_sys_write(t->wake_wr, "", 1);
		}
		atomic_fetch_sub_explicit(&t->refs, 1, memory_order_release);
	}
	return NULL;
}

/* Start one more worker; 0 or -errno.  Called with pool.lock held. */
static int spawn(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&th, &attr, worker_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r)
		return -r;
	pool.nthreads++;
	return 0;
}

/* The calling thread's pipe: workers write a byte, the thread reads. */
static int threads_thread_init(struct asy_thread *t)
{
	int p[2];
	long r = asy_sys(SYS_pipe2, p, O_CLOEXEC, 0, 0, 0, 0);
	if (r < 0)
		return (int)r;
	t->efd = asy__fd_own(p[0]);
	t->wake_wr = asy__fd_own(p[1]);
	/* A worker never blocks on a full pipe: the bytes only say "look". */
	asy_sys_fcntl(t->wake_wr, F_SETFL, O_NONBLOCK);
	t->id_fd = t->wake_wr;
	return 0;
}

/* The thread is going away: wait until no worker still has to signal its
 * pipe, so that the number is never written after it is reused. */
static void threads_thread_fini(struct asy_thread *t)
{
	struct timespec ts = { 0, 50000 };
	while (atomic_load_explicit(&t->refs, memory_order_acquire) > 0)
		nanosleep(&ts, NULL);
	if (!t->lost) {
		asy_sys_close(t->efd);
		asy_sys_close(t->wake_wr);
	}
	t->efd = t->wake_wr = -1;
}

static void threads_thread_forget(struct asy_thread *t)
{
	if (!t->lost) {
		asy_sys_close(t->efd);
		asy_sys_close(t->wake_wr);
	}
	t->efd = t->wake_wr = -1;
}

static int threads_submit(struct asy_thread *t, struct asy_waiter *w)
{
	pthread_mutex_lock(&pool.lock);
	unsigned limit = w->kind ? MAX_THREADS : asy__cfg.workers;
	if (pool.queued + 1 > pool.idle + pool.spinning && pool.nthreads < limit) {
		int r = spawn();
		if (r < 0 && pool.nthreads == 0) {
			pthread_mutex_unlock(&pool.lock);
			return r;
		}
	}
	pool.queued++;
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	w->next = NULL;
	w->be_priv = NULL;
	if (pool.tail)
		pool.tail->next = w;
	else
		pool.head = w;
	pool.tail = w;
	struct worker *wk = pool.queued > pool.spinning ? pool.idle_top : NULL;
	if (wk) {
		pool.idle_top = wk->next_idle;
		pool.idle--;
		atomic_store_explicit(&wk->go, 1, memory_order_release);
	}
	pthread_mutex_unlock(&pool.lock);
	/* A worker leaves only after a 10 s timeout that found go unset, so
	 * wk is still there. */
	if (wk)
		asy_sys(SYS_futex, &wk->go, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
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
			pool.queued--;
			if (pool.tail == w)
				pool.tail = prev;
			atomic_fetch_sub(&t->refs, 1);
			asy__complete(w, -ECANCELED);
		}
	}
	pthread_mutex_unlock(&pool.lock);
}

static void threads_reap(struct asy_thread *t)
{
}

/* The scheduler of a thread running coroutines sleeps on its wake_seq
 * futex: one system call, and none at all for the workers while it is
 * busy. */
static void threads_wait(struct asy_thread *t, int64_t deadline, unsigned seq)
{
	if (deadline == 0)
		return;
	/* Completions due from workers: look before sleeping. */
	if (t->parked)
		spin_while(&t->wake_seq, seq, SCHED_SPIN_NS);
	struct timespec ts, *tsp = NULL;
	if (deadline > 0) {
		int64_t left = deadline - asy_now();
		if (left <= 0)
			return;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		tsp = &ts;
	}
	atomic_store(&t->sleeping, 1);
	if (atomic_load(&t->wake_seq) == seq)
		asy_sys(SYS_futex, &t->wake_seq, FUTEX_WAIT_PRIVATE, seq, tsp, 0, 0);
	atomic_store(&t->sleeping, 0);
}

/* The child has none of the parent's workers; start from nothing. */
static void threads_fork_child(void)
{
	pthread_mutex_init(&pool.lock, NULL);
	pool.head = pool.tail = NULL;
	pool.idle_top = NULL;
	pool.nthreads = pool.idle = pool.spinning = pool.queued = 0;
}

const struct asy_backend asy__backend_threads = {
	.name = "threads",
	.thread_init = threads_thread_init,
	.thread_fini = threads_thread_fini,
	.thread_forget = threads_thread_forget,
	.submit = threads_submit,
	.run_here = threads_run_here,
	.cancel = threads_cancel,
	.reap = threads_reap,
	.wait = threads_wait,
	.fork_child = threads_fork_child,
};
