/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks that the
 * non-blocking try must not change what a call means: 0-byte calls on
 * every kind of fd, counts over SSIZE_MAX and MAX_RW_COUNT, bad vectors,
 * RWF_HIPRI and unknown RWF flags.
 *
 * Times are never compared, only buckets ("<50ms", "50ms..1s") or yes/no.
 * A case that could hang under a broken shim sets an alarm first, so that
 * a hang shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

extern char **environ;

/* ---- helpers ---------------------------------------------------------- */

/* Arguments the compiler must not see through. */
static volatile size_t huge_count = (size_t)SSIZE_MAX + 1, max_count = (size_t)-1;

/* An anonymous MAP_NORESERVE buffer, advised huge pages (a large read
 * into 4 KiB pages costs seconds of page faults on a VM). */
static void *big_buffer(size_t n)
{
	const uintptr_t huge = 2 * MiB;
	char *p = mmap(NULL, n + huge, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	char *q = (char *)(((uintptr_t)p + huge - 1) & ~(huge - 1));
	madvise(q, n, MADV_HUGEPAGE);
	return q;
}

/* ==== class 1: the non-blocking try must not change what the call means */

static void dev_zero_read(size_t n)
{
	unsigned char *b = big_buffer(n);
	int fd = open("/dev/zero", O_RDONLY);
	memset(b, 0xa5, n);
	long r = read(fd, b, n);
	t_res("read", r);
	long zero = 0;
	while (zero < (long)n && !b[zero])
		zero++;
	t_out("zeroed=%ld\n", zero);
	munmap(b, n);
	close(fd);
}

static void c1_read_dev_zero_8m(void) { dev_zero_read(8 * MiB); }
static void c1_read_dev_zero_64m(void) { dev_zero_read(64 * MiB); }

/* The kernel moves at most MAX_RW_COUNT (2 GiB - 4 KiB) in one call. */
static void c1_read_dev_zero_3g(void)
{
	size_t n = 3UL << 30;
	void *b = big_buffer(n);
	int fd = open("/dev/zero", O_RDONLY);
	t_out("mapped=%s\n", yes(b != NULL));
	t_res("read", read(fd, b, n));
	munmap(b, n);
}

static void c1_write_dev_null_3g(void)
{
	size_t n = 3UL << 30;
	void *b = big_buffer(n); /* never touched: /dev/null does not look */
	int w = open("/dev/null", O_WRONLY), r = open("/dev/null", O_RDONLY);
	t_res("write", write(w, b, n));
	t_res("read", read(r, b, n));
	struct iovec v[2] = { { b, n / 2 }, { (char *)b + n / 2, n / 2 } };
	t_res("writev", writev(w, v, 2));
	munmap(b, n);
}

static void c1_read_dev_urandom_16m(void)
{
	size_t n = 16 * MiB;
	void *b = big_buffer(n);
	int fd = open("/dev/urandom", O_RDONLY);
	t_res("read", read(fd, b, n));
	t_res("read-again", read(fd, b, n / 2 + 3));
	munmap(b, n);
}

/* dd reads 8 MiB blocks: a short read shows as "15+1 records in". */
static void c1_dd_dev_zero_bs8m(void)
{
	char path[] = "/tmp/asy-t-XXXXXX", of[64], err[1024];
	int fd = mkstemp(path), p[2];
	close(fd);
	snprintf(of, sizeof of, "of=%s", path);
	pipe(p);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	char *argv[] = { "dd", "if=/dev/zero", of, "bs=8M", "count=16", NULL };
	pid_t pid;
	t_out("spawn=%d\n", posix_spawnp(&pid, "dd", &fa, NULL, argv, environ));
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	long n = 0, r;
	while (n < (long)sizeof err - 1 && (r = read(p[0], err + n, sizeof err - 1 - (size_t)n)) > 0)
		n += r;
	err[n] = 0;
	int st;
	waitpid(pid, &st, 0);
	show_status("dd", st);
	for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "records"))
			t_out("%s\n", line);
		else if (strstr(line, "bytes"))
			t_out("bytes=%ld\n", strtol(line, NULL, 10));
	struct stat sb;
	stat(path, &sb);
	t_out("size=%ld\n", (long)sb.st_size);
	unlink(path);
}

