/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks class 13, the
 * ends of a wait and sleeps (nanosleep, clock_nanosleep, usleep, sleep,
 * and select's timeval):
 *
 *  - a wait that a coroutine's I/O deadline ends is what a signal's EINTR
 *    leaves: select's sets as the program gave them, sleep's seconds left
 *    as glibc counts them (and errno saying why), nanosleep's bad *rem an
 *    EFAULT, not a crash;
 *  - sleepers wake in order, zero sleeps let the others run, a sleep on
 *    the process's CPU clock ends;
 *  - timeouts of centuries, and select's microseconds over a second;
 *  - timed pthread locks with timeouts libc never waits for;
 *  - an event that came before a wait's timeout, looked at after it.
 *
 * Where the kernel ends a wait with EINTR, a coroutine's wait is ended by
 * its I/O deadline instead (signals do not interrupt a coroutine's call:
 * README, Known blind spots): interrupt() arms whichever applies, and the
 * cases print what both must agree on.  A case that could hang sets an
 * alarm first. */

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "t-helpers.h"


/* ---- helpers ---------------------------------------------------------- */

/* End the case's next wait in about ms: a handler without SA_RESTART
 * (EINTR) on a plain thread, the I/O deadline inside a coroutine. */
static pthread_t interrupter;
static int interrupt_by_deadline;

static void interrupt(int ms)
{
	t_load_api();
	interrupt_by_deadline =
		t_api.io_deadline && t_api.io_deadline(t_api.now() + (int64_t)ms * 1000000) == 0;
	if (!interrupt_by_deadline) {
		t_handle(SIGUSR1, 0);
		interrupter = t_later_signal(SIGUSR1, ms);
	}
}

static void interrupt_done(void)
{
	if (interrupt_by_deadline)
		t_api.io_deadline(-1);
	else
		pthread_join(interrupter, NULL);
}

/* EINTR, or the deadline's ETIMEDOUT: the wait was ended early. */
static const char *ended(long r, int err)
{
	return r == -1 && (err == EINTR || err == ETIMEDOUT) ? "ended" : t_errname(err);
}


/* ---- the ends of a wait ------------------------------------------------ */

/* select ended early keeps the program's sets as it gave them (the kernel
 * writes them back only when it did not end by a signal), and writes the
 * time left. */
static void c13_select_ended_keeps_sets(void)
{
	int p[2];
	alarm(10);
	pipe(p);
	fd_set r, w;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	struct timeval tv = { 3, 0 };
	interrupt(100);
	errno = 0;
	long n = select(p[0] + 1, &r, &w, NULL, &tv);
	int e = errno;
	interrupt_done();
	t_out("select=%ld %s read bit kept=%s left<3s=%s left>1s=%s\n", n, ended(n, e),
	      t_yes(FD_ISSET(p[0], &r)), t_yes(tv.tv_sec < 3), t_yes(tv.tv_sec >= 1));
	struct timespec ts = { 3, 0 };
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	interrupt(100);
	errno = 0;
	n = pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL);
	e = errno;
	interrupt_done();
	t_out("pselect=%ld %s read bit kept=%s ts kept=%s\n", n, ended(n, e),
	      t_yes(FD_ISSET(p[0], &r)), t_yes(ts.tv_sec == 3 && ts.tv_nsec == 0));
}

/* sleep() ended early: the seconds it did not sleep as glibc counts them
 * (whole seconds, not rounded), with errno saying why. */
static void c13_sleep_ended_seconds_left(void)
{
	alarm(10);
	interrupt(300);
	errno = 0;
	unsigned left = sleep(3);
	int e = errno;
	interrupt_done();
	t_out("sleep(3) ended after 0.3 s=%u errno=%s\n", left,
	      e == EINTR || e == ETIMEDOUT ? "set" : t_errname(e));
}

/* nanosleep ended early with a *rem it cannot write: EFAULT. */
static void c13_nanosleep_ended_bad_rem(void)
{
	alarm(10);
	struct timespec req = { 3, 0 };
	interrupt(100);
	errno = 0;
	int r = nanosleep(&req, (struct timespec *)8);
	int e = errno;
	interrupt_done();
	t_out("nanosleep=%d %s\n", r, t_errname(e));
	req.tv_sec = 3;
	interrupt(100);
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, (struct timespec *)8);
	interrupt_done();
	t_out("clock_nanosleep=%s\n", t_errname(r));
}



