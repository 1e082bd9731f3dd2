/* The engine: where a call goes, per-thread state, start-up and fork.
 *
 *   hook -> asy__io(): a plain thread's call is the program's own call and
 *           goes straight back to the hook, which calls libc (see the rule
 *           in engine.h);
 *        -> a coroutine's call: the file of its family (ASY_CALLS in
 *           engine.h): read/write by the kind of fd (rw.c, fdkind.c),
 *           fsync/fdatasync as one backend op, sockets (net.c), readiness
 *           (poll.c), sleeps (sleep.c), name resolution (resolve.c);
 *        -> the result, >= 0 or -errno, goes back to the hook. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "fdkind.h"
#include "order.h"
#include "spin.h"
#include "sys.h"
#include "asyncify.h"
#include "trace.h"
#include "coro.h"

_Atomic int asy__ready;
pid_t asy__pid;
_Atomic unsigned asy__fork_gen;
struct asy_counters asy__count;

/* The backend coroutines start on; moves from uring to threads for good
 * when io_uring is refused (seccomp, io_uring_disabled). */
static const struct asy_backend *_Atomic current;
static pthread_key_t thread_key;
static _Atomic int key_state; /* thread_key: 0 none, 1 being made, 2 made */

ASY_TLS struct asy_thread *asy__tls_thread;
ASY_TLS int asy__depth;
ASY_TLS int asy__in_handler;
ASY_TLS int asy__forked;
ASY_TLS int asy__unshared;
ASY_TLS int asy__shares_mm;
/* Sticky: the thread took a state no worker shares (asy__own_calls). */
static ASY_TLS int own_task;
static ASY_TLS int own_table; /* sticky too: asy__own_table */

/* The first time: no worker outlives the change either, so that
 * glibc's setuid family, which makes its change in every thread of the
 * process, meets only the program's threads (backend-threads.c:
 * asy__pool_retire).  Not in a vfork child, whose workers are its
 * parent's, nor in a signal handler that interrupted the engine (which
 * may hold the pool's lock). */
void asy__own_calls(void)
{
	if (asy__in_child())
		return; /* the child's own state, gone at its exec or exit */
	int first = !own_task;
	own_task = asy__unshared = 1;
	if (first && !asy__depth && asy_sys_getpid() == asy__pid)
		asy__pool_retire();
}

void asy__own_table(void)
{
	if (asy__in_child())
		return; /* the child's own table */
	own_table = 1;
	asy__own_calls();
}

/* The thread's filesystem ids are not its effective ids (setfsuid and
 * setfsgid change one thread; glibc's setuid family sets them to the
 * effective ids in every thread), its capabilities are not the main
 * thread's, or its personality has STICKY_TIMEOUTS: it got them from the
 * thread that created it, which changed its own (shim/task.c). */
static int state_own(long pid, long tid)
{
	if (asy_sys(SYS_personality, 0xffffffff, 0, 0, 0, 0, 0) & 0x4000000 /* STICKY_TIMEOUTS */)
		return 1;
	unsigned r, e, s;
	asy_sys(SYS_getresuid, &r, &e, &s, 0, 0, 0);
	if ((unsigned)asy_sys(SYS_setfsuid, -1, 0, 0, 0, 0, 0) != e) /* -1 only asks */
		return 1;
	asy_sys(SYS_getresgid, &r, &e, &s, 0, 0, 0);
	if ((unsigned)asy_sys(SYS_setfsgid, -1, 0, 0, 0, 0, 0) != e)
		return 1;
	if (pid == tid)
		return 0;
	struct {
		unsigned version;
		int pid;
	} hdr = { 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0 };
	unsigned mine[6] = { 0 }, lead[6] = { 0 };
	if (asy_sys(SYS_capget, &hdr, mine, 0, 0, 0, 0) < 0)
		return 1;
	hdr.pid = (int)pid;
	if (asy_sys(SYS_capget, &hdr, lead, 0, 0, 0, 0) < 0)
		return 1;
	return memcmp(mine, lead, sizeof mine) != 0;
}

/* The calling thread's fd table or fs struct (cwd, root, umask) is not
 * the main thread's: it unshared them before this scheduler run; or its
 * credentials are its own. */