static void c1_zero_len_special_fds(void)
{
	char b[16];
	sigset_t set;
	net(4);
	int efd = eventfd(0, 0);
	t_res("eventfd-read0", read(efd, b, 0));
	t_res("eventfd-write0", write(efd, b, 0));
	t_res("eventfd-readv0", readv(efd, &(struct iovec){ b, 0 }, 1));
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	t_res("timerfd-read0", read(tfd, b, 0));
	t_res("timerfd-write0", write(tfd, b, 0));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, 0);
	t_res("signalfd-read0", read(sfd, b, 0));
	t_res("signalfd-write0", write(sfd, b, 0));
	int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
	t_res("dir-read0", read(dfd, b, 0));
	t_res("dir-read", read(dfd, b, sizeof b));
	t_res("dir-pread0", pread(dfd, b, 0, 0));
	t_res("dir-write0", write(dfd, b, 0));
}

static void sock_write0(int type)
{
	int s[2];
	char b[64];
	net(4);
	socketpair(AF_UNIX, type, 0, s);
	t_res("write0", write(s[0], b, 0));
	t_res("recv-dontwait", recv(s[1], b, sizeof b, MSG_DONTWAIT));
	t_res("recv-dontwait-again", recv(s[1], b, sizeof b, MSG_DONTWAIT));
	t_res("write0-again", write(s[0], b, 0));
	t_res("read", read(s[1], b, sizeof b));
	t_res("recv-dontwait-empty", recv(s[1], b, sizeof b, MSG_DONTWAIT));
	/* writev of 0 bytes in all never reaches the socket (vfs_writev). */
	t_res("writev0", writev(s[0], &(struct iovec){ b, 0 }, 1));
	t_res("recv-dontwait-after-writev0", recv(s[1], b, sizeof b, MSG_DONTWAIT));
	t_res("write0-third", write(s[0], b, 0));
	t_res("read0-queued", read(s[1], b, 0));
	t_res("readv", readv(s[1], &(struct iovec){ b, sizeof b }, 1));
	t_res("read0-empty", read(s[1], b, 0));
	t_res("write", write(s[0], "data", 4));
	show_buf("read-data", b, read(s[1], b, sizeof b));
}

static void c1_write0_unix_dgram(void) { sock_write0(SOCK_DGRAM); }
static void c1_write0_unix_seqpacket(void) { sock_write0(SOCK_SEQPACKET); }

static void write0_after_shutdown(void)
{
	int s[2];
	char b[8];
	mark_main();
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	shutdown(s[0], SHUT_WR);
	t_res("write0", write(s[0], b, 0));
	t_res("writev0", writev(s[0], &(struct iovec){ b, 0 }, 1));
	t_res("write", write(s[0], "x", 1));
	t_res("peer-read", read(s[1], b, sizeof b));
}

static void c1_write0_shutdown_ignored(void)
{
	signal(SIGPIPE, SIG_IGN);
	write0_after_shutdown();
	t_out("pending=%d\n", pending(SIGPIPE));
}

static void c1_write0_shutdown_handler(void)
{
	handle(SIGPIPE, 0);
	write0_after_shutdown();
	t_out("sigpipes=%d same-thread=%s\n", (int)handled, yes(handled_same_thread));
}

static void c1_write0_unconnected(void)
{
	char b[8];
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	net(4);
	handle(SIGPIPE, 0);
	t_res("write0", write(s, b, 0));
	t_res("write", write(s, "x", 1));
	t_res("read0", read(s, b, 0));
	t_res("read", read(s, b, sizeof b));
	t_out("sigpipes=%d\n", (int)handled);
}

/* count > SSIZE_MAX fails the kernel's access check: EFAULT. */
static void c1_read_count_over_ssize_max(void)
{
	static char b[64];
	int p[2];
	net(4);
	pipe(p);
	write(p[1], "data", 4);
	t_res("pipe", read(p[0], b, huge_count));
	show_buf("pipe-after", b, read(p[0], b, sizeof b));
	int fd = record_file(10, 0);
	t_res("file", read(fd, b, huge_count));
	t_res("file-pos", lseek(fd, 0, SEEK_CUR));
	t_res("file-pread", pread(fd, b, huge_count, 0));
	int z = open("/dev/zero", O_RDONLY);
	t_res("zero", read(z, b, huge_count));
	t_res("zero-max", read(z, b, max_count));
	t_res("file-readv-huge-iov", readv(fd, &(struct iovec){ b, huge_count }, 1));
	t_res("pipe-write", write(p[1], b, huge_count));
	t_res("pipe-left", drain_nb(p[0]));
}

