/* Readiness and sleeps (issue 10, "Semantics"): poll, ppoll, select,
 * pselect, epoll_wait, epoll_pwait, epoll_pwait2, nanosleep,
 * clock_nanosleep, usleep, sleep.  Each case runs without the shim, under
 * off, uring and threads, and inside a coroutine (uring-coro,
 * threads-coro), and must print what plain glibc prints and end the same
 * way.  Times are printed as yes/no against bounds, never as numbers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "t-helpers.h"

#define yes t_yes

static void *volatile bad_ptr = (void *)8;
static volatile int minus_one = -1;

/* "waited>=ms: yes/no" since t0, and whether it stayed under a second. */
static void show_wait(double t0, int ms)
{
	double el = t_ms() - t0;
	t_out("waited>=%dms: %s, <1s: %s\n", ms, yes(el >= ms - 1), yes(el < 1000));
}

static void show_at_once(double t0)
{
	t_out("at once: %s\n", yes(t_ms() - t0 < 500));
}

/* ==== poll and ppoll ==================================================== */

/* What is ready now, per kind of fd: data, room, hang-up, a closed number,
 * a negative fd, no events asked. */
static void poll_ready_now(void)
{
	int pp[2], s[2], h[2], e[2];
	alarm(5);
	pipe(pp);
	write(pp[1], "x", 1);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	socketpair(AF_UNIX, SOCK_STREAM, 0, h);
	close(h[1]);
	pipe(e);
	close(e[1]);
	struct pollfd f[7] = {
		{ pp[0], POLLIN, 0x55 }, { s[0], POLLIN | POLLOUT, 0x55 },
		{ h[0], POLLIN | POLLRDHUP, 0x55 }, { 999, POLLIN, 0x55 },
		{ -1, POLLIN, 0x55 }, { h[0], 0, 0x55 }, { e[0], POLLIN, 0x55 },
	};
	double t0 = t_ms();
	t_res("poll", poll(f, 7, 1000));
	for (int i = 0; i < 7; i++)
		t_out("%d:%#x ", i, f[i].revents);
	t_out("\n");
	show_at_once(t0);
	for (int i = 0; i < 7; i++)
		f[i].revents = 0x55;
	struct timespec zero = { 0, 0 };
	t_res("ppoll", ppoll(f, 7, &zero, NULL));
	for (int i = 0; i < 7; i++)
		t_out("%d:%#x ", i, f[i].revents);
	t_out("\n");
}

/* Timeouts: none ready gives 0 after the timeout; 0 does not wait; no fds
 * at all is a sleep; ppoll's timespec as the caller sees it afterwards. */
