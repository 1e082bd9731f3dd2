/* Files, part 2: names and metadata (issue 11, "Semantics").  Same
 * variants and rules as check-fs.c: the stat family against each other,
 * statx's mask, readlink's truncation, access and faccessat, unlink,
 * rmdir, rename and renameat2, mkdir and the umask, link, symlink, and
 * each errno class (ENOENT, EEXIST, ENOTDIR, EISDIR, EACCES, EPERM, EXDEV,
 * ENOTEMPTY, EROFS, ETXTBSY, EBUSY, EFAULT, EBADF). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "t-helpers.h"

#define yes t_yes

extern char **environ;

/* Bad path pointers only where no sanitizer reads the path first (their
 * interceptors would fault in the test, not in the call). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BAD_PATHS 0
#else
#define BAD_PATHS 1
#endif
/* (volatile: the compiler must not see that it is bad) */
static void *volatile bad_ptr = (void *)8;
#define BAD bad_ptr

static void start(void)
{
	alarm(10);
	t_fs_dir();
	t_put("f", "data");
	mkdir("d", 0755);
	symlink("f", "link");
	symlink("nowhere", "dangling");
	mkfifo("fifo", 0600);
}

/* ==== the stat family =================================================== */

/* Each name of each stat call, on a file, a directory, a FIFO and a
 * symlink: the same inode, type, mode and size. */
static void one_kind(const char *name)
{
	struct stat a, b;
	struct stat64 c;
	struct statx x;
	int dir = open(".", O_RDONLY | O_DIRECTORY), fd = open(name, O_RDONLY | O_NONBLOCK);
	t_out("-- %s\n", name);
	t_stat_res("stat", stat(name, &a), &a);
	ino_t ino = a.st_ino;
	int same = 1;
	t_stat_res("lstat", lstat(name, &b), &b);
	int lsame = b.st_ino == ino;
	t_stat_res("fstat", fstat(fd, &b), &b);
	same &= b.st_ino == ino;
	t_stat_res("fstatat", fstatat(dir, name, &b, 0), &b);
	same &= b.st_ino == ino;
	t_stat_res("fstatat-nofollow", fstatat(dir, name, &b, AT_SYMLINK_NOFOLLOW), &b);
	lsame &= b.st_ino == ino;
	t_stat_res("fstatat-empty", fstatat(fd, "", &b, AT_EMPTY_PATH), &b);
	same &= b.st_ino == ino;
	t_res("stat64", stat64(name, &c));
	same &= c.st_ino == ino && c.st_size == a.st_size && c.st_mode == a.st_mode;
	t_res("lstat64", lstat64(name, &c));
	lsame &= c.st_ino == ino;
	t_res("fstat64", fstat64(fd, &c));
	same &= c.st_ino == ino && c.st_nlink == a.st_nlink;
	t_res("fstatat64", fstatat64(dir, name, &c, 0));
	same &= c.st_ino == ino;
	t_res("statx", statx(dir, name, 0, STATX_BASIC_STATS, &x));
	same &= x.stx_ino == ino && x.stx_size == (unsigned long long)a.st_size &&
		x.stx_mode == a.st_mode && x.stx_nlink == a.st_nlink;
	t_res("statx-nofollow", statx(dir, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x));
	lsame &= x.stx_ino == ino;
	t_out("same inode, mode, size: %s; nofollow names the same: %s\n", yes(same), yes(lsame));
	close(fd);
	close(dir);
}

static void names_stat_family(void)
{
	start();
	one_kind("f");
	one_kind("d");
	one_kind("fifo");
	one_kind("link");
}

/* statx: the mask the kernel fills in for what was asked, and its own
 * argument checks. */
