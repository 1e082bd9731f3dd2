/* Files, part 3: sizes and durability (issue 11, "Semantics").  Same
 * variants and rules as check-fs.c: truncate, ftruncate, fallocate,
 * posix_fallocate (its error number returned, errno untouched; glibc's
 * emulation where the file system has no fallocate), sync_file_range,
 * syncfs, sync, msync, a rename after fsync with read-back after each,
 * and RLIMIT_FSIZE: EFBIG and SIGXFSZ to the calling thread, with the
 * signal at its default, ignored or handled (as check-exact-task does
 * for writes). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "t-helpers.h"

#define yes t_yes

static void start(void)
{
	alarm(10);
	t_fs_dir();
}

static long fsize(int fd)
{
	struct stat st;
	return fstat(fd, &st) < 0 ? -1 : (long)st.st_size;
}

/* "name=0" or "name=EINVAL" for a call that returns an error number,
 * and whether errno kept the EDOM put there before the call. */
static void enum_res(const char *what, int r)
{
	t_out("%s=%s errno-kept=%s\n", what, r ? t_errname(r) : "0", yes(errno == EDOM));
}

/* The bytes of fd in [off, off + n) summed up: zeros sum to 0. */
static long bytes_sum(int fd, long off, long n)
{
	char b[4096];
	long s = 0;
	while (n > 0) {
		long k = pread(fd, b, (size_t)(n < 4096 ? n : 4096), off);
		if (k <= 0)
			return k < 0 ? -1 : s;
		for (long i = 0; i < k; i++)
			s += (unsigned char)b[i];
		off += k;
		n -= k;
	}
	return s;
}

/* ==== truncate and ftruncate ============================================ */

static void size_truncate(void)
{
	int p[2], s[2];
	start();
	t_put("f", "0123456789");
	int fd = open("f", O_RDWR);
	lseek(fd, 4, SEEK_SET);
	t_res("ftruncate-grow", ftruncate(fd, 100));
	t_out("size=%ld pos=%ld tail-zero=%s\n", fsize(fd), (long)lseek(fd, 0, SEEK_CUR),
	      yes(bytes_sum(fd, 10, 90) == 0));
	t_res("ftruncate-shrink", ftruncate(fd, 3));
	t_out("size=%ld contents='%s'\n", fsize(fd), t_fd_get(fd));
	t_res("truncate-grow", truncate("f", 4096));
	t_res("truncate64", truncate64("f", 5));
	t_res("ftruncate64", ftruncate64(fd, 7));
	t_out("size=%ld\n", fsize(fd));
	t_res("truncate-negative", truncate("f", -1));
	t_res("ftruncate-negative", ftruncate(fd, -1));
	t_res("ftruncate-rdonly", ftruncate(open("f", O_RDONLY), 0));
	t_res("ftruncate-append", ftruncate(open("f", O_WRONLY | O_APPEND), 2));
	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	t_res("ftruncate-pipe", ftruncate(p[1], 0));
	t_res("ftruncate-socket", ftruncate(s[0], 0));
	t_res("ftruncate-dir", ftruncate(open(".", O_RDONLY), 0));
	t_res("ftruncate-ebadf", ftruncate(999, 0));
	mkdir("d", 0755);
	t_res("truncate-dir", truncate("d", 0));
	t_res("truncate-missing", truncate("missing", 0));
	t_res("truncate-enotdir", truncate("f/x", 0));
	t_res("truncate-huge", truncate("f", INT64_MAX));
	t_out("final size=%ld\n", fsize(fd));
}

/* ==== fallocate and posix_fallocate ===================================== */

