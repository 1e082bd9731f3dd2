/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks that the
 * engine's own fds are the program's business: dup2 over any number,
 * RLIMIT_NOFILE, a full fd table, /proc/self/fd, close_range and a forked
 * child see only the program's fds; a wait whose number another thread
 * closes or dup2s a socket over goes on with its own file.
 *
 * Times are never compared, only buckets ("<50ms", "50ms..1s") or yes/no.
 * A case that could hang under a broken shim sets an alarm first, so that
 * a hang shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ==== class 7: the engine's own fds are the program's business ========= */

static void wait_for_pipe(int *p, const char *what)
{
	char b[16];
	pthread_t th = later_str(p[1], what, 50);
	show_buf("pipe-read", b, read(p[0], b, sizeof b));
	join(th);
}

static void c7_dup2_900_after_wait(void)
{
	int p[2];
	unsigned char b[16];
	net(4);
	pipe(p);
	wait_for_pipe(p, "one");
	int f = record_file(100, 0);
	t_res("dup2", dup2(f, 900));
	close(f);
	t_res("read900", read(900, b, 10));
	t_out("sum=%lx\n", sum(b, 10, 0));
	t_res("pos900", lseek(900, 0, SEEK_CUR));
	wait_for_pipe(p, "two");
	t_res("pos900", lseek(900, 0, SEEK_CUR));
	t_res("read900", read(900, b, 10));
	t_out("sum=%lx\n", sum(b, 10, 0));
	write(p[1], "three", 5);
	show_buf("pipe-read", (char *)b, read(p[0], b, sizeof b));
	wait_for_pipe(p, "four");
	t_res("pos900", lseek(900, 0, SEEK_CUR));
}

static void c7_nofile_20_after_wait(void)
{
	struct rlimit rl;
	int p[2], fd = 0;
	net(4);
	pipe(p);
	while (fd >= 0 && fd < 14)
		fd = open("/dev/null", O_RDONLY);
	t_out("highest=%d\n", fd);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 20;
	t_res("setrlimit", setrlimit(RLIMIT_NOFILE, &rl));
	wait_for_pipe(p, "data");
	for (int i = 0; i < 6; i++)
		t_res("open", open("/dev/null", O_RDONLY));
	wait_for_pipe(p, "more");
}

static void *read_in_thread(void *arg)
{
	int *p = arg;
	wait_for_pipe(p, "late");
	return NULL;
}

/* The fd table is full: a blocking read in a new thread still works, and
 * nothing is printed. */
static void c7_fd_table_full_thread_read(void)
{
	struct rlimit rl;
	int p[2], fd, n = 0, last = -1;
	net(4);
	pipe(p);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 64;
	setrlimit(RLIMIT_NOFILE, &rl);
	while ((fd = open("/dev/null", O_RDONLY)) >= 0)
		n++, last = fd;
	t_out("opened=%d then %s\n", n, t_errname(errno));
	pthread_t th = go(read_in_thread, p);
	join(th);
	close(last);
	t_res("reopen", open("/dev/null", O_RDONLY) == last);
	t_res("full-again", open("/dev/null", O_RDONLY));
}

/* Another thread closes the number a coroutine waits on and the next
 * open takes it: the kernel's call holds the file it started on, so the
 * wait goes on and ends with the peer's bytes (or room) on that file,
 * and the number then holds the new file. */
struct swap { int fd, peer, drain, sock, dup, over_socket; };
/* The peer of the socket dup2'd over the number (over_socket), kept open
 * so that the socket that took the number never hangs up or gets data. */
static int swap_over_peer = -1;
static int swap_closed; /* closes of a loop to the top that closed a number */

static void *swap_then_feed(void *arg)
{
	struct swap *s = arg;
	char b[65536];
	t_msleep(50);
	int n;
	if (s->dup > 3) { /* closefrom's close_range, glibc's closefrom, a close loop */
		if (s->dup == 4)
			close_range((unsigned)s->fd, ~0U, 0);
		if (s->dup == 6)
			closefrom(s->fd);
		for (int i = s->fd; s->dup == 5 && i < 8192; i++)
			swap_closed += close(i) == 0;
		n = open("/dev/null", O_RDONLY);
	} else if (s->dup) { /* dup2 or dup3 over the number: the same, in one call */
		int o, sp[2];
		if (s->over_socket && socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0)
			o = sp[0], swap_over_peer = sp[1];
		else
			o = open("/dev/null", O_RDONLY);
		n = s->dup == 2 ? dup2(o, s->fd) : dup3(o, s->fd, O_CLOEXEC);
		close(o);
	} else {
		close(s->fd);
		n = open("/dev/null", O_RDONLY);
	}
	t_msleep(50);
	if (s->drain) {
		while (read(s->peer, b, sizeof b) > 0)
			;
	} else {
		write(s->peer, "late", 4);
	}
	return (void *)(long)(n == s->fd);
}

