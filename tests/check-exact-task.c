/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks that what the
 * kernel applies to the calling task happens to it: signals directed at
 * the calling thread, job control (SIGTTIN, SIGTTOU), RLIMIT_FSIZE and
 * SIGXFSZ, an fd closed or replaced under a blocked call.
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

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
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
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-task", 150);
}