/* nanosleep of centuries ended early: *rem is what is left of the
 * kernel's timer, which ends at now + req saturated at its maximum
 * (about 292 years of uptime), not of a shorter one. */
static void c13_nanosleep_of_centuries_rem(void)
{
	static const time_t secs[] = { LONG_MAX, 5000000000L };
	alarm(10);
	for (int i = 0; i < 2; i++) {
		struct timespec req = { secs[i], 0 }, rem = { 0, 0 }, up;
		clock_gettime(CLOCK_MONOTONIC, &up);
		interrupt(100);
		int r = nanosleep(&req, &rem);
		int e = errno;
		interrupt_done();
		long want = i == 0 ? 9223372036L - (long)up.tv_sec : secs[i];
		t_out("nanosleep=%d %s rem within 2 s of %s=%s\n", r, ended(r, e),
		      i == 0 ? "KTIME_MAX - uptime" : "req", t_yes(rem.tv_sec <= want && rem.tv_sec >= want - 2));
	}
}


/* ---- sleeps of coroutines of one thread --------------------------------
 * T_OWNCORO: the jobs are coroutines of one thread under the library,
 * threads without it; the one that sleeps must let the other run. */

static _Atomic int cpu_done;

static void j_cpu_sleep(int i)
{
	if (i == 0) {
		struct timespec req = { 0, 20000000 }, rem = { 7, 7 };
		double t0 = t_ms();
		int r = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &req, &rem);
		cpu_done = 1;
		t_jout(i, "clock_nanosleep=%s ended before 3 s=%s rem kept=%s\n", r ? t_errname(r) : "0",
		       t_yes(t_ms() - t0 < 3000), t_yes(rem.tv_sec == 7));
		return;
	}
	double t0 = t_ms();
	struct timespec zero = { 0, 0 };
	while (!cpu_done && t_ms() - t0 < 3000) {
		for (volatile long k = 0; k < 200000; k++)
			;
		nanosleep(&zero, NULL);
	}
	t_jout(i, "computed\n");
}

static void c13_sleep_on_process_cpu_clock(void)
{
	alarm(10);
	t_spawn(j_cpu_sleep, 0);
	t_spawn(j_cpu_sleep, 1);
	t_finish();
}


/* Zero sleeps in a loop (usleep(0), sleep(0), nanosleep and
 * clock_nanosleep of 0) leave the other jobs going: job 0 sleeps 1 ms at
 * a time for 200 ms meanwhile.  (A zero sleep once left the thread's
 * engine depth wrong: from then on every hooked call of the thread was
 * the program's own, and job 1 never let job 0 run again.) */
static _Atomic int zs_done;

static void j_zero_sleeps(int i)
{
	double t0 = t_ms();
	if (i == 0) {
		int n = 0;
		while (t_ms() - t0 < 200) {
			usleep(1000);
			n++;
		}
		zs_done = 1;
		t_jout(i, "woke more than 20 times=%s ended in 1 s=%s\n", t_yes(n > 20),
		       t_yes(t_ms() - t0 < 1000));
		return;
	}
	struct timespec zero = { 0, 0 };
	for (unsigned k = 0; !zs_done && t_ms() - t0 < 2000; k++) {
		for (volatile long b = 0; b < 20000; b++)
			;
		switch (k % 4) {
		case 0: usleep(0); break;
		case 1: sleep(0); break;
		case 2: nanosleep(&zero, NULL); break;
		case 3: clock_nanosleep(CLOCK_MONOTONIC, 0, &zero, NULL); break;
		}
	}
	t_jout(i, "stopped\n");
}

static void c13_zero_sleeps_let_the_others_run(void)
{
	alarm(10);
	t_spawn(j_zero_sleeps, 0);
	t_spawn(j_zero_sleeps, 1);
	t_finish();
}

/* Sleepers of different lengths wake in the order of their times. */
#define SLEEPERS 50
static _Atomic int woke_seq;
static int woke_at[SLEEPERS];
static double sleep_t0;

static _Atomic int sleepers_go;

