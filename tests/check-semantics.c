/* CONTRACT §4 semantics: every case runs without the shim and under each
 * backend (off, uring, threads), then inside a coroutine (uring-coro,
 * threads-coro), and must print the same results — return values, errno
 * names, bytes, offsets, signals seen — and end the same way.  On plain
 * threads no call may reach a backend; in a coroutine, cases marked
 * T_BACKEND must have reached one. */
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

extern char **environ;
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);

static int main_errno = -1;
/* Deliberately bad arguments, hidden from the compiler's checks. */
static void *volatile bad_ptr = (void *)8;
static volatile int minus_one = -1;

/* ---- helpers for cases ---------------------------------------------- */

struct later {
	int fd, ms;
	const void *data;
	size_t len;
	int close_it;
	pthread_t target;
	pid_t target_tid;
	int sig;
};

static void *later_main(void *arg)
{
	struct later *l = arg;
	t_msleep(l->ms);
	if (l->sig) {
		t_wait_blocked(l->target_tid);
		pthread_kill(l->target, l->sig);
	}
	if (l->data && write(l->fd, l->data, l->len) < 0)
		perror("later write");
	if (l->close_it)
		close(l->fd);
	return NULL;
}

/* After ms, write data to fd (or close it, or signal the caller). */
static pthread_t later(struct later *l)
{
	pthread_t th;
	pthread_create(&th, NULL, later_main, l);
	return th;
}

static pthread_t later_write(int fd, const char *s, int ms)
{
	static struct later l[8];
	static int n;
	struct later *p = &l[n++ % 8];
	*p = (struct later){ .fd = fd, .ms = ms, .data = s, .len = strlen(s) };
	return later(p);
}

static pthread_t later_signal(int sig, int ms)
{
	static struct later l;
	l = (struct later){ .ms = ms, .sig = sig, .target = pthread_self(),
			    .target_tid = t_gettid() };
	return later(&l);
}

static volatile sig_atomic_t handled;
static volatile sig_atomic_t handled_code, handled_pid_ok, handled_tid_ok;
static pid_t writer_tid;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	handled++;
	handled_code = si->si_code;
	handled_pid_ok = si->si_pid == getpid();
	handled_tid_ok = (pid_t)syscall(SYS_gettid) == writer_tid;
}

static void handle(int sig, int flags)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | flags };
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	handled = 0;
}

static void join(pthread_t th)
{
	pthread_join(th, NULL);
}

static long drain_fd(int fd)
{
	char buf[65536];
	long total = 0, n;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		total += n;
	fcntl(fd, F_SETFL, fl);
	return total;
}

static void show_buf(const char *what, const char *buf, long n)
{
	t_out("%s=%ld '%.*s'\n", what, n, n > 0 ? (int)n : 0, buf);
}

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

/* ---- signals ---------------------------------------------------------- */

static void eintr_case(int restart, int sock)
{
	int p[2];
	char b[16];
	if (sock)
		socketpair(AF_UNIX, SOCK_STREAM, 0, p);
	else
		pipe(p);
	handle(SIGUSR1, restart ? SA_RESTART : 0);
	pthread_t ts = later_signal(SIGUSR1, 50);
	pthread_t tw = later_write(p[1], "abc", restart ? 200 : 400);
	long r = read(p[0], b, sizeof b);
	t_out("read=%ld %s handled=%d\n", r, r < 0 ? t_errname(errno) : "", (int)handled);
	if (r < 0)
		show_buf("then", b, read(p[0], b, sizeof b));
	else
		show_buf("data", b, r);
	join(ts);
	join(tw);
}

static void c_eintr_pipe(void) { eintr_case(0, 0); }
static void c_restart_pipe(void) { eintr_case(1, 0); }
static void c_eintr_socket(void) { eintr_case(0, 1); }
static void c_restart_socket(void) { eintr_case(1, 1); }

