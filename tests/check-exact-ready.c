/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks class 13,
 * readiness and sleeps: poll, ppoll, select, pselect, epoll_wait,
 * epoll_pwait2, nanosleep, clock_nanosleep, usleep and sleep —
 *
 *  - every kind of fd a wait can be for becomes ready while the call
 *    waits, and the answer is the kernel's (revents, sets, events);
 *  - select with fd sets larger than FD_SETSIZE waits like any other
 *    (it held the coroutine's thread);
 *  - a wait that a coroutine's I/O deadline ends is what a signal's EINTR
 *    leaves: select's sets as the program gave them, sleep's seconds left
 *    as glibc counts them (and errno saying why), nanosleep's bad *rem an
 *    EFAULT, not a crash.
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

/* ---- every kind of fd becomes ready while the call waits --------------
 * Each kind makes an fd that is not ready for `events`, and a trigger
 * that another thread runs 20 ms later to make it so. */
struct kind {
	const char *name;
	short events;
	int fd, other, extra;
	void (*trigger)(struct kind *);
};

static void trig_write(struct kind *k)
{
	if (write(k->other, "x", 1) != 1)
		perror("trigger write");
}

static void trig_close(struct kind *k)
{
	close(k->other);
}

static void trig_shut_wr(struct kind *k)
{
	shutdown(k->other, SHUT_WR);
}

static void trig_eventfd_read(struct kind *k)
{
	uint64_t v;
	if (read(k->fd, &v, sizeof v) != sizeof v)
		perror("trigger eventfd read");
}

static void trig_eventfd_add(struct kind *k)
{
	uint64_t v = 3;
	if (write(k->fd, &v, sizeof v) != sizeof v)
		perror("trigger eventfd write");
}

static void trig_kill(struct kind *k)
{
	(void)k;
	kill(getpid(), SIGUSR2);
}

static pid_t case_tid;

static void trig_tgkill(struct kind *k)
{
	(void)k;
	syscall(SYS_tgkill, getpid(), case_tid, SIGUSR2);
}

/* The directory case 18 watches: the case's own scratch directory. */
static char inotify_dir[PATH_MAX];

static void trig_touch(struct kind *k)
{
	(void)k;
	char f[PATH_MAX + 2];
	snprintf(f, sizeof f, "%s/f", inotify_dir);
	int fd = open(f, O_CREAT | O_WRONLY, 0600);
	close(fd);
}

static void trig_oob(struct kind *k)
{
	if (send(k->other, "!", 1, MSG_OOB) != 1)
		perror("trigger oob");
}

static void trig_connect(struct kind *k)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	getsockname(k->fd, (struct sockaddr *)&a, &len);
	k->extra = socket(AF_INET, SOCK_STREAM, 0);
	connect(k->extra, (struct sockaddr *)&a, len);
}

static void trig_netlink(struct kind *k)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = { .h = { .nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		  .g = { .rtgen_family = AF_UNSPEC } };
	send(k->fd, &req, sizeof req, 0);
}

static void trig_child(struct kind *k)
{
	(void)k; /* the child exits by itself */
}

/* A connected pair of socket kind `type`: k waits on one end for
 * `events`, the trigger acts on the other. */
static int pair_kind(struct kind *k, const char *name, int type, short events,
		     void (*trigger)(struct kind *))
{
	int p[2];
	t_pair(type, p);
	k->name = name;
	k->fd = p[1], k->other = p[0], k->events = events, k->trigger = trigger;
	return 0;
}