static void names_statx_mask(void)
{
	struct statx x;
	struct stat st;
	start();
	static const struct { const char *name; unsigned mask; } asks[] = {
		{ "basic", STATX_BASIC_STATS }, { "ino", STATX_INO }, { "size", STATX_SIZE },
		{ "type-mode", STATX_TYPE | STATX_MODE }, { "btime", STATX_BTIME },
		{ "all", STATX_ALL }, { "none", 0 },
	};
	for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
		memset(&x, 0xa5, sizeof x);
		long r = statx(AT_FDCWD, "f", 0, asks[i].mask, &x);
		t_out("%s: r=%ld basic=%s btime=%s size-right=%s\n", asks[i].name, r,
		      yes((x.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS),
		      yes(x.stx_mask & STATX_BTIME), yes(x.stx_size == 4));
	}
	stat("f", &st);
	statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS | STATX_BTIME, &x);
	t_out("agrees with stat: %s\n",
	      yes(x.stx_ino == st.st_ino && x.stx_blocks == (unsigned long long)st.st_blocks &&
		  x.stx_mtime.tv_sec == st.st_mtim.tv_sec &&
		  x.stx_mtime.tv_nsec == (unsigned)st.st_mtim.tv_nsec &&
		  x.stx_blksize == (unsigned)st.st_blksize));
	t_res("reserved-mask", statx(AT_FDCWD, "f", 0, STATX__RESERVED, &x));
	t_res("bad-flags", statx(AT_FDCWD, "f", 0x40000000, STATX_BASIC_STATS, &x));
	t_res("sync-and-dont", statx(AT_FDCWD, "f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC,
				     STATX_BASIC_STATS, &x));
	t_res("force-sync", statx(AT_FDCWD, "f", AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &x));
	int fd = open("f", O_RDONLY);
	t_res("empty-path", statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &x));
	t_out("size=%llu\n", (unsigned long long)x.stx_size);
	t_res("missing", statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &x));
	t_res("ebadf", statx(999, "f", 0, STATX_BASIC_STATS, &x));
	t_res("enotdir-dirfd", statx(fd, "f", 0, STATX_BASIC_STATS, &x));
	t_res("efault-buf", statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, BAD));
}

/* The stat family's errors. */
static void names_stat_errors(void)
{
	struct stat st;
	struct stat64 st64;
	char longname[NAME_MAX + 2];
	start();
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	symlink("loop1", "loop2");
	symlink("loop2", "loop1");
	int fd = open("f", O_RDONLY);
	t_res("enoent", stat("missing", &st));
	t_res("dangling", stat("dangling", &st));
	t_stat_res("dangling-lstat", lstat("dangling", &st), &st);
	t_res("enotdir", stat("f/x", &st));
	t_res("eloop", stat("loop1", &st));
	t_res("enametoolong", lstat(longname, &st));
	t_res("empty", stat("", &st));
	t_res("fstat-ebadf", fstat(999, &st));
	t_res("fstat64-ebadf", fstat64(-1, &st64));
	t_res("fstatat-ebadf", fstatat(999, "f", &st, 0));
	t_res("fstatat-absolute-ebadf", fstatat(999, "/", &st, 0));
	t_res("fstatat-bad-flag", fstatat(AT_FDCWD, "f", &st, 0x1));
	t_res("fstatat-dirfd-file", fstatat(fd, "x", &st, 0));
	t_stat_res("fstatat-cwd-empty", fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH), &st);
	t_res("stat-efault-buf", stat("f", BAD));
	t_res("fstat-efault-buf", fstat(fd, BAD));
	t_res("lstat64-efault-buf", lstat64("f", BAD));
#if BAD_PATHS
	t_res("stat-efault-path", stat(BAD, &st));
	t_res("fstatat-efault-path", fstatat(AT_FDCWD, BAD, &st, 0));
#endif
}

/* readlink: no NUL, the count is what fitted; EINVAL for a size of 0 or
 * what is not a symlink. */
