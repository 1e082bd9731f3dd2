/* CONTRACT §4 semantics, as in every check-semantics-* program: every case
 * runs without the shim and under each backend (off, uring, threads), then
 * inside a coroutine (uring-coro, threads-coro), and must print the same
 * results — return values, errno names, bytes, offsets, signals seen — and
 * end the same way.  On plain threads no call may reach a backend; in a
 * coroutine, cases marked T_BACKEND must have reached one.  This program
 * checks counts (short reads, blocking pipes and sockets, EOF, cold files,
 * O_DIRECT, big writes), O_NONBLOCK, errno values and errno left alone,
 * and file offsets (alone and across threads). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-semantics.h"

static int main_errno = -1;
/* Deliberately bad arguments, hidden from the compiler's checks. */
static void *volatile bad_ptr = (void *)8;
static volatile int minus_one = -1;

/* ---- counts ----------------------------------------------------------- */

static void c_pipe_short_read(void)
{
	int p[2];
	char b[100];
	pipe(p);
	write(p[1], "hello", 5);
	show_buf("read", b, read(p[0], b, sizeof b));
	t_res("read0", read(p[0], b, 0));
	close(p[1]);
	t_res("eof", read(p[0], b, sizeof b));
}

static void c_pipe_block(void)
{
	int p[2];
	char b[100];
	pipe(p);
	pthread_t th = later_write(p[1], "abc", 50);
	show_buf("read", b, read(p[0], b, sizeof b));
	join(th);
	th = later_write(p[1], "defg", 30);
	struct iovec v[2] = { { b, 2 }, { b + 2, 10 } };
	show_buf("readv", b, readv(p[0], v, 2));
	join(th);
}

static void c_socket_block(void)
{
	int s[2];
	char b[100];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	pthread_t th = later_write(s[1], "sock", 50);
	show_buf("read", b, read(s[0], b, sizeof b));
	join(th);
	shutdown(s[1], SHUT_WR);
	t_res("eof", read(s[0], b, sizeof b));
}

static void c_file_eof(void)
{
	const char *path = t_tmpfile(1000, 0);
	int fd = open(path, O_RDONLY);
	char b[600];
	unlink(path);
	t_res("read", read(fd, b, 600));
	t_res("read", read(fd, b, 600));
	t_res("read", read(fd, b, 600));
	t_res("pread950", pread(fd, b, 100, 950));
	t_res("pread5000", pread(fd, b, 100, 5000));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
}

static unsigned long sum(const unsigned char *b, long n, unsigned long s)
{
	for (long i = 0; i < n; i++)
		s = s * 31 + b[i];
	return s;
}

/* A file not in the page cache: reads must go to the backend. */
static void c_cold_file(void)
{
	const char *path = t_tmpfile(4 << 20, 1);
	int fd = open(path, O_RDONLY);
	static unsigned char b[65536];
	unsigned long s = 0;
	long n, calls = 0, total = 0;
	unlink(path);
	while ((n = read(fd, b, sizeof b)) > 0)
		s = sum(b, n, s), total += n, calls++;
	t_out("read total=%ld sum=%lx last=%ld\n", total, s, n);
	t_evict(fd);
	struct iovec v[3] = { { b, 100 }, { b + 100, 5000 }, { b + 5100, 30000 } };
	t_res("preadv", preadv(fd, v, 3, 1000000));
	t_out("sum=%lx\n", sum(b, 35100, 0));
	t_res("preadv2", preadv2(fd, v, 3, 2000000, 0));
	t_out("sum=%lx\n", sum(b, 35100, 0));
	t_res("pread-eof", pread(fd, b, 65536, (4 << 20) - 10000));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
	lseek(fd, 3 << 20, SEEK_SET);
	t_evict(fd);
	t_res("readv", readv(fd, v, 3));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
	close(fd);
}

static void c_odirect(void)
{
	const char *path = t_tmpfile(1 << 20, 1);
	int fd = open(path, O_RDONLY | O_DIRECT);
	void *b;
	unlink(path);
	if (fd < 0 || posix_memalign(&b, 4096, 65536)) {
		t_out("no O_DIRECT here\n");
		return;
	}
	t_res("pread", pread(fd, b, 65536, 4096 * 7));
	t_out("sum=%lx\n", sum(b, 65536, 0));
	t_res("read", read(fd, b, 8192));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
	free(b);
}

