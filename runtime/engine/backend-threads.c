/* The worker-pool backend: a process-wide pool of threads that make the
 * program's own calls.  It serves every coroutine where io_uring is
 * refused, and on the uring backend the ops io_uring would answer
 * differently (runtime/engine/opdef.c: calls at the file position, RWF flags).
 *
 * A worker makes exactly the call the program made — readv/writev at the
 * file position as preadv2/pwritev2 with offset -1 and the program's own
 * RWF flags — so the kernel validates it and takes its locks as for the
 * program.  A scheduler on this backend polls its own coroutines' POLL
 * and POLLSET ops itself (ready.c); they come here only while it has
 * other calls out on workers.  A POLL op waits with poll() and looks at
 * its cancel flag every CANCEL_POLL_MS; it moves no data (the coroutine's thread does that,
 * runtime/engine/rw.c), so nothing a worker does can land in the wrong file.
 *
 * Workers block every signal.  SIGXFSZ raised by a worker's write stays
 * pending on it: it is taken off there and raised in the calling thread
 * (runtime/engine/opdef.c).
 *
 * A call that may wait for another call of the program (ASY_F_WAITS: a
 * FIFO's open, a lock, a copy through a pipe) is ended early the way the
 * kernel ends any blocking call: by a signal.  The worker unblocks
 * ASYNCIFY_SIGNAL (an empty handler without SA_RESTART) for that call
 * only, and a cancel sends it to that worker; the call returns EINTR, or
 * what it had done when it could not stop (a count, an fd, a lock).  The
 * coroutine's wait sends it again until the call has returned
 * (runtime/engine/wait.c), which closes the window between unblocking and
 * entering the system call.  The handler's coming and going: pool-intr.c. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <linux/futex.h>
#include <time.h>

#include "engine.h"
#include "pool-intr.h"
#include "sys.h"
#include "asyncify.h"

struct worker {
	struct asy_waiter *_Atomic cur; /* what it runs now */
	pid_t tid;
	_Atomic unsigned go;            /* futex: set when handed work */
	int leave;                      /* exits at its next take (asy__pool_retire) */
	struct worker *next_idle, *next_all;
	struct asy_ro_ts poll_ts; /* a POLL op's timeout (asy__ppoll_until) */
};

#define CANCEL_POLL_MS 20

/* Idle workers wait on a futex each, on a stack: a new call wakes the
 * one that went idle last, whose CPU is the likeliest to be awake (a
 * condition variable wakes the one waiting longest).  Waking a sleeping
 * thread costs ≈ 7-13 µs on these VMs (NOTES §5) and CPU time the
 * workers' own system calls need, more than the rest of a handoff, so
 * the pool wakes as few threads as it can:
 *  - a file read or write from a coroutine scheduler is left queued,
 *    without waking a worker, while at least DEFER_BUSY workers run reads
 *    and writes and at most DEFER_QUEUED calls wait: one of those workers
 *    takes it as it finishes, instead of going to sleep and being woken
 *    for the next call.  The scheduler's thread makes sure the queue
 *    moves at least every DEFER_NS (a queue stuck behind slow calls gets
 *    a worker then: pool_unstick);
 *  - a finishing worker wakes its scheduler only when the scheduler went
 *    to sleep before that worker's completion, so of several completions
 *    that come while it sleeps only the first one pays for the wake;
 *  - the scheduler, while its coroutines have calls on workers or wait
 *    for another thread's nudge (wait.c), looks for a completion or the
 *    nudge for a moment before it sleeps on its futex (asy__wake_spin):
 *    an answer that comes at once costs no sleep and no wake.
 * Measured with `make bench-iops`; see README, Performance. */