static int task_unshared(void)
{
	long pid = asy_sys_getpid(), tid = asy_sys_gettid();
	if (own_task || state_own(pid, tid))
		return 1;
	if (pid == tid)
		return 0;
	return asy_sys(SYS_kcmp, pid, tid, 2 /* KCMP_FILES */, 0, 0, 0) > 0 ||
	       asy_sys(SYS_kcmp, pid, tid, 4 /* KCMP_FS */, 0, 0, 0) > 0;
}

/* io_uring that failed for a reason that may pass (no fd, memlock) is
 * tried again on this thread after this long; meanwhile the thread's
 * calls go to the worker pool. */
#define RING_RETRY_NS 1000000000LL

const struct asy_backend *asy__backend(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
}

/* Refusals that will not change while the process runs. */
static int uring_refused_for_good(int err)
{
	return err == EPERM || err == ENOSYS || err == EINVAL || err == EACCES;
}

/* io_uring was refused: move the process to the worker pool.  Silent
 * unless uring was asked for. */
void asy__backend_failed(const struct asy_backend *be, int err)
{
	const struct asy_backend *want = be;
	if (be != &asy__backend_uring || !uring_refused_for_good(err))
		return;
	if (!atomic_compare_exchange_strong(&current, &want, &asy__backend_threads))
		return;
	if (asy__cfg.backend_explicit)
		asy__warn("io_uring is not available (%s); using the threads backend",
			  strerror(err));
}

void asy__raise_as_kernel(int sig)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_USER;
	si.si_pid = (pid_t)asy_sys_getpid();
	si.si_uid = getuid();
	asy_sys(SYS_rt_tgsigqueueinfo, si.si_pid, asy_sys_gettid(), sig, &si, 0, 0);
}

int asy__park(int64_t deadline)
{
	int depth = asy__depth;
	asy__depth = 0; /* other coroutines use the engine while this one waits */
	int r = asy__coro_park(deadline, 1);
	asy__depth = depth;
	return r;
}

/* ---- per-thread state --------------------------------------------------- */

static void thread_free(struct asy_thread *t, int forget)
{
	asy__sync_forget(t, !forget); /* no wake nudges it from now on */
	if (t->be && !forget)
		t->be->thread_fini(t);
	else if (t->be)
		t->be->thread_forget(t);
	/* Workers may still have to wake this thread: wait for them. */
	while (!forget && atomic_load_explicit(&t->refs, memory_order_acquire) > 0)
		asy_sys_nanosleep(50000);
	/* Blocks of abandoned ops still on the parked list stay mapped: a
	 * ring's op may still write into them (detach.c).  The calls workers
	 * made for them have ended: the numbers they kept go. */
	for (struct asy_waiter *w = forget ? NULL : t->parked; w; w = w->pnext)
		if (w->abandoned && w->io.op == ASY_OP_CALL)
			asy__fs_reaped(w);
	asy__detach_drop_kept(t);
	asy__unmap(t, sizeof *t);
}

static void thread_key_dtor(void *p)
{
	struct asy_thread *t = p;
	if (t && t->gen == atomic_load(&asy__fork_gen) && t == asy__tls_thread) {
		asy__tls_thread = NULL;
		thread_free(t, 0);
	}
}

/* Put t on the process's backend.  uring that cannot start now (EMFILE,
 * ENOMEM from the memlock limit) leaves t on the worker pool for a while;
 * uring refused for good moves the process (asy__backend_failed). */
static void thread_attach(struct asy_thread *t)
{
	const struct asy_backend *be = asy__backend();
	if (be == &asy__backend_uring && asy_now() >= t->ring_retry) {
		int r = be->thread_init(t);
		if (r == 0) {
			t->be = be;
			return;
		}
		asy__backend_failed(be, -r);
		t->ring_retry = asy_now() + RING_RETRY_NS;
	}
	t->be = &asy__backend_threads;
	asy__backend_threads.thread_init(t);
}

/* The key whose destructor frees a thread's state, made when the first
 * thread needs one: a program whose threads never enter the engine keeps
 * all PTHREAD_KEYS_MAX keys (one made by the constructor left it one
 * fewer: EAGAIN at its 1024th).  A refusal (every key taken) leaves 0 —
 * no engine state, libc's calls — and the next thread asks again. */
