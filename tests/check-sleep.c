/* Sleeps, and signals ending waits (issue 10, "Semantics"): nanosleep,
 * clock_nanosleep, usleep, sleep; the readiness calls and sleeps are never
 * restarted after a handler, whatever SA_RESTART says; ppoll, pselect and
 * epoll_pwait* install their signal mask for the wait only, atomically.
 * Same variants and rules as check-poll.c. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/time.h>

#include "t-helpers.h"

#define yes t_yes

static void *volatile bad_ptr = (void *)8;

static void show_wait(double t0, int ms)
{
	double el = t_ms() - t0;
	t_out("waited>=%dms: %s, <1s: %s\n", ms, yes(el >= ms - 1), yes(el < 1000));
}

/* A clock_nanosleep result: it returns the error number, not -1/errno. */
static void show_cns(const char *what, int r)
{
	t_out("%s=%s errno-kept=%s\n", what, r ? t_errname(r) : "0", yes(errno == 4242));
}

/* ==== sleeps ============================================================ */

/* nanosleep sleeps and leaves *rem alone when not interrupted; bad
 * arguments; usleep and sleep of 0. */
static void sleep_nanosleep(void)
{
	alarm(5);
	struct timespec req = { 0, 50 * 1000000 }, rem = { 77, 77 };
	double t0 = t_ms();
	t_res("nanosleep", nanosleep(&req, &rem));
	show_wait(t0, 50);
	t_out("rem untouched=%s\n", yes(rem.tv_sec == 77 && rem.tv_nsec == 77));
	t_res("null-rem", nanosleep(&req, NULL));
	req = (struct timespec){ 0, 1000000000 };
	t_res("bad-nsec", nanosleep(&req, &rem));
	req = (struct timespec){ -1, 0 };
	t_res("negative", nanosleep(&req, &rem));
	t_res("bad-req", nanosleep(bad_ptr, &rem));
	req = (struct timespec){ 0, 0 };
	t_res("zero", nanosleep(&req, &rem));
	t0 = t_ms();
	t_res("usleep", usleep(50000));
	show_wait(t0, 50);
	t_res("usleep0", usleep(0));
	t_out("sleep0=%u\n", sleep(0));
}

/* clock_nanosleep returns the error number and leaves errno alone;
 * TIMER_ABSTIME in the past returns at once, in the future sleeps until
 * then; clocks it refuses. */
static void sleep_clock_nanosleep(void)
{
	struct timespec req = { 0, 50 * 1000000 }, rem = { 77, 77 }, now;
	alarm(5);
	errno = 4242;
	double t0 = t_ms();
	show_cns("relative", clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem));
	show_wait(t0, 50);
	t_out("rem untouched=%s\n", yes(rem.tv_sec == 77 && rem.tv_nsec == 77));
	clock_gettime(CLOCK_MONOTONIC, &now);
	t0 = t_ms();
	show_cns("abs-past", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &now, &rem));
	t_out("at once: %s\n", yes(t_ms() - t0 < 500));
	clock_gettime(CLOCK_MONOTONIC, &now);
	t0 = (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6; /* t_ms()'s clock */
	now.tv_nsec += 50 * 1000000;
	if (now.tv_nsec >= 1000000000) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000;
	}
	show_cns("abs-future", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &now, &rem));
	show_wait(t0, 50);
	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_sec -= 10;
	show_cns("abs-realtime-past", clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &now, NULL));
	t0 = t_ms();
	show_cns("boottime", clock_nanosleep(CLOCK_BOOTTIME, 0, &req, NULL));
	show_wait(t0, 50);
	req = (struct timespec){ 0, 1000000000 };
	show_cns("bad-nsec", clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem));
	req = (struct timespec){ 0, 1000 };
	show_cns("thread-cputime", clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL));
	show_cns("bad-clock", clock_nanosleep(12345, 0, &req, NULL));
	show_cns("bad-flags-ok", clock_nanosleep(CLOCK_MONOTONIC, 0x100, &req, NULL));
	show_cns("bad-req", clock_nanosleep(CLOCK_MONOTONIC, 0, bad_ptr, NULL));
}

/* ==== never restarted =================================================== */

/* One waiting call of each kind, made with an empty pipe and a long
 * timeout, so that only the signal ends it. */
