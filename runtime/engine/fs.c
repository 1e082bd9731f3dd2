/* Files inside coroutines: opening, naming, metadata, size and durability,
 * locks and copies (the `fs` family of ASY_CALLS).
 *
 * Outside coroutines every one of these calls is the program's own call.
 * Inside a coroutine that is not alone on its thread, a call that may
 * wait is the program's own call too — made by a worker, while the
 * coroutine yields: the hook hands over the libc function itself and its
 * arguments (shim/hooks.def, ASY_IO_FS), so whatever glibc does around
 * the system call (posix_fallocate's emulation, lockf's fcntl, faccessat's
 * fallbacks) is done exactly as it would be.  The worker shares the
 * process's fd table, cwd, umask, rlimits and lock owner, so fd numbers
 * (the lowest free one), relative paths, created modes and POSIX record
 * locks come out as from the calling thread.
 *
 * How each call goes is one row of `rows` below:
 *   INLINE  never waits for long on a local file system: the program's
 *           own call, in the calling thread (fstat, close, fcntl's other
 *           commands, msync without MS_SYNC);
 *   WORKER  may wait for the disk: on a worker;
 *   WAITS   may wait for another call of the program — a FIFO's open for
 *           its peer, a copy through a pipe or socket: on a worker of its
 *           own (never queued behind the ASYNCIFY_WORKERS limit, so the
 *           peer can run), and a deadline or asy_cancel() interrupts it
 *           with a signal (backend-threads.c): ETIMEDOUT / ECANCELED, or
 *           what the call had done when it could not stop;
 *   LOCK    a lock that may wait (flock, F_SETLKW, F_OFD_SETLKW,
 *           lockf F_LOCK): first the non-blocking form, in the calling
 *           thread; taken, or an error other than "held": that is the
 *           answer.  Otherwise the blocking form as WAITS.
 *   CHILD   a wait for a child (wait, waitpid, wait3, wait4, waitid):
 *           child.c.
 *
 * Signals a worker's call raises for its task — SIGPIPE from a splice
 * into a pipe nobody reads, SIGXFSZ from ftruncate past RLIMIT_FSIZE —
 * stay pending on the worker (it blocks them); they are taken off there
 * and raised in the calling thread, as the kernel would have. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "order.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

enum { INLINE, WORKER, WAITS, LOCK, CHILD };

static const unsigned char rows[ASY_CALL_COUNT] = {
	[ASY_CALL_open] = WAITS,       [ASY_CALL_openat] = WAITS,     [ASY_CALL_creat] = WAITS,
	[ASY_CALL_close] = INLINE,     [ASY_CALL_close_range] = INLINE,
	[ASY_CALL_dup2] = INLINE,      [ASY_CALL_dup3] = INLINE,
	[ASY_CALL_stat] = WORKER,      [ASY_CALL_lstat] = WORKER,     [ASY_CALL_fstat] = INLINE,
	[ASY_CALL_fstatat] = WORKER,   [ASY_CALL_statx] = WORKER,     [ASY_CALL_access] = WORKER,
	[ASY_CALL_faccessat] = WORKER, [ASY_CALL_unlink] = WORKER,    [ASY_CALL_unlinkat] = WORKER,
	[ASY_CALL_rename] = WORKER,    [ASY_CALL_renameat] = WORKER,  [ASY_CALL_renameat2] = WORKER,
	[ASY_CALL_mkdir] = WORKER,     [ASY_CALL_mkdirat] = WORKER,   [ASY_CALL_rmdir] = WORKER,
	[ASY_CALL_link] = WORKER,      [ASY_CALL_linkat] = WORKER,    [ASY_CALL_symlink] = WORKER,
	[ASY_CALL_symlinkat] = WORKER, [ASY_CALL_readlink] = WORKER,  [ASY_CALL_readlinkat] = WORKER,
	[ASY_CALL_truncate] = WORKER,  [ASY_CALL_ftruncate] = WORKER, [ASY_CALL_fallocate] = WORKER,
	[ASY_CALL_posix_fallocate] = WORKER, [ASY_CALL_sync_file_range] = WORKER,
	[ASY_CALL_syncfs] = WORKER,    [ASY_CALL_sync] = WORKER,      [ASY_CALL_msync] = WORKER,
	[ASY_CALL_flock] = LOCK,       [ASY_CALL_fcntl] = LOCK,       [ASY_CALL_lockf] = LOCK,
	[ASY_CALL_sendfile] = WAITS,   [ASY_CALL_splice] = WAITS,     [ASY_CALL_tee] = WAITS,
	[ASY_CALL_vmsplice] = WAITS,   [ASY_CALL_copy_file_range] = WAITS,
	[ASY_CALL_unshare] = INLINE,
	[ASY_CALL_wait] = CHILD,       [ASY_CALL_waitpid] = CHILD,    [ASY_CALL_wait3] = CHILD,
	[ASY_CALL_wait4] = CHILD,      [ASY_CALL_waitid] = CHILD,
};

/* Every libc function here takes integers and pointers only and returns
 * an int or a long: on x86-64 and aarch64 such a function is called with
 * its arguments as longs in the same registers (variadic ones included),
 * and an int result is the low half of the register. */