static struct {
	pthread_mutex_t lock;
	struct asy_waiter *head, *tail;
	struct worker *idle_top;
	struct worker *all;     /* every worker that has started */
	unsigned starting;      /* spawned, not yet in all */
	unsigned gen;           /* asy__pool_retire's count: workers spawned before it leave */
	unsigned queued, nthreads, idle;
	unsigned waking;        /* workers woken that have not taken a call yet */
	unsigned busy_rw;       /* workers running a READ or WRITE */
	_Atomic int deferred;   /* a call was queued without a wake; cleared when the queue empties */
	_Atomic int64_t moved;  /* asy_now() when a worker last took a call */
	pid_t gone[64];         /* leaving workers off `all`, their threads still exiting */
	unsigned ngone;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* pool.lock, also for ThreadSanitizer (engine.h: asy_tsan_acquire). */
static inline void pool_lock(void)
{
	asy__mutex_lock(&pool.lock);
	asy_tsan_acquire(&pool);
}

static inline void pool_unlock(void)
{
	asy_tsan_release(&pool);
	asy__mutex_unlock(&pool.lock);
}

#define DEFER_BUSY 4
#define DEFER_QUEUED 4
#define DEFER_NS 250000

/* What t->sleeping holds while the threads backend's scheduler sleeps on
 * wake_seq == seq: never 0 (awake) nor 1 (the ring's wait, woken by
 * every completion). */
#define SLEEP_TOKEN(seq) ((int)(0x40000000u | ((seq) & 0x3fffffffu)))

/* Workers idle this long exit (one stays). */
#define IDLE_EXIT_S 10
/* A POLL op may wait for another call of the program (a pipe read for
 * its writer), so those always get a worker of their own, up to this;
 * the ASYNCIFY_WORKERS limit applies to file calls. */
#define MAX_THREADS 4096

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WORKER_STACK (1 << 20)
#else
#define WORKER_STACK (64 << 10)
#endif

/* Wait until one of `n` fds is ready, w is cancelled or its deadline
 * passes: the revents (of the one fd of a POLL op; a POLLSET op says
 * how many are ready), -ECANCELED, -ETIME, or the poll's own error.  The
 * deadline is the poll's own timeout, so it ends the wait on time; a
 * cancel is seen within CANCEL_POLL_MS. */
static long run_poll(struct worker *wk, struct asy_waiter *w, struct pollfd *p, unsigned n)
{
	for (;;) {
		if (atomic_load(&w->cancel))
			return -ECANCELED;
		if (w->io.op == ASY_OP_POLL)
			p->fd = asy__poll_fd(&w->io); /* a kept number's copy */
		int64_t now = asy_now(), until = now + CANCEL_POLL_MS * 1000000LL;
		if (w->deadline >= 0) {
			if (w->deadline <= now)
				return -ETIME;
			if (w->deadline < until)
				until = w->deadline;
		}
		long r = asy__ppoll_until(&wk->poll_ts, p, n, until, NULL);
		if (r < 0 && r != -EINTR)
			return r;
		if (r > 0)
			return atomic_load(&w->cancel) ? -ECANCELED : n == 1 ? p->revents : r;
	}
}

/* Take a SIGXFSZ this worker's write raised (it blocks every signal, so
 * the signal is pending here): 1 when there was one. */
static int take_sigxfsz(void)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };
	sigemptyset(&set);
	sigaddset(&set, SIGXFSZ);
	return asy_sys(SYS_rt_sigtimedwait, &set, NULL, &zero, 8, 0, 0) == SIGXFSZ;
}

/* A waiting call, with the interrupt signal let in for its length only.
 * Under pool.lock the worker lets go of w, so no kick aims at w after. */
static long run_waiting(struct worker *wk, struct asy_waiter *w)
{
	if (asy__cfg.intr_signal <= 0)
		return w->io.fn(w->io.arg);
	asy__intr_mask(SIG_UNBLOCK);
	long r = w->io.fn(w->io.arg);
	asy__intr_mask(SIG_BLOCK);
	pool_lock();
	atomic_store(&wk->cur, NULL);
	if (w->kicked)
		asy__intr_disarm();
	pool_unlock();
	return r;
}

static long run(struct worker *wk, struct asy_waiter *w)
{
	const struct asy_io *io = &w->io;
	long r;
	switch (io->op) {
	case ASY_OP_FSYNC:
		return asy_sys(SYS_fsync, io->fd, 0, 0, 0, 0, 0);
	case ASY_OP_FDATASYNC:
		return asy_sys(SYS_fdatasync, io->fd, 0, 0, 0, 0, 0);
	case ASY_OP_POLL: {
		struct pollfd p = { .fd = io->fd, .events = io->events };
		return run_poll(wk, w, &p, 1);
	}
	case ASY_OP_POLLSET:
		return run_poll(wk, w, io->pfd, io->npfd);
	case ASY_OP_CALL:
		return io->flags & ASY_F_WAITS ? run_waiting(wk, w) : io->fn(io->arg);
	case ASY_OP_READ:
		return asy_sys_preadv2(io->fd, io->iov, io->iovcnt, io->off, io->rwflags);
	case ASY_OP_WRITE:
		r = asy_sys_pwritev2(io->fd, io->iov, io->iovcnt, io->off, io->rwflags);
		if (r == -EFBIG)
			w->sigxfsz = (unsigned char)take_sigxfsz();
		return r;
	default: /* ring-only ops (opdef.c) never come here */
		return -EOPNOTSUPP;
	}
}

