/* Conditions, semaphores and joins between coroutines (shim/sync.c).
 *
 * The same jobs run as coroutines on one thread under the shim (uring,
 * threads) and as plain threads without it, and must print the same.  A
 * job that waits in pthread_cond_wait, sem_wait or pthread_join for what
 * a sibling does held the thread in glibc's futex wait, so the sibling
 * never ran: each case sets an alarm, and a hang shows as SIGALRM next to
 * the threads' clean exit.  Covered: a producer and a consumer, a
 * broadcast to several waiters, a condition signalled by a plain thread,
 * the timed forms (their clock, the condition's own clock, timeouts glibc
 * never waits for, the mutex held again after a timeout), C11's cnd_* and
 * thrd_join, semaphores (errno kept, EINVAL, ETIMEDOUT), joins of a thread
 * that waits for a sibling (its value, a timed join's ETIMEDOUT, EDEADLK,
 * EINVAL for a detached thread), signal waits for a sibling's kill()
 * (sigwait, sigwaitinfo's siginfo, sigtimedwait's EAGAIN and EINVAL), and
 * a fork's child whose condition's signal must reach its own thread, not
 * a waiter of the parent's. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "t-helpers.h"


/* An absolute time ms from now on clock clk. */
static struct timespec in_ms(clockid_t clk, int ms)
{
	struct timespec t;
	clock_gettime(clk, &t);
	t.tv_nsec += (long)ms * 1000000;
	t.tv_sec += t.tv_nsec / 1000000000;
	t.tv_nsec %= 1000000000;
	return t;
}

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

/* ---- a producer, a consumer, a broadcast ------------------------------ */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_items = PTHREAD_COND_INITIALIZER, cv_go = PTHREAD_COND_INITIALIZER;
static int items[8], nitems, go;

static void j_cond(int i)
{
	if (i == 0) { /* the consumer */
		pthread_mutex_lock(&mu);
		for (int k = 0; k < 5; k++) {
			while (nitems == k) {
				int r = pthread_cond_wait(&cv_items, &mu);
				if (r)
					t_jout(i, "wait=%d ", r);
			}
			t_jout(i, "%d ", items[k]);
		}
		pthread_mutex_unlock(&mu);
		t_jout(i, "consumed\n");
	} else if (i == 1) { /* the producer, then the broadcast */
		for (int k = 0; k < 5; k++) {
			t_jobs_waits();
			pthread_mutex_lock(&mu);
			items[nitems++] = 10 + k;
			pthread_cond_signal(&cv_items);
			pthread_mutex_unlock(&mu);
		}
		t_jobs_waits();
		pthread_mutex_lock(&mu);
		go = 1;
		pthread_cond_broadcast(&cv_go);
		pthread_mutex_unlock(&mu);
		t_jout(i, "produced\n");
	} else { /* waiters for the broadcast */
		int r = 0;
		pthread_mutex_lock(&mu);
		while (!go && !r)
			r = pthread_cond_wait(&cv_go, &mu);
		pthread_mutex_unlock(&mu);
		t_jout(i, "went r=%d\n", r);
	}
}

static void c_cond(void)
{
	t_jobs_all(j_cond, 4, 10);
}

/* ---- timed waits --------------------------------------------------------- */

static _Atomic int sibling_steps;

static void sibling_runs(int i)
{
	for (int k = 0; k < 60; k++) {
		t_jobs_waits();
		sibling_steps++;
	}
	t_jout(i, "sibling done\n");
}