typedef long (*libc_fn)(long, long, long, long, long, long);

/* The numbers a call on a worker takes its files by, kept while it is
 * out (keep.c): a sibling coroutine runs as soon as the caller yields,
 * before the worker has started the call, and its close of the number,
 * a dup2 over it or an open that takes it again, must leave the call its
 * file, as the kernel's call took it when it was made (a flock locked the
 * new file, and held it; an fstatat or openat looked in the directory
 * the number held next, or said EBADF; a statx of "" with AT_EMPTY_PATH
 * described the file a dup2 put there).  The copy is made by that close,
 * not at once: closing a copy releases the process's POSIX record locks
 * on its file.
 *
 * fd_args: those of a call that waits on a worker of its own (WAITS,
 * LOCK), as argument indexes + 1.  at_call: the *at calls, whose
 * directory fd is the argument before each name (before `from` and
 * before `to`); a negative one (AT_FDCWD) names no file. */
static const unsigned char fd_args[ASY_CALL_COUNT][2] = {
	[ASY_CALL_flock] = { 1 },    [ASY_CALL_fcntl] = { 1 },    [ASY_CALL_lockf] = { 1 },
	[ASY_CALL_vmsplice] = { 1 }, [ASY_CALL_sendfile] = { 1, 2 }, [ASY_CALL_tee] = { 1, 2 },
	[ASY_CALL_splice] = { 1, 3 }, [ASY_CALL_copy_file_range] = { 1, 3 },
};

static const unsigned char at_call[ASY_CALL_COUNT] = {
	[ASY_CALL_openat] = 1,    [ASY_CALL_fstatat] = 1,   [ASY_CALL_statx] = 1,
	[ASY_CALL_faccessat] = 1, [ASY_CALL_unlinkat] = 1,  [ASY_CALL_renameat] = 1,
	[ASY_CALL_renameat2] = 1, [ASY_CALL_mkdirat] = 1,   [ASY_CALL_linkat] = 1,
	[ASY_CALL_symlinkat] = 1, [ASY_CALL_readlinkat] = 1,
};

struct job {
	libc_fn fn;
	const long *a;
	struct asy_keep *keep; /* for fdi[], or NULL */
	signed char fdi[2];    /* the kept numbers' argument indexes, or -1 */
	unsigned char posix;  /* a POSIX record lock's wait (F_SETLKW, lockf) */
	unsigned char narrow; /* the result is an int */
	unsigned char none;   /* there is no result (sync) */
	unsigned char sigs;   /* SIGPIPE (1) / SIGXFSZ (2) raised on the worker */
	int err_in;           /* the caller's errno: the call starts with it */
	int err;              /* errno as the call left it */
};

/* Take `sig` off this worker if its call raised it (workers block every
 * signal, so it is pending here). */
int asy__take_sig(int sig)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };
	sigemptyset(&set);
	sigaddset(&set, sig);
	return asy_sys(SYS_rt_sigtimedwait, &set, NULL, &zero, 8, 0, 0) == sig;
}

/* The signal the worker's call raised, raised in the calling thread as
 * the kernel raises it there.  Its handler runs now, inside the engine's
 * part of the call, which keeps errno: an errno the handler set is the
 * call's (io->errnum), as the kernel's handler leaves it to a call that
 * returns its error rather than -1 (posix_fallocate). */
static void raise_for(struct asy_io *io, int sig)
{
	int e = errno;
	asy__raise_as_kernel(sig);
	if (errno != e)
		io->errnum = errno;
}