/* A write that moved bytes before the signal returns them, restart or not. */
static void write_interrupted(int restart)
{
	int p[2];
	static char b[1 << 20];
	pipe(p);
	handle(SIGUSR1, restart ? SA_RESTART : 0);
	pthread_t ts = later_signal(SIGUSR1, 60);
	t_res("write", write(p[1], b, sizeof b));
	t_out("handled=%d\n", (int)handled);
	join(ts);
	t_res("in-pipe", drain_fd(p[0]));
	if (restart)
		return;
	/* Nothing moved yet: EINTR (with SA_RESTART it would wait forever). */
	ts = later_signal(SIGUSR1, 60);
	write(p[1], b, 65536);
	t_res("blocked-write", write(p[1], b, 10));
	join(ts);
}

static void c_write_eintr(void) { write_interrupted(0); }
static void c_write_restart(void) { write_interrupted(1); }

static void sigpipe_write(int sock)
{
	int p[2];
	if (sock)
		socketpair(AF_UNIX, SOCK_STREAM, 0, p);
	else
		pipe(p);
	close(p[0]);
	writer_tid = (pid_t)syscall(SYS_gettid);
	t_res("write", write(p[1], "x", 1));
}

static void c_sigpipe_default(void) { sigpipe_write(0); t_out("not reached\n"); }
static void c_sigpipe_default_sock(void) { sigpipe_write(1); t_out("not reached\n"); }

static void c_sigpipe_ignored(void)
{
	signal(SIGPIPE, SIG_IGN);
	sigpipe_write(0);
	sigpipe_write(1);
	sigset_t set;
	sigpending(&set);
	t_out("pending=%d\n", sigismember(&set, SIGPIPE));
}

static void c_sigpipe_blocked(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigpipe_write(0);
	sigpending(&set);
	t_out("pending=%d\n", sigismember(&set, SIGPIPE));
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	t_out("taken=%d code=%d pid_ok=%d\n", sigtimedwait(&set, &si, &zero), si.si_code,
	      si.si_pid == getpid());
}

static void *sigpipe_thread(void *arg)
{
	sigpipe_write(arg != NULL);
	return NULL;
}

static void c_sigpipe_handler(void)
{
	handle(SIGPIPE, 0);
	for (int sock = 0; sock < 2; sock++) {
		pthread_t th;
		handled = 0;
		pthread_create(&th, NULL, sigpipe_thread, sock ? (void *)1 : NULL);
		join(th);
		t_out("handled=%d code=%d pid_ok=%d same_thread=%d\n", (int)handled,
		      (int)handled_code, (int)handled_pid_ok, (int)handled_tid_ok);
	}
}

/* The reader goes away while the write is waiting for room. */
static void c_sigpipe_blocked_write(void)
{
	int p[2];
	static char b[65536];
	pipe(p);
	handle(SIGPIPE, 0);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	while (write(p[1], b, sizeof b) > 0)
		;
	fcntl(p[1], F_SETFL, 0);
	static struct later l;
	l = (struct later){ .fd = p[0], .ms = 50, .close_it = 1 };
	pthread_t th = later(&l);
	writer_tid = (pid_t)syscall(SYS_gettid);
	t_res("write", write(p[1], b, 100));
	t_out("handled=%d code=%d same_thread=%d\n", (int)handled, (int)handled_code,
	      (int)handled_tid_ok);
	join(th);
}

static int qfd;

static void on_usr1_write(int s)
{
	write(qfd, "sig", 3);
}

static void c_handler_writes(void)
{
	int p[2], q[2];
	char b[16];
	pipe(p);
	pipe(q);
	qfd = q[1];
	struct sigaction sa = { .sa_flags = SA_RESTART, .sa_handler = on_usr1_write };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_t ts = later_signal(SIGUSR1, 50);
	pthread_t tw = later_write(p[1], "data", 150);
	show_buf("read", b, read(p[0], b, sizeof b));
	show_buf("handler-wrote", b, read(q[0], b, sizeof b));
	join(ts);
	join(tw);
}

/* write() is async-signal-safe: a handler may write to the fd (or the
 * file) the interrupted code is writing to, at any point of that call.
 * Each byte must land once, and nothing may hang. */
