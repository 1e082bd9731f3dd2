/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks class 14's
 * limits on files —
 *
 *  - an O_APPEND write at RLIMIT_FSIZE, tried or sent to the ring: the
 *    kernel's one write stops at the limit and SIGXFSZ comes as the
 *    kernel sends it (it was lost on the ring);
 *  - RLIMIT_NOFILE at its edge, RLIMIT_FSIZE on the copying and sizing
 *    calls, bad buffers, misaligned O_DIRECT and a cold O_NONBLOCK file
 *    with and without an I/O deadline, ENOSPC on a 256 KiB tmpfs.
 *
 * A case that could hang under a broken shim sets an alarm first, so that
 * a hang shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"
#undef now /* t_api.now */

/* ---- helpers ---------------------------------------------------------- */

static volatile sig_atomic_t xfsz;
static void on_xfsz(int sig)
{
	(void)sig;
	xfsz++;
}

/* A handler that leaves errno changed: a call that returns its error
 * rather than -1 (posix_fallocate) leaves the program the handler's. */
static void on_xfsz_errno(int sig)
{
	(void)sig;
	xfsz++;
	errno = ENOTTY;
}


/* RLIMIT_FSIZE on an appending fd where the write can be tried (tmpfs):
 * the kernel's one write stops at the limit, whatever offset it named. */
static void fsize_append(int handled)
{
	static char b[16384];
	alarm(10);
	memset(b, 'q', sizeof b);
	int m = memfd_create("m", 0);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", m);
	int fd = open(path, O_RDWR | O_APPEND);
	if (handled)
		signal(SIGXFSZ, on_xfsz);
	t_res("write-6000", write(fd, b, 6000));
	struct rlimit rl = { 8192, 8192 };
	setrlimit(RLIMIT_FSIZE, &rl);
	t_res("pwrite-4096-at-0", pwrite(fd, b, 4096, 0));
	t_out("xfsz=%d pos=%ld\n", (int)xfsz, t_pos(fd));
	ftruncate(fd, 6000);
	struct iovec v[2] = { { b, 2048 }, { b + 2048, 2048 } };
	t_res("pwritev-4096-at-0", pwritev(fd, v, 2, 0));
	t_out("xfsz=%d pos=%ld\n", (int)xfsz, t_pos(fd));
	ftruncate(fd, 6000);
	t_res("pwritev2-append-4096-at-0", pwritev2(m, v, 2, 0, RWF_APPEND));
	t_out("xfsz=%d pos=%ld\n", (int)xfsz, t_pos(m));
	ftruncate(fd, 6000);
	lseek(fd, 0, SEEK_SET);
	t_res("write-4096", write(fd, b, 4096));
	t_out("xfsz=%d pos=%ld\n", (int)xfsz, t_pos(fd));
	t_res("write-at-limit", write(fd, b, 1));
	t_out("xfsz=%d\n", (int)xfsz);
}

/* The same on ext4 with the file already at the limit, under an I/O
 * deadline (the write goes to a backend): an append named at offset 0
 * starts at the limit — EFBIG and SIGXFSZ (the ring's write gave EFBIG
 * alone: the signal was judged by the offset named). */
static void fsize_append_full(int handled)
{
	static char b[8192];
	alarm(10);
	memset(b, 'q', sizeof b);
	char path[64];
	int fd = empty_tmp(O_RDWR | O_APPEND);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	write(fd, b, sizeof b);
	if (handled)
		signal(SIGXFSZ, on_xfsz);
	struct rlimit rl = { 8192, 8192 };
	setrlimit(RLIMIT_FSIZE, &rl);
	t_far_deadline(1);
	t_res("pwrite-10-at-0", pwrite(fd, b, 10, 0));
	t_out("xfsz=%d\n", (int)xfsz);
	int plain = open(path, O_RDWR);
	struct iovec v = { b, 10 };
	t_res("pwritev2-append-10-at-0", pwritev2(plain, &v, 1, 0, RWF_APPEND));
	t_out("xfsz=%d\n", (int)xfsz);
	t_far_deadline(0);
}

static void c14_fsize_append_full_handled(void) { fsize_append_full(1); }
static void c14_fsize_append_full_default(void) { fsize_append_full(0); }

static void c14_fsize_append_handled(void) { fsize_append(1); }
static void c14_fsize_append_default(void) { fsize_append(0); }

/* ---- limits ------------------------------------------------------------ */

