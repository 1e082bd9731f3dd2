/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks class 13,
 * readiness, for every kind of fd: poll, ppoll, select, pselect,
 * epoll_wait and epoll_pwait2 wait for each kind of fd a wait can be for
 * (pipes, sockets of several families, ttys, eventfd, signalfd, timerfd,
 * inotify, pidfd ...) while another thread makes it ready, and the answer
 * is the kernel's (revents, sets, events).  A file with no poll of its
 * own (/dev/zero, /dev/null) asked for what it never is (POLLPRI, an
 * exceptfds bit) is never ready: the wait lasts its timeout, or ends with
 * another fd of the set (under uring a coroutine's wait said EINVAL at
 * once — found by check-exact-fuzz).  The other cases of class 13
 * are in check-exact-sets.c (sets, epoll's modes, coroutines of one
 * thread) and check-exact-sleeps.c (the ends of a wait, sleeps). */

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
		char path[64];
		snprintf(path, sizeof path, "/tmp/asy-c13-fifo-%d", (int)getpid());
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

/* A file with no poll of its own, asked for POLLPRI: its answer never
 * changes.  Alone the wait lasts its timeout; with a pipe it ends when
 * the pipe is written. */
static void c13_poll_file_without_poll(void)
{
	int z = open("/dev/zero", O_RDONLY), n = open("/dev/null", O_WRONLY), p[2];
	alarm(5);
	if (z < 0 || n < 0 || pipe(p) < 0)
		return;
	struct pollfd one[2] = { { z, POLLPRI, 0 }, { n, POLLPRI | POLLRDBAND, 0 } };
	double t0 = t_ms();
	t_res("poll", poll(one, 2, 60));
	t_out("waited: %s revents=%x,%x\n", t_yes(t_ms() - t0 >= 55), one[0].revents,
	      one[1].revents);
	struct pollfd two[2] = { { z, POLLPRI, 0 }, { p[0], POLLIN, 0 } };
	pthread_t th = t_later_write(p[1], "x", 1, 50);
	t_res("poll with pipe", poll(two, 2, 3000));
	pthread_join(th, NULL);
	t_out("revents=%x,%x\n", two[0].revents, two[1].revents);
	fd_set ex;
	FD_ZERO(&ex);
	FD_SET(z, &ex);
	struct timeval tv = { 0, 60000 };
	t0 = t_ms();
	t_res("select", select(z + 1, NULL, NULL, &ex, &tv));
	t_out("waited: %s set=%d\n", t_yes(t_ms() - t0 >= 55), FD_ISSET(z, &ex));
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
	C(c13_poll_file_without_poll, T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "exact-ready", 150);
}