/* The call on the worker, with its kept numbers' copies where a close
 * made them.  A number closed between that look and the call (EBADF) is
 * looked at again: its close made the copy first.  A POSIX lock taken on
 * a copy is the kernel's close-during-fcntl race: the lock is let go
 * (the copy's close does it) and the answer is EBADF. */
static long call_kept(struct job *j)
{
	long a[6], r;
	int copied, again = 1;
	memcpy(a, j->a, sizeof a);
	for (;;) {
		copied = 0;
		for (int k = 0; k < 2; k++) {
			int i = j->fdi[k];
			if (i >= 0) {
				a[i] = asy__keep_fd(&j->keep[k], (int)j->a[i]);
				copied |= a[i] != j->a[i];
			}
		}
		r = j->fn(a[0], a[1], a[2], a[3], a[4], a[5]);
		if (!(r == -1 && errno == EBADF && !copied && again--))
			break;
		for (int k = 0; k < 2; k++)
			copied |= j->fdi[k] >= 0 && asy__keep_fd(&j->keep[k], -1) >= 0;
		if (!copied)
			break;
		errno = j->err_in;
	}
	if (copied && j->posix && r == 0) {
		errno = EBADF;
		r = -1;
	}
	return r;
}

/* On the worker: the program's call, its result as >= 0 or -errno. */
static long run(void *p)
{
	struct job *j = p;
	const long *a = j->a;
	errno = j->err_in;
	long r = j->keep ? call_kept(j) : j->fn(a[0], a[1], a[2], a[3], a[4], a[5]);
	if (j->keep) { /* the call has its files: a copy's close is due now, not when
			* its thread next looks (a call left behind held it till then) */
		asy__keep_end(&j->keep[0]);
		asy__keep_end(&j->keep[1]);
	}
	if (j->narrow)
		r = (int)r;
	if (j->none)
		r = 0;
	j->err = errno;
	sigset_t pend;
	if (asy_sys(SYS_rt_sigpending, &pend, 8, 0, 0, 0, 0) == 0) {
		if (sigismember(&pend, SIGPIPE) && asy__take_sig(SIGPIPE))
			j->sigs |= 1;
		if (sigismember(&pend, SIGXFSZ) && asy__take_sig(SIGXFSZ))
			j->sigs |= 2;
	}
	return r == -1 && j->err > 0 ? -(long)j->err : r;
}

static void keep_args(const struct asy_io *io, const long *a, struct job *j,
		      struct asy_keep *keep);

/* The call made by fn on a worker (waits: as WAITS), with its numbers
 * kept; its result.  child.c makes its watches with it too. */
long asy__fs_offload(struct asy_io *io, const long *a, int waits)
{
	struct asy_thread *t = asy__thread();
	if (!t)
		return ASY_PASS;
	struct job j = { .fn = (libc_fn)io->arg, .a = a, .narrow = io->rwflags == (int)sizeof(int),
			 .none = io->rwflags == 1, .err_in = errno };
	struct asy_keep keep[2];
	struct asy_waiter w = { .io = { .op = ASY_OP_CALL, .call = io->call, .fd = io->fd, .fn = run,
					.arg = &j } };
	keep_args(io, a, &j, keep);
	if (waits) {
		w.io.flags = ASY_F_WAITS;
		j.posix = (io->call == ASY_CALL_fcntl && (int)a[1] == F_SETLKW) ||
			  io->call == ASY_CALL_lockf;
	}
	long r = asy__op(t, &w, -1);
	io->via = w.io.via;
	asy__keep_end(&keep[0]);
	asy__keep_end(&keep[1]);
	if (r >= 0 && j.err != j.err_in)
		io->errnum = j.err; /* set on success too (posix_fallocate's emulation) */
	if (j.sigs & 1)
		raise_for(io, SIGPIPE);
	if (j.sigs & 2)
		raise_for(io, SIGXFSZ);
	return r;
}

/* What a WORKER call reads or writes of the program's memory besides its
 * path (a[io->path]), as argument indexes counted from the path's: a
 * second name (`name2`), a result buffer (`out`) whose size is fixed
 * (`size`) or an argument (`outlen`).  Such a call is made on copies in a
 * block of the engine's (detach.c), so that a deadline or asy_cancel() can
 * leave it behind on its worker: whatever it does later touches only the
 * block.  Its result is copied to the program's buffer when it ends in
 * time. */