static void j_sleeper(int i)
{
	/* The common start is when the last job has been spawned (50 threads
	 * under ThreadSanitizer take longer to start than the first sleep
	 * lasts); each sleep then ends at its time from that start. */
	while (!sleepers_go)
		usleep(1000);
	int ms = 300 + (i * 37) % SLEEPERS * 10;
	double left = ms - (t_ms() - sleep_t0);
	usleep(left > 0 ? (useconds_t)(left * 1000) : 0);
	woke_at[i] = woke_seq++;
	double late = t_ms() - sleep_t0 - ms;
	if (late > 200)
		t_jout(i, "late %.1f ms\n", late);
}

static void c13_sleepers_wake_in_order(void)
{
	alarm(20);
	for (int i = 0; i < SLEEPERS; i++)
		t_spawn(j_sleeper, i);
	sleep_t0 = t_ms();
	sleepers_go = 1;
	t_finish();
	int bad = 0;
	for (int i = 0; i < SLEEPERS; i++)
		for (int j = 0; j < SLEEPERS; j++)
			bad += (i * 37) % SLEEPERS < (j * 37) % SLEEPERS && woke_at[i] > woke_at[j];
	/* Wake-ups 10 ms apart: a loaded machine may wake a thread that
	 * late now and then; more than 3 swapped pairs of 1225 is disorder. */
	t_out("in order=%s\n", t_yes(bad <= 3));
}

/* Two jobs wait on one epoll set for one edge-triggered pipe; one byte
 * wakes one of them with it. */

/* ---- timeouts ---------------------------------------------------------- */

static void c13_select_huge_usec(void)
{
	static const struct timeval tvs[] = { { 0, LONG_MAX }, { LONG_MAX, 1500000 },
					      { LONG_MAX - 1, 999999 } };
	int p[2];
	char c;
	alarm(10);
	pipe(p);
	struct timespec up;
	clock_gettime(CLOCK_MONOTONIC, &up);
	for (int i = 0; i < 3; i++) {
		fd_set r;
		FD_ZERO(&r);
		FD_SET(p[0], &r);
		struct timeval tv = tvs[i];
		pthread_t th = t_later_write(p[1], "x", 1, 50);
		double t0 = t_ms();
		t_res("select", select(p[0] + 1, &r, NULL, NULL, &tv));
		long want = i == 0 ? LONG_MAX / 1000000 : LONG_MAX - up.tv_sec;
		t_out("waited=%s left within 5 s of %s=%s usec<1e6=%s\n", t_yes(t_ms() - t0 >= 40),
		      i == 0 ? "tv_usec/1e6" : "TIME64_MAX - uptime",
		      t_yes(tv.tv_sec <= want && tv.tv_sec >= want - 5), t_yes(tv.tv_usec < 1000000));
		pthread_join(th, NULL);
		read(p[0], &c, 1);
	}
}


/* Sets larger than the ring holds at once: 300 entries over 60 pipes,
 * one of them written while poll, select and epoll wait. */

static void c13_select_usec_over_a_second(void)
{
	int p[2];
	alarm(10);
	pipe(p);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	struct timeval tv = { 0, 2500000 };
	pthread_t th = t_later_write(p[1], "x", 1, 20);
	t_res("select", select(p[0] + 1, &r, NULL, NULL, &tv));
	t_out("left sec=%ld usec<1e6=%s usec>4e5=%s\n", (long)tv.tv_sec, t_yes(tv.tv_usec < 1000000),
	      t_yes(tv.tv_usec > 400000));
	pthread_join(th, NULL);
	char c;
	read(p[0], &c, 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv = (struct timeval){ 0, 1200000 };
	double t0 = t_ms();
	t_res("select", select(p[0] + 1, &r, NULL, NULL, &tv));
	t_out("waited 1.2 s=%s left=%ld.%06ld\n", t_yes(t_ms() - t0 >= 1150), (long)tv.tv_sec,
	      (long)tv.tv_usec);
}

/* The clocks clock_nanosleep takes, relative and absolute. */
static void c13_clock_nanosleep_clocks(void)
{
	static const struct {
		clockid_t id;
		const char *name;
	} clocks[] = { { CLOCK_REALTIME, "realtime" }, { CLOCK_MONOTONIC, "monotonic" },
		       { CLOCK_BOOTTIME, "boottime" }, { CLOCK_TAI, "tai" },
		       { CLOCK_MONOTONIC_RAW, "monotonic-raw" },
		       { CLOCK_REALTIME_COARSE, "realtime-coarse" },
		       { CLOCK_THREAD_CPUTIME_ID, "thread-cputime" }, { 99, "99" },
		       { -1, "-1" } };
	alarm(10);
	for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
		for (int abs = 0; abs < 2; abs++) {
			struct timespec t = { 0, 20000000 }, rem = { 7, 7 };
			if (abs && clock_gettime(clocks[i].id, &t) == 0) {
				t.tv_nsec += 20000000;
				if (t.tv_nsec >= 1000000000)
					t.tv_nsec -= 1000000000, t.tv_sec++;
			}
			double t0 = t_ms();
			int r = clock_nanosleep(clocks[i].id, abs ? TIMER_ABSTIME : 0, &t, &rem);
			double el = t_ms() - t0;
			t_out("%s %s: %s slept=%s rem kept=%s\n", clocks[i].name, abs ? "abs" : "rel",
			      r ? t_errname(r) : "0", t_yes(el >= 19), t_yes(rem.tv_sec == 7));
		}
	}
	struct timespec past = { 1, 0 };
	t_out("abs in the past=%d\n", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL));
}


