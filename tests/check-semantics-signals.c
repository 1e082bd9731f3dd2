/* CONTRACT §4 semantics, as in every check-semantics-* program: every case
 * runs without the shim and under each backend (off, uring, threads), then
 * inside a coroutine (uring-coro, threads-coro), and must print the same
 * results — return values, errno names, bytes, offsets, signals seen — and
 * end the same way.  On plain threads no call may reach a backend; in a
 * coroutine, cases marked T_BACKEND must have reached one.  This program
 * checks signals: EINTR and SA_RESTART on reads and writes, SIGPIPE at its
 * default, ignored, blocked or handled, and signal handlers that write to
 * a pipe or to the fd the program writes. */
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
	/* the call first: the order a function's arguments are computed in is
	 * the compiler's (si was read before the call wrote it) */
	int taken = sigtimedwait(&set, &si, &zero);
	t_out("taken=%d code=%d pid_ok=%d\n", taken, si.si_code, si.si_pid == getpid());
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

static const struct t_case cases[] = {
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
	{ NULL, NULL, 0 },
};

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "semantics-signals", 60);
}
