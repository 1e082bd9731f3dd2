/* The trace's outputs: the trace, the summary and the flame file, or
 * copies of fd 2 for "stderr", opened at start-up and in a fork child.
 *
 * They are fds of the program's own table, and the program must not see
 * them there.  Each lives among the top numbers of the table
 * (asy__copy_high, where keep.c places its copies), not at the lowest
 * free number the program's next open takes.  A close, close_range, dup2
 * or dup3 of the process over one of them (asy__closing) first moves it
 * to another top number outside the call's range, so that the call meets
 * a free number as it would without the shim: close says EBADF, dup2
 * takes the number, close_range closes only the program's.  Where there
 * is no other (close_range(3, ~0U)) the output is closed, and reopened as
 * soon as that call returned, by the thread that made it (a file by its
 * path, appended to; "stderr" as a copy of fd 2, if 2 is still that
 * file): a writer
 * thread reopening it later would take a low number while the program
 * opens its own.  Under an RLIMIT_NOFILE below 64 nothing moves up: the
 * outputs take the lowest free numbers, as the program's own files do
 * (README, Known blind spots).
 *
 * Writers (the writer thread, the exit and exec paths) write through
 * asy__tout_write(), which counts itself in `users` before it reads the
 * number.  A move publishes the new number, or `lost`, first, then waits
 * until no writer may hold the old one, then closes it: nothing is ever
 * written to a number after we closed it, whatever the program opened
 * there since.  A close we cannot see (a raw close_range system call)
 * is caught before each write: the number no longer names our file
 * (fstat), so the output is reopened rather than written to the
 * program's file; only there does a writer open at a low number
 * for a moment. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"
#include "trace-int.h"
#include "sys.h"
#include "spin.h"

static _Atomic int *const out_fd[ASY_TOUTS] = {
	&asy__tcfg.trace_fd, &asy__tcfg.summary_fd, &asy__tcfg.flame_fd
};
static const char *const out_env[ASY_TOUTS] = {
	"ASYNCIFY_TRACE", "ASYNCIFY_SUMMARY", "ASYNCIFY_FLAME"
};

static struct {
	_Atomic int users; /* writers that may hold the number */
	_Atomic int lost;  /* closed under a close of the program's: reopen */
	_Atomic uint64_t dev, ino; /* the file we opened */
} outs[ASY_TOUTS];

/* One move or reopen at a time.  A signal handler that interrupts the
 * holder on its thread (tls_locked) leaves the outputs alone. */
static asy_spin lock = ASY_SPIN_INIT;
static ASY_TLS int tls_locked;
static ASY_TLS int tls_writing; /* inside asy__tout_write() */

/* ~1 s of 50 µs naps: how long a writer waits for a lost output to be
 * reopened by the thread whose call closed it before it reopens it
 * itself (that thread was cancelled in close, or forked meanwhile). */
#define LOST_WAIT 20000

static int take(void)
{
	if (tls_locked)
		return -1;
	tls_locked = 1;
	asy__spin_take(&lock);
	return 0;
}

static void give(void)
{
	asy__spin_give(&lock);
	tls_locked = 0;
}

static const char *out_pattern(int i)
{
	return i == ASY_TOUT_TRACE ? asy__tcfg.trace_path :
	       i == ASY_TOUT_SUMMARY ? asy__tcfg.summary_path : asy__tcfg.flame_path;
}

static int in_range(int fd, unsigned lo, unsigned hi)
{
	return fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi;
}

/* ---- opening ------------------------------------------------------------ */

/* Refuse what a trace must never be written into: a symlink (O_NOFOLLOW
 * gives ELOOP), a directory, someone else's file. */
static int tfile_check(int fd)
{
	struct stat st;
	long r = asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0);
	if (r < 0)
		return (int)r;
	if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
		return 0; /* /dev/null, a named pipe: nothing to truncate */
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_uid != geteuid())
		return -EPERM;
	return 1;
}

/* The file belongs to this pid already when it starts with our own header
 * (1): we are the same process after an exec, so append.  So it does to a
 * live process when it starts with that one's header (2) (a shell's trace,
 * then the programs it runs: each would have emptied it of the lines
 * before), unless it is a chrome file, one JSON array per process.
 * Anything else is started afresh. */
static int tfile_ours(int fd, const char *hdr, size_t hlen)
{
	char buf[256];
	if (!hlen || hlen >= sizeof buf)
		return 0;
	long r = asy_sys(SYS_pread64, fd, buf, sizeof buf - 1, 0, 0, 0);
	if (r >= (long)hlen && !memcmp(buf, hdr, hlen))
		return 1;
	if (r <= 0 || asy__tcfg.fmt == ASY_TFMT_CHROME)
		return 0;
	buf[r] = 0;
	char *nl = strchr(buf, '\n'), *at = strstr(buf, "pid");
	if (!nl || !at || at > nl)
		return 0;
	at += strcspn(at, "0123456789");
	long pid = strtol(at, NULL, 10);
	*nl = 0;
	char again[256]; /* that pid's header is exactly the first line */
	int l = pid > 0 ? asy__writer_header_for(again, sizeof again, (int)pid) : 0;
	if (l <= 0 || (size_t)l != (size_t)(nl - buf) + 1 || memcmp(again, buf, (size_t)l - 1))
		return 0;
	long alive = asy_sys(SYS_kill, pid, 0, 0, 0, 0, 0);
	return alive == 0 || alive == -EPERM ? 2 : 0;
}