static int reent_fd;
static volatile sig_atomic_t reent_n;

static void on_alrm_write(int s)
{
	(void)s;
	if (write(reent_fd, "h", 1) == 1)
		reent_n++;
	char b[2];
	pread(reent_fd, b, 1, 0); /* and a read of the same file */
}

static void c_handler_same_fd(void)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	reent_fd = mkstemp(path);
	unlink(path);
	struct sigaction sa = { .sa_flags = SA_RESTART, .sa_handler = on_alrm_write };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 20 }, { 0, 20 } };
	setitimer(ITIMER_REAL, &it, NULL);
	long mains = 0;
	for (int i = 0; i < 20000; i++)
		mains += write(reent_fd, "m", 1) == 1;
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_IGN);
	struct stat st;
	fstat(reent_fd, &st);
	t_out("main wrote %ld; every byte landed once: %s; handler ran: %s\n", mains,
	      st.st_size == mains + reent_n && lseek(reent_fd, 0, SEEK_CUR) == st.st_size ? "yes" : "no",
	      reent_n > 0 ? "yes" : "no");
	close(reent_fd);
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

/* ---- threads and processes -------------------------------------------- */

static void *echo_main(void *arg)
{
	int *p = arg;
	char b[64];
	long n;
	while ((n = read(p[0], b, sizeof b)) > 0)
		write(p[3], b, (size_t)n);
	close(p[3]);
	return NULL;
}

static void c_many_threads(void)
{
	enum { N = 8, ROUNDS = 100 };
	int fds[N][4];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		pipe(fds[i]);
		pipe(fds[i] + 2);
		pthread_create(&th[i], NULL, echo_main, fds[i]);
	}
	long ok = 0;
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < N; i++) {
			char b[8] = "ping";
			write(fds[i][1], b, 4);
			ok += read(fds[i][2], b, sizeof b) == 4 && !memcmp(b, "ping", 4);
		}
	for (int i = 0; i < N; i++) {
		close(fds[i][1]);
		join(th[i]);
	}
	t_out("ok=%ld\n", ok);
}

static void c_fork(void)
{
	int p[2], q[2];
	char b[16];
	pipe(p);
	pipe(q);
	pthread_t th = later_write(p[1], "pre", 30);
	show_buf("parent-before", b, read(p[0], b, sizeof b));
	join(th);
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t t2 = later_write(p[1], "child", 30);
		long n = read(p[0], b, sizeof b);
		write(q[1], b, n > 0 ? (size_t)n : 0);
		join(t2);
		_exit(n == 5 ? 3 : 4);
	}
	show_buf("from-child", b, read(q[0], b, sizeof b));
	int st;
	waitpid(pid, &st, 0);
	t_out("child exit=%d\n", WEXITSTATUS(st));
	th = later_write(p[1], "after", 30);
	show_buf("parent-after", b, read(p[0], b, sizeof b));
	join(th);
}

static void c_vfork(void)
{
	int p[2];
	char b[16];
	pipe(p);
	pthread_t th = later_write(p[1], "warm", 20);
	read(p[0], b, sizeof b);
	join(th);
	pid_t pid = vfork();
	if (pid == 0) {
		write(p[1], "vfork", 5);
		_exit(5);
	}
	int st;
	waitpid(pid, &st, 0);
	show_buf("read", b, read(p[0], b, sizeof b));
	t_out("exit=%d\n", WEXITSTATUS(st));
	th = later_write(p[1], "again", 20);
	show_buf("read", b, read(p[0], b, sizeof b));
	join(th);
}

static void c_spawn(void)
{
	int p[2];
	char b[64];
	pipe(p);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	char *argv[] = { "sh", "-c", "sleep 0.05; printf spawned", NULL };
	pid_t pid;
	t_out("spawn=%d\n", posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ));
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	show_buf("read", b, read(p[0], b, sizeof b));
	int st;
	waitpid(pid, &st, 0);
	t_out("exit=%d\n", WEXITSTATUS(st));
	t_out("system=%d\n", WEXITSTATUS(system("exit 3")));
}