static const struct {
	signed char name2, out, outlen;
	unsigned short size;
} mem[ASY_CALL_COUNT] = {
	[ASY_CALL_stat] = { 0, 1, 0, sizeof(struct stat) },
	[ASY_CALL_lstat] = { 0, 1, 0, sizeof(struct stat) },
	[ASY_CALL_fstatat] = { 0, 1, 0, sizeof(struct stat) },
	[ASY_CALL_statx] = { 0, 3, 0, sizeof(struct statx) },
	[ASY_CALL_rename] = { 1 },   [ASY_CALL_renameat] = { 2 }, [ASY_CALL_renameat2] = { 2 },
	[ASY_CALL_link] = { 1 },     [ASY_CALL_linkat] = { 2 },
	[ASY_CALL_symlink] = { -1 }, [ASY_CALL_symlinkat] = { -2 },
	[ASY_CALL_readlink] = { 0, 1, 2 }, [ASY_CALL_readlinkat] = { 0, 1, 2 },
};

/* A name the program passed, copied without trusting the pointer: 0, or
 * -1 when the kernel would refuse it (EFAULT, ENAMETOOLONG) — the call is
 * then made on the program's own pointer, and the kernel says so. */
static int name_in(char *dst, const char *p)
{
	for (size_t off = 0; off < PATH_MAX;) {
		size_t n = 4096 - (((uintptr_t)p + off) & 4095);
		n = n < PATH_MAX - off ? n : PATH_MAX - off;
		if (asy__copy_in(dst + off, p + off, n) < 0)
			return -1;
		if (memchr(dst + off, 0, n))
			return 0;
		off += n;
	}
	return -1;
}

/* Keep the numbers the call takes its files by (above) while it is out. */
static void keep_args(const struct asy_io *io, const long *a, struct job *j,
		      struct asy_keep *keep)
{
	int idx[2] = { fd_args[io->call][0] - 1, fd_args[io->call][1] - 1 };
	if (at_call[io->call] && io->path > 0) {
		idx[0] = io->path - 1;
		idx[1] = mem[io->call].name2 > 0 ? io->path + mem[io->call].name2 - 1 : -1;
	}
	j->keep = NULL;
	for (int k = 0; k < 2; k++) {
		keep[k] = (struct asy_keep){ .fd = -1, .held = -1 };
		j->fdi[k] = -1;
		if (idx[k] >= 0 && (int)a[idx[k]] >= 0) {
			asy__keep_begin(&keep[k], (int)a[idx[k]]);
			j->fdi[k] = (signed char)idx[k];
			j->keep = keep;
		}
	}
}

/* A detached call left behind by its coroutine has ended (detach.c): the
 * numbers it kept are let go. */
void asy__fs_reaped(struct asy_waiter *w)
{
	struct job *j = w->io.arg;
	if (w->io.fn != run || !j->keep)
		return;
	asy__keep_end(&j->keep[0]);
	asy__keep_end(&j->keep[1]);
}

struct dcall {
	struct job j;
	long a[6];
	struct asy_keep keep[2];
	char name[2][PATH_MAX];
	char out[]; /* the result buffer */
};

#define NOT_DETACHED (LONG_MIN + 1)
static const char thread_self[] = "thread-self";

/* A WORKER call, or an open, on copies (above); ASY_PASS when a name is
 * under /proc/thread-self (the calling thread makes the call: see
 * thread_path), NOT_DETACHED when no block could be had or a name could
 * not be copied (the call is then made on the program's own pointers).  An open waits as a WAITS call: a deadline or cancel
 * first interrupts it with the signal (a FIFO's open then fails with
 * nothing done); one the disk holds that does not end soon after is left
 * behind, and the fd it opens later is closed (detach.c). */