static int is_rw(const struct asy_waiter *w)
{
	return w->io.op == ASY_OP_READ || w->io.op == ASY_OP_WRITE;
}

/* Pop an idle worker to wake, when queued calls outnumber the workers
 * already woken for them; NULL if none.  Called with pool.lock held. */
static struct worker *to_wake(void)
{
	struct worker *wk = pool.idle_top;
	if (!wk || pool.queued <= pool.waking)
		return NULL;
	pool.idle_top = wk->next_idle;
	pool.idle--;
	pool.waking++;
	atomic_store_explicit(&wk->go, 1, memory_order_release);
	return wk;
}

/* A worker leaves only after a 10 s timeout that found go unset, so a
 * worker popped by to_wake() is still there. */
static void wake(struct worker *wk)
{
	if (wk)
		asy_sys(SYS_futex, &wk->go, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

static int spawn(void);

/* wk exits (NULL for take); queued calls no worker will take get a new
 * one.  Called with pool.lock held; releases it. */
static struct asy_waiter *quit(struct worker *wk)
{
	struct worker **pp = &pool.all;
	while (*pp != wk)
		pp = &(*pp)->next_all;
	*pp = wk->next_all;
	if (wk->leave && pool.ngone < sizeof pool.gone / sizeof *pool.gone)
		pool.gone[pool.ngone++] = wk->tid; /* asy__pool_retire waits for it */
	pool.nthreads--;
	if (pool.queued > pool.waking && !pool.idle_top)
		spawn();
	pool_unlock();
	return NULL;
}

/* The next call to run, or NULL when this worker should exit.  `done_rw`:
 * the call this worker has just finished was a read or a write. */
static struct asy_waiter *take(struct worker *wk, int done_rw)
{
	pool_lock();
	pool.busy_rw -= (unsigned)done_rw;
	if (wk->leave)
		return quit(wk);
	while (!pool.head) {
		atomic_store_explicit(&pool.deferred, 0, memory_order_relaxed);
		atomic_store_explicit(&wk->go, 0, memory_order_relaxed);
		wk->next_idle = pool.idle_top;
		pool.idle_top = wk;
		pool.idle++;
		pool_unlock();
		struct timespec left = { IDLE_EXIT_S, 0 };
		long r = 0;
		while (!atomic_load_explicit(&wk->go, memory_order_acquire) && r != -ETIMEDOUT)
			r = asy_sys(SYS_futex, &wk->go, FUTEX_WAIT_PRIVATE, 0, &left, 0, 0);
		pool_lock();
		if (atomic_load_explicit(&wk->go, memory_order_relaxed)) {
			pool.waking--;
			if (wk->leave)
				return quit(wk);
		} else {
			/* Timed out, still on the stack: leave it. */
			struct worker **pp = &pool.idle_top;
			while (*pp != wk)
				pp = &(*pp)->next_idle;
			*pp = wk->next_idle;
			pool.idle--;
			if (!pool.head && pool.nthreads > 1)
				return quit(wk);
		}
	}
	struct asy_waiter *w = pool.head;
	pool.head = w->next;
	pool.queued--;
	if (!pool.head)
		pool.tail = NULL;
	pool.busy_rw += (unsigned)is_rw(w);
	if (atomic_load_explicit(&pool.deferred, memory_order_relaxed))
		atomic_store_explicit(&pool.moved, asy_now(), memory_order_relaxed);
	w->be_priv = wk;
	atomic_store(&wk->cur, w);
	/* More queued than workers on their way: wake the next one here,
	 * off the scheduler's thread (not for reads and writes left to busy
	 * workers: pool_submit's defer). */
	struct worker *next = atomic_load_explicit(&pool.deferred, memory_order_relaxed) ? NULL
											: to_wake();
	pool_unlock();
	wake(next);
	return w;
}

/* w is finished: tell its thread.  w may be gone as soon as done is set,
 * so what is needed is taken first; t's refs keep t mapped meanwhile.
 *
 * A ring's wait (sleeping == 1) is woken by every completion.  The
 * threads backend's scheduler sleeps on wake_seq == seq with
 * SLEEP_TOKEN(seq) in sleeping: only the worker whose increment moved
 * wake_seq away from seq wakes it (and takes the token, so a completion
 * that finished earlier and wakes late cannot take a later sleep's).
 * Either that worker sees the token or the scheduler sees the new
 * wake_seq before it sleeps (both sequentially consistent). */
void asy__thread_wake(struct asy_thread *t)
{
	unsigned seq = atomic_fetch_add(&t->wake_seq, 1);
	int sl = atomic_load(&t->sleeping);
	if (sl != 1)
		sl = sl == SLEEP_TOKEN(seq) && atomic_compare_exchange_strong(&t->sleeping, &sl, 0);
	if (sl)
		asy_sys(SYS_futex, &t->wake_seq, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

static void finish(struct asy_waiter *w, long res)
{
	struct asy_thread *t = w->thread;
	asy__complete(w, res);
	asy__thread_wake(t);
	atomic_fetch_sub_explicit(&t->refs, 1, memory_order_release);
}

static void *worker_main(void *arg)
{
	struct worker wk = { .tid = (pid_t)asy_sys_gettid() };
	struct asy_waiter *w;
	int rw = 0;
	pool_lock();
	pool.starting--;
	wk.leave = (unsigned)(uintptr_t)arg != pool.gen;
	wk.next_all = pool.all;
	pool.all = &wk;
	pool_unlock();
	while ((w = take(&wk, rw))) {
		rw = is_rw(w);
		long res = run(&wk, w);
		atomic_store(&wk.cur, NULL);
		finish(w, res);
	}
	asy__ro_ts_fini(&wk.poll_ts);
	asy__thread_counted(1);
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
	int r = pthread_create(&th, &attr, worker_main, (void *)(uintptr_t)pool.gen);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r)
		return -r;
	asy__thread_counted(0);
	pool.nthreads++;
	pool.starting++;
	return 0;
}

void asy__pool_kick(struct asy_thread *t)
{
	t->pool_kick = 0;
	pool_lock();
	struct worker *wk = to_wake();
	pool_unlock();
	wake(wk);
}

void asy__pool_prepare(void)
{
	pool_lock();
	if (pool.nthreads == 0)
		spawn();
	pool_unlock();
}

/* Every worker exits (an idle one now, a busy one after its call, one
 * starting as it starts) and the caller returns once their threads are
 * gone, or after 1 s: glibc's setuid family makes its change in every
 * thread and aborts when one's result differs from the caller's, as a
 * worker's does once the caller took capabilities of its own (engine.c:
 * asy__own_calls).  Calls queued meanwhile get new workers (quit). */
void asy__pool_retire(void)
{
	struct timespec pause = { 0, 100000 };
	int64_t until = asy_now() + 1000000000LL;
	pid_t tids[64];
	unsigned n = 0;
	pool_lock();
	pool.ngone = 0;
	pool.gen++; /* a worker still starting sees it and leaves */
	for (struct worker *wk = pool.all; wk; wk = wk->next_all)
		wk->leave = 1;
	while (pool.idle_top) {
		struct worker *wk = pool.idle_top;
		pool.idle_top = wk->next_idle;
		pool.idle--;
		pool.waking++; /* as to_wake(); the worker takes it back */
		atomic_store_explicit(&wk->go, 1, memory_order_release);
		wake(wk);
	}
	while (pool.starting && asy_now() < until) {
		pool_unlock();
		asy_sys(SYS_nanosleep, &pause, 0, 0, 0, 0, 0);
		pool_lock();
	}
	for (struct worker *wk = pool.all; wk && n < 64; wk = wk->next_all)
		if (wk->leave)
			tids[n++] = wk->tid;
	/* Those that left meanwhile (while the lock was free for a starting
	 * one) are off `all`, but their threads may not have ended: glibc's
	 * setuid family would still signal one of them. */
	for (unsigned i = 0; i < pool.ngone && n < 64; i++)
		tids[n++] = pool.gone[i];
	pool.ngone = 0;
	pool_unlock();
	for (unsigned i = 0; i < n; i++)
		while (asy_sys(SYS_tgkill, asy__pid, tids[i], 0, 0, 0, 0) == 0 && asy_now() < until)
			asy_sys(SYS_nanosleep, &pause, 0, 0, 0, 0, 0);
}

/* Nothing per thread: completions come through t->wake_seq. */
static int threads_thread_init(struct asy_thread *t)
{
	return 0;
}

static void threads_thread_fini(struct asy_thread *t)
{
	asy__ready_fini(t);
}

/* w's call made by the calling thread, as its own call: a waiting one
 * waits there, a write past RLIMIT_FSIZE raises SIGXFSZ there.  Also the
 * ring's, for an op io-wq could start no worker for. */
long asy__run_here(struct asy_waiter *w)
{
	const struct asy_io *io = &w->io;
	if (io->op == ASY_OP_CALL)
		return io->fn(io->arg);
	if (io->op == ASY_OP_WRITE)
		return asy_sys_pwritev2(io->fd, io->iov, io->iovcnt, io->off, io->rwflags);
	return run(NULL, w);
}

/* w's call made here and finished before its coroutine would park. */
static int made_here(struct asy_thread *t, struct asy_waiter *w)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	w->be_priv = NULL;
	finish(w, asy__run_here(w));
	return 0;
}

static int pool_submit(struct asy_thread *t, struct asy_waiter *w)
{
	/* A vfork child of a coroutine (a process of its own that shares our
	 * memory) passes its calls to libc (engine.c, asy__in_child), but
	 * one made by a raw system call is not seen there, and is not the
	 * pool's either: a worker would open in the parent's fd table, and a
	 * worker started from here would be a thread of the child, gone at
	 * its exec or exit while the pool went on counting it idle (the
	 * parent's next call handed to it waited forever).  Its call is made
	 * here and now, done before its coroutine would park, so no other
	 * coroutine runs in the child for it.  One getpid per handoff to a
	 * worker, against the ~10 µs of the handoff. */
	if ((pid_t)asy_sys_getpid() != asy__pid)
		return made_here(t, w);
	pool_lock();
	unsigned limit = w->io.op == ASY_OP_POLL || w->io.op == ASY_OP_POLLSET ||
					 (w->io.flags & ASY_F_WAITS) ? MAX_THREADS : asy__cfg.workers;
	/* A read or write of a scheduler on this backend (whose wait below
	 * keeps the queue moving) that a busy worker will take soon. */
	int defer = t->be == &asy__backend_threads && is_rw(w) && pool.queued < DEFER_QUEUED &&
		    pool.busy_rw >= DEFER_BUSY;
	if (!defer && pool.queued + 1 > pool.idle && pool.nthreads < limit) {
		/* No thread can start (RLIMIT_NPROC counts the user's threads):
		 * the call is made here, as the program's own, rather than
		 * failing with EAGAIN — all but a readiness wait that a busy
		 * worker may still take (made here it could wait for a sibling
		 * coroutine that cannot run meanwhile). */
		if (spawn() < 0 && (pool.nthreads == 0 || limit != MAX_THREADS)) {
			pool_unlock();
			return made_here(t, w);
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
	/* A coroutine's call: its scheduler wakes a worker when it next looks
	 * for completions (asy__engine_idle), once for the calls its other
	 * coroutines queue meanwhile too, and the worker that takes the first
	 * wakes the next (take) — a wake-up costs the waker ~10 µs of a VM's
	 * inter-processor interrupt. */
	int lazy = w->coro != NULL;
	struct worker *wk = defer || lazy ? NULL : to_wake();
	if (defer && !atomic_load_explicit(&pool.deferred, memory_order_relaxed)) {
		atomic_store_explicit(&pool.moved, asy_now(), memory_order_relaxed);
		atomic_store_explicit(&pool.deferred, 1, memory_order_relaxed);
	}
	t->pool_kick += lazy && !defer;
	pool_unlock();
	wake(wk);
	return 0;
}

/* A readiness wait of a scheduler on this backend stays on its thread
 * (ready.c); anything else goes to a worker. */
static int threads_submit(struct asy_thread *t, struct asy_waiter *w)
{
	return asy__ready_submit(t, w) ? 0 : pool_submit(t, w);
}

static void threads_cancel(struct asy_thread *t, struct asy_waiter *w)
{
	if (asy__ready_cancel(t, w))
		return;
	atomic_store(&w->cancel, 1);
	pool_lock();
	if (!w->be_priv) { /* still queued: it never started */
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
	} else if (w->io.op == ASY_OP_CALL && (w->io.flags & ASY_F_WAITS)) {
		/* Under the lock the worker cannot let go of w meanwhile
		 * (run_waiting), so the kick reaches w's call or is taken
		 * off by that worker before the handler goes. */
		struct worker *wk = w->be_priv;
		if (atomic_load(&wk->cur) == w && (w->kicked || asy__intr_arm())) {
			w->kicked = 1;
			asy_sys(SYS_tgkill, asy__pid, wk->tid, asy__cfg.intr_signal, 0, 0, 0);
		}
	}
	pool_unlock();
}

/* A queue of deferred calls that has not moved for DEFER_NS (its busy
 * workers are slow) gets an idle worker.  From the scheduler's thread,
 * whenever it looks for completions. */
static void pool_unstick(void)
{
	if (!atomic_load_explicit(&pool.deferred, memory_order_relaxed) ||
	    asy_now() - atomic_load_explicit(&pool.moved, memory_order_relaxed) < DEFER_NS)
		return;
	pool_lock();
	struct worker *wk = pool.head ? to_wake() : NULL;
	if (!pool.head)
		atomic_store_explicit(&pool.deferred, 0, memory_order_relaxed);
	else if (!wk && !pool.idle_top && pool.nthreads < asy__cfg.workers)
		spawn();
	/* Looked now: the next look (and the scheduler's wait) is DEFER_NS on. */
	atomic_store_explicit(&pool.moved, asy_now(), memory_order_relaxed);
	pool_unlock();
	wake(wk);
}

static void threads_reap(struct asy_thread *t)
{
	asy__ready_look(t);
	pool_unstick();
}

/* The scheduler sleeps on its wake_seq futex: one system call, and none
 * at all for the workers while it is busy. */
static void threads_wait(struct asy_thread *t, int64_t deadline, unsigned seq)
{
	if (deadline == 0)
		return;
	/* Only readiness waits out: the thread polls their fds itself. */
	if (asy__ready_sleep(t, deadline, seq))
		return;
	/* Calls on workers too: the workers take the waits (ready.c). */
	for (struct asy_waiter *w = asy__ready_take_all(t), *next; w; w = next) {
		next = w->next;
		long r = pool_submit(t, w);
		if (r < 0)
			asy__complete_local(t, w, r);
	}
	/* Completions due from workers, or a nudge: look before sleeping. */
	if (t->parked || t->listeners)
		asy__wake_spin(t, seq, deadline);
	if (atomic_load_explicit(&pool.deferred, memory_order_relaxed)) {
		int64_t by = atomic_load_explicit(&pool.moved, memory_order_relaxed) + DEFER_NS;
		if (deadline < 0 || by < deadline)
			deadline = by; /* then pool_unstick, in the reap after this wait */
	}
	/* Always a timeout (an hour when none): a handler then ends the wait
	 * with EINTR whatever its SA_RESTART, and the engine sees it ran. */
	struct timespec ts = { 3600, 0 };
	if (deadline > 0) {
		int64_t left = deadline - asy_now();
		if (left <= 0)
			return;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
	}
	atomic_store(&t->sleeping, SLEEP_TOKEN(seq));
	if (atomic_load(&t->wake_seq) == seq &&
	    asy_sys(SYS_futex, &t->wake_seq, FUTEX_WAIT_PRIVATE, seq, &ts, 0, 0) == -EINTR)
		t->signals++;
	atomic_store(&t->sleeping, 0);
}

/* The child has none of the parent's workers; start from nothing. */
static void threads_fork_child(void)
{
	pthread_mutex_init(&pool.lock, NULL);
	pool.head = pool.tail = NULL;
	pool.idle_top = NULL;
	pool.all = NULL;
	pool.starting = 0;
	pool.nthreads = pool.idle = pool.queued = pool.busy_rw = pool.waking = pool.ngone = 0;
	atomic_store(&pool.deferred, 0);
}

const struct asy_backend asy__backend_threads = {
	.name = "threads",
	.via = ASY_VIA_THREADS,
	.thread_init = threads_thread_init,
	.thread_fini = threads_thread_fini,
	.thread_forget = threads_thread_fini,
	.submit = threads_submit,
	.cancel = threads_cancel,
	.reap = threads_reap,
	.wait = threads_wait,
	.fork_child = threads_fork_child,
};