static void c14_nofile_edge(void)
{
	alarm(20);
	struct rlimit rl = { 64, 64 };
	setrlimit(RLIMIT_NOFILE, &rl);
	int n = 0, last = -1;
	for (int i = 0; i < 100; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			t_out("stopped: %s\n", t_errname(errno));
			break;
		}
		n++, last = fd;
	}
	t_out("opened=%d last=%d\n", n, last);
	close(17);
	t_res("again", open("/dev/null", O_RDONLY));
	t_res("full", open("/dev/null", O_RDONLY));
	t_res("dup", dup(0));
	t_res("pipe", pipe((int[2]){ 0, 0 }));
	t_res("stat", stat("/dev/null", &(struct stat){ 0 }));
	t_res("read-stdin-fd", read(5, &(char){ 0 }, 1));
	close(40);
	close(41);
	int pp[2];
	t_res("pipe-2", pipe(pp));
	t_out("pipe fds %d %d\n", pp[0], pp[1]);
	t_res("write", write(pp[1], "x", 1));
	t_res("read", read(pp[0], &(char){ 0 }, 1));
}

/* accept with no fd number free: the kernel takes the new connection's
 * number before it waits, so it says EMFILE at once, whether or not a
 * connection ever comes.  A coroutine's accept waited for one (forever,
 * with no client) and only then said EMFILE. */
static void c14_accept_no_number_free(void)
{
	alarm(5);
	struct sockaddr_storage a;
	socklen_t len;
	int l = t_bound(AF_UNIX, SOCK_STREAM, 4, &a, &len);
	struct rlimit rl = { 32, 32 };
	setrlimit(RLIMIT_NOFILE, &rl);
	while (open("/dev/null", O_RDONLY) >= 0)
		;
	t_res("accept", accept(l, NULL, NULL));
	t_res("accept4", accept4(l, NULL, NULL, SOCK_CLOEXEC));
}

/* A read that waits, into 5 bytes whose last 2 are a page the program
 * has just unmapped: EFAULT, the bytes left in the pipe.  The engine
 * mapped memory of its own at its first wait (the threads backend's poll
 * array), which the kernel put in that hole: the read succeeded, 2 of
 * its bytes written into the engine's array. */
static void *later_world(void *arg)
{
	t_msleep(20);
	write(*(int *)arg, "world", 5);
	return NULL;
}

static void c14_read_into_unmapped_hole(void)
{
	alarm(5);
	char *half = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(half + 4096, 4096);
	int p[2];
	char b[16];
	pipe(p);
	pthread_t th = go(later_world, &p[1]);
	t_res("read", read(p[0], half + 4093, 5));
	pthread_join(th, NULL);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	show_buf("left", b, read(p[0], b, sizeof b));
	struct pollfd pf[4] = { { p[0], POLLIN, 0 } };
	t_res("poll into the hole", poll((struct pollfd *)(half + 4096 - sizeof pf[0]), 2, 0));
}