static long offload_detached(struct asy_thread *t, struct asy_io *io, int waits)
{
	int p = io->path, e;
	const long *a = io->a;
	size_t outn = 0;
	if (mem[io->call].out) {
		/* readlink's size is an int to the kernel: one that is not
		 * positive gets EINVAL before anything is read; a link is
		 * never longer than PATH_MAX. */
		long n = mem[io->call].outlen ? (int)a[p + mem[io->call].outlen] : mem[io->call].size;
		outn = n <= 0 ? 0 : n < PATH_MAX ? (size_t)n : PATH_MAX;
	}
	struct asy_io cio = { .op = ASY_OP_CALL, .call = io->call, .fd = io->fd, .fn = run,
			      .flags = waits ? ASY_F_WAITS : 0 };
	void *m;
	struct asy_waiter *w = asy__detach_call(t, &cio, sizeof(struct dcall) + outn, &m);
	if (!w)
		return NOT_DETACHED;
	struct dcall *d = m;
	d->j = (struct job){ .fn = (libc_fn)io->arg, .a = d->a,
			     .narrow = io->rwflags == (int)sizeof(int), .none = io->rwflags == 1,
			     .err_in = errno };
	memcpy(d->a, a, sizeof d->a);
	w->io.arg = &d->j;
	for (int k = 0; k < 2 && p >= 0; k++) {
		int i = k ? p + mem[io->call].name2 : p;
		if (k && !mem[io->call].name2)
			break;
		if (name_in(d->name[k], (const char *)a[i]) < 0) {
			asy__detach_free(t, w);
			return NOT_DETACHED;
		}
		if (strstr(d->name[k], thread_self)) {
			asy__detach_free(t, w);
			return ASY_PASS;
		}
		d->a[i] = (long)d->name[k];
	}
	if (mem[io->call].out) {
		d->a[p + mem[io->call].out] = (long)d->out;
		if (mem[io->call].outlen && outn)
			d->a[p + mem[io->call].outlen] = (long)outn;
	}
	keep_args(io, d->a, &d->j, d->keep);
	long r = asy__op(t, w, -1);
	io->via = w->io.via;
	if (w->abandoned) /* its completion frees it, and lets its numbers go */
		return asy__detach_end(t, w, r, NULL, 0);
	asy__keep_end(&d->keep[0]);
	asy__keep_end(&d->keep[1]);
	if (r >= 0 && mem[io->call].out) {
		/* Into the program's buffer as the kernel would write it. */
		size_t n = mem[io->call].outlen ? (size_t)r : outn;
		struct iovec l = { d->out, n }, rm = { (void *)a[p + mem[io->call].out], n };
		if (n && asy__vm_write(&l, 1, &rm, 1) != (long)n)
			r = -EFAULT;
	}
	e = d->j.err;
	if (r >= 0 && e != d->j.err_in)
		io->errnum = e;
	unsigned sigs = d->j.sigs;
	r = asy__detach_end(t, w, r, NULL, 0);
	if (sigs & 2)
		raise_for(io, SIGXFSZ);
	return r;
}

/* The non-blocking form of a lock call in the calling thread: 0 taken,
 * -errno an answer, 1 held by someone else (the blocking form must wait). */
static long lock_try(struct asy_io *io)
{
	libc_fn fn = (libc_fn)io->arg;
	long a1;
	switch (io->call) {
	case ASY_CALL_flock:
		a1 = io->a[1] | LOCK_NB;
		break;
	case ASY_CALL_fcntl:
		a1 = io->a[1] == F_SETLKW ? F_SETLK : F_OFD_SETLK;
		break;
	default: /* lockf */
		a1 = F_TLOCK;
		break;
	}
	long r = (int)fn(io->a[0], a1, io->a[2], 0, 0, 0);
	if (r == 0)
		return 0;
	int e = errno;
	return e == EWOULDBLOCK || e == EACCES || e == EAGAIN ? 1 : -e;
}

/* A lock call that can wait at all. */
static int lock_waits(const struct asy_io *io)
{
	switch (io->call) {
	case ASY_CALL_flock:
		return !(io->a[1] & (LOCK_NB | LOCK_UN));
	case ASY_CALL_fcntl:
		return io->a[1] == F_SETLKW || io->a[1] == F_OFD_SETLKW;
	default:
		return io->a[1] == F_LOCK;
	}
}

/* A path the calling thread must resolve itself: /proc/thread-self names
 * the task that looks it up, however the path reaches it ("//proc/…",
 * "/proc/./…", relative to /proc).  Read without trusting the pointer,
 * a page at a time. */