/* The kinds, made afresh for each call; 0 when made. */
static int make_kind(int i, struct kind *k)
{
	int p[2];
	memset(k, 0, sizeof *k);
	k->fd = k->other = k->extra = -1;
	k->events = POLLIN;
	switch (i) {
	case 0:
		k->name = "pipe";
		pipe(p);
		k->fd = p[0], k->other = p[1], k->trigger = trig_write;
		return 0;
	case 1:
		k->name = "pipe-writer-gone";
		pipe(p);
		k->fd = p[0], k->other = p[1], k->trigger = trig_close;
		return 0;
	case 2:
		k->name = "pipe-reader-gone(out)";
		pipe(p);
		fcntl(p[1], F_SETFL, O_NONBLOCK);
		while (write(p[1], "xxxxxxxxxxxxxxxx", 16) > 0)
			;
		fcntl(p[1], F_SETFL, 0);
		k->fd = p[1], k->other = p[0], k->events = POLLOUT, k->trigger = trig_close;
		return 0;
	case 3: {
		k->name = "fifo";
		char path[] = "/tmp/asy-c13-fifo";
		unlink(path);
		mkfifo(path, 0600);
		k->fd = open(path, O_RDONLY | O_NONBLOCK);
		k->other = open(path, O_WRONLY);
		unlink(path);
		fcntl(k->fd, F_SETFL, 0);
		k->trigger = trig_write;
		return 0;
	}
	case 4: case 5: case 6: case 7: case 8: {
		static const int kinds[] = { T_UNIX_STREAM, T_UNIX_DGRAM, T_UNIX_SEQPACKET, T_TCP,
					     T_UDP };
		static const char *const names[] = { "unix-stream", "unix-dgram", "unix-seqpacket",
						     "tcp", "udp" };
		return pair_kind(k, names[i - 4], kinds[i - 4], POLLIN, trig_write);
	}
	case 9:
		return pair_kind(k, "tcp-peer-shut-rdhup", T_TCP, POLLRDHUP, trig_shut_wr);
	case 10:
		return pair_kind(k, "unix-peer-shut-in", T_UNIX_STREAM, POLLIN, trig_shut_wr);
	case 11: {
		k->name = "tcp-listen";
		struct sockaddr_storage a;
		socklen_t len;
		k->fd = t_bound(AF_INET, SOCK_STREAM, 4, &a, &len);
		k->trigger = trig_connect;
		return 0;
	}
	case 12:
		return pair_kind(k, "tcp-oob(pri)", T_TCP, POLLPRI, trig_oob);
	case 13:
		k->name = "eventfd";
		k->fd = eventfd(0, 0);
		k->trigger = trig_eventfd_add;
		return 0;
	case 14: {
		k->name = "eventfd-at-max(out)";
		k->fd = eventfd(0, 0);
		uint64_t v = 0xfffffffffffffffeULL;
		write(k->fd, &v, sizeof v);
		k->events = POLLOUT, k->trigger = trig_eventfd_read;
		return 0;
	}
	case 15: case 16: {
		k->name = i == 15 ? "signalfd-process" : "signalfd-thread";
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR2);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
		k->fd = signalfd(-1, &s, 0);
		case_tid = t_gettid();
		k->trigger = i == 15 ? trig_kill : trig_tgkill;
		return 0;
	}
	case 17: {
		k->name = "timerfd";
		k->fd = timerfd_create(CLOCK_MONOTONIC, 0);
		struct itimerspec it = { .it_value = { 0, 20000000 } };
		timerfd_settime(k->fd, 0, &it, NULL);
		k->trigger = trig_child;
		return 0;
	}
	case 18:
		k->name = "inotify";
		snprintf(inotify_dir, sizeof inotify_dir, "%s", t_fs_dir());
		k->fd = inotify_init();
		inotify_add_watch(k->fd, inotify_dir, IN_CREATE);
		k->trigger = trig_touch;
		return 0;
	case 19: {
		k->name = "pidfd";
		pid_t pid = fork();
		if (pid == 0) {
			usleep(20000);
			_exit(0);
		}
		k->extra = pid;
		k->fd = (int)syscall(SYS_pidfd_open, pid, 0);
		k->trigger = trig_child;
		return 0;
	}
	case 20: {
		k->name = "epoll";
		pipe(p);
		k->fd = epoll_create1(0);
		struct epoll_event ev = { .events = EPOLLIN };
		epoll_ctl(k->fd, EPOLL_CTL_ADD, p[0], &ev);
		k->other = p[1], k->extra = p[0], k->trigger = trig_write;
		return 0;
	}
	case 21: {
		k->name = "pty-slave-gone";
		int m, s;
		if (openpty(&m, &s, NULL, NULL, NULL) < 0)
			return -1;
		k->fd = m, k->other = s, k->trigger = trig_close;
		return 0;
	}
	case 22:
		k->name = "netlink";
		k->fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
		k->trigger = trig_netlink;
		return 0;
	case 23:
		k->name = "pty-slave-input";
		if (openpty(&k->other, &k->fd, NULL, NULL, NULL) < 0)
			return -1;
		{
			/* raw: the master's byte is the slave's input at once */
			struct termios t;
			tcgetattr(k->fd, &t);
			cfmakeraw(&t);
			tcsetattr(k->fd, TCSANOW, &t);
		}
		k->trigger = trig_write;
		return 0;
	}
	return -1;
}

