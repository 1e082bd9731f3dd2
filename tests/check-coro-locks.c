/* Locks that are not pthread mutexes or rwlocks, between coroutines.
 *
 * The same jobs run as coroutines on one thread under the shim (uring,
 * threads) and as plain threads without it, and must print the same.  A
 * job that holds a lock (or runs a once's init) across a call that yields
 * lets a sibling reach for the same lock: waiting for it in the kernel
 * held the thread, so the holder never ran again (shim/pin.c).  Each
 * case sets an alarm: a hang shows as SIGALRM next to the threads' clean
 * exit.  Covered: pthread_once and C11 call_once whose init waits, C11
 * mutexes, and a library's own futex lock, condition and timed wait made
 * through syscall(), as GLib's GMutex, GCond and g_once are; and waits
 * for a child (wait, waitpid, wait3, wait4, waitid) whose exit a sibling
 * brings about. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>

#include "t-helpers.h"

/* A call that waits inside a coroutine: a sibling runs meanwhile. */
static void waits(void)
{
	struct stat st;
	stat("/", &st);
	usleep(2000);
}

/* Job 1 of an answers case: a sibling that keeps running meanwhile. */
static int sibling(int i)
{
	if (i != 1)
		return 0;
	for (int k = 0; k < 10; k++)
		waits();
	t_jout(i, "sibling done\n");
	return 1;
}

/* ---- once ---------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static once_flag c11_once = ONCE_FLAG_INIT;
static _Atomic int inits, c11_inits, init_running;

static void init(void)
{
	init_running = 1;
	waits();
	inits++;
	init_running = 0;
}

static void c11_init(void)
{
	waits();
	c11_inits++;
}

static void j_once(int i)
{
	if (i)
		usleep(500); /* the first job's init is under way */
	pthread_once(&once, init);
	t_jout(i, "once: inits=%d running=%d ", inits, init_running);
	call_once(&c11_once, c11_init);
	t_jout(i, "call_once: inits=%d\n", c11_inits);
}

static void c_once(void)
{
	alarm(10);
	for (int i = 0; i < 4; i++)
		t_spawn(j_once, i);
	t_finish();
}

/* ---- C11 mutexes ---------------------------------------------------- */

static mtx_t c11_mtx;
static int mtx_in, mtx_overlap;

static void j_mtx(int i)
{
	for (int k = 0; k < 20; k++) {
		int r = mtx_lock(&c11_mtx);
		if (r != thrd_success)
			t_jout(i, "mtx_lock=%d ", r);
		if (mtx_in++)
			mtx_overlap++;
		waits();
		mtx_in--;
		mtx_unlock(&c11_mtx);
	}
	t_jout(i, "done\n");
}

static void c_mtx(void)
{
	alarm(10);
	mtx_init(&c11_mtx, mtx_plain);
	t_spawn(j_mtx, 0);
	t_spawn(j_mtx, 1);
	t_finish();
	t_out("overlaps=%d\n", mtx_overlap);
	mtx_destroy(&c11_mtx);
}

/* ---- a library's own futex lock and condition -------------------------
 * A lock word (0 free, 1 taken, 2 taken with waiters) and a condition's
 * sequence word, waited on with futex(FUTEX_WAIT_PRIVATE) through
 * syscall(), as GLib's gthread-posix.c does. */
static _Atomic int flock_word, cond_seq, ready_flag;
static int fl_in, fl_overlap;

static long futex(_Atomic int *w, int op, int val, const struct timespec *t)
{
	return syscall(SYS_futex, w, op, val, t, NULL, 0);
}

static void flock_take(void)
{
	int c = 0;
	if (atomic_compare_exchange_strong(&flock_word, &c, 1))
		return;
	while (atomic_exchange(&flock_word, 2) != 0)
		futex(&flock_word, FUTEX_WAIT_PRIVATE, 2, NULL);
}

static void flock_give(void)
{
	if (atomic_exchange(&flock_word, 0) == 2)
		futex(&flock_word, FUTEX_WAKE_PRIVATE, 1, NULL);
}

static void j_futex_lock(int i)
{
	for (int k = 0; k < 20; k++) {
		flock_take();
		if (fl_in++)
			fl_overlap++;
		waits();
		fl_in--;
		flock_give();
	}
	t_jout(i, "done\n");
}