static int thread_path(const struct asy_io *io)
{
	const char *key = thread_self;
	enum { K = sizeof thread_self - 1, CHUNK = 256 };
	const char *p = io->path >= 0 ? (const char *)io->a[io->path] : NULL;
	char buf[K + CHUNK + 1];
	size_t keep = 0; /* the end of the previous piece: a key may straddle */
	for (size_t off = 0; p && off < PATH_MAX;) {
		size_t n = 4096 - (((uintptr_t)p + off) & 4095);
		n = n < CHUNK ? n : CHUNK;
		if (asy__copy_in(buf + keep, p + off, n) < 0)
			return 0; /* the call gets its EFAULT from the kernel */
		buf[keep + n] = 0;
		size_t len = strlen(buf + keep);
		if (memmem(buf, keep + len, key, K))
			return 1;
		if (len < n)
			return 0;
		off += n;
		size_t total = keep + n;
		keep = total < K - 1 ? total : K - 1;
		memmove(buf, buf + total - keep, keep);
	}
	return 0;
}

/* Calls after which workers no longer share this thread's fd table,
 * cwd or namespaces (a network namespace decides which interfaces an
 * open of /dev/net/tun and a socket see): from then on, its calls are its
 * own (asy__unshared). */
static void note_unshare(const struct asy_io *io)
{
	if ((io->call == ASY_CALL_close_range && (io->a[2] & CLOSE_RANGE_UNSHARE)) ||
	    (io->call == ASY_CALL_unshare &&
	     (io->a[0] & (CLONE_FILES | CLONE_FS | CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWNET |
			  CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_SYSVSEM))))
		asy__unshared = 1;
}

/* The numbers a close, close_range, dup2 or dup3 closes or replaces, or
 * whose open file an fcntl(F_SETFL) changes (O_APPEND, O_DIRECT) or an
 * ftruncate or fallocate resizes: [*lo, *hi], or 0 when there are none. */
static int replaces(const struct asy_io *io, unsigned long *lo, unsigned long *hi)
{
	const unsigned long *a = (const unsigned long *)io->a;
	if (io->op == ASY_OP_WRITE) {
		*lo = *hi = (unsigned)io->fd;
		return asy__changing > 0;
	}
	switch (io->call) {
	case ASY_CALL_fcntl:
		*lo = *hi = (unsigned)a[0];
		return (int)a[1] == F_SETFL;
	case ASY_CALL_ftruncate:
	case ASY_CALL_fallocate:
	case ASY_CALL_posix_fallocate:
		*lo = *hi = (unsigned)a[0];
		return 1;
	case ASY_CALL_close_range:
		*lo = (unsigned)a[0], *hi = (unsigned)a[1];
		return !(a[2] & CLOSE_RANGE_CLOEXEC);
	case ASY_CALL_dup2:
	case ASY_CALL_dup3:
		*lo = *hi = (unsigned)a[1];
		return a[0] != a[1];
	default:
		*lo = *hi = (unsigned)a[0];
		return io->call == ASY_CALL_close;
	}
}

/* An op that takes its file by number when it starts, and ends by
 * itself: a file's read or write, an fsync, a call of this file's on a
 * worker (ftruncate, fallocate …; not one that may wait for another
 * call of the program, a FIFO's open or a copy through a pipe, which
 * the close may be what ends). */
static int file_op(const struct asy_waiter *w)
{
	if (w->io.op == ASY_OP_CALL)
		return w->io.fn == run && !(w->io.flags & ASY_F_WAITS) && w->io.fd >= 0;
	return w->io.op == ASY_OP_READ || w->io.op == ASY_OP_WRITE || w->io.op == ASY_OP_FSYNC ||
	       w->io.op == ASY_OP_FDATASYNC;
}

#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif

/* A resizing call, on a worker. */
static int resizes(const struct asy_io *io)
{
	return io->call == ASY_CALL_ftruncate || io->call == ASY_CALL_fallocate ||
	       io->call == ASY_CALL_posix_fallocate;
}

/* Does w's op use a number in [lo, hi] — or, for a call that changes
 * the open file rather than the number, that number's open file (a
 * dup's op too)? */
static int touches(const struct asy_io *io, const struct asy_waiter *w, unsigned long lo,
		   unsigned long hi)
{
	if ((unsigned long)w->io.fd >= lo && (unsigned long)w->io.fd <= hi)
		return 1;
	return io->call != ASY_CALL_close && io->call != ASY_CALL_close_range &&
	       io->call != ASY_CALL_dup2 && io->call != ASY_CALL_dup3 &&
	       asy_sys(SYS_kcmp, asy__pid, asy__pid, KCMP_FILE, w->io.fd, lo, 0) == 0;
}

