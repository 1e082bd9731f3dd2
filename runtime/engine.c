/* The engine: one call from the hook down to a backend and back.
 *
 *   hook -> asy__io(): the non-blocking try (preadv2/pwritev2 RWF_NOWAIT,
 *           what io_uring itself tries first) answers every call that
 *           cannot block;
 *        -> slow(): what kind of file, O_NONBLOCK, then one backend op per
 *           transfer, the caller parked until the completion arrives
 *           (runtime/wait.c);
 *        -> the result, >= 0 or -errno, goes back to the hook.
 *
 * Backends behave like io_uring: a write to a pipe or socket may come back
 * short and is continued here, as write() would; a wait interrupted by a
 * signal handler cancels the op and returns what moved, or EINTR. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"
#include "trace.h"
#include "coro.h"

_Atomic int asy__ready;
pid_t asy__pid;
_Atomic unsigned asy__fork_gen;
struct asy_counters asy__count;
struct asy_libc asy__libc;

/* The backend every new thread starts on; moves from uring to threads
 * when io_uring turns out to be unavailable. */
static const struct asy_backend *_Atomic current;
static pthread_key_t thread_key;
static int fd_base; /* the engine's own fds go at or above this number */

/* Under uring a file call at the file position is lseek + a read at that
 * offset + lseek (run_backend_at_pos), which the kernel's f_pos lock does
 * not make one step: two threads reading one fd would get the same records
 * (io_uring's own offset -1 has the same gap, NOTES §3).  So every call
 * that uses the file position holds one of these, chosen by fd number, for
 * as long as it runs — the non-blocking try included; the threads backend
 * needs none (its workers make the kernel's own calls). */
#define POS_LOCKS 256
static pthread_mutex_t pos_locks[POS_LOCKS] = {
	[0 ... POS_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER
};

ASY_TLS struct asy_thread *asy__tls_thread;
ASY_TLS int asy__depth;

const struct asy_backend *asy__backend(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
}

/* io_uring could not be used (setup refused, or refused at first submit):
 * move the process to the worker pool.  Silent unless uring was asked for. */
void asy__backend_failed(const struct asy_backend *be, int err)
{
	const struct asy_backend *want = be;
	if (be != &asy__backend_uring)
		return;
	if (!atomic_compare_exchange_strong(&current, &want, &asy__backend_threads))
		return;
	if (asy__cfg.backend_explicit)
		asy__warn("io_uring is not available (%s); using the threads backend",
			  strerror(err));
}

/* Move an fd of ours above the program's usual range, so that programs
 * which expect open() to return the lowest free number still get it. */
static int fd_move_high(int fd)
{
	if (fd < 0 || fd >= fd_base)
		return fd;
	long nfd = asy_sys_fcntl(fd, F_DUPFD_CLOEXEC, fd_base);
	if (nfd < 0)
		return fd;
	asy_sys_close(fd);
	return (int)nfd;
}

ASY_HIDDEN int asy__fd_own(int fd)
{
	return fd_move_high(fd);
}

/* Is fd (still) the file with this device and inode? */
ASY_HIDDEN int asy__fd_is(int fd, dev_t dev, ino_t ino)
{
	struct stat st;
	return fd >= 0 && asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) == 0 && st.st_dev == dev &&
	       st.st_ino == ino;
}

static void thread_free(struct asy_thread *t, int forget)
{
	if (t->be && !forget)
		t->be->thread_fini(t);
	else if (t->be && forget)
		t->be->thread_forget(t);
	munmap(t, sizeof *t);
}

static void thread_drop(struct asy_thread *t)
{
	asy__tls_thread = NULL;
	pthread_setspecific(thread_key, NULL);
	thread_free(t, 0);
}

static void thread_key_dtor(void *p)
{
	struct asy_thread *t = p;
	if (t && t->gen == atomic_load(&asy__fork_gen) && t == asy__tls_thread) {
		asy__tls_thread = NULL;
		thread_free(t, 0);
	}
}

/* Set t up on the current backend, falling back from uring to threads;
 * 0, or -errno when no backend can run here. */