static void j_timed(int i)
{
	if (i) {
		sibling_runs(i);
		return;
	}
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER, cm;
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cm, &a);
	pthread_mutex_lock(&m);
	/* 100 ms nobody signals: the sibling runs meanwhile */
	struct timespec t = in_ms(CLOCK_REALTIME, 100);
	t_jout(i, "timedwait=%s ", t_errname(pthread_cond_timedwait(&c, &m, &t)));
	t_jout(i, "sibling ran=%s held again=%s ", yes(sibling_steps > 0),
	       t_errname(pthread_mutex_trylock(&m)));
	/* a timed wait never ends before its time: t0 is taken first */
	double t0 = t_ms();
	t = in_ms(CLOCK_MONOTONIC, 30);
	t_jout(i, "clockwait=%s ", t_errname(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &t)));
	t_jout(i, "waited=%s ", yes(t_ms() - t0 >= 29.9));
	/* the condition's own clock: a monotonic time it waits for */
	t0 = t_ms();
	t = in_ms(CLOCK_MONOTONIC, 30);
	t_jout(i, "monotonic cond=%s ", t_errname(pthread_cond_timedwait(&cm, &m, &t)));
	t_jout(i, "waited=%s\n", yes(t_ms() - t0 >= 29.9));
	/* timeouts glibc answers at once */
	struct timespec bad = { 0, 1000000000 }, past = { -1, 0 };
	t_jout(i, "bad nsec=%s ", t_errname(pthread_cond_timedwait(&c, &m, &bad)));
	t_jout(i, "bad clock=%s ",
	       t_errname(pthread_cond_clockwait(&c, &m, CLOCK_PROCESS_CPUTIME_ID, &t)));
	t_jout(i, "past=%s ", t_errname(pthread_cond_timedwait(&c, &m, &past)));
	t_jout(i, "held=%s\n", t_errname(pthread_mutex_trylock(&m)));
	pthread_mutex_unlock(&m);
	pthread_cond_destroy(&cm);
}

static void c_timed(void)
{
	sibling_steps = 0;
	t_jobs_all(j_timed, 2, 10);
}

/* ---- a plain thread signals ------------------------------------------- */

static pthread_mutex_t mx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cx = PTHREAD_COND_INITIALIZER;
static int from_thread;

static void *signaller(void *arg)
{
	(void)arg;
	usleep(30000);
	pthread_mutex_lock(&mx);
	from_thread = 1;
	pthread_cond_signal(&cx);
	pthread_mutex_unlock(&mx);
	return NULL;
}

static void j_cross(int i)
{
	if (i) {
		sibling_runs(i);
		return;
	}
	pthread_t th;
	pthread_create(&th, NULL, signaller, NULL);
	pthread_mutex_lock(&mx);
	int r = 0;
	while (!from_thread && !r)
		r = pthread_cond_wait(&cx, &mx);
	pthread_mutex_unlock(&mx);
	t_jout(i, "woken by a thread: r=%d flag=%d ", r, from_thread);
	t_jout(i, "join=%d\n", pthread_join(th, NULL));
}

static void c_cross(void)
{
	t_jobs_all(j_cross, 2, 10);
}

/* ---- C11 ------------------------------------------------------------------ */

static mtx_t cm_mtx;
static cnd_t cm_cnd;
static int c11_flag;

static int c11_thread(void *arg)
{
	(void)arg;
	t_jobs_waits();
	return 7;
}

static void j_c11(int i)
{
	if (i == 1) {
		t_jobs_waits();
		mtx_lock(&cm_mtx);
		c11_flag = 1;
		t_jout(i, "cnd_signal=%d\n", cnd_signal(&cm_cnd) == thrd_success);
		mtx_unlock(&cm_mtx);
		return;
	}
	mtx_lock(&cm_mtx);
	int r = thrd_success;
	while (!c11_flag && r == thrd_success)
		r = cnd_wait(&cm_cnd, &cm_mtx);
	t_jout(i, "cnd_wait success=%s ", yes(r == thrd_success));
	struct timespec t = in_ms(CLOCK_REALTIME, 30);
	t_jout(i, "cnd_timedwait timedout=%s ", yes(cnd_timedwait(&cm_cnd, &cm_mtx, &t) == thrd_timedout));
	t_jout(i, "broadcast=%s ", yes(cnd_broadcast(&cm_cnd) == thrd_success));
	mtx_unlock(&cm_mtx);
	thrd_t th;
	int res = 0;
	thrd_create(&th, c11_thread, NULL);
	int r2 = thrd_join(th, &res);
	t_jout(i, "thrd_join success=%s res=%d\n", yes(r2 == thrd_success), res);
}