static void free_kind(struct kind *k)
{
	if (k->extra >= 0 && !strcmp(k->name, "pidfd"))
		waitpid(k->extra, NULL, 0);
	else if (k->extra >= 0)
		close(k->extra);
	close(k->fd);
	if (k->other >= 0 && k->trigger != trig_close)
		close(k->other);
	if (!strncmp(k->name, "signalfd", 8)) {
		sigset_t s;
		struct signalfd_siginfo si;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR2);
		int fd = signalfd(-1, &s, SFD_NONBLOCK);
		while (read(fd, &si, sizeof si) > 0)
			;
		close(fd);
		pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	}
}

static void trigger_main(void *arg)
{
	struct kind *k = arg;
	k->trigger(k);
}

enum { W_POLL, W_PPOLL, W_SELECT, W_PSELECT, W_EPOLL, W_EPOLL_PWAIT2 };

/* One call of kind `how` for k, 2 s at most: what it says, and whether it
 * came back well before its timeout. */
static void wait_kind(int how, struct kind *k)
{
	struct pollfd pf = { k->fd, k->events, 0x5a5a };
	struct timespec ts = { 2, 0 };
	struct timeval tv = { 2, 0 };
	fd_set sets[3];
	int ep = -1;
	long r = 0;
	for (int i = 0; i < 3; i++)
		FD_ZERO(&sets[i]);
	int set = k->events & POLLOUT ? 1 : k->events & POLLPRI ? 2 : 0;
	FD_SET(k->fd, &sets[set]);
	struct epoll_event ev = { .events = (unsigned)k->events, .data.u64 = 0x1122334455667788ULL },
			   out[2] = { { 0, { 0 } } };
	if (how == W_EPOLL || how == W_EPOLL_PWAIT2) {
		ep = epoll_create1(0);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, k->fd, &ev) < 0)
			t_out("%s: epoll_ctl %s\n", k->name, t_errname(errno));
	}
	double t0 = t_ms();
	pthread_t th = t_later(trigger_main, k, 20);
	switch (how) {
	case W_POLL: r = poll(&pf, 1, 2000); break;
	case W_PPOLL: r = ppoll(&pf, 1, &ts, NULL); break;
	case W_SELECT: r = select(k->fd + 1, &sets[0], &sets[1], &sets[2], &tv); break;
	case W_PSELECT: r = pselect(k->fd + 1, &sets[0], &sets[1], &sets[2], &ts, NULL); break;
	case W_EPOLL: r = epoll_wait(ep, out, 2, 2000); break;
	case W_EPOLL_PWAIT2: r = epoll_pwait2(ep, out, 2, &ts, NULL); break;
	}
	int e = errno;
	double el = t_ms() - t0;
	pthread_join(th, NULL);
	t_out("%s: r=%ld", k->name, r);
	if (r < 0)
		t_out(" %s", t_errname(e));
	if (how == W_POLL || how == W_PPOLL)
		t_out(" revents=%#x", (unsigned short)pf.revents);
	if (how == W_SELECT || how == W_PSELECT)
		t_out(" in=%d out=%d ex=%d", FD_ISSET(k->fd, &sets[0]), FD_ISSET(k->fd, &sets[1]),
		      FD_ISSET(k->fd, &sets[2]));
	if (r > 0 && (how == W_EPOLL || how == W_EPOLL_PWAIT2))
		t_out(" events=%#x data=%#llx", out[0].events, (unsigned long long)out[0].data.u64);
	t_out(" early=%s\n", t_yes(el < 1500));
	if (ep >= 0)
		close(ep);
}

