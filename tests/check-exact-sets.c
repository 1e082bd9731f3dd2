/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks class 13,
 * readiness: what the sets hold and who waits —
 *
 *  - select with fd sets larger than FD_SETSIZE waits like any other (it
 *    held the coroutine's thread), and n above the fd table reads and
 *    writes only the kernel's bits;
 *  - coroutines of one thread waiting side by side (every event bit, two
 *    epoll waiters on one edge, a full signal mask that is the thread's
 *    own);
 *  - epoll's edge-triggered and one-shot modes, epoll_ctl during a wait,
 *    odd poll sets, an fd closed while it is waited for, bad buffers. */

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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


/* ---- other coroutines of the same thread -------------------------------
 * T_OWNCORO: the jobs are coroutines of one thread under the library,
 * threads without it; the one that waits must let the other run. */

/* select with fd sets larger than FD_SETSIZE (glibc's callers allocate
 * them): job 0 waits for fd 1500, job 1 writes it. */
static int big_fd, big_w;

static void j_big_select(int i)
{
	if (i == 1) {
		t_msleep(20);
		t_jres(i, "write", write(big_w, "x", 1));
		t_jout(i, "\n");
		return;
	}
	size_t bytes = 2048 / 8;
	fd_set *r = calloc(1, bytes);
	r->fds_bits[big_fd / (8 * sizeof(long))] |= 1UL << (big_fd % (8 * sizeof(long)));
	struct timeval tv = { 2, 0 };
	double t0 = t_ms();
	t_jres(i, "select", select(big_fd + 1, r, NULL, NULL, &tv));
	t_jout(i, "set=%d early=%s\n",
	       (int)(r->fds_bits[big_fd / (8 * sizeof(long))] >> (big_fd % (8 * sizeof(long))) & 1),
	       t_yes(t_ms() - t0 < 1500));
	free(r);
}

static void c13_select_big_set_same_thread(void)
{
	int p[2];
	alarm(10);
	struct rlimit rl = { 2048, 2048 };
	setrlimit(RLIMIT_NOFILE, &rl);
	pipe(p);
	big_fd = dup2(p[0], 1500);
	big_w = p[1];
	t_spawn(j_big_select, 0);
	t_spawn(j_big_select, 1);
	t_finish();
}

/* poll asking every bit (events = -1), made ready by the other job. */
static int ab[2];

static void j_all_bits(int i)
{
	if (i == 1) {
		t_msleep(20);
		t_jres(i, "write", write(ab[1], "x", 1));
		t_jout(i, "\n");
		return;
	}
	struct pollfd pf = { ab[0], -1, 0 };
	double t0 = t_ms();
	t_jres(i, "poll", poll(&pf, 1, 2000));
	t_jout(i, "revents=%#x early=%s\n", (unsigned short)pf.revents, t_yes(t_ms() - t0 < 1500));
}

static void c13_poll_every_event_bit(void)
{
	alarm(10);
	pipe(ab);
	t_spawn(j_all_bits, 0);
	t_spawn(j_all_bits, 1);
	t_finish();
}


/* ppoll, pselect and epoll_pwait with a full mask, by a thread that
 * blocked every signal it could: the mask of the wait is the thread's
 * own (the kernel drops SIGKILL and SIGSTOP), so it waits like any
 * other — job 1 writes what job 0 waits for. */
static int fm[2], fm_ep;

static void j_full_mask(int i)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	for (int how = 0; how < 3; how++) {
		if (i == 1) {
			t_msleep(20);
			t_jres(i, "write", write(fm[1], "x", 1));
			t_msleep(20);
			continue;
		}
		struct pollfd pf = { fm[0], POLLIN, 0 };
		struct timespec ts = { 2, 0 };
		fd_set r;
		FD_ZERO(&r);
		FD_SET(fm[0], &r);
		struct epoll_event ev;
		double t0 = t_ms();
		long n = how == 0 ? ppoll(&pf, 1, &ts, &all) :
			 how == 1 ? pselect(fm[0] + 1, &r, NULL, NULL, &ts, &all) :
				    epoll_pwait(fm_ep, &ev, 1, 2000, &all);
		t_jout(i, "%s=%ld early=%s ", how == 0 ? "ppoll" : how == 1 ? "pselect" : "epoll_pwait",
		       n, t_yes(t_ms() - t0 < 1500));
		char c;
		read(fm[0], &c, 1);
	}
	t_jout(i, "\n");
}