static int thread_attach(struct asy_thread *t)
{
	for (;;) {
		const struct asy_backend *be = asy__backend();
		t->be_data = NULL;
		t->efd = t->wake_wr = t->id_fd = -1;
		t->lost = 0;
		int r = be->thread_init(t);
		if (r == 0) {
			struct stat st;
			t->be = be;
			if (asy_sys(SYS_fstat, t->id_fd, &st, 0, 0, 0, 0) == 0) {
				t->id_dev = st.st_dev;
				t->id_ino = st.st_ino;
			}
			return 0;
		}
		if (be != &asy__backend_uring)
			return r;
		asy__backend_failed(be, -r);
	}
}

static struct asy_thread *thread_new(void)
{
	struct asy_thread *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	memset(t, 0, sizeof *t);
	t->tid = (pid_t)asy_sys_gettid();
	t->gen = atomic_load(&asy__fork_gen);
	if (thread_attach(t) < 0) {
		t->be = NULL;
		thread_free(t, 0);
		return NULL;
	}
	pthread_setspecific(thread_key, t);
	return t;
}

/* This thread's engine state, created on first use; NULL when the call
 * must pass through (vfork child, no backend could start). */
static struct asy_thread *thread_get(void)
{
	struct asy_thread *t = asy__tls_thread;
	if (t) {
		if (t->gen != atomic_load(&asy__fork_gen)) {
			/* Inherited through fork: the ring belongs to the parent. */
			thread_free(t, 1);
			t = asy__tls_thread = NULL;
		} else if (!asy__coro_self() && t->tid != (pid_t)asy_sys_gettid()) {
			/* A vfork child sees its parent's TLS.  (Inside asy_run()
			 * the check is skipped: a vfork child of a coroutine that
			 * calls read() before exec is not supported.) */
			return NULL;
		} else if (t->be != asy__backend()) {
			t->be->thread_fini(t);
			t->be = NULL;
			if (thread_attach(t) < 0)
				return NULL;
		}
	}
	if (!t)
		t = asy__tls_thread = thread_new();
	return t;
}

/* ---- one transfer through a backend ----------------------------------- */

#define IOV_CHUNK 64

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Describe in w->io what is left of io after `done` bytes, using `buf` for
 * the shortened vector.  Returns the number of bytes it asks for. */
static size_t io_rest(const struct asy_io *io, size_t done, struct asy_waiter *w,
		      struct iovec *buf)
{
	const struct iovec *v = io->iov;
	int cnt = io->iovcnt, n = 0;
	size_t want = 0;
	while (cnt > 0 && done >= v->iov_len) {
		done -= v->iov_len;
		v++, cnt--;
	}
	for (; cnt > 0 && n < IOV_CHUNK; v++, cnt--, n++) {
		buf[n].iov_base = (char *)v->iov_base + done;
		buf[n].iov_len = v->iov_len - done;
		want += buf[n].iov_len;
		done = 0;
	}
	w->io = *io;
	w->io.iov = buf;
	w->io.iovcnt = n;
	return want;
}

/* SIGPIPE exactly as the kernel sends it for write(): thread-directed,
 * SI_USER from our own pid (NOTES §2). */
static void sigpipe_replay(void)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGPIPE;
	si.si_code = SI_USER;
	si.si_pid = (pid_t)asy_sys_getpid();
	si.si_uid = getuid();
	asy_sys(SYS_rt_tgsigqueueinfo, si.si_pid, asy_sys_gettid(), SIGPIPE, &si, 0, 0);
}

/* w is the backend's now: count it and say who answers it. */
static void count_backend(const struct asy_thread *t, struct asy_waiter *w)
{
	int threads = t->be == &asy__backend_threads;
	ASY_COUNT(submitted);
	atomic_fetch_add_explicit(&asy__count.by_backend[threads], 1, memory_order_relaxed);
	w->io.via = threads ? ASY_VIA_THREADS : ASY_VIA_URING;
}

/* Submit w and wait for it; a backend that cannot take it hands the
 * thread over to the fallback backend and the call is submitted there. */
