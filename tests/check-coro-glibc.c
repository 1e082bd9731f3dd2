/* glibc functions whose waits glibc makes inside itself, from coroutines
 * (shim/compose.c, shim/sync.c's pause and sigsuspend).
 *
 * glibc's eventfd_read, eventfd_write and thrd_sleep make their read,
 * write and clock_nanosleep through its internal names, and its pause,
 * sigpause and sigsuspend their system call: none reaches a hook, so each
 * held a coroutine's thread, and the sibling that would have ended the
 * wait never ran.  The same jobs run as coroutines on one thread under
 * the shim (uring, threads) and as plain threads without it, and must
 * print the same; each case sets an alarm, and a hang shows as SIGALRM
 * next to the threads' clean exit. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "t-helpers.h"


static const char *yes(int b)
{
	return b ? "yes" : "no";
}

/* Job i, the sibling: SIGUSR1 to *target until *stage says the waiter is
 * through each of stages 1..last (2000 tries each), then how far it got. */
static void signal_through(int i, _Atomic int *stage, int last, pthread_t *target)
{
	/* the waiter's thread named first (a thread's id 0 is a crash) */
	for (int k = 0; !__atomic_load_n(target, __ATOMIC_ACQUIRE) && k < 2000; k++)
		t_jobs_waits();
	for (int st = 1; st <= last; st++)
		for (int k = 0; *stage < st && k < 2000; k++) {
			t_jobs_waits();
			pthread_kill(*target, SIGUSR1);
		}
	t_jout(i, "stages=%d\n", (int)*stage);
}

/* ---- pause and sigsuspend ---------------------------------------------- */

/* Both wait for a handler to run in the caller's thread: a sibling's
 * pthread_kill must end them (glibc's wait inside itself held the thread,
 * and the sibling never ran).  Job 0 blocks SIGUSR1, sigsuspends with it
 * unblocked (the mask is back after), then unblocks it and pauses, then
 * leaves a third sigsuspend by the handler's siglongjmp and makes a
 * fourth, whose mask must be back after it too (a count of sigsuspends
 * under way, left behind by the jump, kept it from being given back);
 * job 1 signals job 0's thread until job 0 says it is through each. */
static _Atomic int susp_stage, susp_handled, susp_jump;
static pthread_t susp_target;
static sigjmp_buf susp_env;

static void on_susp(int sig)
{
	(void)sig;
	susp_handled++;
	if (susp_jump)
		siglongjmp(susp_env, 1);
}