/* NULL vectors, negative and IOV_MAX+1 counts, a count of 0. */
static void bad_vectors(int rfd, int wfd)
{
	static struct iovec v[IOV_MAX + 1];
	static char b[8];
	for (int i = 0; i <= IOV_MAX; i++)
		v[i] = (struct iovec){ b, 1 };
	static const struct {
		const char *name;
		int null, cnt;
	} vecs[] = { { "null1", 1, 1 }, { "null3", 1, 3 }, { "null0", 1, 0 },
		     { "neg", 0, -1 }, { "iovmax+1", 0, IOV_MAX + 1 } };
	char what[64];
	net(4);
	for (size_t k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
		struct iovec *iv = vecs[k].null ? NULL : v;
		int c = vecs[k].cnt == -1 ? minus_one : vecs[k].cnt;
		const char *n = vecs[k].name;
#define TRY(call, expr) (snprintf(what, sizeof what, "%s-%s", call, n), t_res(what, expr))
		TRY("readv", readv(rfd, iv, c));
		TRY("writev", writev(wfd, iv, c));
		TRY("preadv", preadv(rfd, iv, c, 0));
		TRY("pwritev", pwritev(wfd, iv, c, 0));
		TRY("preadv2", preadv2(rfd, iv, c, 0, 0));
		TRY("preadv2-pos", preadv2(rfd, iv, c, -1, 0));
		TRY("pwritev2", pwritev2(wfd, iv, c, -1, 0));
#undef TRY
	}
}

static void c1_bad_iovec_file(void)
{
	int fd = record_file(100, 0);
	lseek(fd, 50, SEEK_SET);
	bad_vectors(fd, fd);
	struct stat st;
	fstat(fd, &st);
	t_out("pos=%ld size=%ld\n", (long)lseek(fd, 0, SEEK_CUR), (long)st.st_size);
}

static void c1_bad_iovec_pipe(void)
{
	int p[2];
	pipe(p);
	bad_vectors(p[0], p[1]);
	t_res("in-pipe", drain_nb(p[0]));
}

static void c1_bad_iovec_odirect(void)
{
	const char *path = t_tmpfile(64 * KiB, 1);
	int fd = tmp_open(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		t_out("no O_DIRECT here\n");
		return;
	}
	bad_vectors(fd, fd);
	struct stat st;
	fstat(fd, &st);
	t_out("pos=%ld size=%ld\n", (long)lseek(fd, 0, SEEK_CUR), (long)st.st_size);
}

/* A file whose last read missed the page cache: its next read, where
 * the cache still has nothing, skips the try in a coroutine — yet a
 * vector the kernel refuses is still refused: a length negative as a
 * ssize_t is EINVAL, a range past user memory EFAULT (a coroutine's read
 * went to the backend with the vector cut short, and read bytes). */
static void c1_bad_iovec_cold_file(void)
{
	static char b[4096];
	const char *path = t_tmpfile(8 * MiB, 1);
	int fd = tmp_open(path, O_RDONLY);
	net(4);
	t_res("first", pread(fd, b, 4096, 0));
	struct iovec wraps[3] = { { b, 100 }, { b, SIZE_MAX }, { b, 200 } };
	struct iovec past[2] = { { b, 100 }, { (void *)(1ULL << 48), 100 } };
	struct iovec whole[2] = { { b, SSIZE_MAX }, { b, 1 } };
	t_res("preadv wraps", preadv(fd, wraps, 3, 4 * MiB));
	t_res("preadv2 wraps", preadv2(fd, wraps, 3, 5 * MiB, 0));
	t_res("preadv past", preadv(fd, past, 2, 6 * MiB));
	t_res("preadv whole", preadv(fd, whole, 2, 7 * MiB));
	lseek(fd, 3 * MiB, SEEK_SET);
	t_res("readv wraps", readv(fd, wraps, 3));
	t_out("pos=%ld\n", (long)lseek(fd, 0, SEEK_CUR));
}

/* RWF_HIPRI means nothing to a pipe or a socket: the read waits. */
static void c1_preadv2_hipri_pipe(void)
{
	int p[2];
	char b[32];
	net(4);
	pipe(p);
	pthread_t th = later_str(p[1], "hipri", 50);
	show_buf("pipe", b, preadv2(p[0], &(struct iovec){ b, sizeof b }, 1, -1, RWF_HIPRI));
	join(th);
	int fd = record_file(10, 0);
	t_res("file", preadv2(fd, &(struct iovec){ b, sizeof b }, 1, 0, RWF_HIPRI));
	t_res("file-pos", preadv2(fd, &(struct iovec){ b, sizeof b }, 1, -1, RWF_HIPRI));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
}

static void c1_preadv2_hipri_socket(void)
{
	int s[2];
	char b[32];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	pthread_t th = later_str(s[1], "hipri", 50);
	show_buf("socket", b, preadv2(s[0], &(struct iovec){ b, sizeof b }, 1, -1, RWF_HIPRI));
	join(th);
}