static long run_one(struct asy_thread *t, struct asy_waiter *w, enum asy_wait how)
{
	int r;
	atomic_store_explicit(&w->done, 0, memory_order_relaxed);
	atomic_store_explicit(&w->cancel, 0, memory_order_relaxed);
	w->res = 0;
	w->sigpipe = 0;
	w->coro = asy__coro_self();
	if (w->coro && !w->kind && t->be->run_here && asy__coro_alone()) {
		/* A handoff to a worker would only add two wake-ups: the
		 * thread has nothing else to do meanwhile. */
		count_backend(t, w);
		return t->be->run_here(w);
	}
	while ((r = t->be->submit(t, w)) < 0) {
		ASY_COUNT(fallbacks);
		asy__backend_failed(t->be, -r);
		if (t->be == asy__backend() || !thread_get())
			return ASY_PASS;
	}
	count_backend(t, w);
	long res = asy__wait(t, w, how);
	if (w->sigpipe)
		sigpipe_replay();
	return res;
}

/* Pipes, sockets, ttys, eventfds and the like can wait forever and are
 * interrupted by signals; regular files, block devices and directories
 * cannot.  (Anonymous inodes such as eventfd have no S_IFMT bits.) */
static int is_stream(mode_t m)
{
	return !(S_ISREG(m) || S_ISBLK(m) || S_ISDIR(m));
}

/* The rest of io, from `done` bytes on, through the backend: one transfer
 * for reads, everything for writes to blocking pipes and sockets. */
static long run_backend(struct asy_thread *t, struct asy_io *io, long done, mode_t mode)
{
	struct iovec buf[IOV_CHUNK];
	struct asy_waiter w = { .thread = t, .kind = is_stream(mode) };
	w.fmt = mode & S_IFMT;
	if (io->op >= ASY_OP_FSYNC) {
		w.io = *io;
		long r = run_one(t, &w, ASY_WAIT_FILE);
		io->via = w.io.via;
		return r;
	}
	size_t total = iov_total(io->iov, io->iovcnt);
	for (;;) {
		size_t want = io_rest(io, (size_t)done, &w, buf);
		if (io->off >= 0)
			w.io.off = io->off + done;
		enum asy_wait how = !w.kind ? ASY_WAIT_FILE : done ? ASY_WAIT_ANY : ASY_WAIT_READ;
		long r = run_one(t, &w, how);
		io->via = w.io.via;
		if (r == ASY_PASS)
			return done ? done : ASY_PASS;
		if (r < 0)
			return done ? done : r;
		done += r;
		if ((size_t)done == total || r == 0)
			return done;
		/* A stream read is one transfer.  A short file transfer means
		 * EOF (or a full disk); a stream write goes on, as write(). */
		if (io->op == ASY_OP_READ ? (w.kind || (size_t)r < want) :
					    (!w.kind && (size_t)r < want))
			return done;
	}
}

/* io_uring at the file position (offset -1) lost the position update of
 * O_DIRECT reads completed by the device (6.18: read 8192 bytes, f_pos
 * stayed 0), and takes no f_pos lock (NOTES §3).  So under uring a file
 * call at the file position runs at an explicit offset read with lseek,
 * and moves the position itself afterwards — all under pos_lock().
 * O_APPEND writes keep offset -1: the kernel picks their offset. */
static long run_backend_at_pos(struct asy_thread *t, struct asy_io *io, long done, mode_t mode)
{
	if (io->off >= 0 || is_stream(mode) || io->op >= ASY_OP_FSYNC ||
	    t->be != &asy__backend_uring)
		return run_backend(t, io, done, mode);
	if (io->op == ASY_OP_WRITE && (asy_sys_fcntl(io->fd, F_GETFL, 0) & O_APPEND))
		return run_backend(t, io, done, mode);
	long pos = asy_sys(SYS_lseek, io->fd, 0, SEEK_CUR, 0, 0, 0);
	if (pos < done)
		return run_backend(t, io, done, mode);
	struct asy_io x = *io;
	x.off = pos - done; /* the `done` bytes already moved end at pos */
	long r = run_backend(t, &x, done, mode);
	io->via = x.via;
	if (r > done && r != ASY_PASS)
		asy_sys(SYS_lseek, io->fd, x.off + r, SEEK_SET, 0, 0, 0);
	return r;
}

static mode_t fd_mode(int fd)
{
	struct stat st;
	if (asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) < 0)
		return 0;
	return st.st_mode;
}

static mode_t fd_mode(int fd);