static void names_readlink(void)
{
	char b[64];
	start();
	symlink("a-longer-target-name", "long");
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	memset(b, 'X', sizeof b);
	long n = readlink("long", b, sizeof b);
	t_out("full=%ld '%.*s' nul-after=%s\n", n, (int)(n > 0 ? n : 0), b, yes(b[n] == 0));
	memset(b, 'X', sizeof b);
	n = readlink("long", b, 3);
	t_out("truncated=%ld '%.4s'\n", n, b);
	memset(b, 'X', sizeof b);
	n = readlinkat(dir, "long", b, 5);
	t_out("readlinkat=%ld '%.6s'\n", n, b);
	t_res("size-0", readlink("long", b, 0));
	t_res("not-symlink", readlink("f", b, sizeof b));
	t_res("dir", readlink("d", b, sizeof b));
	t_res("missing", readlink("missing", b, sizeof b));
	t_res("dangling", readlink("dangling", b, sizeof b));
	t_res("through-file", readlink("f/x", b, sizeof b));
	int l = open("long", O_PATH | O_NOFOLLOW);
	memset(b, 'X', sizeof b);
	n = readlinkat(l, "", b, sizeof b);
	t_out("empty-path=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
	t_res("readlinkat-ebadf", readlinkat(999, "long", b, sizeof b));
	t_res("readlinkat-dirfd-file", readlinkat(open("f", O_RDONLY), "long", b, sizeof b));
	t_res("efault-buf", readlink("long", BAD, sizeof b));
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", l);
	n = readlink(proc, b, sizeof b);
	t_out("proc-fd=%s ends-with-long=%s\n", n > 0 ? "ok" : t_errname(errno),
	      yes(n >= 5 && !memcmp(b + n - 5, "/long", 5)));
}

/* access and faccessat: every mode on files of every permission; the
 * flags. */
static void names_access(void)
{
	static const int modes[] = { 0000, 0400, 0200, 0100, 0644, 0755 };
	static const struct { const char *name; int m; } what[] = {
		{ "F", F_OK }, { "R", R_OK }, { "W", W_OK }, { "X", X_OK }, { "RWX", R_OK | W_OK | X_OK },
	};
	start();
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		char name[16];
		snprintf(name, sizeof name, "m%04o", modes[i]);
		t_put(name, "x");
		chmod(name, (mode_t)modes[i]);
		t_out("%s:", name);
		for (size_t k = 0; k < sizeof what / sizeof what[0]; k++) {
			int a = access(name, what[k].m), e = a < 0 ? errno : 0;
			int b = faccessat(AT_FDCWD, name, what[k].m, AT_EACCESS);
			t_out(" %s=%s/%s", what[k].name, a < 0 ? t_errname(e) : "0",
			      b < 0 ? t_errname(errno) : "0");
		}
		t_out("\n");
	}
	t_res("dir-X", access("d", X_OK));
	t_res("dangling-F", access("dangling", F_OK));
	t_res("dangling-nofollow", faccessat(AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
	t_res("link-nofollow-W", faccessat(AT_FDCWD, "link", W_OK, AT_SYMLINK_NOFOLLOW));
	t_res("empty-path", faccessat(open("f", O_RDONLY), "", R_OK, AT_EMPTY_PATH));
	t_res("bad-mode", access("f", 8));
	t_res("bad-flags", faccessat(AT_FDCWD, "f", R_OK, 0x1));
	t_res("ebadf", faccessat(999, "f", R_OK, 0));
	t_res("enotdir", access("f/x", F_OK));
	t_res("enoent", access("missing", F_OK));
#if BAD_PATHS
	t_res("efault", access(BAD, F_OK));
#endif
	t_res("erofs-none", access("/proc/self/status", W_OK));
}

/* EACCES from permissions: as another user when running as root (the
 * effective uid only, so that the case can come back and clean up), as
 * the owner of mode-0 files otherwise. */
static void names_eacces(void)
{
	struct stat st;
	start();
	mkdir("closed", 0700);
	t_put("closed/inner", "secret");
	mkdir("ro", 0555);
	t_put("nobody", "x");
	chmod("nobody", 0000);
	chmod(".", 0755);
	int root = geteuid() == 0;
	if (root && (setegid(65534) < 0 || seteuid(65534) < 0)) {
		t_out("cannot become uid 65534: %s\n", t_errname(errno));
		return;
	}
	if (!root)
		chmod("closed", 0000); /* the owner cannot search a mode-0 dir */
	t_res("open-mode0", open("nobody", O_RDONLY));
	t_res("open-wr-mode0", open("nobody", O_WRONLY));
	t_res("stat-in-closed", stat("closed/inner", &st));
	t_res("open-in-closed", open("closed/inner", O_RDONLY));
	t_res("creat-in-ro", creat("ro/new", 0644));
	t_res("mkdir-in-ro", mkdir("ro/new", 0755));
	t_res("symlink-in-ro", symlink("f", "ro/new"));
	t_res("rename-into-ro", rename("nobody", "ro/new"));
	t_res("faccessat-eaccess", faccessat(AT_FDCWD, "nobody", R_OK, AT_EACCESS));
	t_res("truncate-mode0", truncate("nobody", 0));
	t_res("statx-in-closed", statx(AT_FDCWD, "closed/inner", 0, STATX_SIZE, &(struct statx){ 0 }));
	if (root && (seteuid(0) < 0 || setegid(0) < 0))
		t_out("cannot come back: %s\n", t_errname(errno));
	chmod("closed", 0700);
}

/* glibc's names from before 2.33, as old binaries link them: a version
 * argument first (EINVAL for one glibc does not know). */
extern int __xstat(int ver, const char *path, struct stat *st);
extern int __xstat64(int ver, const char *path, struct stat64 *st);
extern int __lxstat(int ver, const char *path, struct stat *st);
extern int __lxstat64(int ver, const char *path, struct stat64 *st);
extern int __fxstat(int ver, int fd, struct stat *st);
extern int __fxstat64(int ver, int fd, struct stat64 *st);
extern int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
extern int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
#if defined(__x86_64__)
#define STAT_VER 1
#else
#define STAT_VER 0
#endif

static void names_xstat(void)
{
	struct stat st, want, lwant;
	struct stat64 st64;
	start();
	stat("f", &want);
	lstat("link", &lwant);
	int fd = open("f", O_RDONLY);
	for (int ver = STAT_VER; ver <= 99; ver += 99 - STAT_VER) {
		t_out("-- version %s\n", ver == STAT_VER ? "right" : "99");
		t_res("__xstat", __xstat(ver, "link", &st));
		t_out("  same=%s\n", yes(st.st_ino == want.st_ino && st.st_size == want.st_size));
		t_res("__xstat64", __xstat64(ver, "f", &st64));
		t_res("__lxstat", __lxstat(ver, "link", &st));
		t_out("  the link=%s\n", yes(st.st_ino == lwant.st_ino));
		t_res("__lxstat64", __lxstat64(ver, "link", &st64));
		t_res("__fxstat", __fxstat(ver, fd, &st));
		t_res("__fxstat64", __fxstat64(ver, fd, &st64));
		t_res("__fxstatat", __fxstatat(ver, AT_FDCWD, "link", &st, AT_SYMLINK_NOFOLLOW));
		t_out("  the link=%s\n", yes(st.st_ino == lwant.st_ino));
		t_res("__fxstatat64", __fxstatat64(ver, AT_FDCWD, "f", &st64, 0));
		memset(&st, 0, sizeof st);
	}
	t_res("__xstat-missing", __xstat(STAT_VER, "missing", &st));
	t_res("__fxstat-ebadf", __fxstat(STAT_VER, 999, &st));
	t_res("__fxstatat-bad-flag", __fxstatat(STAT_VER, AT_FDCWD, "f", &st, 0x1));
	t_res("__xstat-efault-buf", __xstat(STAT_VER, "f", BAD));
}

/* /proc/thread-self names the thread that looks it up: here, the case's
 * own thread, however the path is spelled. */
static void names_thread_self(void)
{
	char want[64], b[64], name[16] = "asy-fs-case";
	start();
	prctl(PR_SET_NAME, name);
	snprintf(want, sizeof want, "%d/task/%d", (int)getpid(), (int)t_gettid());
	long n = readlink("/proc/thread-self", b, sizeof b - 1);
	b[n > 0 ? n : 0] = 0;
	t_out("readlink names this thread: %s\n", yes(!strcmp(b, want)));
	static const char *const paths[] = {
		"/proc/thread-self/comm", "//proc/thread-self/comm", "/proc/./thread-self/comm",
		"/proc/../proc/thread-self/comm", "thread-self/comm",
	};
	int proc = open("/proc", O_RDONLY | O_DIRECTORY);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		if (i == 4 && chdir("/proc") < 0)
			break;
		const char *got = t_get(paths[i]);
		t_out("%s: %s\n", paths[i], !strncmp(got, name, strlen(name)) ? "this thread" :
		      "another thread");
	}
	int fd = openat(proc, "thread-self/comm", O_RDONLY);
	t_out("openat(/proc, thread-self/comm): %s\n",
	      !strncmp(t_fd_get(fd), name, strlen(name)) ? "this thread" : "another thread");
	struct stat a, c;
	char task[64];
	snprintf(task, sizeof task, "/proc/self/task/%d", (int)t_gettid());
	stat(task, &c);
	t_out("stat names this thread: %s\n",
	      yes(stat("/proc/thread-self", &a) == 0 && a.st_ino == c.st_ino));
	t_out("fstatat names this thread: %s\n",
	      yes(fstatat(proc, "thread-self", &a, 0) == 0 && a.st_ino == c.st_ino));
	t_out("lstat of a path through it: %s\n",
	      yes(lstat("//proc/thread-self/comm", &a) == 0 &&
		  stat("/proc/thread-self/comm", &c) == 0 && a.st_ino == c.st_ino));
}

/* ==== unlink, rmdir, rename, mkdir, link, symlink ====================== */

static void names_unlink_rmdir(void)
{
	struct stat st;
	char b[8];
	start();
	mkdir("full", 0755);
	t_put("full/x", "x");
	mkdir("empty", 0755);
	mkdir("empty2", 0755);
	int fd = open("f", O_RDONLY);
	t_res("unlink-open-file", unlink("f"));
	t_stat_res("fstat-after", fstat(fd, &st), &st);
	t_res("read-after", read(fd, b, sizeof b));
	t_res("unlink-again", unlink("f"));
	t_res("unlink-dir", unlink("d"));
	t_res("unlink-symlink", unlink("link"));
	t_res("unlink-through-file", unlink("fifo/x"));
	t_res("unlinkat-removedir", unlinkat(AT_FDCWD, "empty", AT_REMOVEDIR));
	t_res("unlinkat-removedir-file", unlinkat(AT_FDCWD, "fifo", AT_REMOVEDIR));
	t_res("unlinkat-dir", unlinkat(AT_FDCWD, "d", 0));
	t_res("unlinkat-bad-flag", unlinkat(AT_FDCWD, "fifo", 0x1));
	t_res("unlinkat-ebadf", unlinkat(999, "fifo", 0));
	t_res("unlinkat-dirfd", unlinkat(open("full", O_RDONLY), "x", 0));
	mkdir("full2", 0755);
	mkdir("full2/sub", 0755);
	t_res("rmdir-nonempty", rmdir("full2"));
	t_res("rmdir-file", rmdir("fifo"));
	t_res("rmdir-dot", rmdir("empty2/."));
	t_res("rmdir-dotdot", rmdir("empty2/.."));
	t_res("rmdir-root", rmdir("/"));
	t_res("rmdir-missing", rmdir("missing"));
	t_res("rmdir-symlink-to-dir", (symlink("empty2", "dl"), rmdir("dl")));
	t_res("rmdir", rmdir("empty2"));
	t_res("unlink-fifo", unlink("fifo"));
}

static void names_rename(void)
{
	start();
	t_put("g", "gee");
	mkdir("full", 0755);
	t_put("full/x", "x");
	mkdir("e", 0755);
	t_res("rename", rename("f", "f2"));
	t_res("over-file", rename("f2", "g"));
	t_out("g='%s'\n", t_get("g"));
	t_out("f2=%s\n", t_get("f2"));
	t_res("same-name", rename("g", "g"));
	t_res("dir-over-nonempty", rename("e", "full"));
	t_res("file-over-dir", rename("g", "d"));
	t_res("dir-over-file", rename("d", "g"));
	t_res("dir-into-itself", rename("d", "d/sub"));
	t_res("missing", rename("missing", "x"));
	t_res("into-missing-dir", rename("g", "nodir/g"));
	t_res("dir-over-empty-dir", rename("d", "e"));
	int dir = open(".", O_RDONLY | O_DIRECTORY), sub = open("e", O_RDONLY | O_DIRECTORY);
	t_res("renameat", renameat(dir, "g", sub, "g"));
	t_out("e/g='%s'\n", t_get("e/g"));
	t_res("renameat-ebadf", renameat(999, "g", dir, "x"));
	t_put("a", "aaa");
	t_put("b", "bbb");
	t_res("noreplace-existing", renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE));
	t_res("noreplace-new", renameat2(AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE));
	t_res("exchange", renameat2(AT_FDCWD, "b", AT_FDCWD, "c", RENAME_EXCHANGE));
	t_out("b='%s'\n", t_get("b"));
	t_out("c='%s'\n", t_get("c"));
	t_res("exchange-file-dir", renameat2(AT_FDCWD, "b", AT_FDCWD, "e", RENAME_EXCHANGE));
	t_out("b is a dir: %s, e='%s'\n", yes(access("b/g", F_OK) == 0), t_get("e"));
	t_res("exchange-missing", renameat2(AT_FDCWD, "c", AT_FDCWD, "missing", RENAME_EXCHANGE));
	t_res("both-flags", renameat2(AT_FDCWD, "c", AT_FDCWD, "z",
				      RENAME_NOREPLACE | RENAME_EXCHANGE));
	t_res("bad-flag", renameat2(AT_FDCWD, "c", AT_FDCWD, "z", 0x100));
	t_res("whiteout", renameat2(AT_FDCWD, "c", AT_FDCWD, "w", RENAME_WHITEOUT));
}