static void swap_during(struct swap *s, int writing)
{
	char b[16];
	pthread_t th = go(swap_then_feed, s);
	if (writing) {
		static char big[65536];
		if (s->sock)
			t_res("send", send(s->fd, big, sizeof big, 0));
		else
			t_res("write", write(s->fd, big, sizeof big));
	} else if (s->sock) {
		show_buf("recv", b, recv(s->fd, b, sizeof b, 0));
	} else {
		show_buf("read", b, read(s->fd, b, sizeof b));
	}
	void *same;
	pthread_join(th, &same);
	t_out("number-reused=%d\n", same != NULL);
	if (s->over_socket)
		t_res("recv-after", recv(s->fd, b, sizeof b, MSG_DONTWAIT));
	else
		t_res("read-after", read(s->fd, b, sizeof b));
	if (swap_over_peer >= 0)
		close(swap_over_peer);
}

/* A pipe's reader, or a stream socket's receiver (sock: recv), swapped
 * by close and open (dup 0), dup2 (2) or dup3 (3). */
static void read_swapped(int sock, int dup)
{
	int p[2];
	net(4);
	if (sock)
		socketpair(AF_UNIX, SOCK_STREAM, 0, p);
	else
		pipe(p);
	swap_during(&(struct swap){ p[0], p[1], 0, sock, dup, 0 }, 0);
}

static void c7_pipe_read_number_swapped(void)
{
	read_swapped(0, 0);
}

/* Everything from the reader's number up closed by another thread, with
 * closefrom's close_range (4), a close loop to the top (5) or glibc's
 * closefrom (6): the read goes on with its pipe.  The reader is put above the writer. */
static void read_closed_to_top(int how)
{
	int p[2];
	net(4);
	pipe(p);
	int r = fcntl(p[0], F_DUPFD, p[1] + 1);
	close(p[0]);
	swap_during(&(struct swap){ r, p[1], 0, 0, how, 0 }, 0);
	if (how == 5)
		t_out("closed=%d\n", swap_closed);
}

static void c7_pipe_read_closefrom(void)
{
	read_closed_to_top(4);
}

static void c7_pipe_read_close_loop_to_top(void)
{
	read_closed_to_top(5);
}

static void c7_pipe_read_glibc_closefrom(void)
{
	read_closed_to_top(6);
}

static void c7_socket_read_number_swapped(void)
{
	int sv[2];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	swap_during(&(struct swap){ sv[0], sv[1], 0, 0, 0, 0 }, 0);
}

/* The writer `w` is filled up; the other thread drains `r` (non-blocking). */
static void write_when_full(int w, int r, int sock)
{
	fill_up(w);
	fcntl(r, F_SETFL, O_NONBLOCK);
	swap_during(&(struct swap){ w, r, 1, sock, 0, 0 }, 1);
}

static void c7_pipe_write_number_swapped(void)
{
	int p[2];
	net(4);
	pipe(p);
	write_when_full(p[1], p[0], 0);
}

static void c7_socket_write_number_swapped(void)
{
	int sv[2];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write_when_full(sv[0], sv[1], 0);
}

static void c7_pipe_read_number_dup2(void)
{
	read_swapped(0, 2);
}

/* The same with an idle socket dup2'd over the receiver's number: a wait
 * that polled the number went on with that socket (under threads), which
 * never becomes readable, and missed the bytes of its own. */
static void c7_recv_number_dup2_socket(void)
{
	int sv[2];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	swap_during(&(struct swap){ sv[0], sv[1], 0, 1, 2, 1 }, 0);
}

static void c7_socket_read_number_dup2_socket(void)
{
	int sv[2];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	swap_during(&(struct swap){ sv[0], sv[1], 0, 0, 2, 1 }, 0);
}