static void fallocate_on(const char *dir)
{
	struct stat st;
	char path[256];
	snprintf(path, sizeof path, "%s/fa", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	t_res("plain", fallocate(fd, 0, 0, 8192));
	fstat(fd, &st);
	t_out("size=%ld blocks>=16=%s\n", (long)st.st_size, yes(st.st_blocks >= 16));
	t_res("keep-size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 65536));
	fstat(fd, &st);
	t_out("size=%ld blocks>=128=%s\n", (long)st.st_size, yes(st.st_blocks >= 128));
	pwrite(fd, "xxxxxxxx", 8, 4096);
	t_res("punch", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 8192));
	t_out("size=%ld zeros=%s\n", fsize(fd), yes(bytes_sum(fd, 0, 8192) == 0));
	t_res("punch-without-keep", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	pwrite(fd, "yyyy", 4, 100);
	t_res("zero-range", fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096));
	t_out("zeros=%s\n", yes(bytes_sum(fd, 0, 4096) == 0));
	t_res("collapse-unaligned", fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 1, 100));
	t_res("insert-beyond-eof", fallocate(fd, FALLOC_FL_INSERT_RANGE, 1 << 20, 4096));
	t_res("unknown-mode", fallocate(fd, 0x1000, 0, 4096));
	t_res("len-0", fallocate(fd, 0, 0, 0));
	t_res("len-negative", fallocate(fd, 0, 0, -1));
	t_res("offset-negative", fallocate(fd, 0, -1, 10));
	t_res("fallocate64", fallocate64(fd, 0, 0, 16384));
	t_out("size=%ld\n", fsize(fd));
	t_res("rdonly", fallocate(open(path, O_RDONLY), 0, 0, 10));
	t_res("dir", fallocate(open(dir, O_RDONLY), 0, 0, 10));
	t_res("ebadf", fallocate(999, 0, 0, 10));
	close(fd);
}

static void size_fallocate(void)
{
	int p[2];
	start();
	t_out("-- ext4 or what /tmp is\n");
	fallocate_on(".");
	t_out("-- /dev/shm\n");
	fallocate_on("/dev/shm");
	unlink("/dev/shm/fa");
	pipe(p);
	t_res("pipe", fallocate(p[1], 0, 0, 10));
}

/* posix_fallocate returns its error number and leaves errno alone. */
static void size_posix_fallocate(void)
{
	int p[2];
	start();
	int fd = open("f", O_RDWR | O_CREAT, 0644);
	pipe(p);
	errno = EDOM;
	enum_res("ok", posix_fallocate(fd, 0, 10000));
	t_out("size=%ld\n", fsize(fd));
	enum_res("ok64", posix_fallocate64(fd, 100, 20000));
	t_out("size=%ld\n", fsize(fd));
	enum_res("inside", posix_fallocate(fd, 0, 10));
	t_out("size=%ld\n", fsize(fd));
	enum_res("ebadf", posix_fallocate(999, 0, 10));
	enum_res("rdonly", posix_fallocate(open("f", O_RDONLY), 0, 10));
	enum_res("len-0", posix_fallocate(fd, 0, 0));
	enum_res("len-negative", posix_fallocate(fd, 0, -5));
	enum_res("offset-negative", posix_fallocate(fd, -1, 5));
	enum_res("overflow", posix_fallocate64(fd, INT64_MAX - 10, 100));
	enum_res("pipe", posix_fallocate(p[1], 0, 10));
	enum_res("dir", posix_fallocate(open(".", O_RDONLY), 0, 10));
	enum_res("append", posix_fallocate(open("f", O_WRONLY | O_APPEND), 0, 50000));
	t_out("size=%ld\n", fsize(fd));
}

/* Where the file system has no fallocate (ramfs, mounted in a mount
 * namespace of its own), glibc's posix_fallocate writes the blocks
 * itself: the size grows, existing bytes stay. */
static void size_posix_fallocate_emulated(void)
{
	struct t_mount m;
	char path[256];
	start();
	if (t_mount(&m, "ramfs", "") < 0) {
		t_out("skipped: cannot mount ramfs here (%s)\n", t_errname(errno));
		return;
	}
	snprintf(path, sizeof path, "%s/f", m.path);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	write(fd, "keep", 4);
	errno = EDOM;
	t_res("fallocate", fallocate(fd, 0, 0, 8192));
	errno = EDOM;
	enum_res("posix_fallocate", posix_fallocate(fd, 0, 10000));
	t_out("size=%ld contents='%s' rest-zero=%s\n", fsize(fd), t_fd_get(fd),
	      yes(bytes_sum(fd, 4, 9996) == 0));
	enum_res("posix_fallocate64", posix_fallocate64(fd, 20000, 5000));
	t_out("size=%ld pos=%ld\n", fsize(fd), (long)lseek(fd, 0, SEEK_CUR));
	/* (glibc's emulation may set errno on its way to an error number) */
	int wr = open(path, O_WRONLY), ap = open(path, O_RDWR | O_APPEND);
	errno = EDOM;
	enum_res("wronly", posix_fallocate(wr, 0, 30000));
	errno = EDOM;
	enum_res("append", posix_fallocate(ap, 0, 40000));
	errno = EDOM;
	enum_res("len-0", posix_fallocate(fd, 0, 0));
	t_out("size=%ld\n", fsize(fd));
	close(fd);
	t_unmount(&m);
}