enum { W_POLL, W_PPOLL, W_SELECT, W_PSELECT, W_EPOLL, W_EPOLL_PWAIT, W_EPOLL_PWAIT2,
       W_NANOSLEEP, W_CLOCK_NANOSLEEP, W_CLOCK_ABS, W_USLEEP, W_SLEEP };

static void wait_call(int op)
{
	int p[2];
	pipe(p);
	struct pollfd pf = { p[0], POLLIN, 0 };
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	struct timeval tv = { 2, 0 };
	struct timespec ts = { 2, 0 }, rem = { 77, 77 }, abs;
	struct epoll_event ev;
	int ep = epoll_create1(0);
	struct epoll_event a = { .events = EPOLLIN };
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &a);
	long r = 0;
	int e;
	errno = 4242;
	switch (op) {
	case W_POLL: r = poll(&pf, 1, 2000); break;
	case W_PPOLL: r = ppoll(&pf, 1, &ts, NULL); break;
	case W_SELECT: r = select(p[0] + 1, &rs, NULL, NULL, &tv); break;
	case W_PSELECT: r = pselect(p[0] + 1, &rs, NULL, NULL, &ts, NULL); break;
	case W_EPOLL: r = epoll_wait(ep, &ev, 1, 2000); break;
	case W_EPOLL_PWAIT: r = epoll_pwait(ep, &ev, 1, 2000, NULL); break;
	case W_EPOLL_PWAIT2: r = epoll_pwait2(ep, &ev, 1, &ts, NULL); break;
	case W_NANOSLEEP: r = nanosleep(&ts, &rem); break;
	case W_CLOCK_NANOSLEEP:
		r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &rem);
		break;
	case W_CLOCK_ABS:
		clock_gettime(CLOCK_MONOTONIC, &abs);
		abs.tv_sec += 2;
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, &rem);
		break;
	case W_USLEEP: r = usleep(2000000); break;
	case W_SLEEP: r = sleep(2); break;
	}
	e = errno;
	if (op == W_CLOCK_NANOSLEEP || op == W_CLOCK_ABS)
		t_out("returned=%s errno-kept=%s", r ? t_errname((int)r) : "0", yes(e == 4242));
	else if (op == W_SLEEP)
		t_out("returned=%ld", r);
	else
		t_out("returned=%ld %s", r, r < 0 ? t_errname(e) : "");
	long left_us = tv.tv_sec * 1000000L + tv.tv_usec;
	if (op == W_SELECT)
		t_out(" tv-left: <2s=%s >1s=%s", yes(left_us < 2000000), yes(left_us > 1000000));
	if (op == W_PPOLL || op == W_PSELECT || op == W_EPOLL_PWAIT2)
		t_out(" ts-kept=%s", yes(ts.tv_sec == 2 && ts.tv_nsec == 0));
	if (op == W_NANOSLEEP || op == W_CLOCK_NANOSLEEP)
		t_out(" rem: <2s=%s >1s=%s", yes(rem.tv_sec < 2), yes(rem.tv_sec == 1));
	if (op == W_CLOCK_ABS)
		t_out(" rem untouched=%s", yes(rem.tv_sec == 77 && rem.tv_nsec == 77));
	t_out(" handled=%d\n", (int)t_handled);
	close(ep);
	close(p[0]);
	close(p[1]);
}

/* The call ends with EINTR (or its own way of saying so) after a handler,
 * with SA_RESTART and without; early, not after its timeout. */
static void never_restarted(int op)
{
	alarm(8);
	for (int k = 0; k < 2; k++) {
		t_handle(SIGUSR1, k ? SA_RESTART : 0);
		t_out("%s: ", k ? "SA_RESTART" : "no SA_RESTART");
		double t0 = t_ms();
		pthread_t ts = t_later_signal(SIGUSR1, 10);
		wait_call(op);
		t_out("early=%s\n", yes(t_ms() - t0 < 1500));
		pthread_join(ts, NULL);
	}
}

