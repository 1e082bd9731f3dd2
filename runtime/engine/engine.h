/* The engine's internal interface: what the shim calls, what every backend
 * provides, and the per-thread state they share.  Internals return >= 0 or
 * -errno; the hook turns that into -1/errno once, at the edge.
 *
 * The rule that keeps the program from telling the shim is there: a call
 * made by a plain thread (not inside a coroutine) is the program's own
 * call, made by the calling thread — nothing else could run on that
 * thread while it waits, so there is nothing to gain by handing it
 * elsewhere and everything the kernel applies to the calling task
 * (signals, job control, rlimits, the fd table, the file position lock,
 * cancellation) stays exact.  Only a call inside a coroutine, which must
 * let the other coroutines run, goes through the engine: runtime/engine/fdkind.c
 * says by the kind of fd how, runtime/engine/rw.c carries it out, runtime/engine/opdef.c
 * says which backend op waits for it. */
#ifndef ASY_ENGINE_H
#define ASY_ENGINE_H

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <poll.h>
#include <pthread.h>

#define ASY_HIDDEN __attribute__((visibility("hidden")))
#define ASY_EXPORT __attribute__((visibility("default")))
#define ASY_TLS    __thread __attribute__((tls_model("initial-exec")))

#include "tsan.h" /* asy_tsan_acquire/release: hand-overs told to TSan */

/* Returned by asy__io() when the hook should call the real function. */
#define ASY_PASS LONG_MIN

/* What a backend is asked to do (runtime/engine/opdef.c has one row each). */
enum asy_op {
	ASY_OP_READ,      /* readv at io.off (-1: the file position) */
	ASY_OP_WRITE,     /* writev likewise */
	ASY_OP_FSYNC,
	ASY_OP_FDATASYNC,
	ASY_OP_POLL,      /* wait until io.fd is ready for io.events */
	ASY_OP_POLLSET,   /* wait until one of io.pfd[0..npfd) is ready (or errs) */
	ASY_OP_RECV,      /* one blocking receive on the socket io.fd (ring only): */
	ASY_OP_SEND,      /* io.a[0] its struct msghdr *, or 0 for io.one; io.rwflags
			   * the MSG_ flags; io.a[1] a struct asy_sockopts * or 0 */
	ASY_OP_CALL,      /* run io.fn(io.arg) on a worker: its result is the op's
			   * (name resolution, file system calls) */
	ASY_OP_PIPE_READ, /* readv / writev of a pipe or FIFO that waits in the kernel */
	ASY_OP_PIPE_WRITE,/* (ring only): the op holds the file meanwhile */
	ASY_OP_COUNT,
	ASY_OP_NONE = ASY_OP_COUNT /* a call that is not one op (sockets, sleeps) */
};

/* Which libc entry point a call came through (tracing, counters), and the
 * family of calls the engine handles it with (one file each):
 *   rw     runtime/engine/rw.c     read/write family, by the kind of fd
 *   sync   runtime/engine/opdef.c  one backend op (fsync, fdatasync)
 *   net    runtime/engine/net.c    socket calls (net-ring.c: their ops on the ring)
 *   poll   runtime/engine/poll.c   readiness: poll, select, epoll_wait
 *   sleep  runtime/engine/sleep.c  sleeps, on the scheduler's timers
 *   res    runtime/engine/resolve.c name resolution, on a worker
 *   fs     runtime/engine/fs.c     opening, naming, metadata, locks, copies
 * X(name, family, reads): `reads` 1 when the call moves data in (the
 * summary's read side; a copy that names the fd it reads from: splice,
 * tee, copy_file_range). */