/* Buffered writes to regular files.  They land in the page cache, like a
 * cached read, but filesystems such as ext4 cannot try them without
 * blocking (RWF_NOWAIT gives EOPNOTSUPP), so io_uring punts each one to a
 * kernel worker and the threads backend to one of ours: 9-14x the cost of
 * the write itself (NOTES §5).  Outside coroutines they are written here,
 * in the calling thread, as libc would; inside a coroutine they go to the
 * backend so that the coroutine yields.  plain_write[fd] remembers an fd
 * found to be such a file.  A stale entry (the number closed and reused
 * behind our back) only makes a write run as plain libc would run it. */
#define PLAIN_FDS 1024
static _Atomic unsigned char plain_write[PLAIN_FDS];

static int buffered(const struct asy_io *io)
{
	return !(io->rwflags & (RWF_DSYNC | RWF_SYNC)) && !asy__coro_self();
}

static int plain_known(const struct asy_io *io)
{
	return io->op == ASY_OP_WRITE && io->fd >= 0 && io->fd < PLAIN_FDS &&
	       atomic_load_explicit(&plain_write[io->fd], memory_order_relaxed) && buffered(io);
}

/* Is this a buffered write to a regular file (mode known: S_IFREG)? */
static int plain_check(const struct asy_io *io)
{
	if (io->op != ASY_OP_WRITE || !buffered(io))
		return 0;
	long fl = asy_sys_fcntl(io->fd, F_GETFL, 0);
	if (fl < 0 || (fl & (O_DIRECT | O_DSYNC)))
		return 0;
	if (io->fd >= 0 && io->fd < PLAIN_FDS)
		atomic_store_explicit(&plain_write[io->fd], 1, memory_order_relaxed);
	return 1;
}

static long plain_do(struct asy_io *io)
{
	io->via = ASY_VIA_INLINE;
	ASY_COUNT(inline_done);
	return asy_sys_pwritev2(io->fd, io->iov, io->iovcnt, io->off, io->rwflags);
}

/* O_DIRECT.  RWF_NOWAIT does not stop a direct read or write from waiting
 * for the device: the "non-blocking try" does the whole I/O in the calling
 * thread (measured: 45 us per 4 KiB read on ext4).  A try that took long
 * is looked at once (F_GETFL); an fd found to be O_DIRECT is remembered in
 * direct_fd[] and its calls skip the try.  The number may have been closed
 * and reused since, for a pipe or a tty, and the program's next call on it
 * must then get what the kernel gives it (ESPIPE for pread, EINTR, ...).
 * So an entry is checked on every call:
 *  - DIRECT_PROBE: a read at an explicit offset goes to the backend with
 *    RWF_DONTCACHE, which only regular files and block devices of a file
 *    system that supports it take: anything else fails with EOPNOTSUPP
 *    before a byte moves (6.18: pipes, sockets, ttys, character devices,
 *    tmpfs), and on a direct read it changes nothing.  No fstat, which is
 *    ≈ 10% of the IOPS of 8 coroutines reading at random (bench-iops);
 *  - DIRECT_STAT: other calls, and fds where the probe failed: fstat.
 * A stale entry found either way is forgotten; one that names another
 * regular file only sends that file's calls to the backend. */
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif
enum { DIRECT_NO, DIRECT_PROBE, DIRECT_STAT };
static _Atomic unsigned char direct_fd[PLAIN_FDS];
#define SLOW_TRY_CYCLES 50000 /* ~20 us */

static inline uint64_t cycles(void)
{
#if defined(__x86_64__)
	return __builtin_ia32_rdtsc();
#else
	uint64_t v;
	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
	return v << 6; /* a 1-100 MHz counter: scale to about cycles */
#endif
}

/* A try that took long was most likely a direct read; but a cached one
 * is slow now and then too (preempted, or the VM stopped it), and the
 * look costs a system call.  An fd found not to be O_DIRECT is looked at
 * again only after DIRECT_RELOOK more slow tries (its number may be
 * reused for an O_DIRECT file meanwhile). */
#define DIRECT_RELOOK 64
static _Atomic unsigned char direct_not[PLAIN_FDS];