static void c_c11(void)
{
	mtx_init(&cm_mtx, mtx_plain);
	cnd_init(&cm_cnd);
	t_jobs_all(j_c11, 2, 10);
	cnd_destroy(&cm_cnd);
	mtx_destroy(&cm_mtx);
}

/* ---- semaphores ------------------------------------------------------------ */

static sem_t sem;

static void j_sem(int i)
{
	if (i == 1) {
		for (int k = 0; k < 3; k++) {
			t_jobs_waits();
			sem_post(&sem);
		}
		t_jout(i, "posted\n");
		return;
	}
	for (int k = 0; k < 3; k++) {
		errno = 1234;
		int r = sem_wait(&sem);
		t_jout(i, "sem_wait=%d errno kept=%s ", r, yes(errno == 1234));
	}
	double t0 = t_ms();
	struct timespec t = in_ms(CLOCK_REALTIME, 30), bad = { 0, -1 };
	t_jres(i, "timedwait", sem_timedwait(&sem, &t));
	t_jout(i, "waited=%s ", yes(t_ms() - t0 >= 29.9));
	t = in_ms(CLOCK_MONOTONIC, 30);
	t_jres(i, "clockwait", sem_clockwait(&sem, CLOCK_MONOTONIC, &t));
	t_jres(i, "bad nsec", sem_timedwait(&sem, &bad));
	t_jres(i, "bad clock", sem_clockwait(&sem, CLOCK_THREAD_CPUTIME_ID, &t));
	sem_post(&sem);
	t_jres(i, "bad nsec, posted", sem_timedwait(&sem, &bad));
	t_jres(i, "past, posted", sem_timedwait(&sem, &(struct timespec){ -1, 0 }));
	t_jout(i, "\n");
}

static void c_sem(void)
{
	sem_init(&sem, 0, 0);
	t_jobs_all(j_sem, 2, 10);
	sem_destroy(&sem);
}

/* ---- joins ------------------------------------------------------------------ */

static int jp[2], hold[2];

static void *reader(void *arg)
{
	char c = 0;
	read(*(int *)arg, &c, 1);
	return (void *)(intptr_t)(c == 'x' ? 42 : -1);
}

static void j_join(int i)
{
	if (i == 1) {
		for (int k = 0; k < 5; k++)
			t_jobs_waits();
		write(jp[1], "x", 1);
		t_jout(i, "wrote\n");
		return;
	}
	pthread_t th, slow, det;
	void *ret = NULL;
	pthread_create(&th, NULL, reader, &jp[0]);
	t_jout(i, "join=%d ", pthread_join(th, &ret));
	t_jout(i, "value=%ld ", (long)(intptr_t)ret);
	/* a thread that waits for hold[]: a timed join ends first */
	pthread_create(&slow, NULL, reader, &hold[0]);
	struct timespec t = in_ms(CLOCK_REALTIME, 30);
	t_jout(i, "timedjoin=%s ", t_errname(pthread_timedjoin_np(slow, &ret, &t)));
	t = in_ms(CLOCK_MONOTONIC, 30);
	t_jout(i, "clockjoin=%s ",
	       t_errname(pthread_clockjoin_np(slow, &ret, CLOCK_MONOTONIC, &t)));
	t_jout(i, "self=%s ", t_errname(pthread_join(pthread_self(), NULL)));
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_create(&det, &a, reader, &hold[0]);
	pthread_attr_destroy(&a);
	t_jout(i, "detached=%s ", t_errname(pthread_join(det, NULL)));
	write(hold[1], "xx", 2);
	t_jout(i, "slow=%d ", pthread_join(slow, &ret));
	t_jout(i, "value=%ld\n", (long)(intptr_t)ret);
	usleep(20000); /* the detached one ends */
}

static void c_join(void)
{
	pipe(jp);
	pipe(hold);
	t_jobs_all(j_join, 2, 10);
}

/* ---- timeouts centuries away ------------------------------------------------
 * LONG_MAX seconds: each wait is ended by a sibling (it spun the thread,
 * or ended at once, when the time left was counted in nanoseconds). */
