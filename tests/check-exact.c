/* Regression tests, one case per symptom seen: each runs without the shim,
 * under off, uring and threads, and inside a coroutine (uring-coro,
 * threads-coro), and must print what plain glibc prints and end the same
 * way.  Cases are named after the symptom and grouped by class:
 *
 *   c1  the non-blocking try must not change what the call means
 *   c2  one call is never split
 *   c3  the wait ends when the kernel's would
 *   c4  a continuation must not do what the single call would not
 *   c5  what the kernel applies to the calling task happens to it
 *   c6  signals and cancellation
 *   c7  the engine's own fds are the program's business
 *   c8  the file position belongs to the open file
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

extern char **environ;

#define KiB 1024L
#define MiB (1024L * 1024)
/* Arguments the compiler must not see through. */
static volatile size_t huge_count = (size_t)SSIZE_MAX + 1, max_count = (size_t)-1;
static volatile int minus_one = -1;

/* ---- helpers ---------------------------------------------------------- */

static pid_t main_tid;
static pthread_t main_thread;

/* Remember the case's own thread, for helpers that signal or wait for it. */
static void mark_main(void)
{
	main_tid = t_gettid();
	main_thread = pthread_self();
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* How long a wait took, coarse enough to be the same on a loaded machine. */
static const char *bucket(double secs)
{
	return secs < 0.05 ? "<50ms" : secs < 1.0 ? "50ms..1s" : ">=1s";
}

static const char *yes(int cond)
{
	return cond ? "yes" : "no";
}

/* A safety net: a call that hangs ends the process with SIGALRM. */
static void net(unsigned secs)
{
	alarm(secs);
}

/* The same for cases that use ITIMER_REAL themselves: SIGKILL after secs. */
static void net_kill(int secs)
{
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGKILL };
	struct itimerspec its = { .it_value = { secs, 0 } };
	timer_t t;
	if (timer_create(CLOCK_MONOTONIC, &ev, &t) == 0)
		timer_settime(t, 0, &its, NULL);
}

static pthread_t go(void *(*fn)(void *), void *arg)
{
	pthread_t th;
	pthread_create(&th, NULL, fn, arg);
	return th;
}

static void join(pthread_t th)
{
	pthread_join(th, NULL);
}

struct later {
	int fd, ms;
	const void *data;
	size_t len;
};

static void *later_main(void *arg)
{
	struct later *l = arg;
	t_msleep(l->ms);
	if (write(l->fd, l->data, l->len) < 0)
		perror("later write");
	return NULL;
}

/* After ms, write len bytes of data to fd from another thread. */
static pthread_t later_write(int fd, const void *data, size_t len, int ms)
{
	static struct later l[8];
	static int n;
	struct later *p = &l[n++ % 8];
	*p = (struct later){ .fd = fd, .ms = ms, .data = data, .len = len };
	return go(later_main, p);
}

static pthread_t later_str(int fd, const char *s, int ms)
{
	return later_write(fd, s, strlen(s), ms);
}

static void show_buf(const char *what, const char *buf, long n)
{
	if (n < 0)
		t_res(what, n);
	else
		t_out("%s=%ld '%.*s'\n", what, n, (int)n, buf);
}

static void show_status(const char *what, int st)
{
	if (WIFEXITED(st))
		t_out("%s: exit %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		t_out("%s: killed by SIG%s\n", what, sigabbrev_np(WTERMSIG(st)));
	else if (WIFSTOPPED(st))
		t_out("%s: stopped by SIG%s\n", what, sigabbrev_np(WSTOPSIG(st)));
	else
		t_out("%s: status %#x\n", what, st);
}

static unsigned long sum(const unsigned char *b, long n, unsigned long s)
{
	for (long i = 0; i < n; i++)
		s = s * 31 + b[i];
	return s;
}

static void fill(unsigned char *b, long n, unsigned seed)
{
	for (long i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 7 + (i >> 8) + seed);
}

/* Bytes readable from fd now, without waiting. */
static long drain_nb(int fd)
{
	static char buf[65536];
	long total = 0, n;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		total += n;
	fcntl(fd, F_SETFL, fl);
	return total;
}

/* Fill a blocking pipe or socket until a write would block; the count. */
static long fill_up(int fd)
{
	static char buf[65536];
	long total = 0, n;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (size_t chunk = sizeof buf; chunk >= 1; chunk /= 8)
		while ((n = write(fd, buf, chunk)) > 0)
			total += n;
	fcntl(fd, F_SETFL, fl);
	return total;
}

/* Read exactly n bytes (or up to EOF/error); the count. */
static long read_n(int fd, long n)
{
	static char buf[65536];
	long got = 0, r;
	while (got < n && (r = read(fd, buf, n - got < (long)sizeof buf ? (size_t)(n - got) : sizeof buf)) > 0)
		got += r;
	return got;
}

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

/* A temporary file's fd (already unlinked), opened with flags. */
static int tmp_open(const char *path, int flags)
{
	int fd = open(path, flags);
	unlink(path);
	return fd;
}

static int empty_tmp(int flags)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	return tmp_open(path, flags);
}

/* A file of n 100-byte records, record i starting with i; unlinked. */
static int record_file(int n, int evict)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	int fd = mkstemp(path);
	unsigned char b[100];
	unlink(path);
	for (int i = 0; i < n; i++) {
		fill(b, sizeof b, (unsigned)i);
		memcpy(b, &i, sizeof i);
		if (write(fd, b, sizeof b) != (ssize_t)sizeof b)
			break;
	}
	if (evict)
		t_evict(fd);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* The index of a 100-byte record, or -1 when it is not intact. */
static int record_index(const unsigned char *b)
{
	unsigned char want[100];
	int i;
	memcpy(&i, b, sizeof i);
	if (i < 0 || i > 1000000)
		return -1;
	fill(want, sizeof want, (unsigned)i);
	return memcmp(b + sizeof i, want + sizeof i, sizeof want - sizeof i) ? -1 : i;
}