static void c13_full_mask_is_the_threads_own(void)
{
	alarm(20);
	pipe(fm);
	fm_ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };
	epoll_ctl(fm_ep, EPOLL_CTL_ADD, fm[0], &ev);
	t_spawn(j_full_mask, 0);
	t_spawn(j_full_mask, 1);
	t_finish();
}


/* clock_nanosleep on the process's CPU clock: it ends once the process
 * has used that much more CPU time — here job 1's, which computes and
 * lets the others run now and then (a zero sleep). */

static int ep2, ep2p[2];
static _Atomic int ep2_got;

static void j_epoll_two(int i)
{
	if (i == 2) {
		t_msleep(20);
		t_jres(i, "write", write(ep2p[1], "x", 1));
		t_jout(i, "\n");
		return;
	}
	struct epoll_event ev;
	int n = epoll_wait(ep2, &ev, 1, 300);
	if (n > 0)
		ep2_got++;
	t_jout(i, "\n");
}

static void c13_epoll_two_waiters_one_edge(void)
{
	alarm(10);
	pipe(ep2p);
	ep2 = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	epoll_ctl(ep2, EPOLL_CTL_ADD, ep2p[0], &ev);
	for (int i = 0; i < 3; i++)
		t_spawn(j_epoll_two, i);
	t_finish();
	t_out("woken with the event=%d\n", (int)ep2_got);
}

/* ---- one coroutine: epoll's modes, what poll's set holds -------------- */

/* Edge-triggered: one event per edge, none for the level after it. */
static void c13_epoll_edge_and_oneshot(void)
{
	int p[2];
	struct epoll_event out[4];
	alarm(10);
	for (int mode = 0; mode < 2; mode++) {
		pipe(p);
		int ep = epoll_create1(0);
		struct epoll_event ev = { .events = EPOLLIN | (mode ? EPOLLONESHOT : EPOLLET),
					  .data.u64 = 0xfedcba9876543210ULL };
		epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
		pthread_t th = t_later_write(p[1], "a", 1, 20);
		t_res(mode ? "oneshot first" : "edge first", epoll_wait(ep, out, 4, 2000));
		t_out("data=%#llx\n", (unsigned long long)out[0].data.u64);
		pthread_join(th, NULL);
		double t0 = t_ms();
		t_res("level after it", epoll_wait(ep, out, 4, 100));
		t_out("waited=%s\n", t_yes(t_ms() - t0 >= 90));
		if (mode)
			epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
		th = t_later_write(p[1], "b", 1, 20);
		t_res(mode ? "re-armed" : "next edge", epoll_wait(ep, out, 4, 2000));
		pthread_join(th, NULL);
		close(ep);
		close(p[0]);
		close(p[1]);
	}
}

/* Another thread adds a ready fd to the set while the call waits. */
static int ctl_ep, ctl_fd;

static void add_later(void *arg)
{
	(void)arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
	epoll_ctl(ctl_ep, EPOLL_CTL_ADD, ctl_fd, &ev);
}

static void c13_epoll_ctl_while_waiting(void)
{
	int p[2];
	struct epoll_event out[2];
	alarm(10);
	pipe(p);
	write(p[1], "x", 1);
	ctl_ep = epoll_create1(0);
	ctl_fd = p[0];
	double t0 = t_ms();
	pthread_t th = t_later(add_later, NULL, 20);
	t_res("epoll_wait", epoll_wait(ctl_ep, out, 2, 2000));
	t_out("data=%llu early=%s\n", (unsigned long long)out[0].data.u64, t_yes(t_ms() - t0 < 1500));
	pthread_join(th, NULL);
}

/* Negative fds, a duplicate, events 0, garbage revents: all rewritten as
 * the kernel does when the wait ends. */
static void c13_poll_odd_sets(void)
{
	int p[2];
	alarm(10);
	pipe(p);
	struct pollfd pf[4] = { { -5, POLLIN, 0x7777 }, { p[0], 0, 0x1234 }, { p[0], POLLIN, -1 },
				{ p[0], POLLIN | POLLOUT, 0 } };
	pthread_t th = t_later_write(p[1], "x", 1, 20);
	t_res("poll", poll(pf, 4, 2000));
	for (int i = 0; i < 4; i++)
		t_out("[%d] revents=%#x\n", i, (unsigned short)pf[i].revents);
	pthread_join(th, NULL);
}