/* An O_DIRECT fd's number, closed and reused for a pipe or a socket: the
 * program's calls on it get what the kernel gives for those (the shim
 * remembers O_DIRECT fds to skip its non-blocking try). */
static int odirect_learned(const char *path, int at, void *b)
{
	int fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		return -1;
	if (fd != at) {
		dup2(fd, at);
		close(fd);
	}
	long got = 0;
	for (int k = 0; k < 8; k++)
		got += pread(at, b, 4096, (long)k * 65536);
	t_res("direct-preads", got);
	return 0;
}

static void c_odirect_reused(void)
{
	const char *path = t_tmpfile(1 << 20, 1);
	void *b;
	int at = open("/dev/null", O_RDONLY);
	if (posix_memalign(&b, 4096, 4096) || odirect_learned(path, at, b) < 0) {
		t_out("no O_DIRECT here\n");
		unlink(path);
		return;
	}
	/* A pipe: pread is ESPIPE and takes nothing; read gets the data. */
	int p[2];
	pipe(p);
	dup2(p[0], at);
	write(p[1], "abc", 3);
	t_res("pipe-pread", pread(at, b, 8, 0));
	show_buf("pipe-read", b, read(at, b, 8));
	/* Again with a socket, and with a readv at offset 0 (pread64). */
	odirect_learned(path, at, b);
	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	dup2(s[0], at);
	write(s[1], "xyz", 3);
	t_res("socket-pread", pread(at, b, 8, 4096));
	show_buf("socket-read", b, read(at, b, 8));
	/* A blocking read of the reused number waits as a pipe read does:
	 * a signal without SA_RESTART ends it with EINTR. */
	odirect_learned(path, at, b);
	dup2(p[0], at);
	handle(SIGUSR1, 0);
	pthread_t ts = later_signal(SIGUSR1, 50);
	t_res("blocked-read", read(at, b, 8));
	join(ts);
	t_out("handled=%d\n", (int)handled);
	unlink(path);
	free(b);
}

struct slow_reader {
	int fd;
	long total;
	unsigned long sum;
};

static void *slow_reader_main(void *arg)
{
	struct slow_reader *r = arg;
	unsigned char b[8192];
	long n;
	t_msleep(30);
	while ((n = read(r->fd, b, sizeof b)) > 0) {
		r->total += n;
		r->sum = sum(b, n, r->sum);
		if (r->total % (128 << 10) < 8192)
			t_msleep(1);
	}
	return NULL;
}

/* A write to a blocking pipe moves everything (io_uring alone would not). */
static void c_write_pipe_big(void)
{
	int p[2];
	static unsigned char b[1 << 20];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (unsigned char)(i * 7 + (i >> 9));
	pipe(p);
	struct slow_reader r = { .fd = p[0] };
	pthread_t th;
	pthread_create(&th, NULL, slow_reader_main, &r);
	t_res("write", write(p[1], b, sizeof b));
	struct iovec v[2] = { { b, 300000 }, { b + 300000, 400000 } };
	t_res("writev", writev(p[1], v, 2));
	close(p[1]);
	join(th);
	t_out("reader total=%ld sum=%lx\n", r.total, r.sum);
	t_out("expected sum=%lx\n", sum(b, 300000 + 400000, sum(b, sizeof b, 0)));
}

static void c_socket_write_big(void)
{
	int s[2];
	static unsigned char b[1 << 20];
	memset(b, 'x', sizeof b);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	struct slow_reader r = { .fd = s[1] };
	pthread_t th;
	pthread_create(&th, NULL, slow_reader_main, &r);
	t_res("write", write(s[0], b, sizeof b));
	shutdown(s[0], SHUT_WR);
	join(th);
	t_out("reader total=%ld\n", r.total);
}


/* ---- non-blocking ----------------------------------------------------- */