int asy__tfile_open(const char *path, const char *hdr, size_t hlen, int *fresh)
{
	/* O_RDWR: tfile_ours() reads the header back.  O_APPEND from the
	 * start: no later fcntl on a number that may no longer be ours. */
	int fl = O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
	long fd = asy_sys(SYS_openat, AT_FDCWD, path, fl, 0600, 0, 0);
	if (fd < 0)
		return (int)fd;
	int r = tfile_check((int)fd);
	int ours = r > 0 && hlen ? tfile_ours((int)fd, hdr, hlen) : 1;
	*fresh = ours != 1; /* a header of its own, after another's lines too */
	if (r >= 0 && !ours)
		r = (int)asy_sys(SYS_ftruncate, fd, 0, 0, 0, 0, 0);
	if (r < 0 && r != -EBADF) /* EBADF: closed by another thread, maybe reused */
		asy_sys_close((int)fd);
	return r < 0 ? r : (int)fd;
}

/* Remember which file output i's fd names; 0, or -1 when fd is not open. */
static int note(int i, int fd)
{
	struct stat st;
	if (fd < 0 || asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) < 0)
		return -1;
	atomic_store(&outs[i].dev, (uint64_t)st.st_dev);
	atomic_store(&outs[i].ino, (uint64_t)st.st_ino);
	return 0;
}

/* Whether fd still names output i's file: a close we cannot see (a raw
 * close_range system call) may have taken it. */
static int still_ours(int i, int fd)
{
	struct stat st;
	return asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) == 0 &&
	       (uint64_t)st.st_dev == atomic_load(&outs[i].dev) &&
	       (uint64_t)st.st_ino == atomic_load(&outs[i].ino);
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* fd, just opened at path, at a top number of the table (fd closed), or
 * fd itself where there is no room (a low RLIMIT_NOFILE); -EAGAIN when
 * fd stopped being the file at path before it moved: a close we cannot
 * see, on another thread, took the low number and the program opened its
 * own file there (never written to, never closed by us). */
static int place_high(int fd, const char *path)
{
	struct stat want, st;
	if (fd < 0 || asy_sys(SYS_newfstatat, AT_FDCWD, path, &want, 0, 0, 0) < 0)
		return fd;
	int h = asy__copy_high(fd, 1, 0);
	if (h < 0)
		return fd;
	if (asy_sys(SYS_fstat, h, &st, 0, 0, 0, 0) < 0 || !same_file(&st, &want)) {
		asy_sys_close(h);
		return -EAGAIN;
	}
	if (asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) == 0 && same_file(&st, &want))
		asy_sys_close(fd);
	return h;
}

/* fd 2 as it is now, kept even if the program closes 2: high, or (no
 * room there) at 500 or the lowest free number, as before. */
static int dup_stderr(void)
{
	long fd = asy__copy_high(2, 1, 0);
	if (fd < 0)
		fd = asy_sys_fcntl(2, F_DUPFD_CLOEXEC, 500);
	if (fd < 0)
		fd = asy_sys_fcntl(2, F_DUPFD_CLOEXEC, 3);
	return (int)fd;
}

/* Output i for this pid: hdr (hlen bytes) as asy__tfile_open() takes it;
 * fd, or -1 after one warning. */
static int out_open(int i, const char *hdr, size_t hlen, int *owner)
{
	const char *name = out_env[i], *pattern = out_pattern(i);
	char path[4096];
	*owner = 0;
	if (!strcmp(pattern, "stderr")) {
		*owner = 1;
		return dup_stderr();
	}
	if (asy__path_expand(pattern, path, sizeof path, asy__tcfg.pid) < 0) {
		asy__warn("%s=%s: path too long; off", name, pattern);
		return -1;
	}
	int fd = -EAGAIN;
	for (int tries = 0; fd == -EAGAIN && tries < 3; tries++) {
		fd = asy__tfile_open(path, hdr, hlen, owner);
		if (fd == -EBADF) { /* as -EAGAIN below: opened, then closed under us */
			fd = -EAGAIN;
			continue;
		}
		if (fd < 0) {
			asy__warn("%s=%s: cannot write there (%s%s); off", name, path,
				  strerror(-fd),
				  fd == -ELOOP ? ": a symlink is not followed, give the file's own path" :
						 "");
			return -1;
		}
		fd = place_high(fd, path);
	}
	return fd < 0 ? -1 : fd;
}

int asy__tout_open(int i, int *owner)
{
	char hdr[256];
	/* A summary file is only ever appended to: every process of a tree
	 * (and every program a shell runs) adds its table to it. */
	size_t hlen = i == ASY_TOUT_TRACE ? asy__writer_header_text(hdr, sizeof hdr) : 0;
	int fd = out_open(i, hdr, hlen, owner);
	note(i, fd);
	return fd;
}