static void c7_socket_write_number_dup3(void)
{
	int sv[2];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	fill_up(sv[0]);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	swap_during(&(struct swap){ sv[0], sv[1], 1, 0, 3, 0 }, 1);
}

/* A vfork child replaces the number in its own fd table (dup2, then
 * close): the parent's wait goes on on its own table's file, untouched. */
static void *vfork_dup2_then_feed(void *arg)
{
	int *p = arg;
	t_msleep(50);
	pid_t pid = vfork();
	if (pid == 0) {
		int o = open("/dev/null", O_RDONLY);
		dup2(o, p[0]);
		close(p[0]);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	t_msleep(50);
	write(p[1], "late", 4);
	close(p[1]);
	return NULL;
}

static void c7_pipe_read_vfork_child_dup2(void)
{
	int p[2];
	char b[16];
	net(4);
	pipe(p);
	pthread_t th = go(vfork_dup2_then_feed, p);
	show_buf("read", b, read(p[0], b, sizeof b));
	join(th);
	t_res("read-after", read(p[0], b, sizeof b));
}

static void c7_recv_number_dup2(void)
{
	read_swapped(1, 2);
}

static void c7_recv_number_swapped(void)
{
	read_swapped(1, 0);
}

/* A TCP receive with MSG_WAITALL that got part of its bytes waits for
 * the rest; another thread dup2s a new connection's socket, whose peer
 * has sent bytes of its own, over the number, then the old peer sends
 * the rest.  The kernel's call holds its socket: all ten bytes are the
 * old connection's, and the new socket keeps its own.  Under uring the
 * rest was received by number, from the new socket. */
static int waitall_fd, waitall_peer;

static void *dup2_tcp_then_finish(void *arg)
{
	(void)arg;
	int sv[2];
	t_msleep(50);
	if (t_sock_pair(AF_INET, SOCK_STREAM, sv) < 0)
		return NULL;
	write(sv[1], "NEWNEWNEW!", 10);
	t_msleep(20);
	dup2(sv[0], waitall_fd);
	close(sv[0]);
	t_msleep(50);
	write(waitall_peer, "defghij", 7);
	return (void *)(long)sv[1];
}

static void c7_tcp_recv_waitall_rest_number_dup2_socket(void)
{
	int sv[2];
	char b[16];
	net(4);
	if (t_sock_pair(AF_INET, SOCK_STREAM, sv) < 0)
		exit(1);
	waitall_fd = sv[0];
	waitall_peer = sv[1];
	write(waitall_peer, "abc", 3);
	pthread_t th = go(dup2_tcp_then_finish, NULL);
	show_buf("recv", b, recv(waitall_fd, b, 10, MSG_WAITALL));
	void *new_peer;
	pthread_join(th, &new_peer);
	t_msleep(20);
	show_buf("recv-after", b, recv(waitall_fd, b, sizeof b, MSG_DONTWAIT));
	close((int)(long)new_peer);
}

/* A unix connect waits for room in a full backlog; another thread closes
 * its number and a new, unconnected socket takes it, then room is made.
 * The kernel's call holds its socket: it connects that one (0), and the
 * new socket stays unconnected (ENOTCONN).  The engine's retry went by
 * number and connected the program's new socket. */
static int conn_listener, conn_fd;

static void *swap_then_accept(void *arg)
{
	(void)arg;
	t_msleep(50);
	close(conn_fd);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	t_msleep(50);
	int n = 0;
	for (int i = 0; i < 40 && n < 2; i++) {
		int a = accept(conn_listener, NULL, NULL);
		if (a >= 0)
			n++;
		else
			t_msleep(10);
	}
	return (void *)(long)s;
}

static void c7_unix_connect_number_swapped(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	net(4);
	conn_listener = t_bound(AF_UNIX, SOCK_STREAM, 0, &a, &len);
	int filled = 0;
	for (int i = 0; i < 8; i++) { /* fill the backlog */
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(c, (struct sockaddr *)&a, len) < 0)
			break;
		filled++;
	}
	fcntl(conn_listener, F_SETFL, O_NONBLOCK);
	t_out("backlog full=%s\n", t_yes(filled > 0));
	conn_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	int was = conn_fd;
	pthread_t th = go(swap_then_accept, NULL);
	t_res("connect", connect(conn_fd, (struct sockaddr *)&a, len));
	void *s;
	pthread_join(th, &s);
	t_out("new socket at the number=%s\n", t_yes((int)(long)s == was));
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	t_res("getpeername(new socket)", getpeername((int)(long)s, (struct sockaddr *)&peer, &plen));
}