static void c_nonblock(void)
{
	int p[2], s[2];
	static char b[100000];
	pipe2(p, O_NONBLOCK);
	t_res("read-empty", read(p[0], b, 10));
	t_res("write-big", write(p[1], b, sizeof b));
	t_res("write-full", write(p[1], b, 10));
	t_res("drain", drain_fd(p[0]));
	close(p[0]);
	close(p[1]);

	pipe(p);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	t_res("fcntl-read", read(p[0], b, 10));
	t_res("fcntl-readv", readv(p[0], &(struct iovec){ b, 10 }, 1));
	int on = 1;
	int q[2];
	pipe(q);
	ioctl(q[0], FIONBIO, &on);
	t_res("fionbio-read", read(q[0], b, 10));
	on = 0;
	ioctl(q[0], FIONBIO, &on);
	pthread_t th = later_write(q[1], "back", 40);
	show_buf("blocking-again", b, read(q[0], b, 10));
	join(th);

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s);
	t_res("sock-read", read(s[0], b, 10));
	long n = 0, r;
	while ((r = write(s[1], b, sizeof b)) > 0)
		n += r;
	t_out("sock-filled=%d last=%s\n", n > 0, t_errname(errno));
	t_res("preadv2-nowait", preadv2(q[0], &(struct iovec){ b, 10 }, 1, -1, RWF_NOWAIT));
}


/* ---- errno ------------------------------------------------------------ */

static void c_errno(void)
{
	char b[64];
	int p[2];
	int fd = open("/tmp", O_RDONLY);
	t_res("closed", read(1000, b, 10));
	t_res("minus1", read(-1, b, 10));
	t_res("write-closed", write(1000, b, 10));
	t_res("pread-closed", pread(1000, b, 10, 0));
	t_res("fsync-closed", fsync(1000));
	t_res("fdatasync-closed", fdatasync(1000));
	t_res("eisdir", read(fd, b, 10));
	close(fd);
	int wo = open("/dev/null", O_WRONLY), ro = open("/dev/null", O_RDONLY);
	t_res("read-wronly", read(wo, b, 10));
	t_res("write-rdonly", write(ro, b, 10));
	pipe(p);
	t_res("espipe-pread", pread(p[0], b, 10, 0));
	t_res("espipe-pwrite", pwrite(p[1], b, 10, 0));
	t_res("espipe-preadv", preadv(p[0], &(struct iovec){ b, 10 }, 1, 5));
	t_res("fsync-pipe", fsync(p[0]));
	t_res("pread-neg", pread(ro, b, 10, -5));
	t_res("preadv2-neg2", preadv2(ro, &(struct iovec){ b, 10 }, 1, -2, 0));
	int efd = eventfd(1, 0);
	t_res("eventfd-short", read(efd, b, 4));
	t_res("eventfd-read", read(efd, b, 8));
	int full = open("/dev/full", O_WRONLY);
	t_res("enospc", write(full, b, 10));
	write(p[1], "data", 4);
	t_res("efault-pipe", read(p[0], bad_ptr, 10));
	t_res("efault-file", read(open("/etc/passwd", O_RDONLY), bad_ptr, 10));
	t_res("efault-write", write(p[1], bad_ptr, 10));
	t_res("efault-iov", readv(p[0], bad_ptr, 2));
	t_res("einval-iovcnt", readv(p[0], &(struct iovec){ b, 1 }, minus_one));
	t_res("after-efault", read(p[0], b, 10));
}

/* Bad buffer on a read that first has to wait: the backend path. */
static void c_efault_blocking(void)
{
	int p[2];
	char b[16];
	pipe(p);
	pthread_t th = later_write(p[1], "late", 40);
	t_res("efault", read(p[0], bad_ptr, 10));
	join(th);
	t_res("left", read(p[0], b, sizeof b));
}