/* The number is closed by another thread while the call waits (1 s,
 * long enough for a late closer on a loaded machine): the kernel's poll
 * notices at its timeout (or at the next wake-up of its
 * set) and says POLLNVAL; its select never looks at the number again (no
 * EBADF: that is checked at the start); epoll_wait goes on with the epoll
 * set it holds. */
static int closed_fd;

static void close_later(void *arg)
{
	(void)arg;
	close(closed_fd);
}

static void c13_closed_while_waiting(void)
{
	int p[2];
	alarm(10);
	for (int how = 0; how < 3; how++) {
		pipe(p);
		closed_fd = p[0];
		struct pollfd pf = { p[0], POLLIN, 0 };
		fd_set r;
		FD_ZERO(&r);
		FD_SET(p[0], &r);
		struct timeval tv = { 1, 0 };
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 5 };
		int ep = epoll_create1(0);
		epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
		if (how == 2)
			closed_fd = ep;
		double t0 = t_ms();
		pthread_t th = t_later(close_later, NULL, 20);
		pthread_t wr = how == 2 ? t_later_write(p[1], "x", 1, 100) : 0;
		long n = how == 0 ? poll(&pf, 1, 1000) :
			 how == 1 ? select(p[0] + 1, &r, NULL, NULL, &tv) :
				    epoll_wait(ep, &ev, 1, 1000);
		int e = errno;
		double el = t_ms() - t0;
		pthread_join(th, NULL);
		if (wr)
			pthread_join(wr, NULL);
		t_out("%s=%ld %s", how == 0 ? "poll" : how == 1 ? "select" : "epoll_wait", n,
		      n < 0 ? t_errname(e) : "");
		if (how == 0)
			t_out(" revents=%#x at the timeout=%s\n", (unsigned short)pf.revents,
			      t_yes(el >= 900));
		else if (how == 1)
			t_out(" bit=%d at the timeout=%s\n", FD_ISSET(p[0], &r), t_yes(el >= 900));
		else
			t_out(" data=%llu\n", n > 0 ? (unsigned long long)ev.data.u64 : 0ULL);
		close(p[0]);
		close(p[1]);
		close(ep);
	}
}



/* events 0 asks for nothing, yet a hang-up or an error ends the wait. */
static void c13_poll_events_zero_hangup(void)
{
	int p[2];
	alarm(10);
	for (int side = 0; side < 2; side++) {
		pipe(p);
		closed_fd = p[!side];
		struct pollfd pf = { p[side], 0, 0 };
		double t0 = t_ms();
		pthread_t th = t_later(close_later, NULL, 20);
		t_res(side ? "writer's poll" : "reader's poll", poll(&pf, 1, 2000));
		t_out("revents=%#x early=%s\n", (unsigned short)pf.revents, t_yes(t_ms() - t0 < 1500));
		pthread_join(th, NULL);
		close(p[side]);
	}
}


/* select's tv_usec may be any size: glibc carries it into tv_sec (and
 * saturates), the kernel's end saturates; the time left comes back as
 * the kernel counts it. */

static void c13_large_sets(void)
{
	enum { PIPES = 60, ENTRIES = 300 };
	int p[PIPES][2];
	static struct pollfd pf[ENTRIES];
	alarm(20);
	struct rlimit rl = { 1024, 1024 };
	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < PIPES; i++)
		pipe(p[i]);
	for (int how = 0; how < 2; how++) {
		for (int i = 0; i < ENTRIES; i++)
			pf[i] = (struct pollfd){ p[i % PIPES][0], POLLIN, 0 };
		fd_set r;
		FD_ZERO(&r);
		int top = 0;
		for (int i = 0; i < PIPES; i++) {
			FD_SET(p[i][0], &r);
			top = p[i][0] > top ? p[i][0] : top;
		}
		struct timeval tv = { 2, 0 };
		pthread_t th = t_later_write(p[37][1], "x", 1, 20);
		double t0 = t_ms();
		long n = how ? select(top + 1, &r, NULL, NULL, &tv) : poll(pf, ENTRIES, 2000);
		int ready = 0;
		for (int i = 0; i < ENTRIES && !how; i++)
			ready += pf[i].revents == POLLIN;
		for (int i = 0; i < PIPES && how; i++)
			ready += FD_ISSET(p[i][0], &r);
		t_out("%s=%ld entries ready=%d early=%s\n", how ? "select" : "poll", n, ready,
		      t_yes(t_ms() - t0 < 1500));
		pthread_join(th, NULL);
		char c;
		read(p[37][0], &c, 1);
	}
}