static void direct_learn(const struct asy_io *io)
{
	if (io->fd < 0 || io->fd >= PLAIN_FDS)
		return;
	unsigned char skip = atomic_load_explicit(&direct_not[io->fd], memory_order_relaxed);
	if (skip) {
		atomic_store_explicit(&direct_not[io->fd], skip - 1, memory_order_relaxed);
		return;
	}
	long fl = asy_sys_fcntl(io->fd, F_GETFL, 0);
	if (fl >= 0 && (fl & O_DIRECT))
		atomic_store_explicit(&direct_fd[io->fd], DIRECT_PROBE, memory_order_relaxed);
	else
		atomic_store_explicit(&direct_not[io->fd], DIRECT_RELOOK, memory_order_relaxed);
}

/* A file known to take direct I/O: its mode, or 0 (then try as usual).
 * *probe is set when the call is to be made with RWF_DONTCACHE instead of
 * an fstat. */
static mode_t direct_known(const struct asy_io *io, int *probe)
{
	*probe = 0;
	if (io->fd < 0 || io->fd >= PLAIN_FDS)
		return 0;
	int state = atomic_load_explicit(&direct_fd[io->fd], memory_order_relaxed);
	if (state == DIRECT_NO)
		return 0;
	if (state == DIRECT_PROBE && io->op == ASY_OP_READ && io->off >= 0 && !io->rwflags) {
		*probe = 1;
		return S_IFREG;
	}
	mode_t m = fd_mode(io->fd);
	if (S_ISREG(m) || S_ISBLK(m))
		return m;
	atomic_store_explicit(&direct_fd[io->fd], DIRECT_NO, memory_order_relaxed);
	return 0;
}

static long slow(struct asy_io *io, long done, long first, pthread_mutex_t **pl, mode_t mode);

/* A direct read with the RWF_DONTCACHE probe; -EOPNOTSUPP when the fd
 * did not take it (then nothing moved, and the entry says fstat). */
static long direct_probe(struct asy_io *io, pthread_mutex_t **pl)
{
	io->rwflags = RWF_DONTCACHE;
	long r = slow(io, 0, -EAGAIN, pl, S_IFREG);
	io->rwflags = 0;
	if (r == -EOPNOTSUPP)
		atomic_store_explicit(&direct_fd[io->fd], DIRECT_STAT, memory_order_relaxed);
	return r;
}

/* The lock is held across a system call, where signal handlers run, and
 * write() is async-signal-safe: a handler's call on the same stripe must
 * not wait for the lock its own thread holds.  So holding it counts as
 * being inside the engine (asy__depth): the handler's call goes to libc,
 * at the kernel's file position, as it would without the shim. */
static pthread_mutex_t *pos_lock(const struct asy_io *io)
{
	if (io->off >= 0 || io->op >= ASY_OP_FSYNC || asy__backend() != &asy__backend_uring)
		return NULL;
	pthread_mutex_t *m = &pos_locks[(unsigned)io->fd % POS_LOCKS];
	asy__depth++;
	if (!asy__coro_self()) {
		pthread_mutex_lock(m);
		return m;
	}
	/* Another coroutine of this thread may hold it while it waits: let
	 * the scheduler run it rather than block the thread.  Other
	 * coroutines use the engine meanwhile. */
	while (pthread_mutex_trylock(m) != 0) {
		int depth = asy__depth;
		asy__depth = 0;
		asy__coro_park(asy_now() + 50000, 0);
		asy__depth = depth;
	}
	return m;
}

static void pos_unlock(pthread_mutex_t *m)
{
	if (m) {
		pthread_mutex_unlock(m);
		asy__depth--;
	}
}

/* The thread is cancelled in its wait: it leaves the engine for good. */
static void pos_unlock_cancelled(void *m)
{
	pthread_mutex_unlock(m);
	asy__depth = 0;
}

/* run_backend_at_pos() with the position lock released if the thread is
 * cancelled in its wait. */
static long run_locked(struct asy_thread *t, struct asy_io *io, long done, mode_t mode,
		       pthread_mutex_t *pl)
{
	long r;
	if (!pl)
		return run_backend_at_pos(t, io, done, mode);
	pthread_cleanup_push(pos_unlock_cancelled, pl);
	r = run_backend_at_pos(t, io, done, mode);
	pthread_cleanup_pop(0);
	return r;
}