static void c_exec(void)
{
	t_out("before exec\n");
	execl("/bin/sh", "sh", "-c", "head -c 5 /etc/hostname >/dev/null; echo exec-ok", (char *)NULL);
}

/* Every exec entry point (the shim hooks them all for tracing). */
static void c_exec_family(void)
{
	char *const argv[] = { "sh", "-c", "printf \"$0 $1 ${X:-}\\n\"", "v", NULL };
	char *const envp[] = { "X=env", NULL };
	for (int k = 0; k < 8; k++) {
		int p[2];
		char b[64];
		pipe(p);
		pid_t pid = fork();
		if (pid == 0) {
			dup2(p[1], 1);
			switch (k) {
			case 0: execl("/bin/sh", "sh", "-c", "echo execl $0", "a", (char *)NULL); break;
			case 1: execlp("sh", "sh", "-c", "echo execlp $0", "b", (char *)NULL); break;
			case 2: execle("/bin/sh", "sh", "-c", "echo execle $X", (char *)NULL, envp); break;
			case 3: execv("/bin/sh", argv); break;
			case 4: execvp("sh", argv); break;
			case 5: execve("/bin/sh", argv, envp); break;
			case 6: execvpe("sh", argv, envp); break;
			case 7: execl("/nonexistent", "x", (char *)NULL);
				printf("execl-failed %s\n", t_errname(errno));
			}
			_exit(9);
		}
		close(p[1]);
		long n = read(p[0], b, sizeof b);
		int st;
		waitpid(pid, &st, 0);
		t_out("%d: %.*s status=%d\n", k, (int)(n > 0 ? n - 1 : 0), b, WEXITSTATUS(st));
		close(p[0]);
	}
}

static volatile int cleanup_ran;

static void on_cleanup(void *arg)
{
	cleanup_ran = 1;
}

static void *cancel_main(void *arg)
{
	int *p = arg;
	char b[16];
	pthread_cleanup_push(on_cleanup, NULL);
	read(p[0], b, sizeof b);
	pthread_cleanup_pop(0);
	return NULL;
}

static void c_pthread_cancel(void)
{
	int p[2];
	char b[16];
	pipe(p);
	pthread_t th;
	void *ret;
	pthread_create(&th, NULL, cancel_main, p);
	t_msleep(50);
	pthread_cancel(th);
	pthread_join(th, &ret);
	t_out("canceled=%d cleanup=%d\n", ret == PTHREAD_CANCELED, cleanup_ran);
	write(p[1], "kept", 4);
	show_buf("read", b, read(p[0], b, sizeof b));
}

static void *blocked_main(void *arg)
{
	int *p = arg;
	char b[16];
	read(p[0], b, sizeof b);
	return NULL;
}

static void c_exit_while_blocked(void)
{
	static int p[2];
	pthread_t th;
	pipe(p);
	pthread_create(&th, NULL, blocked_main, p);
	t_msleep(50);
	t_out("exiting\n");
	exit(7);
}

static void c_fsync(void)
{
	const char *path = t_tmpfile(4096, 0);
	int fd = open(path, O_RDWR);
	unlink(path);
	t_res("pwrite", pwrite(fd, "sync", 4, 0));
	t_res("fsync", fsync(fd));
	t_res("fdatasync", fdatasync(fd));
	t_res("fsync-ro", fsync(open("/etc/hostname", O_RDONLY)));
	t_res("fsync-null", fsync(open("/dev/null", O_WRONLY)));
}

static void c_special_fds(void)
{
	char b[64];
	int efd = eventfd(0, 0);
	uint64_t v = 5;
	static struct later l;
	l = (struct later){ .fd = efd, .ms = 40, .data = &v, .len = 8 };
	pthread_t th = later(&l);
	t_res("eventfd", read(efd, b, 8));
	t_out("value=%lu\n", (unsigned long)*(uint64_t *)b);
	join(th);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	grantpt(m);
	unlockpt(m);
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	th = later_write(s, "line\n", 40);
	long n = read(m, b, sizeof b);
	t_out("pty=%ld\n", n);
	join(th);
}