static int thread_key_made(void)
{
	int s = atomic_load_explicit(&key_state, memory_order_acquire), none = 0;
	if (s == 2)
		return 1;
	if (s == 0 && atomic_compare_exchange_strong(&key_state, &none, 1)) {
		int ok = pthread_key_create(&thread_key, thread_key_dtor) == 0;
		atomic_store_explicit(&key_state, ok ? 2 : 0, memory_order_release);
		return ok;
	}
	while ((s = atomic_load_explicit(&key_state, memory_order_acquire)) == 1)
		asy__cpu_relax();
	return s == 2;
}

static struct asy_thread *thread_new(void)
{
	if (!thread_key_made())
		return NULL;
	struct asy_thread *t = asy__map(sizeof *t);
	if (t == MAP_FAILED)
		return NULL;
	memset(t, 0, sizeof *t);
	t->tid = (pid_t)asy_sys_gettid();
	t->gen = atomic_load(&asy__fork_gen);
	thread_attach(t);
	pthread_setspecific(thread_key, t);
	return t;
}

/* A thread on the pool for now may move (back) to uring: only when none
 * of its calls is in flight. */
static void thread_recheck(struct asy_thread *t)
{
	if (t->be == asy__backend() || t->parked)
		return;
	if (t->be == &asy__backend_threads && asy_now() < t->ring_retry)
		return;
	t->be->thread_fini(t);
	t->be = NULL;
	thread_attach(t);
}

struct asy_thread *asy__thread(void)
{
	struct asy_thread *t = asy__tls_thread;
	if (t && t->gen != atomic_load(&asy__fork_gen)) {
		/* Inherited through fork: the ring belongs to the parent. */
		thread_free(t, 1);
		t = asy__tls_thread = NULL;
	}
	if (!t)
		return asy__tls_thread = thread_new();
	thread_recheck(t);
	return t;
}

void asy__engine_prepare(void)
{
	asy__forked = 0; /* a new scheduler run: its coroutines are its own */
	asy__unshared = task_unshared();
	if (!atomic_load_explicit(&asy__ready, memory_order_relaxed) || asy__depth)
		return;
	/* from now on a handler's calls are told apart (shim/signal.c) */
	asy__handlers_wrap();
	int saved = errno;
	asy__depth++;
	/* Not by a thread whose state is its own: the workers it started
	 * would have it too. */
	if (asy__thread() && !asy__unshared)
		asy__pool_prepare();
	asy__depth--;
	errno = saved;
}

/* ---- one call ------------------------------------------------------------ */

static long sync_call(struct asy_io *io)
{
	struct asy_thread *t = asy__thread();
	if (!t)
		return ASY_PASS;
	struct asy_waiter w = { .io = *io, .thread = t };
	/* An fsync a deadline or cancel may leave behind (detach.c). */
	struct asy_waiter *d = asy__detach_new(t, io);
	long r = asy__op(t, d ? d : &w, -1);
	io->via = (d ? d : &w)->io.via;
	return d ? asy__detach_end(t, d, r, NULL, 0) : r;
}

static long sync_or_pass(struct asy_io *io)
{
	return asy__coro_alone() ? ASY_PASS : sync_call(io);
}

/* A coroutine whose calls never wait would never let the others run (a
 * server whose every read finds data; SQLite reading cached pages, with
 * its own work between the reads): once FAIR_NS have passed since its
 * first call answered inline after it last got the thread (the clock is
 * read there, not at every switch), or it made FAIR_RUN such calls, or
 * once the inline calls that measured themselves (asy__fair_charge: a
 * file write made in the calling thread) took FAIR_NS, the thread's
 * finished calls are reaped and the coroutine yields once — at a call
 * answered inline, the only place the engine gets the thread back.  Its
 * timers run first (sched.c), so a sleeper waits one run, at most about
 * FAIR_NS plus the work between two calls, not a round of every busy
 * coroutine's 64 calls. */
#define FAIR_RUN 64
#define FAIR_NS 1000000
static ASY_TLS unsigned inline_run, fair_gen;
static ASY_TLS int64_t fair_since;
ASY_TLS int64_t asy__inline_ns;