static pthread_mutex_t fmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fcv = PTHREAD_COND_INITIALIZER;
static sem_t fsem;
static int fflag, fpipe[2];

static void j_forever(int i)
{
	const struct timespec never = { LONG_MAX, 0 };
	if (i == 1) {
		t_jobs_waits();
		pthread_mutex_lock(&fmu);
		fflag = 1;
		pthread_cond_signal(&fcv);
		pthread_mutex_unlock(&fmu);
		t_jobs_waits();
		sem_post(&fsem);
		t_jobs_waits();
		kill(getpid(), SIGUSR1);
		t_jobs_waits();
		write(fpipe[1], "x", 1);
		t_jout(i, "done\n");
		return;
	}
	int r = 0;
	pthread_mutex_lock(&fmu);
	while (!fflag && !r)
		r = pthread_cond_timedwait(&fcv, &fmu, &never);
	pthread_mutex_unlock(&fmu);
	t_jout(i, "cond=%s ", t_errname(r));
	t_jres(i, "sem", sem_timedwait(&fsem, &never));
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	t_jout(i, "sigtimedwait=%s ", sigtimedwait(&set, NULL, &never) == SIGUSR1 ? "USR1" : "other");
	pthread_t th;
	void *v = NULL;
	pthread_create(&th, NULL, reader, &fpipe[0]);
	r = pthread_timedjoin_np(th, &v, &never);
	t_jout(i, "timedjoin=%s value=%ld\n", t_errname(r), (long)(intptr_t)v);
}

static void c_forever(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sem_init(&fsem, 0, 0);
	pipe(fpipe);
	t_jobs_all(j_forever, 2, 10);
}

/* ---- one signal, one waiter; a thread joined twice ---------------------------- */
static pthread_mutex_t omu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ocv = PTHREAD_COND_INITIALIZER;
static int owaiting, owoken;

static void *ends(void *arg)
{
	return arg;
}

static void j_one(int i)
{
	if (i == 0) {
		/* both waiters are in their wait before the first signal */
		for (int ready = 0; !ready;) {
			t_jobs_waits();
			pthread_mutex_lock(&omu);
			ready = owaiting == 2;
			pthread_mutex_unlock(&omu);
		}
		pthread_mutex_lock(&omu);
		pthread_cond_signal(&ocv);
		pthread_mutex_unlock(&omu);
		for (int k = 0; k < 10; k++)
			t_jobs_waits();
		pthread_mutex_lock(&omu);
		t_jout(i, "woken by one signal=%d ", owoken);
		pthread_mutex_unlock(&omu);
		/* joined twice while the other waiter still waits */
		pthread_t th;
		pthread_create(&th, NULL, ends, (void *)7);
		void *v = NULL;
		int r = pthread_join(th, &v);
		t_jout(i, "join=%s value=%ld ", t_errname(r), (long)(intptr_t)v);
		t_jout(i, "again=%s\n", t_errname(pthread_join(th, &v)));
		pthread_mutex_lock(&omu);
		pthread_cond_signal(&ocv);
		pthread_mutex_unlock(&omu);
		return;
	}
	/* no predicate: each wait returns once, woken by one signal */
	pthread_mutex_lock(&omu);
	owaiting++;
	int r = pthread_cond_wait(&ocv, &omu);
	owoken++;
	pthread_mutex_unlock(&omu);
	t_jout(i, "woken r=%d\n", r);
}

static void c_one(void)
{
	t_jobs_all(j_one, 3, 10);
}

/* ---- signal waits ------------------------------------------------------------
 * SIGUSR1 and SIGUSR2 are blocked before the jobs start (every job thread
 * inherits it): a sibling's kill() stays pending until the wait takes it. */
static _Atomic int sigs_taken;

/* Job 1 sends each signal once job 0 took the one before. */
static void send_after(int taken, int sig)
{
	for (int k = 0; k < 3 || sigs_taken < taken; k++)
		t_jobs_waits();
	kill(getpid(), sig);
}