/* Continue a file read that moved *done bytes with non-blocking tries;
 * returns 0 at EOF or when complete (then *done is the answer), -EAGAIN
 * when the rest must wait for the device, or another -errno (the bytes
 * already moved are the answer then, as for read()). */
static long nowait_more(struct asy_io *io, long *done)
{
	size_t total = iov_total(io->iov, io->iovcnt);
	while ((size_t)*done < total) {
		struct iovec buf[IOV_CHUNK];
		struct asy_waiter w;
		io_rest(io, (size_t)*done, &w, buf);
		long off = io->off >= 0 ? io->off + *done : -1;
		long r = asy_sys_preadv2(io->fd, w.io.iov, w.io.iovcnt, off, io->rwflags | RWF_NOWAIT);
		if (r <= 0)
			return r;
		*done += r;
	}
	return 0;
}

/* Files the kernel generates (/proc, /sys, cgroups, …) refuse RWF_NOWAIT
 * but never wait for a device: libc answers them, without setting up a
 * backend (and its fds) for a read of /proc/self/status. */
static int kernel_fs(int fd)
{
	static const long magic[] = {
		0x9fa0,     /* proc */      0x62656572, /* sysfs */
		0x27e0eb,   /* cgroup */    0x63677270, /* cgroup2 */
		0x64626720, /* debugfs */   0x74726163, /* tracefs */
		0x73636673, /* securityfs */ 0x62656570, /* configfs */
		0xcafe4a11, /* bpf */       0xde5e81e4, /* efivarfs */
	};
	struct statfs sf;
	if (asy_sys(SYS_fstatfs, fd, &sf, 0, 0, 0, 0) < 0)
		return 0;
	for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++)
		if ((long)sf.f_type == magic[i])
			return 1;
	return 0;
}

/* The non-blocking try said "would block" (first == -EAGAIN), "cannot
 * try" (-EOPNOTSUPP) or moved `done` bytes of more.  Decide what the
 * kernel would do next, and do it through the backend. */
static long slow(struct asy_io *io, long done, long first, pthread_mutex_t **pl, mode_t mode)
{
	/* Only files take an offset (pipes and sockets said ESPIPE), so an
	 * explicit offset that would block needs no fstat. */
	int file = io->op >= ASY_OP_FSYNC || (io->off >= 0 && first != -EOPNOTSUPP);
	if (!mode)
		mode = file ? S_IFREG : fd_mode(io->fd);
	if (is_stream(mode)) {
		pos_unlock(*pl); /* streams have no position to protect */
		*pl = NULL;
		if (io->op == ASY_OP_READ && done)
			return done; /* a short read from a stream is the answer */
		long fl = asy_sys_fcntl(io->fd, F_GETFL, 0);
		if (fl >= 0 && (fl & O_NONBLOCK)) {
			if (first == -EOPNOTSUPP)
				return ASY_PASS; /* cannot block; libc answers */
			return done ? done : -EAGAIN;
		}
	} else if (io->op == ASY_OP_READ && done) {
		/* A file read that stopped short: at EOF (the common case: a
		 * whole-file read with a larger buffer) or where the cached
		 * part ends.  Another try says which, without a backend. */
		long more = nowait_more(io, &done);
		if (more != -EAGAIN)
			return done;
	}
	if (first == -EOPNOTSUPP && S_ISREG(mode) && plain_check(io)) {
		return plain_do(io);
	} else if (first == -EOPNOTSUPP && (S_ISDIR(mode) || kernel_fs(io->fd))) {
		return ASY_PASS; /* EISDIR, or a file the kernel makes up: no wait */
	}
	int saved = errno;
	asy__depth++;
	struct asy_thread *t = thread_get();
	if (t && !t->parked && !asy__fds_ours(t)) {
		/* The program closed our fds (close_range) and may have reused
		 * the numbers: start afresh, touching none of them. */
		thread_drop(t);
		t = thread_get();
	}
	long r = t ? run_locked(t, io, done, mode, *pl) : ASY_PASS;
	if (t && t->lost && !t->parked)
		thread_drop(t); /* lost while it waited */
	asy__depth--;
	errno = saved;
	if (r == ASY_PASS && done) {
		/* Cannot happen for streams; files finish in one blocking call. */
		struct iovec buf[IOV_CHUNK];
		struct asy_waiter w;
		io_rest(io, (size_t)done, &w, buf);
		long off = io->off >= 0 ? io->off + done : -1;
		r = io->op == ASY_OP_READ ?
			    asy_sys_preadv2(io->fd, w.io.iov, w.io.iovcnt, off, io->rwflags) :
			    asy_sys_pwritev2(io->fd, w.io.iov, w.io.iovcnt, off, io->rwflags);
		r = r < 0 ? done : done + r;
	}
	if (r == ASY_PASS)
		ASY_COUNT(passed);
	return r;
}

