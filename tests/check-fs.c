/* Files, part 1: opening and closing (issue 11, "Semantics").  Each case
 * runs without the shim, under off, uring and threads, and inside a
 * coroutine (uring-coro, threads-coro), and must print what plain glibc
 * prints and end the same way: fd numbers (the lowest free one, holes,
 * EMFILE), the flags fcntl sees, O_TMPFILE, O_PATH, every open errno,
 * creat, the fortified open names, close and close_range, a close while
 * another thread reads the fd, and a forked child making these calls.
 * Names, metadata and their errors are in check-fs-names.c, sizes and
 * syncs in check-fs-size.c, locks in check-fs-lock.c, copies in
 * check-fs-copy.c, coroutine-only cases in check-fs-coro.c.
 *
 * Every ABI name is called by that name (open64, creat64, __open_2 …),
 * so that each one the shim exports is reached.  fd numbers are printed
 * relative to the lowest free number at the start of the case. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "t-helpers.h"

#define yes t_yes

/* glibc's fortified entry points, called as a program built with
 * _FORTIFY_SOURCE calls them. */
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dirfd, const char *path, int flags);
extern int __openat64_2(int dirfd, const char *path, int flags);
extern int __open(const char *path, int flags, ...);
extern int __open64(const char *path, int flags, ...);
extern int __close(int fd);
extern int __fcntl(int fd, int cmd, ...);
extern ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);
extern ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len,
				size_t buflen);

static int base; /* the lowest free fd when the case began */

static void start(void)
{
	alarm(10);
	t_fs_dir();
	base = t_lowest_free();
}

/* "what=+N" (relative to base) or "what=-1 ERRNAME". */
static void fd_res(const char *what, int fd)
{
	if (fd < 0)
		t_res(what, fd);
	else
		t_out("%s=+%d\n", what, fd - base);
}

/* ==== fd numbers ====================================================== */

/* Every open call takes the lowest free number: holes first, in order. */
static void fd_lowest_free(void)
{
	int fd[12];
	start();
	t_put("f", "data");
	for (int i = 0; i < 12; i++)
		fd[i] = open("f", O_RDONLY);
	for (int i = 1; i < 12; i += 2)
		close(fd[i]); /* holes at +1 +3 +5 +7 +9 +11 */
	fd_res("open", open("f", O_RDONLY));
	fd_res("openat", openat(AT_FDCWD, "f", O_RDONLY));
	fd_res("creat", creat("g", 0644));
	fd_res("open64", open64("f", O_RDONLY));
	fd_res("openat64", openat64(AT_FDCWD, "f", O_RDONLY));
	fd_res("creat64", creat64("h", 0644));
	fd_res("next", open("f", O_RDONLY));
	close(fd[4]);
	close(fd[2]);
	fd_res("__open_2", __open_2("f", O_RDONLY));
	fd_res("__openat_2", __openat_2(AT_FDCWD, "f", O_RDONLY));
	close(fd[6]);
	close(fd[8]);
	fd_res("__open64_2", __open64_2("f", O_RDONLY));
	fd_res("__openat64_2", __openat64_2(AT_FDCWD, "f", O_RDONLY));
	close(fd[10]);
	close(fd[3]);
	fd_res("__open", __open("f", O_RDONLY));
	fd_res("__open64", __open64("f", O_RDONLY));
	t_res("__close", __close(fd[3]));
	fd_res("__fcntl-dupfd", __fcntl(fd[0], F_DUPFD, 0));
	fd_res("failed-open", open("missing", O_RDONLY));
	close(fd[0]);
	fd_res("after-failure", open("f", O_RDONLY));
}

/* The flags the program asked for are the ones fcntl sees. */
static void fd_flags_visible(void)
{
	start();
	t_put("f", "data");
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	static const struct { const char *name; int flags; } opens[] = {
		{ "rdonly", O_RDONLY }, { "wronly", O_WRONLY }, { "rdwr", O_RDWR },
		{ "cloexec", O_RDONLY | O_CLOEXEC }, { "nonblock", O_RDWR | O_NONBLOCK },
		{ "append", O_WRONLY | O_APPEND }, { "all", O_RDWR | O_CLOEXEC | O_NONBLOCK | O_APPEND },
		{ "noatime", O_RDONLY | O_NOATIME }, { "sync", O_WRONLY | O_SYNC },
	};
	for (size_t i = 0; i < sizeof opens / sizeof opens[0]; i++) {
		int a = open("f", opens[i].flags), b = openat(dir, "f", opens[i].flags);
		t_out("%s: %s", opens[i].name, t_fdflags(a));
		t_out(" / openat %s\n", t_fdflags(b));
		close(a);
		close(b);
	}
	int c = creat("g", 0600);
	t_out("creat: %s\n", t_fdflags(c));
	fcntl(c, F_SETFD, FD_CLOEXEC);
	fcntl(c, F_SETFL, O_NONBLOCK | O_APPEND);
	t_out("after fcntl: %s\n", t_fdflags(c));
	int d = fcntl(c, F_DUPFD_CLOEXEC, 0);
	t_out("dup: %s shares-flags=%s\n", t_fdflags(d),
	      yes((fcntl(d, F_GETFL) & O_APPEND) != 0));
}