static void fair_start(void)
{
	fair_gen = asy__coro_switches();
	fair_since = asy_now();
	inline_run = 0;
	asy__inline_ns = 0;
}

static void fair_share(void)
{
	if (asy__coro_switches() != fair_gen) { /* a run of its own begins */
		fair_start();
		return;
	}
	/* The clock is read at every fourth such call (≈ 30 ns each). */
	if (++inline_run < FAIR_RUN && asy__inline_ns < FAIR_NS &&
	    ((inline_run & 3) || asy_now() - fair_since < FAIR_NS))
		return;
	struct asy_thread *t = asy__tls_thread;
	if (t && t->parked)
		asy__engine_idle(0);
	asy_yield();
	fair_start(); /* alone, it goes on: a new run all the same */
}

/* Which file carries a call out: one function per family (ASY_CALLS). */
static long (*const family_fn[])(struct asy_io *) = {
	[ASY_FAM_rw] = asy__rw,       [ASY_FAM_sync] = sync_or_pass, [ASY_FAM_net] = asy__net,
	[ASY_FAM_poll] = asy__poll,   [ASY_FAM_sleep] = asy__sleep,  [ASY_FAM_fs] = asy__fs,
};
static const unsigned char call_family[ASY_CALL_COUNT] = {
#define X(n, fam, rd) [ASY_CALL_##n] = ASY_FAM_##fam,
	ASY_CALLS(X)
#undef X
};

/* Whether the call closes numbers of the shared fd table, lo..hi:
 * close; dup2 or dup3 over another number; close_range, unless with
 * UNSHARE or CLOEXEC (then it closes nothing of the shared table).  Not
 * in a thread with a table of its own (a sibling's unshare(CLONE_FILES)
 * and close took a copy for the process's waits in its own table, and
 * the waits went on with it: EBADF). */
static int closes(const struct asy_io *io, unsigned *lo, unsigned *hi)
{
	if (own_table)
		return 0;
	switch (io->call) {
	case ASY_CALL_close:
		*lo = *hi = (unsigned)io->fd;
		return 1;
	case ASY_CALL_close_range:
		*lo = (unsigned)io->a[0], *hi = (unsigned)io->a[1];
		return !(io->a[2] & (CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC));
	case ASY_CALL_dup2:
	case ASY_CALL_dup3:
		*lo = *hi = (unsigned)io->a[1];
		return io->a[0] != io->a[1];
	default:
		return 0;
	}
}

unsigned asy__closing(const struct asy_io *io)
{
	unsigned lo, hi;
	if (!closes(io, &lo, &hi))
		return 0;
	asy__fd_forget_range(lo, hi); /* the kind found there (fdkind.h) */
	int keep = !asy__depth && atomic_load_explicit(&asy__keeps, memory_order_seq_cst);
	int ours = asy__tracing && asy__trace_in(lo, hi);
	/* Any thread's close of a number a wait holds or the trace writes
	 * to.  A vfork child (or any clone sharing memory, not the fd
	 * table) closes in a table of its own: neither the waits' nor the
	 * trace's.  getpid last: it is a system call, and only such closes
	 * pay it. */
	if ((!keep && !ours) || (pid_t)asy_sys_getpid() != asy__pid)
		return 0;
	unsigned r = ours ? asy__trace_closing(lo, hi) & ASY_TRACE_LOST : 0;
	if (keep && asy__keep_closing(lo, hi, io->call))
		r |= ASY_CLOSE_AROUND;
	return r;
}

/* fn(io) as the engine's part of a coroutine's call (self): errno kept. */
static long in_engine(struct asy_coro *self, long (*fn)(struct asy_io *), struct asy_io *io)
{
	int saved = errno;
	asy__depth++;
	asy__coro_in_call(self, 1);
	long r = fn(io);
	asy__coro_in_call(self, -1);
	asy__depth--;
	errno = saved;
	return r;
}

static long ops_first(struct asy_io *io)
{
	asy__ops_first(io, -1);
	return 0;
}