#define ASY_CALLS(X) \
	X(read, rw, 1) X(write, rw, 0) X(pread, rw, 1) X(pwrite, rw, 0) \
	X(readv, rw, 1) X(writev, rw, 0) X(preadv, rw, 1) X(pwritev, rw, 0) \
	X(preadv2, rw, 1) X(pwritev2, rw, 0) X(fsync, sync, 0) X(fdatasync, sync, 0) \
	X(recv, net, 1) X(recvfrom, net, 1) X(recvmsg, net, 1) X(recvmmsg, net, 1) \
	X(send, net, 0) X(sendto, net, 0) X(sendmsg, net, 0) X(sendmmsg, net, 0) \
	X(accept, net, 0) X(accept4, net, 0) X(connect, net, 0) \
	X(poll, poll, 0) X(ppoll, poll, 0) X(select, poll, 0) X(pselect, poll, 0) \
	X(epoll_wait, poll, 0) X(epoll_pwait, poll, 0) X(epoll_pwait2, poll, 0) \
	X(nanosleep, sleep, 0) X(clock_nanosleep, sleep, 0) X(usleep, sleep, 0) \
	X(sleep, sleep, 0) \
	X(getaddrinfo, res, 0) X(getnameinfo, res, 0) X(gethostbyname, res, 0) \
	X(gethostbyname2, res, 0) X(gethostbyname_r, res, 0) X(gethostbyname2_r, res, 0) \
	X(gethostbyaddr, res, 0) X(gethostbyaddr_r, res, 0) \
	X(open, fs, 0) X(openat, fs, 0) X(creat, fs, 0) X(close, fs, 0) X(close_range, fs, 0) \
	X(dup2, fs, 0) X(dup3, fs, 0) \
	X(stat, fs, 0) X(lstat, fs, 0) X(fstat, fs, 0) X(fstatat, fs, 0) X(statx, fs, 0) \
	X(access, fs, 0) X(faccessat, fs, 0) X(unlink, fs, 0) X(unlinkat, fs, 0) \
	X(rename, fs, 0) X(renameat, fs, 0) X(renameat2, fs, 0) X(mkdir, fs, 0) \
	X(mkdirat, fs, 0) X(rmdir, fs, 0) X(link, fs, 0) X(linkat, fs, 0) X(symlink, fs, 0) \
	X(symlinkat, fs, 0) X(readlink, fs, 0) X(readlinkat, fs, 0) \
	X(truncate, fs, 0) X(ftruncate, fs, 0) X(fallocate, fs, 0) X(posix_fallocate, fs, 0) \
	X(sync_file_range, fs, 0) X(syncfs, fs, 0) X(sync, fs, 0) X(msync, fs, 0) \
	X(flock, fs, 0) X(fcntl, fs, 0) X(lockf, fs, 0) \
	X(sendfile, fs, 0) X(splice, fs, 1) X(tee, fs, 1) X(vmsplice, fs, 0) \
	X(copy_file_range, fs, 1) X(unshare, fs, 0) \
	X(wait, fs, 0) X(waitpid, fs, 0) X(wait3, fs, 0) X(wait4, fs, 0) X(waitid, fs, 0)
enum asy_call {
#define X(n, fam, rd) ASY_CALL_##n,
	ASY_CALLS(X)
#undef X
	ASY_CALL_COUNT
};
enum asy_family {
	ASY_FAM_rw, ASY_FAM_sync, ASY_FAM_net, ASY_FAM_poll, ASY_FAM_sleep, ASY_FAM_res, ASY_FAM_fs
};