static void kinds(int how)
{
	struct kind k;
	alarm(60);
	for (int i = 0; i < 24; i++) {
		if (make_kind(i, &k) < 0)
			continue;
		wait_kind(how, &k);
		free_kind(&k);
	}
}

static void c13_poll_kinds(void) { kinds(W_POLL); }
static void c13_ppoll_kinds(void) { kinds(W_PPOLL); }
static void c13_select_kinds(void) { kinds(W_SELECT); }
static void c13_pselect_kinds(void) { kinds(W_PSELECT); }
static void c13_epoll_wait_kinds(void) { kinds(W_EPOLL); }
static void c13_epoll_pwait2_kinds(void) { kinds(W_EPOLL_PWAIT2); }

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

static void j_sleeper(int i)
{
	/* Each sleep ends at its time from the common start, however late
	 * its job started (threads under ThreadSanitizer start slowly). */
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
	sleep_t0 = t_ms();
	for (int i = 0; i < SLEEPERS; i++)
		t_spawn(j_sleeper, i);
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

/* ---- the table ---------------------------------------------------------
 * T_BACKEND: the coroutine really waits in a hooked call. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c13_poll_kinds, T_BACKEND),
	C(c13_ppoll_kinds, T_BACKEND),
	C(c13_select_kinds, T_BACKEND),
	C(c13_pselect_kinds, T_BACKEND),
	C(c13_epoll_wait_kinds, T_BACKEND),
	C(c13_epoll_pwait2_kinds, T_BACKEND),
	C(c13_select_ended_keeps_sets, 0),
	C(c13_sleep_ended_seconds_left, 0),
	C(c13_nanosleep_ended_bad_rem, 0),
	C(c13_nanosleep_of_centuries_rem, 0),
	C(c13_select_big_set_same_thread, T_OWNCORO | T_BACKEND),
	C(c13_poll_every_event_bit, T_OWNCORO | T_BACKEND),
	C(c13_sleepers_wake_in_order, T_OWNCORO),
	C(c13_zero_sleeps_let_the_others_run, T_OWNCORO),
	C(c13_sleep_on_process_cpu_clock, T_OWNCORO),
	C(c13_full_mask_is_the_threads_own, T_OWNCORO | T_BACKEND),
	C(c13_epoll_two_waiters_one_edge, T_OWNCORO | T_BACKEND),
	C(c13_epoll_edge_and_oneshot, T_BACKEND),
	C(c13_epoll_ctl_while_waiting, T_BACKEND),
	C(c13_poll_odd_sets, T_BACKEND),
	C(c13_closed_while_waiting, T_BACKEND),
	C(c13_select_usec_over_a_second, T_BACKEND),
	C(c13_bad_buffers_found_at_the_end, T_BACKEND),
	C(c13_select_n_above_the_table, T_BACKEND),
	C(c13_large_sets, T_BACKEND),
	C(c13_select_huge_usec, T_BACKEND),
	C(c13_poll_events_zero_hangup, T_BACKEND),
	C(c13_clock_nanosleep_clocks, 0),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Under off a coroutine's calls never yield: the jobs are threads
	 * there, as without the library. */
	t_load_api();
	const char *(*backend)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "asy_backend_name");
	if (backend && !strcmp(backend(), "off"))
		t_api.go = NULL;
	return t_cases_main(argc, argv, cases, "exact-ready", 150);
}