static void poll_timeouts(void)
{
	int p[2];
	alarm(5);
	pipe(p);
	struct pollfd f = { p[0], POLLIN, 0 };
	double t0 = t_ms();
	t_res("poll0", poll(&f, 1, 0));
	show_at_once(t0);
	t0 = t_ms();
	t_res("poll50", poll(&f, 1, 50));
	show_wait(t0, 50);
	t0 = t_ms();
	t_res("poll-nofds", poll(NULL, 0, 50));
	show_wait(t0, 50);
	struct timespec ts = { 0, 50 * 1000000 };
	t0 = t_ms();
	t_res("ppoll50", ppoll(&f, 1, &ts, NULL));
	show_wait(t0, 50);
	t_out("ts after: %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
	t0 = t_ms();
	t_res("ppoll-nofds", ppoll(NULL, 0, &ts, NULL));
	show_wait(t0, 50);
	t_out("revents=%#x\n", f.revents);
}

/* A wait another thread ends, for each fd of a set: the right one reports
 * ready, the others 0. */
static void poll_wakes(int use_ppoll)
{
	int p[2], s[2], t[2];
	alarm(5);
	pipe(p);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
	t_pair(T_TCP, t);
	struct pollfd f[3] = { { p[0], POLLIN, 0 }, { s[1], POLLIN, 0 }, { t[1], POLLIN, 0 } };
	for (int i = 0; i < 3; i++) {
		int fd = i == 0 ? p[1] : i == 1 ? s[0] : t[0];
		double t0 = t_ms();
		pthread_t tw = t_later_write(fd, "w", 1, 50);
		int r = use_ppoll ? ppoll(f, 3, NULL, NULL) : poll(f, 3, -1);
		t_out("%d: r=%d revents=%#x,%#x,%#x ", i, r, f[0].revents, f[1].revents, f[2].revents);
		show_wait(t0, 50);
		pthread_join(tw, NULL);
		char b[4];
		read(i == 0 ? p[0] : i == 1 ? s[1] : t[1], b, sizeof b);
	}
}

static void poll_wakes_poll(void) { poll_wakes(0); }
static void poll_wakes_ppoll(void) { poll_wakes(1); }

/* Errors: more fds than RLIMIT_NOFILE, a bad array, a bad timespec. */
static void poll_errors(void)
{
	struct rlimit rl;
	static struct pollfd many[65];
	struct pollfd f = { 0, POLLIN, 0 };
	alarm(5);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 64;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < 65; i++)
		many[i] = (struct pollfd){ -1, POLLIN, 0 };
	t_res("nfds>nofile", poll(many, 65, 0));
	t_res("nfds=nofile", poll(many, 64, 0));
	t_res("bad-array", poll(bad_ptr, 1, 0));
	t_res("ppoll-bad-array", ppoll(bad_ptr, 2, NULL, NULL));
	struct timespec bad = { 0, 1000000000 };
	t_res("ppoll-bad-ts", ppoll(&f, 1, &bad, NULL));
	bad = (struct timespec){ -1, 0 };
	t_res("ppoll-negative-ts", ppoll(&f, 1, &bad, NULL));
	t_res("ppoll-bad-mask-ptr", ppoll(&f, 1, NULL, bad_ptr));
}

/* ==== select and pselect ================================================ */

static void show_tv(const char *what, const struct timeval *tv, long orig_us)
{
	long us = tv->tv_sec * 1000000L + tv->tv_usec;
	t_out("%s: zero=%s less=%s\n", what, yes(us == 0), yes(us < orig_us));
}

/* Linux writes the time left into select's timeval: 0 after a timeout,
 * the rest when an fd was ready before it; pselect's timespec stays. */
static void select_timeval(void)
{
	int p[2];
	fd_set r;
	alarm(5);
	pipe(p);
	struct timeval tv = { 0, 50000 };
	double t0 = t_ms();
	t_res("select-nofds", select(0, NULL, NULL, NULL, &tv));
	show_wait(t0, 50);
	show_tv("tv", &tv, 50000);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv = (struct timeval){ 0, 50000 };
	t_res("select-timeout", select(p[0] + 1, &r, NULL, NULL, &tv));
	t_out("set-cleared=%s\n", yes(!FD_ISSET(p[0], &r)));
	show_tv("tv", &tv, 50000);
	FD_SET(p[0], &r);
	tv = (struct timeval){ 1, 0 };
	pthread_t tw = t_later_write(p[1], "x", 1, 50);
	t_res("select-ready", select(p[0] + 1, &r, NULL, NULL, &tv));
	t_out("set=%s\n", yes(FD_ISSET(p[0], &r)));
	show_tv("tv", &tv, 1000000);
	t_out("tv left>0.5s: %s\n", yes(tv.tv_sec * 1000000L + tv.tv_usec > 500000));
	pthread_join(tw, NULL);
	struct timespec ts = { 0, 50 * 1000000 };
	char b[4];
	read(p[0], b, sizeof b);
	FD_SET(p[0], &r);
	t0 = t_ms();
	t_res("pselect-timeout", pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL));
	show_wait(t0, 50);
	t_out("ts after: %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
	tv = (struct timeval){ 0, 0 };
	FD_SET(p[0], &r);
	t_res("select-zero", select(p[0] + 1, &r, NULL, NULL, &tv));
}