/* An eventfd read waits; another thread closes its number (a dup keeps
 * the eventfd), makes a new eventfd holding 7 there, then adds 3 to the
 * old one.  The kernel's call holds its eventfd: it reads 3, and the new
 * one still holds 7.  The engine's wait went by number and read the new
 * one: every eventfd, timerfd and inotify fd has the same inode, so the
 * check that the number still held its file could not tell. */
static int ev_fd;

static void *swap_eventfd_then_add(void *arg)
{
	(void)arg;
	t_msleep(50);
	int old = dup(ev_fd);
	close(ev_fd);
	int n = eventfd(7, 0);
	t_msleep(50);
	uint64_t v = 3;
	write(old, &v, sizeof v);
	close(old);
	return (void *)(long)(n == ev_fd);
}

static void c7_eventfd_read_number_swapped(void)
{
	net(4);
	ev_fd = eventfd(0, 0);
	pthread_t th = go(swap_eventfd_then_add, NULL);
	uint64_t v = 0;
	t_res("read", read(ev_fd, &v, sizeof v));
	t_out("value=%llu\n", (unsigned long long)v);
	void *same;
	pthread_join(th, &same);
	t_out("number-reused=%d\n", same != NULL);
	v = 0;
	t_res("read-after", read(ev_fd, &v, sizeof v));
	t_out("value=%llu\n", (unsigned long long)v);
}

/* epoll_wait waits for a socket of its set; another thread dup2s an idle
 * socket over the epoll fd's number, then the socket of the set gets
 * data: the kernel's call holds its epoll set and returns the event.  A
 * wait that polled the number went on with the idle socket (under
 * threads) until the timeout. */
static int ep_over[2];
static void *dup2_over_epoll_then_feed(void *arg)
{
	int *fds = arg; /* the epoll fd, the writing end of its socket */
	t_msleep(50);
	dup2(ep_over[0], fds[0]);
	t_msleep(50);
	write(fds[1], "x", 1);
	return NULL;
}

static void c7_epoll_number_dup2_socket(void)
{
	int sv[2];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	socketpair(AF_UNIX, SOCK_STREAM, 0, ep_over);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = sv[1] };
	epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
	int fds[2] = { ep, sv[0] };
	pthread_t th = go(dup2_over_epoll_then_feed, fds);
	double t0 = now();
	memset(&ev, 0, sizeof ev);
	t_res("epoll_wait", epoll_wait(ep, &ev, 1, 2500));
	t_out("events=%#x fd-of-set=%d before-timeout=%s\n", ev.events, ev.data.fd == sv[1],
	      yes(now() - t0 < 2.0));
	join(th);
	t_res("number-now", epoll_wait(ep, &ev, 1, 0));
}

static void c7_send_number_swapped(void)
{
	int sv[2];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	write_when_full(sv[0], sv[1], 1);
}

/* accept waits; another thread closes the listening number, the next
 * open takes it, then a client connects: the kernel's accept holds the
 * listening socket, so the connection is accepted (at the lowest free
 * number, as ever). */
struct lswap { int fd, over_listener; struct sockaddr_in sa; };

static void *lswap_then_connect(void *arg)
{
	struct lswap *s = arg;
	t_msleep(50);
	long same;
	if (s->over_listener) { /* an idle listener of its own over it */
		struct sockaddr_in any = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int o = socket(AF_INET, SOCK_STREAM, 0);
		bind(o, (struct sockaddr *)&any, sizeof any);
		listen(o, 4);
		same = dup2(o, s->fd) == s->fd;
		close(o);
	} else {
		close(s->fd);
		same = open("/dev/null", O_RDONLY) == s->fd;
	}
	t_msleep(50);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&s->sa, sizeof s->sa) < 0)
		perror("connect");
	t_msleep(50);
	close(c);
	return (void *)same;
}