long asy__close_around(struct asy_io *io)
{
	struct asy_coro *self;
	/* A coroutine's close_range comes after its thread's file ops on
	 * the numbers, as the engine's own would (fs.c). */
	if (io->call == ASY_CALL_close_range && !asy__depth && !asy__forked &&
	    (self = asy__coro_self()))
		in_engine(self, ops_first, io);
	unsigned lo = 0, hi = 0;
	closes(io, &lo, &hi);
	return asy__keep_close(io, lo, hi);
}

/* The thread shares its memory with a child that runs now (a vfork
 * child, or one made by clone with CLONE_VM: shim/process.c), and the
 * caller is that child: its calls are its own, all of them, as without
 * the shim.  The parent's first call after its vfork returned clears the
 * mark; a child of clone without CLONE_VFORK may run on beside the
 * parent, so that mark stays (a getpid per call of the thread). */
int asy__in_child_slow(void)
{
	if ((pid_t)asy_sys_getpid() != asy__pid)
		return 1;
	if (asy__shares_mm == ASY_MM_VFORK)
		asy__shares_mm = 0;
	return 0;
}

static void child_unseen(void); /* below: start-up and fork */

long asy__io(struct asy_io *io)
{
	/* The rule (engine.h): only a coroutine's call is ours to route.  A
	 * signal handler's call passes through too (it may have interrupted
	 * code holding malloc's lock, or the engine: shim/signal.c), and so
	 * does a child that shares the thread's memory. */
	if (asy__in_child())
		return ASY_PASS;
	if (asy__fork_unseen())
		child_unseen();
	if ((io->call == ASY_CALL_unshare && (io->a[0] & CLONE_FILES)) ||
	    (io->call == ASY_CALL_close_range && (io->a[2] & CLOSE_RANGE_UNSHARE)))
		asy__own_table();
	else if (io->call == ASY_CALL_unshare && io->a[0])
		asy__own_calls(); /* a cwd or namespace of its own */
	struct asy_coro *self;
	if (asy__depth || asy__in_handler || asy__forked || asy__unshared ||
	    !(self = asy__coro_self()))
		return ASY_PASS;
	long (*fn)(struct asy_io *) = family_fn[call_family[io->call]];
	if (!fn)
		return ASY_PASS;
	int saved = errno;
	long r = in_engine(self, fn, io);
	if (r == ASY_PASS)
		ASY_COUNT(passed);
	else if (io->via == ASY_VIA_INLINE)
		fair_share();
	errno = asy__coro_call_errno(self, saved); /* a handler's, if one stood in the call */
	return r;
}

/* ---- start-up and fork ------------------------------------------------ */

/* A child forked by a coroutine has copies of every coroutine of that
 * thread, but only the forking one is the program's: as in a child forked
 * by one of many threads, nothing else may run there.  The copies are
 * parked for good (asy__coro_fork_child, under every backend: the child
 * ends when the forking coroutine returns), and until that scheduler run
 * ends the child's calls are its own calls. */
static void child_own(int prepared)
{
	asy__forked = asy__sched_running;
	asy__pid = (pid_t)asy_sys_getpid();
	atomic_fetch_add(&asy__fork_gen, 1);
	asy__backend_threads.fork_child();
	asy__backend_uring.fork_child();
	asy__keep_fork_child(prepared);
	asy__arena_fork_child();
	if (asy__tls_thread)
		asy__ro_ts_forget(&asy__tls_thread->ready_ts);
	memset(&asy__count, 0, sizeof asy__count);
	/* a key another thread was making: the child asks again */
	int making = 1;
	atomic_compare_exchange_strong(&key_state, &making, 0);
}

/* Between a fork's prepare handler and its child or parent handler: a
 * call made there (an earlier library's child handler, a signal handler)
 * is no child's first (child_unseen). */
static ASY_TLS int in_fork;

static void atfork_prepare(void)
{
	in_fork = 1;
	asy__keep_fork_prepare();
}

static void atfork_parent(void)
{
	asy__keep_fork_parent();
	in_fork = 0;
}

static void atfork_child(void)
{
	in_fork = 0;
	if (asy__fork_seen())
		child_own(1);
}

/* A child of a fork that ran no pthread_atfork handler — `_Fork`, glibc's
 * `clone` without CLONE_VM, a raw fork system call — made by a
 * coroutine: its first call into the engine does what the handlers do.
 * Its calls had gone on with the parent's ring and copies (`_Fork` in a
 * coroutine, then a read: the child hung under `uring`). */