/* EXDEV between /tmp and /dev/shm when they are two file systems. */
static void names_exdev(void)
{
	struct stat a, b;
	char shm[64];
	start();
	if (stat("/dev/shm", &b) < 0 || stat(".", &a) < 0 || a.st_dev == b.st_dev) {
		t_out("skipped: /tmp and /dev/shm are one file system here (or no /dev/shm)\n");
		return;
	}
	snprintf(shm, sizeof shm, "/dev/shm/asy-fs-%d", (int)getpid());
	t_put(shm, "on shm");
	t_res("rename", rename("f", shm));
	t_res("rename-back", rename(shm, "moved"));
	t_res("link", link(shm, "linked"));
	t_res("renameat2-exchange", renameat2(AT_FDCWD, "f", AT_FDCWD, shm, RENAME_EXCHANGE));
	strcat(shm, "-new");
	t_res("linkat", linkat(AT_FDCWD, "f", AT_FDCWD, shm, 0));
	t_out("f still there: '%s'\n", t_get("f"));
	t_out("new name absent: %s\n", yes(access(shm, F_OK) < 0));
	shm[strlen(shm) - 4] = 0;
	t_out("on shm still: '%s'\n", t_get(shm));
	unlink(shm);
}

static void names_mkdir(void)
{
	struct stat st;
	start();
	static const struct { mode_t umask, mode; } cases[] = {
		{ 022, 0777 }, { 0, 0777 }, { 077, 0755 }, { 022, 01777 }, { 0, 02755 }, { 0777, 0777 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[16];
		snprintf(name, sizeof name, "m%zu", i);
		umask(cases[i].umask);
		int r = i % 2 ? mkdirat(AT_FDCWD, name, cases[i].mode) : mkdir(name, cases[i].mode);
		stat(name, &st);
		t_out("umask %03o mode %04o: r=%d got %04o\n", (unsigned)cases[i].umask,
		      (unsigned)cases[i].mode, r, (unsigned)(st.st_mode & 07777));
	}
	umask(022);
	t_res("existing", mkdir("d", 0755));
	t_res("over-file", mkdir("f", 0755));
	t_res("over-dangling-symlink", mkdir("dangling", 0755));
	t_res("missing-parent", mkdir("nodir/x", 0755));
	t_res("in-file", mkdir("f/x", 0755));
	t_res("trailing-slash", mkdir("slash/", 0755));
	int d = open("d", O_RDONLY | O_DIRECTORY);
	t_res("mkdirat", mkdirat(d, "sub", 0700));
	t_res("mkdirat-ebadf", mkdirat(999, "x", 0700));
	t_res("mkdirat-dirfd-file", mkdirat(open("f", O_RDONLY), "x", 0700));
	t_stat_res("sub", stat("d/sub", &st), &st);
}

static void names_link_symlink(void)
{
	struct stat a, b;
	char big[PATH_MAX + 8];
	start();
	t_res("link", link("f", "f2"));
	stat("f", &a);
	stat("f2", &b);
	t_out("nlink=%ld same-ino=%s\n", (long)a.st_nlink, yes(a.st_ino == b.st_ino));
	t_res("link-existing", link("f", "f2"));
	t_res("link-dir", link("d", "d2"));
	t_res("link-missing", link("missing", "x"));
	t_res("linkat-nofollow", linkat(AT_FDCWD, "link", AT_FDCWD, "l-self", 0));
	t_stat_res("l-self", lstat("l-self", &a), &a);
	t_res("linkat-follow", linkat(AT_FDCWD, "link", AT_FDCWD, "l-target", AT_SYMLINK_FOLLOW));
	t_stat_res("l-target", lstat("l-target", &a), &a);
	t_res("linkat-follow-dangling", linkat(AT_FDCWD, "dangling", AT_FDCWD, "x",
					       AT_SYMLINK_FOLLOW));
	t_res("linkat-bad-flag", linkat(AT_FDCWD, "f", AT_FDCWD, "x", 0x1));
	t_res("linkat-ebadf", linkat(999, "f", AT_FDCWD, "x", 0));
	t_res("symlink-existing", symlink("f", "link"));
	t_res("symlink-empty-target", symlink("", "empty"));
	t_res("symlink-missing-dir", symlink("f", "nodir/x"));
	memset(big, 't', sizeof big - 1);
	big[sizeof big - 1] = 0;
	t_res("symlink-target-too-long", symlink(big, "big"));
	int d = open("d", O_RDONLY | O_DIRECTORY);
	t_res("symlinkat", symlinkat("../f", d, "up"));
	t_out("through it: '%s'\n", t_get("d/up"));
	t_res("symlinkat-ebadf", symlinkat("f", 999, "x"));
}

/* ==== errno classes that need a setting =============================== */

/* EROFS on a read-only mount (a tmpfs in a mount namespace of its own)
 * and in /proc. */
static void names_erofs(void)
{
	struct t_mount m;
	char p[256];
	start();
	t_res("proc-creat", creat("/proc/asy-fs-x", 0644));
	t_res("proc-mkdir", mkdir("/proc/self/asy-fs-x", 0755));
	t_res("proc-unlink", unlink("/proc/self/status"));
	t_res("proc-truncate", truncate("/proc/self/status", 0));
	if (t_mount(&m, "tmpfs", "ro,size=64k") < 0) {
		t_out("skipped: no read-only mount here (%s)\n", t_errname(errno));
		return;
	}
	snprintf(p, sizeof p, "%s/new", m.path);
	t_res("creat", creat(p, 0644));
	t_res("open-creat", open(p, O_CREAT | O_RDWR, 0644));
	t_res("mkdir", mkdir(p, 0755));
	t_res("symlink", symlink("f", p));
	t_res("link", link("f", p));
	t_res("open-dir-wronly", open(m.path, O_WRONLY));
	t_res("access-W", access(m.path, W_OK));
	t_res("open-rdonly", open(m.path, O_RDONLY | O_DIRECTORY) >= 0);
	t_res("rename-in", rename("f", p));
	t_unmount(&m);
}

/* ETXTBSY: a running executable cannot be opened for writing or
 * truncated (where the kernel still says so: the result is compared). */
static void names_etxtbsy(void)
{
	char b[65536];
	pid_t pid;
	start();
	int in = open("/bin/sleep", O_RDONLY), out = open("sleeper", O_CREAT | O_WRONLY, 0755);
	long n;
	while ((n = read(in, b, sizeof b)) > 0)
		write(out, b, (size_t)n);
	close(in);
	close(out);
	char *argv[] = { "sleeper", "5", NULL };
	if (posix_spawn(&pid, "./sleeper", NULL, NULL, argv, environ)) {
		t_out("skipped: cannot run a copy of /bin/sleep\n");
		return;
	}
	t_res("open-wronly", open("sleeper", O_WRONLY));
	t_res("open-rdwr", open("sleeper", O_RDWR));
	t_res("open-trunc", open("sleeper", O_WRONLY | O_TRUNC));
	t_res("truncate", truncate("sleeper", 0));
	t_res("open-rdonly", open("sleeper", O_RDONLY) >= 0);
	t_res("unlink", unlink("sleeper"));
	t_kill_child(pid);
}

/* EBUSY: the root, a mount point. */
static void names_ebusy(void)
{
	start();
	t_res("rmdir-root", rmdir("/"));
	t_res("rename-root", rename("/", "x"));
	t_res("rmdir-proc", rmdir("/proc"));
	t_res("unlinkat-removedir-dev", unlinkat(AT_FDCWD, "/dev/shm", AT_REMOVEDIR));
}

/* EFAULT for bad pointers and EBADF for bad fds, for each call. */
static void names_efault_ebadf(void)
{
	char b[16];
	struct statx x;
	start();
#if BAD_PATHS
	t_res("unlink", unlink(BAD));
	t_res("rmdir", rmdir(BAD));
	t_res("mkdir", mkdir(BAD, 0755));
	t_res("rename-from", rename(BAD, "x"));
	t_res("rename-to", rename("f", BAD));
	t_res("link", link("f", BAD));
	t_res("symlink-target", symlink(BAD, "x"));
	t_res("readlink-path", readlink(BAD, b, sizeof b));
	t_res("statx-path", statx(AT_FDCWD, BAD, 0, STATX_SIZE, &x));
	t_res("truncate", truncate(BAD, 0));
#endif
	t_res("readlink-buf", readlink("link", BAD, sizeof b));
	t_res("statx-buf", statx(AT_FDCWD, "f", 0, STATX_SIZE, BAD));
	t_res("unlinkat", unlinkat(999, "f", 0));
	t_res("renameat-new", renameat(AT_FDCWD, "f", 999, "x"));
	t_res("renameat2", renameat2(999, "f", AT_FDCWD, "x", RENAME_NOREPLACE));
	t_res("mkdirat", mkdirat(-5, "x", 0755));
	t_res("linkat-new", linkat(AT_FDCWD, "f", 999, "x", 0));
	t_res("symlinkat", symlinkat("f", 999, "x"));
	t_res("readlinkat", readlinkat(999, "link", b, sizeof b));
	t_res("faccessat", faccessat(999, "f", F_OK, 0));
	t_res("statx", statx(999, "f", 0, STATX_SIZE, &x));
	t_res("fstatat", fstatat(999, "f", &(struct stat){ 0 }, 0));
}

/* Success leaves errno alone. */
static void names_errno_untouched(void)
{
	struct stat st;
	struct statx x;
	char b[16];
	start();
	errno = EDOM;
	int ok = stat("f", &st) == 0 && lstat("link", &st) == 0 && access("f", R_OK) == 0 &&
		 mkdir("n", 0755) == 0 && rename("n", "m") == 0 && rmdir("m") == 0 &&
		 symlink("f", "s") == 0 && readlink("s", b, sizeof b) == 1 && link("f", "h") == 0 &&
		 unlink("h") == 0 && statx(AT_FDCWD, "f", 0, STATX_SIZE, &x) == 0 &&
		 faccessat(AT_FDCWD, "f", R_OK, AT_EACCESS) == 0;
	t_out("all succeeded: %s errno=%s\n", yes(ok), t_errname(errno));
}

/* ==== the table ======================================================== */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(names_stat_family, 0),
	C(names_statx_mask, 0),
	C(names_stat_errors, 0),
	C(names_xstat, 0),
	C(names_thread_self, 0),
	C(names_readlink, 0),
	C(names_access, 0),
	C(names_eacces, 0),
	C(names_unlink_rmdir, 0),
	C(names_rename, 0),
	C(names_exdev, 0),
	C(names_mkdir, 0),
	C(names_link_symlink, 0),
	C(names_erofs, 0),
	C(names_etxtbsy, 0),
	C(names_ebusy, 0),
	C(names_efault_ebadf, 0),
	C(names_errno_untouched, 0),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	t_fs_helper_main(argc, argv);
	return t_cases_main(argc, argv, cases, "fs-names", 150);
}