/* ==== syncs ============================================================= */

static void size_sync_calls(void)
{
	int p[2];
	start();
	int fd = open("f", O_RDWR | O_CREAT, 0644), other = open("f", O_RDONLY);
	pwrite(fd, "synced", 6, 0);
	pipe(p);
	errno = EDOM;
	t_res("sync_file_range", sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
						 SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
	t_out("errno-kept=%s read-back='%s'\n", yes(errno == EDOM), t_fd_get(other));
	t_res("write-only", sync_file_range(fd, 0, 6, SYNC_FILE_RANGE_WRITE));
	t_res("no-flags", sync_file_range(fd, 0, 6, 0));
	t_res("bad-flags", sync_file_range(fd, 0, 6, 0x100));
	t_res("offset-negative", sync_file_range(fd, -1, 6, SYNC_FILE_RANGE_WRITE));
	t_res("count-negative", sync_file_range(fd, 0, -6, SYNC_FILE_RANGE_WRITE));
	t_res("pipe", sync_file_range(p[1], 0, 0, SYNC_FILE_RANGE_WRITE));
	t_res("dir", sync_file_range(open(".", O_RDONLY), 0, 0, SYNC_FILE_RANGE_WRITE));
	t_res("rdonly", sync_file_range(other, 0, 0, SYNC_FILE_RANGE_WRITE));
	t_res("ebadf", sync_file_range(999, 0, 0, SYNC_FILE_RANGE_WRITE));
	pwrite(fd, "SYNCED", 6, 0);
	errno = EDOM;
	t_res("syncfs", syncfs(fd));
	t_out("errno-kept=%s read-back='%s'\n", yes(errno == EDOM), t_fd_get(other));
	t_res("syncfs-pipe", syncfs(p[0]));
	t_res("syncfs-ebadf", syncfs(999));
	pwrite(fd, "sync()", 6, 0);
	sync();
	t_out("sync: errno-kept=%s read-back='%s'\n", yes(errno == EDOM), t_fd_get(other));
	t_res("fsync-dir", fsync(open(".", O_RDONLY)));
}

static void size_msync(void)
{
	start();
	long pg = sysconf(_SC_PAGESIZE);
	int fd = open("f", O_RDWR | O_CREAT, 0644);
	ftruncate(fd, 2 * pg);
	char *m = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *anon = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(m, "mapped", 6);
	errno = EDOM;
	t_res("ms_sync", msync(m, (size_t)(2 * pg), MS_SYNC));
	t_out("errno-kept=%s read-back='%s'\n", yes(errno == EDOM), t_fd_get(fd));
	memcpy(m + pg, "second", 6);
	t_res("ms_async", msync(m + pg, (size_t)pg, MS_ASYNC));
	t_res("ms_invalidate", msync(m, (size_t)pg, MS_INVALIDATE | MS_SYNC));
	t_res("len-0", msync(m, 0, MS_SYNC));
	t_res("unaligned-len", msync(m, 10, MS_SYNC));
	t_res("sync-and-async", msync(m, (size_t)pg, MS_SYNC | MS_ASYNC));
	t_res("unaligned", msync(m + 1, (size_t)pg, MS_SYNC));
	t_res("bad-flags", msync(m, (size_t)pg, 0x100));
	t_res("anonymous", msync(anon, (size_t)pg, MS_SYNC));
	munmap(anon, (size_t)pg);
	t_res("unmapped", msync(anon, (size_t)pg, MS_SYNC));
	t_res("no-flags", msync(m, (size_t)pg, 0));
	char b[8] = { 0 };
	pread(fd, b, 6, pg);
	t_out("second page='%s'\n", b);
}

/* Write a new version, fsync it, rename it over the old name, fsync the
 * directory: every step reads back what it should, the old fd keeps the
 * old file. */
static void size_rename_after_fsync(void)
{
	start();
	t_put("data", "version 1");
	int old = open("data", O_RDONLY);
	int fd = open("data.tmp", O_WRONLY | O_CREAT | O_EXCL, 0644);
	t_res("write", write(fd, "version 2", 9));
	t_res("fsync", fsync(fd));
	t_out("tmp='%s'\n", t_get("data.tmp"));
	t_res("fdatasync", fdatasync(fd));
	t_res("close", close(fd));
	t_res("rename", rename("data.tmp", "data"));
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	t_res("fsync-dir", fsync(dir));
	t_out("data='%s'\n", t_get("data"));
	t_out("old fd='%s'\n", t_fd_get(old));
	t_out("tmp gone=%s\n", yes(access("data.tmp", F_OK) < 0));
	t_res("renameat2-noreplace", renameat2(dir, "data", dir, "data", RENAME_NOREPLACE));
	t_res("syncfs", syncfs(dir));
	t_out("data='%s'\n", t_get("data"));
}

/* ==== RLIMIT_FSIZE ====================================================== */

static pid_t main_tid;
static volatile sig_atomic_t xfsz, xfsz_same_thread;

static void on_xfsz(int sig)
{
	(void)sig;
	xfsz++;
	xfsz_same_thread = t_gettid() == main_tid;
}

static int pending_xfsz(void)
{
	sigset_t set;
	sigpending(&set);
	return sigismember(&set, SIGXFSZ);
}

/* A limit of 4096 bytes; how: 0 default, 1 ignored, 2 handled.  Each
 * call goes beyond the limit: EFBIG (the error number for
 * posix_fallocate) and SIGXFSZ where the kernel raises it.  The file has
 * no name (a signal may end the process: nothing is left behind);
 * truncate reaches it through /proc/self/fd. */
static void fsize_limit(int how, int first)
{
	struct rlimit core = { 0, 0 }, fs = { 4096, 4096 };
	struct sigaction sa = { .sa_handler = on_xfsz };
	char path[64];
	alarm(10);
	setrlimit(RLIMIT_CORE, &core);
	main_tid = t_gettid();
	int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (how == 1)
		signal(SIGXFSZ, SIG_IGN);
	if (how == 2)
		sigaction(SIGXFSZ, &sa, NULL);
	setrlimit(RLIMIT_FSIZE, &fs);
	t_res("ftruncate-at-limit", ftruncate(fd, 4096));
	for (int i = first; i < 6; i++) {
		switch (i) {
		case 0: t_res("ftruncate", ftruncate(fd, 8192)); break;
		case 1: t_res("truncate", truncate(path, 8192)); break;
		case 2: t_res("fallocate", fallocate(fd, 0, 0, 8192)); break;
		case 3: t_res("fallocate-keep-size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192)); break;
		case 4:
			errno = EDOM;
			enum_res("posix_fallocate", posix_fallocate(fd, 4096, 4096));
			break;
		case 5: t_res("ftruncate64", ftruncate64(fd, 1 << 20)); break;
		}
		t_out("  size=%ld signals=%d same-thread=%s pending=%d\n", fsize(fd), (int)xfsz,
		      yes(xfsz_same_thread), pending_xfsz());
	}
}

static void fsize_ignored(void) { fsize_limit(1, 0); }
static void fsize_handled(void) { fsize_limit(2, 0); }
/* At the default each one that raises SIGXFSZ ends the process. */
static void fsize_default_ftruncate(void) { fsize_limit(0, 0); }
static void fsize_default_truncate(void) { fsize_limit(0, 1); }
static void fsize_default_fallocate(void) { fsize_limit(0, 2); }
static void fsize_default_posix_fallocate(void) { fsize_limit(0, 4); }

/* ==== the table ======================================================== */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(size_truncate, 0),
	C(size_fallocate, 0),
	C(size_posix_fallocate, 0),
	C(size_posix_fallocate_emulated, 0),
	C(size_sync_calls, 0),
	C(size_msync, 0),
	C(size_rename_after_fsync, 0),
	C(fsize_ignored, 0),
	C(fsize_handled, 0),
	C(fsize_default_ftruncate, 0),
	C(fsize_default_truncate, 0),
	C(fsize_default_fallocate, 0),
	C(fsize_default_posix_fallocate, 0),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	t_fs_helper_main(argc, argv);
	return t_cases_main(argc, argv, cases, "fs-size", 150);
}