static void j_suspend(int i)
{
	if (i == 1) {
		signal_through(i, &susp_stage, 4, &susp_target);
		return;
	}
	sigset_t usr1, old, now;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	__atomic_store_n(&susp_target, pthread_self(), __ATOMIC_RELEASE);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	sigset_t during = old;
	sigdelset(&during, SIGUSR1);
	errno = 0;
	int r = sigsuspend(&during);
	t_jout(i, "sigsuspend=%d %s handled=%s ", r, t_errname(errno), yes(susp_handled > 0));
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	t_jout(i, "blocked after=%s ", yes(sigismember(&now, SIGUSR1)));
	susp_stage = 1;
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	errno = 0;
	r = pause();
	t_jout(i, "pause=%d %s ", r, t_errname(errno));
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	susp_stage = 2;
	if (sigsetjmp(susp_env, 1) == 0) {
		susp_jump = 1;
		sigsuspend(&during);
		t_jout(i, "not jumped ");
	}
	susp_jump = 0;
	susp_stage = 3;
	r = sigsuspend(&during);
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	t_jout(i, "after a jump: sigsuspend=%d blocked after=%s\n", r, yes(sigismember(&now, SIGUSR1)));
	susp_stage = 4;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void c_suspend(void)
{
	struct sigaction sa = { .sa_handler = on_susp };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	t_jobs_all(j_suspend, 2, 10);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- glibc functions made of one hooked call -------------------------- */

/* eventfd_read/eventfd_write and C11's thrd_sleep make their read, write
 * and clock_nanosleep inside glibc: a coroutine's eventfd_read of a
 * counter its sibling writes held the thread for good, and a thrd_sleep
 * loop waiting for a sibling's flag never saw it (shim/compose.c). */
static int c_efd = -1;
static _Atomic int c_flag;

static void j_composed(int i)
{
	if (i == 1) {
		t_jobs_waits();
		t_jout(i, "eventfd_write=%d ", eventfd_write(c_efd, 5));
		t_jobs_waits();
		c_flag = 1;
		t_jout(i, "\n");
		return;
	}
	eventfd_t v = 0;
	int r = eventfd_read(c_efd, &v);
	t_jout(i, "eventfd_read=%d value=%llu ", r, (unsigned long long)v);
	struct timespec ms = { 0, 1000000 };
	int n = 0;
	while (!c_flag && n < 2000)
		n += thrd_sleep(&ms, NULL) == 0;
	t_jout(i, "thrd_sleep saw the flag=%s ", yes(c_flag));
	struct timespec bad = { 0, -1 };
	errno = 0;
	r = thrd_sleep(&bad, NULL);
	t_jout(i, "thrd_sleep(bad)=%d errno=%d ", r, errno);
	errno = 0;
	r = eventfd_write(c_efd, 0xffffffffffffffffULL);
	t_jout(i, "eventfd_write(max)=%d errno=%s\n", r, t_errname(errno));
}

static void c_composed(void)
{
	c_efd = eventfd(0, EFD_CLOEXEC);
	t_jobs_all(j_composed, 2, 10);
	close(c_efd);
}

/* ---- sigpause ------------------------------------------------------------ */

/* glibc's three names for it, each its sigsuspend inside: sigpause (the
 * BSD one: the whole mask, as the bits of the first 32 signals),
 * __xpg_sigpause (X/Open's, which <signal.h> names sigpause: the
 * thread's mask less one signal) and __sigpause (either).  Job 0 blocks
 * SIGUSR1 and waits in each with it unblocked — ended by its sibling's
 * pthread_kill, -1/EINTR, the handler run, SIGUSR1 blocked again after —
 * then asks for signals that cannot be taken out of a mask (EINVAL at
 * once); job 1 signals job 0's thread until it says it is through each. */
extern int bsd_sigpause(int mask) __asm__("sigpause");
extern int __xpg_sigpause(int sig);
extern int __sigpause(int sig_or_mask, int is_sig);
static _Atomic int sp_stage, sp_handled;
static pthread_t sp_target;

static void on_sp(int sig)
{
	(void)sig;
	sp_handled++;
}

static void sp_show(int i, const char *what, int r, int handled_before)
{
	sigset_t now;
	int e = errno;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	t_jout(i, "%s=%d %s handled=%s blocked after=%s ", what, r, t_errname(e),
	       yes(sp_handled > handled_before), yes(sigismember(&now, SIGUSR1)));
}

static void j_sigpause(int i)
{
	if (i == 1) {
		signal_through(i, &sp_stage, 3, &sp_target);
		return;
	}
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	__atomic_store_n(&sp_target, pthread_self(), __ATOMIC_RELEASE);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	int h = sp_handled;
	errno = 0;
	int r = __xpg_sigpause(SIGUSR1);
	sp_show(i, "__xpg_sigpause", r, h);
	sp_stage = 1;
	/* the BSD mask: what is blocked now, less SIGUSR1 */
	sigset_t now;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	int mask = 0;
	for (int s = 1; s <= 31; s++)
		if (s != SIGUSR1 && sigismember(&now, s))
			mask |= 1 << (s - 1);
	h = sp_handled;
	errno = 0;
	r = bsd_sigpause(mask);
	sp_show(i, "sigpause", r, h);
	sp_stage = 2;
	h = sp_handled;
	errno = 0;
	r = __sigpause(SIGUSR1, 1);
	sp_show(i, "__sigpause", r, h);
	sp_stage = 3;
	errno = 0;
	r = __xpg_sigpause(0);
	t_jout(i, "__xpg_sigpause(0)=%d %s ", r, t_errname(errno));
	errno = 0;
	r = __sigpause(_NSIG + 3, 1);
	t_jout(i, "__sigpause(_NSIG+3)=%d %s\n", r, t_errname(errno));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void c_sigpause(void)
{
	struct sigaction sa = { .sa_handler = on_sp };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	t_jobs_all(j_sigpause, 2, 10);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- the table ---------------------------------------------------------
 * T_NOTSAN: ThreadSanitizer intercepts pause and sigsuspend and makes
 * glibc's calls, past the library's (README). */
static const struct t_case cases[] = {
	{ "composed", c_composed, T_BACKEND | T_OWNCORO },
	{ "suspend", c_suspend, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "sigpause", c_sigpause, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ NULL, NULL, 0 },
};

int main(int argc, char **argv)
{
	return t_jobs_main(argc, argv, cases, "coro-glibc", 60);
}