/* Ready sets: read, write, and a peer gone; a wait another thread ends. */
static void select_sets(int use_pselect)
{
	int p[2], s[2];
	fd_set r, w;
	alarm(5);
	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	int n = (p[0] > s[1] ? p[0] : s[1]) + 1;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(s[1], &r);
	FD_SET(s[1], &w);
	FD_SET(p[1], &w);
	int k = use_pselect ? pselect(n, &r, &w, NULL, NULL, NULL) : select(n, &r, &w, NULL, NULL);
	t_out("ready=%d r:%d%d w:%d%d\n", k, FD_ISSET(p[0], &r), FD_ISSET(s[1], &r),
	      FD_ISSET(s[1], &w), FD_ISSET(p[1], &w));
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	FD_SET(s[1], &r);
	double t0 = t_ms();
	pthread_t tw = t_later_write(s[0], "x", 1, 50);
	k = use_pselect ? pselect(n, &r, NULL, NULL, NULL, NULL) : select(n, &r, NULL, NULL, NULL);
	t_out("woken=%d r:%d%d ", k, FD_ISSET(p[0], &r), FD_ISSET(s[1], &r));
	show_wait(t0, 50);
	pthread_join(tw, NULL);
	close(s[0]);
	FD_ZERO(&r);
	FD_SET(s[1], &r);
	k = use_pselect ? pselect(n, &r, NULL, NULL, NULL, NULL) : select(n, &r, NULL, NULL, NULL);
	t_out("hangup=%d r:%d\n", k, FD_ISSET(s[1], &r));
}

static void select_sets_select(void) { select_sets(0); }
static void select_sets_pselect(void) { select_sets(1); }

/* Errors: negative nfds, a closed fd in a set, bad timeouts and sets. */
static void select_errors(void)
{
	fd_set r;
	alarm(5);
	FD_ZERO(&r);
	struct timeval tv = { 0, 0 };
	t_res("negative-nfds", select(-1, NULL, NULL, NULL, &tv));
	int fd = dup(0);
	close(fd);
	FD_SET(fd, &r);
	t_res("closed-fd", select(fd + 1, &r, NULL, NULL, &tv));
	t_out("set kept=%s\n", yes(FD_ISSET(fd, &r)));
	tv = (struct timeval){ 0, -1 };
	t_res("negative-usec", select(0, NULL, NULL, NULL, &tv));
	tv = (struct timeval){ -1, 0 };
	t_res("negative-sec", select(0, NULL, NULL, NULL, &tv));
	t_res("bad-set", select(1, bad_ptr, NULL, NULL, &(struct timeval){ 0, 0 }));
	struct timespec ts = { 0, 1000000000 };
	t_res("pselect-bad-ts", pselect(0, NULL, NULL, NULL, &ts, NULL));
}

/* ==== epoll ============================================================= */

/* Level-triggered reports again, edge-triggered once per change, oneshot
 * once until re-armed; epoll_pwait and epoll_pwait2 as epoll_wait. */
static void epoll_modes(void)
{
	int lt[2], et[2], os[2];
	struct epoll_event ev[4];
	alarm(5);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	pipe(lt);
	pipe(et);
	pipe(os);
	struct epoll_event a = { .events = EPOLLIN, .data.u32 = 1 };
	struct epoll_event b = { .events = EPOLLIN | EPOLLET, .data.u32 = 2 };
	struct epoll_event c = { .events = EPOLLIN | EPOLLONESHOT, .data.u32 = 3 };
	epoll_ctl(ep, EPOLL_CTL_ADD, lt[0], &a);
	epoll_ctl(ep, EPOLL_CTL_ADD, et[0], &b);
	epoll_ctl(ep, EPOLL_CTL_ADD, os[0], &c);
	write(lt[1], "x", 1);
	write(et[1], "x", 1);
	write(os[1], "x", 1);
	struct timespec zero = { 0, 0 };
	for (int round = 0; round < 3; round++) {
		int n = round == 0 ? epoll_wait(ep, ev, 4, 0) :
			round == 1 ? epoll_pwait(ep, ev, 4, 0, NULL) :
				     epoll_pwait2(ep, ev, 4, &zero, NULL);
		unsigned got = 0;
		for (int i = 0; i < n; i++)
			got |= 1u << ev[i].data.u32;
		t_out("round %d: n=%d lt=%d et=%d os=%d\n", round, n, !!(got & 2), !!(got & 4),
		      !!(got & 8));
	}
	write(et[1], "y", 1);
	epoll_ctl(ep, EPOLL_CTL_MOD, os[0], &c);
	int n = epoll_wait(ep, ev, 4, 0);
	t_out("after write+rearm: n=%d\n", n);
	t_res("maxevents1", epoll_wait(ep, ev, 1, 0));
}