/* Before a coroutine closes or replaces a number, or changes its
 * file's flags, the file ops its thread's other coroutines have out on
 * it end.  Such an op was handed over when its coroutine yielded, and
 * takes its file (and flags) by number only when the ring's next submit
 * or a worker starts it — after this call: a read the program made
 * before a dup2 read the file dup2 put there (before a close: EBADF),
 * an ftruncate truncated it, a write made before F_SETFL added O_APPEND
 * appended, where the kernel's own call took its file when it was made;
 * and a write made before an ftruncate landed after it (the kernel's
 * write holds the inode until it is done).
 * A file op ends without help from the thread; a pipe's or socket's wait
 * is kept by keep.c instead. */
ASY_TLS unsigned asy__changing;

/* Does the call wait for w?  A write of `len` bytes only for what
 * changes the file where it writes: a resize, a write to bytes it
 * writes too (at the position or appending: anywhere).  Writes to other
 * bytes of the file stay side by side, as the kernel's direct writes. */
static int waits_for(const struct asy_io *io, long len, const struct asy_waiter *w,
		     unsigned long lo, unsigned long hi)
{
	if (w->abandoned || !file_op(w))
		return 0;
	if (io->op == ASY_OP_WRITE && !resizes(&w->io)) {
		/* the cheap looks first: touches() may ask the kernel */
		if (w->io.op != ASY_OP_WRITE)
			return 0;
		off_t wend = w->io.off + (off_t)asy__iov_total(w->io.iov, w->io.iovcnt);
		if (io->off >= 0 && w->io.off >= 0 && len >= 0 &&
		    (io->off >= wend || w->io.off >= io->off + len))
			return 0;
	}
	return touches(io, w, lo, hi);
}

void asy__ops_first(const struct asy_io *io, long len)
{
	struct asy_thread *t = asy__tls_thread;
	unsigned long lo, hi;
	if (!t || !t->parked || !replaces(io, &lo, &hi))
		return;
	/* The ops still queued go in first: a pipe's or socket's read a
	 * sibling made before would take the file the close or dup2 left. */
	if (t->be->flush && io->op != ASY_OP_WRITE)
		t->be->flush(t);
	for (;;) {
		const struct asy_waiter *w = t->parked;
		while (w && !waits_for(io, len, w, lo, hi))
			w = w->pnext;
		int64_t io_deadline = asy__coro_io_deadline();
		if (!w || (io_deadline >= 0 && asy_now() >= io_deadline))
			return; /* the call itself meets its deadline */
		int r = asy__park(asy_now() + 50000);
		if (r == -ECANCELED || r == -EINVAL)
			return; /* cancelled (the call itself says so), or not a coroutine */
	}
}

long asy__fs(struct asy_io *io)
{
	unsigned char how = rows[io->call];
	note_unshare(io);
	asy__ops_first(io, -1);
	if (how == INLINE || (io->call == ASY_CALL_msync && !(io->a[2] & MS_SYNC)) ||
	    (how == LOCK && !lock_waits(io)) || (how == CHILD && !asy__child_waits(io)) ||
	    asy__coro_alone())
		return ASY_PASS;
	if (how == CHILD)
		return asy__child_wait(io);
	if (how == WORKER || io->call == ASY_CALL_open || io->call == ASY_CALL_openat ||
	    io->call == ASY_CALL_creat) {
		/* On copies of its names: one read of each, which also says
		 * whether the call must stay on this thread.  A resizing
		 * call is counted while out: writes wait for it. */
		struct asy_thread *t = asy__thread();
		asy__changing += resizes(io);
		long r = t ? offload_detached(t, io, how != WORKER) : NOT_DETACHED;
		asy__changing -= resizes(io);
		if (r != NOT_DETACHED)
			return r;
	}
	if (thread_path(io))
		return ASY_PASS;
	if (how == LOCK) {
		long r = lock_try(io);
		if (r <= 0)
			return asy__inline(io, r);
	}
	asy__changing += resizes(io);
	long r = asy__fs_offload(io, io->a, how != WORKER);
	asy__changing -= resizes(io);
	return r;
}