static void fsize_calls(int handled)
{
	static char b[16384];
	alarm(10);
	t_fs_dir();
	memset(b, 'q', sizeof b);
	int src = t_abc_file("src", 16384, 0, 0);
	int fd = open("limited", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (handled)
		signal(SIGXFSZ, on_xfsz);
	struct rlimit rl = { 8192, 8192 };
	setrlimit(RLIMIT_FSIZE, &rl);
	t_res("ftruncate-limit", ftruncate(fd, 8192));
	t_res("ftruncate-over", ftruncate(fd, 8193));
	t_out("xfsz=%d\n", (int)xfsz);
	t_res("truncate-over", truncate("limited", 9000));
	t_out("xfsz=%d\n", (int)xfsz);
	ftruncate(fd, 0);
	t_res("fallocate-over", fallocate(fd, 0, 4096, 8192));
	t_out("xfsz=%d\n", (int)xfsz);
	errno = 0;
	int pr = posix_fallocate(fd, 0, 9000), pe = errno;
	t_res("posix_fallocate-over", pr);
	t_out("xfsz=%d errno=%s\n", (int)xfsz, pe ? strerrorname_np(pe) : "0");
	ftruncate(fd, 0);
	off_t in = 0, out = 4096;
	t_res("copy_file_range-across", copy_file_range(src, &in, fd, &out, 8192, 0));
	t_out("xfsz=%d in=%ld out=%ld\n", (int)xfsz, (long)in, (long)out);
	t_res("copy_file_range-at", copy_file_range(src, &in, fd, &out, 100, 0));
	t_out("xfsz=%d in=%ld out=%ld\n", (int)xfsz, (long)in, (long)out);
	ftruncate(fd, 0);
	lseek(fd, 6000, SEEK_SET);
	in = 0;
	t_res("sendfile-across", sendfile(fd, src, &in, 8192));
	t_out("xfsz=%d in=%ld pos=%ld\n", (int)xfsz, (long)in, t_pos(fd));
	t_res("sendfile-at", sendfile(fd, src, &in, 8192));
	t_out("xfsz=%d in=%ld pos=%ld\n", (int)xfsz, (long)in, t_pos(fd));
	int p[2];
	pipe(p);
	write(p[1], b, 8192);
	ftruncate(fd, 0);
	loff_t o = 4096;
	t_res("splice-across", splice(p[0], NULL, fd, &o, 8192, 0));
	t_out("xfsz=%d o=%ld left=%ld\n", (int)xfsz, (long)o, drain_nb(p[0]));
}

static void c14_fsize_calls_handled(void) { fsize_calls(1); }

static void c14_fsize_posix_fallocate_handler_errno(void)
{
	alarm(10);
	t_fs_dir();
	int fd = open("limited", O_RDWR | O_CREAT | O_TRUNC, 0600);
	signal(SIGXFSZ, on_xfsz_errno);
	struct rlimit rl = { 8192, 8192 };
	setrlimit(RLIMIT_FSIZE, &rl);
	errno = 0;
	int r = posix_fallocate(fd, 0, 9000), e = errno;
	t_out("posix_fallocate-over=%s xfsz=%d errno=%s\n", strerrorname_np(r), (int)xfsz,
	      e ? strerrorname_np(e) : "0");
	close(fd);
}
static void c14_fsize_calls_ignored(void)
{
	signal(SIGXFSZ, SIG_IGN);
	fsize_calls(0);
}
static void c14_fsize_ftruncate_default(void)
{
	alarm(10);
	t_fs_dir();
	int fd = open("limited", O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct rlimit rl = { 8192, 8192 };
	setrlimit(RLIMIT_FSIZE, &rl);
	t_res("ftruncate-over", ftruncate(fd, 8193));
	t_out("not reached\n");
}
static void c14_fsize_copy_default(void)
{
	alarm(10);
	t_fs_dir();
	int src = t_abc_file("src", 16384, 0, 0);
	int fd = open("limited", O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct rlimit rl = { 8192, 8192 };
	setrlimit(RLIMIT_FSIZE, &rl);
	off_t in = 0, out = 4096;
	t_res("copy_file_range-across", copy_file_range(src, &in, fd, &out, 8192, 0));
	t_res("copy_file_range-at", copy_file_range(src, &in, fd, &out, 100, 0));
	t_out("not reached\n");
}

/* Writes from a buffer whose second page is not there, or a vector
 * whose second buffer is not: the kernel writes the first page and
 * returns its count.  With an I/O deadline the engine copies a write's
 * bytes before the backend writes them (detach.c). */
static void bad_buffer_writes(int deadline)
{
	alarm(10);
	t_fs_dir();
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(m, 'w', 3 * 4096);
	mprotect(m + 4096, 4096, PROT_NONE);
	t_far_deadline(deadline);
	t_res("write-second-page-bad", write(fd, m, 8192));
	t_out("pos=%ld\n", t_pos(fd));
	t_res("pwrite-second-page-bad", pwrite(fd, m + 100, 8192, 10000));
	t_res("pwrite-bad", pwrite(fd, m + 4096, 100, 0));
	struct iovec v[3] = { { m, 100 }, { m + 4096, 100 }, { m + 8192, 100 } };
	t_res("writev-second-bad", writev(fd, v, 3));
	t_res("pwritev-second-bad", pwritev(fd, v, 3, 20000));
	t_res("pwritev2-dsync-second-bad", pwritev2(fd, v, 3, 30000, RWF_DSYNC));
	t_out("pos=%ld size=%ld\n", t_pos(fd), (long)lseek(fd, 0, SEEK_END));
	t_far_deadline(0);
}

static void c14_write_bad_buffer(void) { bad_buffer_writes(0); }
static void c14_write_bad_buffer_deadline(void) { bad_buffer_writes(1); }

/* O_DIRECT wants the buffer aligned: a buffer off by one is EINVAL,
 * also where the engine reads into a block of its own and copies back
 * (an I/O deadline, detach.c). */
static void direct_misaligned(int deadline)
{
	static char b[3 * 65536] __attribute__((aligned(4096)));
	int fd = t_known_direct_file();
	if (fd < 0)
		return;
	t_far_deadline(deadline);
	t_res("pread-aligned", pread(fd, b, 65536, 0));
	t_res("pread-buf+1", pread(fd, b + 1, 65536, 0));
	t_res("pread-buf+512", pread(fd, b + 512, 65536, 0));
	t_res("pread-len-100", pread(fd, b, 100, 0));
	t_res("pread-off-100", pread(fd, b, 4096, 100));
	t_res("read-buf+1", read(fd, b + 1, 4096));
	t_out("pos=%ld\n", t_pos(fd));
	t_res("readv-second-buf+1", readv(fd, (struct iovec[]){ { b, 4096 }, { b + 8193, 4096 } }, 2));
	t_out("pos=%ld\n", t_pos(fd));
	t_res("pwrite-buf+1", pwrite(fd, b + 1, 4096, 0));
	t_res("pwrite-aligned", pwrite(fd, b, 4096, 0));
	t_res("pwrite-buf+512", pwrite(fd, b + 512, 4096, 8192));
	t_res("write-buf+1", write(fd, b + 1, 4096));
	t_out("pos=%ld\n", t_pos(fd));
	t_far_deadline(0);
}

static void c14_direct_misaligned(void) { direct_misaligned(0); }
static void c14_direct_misaligned_deadline(void) { direct_misaligned(1); }

/* O_NONBLOCK means nothing to a regular file: a cold read waits for
 * the disk and returns the data, never EAGAIN — also for the ring's op,
 * which honours O_NONBLOCK on files it cannot try. */
static void c14_nonblock_cold_file(void)
{
	static char b[256 * 1024];
	alarm(10);
	t_fs_dir();
	int fd = t_abc_file("f", 1024 * 1024, O_NONBLOCK, 0);
	t_evict(fd);
	t_res("pread", pread(fd, b, sizeof b, 0));
	t_evict(fd);
	t_res("read", read(fd, b, sizeof b));
	t_evict(fd);
	t_res("preadv2", preadv2(fd, &(struct iovec){ b, sizeof b }, 1, 512 * 1024, 0));
	t_res("pwrite", pwrite(fd, b, sizeof b, 4096));
	t_out("pos=%ld\n", t_pos(fd));
	int m = memfd_create("m", 0);
	fcntl(m, F_SETFL, O_NONBLOCK);
	t_res("memfd-write", write(m, b, sizeof b));
	t_res("memfd-pread", pread(m, b, sizeof b, 0));
	int d = open("/proc/self/status", O_RDONLY | O_NONBLOCK);
	t_res("proc-read", read(d, b, 4) );
}

/* ---- RLIMIT_NPROC ------------------------------------------------------- */

/* RLIMIT_NPROC counts the user's threads, the engine's workers and io-wq's
 * too (root's are not counted: the case runs as uid 65534).  Where no
 * thread can start, a coroutine's file calls are made in its thread, as
 * the program's own: they failed with EAGAIN (open, stat, a cold read,
 * fsync, unlink) or ECANCELED (the ring's read and fsync), and the ring's
 * cold read at a limit of 0 never ended. */
static void nproc_none(int limit)
{
	static char b[256 * 1024];
	struct stat st;
	alarm(10);
	t_fs_dir();
	int fd = t_abc_file("f", 1024 * 1024, 0, 0);
	if (getuid() != 0 || chmod(".", 0777) < 0 || fchown(fd, 65534, 65534) < 0 ||
	    setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) {
		t_out("not-root\n");
		return;
	}
	setrlimit(RLIMIT_NPROC, &(struct rlimit){ (rlim_t)limit, (rlim_t)limit });
	t_evict(fd);
	t_res("pread", pread(fd, b, sizeof b, 0));
	t_res("fsync", fsync(fd));
	t_res("fdatasync", fdatasync(fd));
	int o = open("g", O_RDWR | O_CREAT, 0600);
	t_res("open", o < 0 ? -1 : 0);
	t_res("stat", stat("f", &st));
	t_res("rename", rename("g", "h"));
	t_res("unlink", unlink("h"));
	t_res("flock", flock(fd, LOCK_EX));
}

static void c14_nproc_zero(void) { nproc_none(0); }
static void c14_nproc_one(void) { nproc_none(1); }

/* ---- ENOSPC ------------------------------------------------------------- */

/* A 256 KiB tmpfs, mounted by a child in a mount namespace of its own
 * and reached through its /proc/PID/root; the child's pid, or -1. */
static pid_t small_fs(char *dir, size_t len)
{
	int p[2];
	char c;
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("none", "/mnt", "tmpfs", 0, "size=256k") < 0)
			_exit(1);
		write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(p[0]);
	snprintf(dir, len, "/proc/%d/root/mnt", (int)pid);
	return pid;
}

static void enospc(int deadline)
{
	static char b[100000];
	char dir[64], path[96];
	alarm(20);
	pid_t pid = small_fs(dir, sizeof dir);
	if (pid < 0) {
		t_out("no small tmpfs here\n");
		return;
	}
	memset(b, 'n', sizeof b);
	snprintf(path, sizeof path, "%s/f", dir);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	t_far_deadline(deadline);
	long n, total = 0;
	while ((n = write(fd, b, sizeof b)) > 0)
		total += n;
	t_res("write-end", n);
	t_out("total=%ld pos=%ld\n", total, t_pos(fd));
	t_res("pwrite-past", pwrite(fd, b, 10, total + 100000));
	t_res("pwrite-inside", pwrite(fd, b, 10, 0));
	t_res("writev", writev(fd, (struct iovec[]){ { b, 10 }, { b, 10 } }, 2));
	t_res("fallocate", fallocate(fd, 0, 0, 1 << 20));
	t_res("posix_fallocate", posix_fallocate(fd, 0, 1 << 20));
	t_res("ftruncate-up", ftruncate(fd, 1 << 20));
	t_res("fsync", fsync(fd));
	ftruncate(fd, 0);
	lseek(fd, 0, SEEK_SET);
	t_res("write-again", write(fd, b, 1000));
	t_far_deadline(0);
	t_kill_child(pid);
}

static void c14_enospc_tmpfs(void) { enospc(0); }
static void c14_enospc_tmpfs_deadline(void) { enospc(1); }


/* ---- the table --------------------------------------------------------- */
/* Every pthread key a program may make (PTHREAD_KEYS_MAX) is its own:
 * the library took one in its constructor, and the 1024th said EAGAIN.
 * Then a pipe's write and read with every key taken. */
static void c14_every_pthread_key(void)
{
	static pthread_key_t k[PTHREAD_KEYS_MAX + 1];
	int n = 0, r;
	while (n <= PTHREAD_KEYS_MAX && (r = pthread_key_create(&k[n], NULL)) == 0)
		n++;
	t_out("keys made: %d, then %s\n", n, n > PTHREAD_KEYS_MAX ? "more" : t_errname(r));
	int p[2];
	char b[4] = "";
	pipe(p);
	t_res("write", write(p[1], "key", 3));
	t_res("read", read(p[0], b, sizeof b));
	close(p[0]);
	close(p[1]);
	while (n > 0)
		pthread_key_delete(k[--n]);
}

#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c14_fsize_append_full_handled, 0),
	C(c14_fsize_append_full_default, 0),
	C(c14_fsize_append_handled, 0),
	C(c14_fsize_append_default, 0),
	C(c14_nofile_edge, 0),
	C(c14_accept_no_number_free, 0),
	/* Under ThreadSanitizer the engine maps outside its region (arena.c) */
	C(c14_read_into_unmapped_hole, T_BACKEND | T_NOTSAN),
	C(c14_fsize_calls_handled, 0),
	C(c14_fsize_posix_fallocate_handler_errno, T_NOTSAN),
	C(c14_fsize_calls_ignored, 0),
	C(c14_fsize_ftruncate_default, 0),
	C(c14_fsize_copy_default, 0),
	C(c14_direct_misaligned, 0),
	C(c14_direct_misaligned_deadline, T_BACKEND),
	C(c14_nonblock_cold_file, T_BACKEND),
	C(c14_write_bad_buffer, 0),
	C(c14_write_bad_buffer_deadline, T_BACKEND),
	C(c14_nproc_zero, T_BACKEND),
	C(c14_nproc_one, T_BACKEND),
	C(c14_enospc_tmpfs, 0),
	C(c14_enospc_tmpfs_deadline, T_BACKEND),
	/* a thread that runs coroutines has the engine's key */
	C(c14_every_pthread_key, T_NOCORO),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "exact-limits", 150);
}
