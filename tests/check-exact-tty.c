/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks terminals under
 * job control: a background process group's read, and write with TOSTOP,
 * of its controlling tty, and a write moved to the background as it
 * waited for room (class 12, processes). */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pty.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ==== class 12: terminals under job control ============================ */

/* A session of its own controlling a new pty (exit 3 where it cannot). */
static void session_pty(int *m, int *s, int tostop)
{
	setsid();
	if (openpty(m, s, NULL, NULL, NULL) < 0 || ioctl(*s, TIOCSCTTY, 0) < 0)
		_exit(3);
	struct termios tio;
	tcgetattr(*s, &tio);
	if (tostop)
		tio.c_lflag |= TOSTOP;
	tcsetattr(*s, TCSANOW, &tio);
}

/* The pty's output full, as a terminal nobody reads. */
static void fill_output(int s)
{
	int fl = fcntl(s, F_GETFL);
	fcntl(s, F_SETFL, fl | O_NONBLOCK);
	while (write(s, "0123456789abcdef", 16) > 0)
		;
	fcntl(s, F_SETFL, fl);
}

static void report_child(pid_t c)
{
	int st;
	waitpid(c, &st, 0);
	t_out("child: %s\n", WIFEXITED(st) ? (WEXITSTATUS(st) ? "exit !0" : "exit 0") :
	      WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? "hung (SIGALRM)" : "killed");
}

static int jc_tty, jc_mode;
static _Atomic int jc_done;

/* Job 1: ticks beside job 0, so that job 0 is not alone on its thread. */
static void tick_until_done(int i)
{
	for (int n = 0; !jc_done && n < 3000; n++)
		t_msleep(1);
	t_jout(i, "ticked\n");
}

/* Job 0 reads (modes 0, 1) or writes (mode 2) the tty; job 1 ticks
 * beside it, so that job 0 is not alone on its thread. */
static void j_tty(int i)
{
	if (i == 0) {
		char b[8];
		if (jc_mode < 2)
			t_jres(i, "read", read(jc_tty, b, sizeof b));
		else
			t_jres(i, "write", write(jc_tty, "x", 1));
		t_jout(i, "\n");
		jc_done = 1;
		return;
	}
	tick_until_done(i);
}

/* A child that is a session leader controlling a pty from a background
 * process group (another group of the session is in the foreground),
 * and its parent in another session, so its group is orphaned. */
static void background_tty(int mode)
{
	net(8);
	t_load_api();
	pid_t c = fork();
	if (c == 0) {
		int m, s, p[2];
		net(4);
		session_pty(&m, &s, mode == 2);
		if (mode == 2)
			fill_output(s);
		pipe(p);
		pid_t g = fork();
		if (g == 0) {
			char x;
			setpgid(0, 0);
			read(p[0], &x, 1);
			_exit(0);
		}
		setpgid(g, g);
		tcsetpgrp(s, g);
		signal(mode ? (mode == 2 ? SIGTTOU : SIGTTIN) : SIGTTIN, mode ? SIG_DFL : SIG_IGN);
		jc_tty = s;
		jc_mode = mode;
		t_spawn(j_tty, 0);
		t_spawn(j_tty, 1);
		t_finish();
		t_kill_child(g);
		_exit(0);
	}
	report_child(c);
}

/* Its read with SIGTTIN ignored: EIO at once (it waited for input). */
static void c12_tty_background_read_ignored(void)
{
	background_tty(0);
}

/* Its read with SIGTTIN at its default, the group orphaned: EIO. */
static void c12_tty_background_read_orphaned(void)
{
	background_tty(1);
}

/* Its write with TOSTOP and the pty's output full: EIO before any wait
 * for room (it waited for the room). */
static void c12_tty_background_write_tostop(void)
{
	background_tty(2);
}

/* A terminal write that waits for room (TOSTOP, the output full) while
 * its group is in the foreground; another thread then gives the
 * foreground to another group and drains the master.  The kernel's
 * write looks at the group only as each 2048-byte chunk begins: it
 * finishes the chunk it waited in, then SIGTTOU (a handler: the count),
 * or EIO where the group is orphaned (the count, no signal).  A
 * coroutine's write looked again after its wait: EINTR, or it stopped. */
static int tw_tty, tw_master;
static pid_t tw_other;
static _Atomic int tw_hc; /* the handler may run on any thread */

static void on_ttou(int sig)
{
	(void)sig;
	tw_hc++;
}

static void *tw_move_then_drain(void *arg)
{
	(void)arg;
	char b[4096];
	t_msleep(100);
	tcsetpgrp(tw_tty, tw_other);
	t_msleep(100);
	fcntl(tw_master, F_SETFL, O_NONBLOCK);
	for (int n = 0; n < 60; n++) {
		while (read(tw_master, b, sizeof b) > 0)
			;
		t_msleep(5);
	}
	return NULL;
}

static void j_tty_write(int i)
{
	if (i == 0) {
		static char big[5000];
		memset(big, 'w', sizeof big);
		pthread_t th = go(tw_move_then_drain, NULL);
		long r = write(tw_tty, big, sizeof big);
		int e = errno;
		join(th);
		t_jout(i, "write=%ld %s hc=%d\n", r, r < 0 ? t_errname(e) : "-", (int)tw_hc);
		jc_done = 1;
		return;
	}
	tick_until_done(i);
}

/* The writer: the session leader itself (its group orphaned: its parent
 * is in another session), or a child of it in a group of its own. */
static void tty_write_moved(int orphaned)
{
	net(8);
	t_load_api();
	pid_t c = fork();
	if (c == 0) {
		int m, s, p[2];
		net(6);
		session_pty(&m, &s, 1);
		pipe(p);
		pid_t g = fork();
		if (g == 0) {
			char x;
			setpgid(0, 0);
			if (orphaned) { /* the other group */
				read(p[0], &x, 1);
				_exit(0);
			}
			sigset_t ttou, was;
			sigemptyset(&ttou);
			sigaddset(&ttou, SIGTTOU);
			sigprocmask(SIG_BLOCK, &ttou, &was);
			tcsetpgrp(s, getpgrp());
			sigprocmask(SIG_SETMASK, &was, NULL);
		}
		setpgid(g ? g : 0, g ? g : 0);
		if (g && !orphaned) { /* the writer's parent */
			int st;
			waitpid(g, &st, 0);
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 4);
		}
		tw_tty = s;
		tw_master = m;
		tw_other = orphaned ? g : getppid();
		fill_output(s);
		struct sigaction sa = { .sa_handler = on_ttou };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTTOU, &sa, NULL);
		jc_done = 0;
		t_spawn(j_tty_write, 0);
		t_spawn(j_tty_write, 1);
		t_finish();
		t_kill_child(g);
		_exit(0);
	}
	report_child(c);
}

static void c12_tty_write_moved_to_background_as_it_waits(void)
{
	tty_write_moved(0);
}

static void c12_tty_write_moved_to_background_orphaned(void)
{
	tty_write_moved(1);
}

#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c12_tty_background_read_ignored, T_OWNCORO),
	C(c12_tty_background_read_orphaned, T_OWNCORO),
	C(c12_tty_background_write_tostop, T_OWNCORO),
	C(c12_tty_write_moved_to_background_as_it_waits, T_OWNCORO),
	C(c12_tty_write_moved_to_background_orphaned, T_OWNCORO),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "exact-tty", 150);
}