#define ASY_F_EXPLICIT 1 /* the call names an offset (pread family) */
#define ASY_F_VEC      2 /* the program passed a vector (readv family) */
#define ASY_F_WAITS    4 /* ASY_OP_CALL: may wait for another call of the program
			  * (a FIFO's peer, a lock, a pipe): a worker of its own,
			  * ended early by interrupting the worker */
#define ASY_F_POLL_FIRST 8 /* ASY_OP_SEND: just tried; wait for room before the first attempt */
#define ASY_F_COLD     16 /* ASY_OP_READ: a large buffered read that missed the page
			   * cache (a ring hands it to its own workers: IOSQE_ASYNC) */
#define ASY_F_POOL     32 /* ASY_OP_POLL, ASY_OP_POLLSET: a wait the ring refused
			   * (opdef.c: asy__op), made by a worker's poll() */

/* Which path answered a call (tracing, summary). */
enum asy_via { ASY_VIA_LIBC, ASY_VIA_INLINE, ASY_VIA_URING, ASY_VIA_THREADS, ASY_VIA_TIMER };

/* One call, as the engine sees it.  `iov` points at the caller's array or
 * at `one`; `off` is -1 for "the file position". */
struct asy_io {
	unsigned char op, call, flags;
	unsigned char via; /* enum asy_via: which path answered (set by the engine) */
	signed char path;  /* fs family: which of a[] is the call's path (-1 none) */
	int errnum;        /* fs family: errno the call left although it succeeded (0 none) */
	int fd;
	int iovcnt;
	int rwflags;
	short events;      /* ASY_OP_POLL: POLLIN or POLLOUT */
	unsigned short tfile; /* tracing: the file close's fd named before the call */
	off_t off;
	const struct iovec *iov;
	struct iovec one;  /* read/write: the buffer; others: iov_len = bytes asked */
	unsigned npfd;     /* ASY_OP_POLLSET */
	struct pollfd *pfd;
	_Atomic int *held; /* ASY_OP_POLL of a kept number: the copy once made (keep.c) */
	long (*fn)(void *); /* ASY_OP_CALL */
	void *arg;          /* ASY_OP_CALL: fn's argument; fs family: the real function */
	long a[6];         /* families other than rw/sync: the call's own arguments */
};

#define ASY_IO_BUF(c, o, fd_, buf, n, off_, fl) \
	{ .op = (o), .call = (c), .flags = (fl), .fd = (fd_), .iovcnt = 1, \
	  .off = (off_), .one = { (void *)(buf), (n) } }
#define ASY_IO_VEC(c, o, fd_, iov_, cnt, off_, rwf, fl) \
	{ .op = (o), .call = (c), .flags = (fl) | ASY_F_VEC, .fd = (fd_), .iovcnt = (cnt), \
	  .off = (off_), .rwflags = (rwf), .iov = (iov_) }
#define ASY_IO_SYNC(c, o, fd_) { .op = (o), .call = (c), .fd = (fd_) }
/* Any other call: its fd (-1: none), the bytes it asks for (tracing) and
 * its arguments as the family's file reads them. */
#define ASY_IO_ARGS(c, fd_, n, ...) \
	{ .op = ASY_OP_NONE, .call = (c), .fd = (fd_), .one = { NULL, (n) }, .a = { __VA_ARGS__ } }

/* What an ASY_OP_RECV or ASY_OP_SEND reads of its socket in the kernel
 * just before it starts, where the ring can (a SOL_SOCKET getsockopt op,
 * 6.7+; not on AF_UNIX): the values the kernel's own call would read at
 * its start.  Left at -1 where the ring could not read them. */
struct asy_sockopts {
	long timeo[2]; /* SO_RCVTIMEO (RECV) or SO_SNDTIMEO (SEND): a struct timeval */
	int lowat;     /* RECV: SO_RCVLOWAT */
};

/* A call handed to a backend.  The backend fills `res` and then sets
 * `done` (release); the coroutine parked on it is unparked by its
 * thread's scheduler. */
struct asy_waiter {
	struct asy_io io;
	struct asy_thread *thread;
	long res;
	int64_t deadline;      /* the earliest deadline of the wait (asy_now() ns; -1 none):
				* a backend that can end the op itself then returns -ETIME */
	_Atomic int done;
	_Atomic int cancel;
	unsigned char sigxfsz; /* a worker's write raised SIGXFSZ there: replay */
	unsigned char fired;   /* POLLSET on a ring: the first completion came */
	unsigned char on_list; /* on the thread's parked list */
	unsigned char kicked;  /* threads: a cancel sent the worker ASYNCIFY_SIGNAL */
	unsigned char local;   /* threads: on its own thread's readiness list (ready.c);
				* only that thread reads or writes it */
	unsigned char detached;  /* the engine's own block (detach.c): may be abandoned */
	unsigned char abandoned; /* its coroutine left at a deadline or cancel: whoever
				  * sees it done frees it (wait.c) */
	unsigned pending;      /* POLLSET on a ring: its requests not completed yet */
	long first;            /* POLLSET on a ring: the first completion's result */
	void *coro;            /* the coroutine parked on this call */
	const struct asy_backend *be; /* who runs it */
	void *be_priv;         /* the backend's own (threads: the worker) */
	/* Set by the caller: the ring submits the op with the thread's next
	 * wait rather than at once, and then, if it still waits, asks this
	 * until when it may (-1: no end); asy__wait() waits that long. */
	int64_t (*learn)(struct asy_waiter *w);
	int64_t learnt;        /* learn()'s answer once asked, else -2 */
	unsigned char late;    /* ring: queued with learn, not yet submitted */
	struct asy_waiter *next; /* the backend's lists: the pool's queue, a
				  * thread's readiness waits, the ring's late ops */
	struct asy_waiter *pnext, *pprev; /* the thread's parked waiters */
};

/* Has the call finished?  The one place a waiter's completion is
 * observed: the load pairs with the completer's release, and TSan is
 * told so too (above). */
static inline int asy__waiter_done(struct asy_waiter *w)
{
	if (!atomic_load_explicit(&w->done, memory_order_acquire))
		return 0;
	asy_tsan_acquire(&w->done);
	return 1;
}

/* Mark w finished with result res; after this returns w may be gone.
 * Safe from any thread. */
void asy__complete(struct asy_waiter *w, long res);
/* The same from w's own thread, while its coroutine is parked (a ring's
 * reap): the coroutine is made runnable at once. */
void asy__complete_local(struct asy_thread *t, struct asy_waiter *w, long res);
/* A ring op queued with learn() is in the kernel and still waits: learn
 * its deadline, and have its coroutine take it up. */
void asy__learn(struct asy_thread *t, struct asy_waiter *w);

/* A timeout the kernel reads but cannot write back (ready.c). */
struct asy_ro_ts {
	struct timespec *rw;
	const struct timespec *ro;
};

/* Per-thread engine state, created on the first call of a coroutine that
 * has to wait; mmap'd, so creating it never calls malloc.  It holds no fd
 * in steady state: the ring's fd is registered and closed (io_uring needs
 * only the registered index), and workers wake the thread with a futex. */
struct asy_thread {
	pid_t tid;
	_Atomic int refs; /* workers that still have to touch this struct */
	unsigned gen;     /* asy__fork_gen when created: stale in a forked child */
	const struct asy_backend *be; /* uring or threads */
	void *be_data;    /* the backend's per-thread state (a ring) */
	int64_t ring_retry; /* uring could not start for now: try again then */
	struct asy_waiter *parked; /* waiters of this thread's coroutines */
	/* Workers bump wake_seq after finishing one of this thread's calls
	 * and wake it (futex) when it sleeps; pool_out counts those calls. */
	_Atomic unsigned wake_seq;
	_Atomic int sleeping;
	unsigned pool_out;
	unsigned pool_kick; /* calls queued for the pool without a wake-up: the
			     * scheduler's next look wakes a worker (asy__pool_kick) */
	unsigned unparked; /* coroutines a reap made runnable (asy__complete_local) */
	unsigned signals;  /* the backend's waits a signal handler ended (EINTR) */
	/* threads backend: readiness waits the thread polls itself (ready.c) */
	struct asy_waiter *ready; /* their list, through next */
	unsigned ready_n, ready_fds; /* ops and fds on it */
	struct pollfd *ready_pfd; /* the poll array, mapped */
	struct asy_ro_ts ready_ts; /* its timeout (asy__ppoll_until) */
	size_t ready_cap;         /* its bytes */
	int64_t ready_look;       /* asy_now() of the last poll */
	int ready_failed;         /* poll refused the set: workers wait from now on */
	void *detach_keep;    /* detach.c: blocks kept for reuse */
	void *detach_trim;    /* detach.c: large blocks being given back */
	unsigned detach_kept;
	size_t detach_bytes;
	/* Coroutines parked in a wait another thread may end (asy__listen),
	 * and whether one was asked to look again (asy__nudge). */
	struct asy_listener *listeners;
	_Atomic int nudged;
	/* position.c: files with a call at the file position out on a backend */
	unsigned spans;
	struct { unsigned long dev, ino; int fd; } span[64];
};

struct asy_backend {
	const char *name;
	unsigned char via;
	/* Per-thread setup; 0 or -errno. */
	int (*thread_init)(struct asy_thread *t);
	void (*thread_fini)(struct asy_thread *t);
	/* In a forked child: drop what a thread inherited without touching
	 * the parent's kernel objects. */
	void (*thread_forget)(struct asy_thread *t);
	/* Start w->io; 0 when taken, -errno when this backend cannot. */
	int (*submit)(struct asy_thread *t, struct asy_waiter *w);
	/* Ask for w to end early; its completion still arrives (res may hold
	 * a result that came before the cancel won). */
	void (*cancel)(struct asy_thread *t, struct asy_waiter *w);
	/* Move finished completions into their waiters; never blocks. */
	void (*reap)(struct asy_thread *t);
	/* Submit what is queued and wait until a completion arrives for t or
	 * the deadline (asy_now() ns; -1 none, 0 do not block) passes.  `seq`
	 * is t->wake_seq as read before the caller last looked. */
	void (*wait)(struct asy_thread *t, int64_t deadline, unsigned seq);
	/* In a forked child: forget everything inherited, touch nothing;
	 * fork_cover (or NULL): t's memory the child lacks, for a handler's
	 * fork to return through (shim/signal.c). */
	void (*fork_child)(void);
	void (*fork_cover)(struct asy_thread *t);
	/* Submit what is queued, before a coroutine's close or dup2 (fs.c). */
	void (*flush)(struct asy_thread *t);
};

extern const struct asy_backend asy__backend_uring;
extern const struct asy_backend asy__backend_threads;
/* Start the pool's first worker if there is none (backend-threads.c). */
void asy__pool_prepare(void);
/* w's op made by the calling thread, as the program's own call would be:
 * where no worker can start (RLIMIT_NPROC); its result. */
long asy__run_here(struct asy_waiter *w);
/* Tell t that one of its calls finished, or that a listener should look
 * again: wake its scheduler if it sleeps (backend-threads.c).  t's refs
 * keep it mapped meanwhile. */
void asy__thread_wake(struct asy_thread *t);
/* Wake a worker for the calls this thread queued without one. */
void asy__pool_kick(struct asy_thread *t);
/* Every worker exits (a busy one after its call); returns when their
 * threads are gone, or after 1 s. */
void asy__pool_retire(void);

enum asy_backend_id { ASY_BE_URING, ASY_BE_THREADS, ASY_BE_OFF };

/* Configuration: read once at start-up, read-only afterwards. */
struct asy_config {
	int backend;          /* enum asy_backend_id */
	int backend_explicit; /* ASYNCIFY_BACKEND was set */
	unsigned queue_depth;
	unsigned workers;
	int sqpoll;
	size_t stack_size;
	int intr_signal;      /* ASYNCIFY_SIGNAL: interrupts a worker's waiting call; 0 none */
};
extern struct asy_config asy__cfg;

/* Engine counters, for tests and the summary.  Calls of plain threads are
 * not counted (they are the program's own calls; counting them would put
 * a shared cache line on every call). */
struct asy_counters {
	_Atomic unsigned long inline_done; /* a coroutine's call done without waiting */
	_Atomic unsigned long submitted;   /* handed to a backend */
	_Atomic unsigned long by_backend[2];
	_Atomic unsigned long interrupted; /* ended by a deadline or cancel */
	_Atomic unsigned long passed;      /* a coroutine's call passed to libc */
	_Atomic unsigned long fallbacks;   /* backend could not, ran elsewhere */
};
extern struct asy_counters asy__count;
#define ASY_COUNT(field) atomic_fetch_add_explicit(&asy__count.field, 1, memory_order_relaxed)

extern _Atomic int asy__ready;   /* hooks may call asy__io() */
extern pid_t asy__pid;          /* this process (updated in a forked child) */
extern _Atomic unsigned asy__fork_gen;

void asy__init(void);
void asy__config_read(void);
void asy__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void asy__shim_resolve(void);
long asy__io(struct asy_io *io);
/* Before close, close_range, dup2 or dup3 (the hook, whatever the
 * backend): the numbers the call closes that a wait holds (keep.c) or the
 * trace writes to (trace-out.c) are moved out of its way, so that the
 * call meets what it would meet without the shim.  The result's low bits
 * (ASY_TRACE_LOST): pass them to asy__trace_closed() once the call
 * returned.  ASY_CLOSE_AROUND: a copy a wait holds is in the call's way
 * and could not move, so asy__close_around() is the call instead of the
 * program's own.  errno preserved. */
#define ASY_TRACE_LOST 0xffu
#define ASY_CLOSE_AROUND 0x100u
unsigned asy__closing(const struct asy_io *io);
/* shim/pin.c: a coroutine's futex wait made through syscall(), parked
 * while its siblings run (0, -errno), and the wakes that end such waits
 * (counted while asy__futex_waiting); ASY_PASS: the program's own call. */
long asy__pin_futex(long uaddr, long op, long val, long tmo, long uaddr2, long val3);
extern _Atomic int asy__futex_waiting;
/* A close of a copy's number (EBADF: the program has no such number),
 * a dup2 onto an accept's taken number (EBUSY), or a close_range made
 * around the copies in it; 0 or -errno. */
long asy__close_around(struct asy_io *io);

/* > 0 while the thread is inside the engine's own code: a hooked call
 * from a signal handler then passes through to libc. */
extern __thread int asy__depth __attribute__((tls_model("initial-exec")));
/* > 0 while the thread runs a handler the program installed
 * (shim/signal.c): the handler's hooked calls are its own, as a plain
 * thread's are.  A jump out of handlers lowers it (asy__handlers_left). */
extern __thread int asy__in_handler __attribute__((tls_model("initial-exec")));
void asy__handlers_left(const char *to, const char *here);
/* The kernel's signal frame of the outermost handler a jump to `to`,
 * made at `here`, leaves — returning through it leaves them all — with
 * errno as that handler found it (*err) and as the code it interrupted
 * had it (*outer); or NULL (none, or not known on this architecture). */
const char *asy__handler_sigframe(const char *to, const char *here, int *err, int *outer);
void asy__handlers_wrap(void);
int asy__handlers_wrapped(void); /* the trampoline runs the handlers (shim/signal.c) */
void asy__children_settle(void);
/* fs.c's CHILD row (child.c), and the worker call it is made with. */
int asy__child_waits(const struct asy_io *io);
long asy__child_wait(struct asy_io *io);
long asy__fs_offload(struct asy_io *io, const long *a, int waits);
void asy__fs_reaped(struct asy_waiter *w); /* a left-behind call ended: its kept numbers go */
struct sigaction;
int asy__sigaction_real(int sig, const struct sigaction *act, struct sigaction *old);
extern __thread struct asy_thread *asy__tls_thread __attribute__((tls_model("initial-exec")));
#include "whose.h" /* which calls of this thread are the engine's */

/* An engine thread leaves glibc's count of the process's threads
 * (counted 0: called by its creator once pthread_create succeeded), or
 * comes back into it (1: called by the thread itself just before it
 * returns, since glibc takes it out again then). */
void asy__thread_counted(int counted);
/* The program's own threads by that count; -1 where it cannot be found. */
int asy__program_threads(void);
void asy__task_resolve(void);
/* Around unshare, setns and their raw syscall(): a call the kernel refuses
 * to a process of more than one thread is made with the shim's own threads
 * away (shim/task.c); begin's result goes to end, which keeps errno. */
int asy__alone_begin(long n, long a, long b);
void asy__alone_end(int began);
/* The library's own mutexes: libc's lock and unlock, never the wrappers
 * that make coroutines of one thread wait for each other (shim/pin.c). */
int asy__mutex_lock(pthread_mutex_t *m);
int asy__mutex_unlock(pthread_mutex_t *m);
/* The library's own joins: libc's, never shim/sync.c's. */
int asy__join(pthread_t th, void **ret);

/* runtime/engine/engine.c: this thread's engine state (NULL: pass to libc). */
struct asy_thread *asy__thread(void);
const struct asy_backend *asy__backend(void);
void asy__backend_failed(const struct asy_backend *be, int err);

/* runtime/engine/opdef.c: run w's op on a backend and wait for it; the result,
 * -ETIMEDOUT / -ECANCELED when the coroutine's deadline or a cancel ended
 * the wait (the op is cancelled and reaped first), or -ETIME when the
 * `deadline` given here (a socket timeout) passed first. */
long asy__op(struct asy_thread *t, struct asy_waiter *w, int64_t deadline);
/* asy__op in two halves, for a caller that learns the deadline only once
 * it knows the op has to wait.  start: 0 when the op was taken (an op
 * whose row says `now` is submitted at once, and w->done is set when the
 * kernel finished it there: it is then traced as `inline`), or -errno;
 * -EOPNOTSUPP for a ring-only op on a thread without a ring.  finish:
 * asy__op's result (at once when w is done). */
int asy__op_start(struct asy_thread *t, struct asy_waiter *w, int64_t deadline);
long asy__op_finish(struct asy_thread *t, struct asy_waiter *w, int64_t deadline);

/* runtime/engine/detach.c: ops a deadline can leave behind.  wanted: this
 * op should be detachable (an fsync; a read or write under an I/O
 * deadline).  new: a waiter in a block of the engine's own for io, the
 * bytes of a write copied in; NULL when that cannot be (the caller's own
 * waiter then waits to the end).  end: after asy__op, the result, a read's
 * bytes copied to the program's `user` vector, the block freed unless the
 * op was abandoned (its completion frees it). */
int asy__detach_wanted(const struct asy_io *io);
struct asy_waiter *asy__detach_new(struct asy_thread *t, const struct asy_io *io);
/* A block with `bytes` of room for an ASY_OP_CALL's own data (*mem). */
struct asy_waiter *asy__detach_call(struct asy_thread *t, const struct asy_io *io, size_t bytes,
				    void **mem);
long asy__detach_end(struct asy_thread *t, struct asy_waiter *w, long res,
		     const struct iovec *user, int cnt);
void asy__detach_free(struct asy_thread *t, struct asy_waiter *w);
/* An abandoned op's completion came: undo what nobody will (an open's fd)
 * and free its block. */
void asy__detach_reap(struct asy_thread *t, struct asy_waiter *w);
void asy__detach_drop_kept(struct asy_thread *t);
/* Give back one step of a large freed block (a scheduler pass with
 * nothing to run calls it too). */
void asy__detach_trim(struct asy_thread *t);

/* One function per family of calls (ASY_CALLS), for a coroutine's call;
 * ASY_PASS: libc answers. */
long asy__rw(struct asy_io *io);     /* rw.c */
long asy__net(struct asy_io *io);    /* net.c */
long asy__poll(struct asy_io *io);   /* poll.c */
long asy__sleep(struct asy_io *io);  /* sleep.c */
long asy__fs(struct asy_io *io);     /* fs.c */
/* The socket calls' own parts: net.h. */

/* Where a write that moved `done` bytes ends in its file (position.c):
 * an append (O_APPEND, or RWF_APPEND without RWF_NOAPPEND) at the
 * file's end whatever offset it named, else at its offset plus done, or
 * at the file position; -1 when unknown.  What RLIMIT_FSIZE is held
 * against. */
long asy__write_end(const struct asy_io *io, long done);
/* runtime/engine/position.c: a coroutine's call at the file position
 * waits while another coroutine of the thread has one out on the same open
 * file (asy__pos_wait: 0 or -errno), and holds a slot while its own op is
 * out (asy__pos_begin: the slot, -1 when the call is not at the position,
 * -2 + (-errno) when its wait for a slot ended; asy__pos_end frees it). */
long asy__pos_wait(const struct asy_io *io);
int asy__pos_begin(struct asy_thread *t, const struct asy_io *io, const struct stat *id);
void asy__pos_end(struct asy_thread *t, int slot);

/* runtime/engine/keep.c: the file a wait by fd number goes on with when
 * another thread closes the number (a copy made by the close). */
struct asy_keep {
	int fd;
	_Atomic int held;  /* the copy, or -1 */
	const struct stat *id; /* the file waited for, if known (asy__wait_ready) */
	unsigned char on;  /* on the list (zero-initialise before use) */
	unsigned char taken; /* held is a number a waiting accept took */
	struct asy_keep *next, *prev;
};
extern _Atomic int asy__keeps; /* waits on the list; the shim's fast path reads it */
void asy__keep_begin(struct asy_keep *k, int fd); /* once it waits */
void asy__keep_now(struct asy_keep *k, int fd);   /* a worker's wait: a copy at once */
void asy__keep_end(struct asy_keep *k);           /* at the call's end: closes the copy */
int asy__keep_fd(struct asy_keep *k, int fd);     /* the copy once there is one, else fd */
/* After a wait on fd, whose file was id: fd while it still holds that
 * file, else the copy its close left, else -1 (closed: EBADF). */
int asy__keep_after(struct asy_keep *k, int fd, const struct stat *id);
/* The number a POLL op polls now: its kept number's copy once there is
 * one, else its fd (read at every look, so that a wait by number never
 * goes on with the file a close or dup2 put there). */
int asy__poll_fd(const struct asy_io *io);
/* Before a close, close_range, dup2 or dup3 (call) of lo..hi: copies of
 * the waits' numbers in lo..hi, and the copies in lo..hi moved out of
 * it where there is room.  Nonzero: a copy stays in lo..hi and the call
 * is asy__keep_close()'s (close, close_range only). */
int asy__keep_closing(unsigned lo, unsigned hi, int call);
/* The program's close of a copy's number (-EBADF), dup2 or dup3 onto a
 * number an accept took (-EBUSY), or close_range of lo..hi closing all
 * but the copies (0); or the error the kernel's call gives first. */
long asy__keep_close(const struct asy_io *io, unsigned lo, unsigned hi);
/* A waiting accept's number, taken when it starts as the kernel's is
 * (net-conn.c): on the list as a copy, until asy__keep_end closes it or
 * asy__keep_given gives it to the program. */
void asy__keep_take(struct asy_keep *k, int n);
void asy__keep_given(struct asy_keep *k);
/* A copy of fd (F_DUPFD_CLOEXEC) among the top numbers of the fd table,
 * none of lo..hi (lo > hi: any); -1 when there is no room. */
int asy__copy_high(int fd, unsigned lo, unsigned hi);
/* fork: the child closes the list's copies and taken numbers. */
void asy__keep_fork_prepare(void);
void asy__keep_fork_parent(void);
void asy__keep_fork_child(int prepared);
/* In a child of a fork that ran no pthread_atfork handler (engine.c). */
void asy__fork_own(void);
void asy__fork_in_handler(void);              /* a handler's fork: the child's way out */
int asy__forked_in_wait(const struct asy_thread *t); /* wait.c */

/* runtime/engine/arena.c: memory a coroutine's call needs, from a region
 * reserved before main() (never a range the program just unmapped);
 * MAP_FAILED as mmap when there is none. */
void asy__arena_init(void);
void *asy__map(size_t len);
void asy__unmap(void *p, size_t len);
int asy__in_arena(const void *p); /* a caller may map over its pages (MAP_FIXED) */
void asy__arena_fork_child(void);

/* runtime/engine/iov.c: vectors. */
/* The most one read() or write() moves (the kernel's MAX_RW_COUNT). */
#define MAX_RW_COUNT (INT_MAX & ~4095L)
#define ASY_REST_SMALL 8
/* What is left of a vector after `done` bytes: small ones on the stack,
 * others in a mapping of their own (asy__rest_free). */
struct asy_rest {
	struct iovec *v;
	int cnt;
	struct iovec small[ASY_REST_SMALL];
	size_t mapped;
};
/* What one call of this vector moves at most (the kernel stops a call
 * at MAX_RW_COUNT bytes). */
size_t asy__iov_total(const struct iovec *iov, int cnt);
/* The total of a call's vector the kernel has not seen yet (read
 * safely); below 0 when the kernel could refuse the vector. */
long asy__vec_total_safe(const struct asy_io *io);
int asy__rest_of(struct asy_rest *r, const struct iovec *iov, int cnt, size_t done);
void asy__rest_free(struct asy_rest *r);

/* runtime/engine/cold.c: reads of files whose try missed the page cache,
 * by fd number (the file's ino there; 0: not known to be cold).
 * skip: the fd is known cold, [its offset, + total) is not all cached and
 * fstat (into *id) finds the same file: its kind (the try is skipped),
 * else -1 (try as usual). */
#define ASY_COLD_FDS 1024
extern _Atomic unsigned long asy__cold_ino[ASY_COLD_FDS];
static inline int asy__cold_known(int fd)
{
	return fd >= 0 && fd < ASY_COLD_FDS &&
	       atomic_load_explicit(&asy__cold_ino[fd], memory_order_relaxed);
}
int asy__cold_skip(const struct asy_io *io, long total, struct stat *id);
void asy__cold_learn(int fd, const struct stat *st);
void asy__cold_forget(int fd);

/* runtime/engine/fdkind.c, for the other families of a stream: */
/* SO_RCVTIMEO (reading) or SO_SNDTIMEO as a deadline from `start`; -1 none. */
int64_t asy__sock_deadline(int fd, int reading, int64_t start);
/* The end of a socket timeout of sec s + usec µs read back from the
 * kernel, from `start`: -1 for none ({0, 0}, or too far to count). */
int64_t asy__timeo_end(int64_t start, int64_t sec, int64_t usec);
/* *ts, a timeout the program gave at `start`, becomes what is left of it
 * now (0 once it passed), as the kernel writes it back (sleep.c). */
void asy__time_left(struct timespec *ts, int64_t start);
/* fd still names the file *was describes (a wait may have let another
 * thread close the number and open something else there). */
int asy__same_file(int fd, const struct stat *was);
/* Wait until fd is ready for `events` (a POLL op, opdef.c): its revents,
 * -ETIME when `deadline` passed, or the coroutine's -ETIMEDOUT/-ECANCELED.
 * With keep (on its list), it waits on the copy a close or dup2 of the
 * number leaves, from the moment it is made. */
long asy__wait_ready(struct asy_io *io, int fd, short events, int64_t deadline,
		     struct asy_keep *keep);
/* fn(arg, fd), a call of the program on fd that may wait for another of
 * its calls, on a worker of its own (ASY_F_WAITS), which takes fd's file
 * now as the kernel's call does (asy__keep_now); ASY_PASS: no engine
 * memory. */
long asy__call_waits(struct asy_io *io, int fd, long (*fn)(void *, int), void *arg);
/* 1 when fd's file is O_NONBLOCK (or cannot be asked: the call answers). */
int asy__nonblocking(int fd);

/* Copy n bytes from, or to, where the program pointed, without trusting
 * the pointer (as the kernel's get_user/put_user): 0, or -EFAULT
 * (iov.c). */
int asy__copy_in(void *dst, const void *src, size_t n);
int asy__copy_out(void *dst, const void *src, size_t n);
long asy__vm_write(const struct iovec *l, unsigned nl, const struct iovec *r, unsigned nr);
/* Park the calling coroutine (asy__coro_park, cancellable) with the
 * engine open to the other coroutines meanwhile. */
int asy__park(int64_t deadline);

/* Time a coroutine's calls answered in its own thread took (measured
 * where it may be long): engine.c yields once it passes 1 ms. */
extern __thread int64_t asy__inline_ns __attribute__((tls_model("initial-exec")));

/* A coroutine's call the non-blocking try answered: counted, `inline`. */
#define asy__inline(io, r) ((io)->via = ASY_VIA_INLINE, ASY_COUNT(inline_done), (r))

/* Raise sig in the calling thread exactly as the kernel's send_sig()
 * does for the calling task (SI_USER, our pid and uid). */
void asy__raise_as_kernel(int sig);
int asy__take_sig(int sig); /* on a worker: its call raised sig (fs.c) */

#include "wait.h" /* the waits: wait.c, ready.c, slots */

#endif