/* Timed pthread locks with timeouts libc never waits for: a clock other
 * than REALTIME or MONOTONIC, a tv_nsec outside [0, 1e9), a time before
 * the epoch.  libc answers at once, in an order of its own per kind of
 * lock (a free mutex is taken whatever the nanoseconds say; an rwlock
 * checks them first).  A coroutine's wait for a lock must not take such
 * a timeout for one it can wait on: it took free locks on any clock and
 * waited 1.8 s, or until the holder let go, where libc said EINVAL. */
static const struct timespec bad_ts[] = { { -1, 0 }, { -1, 2000000000 }, { 5, 2000000000 },
					  { 5, -1 }, { -5, -1 } };
static const clockid_t bad_clk[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
				     12345 };
#define NBAD_TS (sizeof bad_ts / sizeof bad_ts[0])
#define NBAD_CLK (sizeof bad_clk / sizeof bad_clk[0])

static pthread_mutex_t lk_normal = PTHREAD_MUTEX_INITIALIZER, lk_rec, lk_check;
static pthread_rwlock_t lk_rw = PTHREAD_RWLOCK_INITIALIZER;
static _Atomic int lk_held, lk_release;

static void locks_init(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&lk_rec, &a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&lk_check, &a);
	pthread_mutexattr_destroy(&a);
}

static const char *lk_name(int r)
{
	return r ? t_errname(r) : "0";
}

/* A lock call's answer, the lock given back when it was taken. */
static int mutex_given_back(pthread_mutex_t *m, int r)
{
	if (!r)
		pthread_mutex_unlock(m);
	return r;
}

static int rwlock_given_back(int r)
{
	if (!r)
		pthread_rwlock_unlock(&lk_rw);
	return r;
}

/* Every timed call on every lock with every bad timeout: one line each
 * (a lock taken is given back, so the next call finds it as before). */
static void locks_try_bad(void (*out)(int, const char *), int job)
{
	char line[256];
	for (unsigned i = 0; i < NBAD_TS; i++) {
		for (unsigned j = 0; j < NBAD_CLK; j++) {
			const struct timespec *t = &bad_ts[i];
			int mn = mutex_given_back(&lk_normal, pthread_mutex_clocklock(&lk_normal, bad_clk[j], t));
			int mr = mutex_given_back(&lk_rec, pthread_mutex_clocklock(&lk_rec, bad_clk[j], t));
			int mc = mutex_given_back(&lk_check, pthread_mutex_clocklock(&lk_check, bad_clk[j], t));
			int rd = rwlock_given_back(pthread_rwlock_clockrdlock(&lk_rw, bad_clk[j], t));
			int wr = rwlock_given_back(pthread_rwlock_clockwrlock(&lk_rw, bad_clk[j], t));
			int tm = bad_clk[j] == CLOCK_REALTIME ?
					 mutex_given_back(&lk_normal, pthread_mutex_timedlock(&lk_normal, t)) : -1;
			snprintf(line, sizeof line, "{%ld,%ld} clock %d: mutex %s recursive %s errorcheck %s "
				 "rd %s wr %s timedlock %s", (long)t->tv_sec, t->tv_nsec, (int)bad_clk[j],
				 lk_name(mn), lk_name(mr), lk_name(mc), lk_name(rd), lk_name(wr),
				 tm < 0 ? "-" : lk_name(tm));
			out(job, line);
		}
	}
}