/* Timeouts: epoll_wait's ms, epoll_pwait2's timespec (NULL waits). */
static void epoll_timeouts(void)
{
	struct epoll_event ev[2];
	int p[2];
	alarm(5);
	int ep = epoll_create1(0);
	pipe(p);
	struct epoll_event a = { .events = EPOLLIN, .data.fd = p[0] };
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &a);
	double t0 = t_ms();
	t_res("wait50", epoll_wait(ep, ev, 2, 50));
	show_wait(t0, 50);
	t0 = t_ms();
	t_res("pwait50", epoll_pwait(ep, ev, 2, 50, NULL));
	show_wait(t0, 50);
	struct timespec ts = { 0, 50 * 1000000 };
	t0 = t_ms();
	t_res("pwait2-50", epoll_pwait2(ep, ev, 2, &ts, NULL));
	show_wait(t0, 50);
	t_out("ts after: %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
	t0 = t_ms();
	t_res("empty-set", epoll_wait(epoll_create1(0), ev, 2, 50));
	show_wait(t0, 50);
}

/* A wait another thread ends, through each of the three calls. */
static void epoll_wakes(void)
{
	struct epoll_event ev[2];
	int s[2];
	alarm(5);
	int ep = epoll_create1(0);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	struct epoll_event a = { .events = EPOLLIN, .data.u64 = 0x1234 };
	epoll_ctl(ep, EPOLL_CTL_ADD, s[1], &a);
	for (int k = 0; k < 3; k++) {
		double t0 = t_ms();
		pthread_t tw = t_later_write(s[0], "w", 1, 50);
		int n = k == 0 ? epoll_wait(ep, ev, 2, -1) :
			k == 1 ? epoll_pwait(ep, ev, 2, 2000, NULL) : epoll_pwait2(ep, ev, 2, NULL, NULL);
		t_out("%d: n=%d events=%#x data=%#llx ", k, n, n > 0 ? ev[0].events : 0,
		      n > 0 ? (unsigned long long)ev[0].data.u64 : 0ULL);
		show_wait(t0, 50);
		pthread_join(tw, NULL);
		char b[4];
		read(s[1], b, sizeof b);
	}
}

/* Errors: maxevents <= 0, not an epoll fd, bad fd, bad buffer. */
static void epoll_errors(void)
{
	struct epoll_event ev[2];
	int p[2];
	alarm(5);
	int ep = epoll_create1(0);
	pipe(p);
	struct epoll_event a = { .events = EPOLLIN };
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &a);
	write(p[1], "x", 1);
	t_res("maxevents0", epoll_wait(ep, ev, 0, 0));
	t_res("maxevents-1", epoll_pwait(ep, ev, minus_one, 0, NULL));
	t_res("not-epoll", epoll_wait(p[0], ev, 2, 0));
	t_res("ebadf", epoll_wait(999, ev, 2, 0));
	t_res("bad-buffer", epoll_wait(ep, bad_ptr, 2, 0));
	struct timespec bad = { 0, 2000000000 };
	t_res("pwait2-bad-ts", epoll_pwait2(ep, ev, 2, &bad, NULL));
	t_res("still-ready", epoll_wait(ep, ev, 2, 0));
}

/* ==== the table ========================================================
 * T_BACKEND: the coroutine really waits for an fd another thread makes
 * ready.  Sleeps and signals ending waits are in check-sleep.c. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(poll_ready_now, 0),
	C(poll_timeouts, 0),
	C(poll_wakes_poll, T_BACKEND),
	C(poll_wakes_ppoll, T_BACKEND),
	C(poll_errors, 0),
	C(select_timeval, 0),
	C(select_sets_select, T_BACKEND),
	C(select_sets_pselect, T_BACKEND),
	C(select_errors, 0),
	C(epoll_modes, 0),
	C(epoll_timeouts, 0),
	C(epoll_wakes, T_BACKEND),
	C(epoll_errors, 0),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "poll", 150);
}