/* Job 0 waits on the condition for job 1's flag, taken under the lock. */
static void j_futex_cond(int i)
{
	if (i == 0) {
		flock_take();
		while (!ready_flag) {
			int seq = cond_seq;
			flock_give();
			futex(&cond_seq, FUTEX_WAIT_PRIVATE, seq, NULL);
			flock_take();
		}
		flock_give();
		t_jout(i, "saw the flag\n");
	} else {
		waits();
		flock_take();
		ready_flag = 1;
		cond_seq++;
		futex(&cond_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
		flock_give();
		t_jout(i, "set the flag\n");
	}
}

static void c_futex(void)
{
	alarm(10);
	for (int i = 0; i < 3; i++)
		t_spawn(j_futex_lock, i);
	t_finish();
	t_out("overlaps=%d\n", fl_overlap);
	t_spawn(j_futex_cond, 0);
	t_spawn(j_futex_cond, 1);
	t_finish();
}

/* The waits' own answers: a word that differs (EAGAIN at once), a bad
 * address (EFAULT), a bad timeout (EINVAL), a relative timeout and an
 * absolute FUTEX_WAIT_BITSET one on CLOCK_REALTIME (ETIMEDOUT, not
 * sooner), and a bitset of 0 (EINVAL) — while a sibling keeps running. */
static _Atomic int never;

static void show_futex(int i, const char *what, long r, double t0, int ms)
{
	double took = t_ms() - t0;
	t_jres(i, what, r);
	t_jout(i, "in-time=%s ", t_yes(took >= ms * 0.8 && took < ms + 2000));
}

static void j_futex_answers(int i)
{
	if (sibling(i))
		return;
	struct timespec rel = { 0, 30 * 1000000 }, bad = { 0, 1000000000 }, abs;
	double t0 = t_ms();
	show_futex(i, "differs", futex(&never, FUTEX_WAIT_PRIVATE, 1, NULL), t0, 0);
	t0 = t_ms();
	show_futex(i, "fault", syscall(SYS_futex, (void *)8, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0),
		   t0, 0);
	t0 = t_ms();
	show_futex(i, "bad-timeout", futex(&never, FUTEX_WAIT_PRIVATE, 0, &bad), t0, 0);
	t0 = t_ms();
	show_futex(i, "relative", futex(&never, FUTEX_WAIT_PRIVATE, 0, &rel), t0, 30);
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_nsec += 30 * 1000000;
	if (abs.tv_nsec >= 1000000000)
		abs.tv_sec++, abs.tv_nsec -= 1000000000;
	t0 = t_ms();
	show_futex(i, "absolute",
		   syscall(SYS_futex, &never, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0,
			   &abs, NULL, FUTEX_BITSET_MATCH_ANY),
		   t0, 30);
	t0 = t_ms();
	show_futex(i, "bitset-0",
		   syscall(SYS_futex, &never, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL, 0), t0, 0);
	t_jout(i, "\n");
}

static void c_futex_answers(void)
{
	alarm(10);
	t_spawn(j_futex_answers, 0);
	t_spawn(j_futex_answers, 1);
	t_finish();
}

/* A waker that wakes until the answer says it woke one (LTP's
 * checkpoints): a coroutine's parked wait is counted as the kernel
 * counts a queued one (the answer was 0, and the waker gave up after
 * 2000 tries while the wait had long returned). */
static _Atomic int ckpt, woke_one;

static void *wake_until_one(void *arg)
{
	(void)arg;
	long r = 0;
	for (int tries = 0; tries < 2000; tries++) {
		if ((r = futex(&ckpt, FUTEX_WAKE_PRIVATE, 1, NULL)) != 0)
			break;
		usleep(1000);
	}
	woke_one = r == 1;
	return NULL;
}

static void j_futex_wake_count(int i)
{
	if (i == 1) { /* a sibling to run while job 0 waits */
		t_msleep(300);
		t_jout(i, "ran\n");
		return;
	}
	struct timespec five = { 5, 0 };
	pthread_t th;
	pthread_create(&th, NULL, wake_until_one, NULL);
	long r = futex(&ckpt, FUTEX_WAIT_PRIVATE, 0, &five);
	pthread_join(th, NULL);
	t_jres(i, "wait", r);
	t_jout(i, "the waker's answer was 1: %s\n", t_yes(woke_one));
}

static void c_futex_wake_count(void)
{
	alarm(20);
	woke_one = 0;
	t_spawn(j_futex_wake_count, 0);
	t_spawn(j_futex_wake_count, 1);
	t_finish();
}

/* ---- waits for a child ----------------------------------------------
 * Job 0 forks a child that exits once it reads a byte, then waits for it
 * with each call in turn; job 1 writes the byte after yielding.  Waiting
 * in the kernel held the thread: job 1 never ran, the child never ended. */
static int kid_pipe[2];

static pid_t kid(int code)
{
	pid_t p = fork();
	if (p == 0) {
		char c;
		_exit(read(kid_pipe[0], &c, 1) == 1 ? code : 99);
	}
	return p;
}

static long wait_by(int k, pid_t pid, int *st, int opt)
{
	struct rusage ru;
	siginfo_t si = { 0 };
	long r;
	switch (k) {
	case 0: return wait(st);
	case 1: return waitpid(pid, st, opt);
	case 2: return wait3(st, opt, &ru);
	case 3: return wait4(pid, st, opt, &ru);
	default:
		r = waitid(P_PID, (id_t)pid, &si, opt | WEXITED);
		*st = si.si_code == CLD_EXITED ? si.si_status << 8 : si.si_code == CLD_STOPPED ? 0x7f | si.si_status << 8 : -1;
		return r == 0 ? si.si_pid : r;
	}
}

static const char *const wait_names[] = { "wait", "waitpid", "wait3", "wait4", "waitid" };

static void j_child(int i)
{
	for (int k = 0; k < 5; k++) {
		if (i == 1) {
			waits();
			write(kid_pipe[1], "x", 1);
			continue;
		}
		int st = 0;
		pid_t p = kid(10 + k);
		long r = wait_by(k, p, &st, 0);
		t_jout(i, "%s: pid=%s exited=%s code=%d\n", wait_names[k], t_yes(r == p),
		       t_yes(WIFEXITED(st)), WEXITSTATUS(st));
	}
	if (i == 1)
		t_jout(i, "fed 5\n");
}

static void c_child(void)
{
	alarm(10);
	pipe(kid_pipe);
	t_spawn(j_child, 0);
	t_spawn(j_child, 1);
	t_finish();
}

/* Their answers beside a running sibling: ECHILD with no child, WNOHANG
 * with one running, a stopped child with WUNTRACED, WNOWAIT leaving it to
 * the next wait, waitid with no siginfo or a bad one, a pid that is no
 * child. */
static void j_child_answers(int i)
{
	if (sibling(i))
		return;
	int st;
	for (int k = 0; k < 5; k++)
		t_jres(i, wait_names[k], wait_by(k, -1 + (k == 4) * 2, &st, 0));
	t_jout(i, "\n");
	pid_t p = kid(3);
	t_jres(i, "wnohang", waitpid(p, &st, WNOHANG));
	t_jres(i, "not-a-child", waitpid(1, &st, 0));
	t_jres(i, "bad-options", waitpid(p, &st, 0x100));
	write(kid_pipe[1], "x", 1);
	siginfo_t si = { 0 };
	t_jres(i, "wnowait", waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT));
	t_jout(i, "kept=%s ", t_yes(si.si_pid == p && si.si_status == 3));
	t_jres(i, "no-siginfo", waitid(P_PID, (id_t)p, NULL, WEXITED));
	t_jres(i, "then", waitpid(p, &st, WNOHANG));
	t_jout(i, "\n");
	if ((p = fork()) == 0) {
		/* It exits only once told: a child that exited is no longer
		 * seen as continued, even by the kernel's own wait. */
		char c;
		raise(SIGSTOP);
		_exit(read(kid_pipe[0], &c, 1) == 1 ? 4 : 99);
	}
	t_jres(i, "stopped", waitpid(p, &st, WUNTRACED) == p && WIFSTOPPED(st) ? WSTOPSIG(st) : -1);
	kill(p, SIGCONT);
	t_jres(i, "continued", waitid(P_PID, (id_t)p, &si, WCONTINUED) == 0 && si.si_code == CLD_CONTINUED);
	write(kid_pipe[1], "x", 1);
	t_jres(i, "exited", wait_by(3, p, &st, 0) == p ? WEXITSTATUS(st) : -1);
	t_jout(i, "\n");
	/* A siginfo it cannot write: the wait still waits (it answered
	 * EFAULT at once, the child left running), and the child it ends
	 * with is reaped, EFAULT then. */
	if ((p = fork()) == 0) {
		usleep(50000);
		_exit(5);
	}
	t_jres(i, "bad-siginfo", waitid(P_PID, (id_t)p, (siginfo_t *)8, WEXITED));
	t_jres(i, "reaped", waitpid(p, &st, WNOHANG));
	t_jout(i, "\n");
}

static void c_child_answers(void)
{
	alarm(10);
	pipe(kid_pipe);
	t_spawn(j_child_answers, 0);
	t_spawn(j_child_answers, 1);
	t_finish();
}

/* ---- the table ---------------------------------------------------------
 * T_NOTSAN: ThreadSanitizer's own pthread_once waits in a futex loop of
 * its own and never calls the shim's; and it does not know C11 mutexes
 * (GCC 12), so the threads' run reports their guarded counter as a race. */
static const struct t_case cases[] = {
	{ "once", c_once, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "mtx", c_mtx, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "futex", c_futex, T_BACKEND | T_OWNCORO },
	{ "futex_answers", c_futex_answers, T_BACKEND | T_OWNCORO },
	{ "futex_wake_count", c_futex_wake_count, T_OWNCORO },
	{ "child", c_child, T_BACKEND | T_OWNCORO },
	{ "child_answers", c_child_answers, T_BACKEND | T_OWNCORO },
	{ NULL, NULL, 0 },
};

int main(int argc, char **argv)
{
	return t_jobs_main(argc, argv, cases, "coro-locks", 90);
}