static void child_unseen(void)
{
	/* not inside a handler or the engine (they may have interrupted
	 * what this changes): a later call does it */
	if (in_fork || asy__in_handler || asy__depth || !asy__fork_seen())
		return;
	asy__coro_fork_child();
	if (atomic_load(&asy__ready))
		child_own(0);
	asy__trace_fork_child();
}

/* A signal handler forked, and this is the child, about to return into
 * what the handler interrupted: the thread's ring is the parent's
 * (its backend covers it for the way out), and a wait for the
 * parent's workers must not begin. */
void asy__fork_in_handler(void)
{
	struct asy_thread *t = asy__tls_thread;
	if (!t)
		return;
	atomic_fetch_add(&t->wake_seq, 1); /* a futex wait about to begin ends at once */
	if (t->be && t->be->fork_cover)
		t->be->fork_cover(t);
}

/* `off`: the engine has no fork handler of its own; the child is seen. */
static void seen_child(void)
{
	in_fork = 0;
	asy__fork_seen();
}

static void unmark_fork(void)
{
	in_fork = 0;
}

static void mark_fork(void)
{
	in_fork = 1;
}

/* ... or when the forking coroutine gives the thread away first
 * (runtime/coro/sched.c): the others' copies do not run. */
void asy__fork_own(void)
{
	child_unseen();
}

/* glibc counts the process's threads (__nptl_nthreads, GLIBC_PRIVATE,
 * kept for libthread_db) and ends the process with exit(0) when the last
 * one returns or calls pthread_exit.  The engine's own threads (workers,
 * the trace writer) must not count: a program whose main thread calls
 * pthread_exit ends when its last thread does, as without the shim; with
 * them counted it lived on with only the engine's threads, which block
 * every signal (a SIGTERM stayed pending for good).  Where the counter
 * cannot be found nothing changes. */
static unsigned *nthreads;
static pthread_once_t nthreads_once = PTHREAD_ONCE_INIT;

static void nthreads_find(void)
{
	nthreads = (unsigned *)dlsym(RTLD_DEFAULT, "__nptl_nthreads");
}

void asy__thread_counted(int counted)
{
	pthread_once(&nthreads_once, nthreads_find);
	if (nthreads)
		__atomic_fetch_add(nthreads, counted ? 1u : -1u, __ATOMIC_RELAXED);
}

int asy__program_threads(void)
{
	pthread_once(&nthreads_once, nthreads_find);
	return nthreads ? (int)__atomic_load_n(nthreads, __ATOMIC_RELAXED) : -1;
}

/* Runs before main(); errno is left as it was found. */
__attribute__((constructor)) void asy__init(void)
{
	int saved = errno;
	asy__pid = (pid_t)asy_sys_getpid();
	asy__arena_init();
	asy__shim_resolve();
	asy__task_resolve();
	asy__config_read();
	asy__trace_init();
	pthread_atfork(NULL, NULL, asy__coro_fork_child);
	if (asy__cfg.backend != ASY_BE_OFF &&
	    pthread_atfork(atfork_prepare, atfork_parent, atfork_child) == 0) {
		atomic_store(&current, asy__cfg.backend == ASY_BE_URING ? &asy__backend_uring :
									  &asy__backend_threads);
		atomic_store(&asy__ready, 1);
	} else {
		pthread_atfork(mark_fork, unmark_fork, seen_child);
	}
	errno = saved;
}

/* ---- public ----------------------------------------------------------- */

ASY_EXPORT int asy_stats(struct asy_stats *st)
{
	st->inline_done = asy__count.inline_done;
	st->submitted = asy__count.submitted;
	st->uring = asy__count.by_backend[0];
	st->threads = asy__count.by_backend[1];
	st->interrupted = asy__count.interrupted;
	st->passed = asy__count.passed;
	st->fallbacks = asy__count.fallbacks;
	return 0;
}

ASY_EXPORT const char *asy_backend_name(void)
{
	const struct asy_backend *be = asy__backend();
	return atomic_load(&asy__ready) && be ? be->name : "off";
}

ASY_EXPORT const char *asy_version(void)
{
	return ASY_VERSION;
}
