/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks what the program
 * is told about its signal dispositions — every answer names the program's
 * handler, with the flags and mask glibc gives it (sigaction, signal,
 * bsd_signal, ssignal, sysv_signal, sigset, siginterrupt, sigignore,
 * SA_RESETHAND), bad pointers fault as in glibc, a fork (with or without
 * pthread_atfork handlers) while another thread changes a handler — and
 * what its handlers get: a SA_SIGINFO handler's siginfo, context and
 * backtrace, a SIGCHLD handler that reaps beside the program's wait.  The
 * handlers' own calls are check-exact-handlers'. */
#include <check.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ucontext.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* sigset & co. */
/* glibc exports it; its header declares it only for XPG4.2 without GNU */
extern __sighandler_t bsd_signal(int, __sighandler_t);

/* ---- what the program is told about its dispositions ------------------ */

static volatile int last;
static void h1(int sig) { (void)sig; handled++; last = 1; }
static void h2(int sig) { (void)sig; handled++; last = 2; }
static void h3(int sig) { (void)sig; handled++; last = 3; }

static const char *name_of(void (*h)(int))
{
	return h == h1 ? "h1" : h == h2 ? "h2" : h == h3 ? "h3" : h == SIG_DFL ? "DFL" :
	       h == SIG_IGN ? "IGN" : h == SIG_HOLD ? "HOLD" : h == SIG_ERR ? "ERR" : "other";
}

/* The disposition as sigaction tells it: handler, flags, mask. */
static void show_disp(const char *what, int sig)
{
	struct sigaction old;
	memset(&old, 0, sizeof old);
	if (sigaction(sig, NULL, &old) < 0) {
		t_out("%s: %s\n", what, t_errname(errno));
		return;
	}
	int f = old.sa_flags;
	t_out("%s: %s flags=%#x%s%s%s%s%s mask-usr2=%d\n", what, name_of(old.sa_handler),
	      f & ~0x04000000 /* SA_RESTORER: glibc's own */,
	      f & SA_SIGINFO ? " siginfo" : "", f & SA_RESTART ? " restart" : "",
	      f & SA_NODEFER ? " nodefer" : "", f & SA_RESETHAND ? " resethand" : "",
	      f & SA_ONSTACK ? " onstack" : "", sigismember(&old.sa_mask, SIGUSR2));
	t_out("  mask-self=%d\n", sigismember(&old.sa_mask, sig));
}

static void show_old(const char *what, void (*r)(int))
{
	t_out("%s -> %s%s%s\n", what, name_of(r), r == SIG_ERR ? " " : "",
	      r == SIG_ERR ? t_errname(errno) : "");
}

static void c6_dispositions_name_the_programs_handlers(void)
{
	struct sigaction sa = { .sa_handler = h1, .sa_flags = SA_RESTART | SA_ONSTACK }, old;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	t_res("sigaction", sigaction(SIGUSR1, &sa, &old));
	t_out("old: %s\n", name_of(old.sa_handler));
	show_disp("after sigaction", SIGUSR1);
	show_old("signal h2", signal(SIGUSR1, h2));
	show_disp("after signal", SIGUSR1);
	show_old("bsd_signal h3", bsd_signal(SIGUSR1, h3));
	show_old("ssignal h1", ssignal(SIGUSR1, h1));
	show_old("sysv_signal h2", sysv_signal(SIGUSR1, h2));
	show_disp("after sysv_signal", SIGUSR1);
	show_old("sigset HOLD", sigset(SIGUSR1, SIG_HOLD));
	show_old("sigset h3", sigset(SIGUSR1, h3));
	t_res("siginterrupt", siginterrupt(SIGUSR1, 1));
	show_disp("after siginterrupt", SIGUSR1);
	show_old("signal h1 (interrupting)", signal(SIGUSR1, h1));
	show_disp("after signal", SIGUSR1);
	t_res("sigignore", sigignore(SIGUSR1));
	show_old("signal h2 after sigignore", signal(SIGUSR1, h2));
	show_old("signal DFL", signal(SIGUSR1, SIG_DFL));
	show_old("signal DFL again", signal(SIGUSR1, SIG_DFL));
	/* the same handler for two signals, one changed */
	signal(SIGUSR1, h1);
	signal(SIGUSR2, h1);
	show_old("signal usr2 h3", signal(SIGUSR2, h3));
	show_disp("usr1", SIGUSR1);
	/* SA_RESETHAND: the kernel's reset is what the program sees */
	sa.sa_handler = h2;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGUSR2, &sa, NULL);
	handled = 0;
	raise(SIGUSR2);
	t_out("handled=%d\n", (int)handled);
	show_disp("after a resethand delivery", SIGUSR2);
	/* refused: the record is left as it was */
	sa.sa_handler = h3;
	sa.sa_flags = 0;
	t_res("sigaction 0", sigaction(0, &sa, NULL));
	t_res("sigaction 65", sigaction(65, &sa, NULL));
	t_res("sigaction KILL", sigaction(SIGKILL, &sa, NULL));
	show_old("signal STOP", signal(SIGSTOP, h3));
	show_old("signal 0", signal(0, h3));
	show_disp("KILL", SIGKILL);
	show_disp("usr1 still", SIGUSR1);
	/* a child forked now is told the same */
	pid_t pid = fork();
	if (pid == 0) {
		show_old("child signal h2", signal(SIGUSR1, h2));
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	show_status("child", st);
	/* a vfork child's handler is its own: the parent's stays */
	pid = vfork();
	if (pid == 0) {
		signal(SIGUSR1, h3);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	show_disp("usr1 after a vfork child's signal", SIGUSR1);
	last = 0;
	raise(SIGUSR1);
	t_out("ran h%d\n", last);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
}

/* A fork while another thread changes a disposition: the child's own
 * change goes through (it once found the shim's lock held for good and
 * spun with every signal blocked). */
static _Atomic int changing_stop;

static void *keep_changing(void *arg)
{
	(void)arg;
	for (unsigned n = 0; !changing_stop; n++)
		signal(SIGUSR2, n & 1 ? h1 : h2);
	return NULL;
}

/* `_Fork`, a raw fork and glibc's `clone` run no pthread_atfork
 * handler: the child's change went through only once the shim's lock
 * knew a child of any fork (spin.h) — it spun for ever within the first
 * 25 forks. */
extern pid_t _Fork(void);

static pid_t raw_fork(void)
{
	return (pid_t)syscall(SYS_fork);
}

static int child_fn(void *arg)
{
	(void)arg;
	signal(SIGUSR1, h1);
	return 0;
}

static pid_t clone_fork(void)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	return clone(child_fn, stack + sizeof stack, SIGCHLD, NULL);
}