/* select with n far above the fd table and an ordinary fd_set: the
 * kernel reads and writes only as many bits as the table has, so the
 * memory after the set is the program's — here another thread changes
 * it while select waits, and the change stays. */
static struct {
	fd_set set;
	unsigned char after[512];
} above;

static void change_after(void *arg)
{
	int fd = *(int *)arg;
	above.after[100] = 0x55;
	if (write(fd, "x", 1) != 1)
		perror("write");
}

static void c13_select_n_above_the_table(void)
{
	int p[2];
	alarm(10);
	pipe(p);
	memset(above.after, 0xab, sizeof above.after);
	FD_ZERO(&above.set);
	FD_SET(p[0], &above.set);
	struct timeval tv = { 2, 0 };
	pthread_t th = t_later(change_after, &p[1], 30);
	double t0 = t_ms();
	t_res("select", select(4000, &above.set, NULL, NULL, &tv));
	pthread_join(th, NULL);
	int kept = 1;
	for (unsigned i = 0; i < sizeof above.after; i++)
		kept &= above.after[i] == (i == 100 ? 0x55 : 0xab);
	t_out("ready=%d memory after the set as the program left it=%s early=%s\n",
	      FD_ISSET(p[0], &above.set), t_yes(kept), t_yes(t_ms() - t0 < 1500));
}


/* What the kernel checks when the wait ends: events in read-only memory
 * is EFAULT once an event comes (and the event stays for the next call);
 * a poll array in read-only memory too. */
static void c13_bad_buffers_found_at_the_end(void)
{
	int p[2];
	alarm(10);
	pipe(p);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 9 };
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t th = t_later_write(p[1], "x", 1, 20);
	t_res("epoll_wait into read-only", epoll_wait(ep, ro, 4, 2000));
	pthread_join(th, NULL);
	t_res("epoll_wait again", epoll_wait(ep, &ev, 1, 0));
	t_out("data=%llu\n", (unsigned long long)ev.data.u64);
	char c;
	read(p[0], &c, 1);
	struct pollfd *rp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rp[0] = (struct pollfd){ p[0], POLLIN, 0 };
	mprotect(rp, 4096, PROT_READ);
	th = t_later_write(p[1], "x", 1, 20);
	t_res("poll of read-only", poll(rp, 1, 2000));
	pthread_join(th, NULL);
	t_res("epoll_pwait2 maxevents 0", epoll_pwait2(ep, &ev, 0, NULL, NULL));
	t_res("epoll_wait of a pipe", epoll_wait(p[0], &ev, 1, 100));
}

/* select's timeval with tv_usec above a second: glibc normalizes it, the
 * time left comes back normalized. */

/* ---- the table ---------------------------------------------------------
 * T_BACKEND: the coroutine really waits in a hooked call. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c13_select_big_set_same_thread, T_OWNCORO | T_BACKEND),
	C(c13_poll_every_event_bit, T_OWNCORO | T_BACKEND),
	C(c13_full_mask_is_the_threads_own, T_OWNCORO | T_BACKEND),
	C(c13_epoll_two_waiters_one_edge, T_OWNCORO | T_BACKEND),
	C(c13_epoll_edge_and_oneshot, T_BACKEND),
	C(c13_epoll_ctl_while_waiting, T_BACKEND),
	C(c13_poll_odd_sets, T_BACKEND),
	C(c13_closed_while_waiting, T_BACKEND),
	C(c13_bad_buffers_found_at_the_end, T_BACKEND),
	C(c13_select_n_above_the_table, T_BACKEND),
	C(c13_large_sets, T_BACKEND),
	C(c13_poll_events_zero_hangup, T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	t_jobs_threads_under_off();
	return t_cases_main(argc, argv, cases, "exact-sets", 150);
}