static void lk_case_out(int job, const char *line)
{
	(void)job;
	t_out("%s\n", line);
}

static void *lk_holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lk_normal);
	pthread_mutex_lock(&lk_rec);
	pthread_mutex_lock(&lk_check);
	pthread_rwlock_wrlock(&lk_rw);
	lk_held = 1;
	while (!lk_release)
		t_msleep(1);
	pthread_rwlock_unlock(&lk_rw);
	pthread_mutex_unlock(&lk_check);
	pthread_mutex_unlock(&lk_rec);
	pthread_mutex_unlock(&lk_normal);
	return NULL;
}

static void c13_timed_locks_bad_timeouts(void)
{
	alarm(10);
	locks_init();
	t_out("free:\n");
	locks_try_bad(lk_case_out, 0);
	pthread_t th;
	pthread_create(&th, NULL, lk_holder, NULL);
	while (!lk_held)
		t_msleep(1);
	t_out("held by another thread:\n");
	locks_try_bad(lk_case_out, 0);
	lk_release = 1;
	pthread_join(th, NULL);
}

/* The same on locks a sibling coroutine holds (threads without the
 * library): busy, as another thread's — never taken through the
 * recursive or error-checking mutex's owner, which is the thread. */
static void lk_job_out(int job, const char *line)
{
	/* A job's line is short: each answer as one letter (0, I for
	 * EINVAL, T for ETIMEDOUT, - for none, ? for any other). */
	const char *p = strchr(line, ':');
	char code[8];
	unsigned n = 0;
	while (p && (p = strchr(p, ' ')) && n < sizeof code - 1) {
		p++;
		if (p[0] == '0' || p[0] == '-')
			code[n++] = p[0];
		else if (!strncmp(p, "EINVAL", 6))
			code[n++] = 'I';
		else if (!strncmp(p, "ETIMEDOUT", 9))
			code[n++] = 'T';
		else if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ", p[0]))
			code[n++] = '?';
	}
	code[n] = 0;
	t_jout(job, "%s ", code);
}

static void j_lock_sibling(int i)
{
	if (i == 0) {
		lk_holder(NULL);
		t_jout(i, "held and released\n");
		return;
	}
	while (!lk_held)
		t_msleep(1);
	locks_try_bad(lk_job_out, i);
	t_jout(i, "\n");
	lk_release = 1;
}

static void c13_timed_locks_bad_timeouts_sibling(void)
{
	alarm(10);
	locks_init();
	t_spawn(j_lock_sibling, 0);
	t_spawn(j_lock_sibling, 1);
	t_finish();
}

/* An event that came before a wait's timeout wins over the timeout,
 * however late the waiter gets to look.  Job 0 waits with a 400 ms
 * timeout (SO_RCVTIMEO, SO_SNDTIMEO, a pty's VTIME) for what a thread
 * brings at 100 ms; job 1 computes without yielding until 800 ms.  As
 * threads, job 0 has its event at 100 ms; as coroutines it runs again at
 * 800 ms, and must find the event there rather than say EAGAIN (or 0 for
 * the pty): a kernel call that finds its data when its timeout wakes it
 * takes the data.  All four said "timed out" before. */
enum { LATE_RECV, LATE_ACCEPT, LATE_SEND, LATE_VTIME };
static int late_kind, late_fd, late_peer;
static double late_t0;

static void *late_bring(void *arg)
{
	(void)arg;
	t_msleep(100);
	char buf[65536];
	if (late_kind == LATE_RECV || late_kind == LATE_VTIME) {
		if (write(late_peer, "xy", 2) != 2)
			t_out("bring: write failed\n");
	} else if (late_kind == LATE_SEND) {
		while (recv(late_peer, buf, sizeof buf, MSG_DONTWAIT) > 0)
			;
	} else {
		struct sockaddr_storage a;
		socklen_t len = sizeof a;
		getsockname(late_fd, (struct sockaddr *)&a, &len);
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, len) < 0)
			t_out("bring: connect failed\n");
		t_msleep(1500); /* keeps the connection until the case is done */
		close(c);
	}
	return NULL;
}