static void forks_while_a_thread_changes_handlers(pid_t (*make)(void), int n)
{
	int ok = 0, hung = 0;
	changing_stop = 0;
	pthread_t th = go(keep_changing, NULL);
	for (int i = 0; i < n; i++) {
		pid_t pid = make();
		if (pid == 0) {
			signal(SIGUSR1, h1);
			_exit(0);
		}
		int st = 0, done = 0;
		for (int ms = 0; ms < 2000 && !done; ms++) {
			done = waitpid(pid, &st, WNOHANG) == pid;
			if (!done)
				t_msleep(1);
		}
		if (!done)
			st = t_kill_child(pid);
		ok += done && WIFEXITED(st) && WEXITSTATUS(st) == 0;
		hung += !done;
	}
	changing_stop = 1;
	join(th);
	t_out("children ended=%d hung=%d\n", ok, hung);
	signal(SIGUSR2, SIG_DFL);
}

static void c6_fork_while_a_thread_changes_handlers(void)
{
	forks_while_a_thread_changes_handlers(fork, 30);
}

static void c6_forks_without_atfork_while_a_thread_changes_handlers(void)
{
	t_out("_Fork: ");
	forks_while_a_thread_changes_handlers(_Fork, 60);
	t_out("raw fork: ");
	forks_while_a_thread_changes_handlers(raw_fork, 60);
	t_out("clone: ");
	forks_while_a_thread_changes_handlers(clone_fork, 60);
}

/* sigaction with an old-action pointer it cannot write: the kernel's
 * change is made, then the copy faults, and the program's SIGSEGV handler
 * sees it (it once came with every signal blocked: the process died). */
static sigjmp_buf segv_env;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(segv_env, 1);
}