static void c_chk(void)
{
	int p[2];
	char b[16];
	pipe(p);
	write(p[1], "fortify", 7);
	show_buf("read_chk", b, __read_chk(p[0], b, 4, sizeof b));
	const char *path = t_tmpfile(100, 1);
	int fd = open(path, O_RDONLY);
	unlink(path);
	t_res("pread_chk", __pread_chk(fd, b, 10, 90, sizeof b));
	t_res("pread_chk-eof", __pread_chk(fd, b, 10, 95, sizeof b));
}

/* A daemon closes every fd it does not know and reuses the numbers: the
 * shim's own fds go with them, and it must never read, write or close the
 * program's files in their place (it once read the program's pipe). */
static void c_close_range_reuse(void)
{
	int p[2], q[2];
	char b[64];
	pipe(p);
	pthread_t th = later_write(p[1], "warm", 20);
	show_buf("before", b, read(p[0], b, sizeof b));
	join(th);
	syscall(SYS_close_range, 100, ~0U, 0);
	pipe(q);
	write(q[1], "0123456789abcdef", 16);
	for (int fd = 100; fd < 1100; fd++)
		dup2(q[0], fd);
	th = later_write(p[1], "late", 30);
	show_buf("after", b, read(p[0], b, sizeof b));
	join(th);
	th = later_write(p[1], "again", 30);
	show_buf("again", b, read(p[0], b, sizeof b));
	join(th);
	fcntl(q[0], F_SETFL, O_NONBLOCK);
	show_buf("program-pipe", b, read(q[0], b, sizeof b));
}

/* T_NOCORO: a signal handler interrupts a call (inside coroutines signals
 * do not interrupt hooked calls: README), or the case cancels a thread,
 * forks, execs or exits.  T_BACKEND: the coroutine really waits in a
 * hooked call (for a peer thread, the disk, or room in a pipe). */
static const struct t_case cases[] = {
	{ "close_range_reuse", c_close_range_reuse, T_BACKEND },
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
	{ "eintr_pipe", c_eintr_pipe, T_NOCORO },
	{ "restart_pipe", c_restart_pipe, T_NOCORO },
	{ "eintr_socket", c_eintr_socket, T_NOCORO },
	{ "restart_socket", c_restart_socket, T_NOCORO },
	{ "write_eintr", c_write_eintr, T_NOCORO },
	{ "write_restart", c_write_restart, T_NOCORO },
	{ "sigpipe_default", c_sigpipe_default, 0 },
	{ "sigpipe_default_sock", c_sigpipe_default_sock, 0 },
	{ "sigpipe_ignored", c_sigpipe_ignored, 0 },
	{ "sigpipe_blocked", c_sigpipe_blocked, 0 },
	{ "sigpipe_handler", c_sigpipe_handler, 0 },
	{ "sigpipe_blocked_write", c_sigpipe_blocked_write, T_BACKEND },
	{ "handler_writes", c_handler_writes, T_NOCORO },
	{ "handler_same_fd", c_handler_same_fd, T_NOCORO },
	{ "offsets", c_offsets, 0 },
	{ "offsets_threads", c_offsets_threads, 0 },
	{ "many_threads", c_many_threads, T_BACKEND },
	{ "fork", c_fork, T_NOCORO },
	{ "vfork", c_vfork, T_NOCORO },
	{ "spawn", c_spawn, T_NOCORO },
	{ "exec", c_exec, T_NOCORO },
	{ "exec_family", c_exec_family, T_NOCORO },
	{ "pthread_cancel", c_pthread_cancel, T_NOCORO },
	{ "exit_while_blocked", c_exit_while_blocked, T_NOCORO },
	{ "fsync", c_fsync, T_BACKEND },
	{ "special_fds", c_special_fds, T_BACKEND },
	{ "chk", c_chk, 0 },
	{ NULL, NULL, 0 },
};

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "semantics", 60);
}