static void c_errno_untouched(void)
{
	int p[2];
	char b[64];
	const char *path = t_tmpfile(100000, 1);
	int fd = open(path, O_RDWR);
	unlink(path);
	pipe(p);
	t_out("at-main=%d\n", main_errno);
	errno = 4242;
	read(fd, b, 10);
	t_out("after-cold-read=%d\n", errno);
	read(fd, b, 10);
	t_out("after-cached-read=%d\n", errno);
	pthread_t th = later_write(p[1], "x", 30);
	read(p[0], b, 10);
	t_out("after-pipe-read=%d\n", errno);
	join(th);
	pwrite(fd, b, 10, 50);
	fsync(fd);
	fdatasync(fd);
	t_out("after-fsync=%d\n", errno);
	close(fd);
}


/* ---- offsets ---------------------------------------------------------- */

static void c_offsets(void)
{
	const char *path = t_tmpfile(10000, 1);
	int fd = open(path, O_RDWR), d = dup(fd);
	char b[200];
	t_res("read", read(fd, b, 100));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
	t_res("dup-read", read(d, b, 100));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
	t_res("pread", pread(fd, b, 100, 5000));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
	t_res("write", write(fd, "WXYZ", 4));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
	t_res("pwrite", pwrite(fd, "pq", 2, 20));
	t_res("pos", lseek(d, 0, SEEK_CUR));
	t_res("pread-back", pread(fd, b, 6, 18));
	t_out("bytes=%.6s\n", b);
	int a = open(path, O_WRONLY | O_APPEND);
	t_res("append", write(a, "tail", 4));
	t_res("pwrite-append", pwrite(a, "more", 4, 0));
	t_res("pwritev2-append", pwritev2(fd, &(struct iovec){ "flag", 4 }, 1, 0, RWF_APPEND));
	struct stat st;
	fstat(fd, &st);
	t_out("size=%ld\n", (long)st.st_size);
	t_res("pread-tail", pread(fd, b, 12, 10000));
	t_out("tail=%.12s\n", b);
	unlink(path);
}

struct rec_reader {
	int fd;
	unsigned char *seen;
	long n, dups;
};

static void *rec_reader_main(void *arg)
{
	struct rec_reader *r = arg;
	char b[100];
	while (read(r->fd, b, 100) == 100) {
		unsigned idx = 0;
		memcpy(&idx, b, sizeof idx);
		if (__atomic_fetch_add(&r->seen[idx % 20000], 1, __ATOMIC_RELAXED))
			__atomic_fetch_add(&r->dups, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->n, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Two threads reading one fd never get the same record twice. */
static void c_offsets_threads(void)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	int fd = mkstemp(path);
	char b[100];
	memset(b, '.', sizeof b);
	for (unsigned i = 0; i < 20000; i++) {
		memcpy(b, &i, sizeof i);
		write(fd, b, 100);
	}
	unlink(path);
	static unsigned char seen[20000];
	for (int round = 0; round < 3; round++) {
		t_evict(fd);
		lseek(fd, 0, SEEK_SET);
		memset(seen, 0, sizeof seen);
		struct rec_reader r = { .fd = fd, .seen = seen };
		pthread_t a, c;
		pthread_create(&a, NULL, rec_reader_main, &r);
		pthread_create(&c, NULL, rec_reader_main, &r);
		join(a);
		join(c);
		t_out("records=%ld dups=%ld\n", r.n, r.dups);
	}
}

static const struct t_case cases[] = {
	{ "pipe_short_read", c_pipe_short_read, 0 },
	{ "pipe_block", c_pipe_block, T_BACKEND },
	{ "socket_block", c_socket_block, T_BACKEND },
	{ "file_eof", c_file_eof, 0 },
	{ "cold_file", c_cold_file, T_BACKEND },
	{ "odirect", c_odirect, T_BACKEND },
	{ "odirect_reused", c_odirect_reused, T_NOCORO },
	{ "write_pipe_big", c_write_pipe_big, T_BACKEND },
	{ "socket_write_big", c_socket_write_big, T_BACKEND },
	{ "nonblock", c_nonblock, T_BACKEND },
	{ "errno", c_errno, 0 },
	{ "efault_blocking", c_efault_blocking, T_BACKEND },
	{ "errno_untouched", c_errno_untouched, T_BACKEND },
	{ "offsets", c_offsets, 0 },
	{ "offsets_threads", c_offsets_threads, 0 },
	{ NULL, NULL, 0 },
};

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "semantics-calls", 60);
}