/* O_TMPFILE: a file with no name, made visible with linkat through
 * /proc/self/fd; O_EXCL forbids that; it needs write access. */
static void fd_tmpfile_linkat(void)
{
	struct stat st;
	char proc[64];
	start();
	int fd = open(".", O_TMPFILE | O_RDWR, 0640);
	fd_res("tmpfile", fd);
	t_res("write", write(fd, "unnamed", 7));
	t_stat_res("fstat", fstat(fd, &st), &st);
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	t_res("linkat", linkat(AT_FDCWD, proc, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
	t_stat_res("fstat-after", fstat(fd, &st), &st);
	t_out("named: %s\n", t_get("named"));
	t_res("linkat-again", linkat(AT_FDCWD, proc, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
	t_res("linkat-empty-path", linkat(fd, "", AT_FDCWD, "second", AT_EMPTY_PATH));
	int ex = open(".", O_TMPFILE | O_WRONLY | O_EXCL, 0600);
	fd_res("tmpfile-excl", ex);
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", ex);
	t_res("linkat-excl", linkat(AT_FDCWD, proc, AT_FDCWD, "never", AT_SYMLINK_FOLLOW));
	t_res("tmpfile-rdonly", open(".", O_TMPFILE | O_RDONLY, 0600));
	t_put("file", "x");
	t_res("tmpfile-on-file", open("file", O_TMPFILE | O_RDWR, 0600));
	t_res("tmpfile-missing-dir", open("nodir", O_TMPFILE | O_RDWR, 0600));
	t_res("tmpfile64", open64(".", O_TMPFILE | O_RDWR, 0600) >= 0);
}

/* O_PATH: fstat and *at calls work, data calls give EBADF. */
static void fd_o_path(void)
{
	struct stat st;
	char b[8];
	start();
	t_put("f", "data");
	mkdir("d", 0755);
	t_put("d/inner", "in");
	symlink("f", "link");
	int fd = open("f", O_PATH);
	fd_res("open", fd);
	t_out("flags: %s\n", t_fdflags(fd));
	t_stat_res("fstat", fstat(fd, &st), &st);
	t_stat_res("fstatat-empty", fstatat(fd, "", &st, AT_EMPTY_PATH), &st);
	t_res("read", read(fd, b, sizeof b));
	t_res("write", write(fd, "x", 1));
	t_res("pread", pread(fd, b, sizeof b, 0));
	t_res("fsync", fsync(fd));
	t_res("ftruncate", ftruncate(fd, 0));
	t_res("flock", flock(fd, LOCK_SH));
	t_res("fallocate", fallocate(fd, 0, 0, 10));
	int d = open("d", O_PATH | O_DIRECTORY);
	int in = openat(d, "inner", O_RDONLY);
	t_out("openat via O_PATH dir: %s\n", t_fd_get(in));
	int l = open("link", O_PATH | O_NOFOLLOW);
	t_stat_res("symlink itself", fstatat(l, "", &st, AT_EMPTY_PATH), &st);
	t_res("close", close(fd));
	t_res("close-again", close(fd));
}

/* Every way open refuses, each with its errno. */
static void fd_open_errors(void)
{
	char longname[NAME_MAX + 2];
	start();
	t_put("f", "data");
	mkdir("d", 0755);
	symlink("f", "link");
	symlink("nowhere", "dangling");
	symlink("loop1", "loop2");
	symlink("loop2", "loop1");
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	int dfd = open("d", O_RDONLY | O_DIRECTORY), ffd = open("f", O_RDONLY);
	t_res("excl-existing", open("f", O_CREAT | O_EXCL | O_RDWR, 0644));
	t_res("excl-dangling-symlink", open("dangling", O_CREAT | O_EXCL | O_RDWR, 0644));
	t_res("creat-through-dangling", open("dangling", O_CREAT | O_RDWR, 0644) >= 0);
	t_out("dangling now: %s\n", t_get("nowhere"));
	t_res("nofollow-symlink", open("link", O_RDONLY | O_NOFOLLOW));
	t_res("nofollow-file", open("f", O_RDONLY | O_NOFOLLOW) >= 0);
	t_res("directory-on-file", open("f", O_RDONLY | O_DIRECTORY));
	t_res("directory-on-symlink-to-file", open("link", O_RDONLY | O_DIRECTORY));
	t_res("creat-directory", open("new", O_CREAT | O_DIRECTORY | O_RDWR, 0644));
	t_res("missing", open("missing", O_RDONLY));
	t_res("missing-dir", open("nodir/f", O_RDONLY));
	t_res("file-as-dir", open("f/x", O_RDONLY));
	t_res("dir-wronly", open("d", O_WRONLY));
	t_res("dir-rdwr", open("d", O_RDWR));
	t_res("dir-creat", open("d", O_CREAT | O_RDONLY, 0644));
	t_res("dir-rdonly", open("d", O_RDONLY) >= 0);
	t_res("name-too-long", open(longname, O_RDONLY));
	t_res("symlink-loop", open("loop1", O_RDONLY));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* (the sanitizers' own open reads the path first) */
	t_res("efault", open((const char *)8, O_RDONLY));
#endif
	t_res("empty-path", open("", O_RDONLY));
	t_res("openat-ebadf", openat(999, "f", O_RDONLY));
	t_res("openat-dirfd-file", openat(ffd, "f", O_RDONLY));
	t_res("openat-absolute-ignores-dirfd", openat(999, "/dev/null", O_RDONLY) >= 0);
	t_res("openat-dir", openat(dfd, "../f", O_RDONLY) >= 0);
	t_res("openat64-ebadf", openat64(999, "f", O_RDONLY));
	t_res("creat-on-dir", creat("d", 0644));
	t_res("creat64-missing-dir", creat64("nodir/x", 0644));
	t_res("fifo-wronly-nonblock-no-reader", (mkfifo("fifo", 0600), open("fifo", O_WRONLY |
										  O_NONBLOCK)));
	t_res("fifo-rdonly-nonblock", open("fifo", O_RDONLY | O_NONBLOCK) >= 0);
	t_res("fifo-rdwr", open("fifo", O_RDWR) >= 0);
	t_res("trunc-rdonly", open("f", O_RDONLY | O_TRUNC) >= 0);
	t_out("after O_TRUNC: '%s'\n", t_get("f"));
}

/* EMFILE under a low RLIMIT_NOFILE, for every open name; the numbers
 * come back once the limit allows them. */
static void fd_emfile(void)
{
	struct rlimit old, rl;
	start();
	t_put("f", "data");
	getrlimit(RLIMIT_NOFILE, &old);
	rl = old;
	rl.rlim_cur = (rlim_t)base + 1;
	setrlimit(RLIMIT_NOFILE, &rl);
	int last = open("f", O_RDONLY);
	fd_res("last-free", last);
	t_res("open", open("f", O_RDONLY));
	t_res("openat", openat(AT_FDCWD, "f", O_RDONLY));
	t_res("creat", creat("g", 0644));
	t_res("open64", open64("f", O_RDONLY));
	t_res("openat64", openat64(AT_FDCWD, "f", O_RDONLY));
	t_res("creat64", creat64("g", 0644));
	t_res("__open_2", __open_2("f", O_RDONLY));
	t_res("tmpfile", open(".", O_TMPFILE | O_RDWR, 0600));
	t_out("g created anyway: %s\n", yes(access("g", F_OK) == 0));
	close(last);
	fd_res("after-close", open("f", O_RDONLY));
	rl.rlim_cur = (rlim_t)base;
	setrlimit(RLIMIT_NOFILE, &rl);
	t_res("below-open-fds", open("f", O_RDONLY));
	setrlimit(RLIMIT_NOFILE, &old);
	fd_res("restored", open("f", O_RDONLY));
}

/* creat truncates an existing file and keeps its mode; a new one gets
 * mode & ~umask. */
static void fd_creat_truncates(void)
{
	struct stat st;
	start();
	t_put("f", "old contents");
	chmod("f", 0604);
	umask(027);
	int fd = creat("f", 0777);
	t_out("creat: %s\n", t_fdflags(fd));
	t_stat_res("existing", fstat(fd, &st), &st);
	t_res("write", write(fd, "new", 3));
	t_res("read", read(fd, (char[4]){ 0 }, 3));
	close(fd);
	t_out("contents: '%s'\n", t_get("f"));
	fd = creat("g", 0666);
	t_stat_res("new-027", fstat(fd, &st), &st);
	umask(077);
	fd = creat64("h", 0666);
	t_stat_res("new64-077", fstat(fd, &st), &st);
	umask(0);
	fd = open("i", O_CREAT | O_WRONLY, 07777);
	t_stat_res("open-07777-umask0", fstat(fd, &st), &st);
	fd = openat(AT_FDCWD, "j", O_CREAT | O_WRONLY | O_TRUNC, 0640);
	t_stat_res("openat-0640", fstat(fd, &st), &st);
}

/* The fortified names abort on O_CREAT or O_TMPFILE without a mode, as
 * glibc's do (with its message on stderr), before anything is created:
 * no scratch directory (abort() would leave it behind). */
#define NEVER "/tmp/asy-fs-never-created"
static void fortify_open_2_creat(void) { __open_2(NEVER, O_CREAT | O_RDWR); }
static void fortify_open64_2_creat(void) { __open64_2(NEVER, O_CREAT | O_RDWR); }
static void fortify_openat_2_tmpfile(void) { __openat_2(AT_FDCWD, "/tmp", O_TMPFILE | O_RDWR); }
static void fortify_openat64_2_creat(void) { __openat64_2(AT_FDCWD, NEVER, O_CREAT | O_WRONLY); }

/* __readlink_chk and __readlinkat_chk: within the buffer, readlink;
 * a length beyond it, glibc's buffer overflow abort. */
static void fortify_readlink_chk(void)
{
	char b[8];
	t_res("within", __readlink_chk("/proc/self/cwd", b, sizeof b, sizeof b));
	t_res("at-within", __readlinkat_chk(AT_FDCWD, "/proc/self/cwd", b, 4, sizeof b));
	t_res("missing", __readlink_chk("/nonexistent", b, sizeof b, sizeof b));
	t_res("beyond", __readlink_chk("/proc/self/cwd", b, sizeof b + 1, sizeof b));
}

static void fortify_readlinkat_chk(void)
{
	char b[8];
	t_res("beyond", __readlinkat_chk(AT_FDCWD, "/proc/self/cwd", b, 100, sizeof b));
}

/* ==== close ============================================================ */

static void fd_close(void)
{
	start();
	t_put("f", "data");
	int fd = open("f", O_RDONLY);
	errno = EDOM;
	t_res("close", close(fd));
	t_out("errno kept: %s\n", yes(errno == EDOM));
	t_res("close-again", close(fd));
	t_res("close-999", close(999));
	t_res("close-minus-1", close(-1));
	t_res("close-stdin-dup", close(dup(0)));
}

static void show_open(const char *what, int from, int n)
{
	t_out("%s:", what);
	for (int i = 0; i < n; i++) {
		int f = fcntl(from + i, F_GETFD);
		t_out(" %s", f < 0 ? "-" : f & FD_CLOEXEC ? "c" : "o");
	}
	t_out("\n");
}

/* close_range closes exactly its range, CLOSE_RANGE_CLOEXEC only marks
 * it; bad flags and a reversed range are EINVAL. */
static void fd_close_range(void)
{
	start();
	t_put("f", "data");
	for (int i = 0; i < 10; i++)
		open("f", O_RDONLY);
	show_open("opened", base, 10);
	t_res("range-2-4", close_range((unsigned)base + 2, (unsigned)base + 4, 0));
	show_open("after", base, 10);
	t_res("cloexec-5-7", close_range((unsigned)base + 5, (unsigned)base + 7, CLOSE_RANGE_CLOEXEC));
	show_open("cloexec", base, 10);
	t_res("bad-flags", close_range((unsigned)base, (unsigned)base + 1, 0x80));
	t_res("reversed", close_range((unsigned)base + 1, (unsigned)base, 0));
	t_res("beyond", close_range(900000, ~0U, 0));
	t_res("to-the-end", close_range((unsigned)base + 1, ~0U, 0));
	show_open("end", base, 10);
	fd_res("lowest", open("f", O_RDONLY));
}

/* CLOSE_RANGE_UNSHARE: the calling thread gets an fd table of its own,
 * without the range; the calls it makes afterwards use that table. */
static void fd_close_range_unshare(void)
{
	start();
	t_put("f", "data");
	for (int i = 0; i < 4; i++)
		open("f", O_RDONLY);
	t_res("unshare", close_range((unsigned)base + 1, (unsigned)base + 2, CLOSE_RANGE_UNSHARE));
	show_open("after", base, 4);
	int fd = open("f", O_RDONLY);
	fd_res("open", fd);
	t_out("read: '%s'\n", t_fd_get(fd));
	t_res("close", close(fd));
	t_res("close-again", close(fd));
	show_open("end", base, 4);
}

/* Another thread is blocked in read on a pipe when this one closes the
 * read end: the read goes on with the file it started with (Linux) and
 * ends with the bytes written later, or at EOF when the writer closes. */
struct reader {
	int fd;
	long n;
	char buf[16];
	pid_t tid;
	_Atomic int started;
};

static void *read_pipe(void *arg)
{
	struct reader *r = arg;
	r->tid = t_gettid();
	r->started = 1;
	/* A raw read: the call under test is the other thread's close (and
	 * ThreadSanitizer, which calls a close beside a read of the same fd
	 * a race, sees no read to report). */
	r->n = syscall(SYS_read, r->fd, r->buf, sizeof r->buf);
	if (r->n < 0)
		r->n = -errno;
	return NULL;
}

static void close_under_reader(int writer_closes)
{
	int p[2];
	pthread_t th;
	struct reader r = { 0 };
	pipe(p);
	r.fd = p[0];
	pthread_create(&th, NULL, read_pipe, &r);
	while (!r.started)
		t_msleep(1);
	t_wait_blocked(r.tid);
	t_res("close-read-end", close(p[0]));
	t_res("fd-gone", fcntl(p[0], F_GETFD));
	if (writer_closes)
		t_res("close-write-end", close(p[1]));
	else
		t_res("write", write(p[1], "late", 4));
	pthread_join(th, NULL);
	if (r.n < 0)
		t_out("reader: -1 %s\n", t_errname((int)-r.n));
	else
		t_out("reader: %ld '%.*s'\n", r.n, (int)r.n, r.buf);
}

static void fd_close_while_reading(void)
{
	start();
	t_out("-- data\n");
	close_under_reader(0);
	t_out("-- eof\n");
	close_under_reader(1);
}

/* ==== fork ============================================================== */

/* A child made by fork under the shim makes these calls and sees what a
 * child of plain glibc sees; the parent sees what it did. */
static void fd_fork_child(void)
{
	struct stat st;
	int p[2], st_child;
	start();
	t_put("src", "from the parent");
	int keep = open("src", O_RDONLY);
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		char line[512];
		int n = 0, fd = open("child", O_CREAT | O_RDWR | O_EXCL, 0600);
		n += snprintf(line + n, sizeof line - (size_t)n, "child open=+%d", fd - base);
		n += snprintf(line + n, sizeof line - (size_t)n, " sendfile=%ld",
			      (long)sendfile(fd, keep, NULL, 100));
		n += snprintf(line + n, sizeof line - (size_t)n, " flock=%d", flock(fd, LOCK_EX));
		n += snprintf(line + n, sizeof line - (size_t)n, " rename=%d",
			      rename("child", "renamed"));
		n += snprintf(line + n, sizeof line - (size_t)n, " stat=%d",
			      stat("renamed", &st));
		n += snprintf(line + n, sizeof line - (size_t)n, " size=%ld", (long)st.st_size);
		n += snprintf(line + n, sizeof line - (size_t)n, " unlink-src=%d", unlink("src"));
		n += snprintf(line + n, sizeof line - (size_t)n, " close=%d\n", close(fd));
		write(p[1], line, (size_t)n);
		_exit(0);
	}
	close(p[1]);
	char b[512];
	long n = read(p[0], b, sizeof b - 1);
	b[n > 0 ? n : 0] = 0;
	waitpid(pid, &st_child, 0);
	t_out("%sstatus=%d\n", b, st_child);
	t_out("parent: renamed='%s' src gone=%s\n", t_get("renamed"),
	      yes(access("src", F_OK) < 0 && errno == ENOENT));
	t_res("parent position shared", lseek(keep, 0, SEEK_CUR));
	fd_res("parent open", open("renamed", O_RDONLY));
}

/* ==== the table ========================================================
 * T_NOCORO: the case forks (the coroutine variants do not fork). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(fd_lowest_free, 0),
	C(fd_flags_visible, 0),
	C(fd_tmpfile_linkat, 0),
	C(fd_o_path, 0),
	C(fd_open_errors, 0),
	C(fd_emfile, 0),
	C(fd_creat_truncates, 0),
	C(fortify_open_2_creat, T_STDERR),
	C(fortify_open64_2_creat, T_STDERR),
	C(fortify_openat_2_tmpfile, T_STDERR),
	C(fortify_openat64_2_creat, T_STDERR),
	C(fortify_readlink_chk, T_STDERR),
	C(fortify_readlinkat_chk, T_STDERR),
	C(fd_close, 0),
	C(fd_close_range, 0),
	C(fd_close_range_unshare, 0),
	C(fd_close_while_reading, 0),
	C(fd_fork_child, T_NOCORO),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	t_fs_helper_main(argc, argv);
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "fs", 150);
}