long asy__io(struct asy_io *io)
{
	if (asy__depth)
		return ASY_PASS;
	pthread_mutex_t *pl = NULL;
	if (io->op >= ASY_OP_FSYNC)
		return slow(io, 0, 0, &pl, 0);
	/* RWF_NOWAIT asked for by the program, and pread's EINVAL for a
	 * negative offset: libc's answer is the answer. */
	if ((io->rwflags & RWF_NOWAIT) || ((io->flags & ASY_F_EXPLICIT) && io->off < 0))
		return ASY_PASS;
	if (!io->iov)
		io->iov = &io->one;
	int fl = io->rwflags | RWF_NOWAIT;
	pl = pos_lock(io);
	if (plain_known(io)) {
		long r = plain_do(io);
		pos_unlock(pl);
		return r;
	}
	int probe;
	mode_t direct = direct_known(io, &probe);
	if (probe) {
		long r = direct_probe(io, &pl);
		if (r != -EOPNOTSUPP) {
			pos_unlock(pl);
			return r;
		}
		direct = direct_known(io, &probe);
	}
	if (direct) {
		long r = slow(io, 0, -EAGAIN, &pl, direct);
		pos_unlock(pl);
		return r;
	}
	uint64_t c0 = cycles();
	long r = io->op == ASY_OP_READ ?
			 asy_sys_preadv2(io->fd, io->iov, io->iovcnt, io->off, fl) :
			 asy_sys_pwritev2(io->fd, io->iov, io->iovcnt, io->off, fl);
	if (cycles() - c0 > SLOW_TRY_CYCLES && r > 0)
		direct_learn(io);
	if (r == -EAGAIN || r == -EOPNOTSUPP) {
		r = slow(io, 0, r, &pl, 0);
	} else if (r > 0 && (size_t)r < iov_total(io->iov, io->iovcnt)) {
		r = slow(io, r, 0, &pl, 0);
	} else {
		ASY_COUNT(inline_done);
		io->via = ASY_VIA_INLINE;
	}
	pos_unlock(pl);
	return r;
}

/* ---- start-up and fork ------------------------------------------------ */

static void atfork_child(void)
{
	asy__pid = (pid_t)asy_sys_getpid();
	for (int i = 0; i < POS_LOCKS; i++)
		pthread_mutex_init(&pos_locks[i], NULL);
	atomic_fetch_add(&asy__fork_gen, 1);
	asy__backend_threads.fork_child();
	asy__backend_uring.fork_child();
	memset(&asy__count, 0, sizeof asy__count);
}

static void fd_base_init(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 1024;
	fd_base = rl.rlim_cur >= 1024 ? 900 : (int)rl.rlim_cur / 2;
}

/* Runs before main(); errno is left as it was found. */
__attribute__((constructor)) void asy__init(void)
{
	int saved = errno;
	asy__pid = (pid_t)asy_sys_getpid();
	asy__shim_resolve();
	asy__libc.read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	asy__libc.poll = (int (*)(void *, unsigned long, int))dlsym(RTLD_NEXT, "poll");
	asy__config_read();
	asy__trace_init();
	fd_base_init();
	if (asy__cfg.backend != ASY_BE_OFF && asy__libc.read && asy__libc.poll &&
	    pthread_key_create(&thread_key, thread_key_dtor) == 0 &&
	    pthread_atfork(NULL, NULL, atfork_child) == 0) {
		atomic_store(&current, asy__cfg.backend == ASY_BE_URING ? &asy__backend_uring :
									  &asy__backend_threads);
		atomic_store(&asy__ready, 1);
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
