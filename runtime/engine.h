/* The engine's internal interface: what the shim calls, what every backend
 * provides, and the per-thread state they share.  Internals return >= 0 or
 * -errno; the hook turns that into -1/errno once, at the edge. */
#ifndef ASY_ENGINE_H
#define ASY_ENGINE_H

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define ASY_HIDDEN __attribute__((visibility("hidden")))
#define ASY_EXPORT __attribute__((visibility("default")))
#define ASY_TLS    __thread __attribute__((tls_model("initial-exec")))

/* Returned by asy__io() when the hook should call the real function. */
#define ASY_PASS LONG_MIN

enum asy_op { ASY_OP_READ, ASY_OP_WRITE, ASY_OP_FSYNC, ASY_OP_FDATASYNC };

/* Which libc entry point a call came through (for tracing and counters). */
#define ASY_CALLS(X) X(read) X(write) X(pread) X(pwrite) X(readv) X(writev) \
	X(preadv) X(pwritev) X(preadv2) X(pwritev2) X(fsync) X(fdatasync)
enum asy_call {
#define X(n) ASY_CALL_##n,
	ASY_CALLS(X)
#undef X
	ASY_CALL_COUNT
};

#define ASY_F_EXPLICIT 1 /* the call names an offset (pread family) */

/* One call, as the engine sees it.  `iov` points at the caller's array or
 * at `one`; `off` is -1 for "the file position". */
enum asy_via { ASY_VIA_LIBC, ASY_VIA_INLINE, ASY_VIA_URING, ASY_VIA_THREADS };

struct asy_io {
	unsigned char op, call, flags;
	unsigned char via; /* enum asy_via: which path answered (set by the engine) */
	int fd;
	int iovcnt;
	int rwflags;
	off_t off;
	const struct iovec *iov;
	struct iovec one;
};

#define ASY_IO_BUF(c, o, fd_, buf, n, off_, fl) \
	{ .op = (o), .call = (c), .flags = (fl), .fd = (fd_), .iovcnt = 1, \
	  .off = (off_), .one = { (void *)(buf), (n) } }
#define ASY_IO_VEC(c, o, fd_, iov_, cnt, off_, rwf, fl) \
	{ .op = (o), .call = (c), .flags = (fl), .fd = (fd_), .iovcnt = (cnt), \
	  .off = (off_), .rwflags = (rwf), .iov = (iov_) }
#define ASY_IO_SYNC(c, o, fd_) { .op = (o), .call = (c), .fd = (fd_) }

/* What kind of file an fd is, as far as blocking goes. */
/* A call handed to a backend.  The backend fills `res` and then sets
 * `done` (release); the waiter's thread is woken through its eventfd. */
struct asy_waiter {
	struct asy_io io;
	struct asy_thread *thread;
	long res;
	_Atomic int done;
	_Atomic int cancel;
	unsigned char kind;    /* 1: a stream (pipe, socket, tty, eventfd, …) */
	unsigned fmt;          /* st_mode & S_IFMT of the fd */
	unsigned char sigpipe; /* the op raised SIGPIPE somewhere else: replay */
	void *coro;            /* the coroutine parked on this call, if any */
	void *be_priv;         /* the backend's own (threads: the worker) */
	struct asy_waiter *next;
	struct asy_waiter *pnext, *pprev; /* the thread's parked coroutine waiters */
};

/* Mark w finished with result res; after this returns w may be gone.
 * Safe from any thread. */
void asy__complete(struct asy_waiter *w, long res);

/* Per-thread engine state, created on a thread's first call that needs a
 * backend; mmap'd, so creating it never calls malloc. */
struct asy_thread {
	pid_t tid;
	_Atomic int refs; /* workers still to signal wake_wr (threads backend) */
	unsigned gen;  /* asy__fork_gen when created: stale in a forked child */
	int efd;       /* completions are announced here: an eventfd (uring) or
			* the read end of a pipe (threads); -1 while none */
	int wake_wr;   /* threads: the pipe's write end, else -1 */
	/* The program may close our fds (close_range) and reuse the numbers.
	 * id_fd (the ring, or the pipe) has an inode of its own: it is checked
	 * before each blocking wait, and once it is not ours the thread is
	 * `lost`: its fds are never read, written or closed again. */
	int id_fd;
	dev_t id_dev;
	ino_t id_ino;
	int lost;
	const struct asy_backend *be;
	void *be_data; /* the backend's per-thread state (a ring) */
	struct asy_waiter *parked; /* coroutine waiters, owned by this thread */
	/* Coroutines on the threads backend: workers bump wake_seq after a
	 * completion and wake the scheduler with a futex when it sleeps. */
	_Atomic unsigned wake_seq;
	_Atomic int sleeping;
};