static void eintr_readiness(void)
{
	t_out("-- poll\n");
	never_restarted(W_POLL);
	t_out("-- ppoll\n");
	never_restarted(W_PPOLL);
	t_out("-- select\n");
	never_restarted(W_SELECT);
	t_out("-- pselect\n");
	never_restarted(W_PSELECT);
	t_out("-- epoll_wait\n");
	never_restarted(W_EPOLL);
	t_out("-- epoll_pwait\n");
	never_restarted(W_EPOLL_PWAIT);
	t_out("-- epoll_pwait2\n");
	never_restarted(W_EPOLL_PWAIT2);
}
static void eintr_sleeps(void)
{
	t_out("-- nanosleep\n");
	never_restarted(W_NANOSLEEP);
	t_out("-- clock_nanosleep\n");
	never_restarted(W_CLOCK_NANOSLEEP);
	t_out("-- clock_nanosleep_abs\n");
	never_restarted(W_CLOCK_ABS);
	t_out("-- usleep\n");
	never_restarted(W_USLEEP);
	t_out("-- sleep\n");
	never_restarted(W_SLEEP);
}

/* ==== masks installed for the wait ====================================== */

enum { M_PPOLL, M_PSELECT, M_EPOLL_PWAIT, M_EPOLL_PWAIT2 };

/* The call with signal mask m, waiting up to ms for an empty pipe. */
static long masked_wait(int op, const sigset_t *m, int ms)
{
	int p[2];
	pipe(p);
	struct pollfd pf = { p[0], POLLIN, 0 };
	fd_set r;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	struct epoll_event ev;
	int ep = epoll_create1(0);
	struct epoll_event a = { .events = EPOLLIN };
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &a);
	long ret = op == M_PPOLL ? ppoll(&pf, 1, &ts, m) :
		   op == M_PSELECT ? pselect(p[0] + 1, &r, NULL, NULL, &ts, m) :
		   op == M_EPOLL_PWAIT ? epoll_pwait(ep, &ev, 1, ms, m) :
					 epoll_pwait2(ep, &ev, 1, &ts, m);
	int e = errno;
	close(ep);
	close(p[0]);
	close(p[1]);
	errno = e;
	return ret;
}

static int blocked_now(int sig)
{
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig);
}

static int pending_now(int sig)
{
	sigset_t set;
	sigpending(&set);
	return sigismember(&set, sig);
}

/* SIGUSR1 blocked in the thread: pending before the call, it interrupts
 * the wait only when the call's mask unblocks it (at once), and the
 * thread's mask is back afterwards; a mask that keeps it blocked lets the
 * wait time out with the signal still pending; one sent during the wait
 * interrupts it under an unblocking mask. */
static void mask_atomic(int op)
{
	sigset_t usr1, none, keep;
	alarm(5);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&none);
	t_handle(SIGUSR1, SA_RESTART);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, &keep);
	raise(SIGUSR1);
	t_out("pending before=%s handled=%d\n", yes(pending_now(SIGUSR1)), (int)t_handled);
	double t0 = t_ms();
	t_res("keep-mask", masked_wait(op, &keep, 50));
	show_wait(t0, 50);
	t_out("still pending=%s handled=%d\n", yes(pending_now(SIGUSR1)), (int)t_handled);
	t0 = t_ms();
	t_res("unblocking-mask", masked_wait(op, &none, 2000));
	t_out("at once=%s handled=%d blocked again=%s pending=%s\n", yes(t_ms() - t0 < 1000),
	      (int)t_handled, yes(blocked_now(SIGUSR1)), yes(pending_now(SIGUSR1)));
	t_handled = 0;
	pthread_t ts = t_later_signal(SIGUSR1, 10);
	t0 = t_ms();
	t_res("sent-during", masked_wait(op, &none, 2000));
	t_out("early=%s handled=%d blocked again=%s\n", yes(t_ms() - t0 < 1500), (int)t_handled,
	      yes(blocked_now(SIGUSR1)));
	pthread_join(ts, NULL);
	t_res("null-mask", masked_wait(op, NULL, 10));
}

static void mask_each(void)
{
	t_out("-- ppoll\n");
	mask_atomic(M_PPOLL);
	t_out("-- pselect\n");
	mask_atomic(M_PSELECT);
	t_out("-- epoll_pwait\n");
	mask_atomic(M_EPOLL_PWAIT);
	t_out("-- epoll_pwait2\n");
	mask_atomic(M_EPOLL_PWAIT2);
}

/* ==== the table ========================================================
 * T_NOCORO: a signal interrupts a call, or a call's mask lets one in
 * (inside coroutines signals do not interrupt hooked calls: README). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(sleep_nanosleep, 0),
	C(sleep_clock_nanosleep, 0),
	C(eintr_readiness, T_NOCORO),
	C(eintr_sleeps, T_NOCORO),
	C(mask_each, T_NOCORO),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "sleep", 150);
}