static int tcp_pair(int *client, int *server, int bufsize)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	if (bufsize)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
	if (bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*client = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (bufsize)
		setsockopt(*client, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
	if (connect(*client, (struct sockaddr *)&a, len) < 0)
		return -1;
	*server = accept(l, NULL, NULL);
	close(l);
	return *server < 0 ? -1 : 0;
}

static void set_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

static volatile sig_atomic_t handled, handled_same_thread;

static void on_count(int sig)
{
	(void)sig;
	handled++;
	handled_same_thread = t_gettid() == main_tid;
}

static void handle(int sig, int flags)
{
	struct sigaction sa = { .sa_handler = on_count, .sa_flags = flags };
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	handled = 0;
}

static void block_signal(int sig)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int pending(int sig)
{
	sigset_t set;
	sigpending(&set);
	return sigismember(&set, sig);
}

/* Wait (bounded) until cond_var reaches want. */
static void wait_for(volatile sig_atomic_t *var, int want)
{
	for (int i = 0; i < 5000 && *var < want; i++)
		t_msleep(1);
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

/* ==== class 2: one call is never split ================================= */

/* A datagram sent 50 ms later arrives whole in one readv of 100 iovecs. */
static void readv_100_later(int type)
{
	static unsigned char out[1000], in[1000];
	static struct iovec v[100];
	int s[2];
	net(4);
	socketpair(AF_UNIX, type, 0, s);
	fill(out, sizeof out, 3);
	memset(in, 0, sizeof in);
	for (int i = 0; i < 100; i++)
		v[i] = (struct iovec){ in + 10 * i, 10 };
	pthread_t th = later_write(s[1], out, sizeof out, 50);
	t_res("readv", readv(s[0], v, 100));
	t_out("same=%s\n", yes(!memcmp(in, out, sizeof in)));
	join(th);
	t_res("left", recv(s[0], in, sizeof in, MSG_DONTWAIT));
}

static void c2_readv_100iov_unix_dgram(void) { readv_100_later(SOCK_DGRAM); }
static void c2_readv_100iov_unix_seqpacket(void) { readv_100_later(SOCK_SEQPACKET); }

static void writev_n_one_record(int type, int n, int len)
{
	static unsigned char out[4096], in[8192];
	static struct iovec v[1024];
	int s[2];
	net(4);
	socketpair(AF_UNIX, type, 0, s);
	fill(out, n * len, 5);
	for (int i = 0; i < n; i++)
		v[i] = (struct iovec){ out + len * i, (size_t)len };
	t_res("writev", writev(s[0], v, n));
	long r = read(s[1], in, sizeof in);
	t_res("read", r);
	t_out("same=%s\n", yes(r == n * len && !memcmp(in, out, (size_t)r)));
	t_res("left", recv(s[1], in, sizeof in, MSG_DONTWAIT));
}

static void c2_writev_100iov_unix_dgram(void) { writev_n_one_record(SOCK_DGRAM, 100, 10); }
static void c2_writev_300iov_unix_seqpacket(void) { writev_n_one_record(SOCK_SEQPACKET, 300, 3); }

/* Records of 4000 bytes (< PIPE_BUF) in 100 iovecs from 4 threads: each
 * writev is atomic, so the reader sees whole records only. */
enum { REC_THREADS = 4, REC_PER = 200, REC_LEN = 4000, REC_IOV = 100 };
static int rec_pipe[2];
static long rec_short;

static void rec_fill(unsigned char *b, int id)
{
	for (int k = 0; k < REC_LEN; k++)
		b[k] = (unsigned char)(id * 13 + k * (1 + id % 7));
	memcpy(b, &id, sizeof id);
}

static void *rec_writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned char *b = malloc(REC_LEN);
	struct iovec v[REC_IOV];
	for (int i = 0; i < REC_IOV; i++)
		v[i] = (struct iovec){ b + i * (REC_LEN / REC_IOV), REC_LEN / REC_IOV };
	for (int s = 0; s < REC_PER; s++) {
		rec_fill(b, t * REC_PER + s);
		if (writev(rec_pipe[1], v, REC_IOV) != REC_LEN)
			__atomic_fetch_add(&rec_short, 1, __ATOMIC_RELAXED);
	}
	free(b);
	return NULL;
}

static void c2_writev_records_4threads_pipe(void)
{
	enum { TOTAL = REC_THREADS * REC_PER * REC_LEN };
	static unsigned char all[TOTAL], want[REC_LEN];
	static unsigned char seen[REC_THREADS * REC_PER];
	pthread_t th[REC_THREADS];
	net(8);
	pipe(rec_pipe);
	for (int t = 0; t < REC_THREADS; t++)
		th[t] = go(rec_writer, (void *)(intptr_t)t);
	long got = 0, n;
	while (got < TOTAL && (n = read(rec_pipe[0], all + got, TOTAL - got)) > 0)
		got += n;
	for (int t = 0; t < REC_THREADS; t++)
		join(th[t]);
	int torn = 0, distinct = 0;
	for (long off = 0; off + REC_LEN <= got; off += REC_LEN) {
		int id;
		memcpy(&id, all + off, sizeof id);
		if (id < 0 || id >= REC_THREADS * REC_PER) {
			torn++;
			continue;
		}
		rec_fill(want, id);
		if (memcmp(all + off, want, REC_LEN))
			torn++;
		else if (!seen[id]++)
			distinct++;
	}
	t_out("bytes=%ld short-writes=%ld torn=%d distinct=%d\n", got, rec_short, torn, distinct);
}

/* IOV_MAX+1 and negative counts on an O_DIRECT fd, before and after the
 * fd has been read O_DIRECT (the engine then skips its non-blocking try). */
static void odirect_bad_counts(int fd, struct iovec *v)
{
	t_res("preadv-iovmax+1", preadv(fd, v, IOV_MAX + 1, 0));
	t_res("readv-iovmax+1", readv(fd, v, IOV_MAX + 1));
	t_res("preadv2-iovmax+1", preadv2(fd, v, IOV_MAX + 1, 4096, 0));
	t_res("readv-neg", readv(fd, v, minus_one));
	t_res("preadv-neg", preadv(fd, v, minus_one, 0));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
}

/* An O_DIRECT fd read often enough for the engine to know it (slow reads
 * of a cold file), then its number reused for a pipe and a socket: pread
 * gives ESPIPE and takes nothing, read gets the data.  Inside a coroutine
 * the engine skips its try for a known direct fd: the number must be
 * checked on every call. */
static void direct_reads_at(int at, void *b)
{
	const char *path = t_tmpfile(4 << 20, 1);
	int fd = tmp_open(path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		return;
	dup2(fd, at);
	close(fd);
	long got = 0;
	for (int k = 0; k < 16; k++)
		got += pread(at, b, 4096, (off_t)k * 262144);
	t_res("direct-preads", got);
}

static void c2_odirect_number_reused(void)
{
	void *b;
	int at = open("/dev/null", O_RDONLY);
	if (posix_memalign(&b, 4096, 4096))
		return;
	direct_reads_at(at, b);
	int p[2], s[2];
	pipe(p);
	dup2(p[0], at);
	write(p[1], "abc", 3);
	t_res("pipe-pread", pread(at, b, 8, 0));
	t_res("pipe-read", read(at, b, 8));
	direct_reads_at(at, b);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	dup2(s[0], at);
	write(s[1], "xyz", 3);
	t_res("socket-pread", pread(at, b, 8, 4096));
	t_res("socket-read", read(at, b, 8));
	direct_reads_at(at, b);
	int n = open("/dev/zero", O_RDONLY);
	dup2(n, at);
	t_res("zero-pread", pread(at, b, 4096, 0));
	t_out("zeros=%s\n", ((char *)b)[0] == 0 && ((char *)b)[4095] == 0 ? "yes" : "no");
	free(b);
}

static void c2_odirect_iov_max_einval(void)
{
	static struct iovec v[IOV_MAX + 1];
	void *b;
	const char *path = t_tmpfile(MiB, 1);
	int fd = tmp_open(path, O_RDWR | O_DIRECT);
	net(4);
	if (fd < 0 || posix_memalign(&b, 4096, 4096)) {
		t_out("no O_DIRECT here\n");
		return;
	}
	for (int i = 0; i <= IOV_MAX; i++)
		v[i] = (struct iovec){ b, 4096 };
	odirect_bad_counts(fd, v);
	for (int i = 0; i < 4; i++)
		t_res("read", read(fd, b, 4096));
	t_out("sum=%lx\n", sum(b, 4096, 0));
	for (int i = 0; i < 4; i++)
		t_res("pread", pread(fd, b, 4096, 65536 * i));
	odirect_bad_counts(fd, v);
	t_res("pwritev-iovmax+1", pwritev(fd, v, IOV_MAX + 1, 0));
	t_res("writev-iovmax+1", writev(fd, v, IOV_MAX + 1));
	t_res("pwritev2-iovmax+1", pwritev2(fd, v, IOV_MAX + 1, 8192, 0));
	struct stat st;
	fstat(fd, &st);
	t_out("size=%ld pos=%ld\n", (long)st.st_size, (long)lseek(fd, 0, SEEK_CUR));
	free(b);
}

/* 1025 iovecs are EINVAL at once, even on a pipe that would wait; 1024 of
 * 4 bytes take a 4096-byte write in one call. */
static void c2_readv_1025_iov_pipe_wait(void)
{
	static struct iovec v[IOV_MAX + 1];
	static unsigned char in[4 * (IOV_MAX + 1)], out[4096];
	int p[2];
	net(4);
	pipe(p);
	for (int i = 0; i <= IOV_MAX; i++)
		v[i] = (struct iovec){ in + 4 * i, 4 };
	double t0 = now();
	t_res("readv-1025", readv(p[0], v, IOV_MAX + 1));
	t_out("at-once=%s\n", yes(now() - t0 < 1.0));
	t_res("writev-1025", writev(p[1], v, IOV_MAX + 1));
	t_res("in-pipe", drain_nb(p[0]));
	fill(out, sizeof out, 9);
	pthread_t th = later_write(p[1], out, sizeof out, 50);
	t_res("readv-1024", readv(p[0], v, IOV_MAX));
	t_out("same=%s\n", yes(!memcmp(in, out, sizeof out)));
	join(th);
}

static void c2_preadv2_100iov_cold(void)
{
	static unsigned char b[100 * 1000];
	static struct iovec v[100];
	const char *path = t_tmpfile(MiB, 1);
	int fd = tmp_open(path, O_RDONLY);
	for (int i = 0; i < 100; i++)
		v[i] = (struct iovec){ b + 1000 * i, 1000 };
	t_res("preadv2", preadv2(fd, v, 100, 12345, 0));
	t_out("sum=%lx\n", sum(b, sizeof b, 0));
	t_res("preadv2-eof", preadv2(fd, v, 100, MiB - 54321, 0));
	t_out("sum=%lx\n", sum(b, 54321, 0));
	t_evict(fd);
	lseek(fd, 777, SEEK_SET);
	t_res("readv", readv(fd, v, 100));
	t_out("sum=%lx\n", sum(b, sizeof b, 0));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
}

/* ==== class 3: the wait ends when the kernel's would =================== */

static void rcvtimeo(int fd)
{
	char b[16];
	net(4);
	set_timeo(fd, SO_RCVTIMEO, 100);
	double t0 = now();
	t_res("read", read(fd, b, sizeof b));
	t_out("waited=%s\n", bucket(now() - t0));
	t0 = now();
	t_res("readv", readv(fd, &(struct iovec){ b, sizeof b }, 1));
	t_out("waited=%s\n", bucket(now() - t0));
}

static void c3_rcvtimeo_unix_stream(void)
{
	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	rcvtimeo(s[0]);
}

static void c3_rcvtimeo_unix_dgram(void)
{
	int s[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
	rcvtimeo(s[0]);
}

static void c3_rcvtimeo_tcp(void)
{
	int c, s;
	if (tcp_pair(&c, &s, 0) < 0) {
		t_out("no loopback TCP here\n");
		return;
	}
	rcvtimeo(s);
}

static void c3_sndtimeo_full_unix_stream(void)
{
	static char big[MiB];
	int s[2];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	t_out("filled=%s\n", yes(fill_up(s[0]) > 0));
	set_timeo(s[0], SO_SNDTIMEO, 100);
	double t0 = now();
	t_res("write", write(s[0], big, sizeof big));
	t_out("waited=%s\n", bucket(now() - t0));
	t0 = now();
	t_res("writev", writev(s[0], &(struct iovec){ big, 1000 }, 1));
	t_out("waited=%s\n", bucket(now() - t0));
}

struct chunks {
	int fd;
	const char *s[3];
};

/* Write each string 100 ms after the one before. */
static void *write_chunks(void *arg)
{
	struct chunks *c = arg;
	for (int i = 0; i < 3 && c->s[i]; i++) {
		t_msleep(100);
		if (write(c->fd, c->s[i], strlen(c->s[i])) < 0)
			perror("write");
	}
	return NULL;
}

/* SO_RCVLOWAT 8: 5 bytes are not enough, the read waits for more.  (TCP
 * wakes the reader only when 8 bytes beyond what it has taken are there,
 * so plain glibc returns 18 there and 10 on a unix socket.) */
static void rcvlowat(int rd, int wr)
{
	static struct chunks c;
	char b[100];
	int lowat = 8;
	net(4);
	setsockopt(rd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
	write(wr, "12345", 5);
	c = (struct chunks){ wr, { "67890", "abcdefgh", NULL } };
	pthread_t th = go(write_chunks, &c);
	show_buf("read", b, read(rd, b, sizeof b));
	join(th);
	t_res("rest", recv(rd, b, sizeof b, MSG_DONTWAIT));
}

static void c3_rcvlowat_tcp(void)
{
	int c, s;
	if (tcp_pair(&c, &s, 0) < 0) {
		t_out("no loopback TCP here\n");
		return;
	}
	rcvlowat(s, c);
}

static void c3_rcvlowat_unix_stream(void)
{
	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	rcvlowat(s[0], s[1]);
}

/* A raw pty slave with the given VMIN and VTIME; its master in *master. */
static int raw_pty(int *master, int vmin, int vtime)
{
	struct termios t;
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		return -1;
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	tcgetattr(s, &t);
	cfmakeraw(&t);
	t.c_cc[VMIN] = (cc_t)vmin;
	t.c_cc[VTIME] = (cc_t)vtime;
	tcsetattr(s, TCSANOW, &t);
	*master = m;
	return s;
}

static void c3_pty_vmin0_vtime0(void)
{
	char b[16];
	int m, s = raw_pty(&m, 0, 0);
	net(4);
	double t0 = now();
	t_res("read", read(s, b, sizeof b));
	t_out("at-once=%s\n", yes(now() - t0 < 1.0));
	write(m, "xy", 2);
	poll(&(struct pollfd){ s, POLLIN, 0 }, 1, 2000);
	show_buf("read-data", b, read(s, b, sizeof b));
}

static void c3_pty_vmin0_vtime2(void)
{
	char b[16];
	int m, s = raw_pty(&m, 0, 2);
	net(4);
	double t0 = now();
	t_res("read", read(s, b, sizeof b));
	double dt = now() - t0;
	t_out("waited=%s at-least-150ms=%s\n", bucket(dt), yes(dt >= 0.15));
	write(m, "xy", 2);
	poll(&(struct pollfd){ s, POLLIN, 0 }, 1, 2000);
	show_buf("read-data", b, read(s, b, sizeof b));
}

static void c3_pty_vmin3(void)
{
	char b[16];
	int m, s = raw_pty(&m, 3, 0);
	net(4);
	write(m, "a", 1);
	pthread_t th = later_str(m, "bc", 50);
	show_buf("read", b, read(s, b, sizeof b));
	join(th);
}

/* After SHUT_RD a datagram socket reads 0 at once. */
static void c3_dgram_shutdown_rd(void)
{
	int s[2];
	char b[16];
	net(3);
	handle(SIGPIPE, 0);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
	t_res("shutdown", shutdown(s[0], SHUT_RD));
	t_res("read", read(s[0], b, sizeof b));
	t_res("readv", readv(s[0], &(struct iovec){ b, sizeof b }, 1));
	t_res("peer-write", write(s[1], "x", 1));
	t_res("read-again", read(s[0], b, sizeof b));
	t_out("sigpipes=%d\n", (int)handled);
}

/* ==== class 4: a continuation must not do what the single call would not */

enum peer { PEER_UNIX, PEER_PIPE, PEER_TCP };

static const char *count_bucket(long n, long all)
{
	return n < 0 ? "failed" : n == 0 ? "0" : n < all ? "partial" : n == all ? "all" : "more";
}

/* What a child wrote to fd, up to EOF, as one line of output. */
static void child_line(int fd)
{
	char line[128];
	long n = 0, r;
	while (n < (long)sizeof line - 1 && (r = read(fd, line + n, sizeof line - 1 - (size_t)n)) > 0)
		n += r;
	line[n] = 0;
	t_out("child said: %s", n ? line : "nothing\n");
}

/* A child writes 1 MiB (default SIGPIPE, or blocked); the parent reads
 * 200 KiB and closes.  The child prints what its one call returned. */
static void partial_then_close(enum peer peer, int use_writev, int block)
{
	static char big[MiB];
	int fds[2], res[2], w, r;
	net(8);
	if (peer == PEER_TCP) {
		if (tcp_pair(&w, &r, 32768) < 0) {
			t_out("no loopback TCP here\n");
			return;
		}
	} else {
		if (peer == PEER_PIPE)
			pipe(fds);
		else
			socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
		r = fds[0];
		w = fds[1];
	}
	pipe(res);
	pid_t pid = fork();
	if (pid == 0) {
		char line[128];
		close(r);
		alarm(6);
		signal(SIGPIPE, SIG_DFL);
		if (block)
			block_signal(SIGPIPE);
		struct iovec v[4];
		for (int i = 0; i < 4; i++)
			v[i] = (struct iovec){ big + i * (MiB / 4), MiB / 4 };
		long n = use_writev ? writev(w, v, 4) : write(w, big, MiB);
		int e = errno;
		int len = snprintf(line, sizeof line, "write=%s%s%s pending=%d\n", count_bucket(n, MiB),
				   n < 0 ? " " : "", n < 0 ? t_errname(e) : "", pending(SIGPIPE));
		write(res[1], line, (size_t)len);
		_exit(0);
	}
	close(w);
	close(res[1]);
	t_out("parent read=%ld\n", read_n(r, 200 * KiB));
	close(r);
	child_line(res[0]);
	int st;
	waitpid(pid, &st, 0);
	show_status("child", st);
}

static void c4_sigpipe_unix_partial_write(void) { partial_then_close(PEER_UNIX, 0, 0); }
static void c4_sigpipe_pipe_partial_write(void) { partial_then_close(PEER_PIPE, 0, 0); }
static void c4_sigpipe_tcp_partial_write(void) { partial_then_close(PEER_TCP, 0, 0); }
static void c4_sigpipe_unix_partial_writev(void) { partial_then_close(PEER_UNIX, 1, 0); }
static void c4_sigpipe_blocked_pipe_partial(void) { partial_then_close(PEER_PIPE, 0, 1); }
static void c4_sigpipe_blocked_unix_partial(void) { partial_then_close(PEER_UNIX, 0, 1); }

/* ==== class 5: what the kernel applies to the calling task happens to it */

static void *kill_main_usr1(void *arg)
{
	(void)arg;
	t_wait_blocked(main_tid);
	pthread_kill(main_thread, SIGUSR1);
	return NULL;
}

/* A thread-directed signal is pending on the reader's own thread only. */
static void c5_signalfd_pthread_kill(void)
{
	sigset_t set;
	struct signalfd_siginfo si;
	mark_main();
	net(4);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, 0);
	pthread_t th = go(kill_main_usr1, NULL);
	memset(&si, 0, sizeof si);
	t_res("read", read(sfd, &si, sizeof si));
	t_out("signo=SIG%s code=%d pid-ok=%s\n", sigabbrev_np((int)si.ssi_signo), si.ssi_code,
	      yes(si.ssi_pid == (uint32_t)getpid()));
	join(th);
}

static void *kill_process_usr2(void *arg)
{
	(void)arg;
	t_wait_blocked(main_tid);
	kill(getpid(), SIGUSR2);
	return NULL;
}

static void c5_signalfd_process_signal(void)
{
	sigset_t set;
	struct signalfd_siginfo si;
	mark_main();
	net(4);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, 0);
	pthread_t th = go(kill_process_usr2, NULL);
	memset(&si, 0, sizeof si);
	t_res("read", read(sfd, &si, sizeof si));
	t_out("signo=SIG%s code=%d pid-ok=%s\n", sigabbrev_np((int)si.ssi_signo), si.ssi_code,
	      yes(si.ssi_pid == (uint32_t)getpid()));
	join(th);
}

/* Job control: a background process group that reads its terminal stops
 * with SIGTTIN, and one that writes with TOSTOP with SIGTTOU; moved to the
 * foreground and continued, the call completes. */
static void jc_member(int tty, int writer)
{
	char b[16];
	setpgid(0, 0);
	signal(SIGTTIN, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
	alarm(5);
	if (writer) {
		t_res("  writer: write", write(tty, "out", 3));
	} else {
		long n = read(tty, b, sizeof b);
		show_buf("  reader: read", b, n);
	}
	_exit(0);
}

static void jc_round(int m, int s, int writer)
{
	char b[16];
	int st;
	pid_t g = fork();
	if (g == 0)
		jc_member(s, writer);
	setpgid(g, g);
	waitpid(g, &st, WUNTRACED);
	show_status(writer ? "writer" : "reader", st);
	t_res("tcsetpgrp-member", tcsetpgrp(s, g));
	if (!writer)
		write(m, "abc", 3);
	kill(g, SIGCONT);
	waitpid(g, &st, 0);
	show_status(writer ? "writer" : "reader", st);
	t_res("tcsetpgrp-back", tcsetpgrp(s, getpgrp()));
	if (writer)
		show_buf("master-read", b, read(m, b, sizeof b));
}

static void jc_session(void)
{
	struct termios t;
	alarm(8);
	setsid();
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	grantpt(m);
	unlockpt(m);
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	t_res("ctty", ioctl(s, TIOCSCTTY, 0));
	tcgetattr(s, &t);
	cfmakeraw(&t);
	t.c_lflag |= TOSTOP;
	tcsetattr(s, TCSANOW, &t);
	/* The session leader moves the foreground back from the background. */
	signal(SIGTTOU, SIG_IGN);
	jc_round(m, s, 0);
	jc_round(m, s, 1);
	_exit(0);
}

static void c5_job_control_ttin_ttou(void)
{
	int st;
	net(10);
	pid_t pid = fork();
	if (pid == 0)
		jc_session();
	waitpid(pid, &st, 0);
	show_status("session", st);
}

/* RLIMIT_FSIZE 4096 and a write at 8192: SIGXFSZ to the writer, EFBIG. */
static void fsize_case(int flags, int ignore)
{
	struct rlimit core = { 0, 0 }, fs = { 4096, 4096 };
	void *b;
	setrlimit(RLIMIT_CORE, &core);
	if (posix_memalign(&b, 4096, 4096))
		return;
	memset(b, 'f', 4096);
	int fd = empty_tmp(O_RDWR | flags);
	if (fd < 0) {
		t_out("no such file here\n");
		return;
	}
	if (ignore)
		signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &fs);
	t_res("pwrite-0", pwrite(fd, b, 4096, 0));
	t_res("pwrite-8192", pwrite(fd, b, 4096, 8192));
	lseek(fd, 8192, SEEK_SET);
	t_res("write-8192", write(fd, b, 4096));
	t_res("pwritev-8192", pwritev(fd, &(struct iovec){ b, 4096 }, 1, 8192));
	struct stat st;
	fstat(fd, &st);
	t_out("size=%ld pending=%d\n", (long)st.st_size, pending(SIGXFSZ));
	close(fd);
	free(b);
}

static void c5_sigxfsz_dsync_default(void) { fsize_case(O_DSYNC, 0); }
static void c5_sigxfsz_dsync_ignored(void) { fsize_case(O_DSYNC, 1); }
static void c5_sigxfsz_odirect_default(void) { fsize_case(O_DIRECT, 0); }
static void c5_sigxfsz_odirect_ignored(void) { fsize_case(O_DIRECT, 1); }

/* Below the limit the write is short and silent; at it, EFBIG and SIGXFSZ
 * in the calling thread. */
static void c5_fsize_short_write_at_limit(void)
{
	struct rlimit fs = { 4096, 4096 };
	static char b[4096];
	mark_main();
	handle(SIGXFSZ, 0);
	int fd = empty_tmp(O_RDWR);
	setrlimit(RLIMIT_FSIZE, &fs);
	t_res("write-4000", write(fd, b, 4000));
	t_res("write-200", write(fd, b, 200));
	t_out("sigxfsz=%d\n", (int)handled);
	t_res("write-10", write(fd, b, 10));
	t_out("sigxfsz=%d same-thread=%s\n", (int)handled, yes(handled_same_thread));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
}

struct swap {
	int fd, other, drain;
	long drained;
	int got;
};

/* When the main thread is blocked on s->fd: close it and open a regular
 * file (which gets the same number), then make the pipe move. */
static void *close_and_reopen(void *arg)
{
	struct swap *s = arg;
	char path[] = "/tmp/asy-t-XXXXXX";
	int tmp = mkstemp(path);
	close(tmp);
	t_wait_blocked(main_tid);
	close(s->fd);
	s->got = open(path, O_RDWR);
	unlink(path);
	if (s->drain)
		s->drained = read_n(s->other, s->drain);
	else if (write(s->other, "pipe-data", 9) < 0)
		perror("write");
	return NULL;
}

static void c5_close_reuse_blocked_read(void)
{
	int p[2];
	char b[32];
	mark_main();
	net(4);
	pipe(p);
	struct swap s = { .fd = p[0], .other = p[1] };
	pthread_t th = go(close_and_reopen, &s);
	show_buf("read", b, read(p[0], b, sizeof b));
	join(th);
	struct stat st;
	fstat(s.got, &st);
	t_out("same-number=%s file-pos=%ld file-size=%ld\n", yes(s.got == p[0]),
	      (long)lseek(s.got, 0, SEEK_CUR), (long)st.st_size);
}

static void c5_close_reuse_blocked_write(void)
{
	int p[2];
	char b[32];
	mark_main();
	net(4);
	pipe(p);
	long full = fill_up(p[1]);
	struct swap s = { .fd = p[1], .other = p[0], .drain = (int)full };
	pthread_t th = go(close_and_reopen, &s);
	t_res("write", write(p[1], "0123456789", 10));
	join(th);
	t_out("drained-all=%s\n", yes(s.drained == full));
	show_buf("rest", b, read(p[0], b, sizeof b));
	t_res("eof", read(p[0], b, sizeof b));
	struct stat st;
	fstat(s.got, &st);
	t_out("same-number=%s file-size=%ld\n", yes(s.got == p[1]), (long)st.st_size);
}

static int dup_from, dup_to, dup_then_write;

static void *dup2_over(void *arg)
{
	(void)arg;
	t_wait_blocked(main_tid);
	dup2(dup_from, dup_to);
	write(dup_then_write, "P-data", 6);
	return NULL;
}

/* dup2 over the fd of a blocked read: the read still reads its own pipe. */
static void c5_dup2_over_blocked_read(void)
{
	int p[2], q[2];
	char b[32];
	mark_main();
	net(4);
	pipe(p);
	pipe(q);
	write(q[1], "Q-data", 6);
	dup_from = q[0];
	dup_to = p[0];
	dup_then_write = p[1];
	pthread_t th = go(dup2_over, NULL);
	show_buf("read", b, read(p[0], b, sizeof b));
	join(th);
	show_buf("read-after", b, read(p[0], b, sizeof b));
	t_res("q-left", drain_nb(q[0]));
}

/* ==== class 6: signals and cancellation ================================ */

static _Atomic int cancel_sent;
static _Atomic long loops_after_cancel;

static void *pread_loop(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char b[4096];
	while (!cancel_sent)
		sched_yield();
	for (long i = 0; i < 100000; i++) {
		pread(fd, b, sizeof b, 0);
		loops_after_cancel = i + 1;
	}
	return NULL;
}

/* Deferred cancel of a thread whose only cancellation point is a cached
 * pread: the next pread acts on it. */
static void c6_cancel_cached_pread_loop(void)
{
	int fd = record_file(41, 0);
	void *ret;
	net(6);
	pthread_t th = go(pread_loop, (void *)(intptr_t)fd);
	pthread_cancel(th);
	cancel_sent = 1;
	pthread_join(th, &ret);
	t_out("%s preads-after-cancel=%ld\n", ret == PTHREAD_CANCELED ? "cancelled" : "finished",
	      loops_after_cancel);
}

static _Atomic int ready, go_on;

struct at_entry {
	int fd, op;
	long r;
};

static void *call_after_cancel(void *arg)
{
	struct at_entry *a = arg;
	char b[8];
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	ready = 1;
	while (!go_on)
		sched_yield();
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	a->r = a->op ? readv(a->fd, &(struct iovec){ b, sizeof b }, 1) : write(a->fd, "x", 1);
	return NULL;
}

/* write and readv are cancellation points: a pending cancel acts on entry,
 * before anything moves. */
static void cancel_at_entry(int op)
{
	int p[2];
	char b[8];
	void *ret;
	net(4);
	pipe(p);
	if (op)
		write(p[1], "abc", 3);
	struct at_entry a = { .fd = op ? p[0] : p[1], .op = op, .r = -2 };
	ready = go_on = 0;
	pthread_t th = go(call_after_cancel, &a);
	while (!ready)
		sched_yield();
	pthread_cancel(th);
	go_on = 1;
	pthread_join(th, &ret);
	t_out("cancelled=%s returned=%s\n", yes(ret == PTHREAD_CANCELED), yes(a.r != -2));
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	show_buf("in-pipe", b, read(p[0], b, sizeof b));
}

static void c6_write_is_cancellation_point(void) { cancel_at_entry(0); }
static void c6_readv_is_cancellation_point(void) { cancel_at_entry(1); }

static _Atomic pid_t blocked_tid;

static void *writev_blocked(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static char b[1000];
	blocked_tid = t_gettid();
	writev(fd, &(struct iovec){ b, sizeof b }, 1);
	return NULL;
}

static void c6_cancel_blocked_writev(void)
{
	int p[2];
	char b[8];
	void *ret;
	net(4);
	pipe(p);
	long full = fill_up(p[1]);
	blocked_tid = 0;
	pthread_t th = go(writev_blocked, (void *)(intptr_t)p[1]);
	while (!blocked_tid)
		sched_yield();
	t_wait_blocked(blocked_tid);
	pthread_cancel(th);
	pthread_join(th, &ret);
	t_out("cancelled=%s\n", yes(ret == PTHREAD_CANCELED));
	t_out("in-pipe=full+%ld\n", drain_nb(p[0]) - full);
	write(p[1], "ok", 2);
	show_buf("after", b, read(p[0], b, sizeof b));
}

static sigjmp_buf jump_env;

static void on_jump(int sig)
{
	(void)sig;
	siglongjmp(jump_env, 1);
}

static void arm_jump(void)
{
	struct sigaction sa = { .sa_handler = on_jump };
	struct itimerval it = { { 0, 0 }, { 0, 100000 } };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* A handler siglongjmps out of a blocked read; the pipe then works as
 * before and nothing left over takes its data. */
static void c6_siglongjmp_out_of_read(void)
{
	int p[2];
	char b[16];
	net_kill(5);
	pipe(p);
	for (int round = 0; round < 2; round++) {
		arm_jump();
		if (sigsetjmp(jump_env, 1) == 0)
			t_res("read", read(p[0], b, sizeof b));
		else
			t_out("jumped\n");
		write(p[1], round ? "def" : "abc", 3);
		show_buf("read-after", b, read(p[0], b, sizeof b));
	}
}

static void c6_siglongjmp_out_of_write(void)
{
	int p[2];
	char b[16];
	static char big[1000];
	net_kill(5);
	pipe(p);
	long full = fill_up(p[1]);
	arm_jump();
	if (sigsetjmp(jump_env, 1) == 0)
		t_res("write", write(p[1], big, sizeof big));
	else
		t_out("jumped\n");
	t_out("in-pipe=full+%ld\n", drain_nb(p[0]) - full);
	write(p[1], "abc", 3);
	show_buf("read-after", b, read(p[0], b, sizeof b));
}

static void on_set_errno(int sig)
{
	(void)sig;
	errno = 1234;
	handled++;
}

static void *signal_then_write(void *arg)
{
	int fd = (int)(intptr_t)arg;
	t_wait_blocked(main_tid);
	pthread_kill(main_thread, SIGUSR1);
	wait_for(&handled, 1);
	t_wait_blocked(main_tid);
	write(fd, "data", 4);
	return NULL;
}

/* An SA_RESTART handler that changes errno during a read that then
 * succeeds: glibc leaves errno alone on success, so the handler's value
 * shows. */
static void c6_restart_handler_sets_errno(void)
{
	int p[2];
	char b[16];
	struct sigaction sa = { .sa_handler = on_set_errno, .sa_flags = SA_RESTART };
	mark_main();
	net(4);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	handled = 0;
	pipe(p);
	pthread_t th = go(signal_then_write, (void *)(intptr_t)p[1]);
	errno = 0;
	long r = read(p[0], b, sizeof b);
	int e = errno;
	show_buf("read", b, r);
	t_out("handled=%d errno-after=%d\n", (int)handled, e);
	join(th);
}

static int idle_pipe[2];

static void *idle_reader(void *arg)
{
	char b[4];
	(void)arg;
	read(idle_pipe[0], b, sizeof b);
	return NULL;
}

static void *signal_50(void *arg)
{
	int fd = (int)(intptr_t)arg;
	t_wait_blocked(main_tid);
	for (int k = 0; k < 50; k++) {
		wait_for(&handled, k);
		t_msleep(2);
		pthread_kill(main_thread, SIGUSR1);
	}
	wait_for(&handled, 50);
	write(fd, "end", 3);
	return NULL;
}

/* 50 SA_RESTART signals, 2 ms apart (each after the last was handled),
 * to a thread blocked in read in a process of 4 threads. */
static void c6_50_signals_restart_read(void)
{
	int p[2];
	char b[16];
	mark_main();
	net(6);
	handle(SIGUSR1, SA_RESTART);
	pipe(p);
	pipe(idle_pipe);
	pthread_t i1 = go(idle_reader, NULL), i2 = go(idle_reader, NULL);
	pthread_t th = go(signal_50, (void *)(intptr_t)p[1]);
	show_buf("read", b, read(p[0], b, sizeof b));
	t_out("handled=%d\n", (int)handled);
	join(th);
	close(idle_pipe[1]);
	join(i1);
	join(i2);
}

/* ==== class 7: the engine's own fds are the program's business ========= */

static void wait_for_pipe(int *p, const char *what)
{
	char b[16];
	pthread_t th = later_str(p[1], what, 50);
	show_buf("pipe-read", b, read(p[0], b, sizeof b));
	join(th);
}

static void c7_dup2_900_after_wait(void)
{
	int p[2];
	unsigned char b[16];
	net(4);
	pipe(p);
	wait_for_pipe(p, "one");
	int f = record_file(100, 0);
	t_res("dup2", dup2(f, 900));
	close(f);
	t_res("read900", read(900, b, 10));
	t_out("sum=%lx\n", sum(b, 10, 0));
	t_res("pos900", lseek(900, 0, SEEK_CUR));
	wait_for_pipe(p, "two");
	t_res("pos900", lseek(900, 0, SEEK_CUR));
	t_res("read900", read(900, b, 10));
	t_out("sum=%lx\n", sum(b, 10, 0));
	write(p[1], "three", 5);
	show_buf("pipe-read", (char *)b, read(p[0], b, sizeof b));
	wait_for_pipe(p, "four");
	t_res("pos900", lseek(900, 0, SEEK_CUR));
}

static void c7_nofile_20_after_wait(void)
{
	struct rlimit rl;
	int p[2], fd = 0;
	net(4);
	pipe(p);
	while (fd >= 0 && fd < 14)
		fd = open("/dev/null", O_RDONLY);
	t_out("highest=%d\n", fd);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 20;
	t_res("setrlimit", setrlimit(RLIMIT_NOFILE, &rl));
	wait_for_pipe(p, "data");
	for (int i = 0; i < 6; i++)
		t_res("open", open("/dev/null", O_RDONLY));
	wait_for_pipe(p, "more");
}

static void *read_in_thread(void *arg)
{
	int *p = arg;
	wait_for_pipe(p, "late");
	return NULL;
}

/* The fd table is full: a blocking read in a new thread still works, and
 * nothing is printed. */
static void c7_fd_table_full_thread_read(void)
{
	struct rlimit rl;
	int p[2], fd, n = 0, last = -1;
	net(4);
	pipe(p);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 64;
	setrlimit(RLIMIT_NOFILE, &rl);
	while ((fd = open("/dev/null", O_RDONLY)) >= 0)
		n++, last = fd;
	t_out("opened=%d then %s\n", n, t_errname(errno));
	pthread_t th = go(read_in_thread, p);
	join(th);
	close(last);
	t_res("reopen", open("/dev/null", O_RDONLY) == last);
	t_res("full-again", open("/dev/null", O_RDONLY));
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void c7_proc_self_fd_after_wait(void)
{
	int p[2];
	net(4);
	pipe(p);
	t_out("fds=%d\n", count_fds());
	wait_for_pipe(p, "x");
	t_out("fds=%d\n", count_fds());
	t_res("next-fd", open("/dev/null", O_RDONLY));
}

static void c7_close_range_after_wait(void)
{
	int p[2], q[2];
	net(4);
	pipe(p);
	wait_for_pipe(p, "before");
	t_res("close_range", syscall(SYS_close_range, 3, ~0U, 0));
	pipe(q);
	t_out("pipe=%d,%d\n", q[0], q[1]);
	wait_for_pipe(q, "after");
	t_res("next-fd", open("/dev/null", O_RDONLY));
	wait_for_pipe(q, "again");
}

static void c7_fork_child_lists_fds(void)
{
	int p[2], res[2];
	net(4);
	pipe(p);
	pipe(res);
	wait_for_pipe(p, "x");
	pid_t pid = fork();
	if (pid == 0) {
		char line[64];
		int len = snprintf(line, sizeof line, "fds=%d\n", count_fds());
		write(res[1], line, (size_t)len);
		_exit(0);
	}
	close(res[1]);
	child_line(res[0]);
	int st;
	waitpid(pid, &st, 0);
	show_status("child", st);
	t_out("parent fds=%d\n", count_fds());
}

/* ==== class 8: the file position belongs to the open file ============== */

struct rec_job {
	int fd, id, n;
	long bad;
};

static void rec_make(unsigned char *b, int id)
{
	fill(b, 100, (unsigned)id);
	memcpy(b, &id, sizeof id);
}

static void *dsync_writer(void *arg)
{
	struct rec_job *j = arg;
	unsigned char b[100];
	for (int s = 0; s < j->n; s++) {
		rec_make(b, j->id * j->n + s);
		if (write(j->fd, b, sizeof b) != (ssize_t)sizeof b)
			j->bad++;
	}
	return NULL;
}

/* Whole records at distinct places; which index is where is not asked. */
static void check_records(int fd, int n)
{
	static unsigned char seen[4096], b[100];
	int intact = 0, dups = 0;
	memset(seen, 0, sizeof seen);
	for (int i = 0; pread(fd, b, sizeof b, (off_t)i * 100) == (ssize_t)sizeof b; i++) {
		int id = record_index(b);
		if (id < 0 || id >= n)
			continue;
		intact++;
		dups += seen[id]++ > 0;
	}
	t_out("intact=%d dups=%d\n", intact, dups);
}

static void c8_dsync_two_threads_dup_fds(void)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	int tmp = mkstemp(path);
	close(tmp);
	int fd = open(path, O_WRONLY | O_DSYNC), rd = open(path, O_RDONLY);
	unlink(path);
	struct rec_job a = { .fd = fd, .id = 0, .n = 768 }, b = { .fd = dup(fd), .id = 1, .n = 768 };
	net(8);
	pthread_t th = go(dsync_writer, &b);
	dsync_writer(&a);
	join(th);
	struct stat st;
	fstat(fd, &st);
	t_out("size=%ld short=%ld pos=%ld\n", (long)st.st_size, a.bad + b.bad,
	      (long)lseek(fd, 0, SEEK_CUR));
	check_records(rd, 2 * 768);
}

struct block_job {
	int fd;
	void *buf;
	unsigned char *seen;
	long bad;
};

static void *odirect_blocks(void *arg)
{
	struct block_job *j = arg;
	for (int i = 0; i < 100; i++) {
		int idx;
		if (read(j->fd, j->buf, 4096) != 4096) {
			j->bad++;
			continue;
		}
		memcpy(&idx, j->buf, sizeof idx);
		if (idx >= 0 && idx < 200)
			__atomic_fetch_add(&j->seen[idx], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void c8_odirect_two_threads_dup_fds(void)
{
	static unsigned char block[4096], seen[200];
	char path[] = "/tmp/asy-t-XXXXXX";
	int w = mkstemp(path);
	for (int i = 0; i < 200; i++) {
		fill(block, sizeof block, (unsigned)i);
		memcpy(block, &i, sizeof i);
		write(w, block, sizeof block);
	}
	t_evict(w);
	close(w);
	int fd = tmp_open(path, O_RDONLY | O_DIRECT);
	struct block_job a = { .fd = fd, .seen = seen }, b = { .fd = dup(fd), .seen = seen };
	net(6);
	if (fd < 0 || posix_memalign(&a.buf, 4096, 4096) || posix_memalign(&b.buf, 4096, 4096)) {
		t_out("no O_DIRECT here\n");
		return;
	}
	pthread_t th = go(odirect_blocks, &b);
	odirect_blocks(&a);
	join(th);
	int once = 0, twice = 0;
	for (int i = 0; i < 200; i++)
		once += seen[i] == 1, twice += seen[i] > 1;
	t_out("blocks=%d twice=%d short=%ld pos=%ld\n", once, twice, a.bad + b.bad,
	      (long)lseek(fd, 0, SEEK_CUR));
	free(a.buf);
	free(b.buf);
}

struct pipe_reader {
	int fd;
	long total;
	unsigned long sum;
};

static void *read_to_eof(void *arg)
{
	struct pipe_reader *r = arg;
	static unsigned char b[8192];
	long n;
	while ((n = read(r->fd, b, sizeof b)) > 0)
		r->total += n, r->sum = sum(b, n, r->sum);
	return NULL;
}

/* fd 50 was a regular file the program wrote to; now it is a pipe's write
 * end (and 306 its read end): a blocking 100 KiB write completes. */
static void c8_file_fd_becomes_pipe(void)
{
	static unsigned char big[100 * KiB];
	int p[2];
	net(4);
	int f = empty_tmp(O_RDWR);
	dup2(f, 50);
	close(f);
	for (int i = 0; i < 8; i++)
		write(50, "file-data", 9);
	t_res("file-pos", lseek(50, 0, SEEK_CUR));
	pipe(p);
	dup2(p[1], 50);
	dup2(p[0], 306);
	close(p[0]);
	close(p[1]);
	struct pipe_reader r = { .fd = 306 };
	pthread_t th = go(read_to_eof, &r);
	fill(big, sizeof big, 1);
	t_res("write", write(50, big, sizeof big));
	close(50);
	join(th);
	t_out("reader total=%ld same=%s\n", r.total, yes(r.sum == sum(big, sizeof big, 0)));
}

struct rec_reader {
	int fd;
	unsigned char *seen;
	long n, bad;
};

static void *read_records(void *arg)
{
	struct rec_reader *r = arg;
	unsigned char b[100];
	while (read(r->fd, b, sizeof b) == (ssize_t)sizeof b) {
		int id = record_index(b);
		if (id < 0 || id >= 10000)
			r->bad++;
		else
			__atomic_fetch_add(&r->seen[id], 1, __ATOMIC_RELAXED);
		r->n++;
	}
	return NULL;
}

static void report_seen(const unsigned char *seen, int n)
{
	int once = 0, twice = 0;
	for (int i = 0; i < n; i++)
		once += seen[i] == 1, twice += seen[i] > 1;
	t_out("records=%d twice=%d\n", once, twice);
}

static void c8_cold_two_threads_dup_fds(void)
{
	static unsigned char seen[10000];
	int fd = record_file(10000, 1);
	struct rec_reader a = { .fd = fd, .seen = seen }, b = { .fd = dup(fd), .seen = seen };
	net(6);
	pthread_t th = go(read_records, &b);
	read_records(&a);
	join(th);
	report_seen(seen, 10000);
	t_out("bad=%ld pos=%ld\n", a.bad + b.bad, (long)lseek(fd, 0, SEEK_CUR));
}

static _Atomic int reading_done;

static void *watch_position(void *arg)
{
	int fd = (int)(intptr_t)arg;
	off_t last = 0;
	long unaligned = 0, backwards = 0;
	while (!reading_done) {
		off_t pos = lseek(fd, 0, SEEK_CUR);
		unaligned += pos % 100 != 0;
		backwards += pos < last;
		last = pos;
	}
	t_out("watcher: aligned=%s monotonic=%s\n", yes(!unaligned), yes(!backwards));
	return NULL;
}

/* lseek from another thread sees only positions the reads left. */
static void c8_lseek_while_reading(void)
{
	static unsigned char b[100];
	int fd = record_file(5000, 1);
	long n = 0;
	net(6);
	pthread_t th = go(watch_position, (void *)(intptr_t)dup(fd));
	while (read(fd, b, sizeof b) == (ssize_t)sizeof b)
		n++;
	reading_done = 1;
	join(th);
	t_out("records=%ld pos=%ld\n", n, (long)lseek(fd, 0, SEEK_CUR));
}

/* Parent and child share one open file: each record is read once. */
static void c8_fork_shared_position(void)
{
	static unsigned char seen[10000], child_seen[10000];
	int fd = record_file(10000, 1), res[2];
	net(8);
	pipe(res);
	pid_t pid = fork();
	if (pid == 0) {
		struct rec_reader r = { .fd = fd, .seen = child_seen };
		read_records(&r);
		write(res[1], child_seen, sizeof child_seen);
		_exit(r.bad ? 1 : 0);
	}
	close(res[1]);
	struct rec_reader r = { .fd = fd, .seen = seen };
	read_records(&r);
	long got = 0, n;
	while (got < (long)sizeof child_seen &&
	       (n = read(res[0], child_seen + got, sizeof child_seen - (size_t)got)) > 0)
		got += n;
	for (int i = 0; i < 10000; i++)
		seen[i] += child_seen[i];
	int st;
	waitpid(pid, &st, 0);
	show_status("child", st);
	report_seen(seen, 10000);
	t_out("bad=%ld\n", r.bad);
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe).
 * c8_lseek_while_reading is T_NOCORO too: inside a coroutine a read at the
 * file position that finds part of its bytes cached (a record across the
 * end of the readahead window) is two calls, and another thread may see
 * the position between them (README, blind spots) — on a plain thread it
 * is one call, which is what the case shows. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c1_read_dev_zero_8m, 0),
	C(c1_read_dev_zero_64m, 0),
	C(c1_read_dev_zero_3g, 0),
	C(c1_write_dev_null_3g, 0),
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
	C(c1_bad_iovec_odirect, 0),
	C(c1_preadv2_hipri_pipe, T_BACKEND),
	C(c1_preadv2_hipri_socket, T_BACKEND),
	C(c1_preadv2_unknown_flag, 0),
	C(c1_inotify_read0, 0),
	C(c1_read0_empty_pipe_socket, 0),
	C(c1_pipe_write0_no_reader, 0),
	C(c1_fifo_rdwr_zero, 0),
	C(c2_readv_100iov_unix_dgram, T_BACKEND),
	C(c2_readv_100iov_unix_seqpacket, T_BACKEND),
	C(c2_writev_100iov_unix_dgram, 0),
	C(c2_writev_300iov_unix_seqpacket, 0),
	C(c2_writev_records_4threads_pipe, T_BACKEND),
	C(c2_odirect_iov_max_einval, T_BACKEND),
	C(c2_odirect_number_reused, T_BACKEND),
	C(c2_readv_1025_iov_pipe_wait, T_BACKEND),
	C(c2_preadv2_100iov_cold, T_BACKEND),
	C(c3_rcvtimeo_unix_stream, T_BACKEND),
	C(c3_rcvtimeo_unix_dgram, T_BACKEND),
	C(c3_rcvtimeo_tcp, T_BACKEND),
	C(c3_sndtimeo_full_unix_stream, T_BACKEND),
	C(c3_rcvlowat_tcp, T_BACKEND),
	C(c3_rcvlowat_unix_stream, T_BACKEND),
	C(c3_pty_vmin0_vtime0, 0),
	C(c3_pty_vmin0_vtime2, T_BACKEND),
	C(c3_pty_vmin3, T_BACKEND),
	C(c3_dgram_shutdown_rd, 0),
	C(c4_sigpipe_unix_partial_write, T_NOCORO),
	C(c4_sigpipe_pipe_partial_write, T_NOCORO),
	C(c4_sigpipe_tcp_partial_write, T_NOCORO),
	C(c4_sigpipe_unix_partial_writev, T_NOCORO),
	C(c4_sigpipe_blocked_pipe_partial, T_NOCORO),
	C(c4_sigpipe_blocked_unix_partial, T_NOCORO),
	C(c5_signalfd_pthread_kill, 0), /* signalfd: the calling thread's own call */
	C(c5_signalfd_process_signal, 0),
	C(c5_job_control_ttin_ttou, T_NOCORO),
	C(c5_sigxfsz_dsync_default, 0),
	C(c5_sigxfsz_dsync_ignored, 0),
	C(c5_sigxfsz_odirect_default, 0),
	C(c5_sigxfsz_odirect_ignored, 0),
	C(c5_fsize_short_write_at_limit, 0),
	/* Inside a coroutine the wait is a POLL on the fd's number; a number
	 * reused meanwhile ends the call with EBADF instead of moving data to
	 * or from the new file (README, Known blind spots). */
	C(c5_close_reuse_blocked_read, T_NOCORO),
	C(c5_close_reuse_blocked_write, T_NOCORO),
	C(c5_dup2_over_blocked_read, T_NOCORO),
	C(c6_cancel_cached_pread_loop, T_NOCORO),
	C(c6_write_is_cancellation_point, T_NOCORO),
	C(c6_readv_is_cancellation_point, T_NOCORO),
	C(c6_cancel_blocked_writev, T_NOCORO),
	C(c6_siglongjmp_out_of_read, T_NOCORO),
	C(c6_siglongjmp_out_of_write, T_NOCORO),
	C(c6_restart_handler_sets_errno, T_NOCORO),
	C(c6_50_signals_restart_read, T_NOCORO),
	C(c7_dup2_900_after_wait, T_BACKEND),
	C(c7_nofile_20_after_wait, T_BACKEND),
	C(c7_fd_table_full_thread_read, T_STDERR),
	C(c7_proc_self_fd_after_wait, T_BACKEND),
	C(c7_close_range_after_wait, T_BACKEND),
	C(c7_fork_child_lists_fds, T_NOCORO),
	C(c8_dsync_two_threads_dup_fds, T_BACKEND),
	C(c8_odirect_two_threads_dup_fds, T_BACKEND),
	C(c8_file_fd_becomes_pipe, T_BACKEND),
	C(c8_cold_two_threads_dup_fds, T_BACKEND),
	C(c8_lseek_while_reading, T_NOCORO),
	C(c8_fork_shared_position, T_NOCORO),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact", 150);
}