static void j_late(int i)
{
	if (i == 1) {
		double end = late_t0 + 800;
		while (t_ms() < end)
			; /* computes: no call that could yield */
		t_jout(i, "computed\n");
		return;
	}
	char buf[64] = { 0 };
	long r;
	switch (late_kind) {
	case LATE_RECV: r = recv(late_fd, buf, sizeof buf, 0); break;
	case LATE_ACCEPT: r = accept(late_fd, NULL, NULL); r = r >= 0 ? close((int)r) : r; break;
	case LATE_SEND: r = send(late_fd, buf, sizeof buf, 0); break;
	default: r = read(late_fd, buf, sizeof buf); break;
	}
	t_jres(i, "r", r);
	t_jout(i, "'%s'\n", buf);
}

static void late_case(int kind)
{
	alarm(10);
	late_kind = kind;
	int sv[2];
	if (kind == LATE_VTIME) {
		if (openpty(&late_peer, &late_fd, NULL, NULL, NULL) < 0)
			exit(1);
		struct termios tio;
		tcgetattr(late_fd, &tio);
		cfmakeraw(&tio);
		tio.c_cc[VMIN] = 0;
		tio.c_cc[VTIME] = 4; /* 400 ms */
		tcsetattr(late_fd, TCSANOW, &tio);
	} else if (kind == LATE_ACCEPT) {
		struct sockaddr_storage a;
		socklen_t len;
		late_fd = t_bound(AF_UNIX, SOCK_STREAM, 4, &a, &len);
		t_timeo(late_fd, SO_RCVTIMEO, 400);
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			exit(1);
		late_fd = sv[0];
		late_peer = sv[1];
		if (kind == LATE_SEND) {
			t_fill(late_fd);
			t_timeo(late_fd, SO_SNDTIMEO, 400);
		} else {
			t_timeo(late_fd, SO_RCVTIMEO, 400);
		}
	}
	late_t0 = t_ms();
	pthread_t th;
	pthread_create(&th, NULL, late_bring, NULL);
	t_spawn(j_late, 0);
	t_spawn(j_late, 1);
	t_finish();
	pthread_join(th, NULL);
}

static void c13_recv_data_before_timeout_sibling_computes(void) { late_case(LATE_RECV); }
static void c13_accept_before_timeout_sibling_computes(void) { late_case(LATE_ACCEPT); }
static void c13_send_room_before_timeout_sibling_computes(void) { late_case(LATE_SEND); }
static void c13_pty_vtime_data_before_end_sibling_computes(void) { late_case(LATE_VTIME); }

/* ---- the table ---------------------------------------------------------
 * T_BACKEND: the coroutine really waits in a hooked call. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c13_select_ended_keeps_sets, 0),
	C(c13_sleep_ended_seconds_left, 0),
	C(c13_nanosleep_ended_bad_rem, 0),
	C(c13_nanosleep_of_centuries_rem, 0),
	C(c13_sleepers_wake_in_order, T_OWNCORO),
	C(c13_zero_sleeps_let_the_others_run, T_OWNCORO),
	C(c13_sleep_on_process_cpu_clock, T_OWNCORO),
	C(c13_select_usec_over_a_second, T_BACKEND),
	C(c13_select_huge_usec, T_BACKEND),
	C(c13_clock_nanosleep_clocks, 0),
	/* TSan has no interceptor for pthread_mutex_clocklock: it reports
	 * the unlock of each lock such a call took. */
	C(c13_timed_locks_bad_timeouts, T_NOTSAN),
	C(c13_timed_locks_bad_timeouts_sibling, T_OWNCORO),
	C(c13_recv_data_before_timeout_sibling_computes, T_OWNCORO),
	C(c13_accept_before_timeout_sibling_computes, T_OWNCORO),
	C(c13_send_room_before_timeout_sibling_computes, T_OWNCORO),
	C(c13_pty_vtime_data_before_end_sibling_computes, T_OWNCORO),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	t_jobs_threads_under_off();
	return t_cases_main(argc, argv, cases, "exact-sleeps", 150);
}