static void c6_sigaction_bad_pointers_fault_as_in_glibc(void)
{
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER }, usr = { .sa_handler = h2 };
	sigemptyset(&sa.sa_mask);
	sigemptyset(&usr.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	signal(SIGUSR1, h1);
	if (sigsetjmp(segv_env, 1) == 0) {
		sigaction(SIGUSR1, &usr, (struct sigaction *)(uintptr_t)minus_one);
		t_out("bad old: no fault\n");
	} else {
		t_out("bad old: SIGSEGV\n");
	}
	show_disp("usr1 after", SIGUSR1);
	if (sigsetjmp(segv_env, 1) == 0) {
		sigaction(SIGUSR1, (const struct sigaction *)(uintptr_t)minus_one, NULL);
		t_out("bad act: no fault\n");
	} else {
		t_out("bad act: SIGSEGV\n");
	}
	show_disp("usr1 still", SIGUSR1);
	signal(SIGSEGV, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- a SA_SIGINFO handler's arguments --------------------------------- */

static volatile int got_signo, got_code, got_value, got_masked, got_raiser;
static char *raiser_at;

static void on_info(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	void *frames[64];
	int e = errno;
	got_signo = si->si_signo;
	got_code = si->si_code;
	got_value = si->si_value.sival_int;
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	/* blocked while it runs (unless SA_NODEFER); not in the mask its
	 * return puts back */
	got_masked = sigismember(&cur, SIGUSR1) + 2 * sigismember(&uc->uc_sigmask, SIGUSR1);
	int n = backtrace(frames, 64);
	got_raiser = 0;
	for (int i = 0; i < n; i++)
		if ((char *)frames[i] >= raiser_at && (char *)frames[i] < raiser_at + 512)
			got_raiser = 1;
	handled++;
	(void)sig;
	errno = e;
}

__attribute__((noinline)) static void raiser(int sig, int value)
{
	sigqueue(getpid(), sig, (union sigval){ .sival_int = value });
	__asm__ volatile("" ::: "memory");
}

static void c6_siginfo_handler_gets_its_arguments(void)
{
	void *warm[4];
	raiser_at = (char *)(uintptr_t)raiser;
	backtrace(warm, 4); /* its first call loads the unwinder */
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL);
	for (int nodefer = 0; nodefer < 2; nodefer++) {
		struct sigaction sa = { .sa_sigaction = on_info, .sa_flags = SA_SIGINFO | (nodefer ? SA_NODEFER : 0) };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
		handled = 0;
		raiser(SIGUSR1, 42 + nodefer);
		t_out("nodefer=%d handled=%d signo=%d queued=%s value=%d masked=%d raiser-in-backtrace=%s\n",
		      nodefer, (int)handled, got_signo, yes(got_code == SI_QUEUE), got_value, got_masked,
		      yes(got_raiser));
	}
	signal(SIGUSR1, SIG_DFL);
}

/* ---- a handler that reaps children while the program waits for them --- */

static volatile sig_atomic_t reaped;
static volatile int reap_errno;

static void on_reap(int sig)
{
	int st, e = errno;
	(void)sig;
	while (wait(&st) > 0)
		reaped++;
	reap_errno = errno;
	errno = e;
}

/* make's SIGINT handler: it reaps its children itself while the program
 * waits for one in wait().  The handler waits for both (its calls are its
 * own); the program's wait then finds none left.  A coroutine's wait once
 * reaped the first on its worker meanwhile. */
static void c6_handler_reaps_while_the_program_waits(void)
{
	/* no net(): its alarm is this case's timer (t_run's limit holds) */
	struct sigaction sa = { .sa_handler = on_reap, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	for (int i = 0; i < 2; i++)
		if (fork() == 0) {
			t_msleep(200 + 100 * i);
			_exit(0);
		}
	setitimer(ITIMER_REAL, &(struct itimerval){ { 0, 0 }, { 0, 100000 } }, NULL);
	int st;
	pid_t p = wait(&st);
	if (p > 0)
		t_out("wait=a child\n");
	else
		t_res("wait", p);
	t_out("handler reaped %d, then %s\n", (int)reaped, t_errname(reap_errno));
	signal(SIGALRM, SIG_DFL);
}

/* A daemon's SIGCHLD handler reaps with WNOHANG while the program waits
 * for one child: the kernel's wait takes the child before the handler
 * runs, so the program has it and the handler finds nothing (a
 * coroutine's wait once lost it to the handler: -1 ECHILD). */
static volatile sig_atomic_t chld_runs, chld_reaped;

static void on_chld(int sig)
{
	int st, e = errno;
	(void)sig;
	chld_runs++;
	while (waitpid(-1, &st, WNOHANG) > 0)
		chld_reaped++;
	errno = e;
}

static void c6_sigchld_reaper_leaves_the_waited_child(void)
{
	struct sigaction sa = { .sa_handler = on_chld, .sa_flags = SA_NOCLDSTOP };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	for (int i = 0; i < 3; i++) {
		pid_t c = fork();
		if (c == 0) {
			t_msleep(30);
			_exit(40 + i);
		}
		int st = 0;
		pid_t r = waitpid(c, &st, 0);
		t_msleep(10);
		if (r == c)
			t_out("waitpid=the child status=%d ", WEXITSTATUS(st));
		else
			t_res("waitpid", r);
		t_out("handler ran=%s reaped=%d\n", yes(chld_runs > 0), (int)chld_reaped);
		chld_runs = chld_reaped = 0;
	}
	signal(SIGCHLD, SIG_DFL);
}

/* ---- the table --------------------------------------------------------
 * T_NOTSAN: under ThreadSanitizer the program's handler runs later, from
 * the sanitizer's own frames (at its next intercepted call), not from the
 * kernel's signal frame: outside the shim's trampoline (README, Known
 * blind spots); nor a fork that runs no pthread_atfork handler, whose
 * child finds the sanitizer's own state as its other threads left it. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c6_dispositions_name_the_programs_handlers, 0),
	C(c6_handler_reaps_while_the_program_waits, T_BACKEND | T_NOTSAN),
	C(c6_sigchld_reaper_leaves_the_waited_child, T_BACKEND | T_NOTSAN),
	C(c6_siginfo_handler_gets_its_arguments, 0),
	C(c6_fork_while_a_thread_changes_handlers, 0),
	C(c6_forks_without_atfork_while_a_thread_changes_handlers, T_NOTSAN),
	C(c6_sigaction_bad_pointers_fault_as_in_glibc, 0),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	t_jobs_threads_under_off();
	return t_cases_main(argc, argv, cases, "exact-dispositions", 120);
}