static void accept_swapped(int over_listener)
{
	struct lswap s = { .over_listener = over_listener, .sa = { .sin_family = AF_INET } };
	socklen_t len = sizeof s.sa;
	char b[4];
	net(4);
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	s.sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s.fd, (struct sockaddr *)&s.sa, sizeof s.sa);
	getsockname(s.fd, (struct sockaddr *)&s.sa, &len);
	listen(s.fd, 4);
	pthread_t th = go(lswap_then_connect, &s);
	int a = accept(s.fd, NULL, NULL);
	t_out("accept=%s fd-above-listener=%d\n", a >= 0 ? "ok" : t_errname(errno), a > s.fd);
	void *same;
	pthread_join(th, &same);
	t_out("number-reused=%d\n", same != NULL);
	t_res("read-accepted", read(a, b, sizeof b));
	t_res("read-number", read(s.fd, b, sizeof b));
}

static void c7_accept_number_swapped(void)
{
	accept_swapped(0);
}

/* The same with another listener dup2'd over the number: a wait that
 * polled the number went on with that one (under threads) and never saw
 * the connection. */
static void c7_accept_number_dup2_listener(void)
{
	accept_swapped(1);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void c7_proc_self_fd_after_wait(void)
{
	int p[2];
	net(4);
	pipe(p);
	t_out("fds=%d\n", count_fds());
	wait_for_pipe(p, "x");
	t_out("fds=%d\n", count_fds());
	t_res("next-fd", open("/dev/null", O_RDONLY));
}

static void c7_close_range_after_wait(void)
{
	int p[2], q[2];
	net(4);
	pipe(p);
	wait_for_pipe(p, "before");
	t_res("close_range", syscall(SYS_close_range, 3, ~0U, 0));
	pipe(q);
	t_out("pipe=%d,%d\n", q[0], q[1]);
	wait_for_pipe(q, "after");
	t_res("next-fd", open("/dev/null", O_RDONLY));
	wait_for_pipe(q, "again");
}

static void c7_fork_child_lists_fds(void)
{
	int p[2], res[2];
	net(4);
	pipe(p);
	pipe(res);
	wait_for_pipe(p, "x");
	pid_t pid = fork();
	if (pid == 0) {
		char line[64];
		int len = snprintf(line, sizeof line, "fds=%d\n", count_fds());
		write(res[1], line, (size_t)len);
		_exit(0);
	}
	close(res[1]);
	child_line(res[0]);
	int st;
	waitpid(pid, &st, 0);
	show_status("child", st);
	t_out("parent fds=%d\n", count_fds());
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c7_dup2_900_after_wait, T_BACKEND),
	C(c7_nofile_20_after_wait, T_BACKEND),
	C(c7_fd_table_full_thread_read, T_STDERR),
	C(c7_proc_self_fd_after_wait, T_BACKEND),
	C(c7_close_range_after_wait, T_BACKEND),
	C(c7_fork_child_lists_fds, T_NOCORO),
	C(c7_pipe_read_number_swapped, T_BACKEND),
	C(c7_pipe_read_closefrom, T_BACKEND),
	C(c7_pipe_read_close_loop_to_top, T_BACKEND),
	C(c7_pipe_read_glibc_closefrom, T_BACKEND),
	C(c7_socket_read_number_swapped, T_BACKEND),
	C(c7_pipe_write_number_swapped, T_BACKEND),
	C(c7_socket_write_number_swapped, T_BACKEND),
	C(c7_recv_number_swapped, T_BACKEND),
	C(c7_tcp_recv_waitall_rest_number_dup2_socket, T_BACKEND),
	C(c7_unix_connect_number_swapped, 0),
	C(c7_eventfd_read_number_swapped, T_BACKEND),
	C(c7_pipe_read_number_dup2, T_BACKEND),
	C(c7_socket_write_number_dup3, T_BACKEND),
	C(c7_recv_number_dup2, T_BACKEND),
	C(c7_recv_number_dup2_socket, T_BACKEND),
	C(c7_socket_read_number_dup2_socket, T_BACKEND),
	C(c7_pipe_read_vfork_child_dup2, T_BACKEND),
	C(c7_send_number_swapped, T_BACKEND),
	C(c7_accept_number_swapped, T_BACKEND),
	C(c7_accept_number_dup2_listener, T_BACKEND),
	C(c7_epoll_number_dup2_socket, T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-fds", 150);
}