struct asy_backend {
	const char *name;
	/* Per-thread setup; 0 or -errno (the engine then falls back). */
	int (*thread_init)(struct asy_thread *t);
	void (*thread_fini)(struct asy_thread *t);
	/* In a forked child: drop what a thread inherited (close our fds)
	 * without touching the parent's kernel objects or unmapping. */
	void (*thread_forget)(struct asy_thread *t);
	/* Start w->io; 0 when taken, -errno when this backend cannot. */
	int (*submit)(struct asy_thread *t, struct asy_waiter *w);
	/* Optional: run a file call (w->kind 0) on the calling thread, as
	 * the backend would, and return its result.  Used for a coroutine
	 * that is the only one that could run until the call ends. */
	long (*run_here)(struct asy_waiter *w);
	/* Ask for w to end early; its completion still arrives (res may hold
	 * data that moved before the cancel won). */
	void (*cancel)(struct asy_thread *t, struct asy_waiter *w);
	/* Move finished completions into their waiters; never blocks. */
	void (*reap)(struct asy_thread *t);
	/* Coroutines: submit what is queued and wait until a completion
	 * arrives for t or the deadline (asy_now() ns; -1 none) passes.
	 * `seq` is t->wake_seq as read before the caller last looked for
	 * finished calls. */
	void (*wait)(struct asy_thread *t, int64_t deadline, unsigned seq);
	/* In a forked child: forget everything inherited, touch nothing. */
	void (*fork_child)(void);
};

extern const struct asy_backend asy__backend_uring;
extern const struct asy_backend asy__backend_threads;

enum asy_backend_id { ASY_BE_URING, ASY_BE_THREADS, ASY_BE_OFF };

/* Configuration: read once at start-up, read-only afterwards. */
struct asy_config {
	int backend;          /* enum asy_backend_id */
	int backend_explicit; /* ASYNCIFY_BACKEND was set */
	unsigned queue_depth;
	unsigned workers;
	int sqpoll;
	size_t stack_size;
};
extern struct asy_config asy__cfg;

/* Engine counters, for tests and the summary. */
struct asy_counters {
	_Atomic unsigned long inline_done; /* completed by the non-blocking try */
	_Atomic unsigned long submitted;   /* handed to a backend */
	_Atomic unsigned long by_backend[2];
	_Atomic unsigned long interrupted; /* ended by a signal (EINTR or short) */
	_Atomic unsigned long passed;      /* passed through to libc */
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

/* This thread's engine state (NULL before its first blocking call), and
 * > 0 while it is inside the engine's slow path: a hooked call from a
 * signal handler then passes through to libc. */
extern __thread struct asy_thread *asy__tls_thread __attribute__((tls_model("initial-exec")));
extern __thread int asy__depth __attribute__((tls_model("initial-exec")));

/* How a wait may be interrupted. */
enum asy_wait {
	ASY_WAIT_FILE, /* regular files: signals do not interrupt the kernel either */
	ASY_WAIT_READ, /* nothing moved yet: EINTR or SA_RESTART exactly as read() */
	ASY_WAIT_ANY,  /* bytes already moved: any handled signal ends the call */
};

/* runtime/wait.c: wait for w's completion; its result, or -EINTR when a
 * signal handler ended the wait before anything moved (-ECANCELED or
 * -ETIMEDOUT inside a coroutine). */
long asy__wait(struct asy_thread *t, struct asy_waiter *w, enum asy_wait how);
int asy__fd_is(int fd, dev_t dev, ino_t ino);
/* The thread's fds are still ours (checked before each blocking call). */
int asy__fds_ours(struct asy_thread *t);
const struct asy_backend *asy__backend(void);
void asy__backend_failed(const struct asy_backend *be, int err);

/* Real libc functions the engine itself needs (resolved once). */
struct asy_libc {
	ssize_t (*read)(int, void *, size_t);
	int (*poll)(void *, unsigned long, int);
};
extern struct asy_libc asy__libc;

#endif