/* Output i again, appended to (under the lock): lost, or its number no
 * longer ours (not closed then: it is the program's or free). */
static void reopen(int i)
{
	int owner, fd = atomic_load(out_fd[i]);
	if (!atomic_load(&outs[i].lost) && (fd < 0 || still_ours(i, fd)))
		return;
	/* "stderr" comes back only while fd 2 is the file it copied: a
	 * program that put a file of its own there would get the trace in
	 * it.  Otherwise that output ends. */
	if (!strcmp(out_pattern(i), "stderr") && !still_ours(i, 2))
		fd = -1;
	else
		fd = out_open(i, NULL, 0, &owner);
	note(i, fd);
	atomic_store(out_fd[i], fd);
	atomic_store(&outs[i].lost, 0);
}

/* ---- writing ------------------------------------------------------------ */

/* Count this thread among output i's writers and read its number: once
 * a lost output is back, and not before its number is checked to name
 * our file still. */
static int hold(int i)
{
	for (int naps = 0;; naps++) {
		atomic_fetch_add(&outs[i].users, 1);
		int lost = atomic_load(&outs[i].lost), fd = atomic_load(out_fd[i]);
		if (!lost && (fd < 0 || still_ours(i, fd))) {
			tls_writing++;
			return fd;
		}
		atomic_fetch_sub(&outs[i].users, 1);
		/* A closing call reopens what it lost when it returns. */
		if ((!lost || naps >= LOST_WAIT) && take() == 0) {
			reopen(i);
			give();
		} else {
			asy_sys_nanosleep(50000);
		}
	}
}

static void release(int i)
{
	tls_writing--;
	atomic_fetch_sub(&outs[i].users, 1);
}

int asy__tout_write(int i, const char *buf, size_t n)
{
	for (int tries = 0;; tries++) {
		int fd = hold(i);
		long w = fd < 0 ? -EBADF : 0;
		while (n && w >= 0) {
			w = asy_sys_write(fd, buf, n);
			if (w > 0)
				buf += w, n -= (size_t)w;
			else if (w == 0)
				w = -EIO;
			else if (w == -EINTR)
				w = 0;
		}
		release(i);
		/* EBADF: closed between the check and the write by a close we
		 * cannot see; hold() reopens it. */
		if (w >= 0 || w != -EBADF || fd < 0 || tries == 3)
			return w < 0 ? (int)w : 0;
	}
}

/* Until no writer may still write to the number output i had.  Not for
 * a signal handler that interrupted a write on its own thread: it would
 * wait for itself. */
static void wait_writers(int i)
{
	while (atomic_load(&outs[i].users) && !tls_writing)
		asy_sys_nanosleep(20000);
}

void asy__tout_off(int i)
{
	if (take() < 0)
		return;
	int fd = atomic_exchange(out_fd[i], -1);
	wait_writers(i);
	if (fd >= 0 && !atomic_exchange(&outs[i].lost, 0))
		asy_sys_close(fd);
	give();
}

/* ---- a close of the program's ------------------------------------------- */

int asy__trace_in(unsigned lo, unsigned hi)
{
	for (int i = 0; i < ASY_TOUTS; i++)
		if (in_range(atomic_load(out_fd[i]), lo, hi) && !atomic_load(&outs[i].lost))
			return 1;
	return 0;
}

unsigned asy__trace_closing(unsigned lo, unsigned hi)
{
	int saved = errno;
	unsigned lost = 0;
	if (take() < 0)
		return 0;
	for (int i = 0; i < ASY_TOUTS; i++) {
		int fd = atomic_load(out_fd[i]);
		if (!in_range(fd, lo, hi) || atomic_load(&outs[i].lost))
			continue;
		int to = asy__copy_high(fd, lo, hi); /* the same file: note() holds */
		if (to >= 0) {
			atomic_store(out_fd[i], to);
		} else {
			atomic_store(&outs[i].lost, 1);
			lost |= 1u << i;
		}
		wait_writers(i);
		asy_sys_close(fd);
	}
	give();
	errno = saved;
	return lost;
}

void asy__trace_closed(unsigned lost)
{
	int saved = errno;
	if (take() < 0)
		return;
	for (int i = 0; i < ASY_TOUTS; i++)
		if (lost & (1u << i))
			reopen(i);
	give();
	errno = saved;
}

/* ---- fork --------------------------------------------------------------- */

void asy__tout_fork_child(void)
{
	/* The parent's other threads, writers among them, are gone. */
	asy__spin_give(&lock);
	tls_locked = tls_writing = 0;
	for (int i = 0; i < ASY_TOUTS; i++) {
		atomic_store(&outs[i].users, 0);
		reopen(i);
	}
}

void asy__tout_close(int i)
{
	int fd = atomic_exchange(out_fd[i], -1);
	if (fd >= 0)
		asy_sys_close(fd);
}