static void j_sigwait(int i)
{
	if (i == 1) {
		send_after(0, SIGUSR1);
		send_after(1, SIGUSR2);
		send_after(2, SIGUSR1);
		t_jout(i, "sent\n");
		return;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	int sig = 0;
	errno = 0;
	int r = sigwait(&set, &sig);
	sigs_taken++;
	t_jout(i, "sigwait=%d sig=%s ", r, sig == SIGUSR1 ? "USR1" : "other");
	sigaddset(&set, SIGUSR2);
	siginfo_t si;
	r = sigwaitinfo(&set, &si);
	sigs_taken++;
	t_jout(i, "sigwaitinfo=%s from us=%s ", r == SIGUSR2 ? "USR2" : "other",
	       yes(si.si_pid == getpid() && si.si_code == SI_USER));
	struct timespec t = { 5, 0 };
	r = sigtimedwait(&set, &si, &t);
	t_jout(i, "sigtimedwait=%s ", r == SIGUSR1 ? "USR1" : "other");
	t = (struct timespec){ 0, 30000000 };
	double t0 = t_ms();
	t_jres(i, "nothing", sigtimedwait(&set, &si, &t));
	t_jout(i, "waited=%s ", yes(t_ms() - t0 >= 29.9));
	t = (struct timespec){ 0, 1000000000 };
	t_jres(i, "bad nsec", sigtimedwait(&set, &si, &t));
	t_jout(i, "\n");
}

static void c_sigwait(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	t_jobs_all(j_sigwait, 2, 10);
}

/* ---- a fork's child --------------------------------------------------------
 * Job 0 waits on a condition when job 1 forks.  The child makes the
 * condition anew, a thread of its own waits on it, and the child's signal
 * must wake that thread (a waiter the parent had is not in the child). */
static pthread_mutex_t fm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fc = PTHREAD_COND_INITIALIZER;
static int parent_flag, child_flag;

static void *child_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fm);
	while (!child_flag)
		pthread_cond_wait(&fc, &fm);
	pthread_mutex_unlock(&fm);
	return NULL;
}

static void j_fork(int i)
{
	if (i == 0) {
		pthread_mutex_lock(&fm);
		while (!parent_flag)
			pthread_cond_wait(&fc, &fm);
		pthread_mutex_unlock(&fm);
		t_jout(i, "woken\n");
		return;
	}
	t_jobs_waits();
	pid_t p = fork();
	if (p == 0) {
		alarm(5);
		pthread_mutex_init(&fm, NULL);
		pthread_cond_init(&fc, NULL);
		pthread_t w;
		pthread_create(&w, NULL, child_waiter, NULL);
		usleep(30000);
		pthread_mutex_lock(&fm);
		child_flag = 1;
		pthread_cond_signal(&fc);
		pthread_mutex_unlock(&fm);
		pthread_join(w, NULL);
		_exit(3);
	}
	int st = 0;
	waitpid(p, &st, 0);
	t_jout(i, "child exit=%d ", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	pthread_mutex_lock(&fm);
	parent_flag = 1;
	pthread_cond_broadcast(&fc);
	pthread_mutex_unlock(&fm);
	t_jout(i, "\n");
}

static void c_fork(void)
{
	t_jobs_all(j_fork, 2, 10);
}
/* ---- the table ---------------------------------------------------------
 * T_NOTSAN: ThreadSanitizer's own pthread_cond_* look up glibc's by
 * version, past the library's (its conditions are glibc's waits: README);
 * a fork's child of a process with threads finds the sanitizer's own
 * state as its other threads left it. */
static const struct t_case cases[] = {
	{ "cond", c_cond, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "timed", c_timed, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "cross", c_cross, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "c11", c_c11, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "sem", c_sem, T_BACKEND | T_OWNCORO },
	{ "join", c_join, T_BACKEND | T_OWNCORO },
	{ "sigwait", c_sigwait, T_BACKEND | T_OWNCORO },
	{ "forever", c_forever, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "one", c_one, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "fork", c_fork, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ NULL, NULL, 0 },
};

int main(int argc, char **argv)
{
	return t_jobs_main(argc, argv, cases, "coro-sync", 90);
}