/* An unknown RWF flag is refused before anything waits. */
static void c1_preadv2_unknown_flag(void)
{
	int p[2];
	char b[32];
	net(4);
	pipe(p);
	double t0 = now();
	t_res("preadv2", preadv2(p[0], &(struct iovec){ b, sizeof b }, 1, -1, 0x40000000));
	t_out("at-once=%s\n", yes(now() - t0 < 1.0));
	fill_up(p[1]);
	t0 = now();
	t_res("pwritev2-full", pwritev2(p[1], &(struct iovec){ b, sizeof b }, 1, -1, 0x40000000));
	t_out("at-once=%s\n", yes(now() - t0 < 1.0));
	int fd = record_file(10, 1);
	t_res("file", preadv2(fd, &(struct iovec){ b, sizeof b }, 1, 0, 0x40000000));
}

static void c1_inotify_read0(void)
{
	char dir[] = "/tmp/asy-t-XXXXXX", path[64];
	static char b[4096];
	net(4);
	mkdtemp(dir);
	int fd = inotify_init1(0);
	inotify_add_watch(fd, dir, IN_CREATE);
	snprintf(path, sizeof path, "%s/f", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	t_res("read0", read(fd, b, 0));
	t_res("read-short", read(fd, b, 4));
	t_res("read", read(fd, b, sizeof b));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	t_res("read-empty", read(fd, b, sizeof b));
	t_res("read0-empty", read(fd, b, 0));
	unlink(path);
	rmdir(dir);
}

static void c1_read0_empty_pipe_socket(void)
{
	int p[2], s[2];
	char b[8];
	net(4);
	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	t_res("pipe-read0", read(p[0], b, 0));
	t_res("pipe-readv0", readv(p[0], &(struct iovec){ b, 0 }, 1));
	t_res("socket-read0", read(s[0], b, 0));
	t_res("socket-readv0", readv(s[0], &(struct iovec){ b, 0 }, 1));
	t_res("pipe-write0", write(p[1], b, 0));
	t_res("pipe-read-nb", drain_nb(p[0]));
}

/* A 0-byte write to a pipe without readers is 0: no EPIPE, no SIGPIPE. */
static void c1_pipe_write0_no_reader(void)
{
	int p[2];
	char b[8];
	mark_main();
	handle(SIGPIPE, 0);
	pipe(p);
	close(p[0]);
	t_res("write0", write(p[1], b, 0));
	t_res("writev0", writev(p[1], &(struct iovec){ b, 0 }, 1));
	t_out("sigpipes=%d\n", (int)handled);
	t_res("write", write(p[1], b, 1));
	t_out("sigpipes=%d same-thread=%s\n", (int)handled, yes(handled_same_thread));
}

static void c1_fifo_rdwr_zero(void)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	char b[8];
	net(4);
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	mkfifo(path, 0600);
	fd = open(path, O_RDWR);
	unlink(path);
	t_res("write0", write(fd, b, 0));
	t_res("read0", read(fd, b, 0));
	t_res("write", write(fd, "fifo", 4));
	show_buf("read", b, read(fd, b, sizeof b));
	t_res("read0-empty", read(fd, b, 0));
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c1_read_dev_zero_8m, 0),
	C(c1_read_dev_zero_64m, 0),
	/* Under ThreadSanitizer, its read and write interceptors walk the
	 * shadow memory of every byte moved: 8-10 GiB and 50-60 s per run,
	 * without the shim as with it. */
	C(c1_read_dev_zero_3g, T_NOTSAN),
	C(c1_write_dev_null_3g, T_NOTSAN),
	C(c1_read_dev_urandom_16m, 0),
	C(c1_dd_dev_zero_bs8m, T_NOCORO),
	C(c1_zero_len_special_fds, 0),
	C(c1_write0_unix_dgram, 0),
	C(c1_write0_unix_seqpacket, 0),
	C(c1_write0_shutdown_ignored, 0),
	C(c1_write0_shutdown_handler, 0),
	C(c1_write0_unconnected, 0),
	C(c1_read_count_over_ssize_max, 0),
	C(c1_bad_iovec_file, 0),
	C(c1_bad_iovec_pipe, 0),
	C(c1_bad_iovec_cold_file, 0),
	C(c1_bad_iovec_odirect, 0),
	C(c1_preadv2_hipri_pipe, T_BACKEND),
	C(c1_preadv2_hipri_socket, T_BACKEND),
	C(c1_preadv2_unknown_flag, 0),
	C(c1_inotify_read0, 0),
	C(c1_read0_empty_pipe_socket, 0),
	C(c1_pipe_write0_no_reader, 0),
	C(c1_fifo_rdwr_zero, 0),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-try", 150);
}
