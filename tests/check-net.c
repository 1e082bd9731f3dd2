/* Sockets, part 1: socket timeouts, connect and accept (issue 10,
 * "Semantics").  Each case runs without the shim, under off, uring and
 * threads, and inside a coroutine (uring-coro, threads-coro), and must
 * print what plain glibc prints and end the same way.  The recv and send
 * families are in check-net-msg.c, readiness and sleeps in check-poll.c.
 *
 * Times are printed as yes/no against a bound ("waited>=50ms: yes"), never
 * as numbers.  A case that could hang under a broken shim sets an alarm,
 * so that a hang shows as "signal 14" next to plain glibc's clean exit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "t-helpers.h"

#define yes t_yes


/* "waited>=ms: yes/no" and whether it stayed under a second. */
/* The kernel counts socket timeouts in jiffies from within the current
 * one: its own call may end up to a jiffy short of the time (4 ms at
 * HZ=250, 10 ms at HZ=100; plain glibc's recv once measured 48 ms of a
 * 50 ms SO_RCVTIMEO).  A call that never waited stays far below. */
#define JIFFY_MS 10

static void show_wait(double t0, int ms)
{
	double el = t_ms() - t0;
	t_out("waited>=%dms: %s, <1s: %s\n", ms, yes(el >= ms - JIFFY_MS - 1), yes(el < 1000));
}

static int fl_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static int fl_nonblock(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

static int sock_error(int fd)
{
	int e = -1;
	socklen_t len = sizeof e;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
	return e;
}

/* ==== SO_RCVTIMEO / SO_SNDTIMEO ========================================= */

/* A blocking recv with SO_RCVTIMEO and nothing to read: -1/EAGAIN after the
 * timeout; then data sent is received. */
static void rcvtimeo(int k)
{
	int p[2];
	char b[16];
	alarm(5);
	t_out("%s pair=%d\n", t_sock_name(t_kinds[k].family, t_kinds[k].type),
	      t_sock_pair(t_kinds[k].family, t_kinds[k].type, p));
	t_timeo(p[1], SO_RCVTIMEO, 50);
	double t0 = t_ms();
	t_res("recv", recv(p[1], b, sizeof b, 0));
	show_wait(t0, 50);
	send(p[0], "data", 4, 0);
	t_show("then", b, recv(p[1], b, sizeof b, 0));
}

static void timeo_recv_each(void)
{
	t_out("-- unix_stream\n");
	rcvtimeo(T_UNIX_STREAM);
	t_out("-- unix_dgram\n");
	rcvtimeo(T_UNIX_DGRAM);
	t_out("-- unix_seqpacket\n");
	rcvtimeo(T_UNIX_SEQPACKET);
	t_out("-- tcp\n");
	rcvtimeo(T_TCP);
	t_out("-- tcp6\n");
	rcvtimeo(T_TCP6);
	t_out("-- udp\n");
	rcvtimeo(T_UDP);
	t_out("-- udp6\n");
	rcvtimeo(T_UDP6);
}

/* recvfrom, recvmsg and recvmmsg honour SO_RCVTIMEO the same way. */
static void timeo_recv_calls_udp(void)
{
	int p[2];
	char b[16];
	struct sockaddr_storage from;
	socklen_t flen = sizeof from;
	struct iovec v = { b, sizeof b };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	struct mmsghdr mm = { .msg_hdr = m };
	alarm(5);
	t_sock_pair(AF_INET, SOCK_DGRAM, p);
	t_timeo(p[1], SO_RCVTIMEO, 50);
	double t0 = t_ms();
	t_res("recvfrom", recvfrom(p[1], b, sizeof b, 0, (struct sockaddr *)&from, &flen));
	t_res("recvmsg", recvmsg(p[1], &m, 0));
	t_res("recvmmsg", recvmmsg(p[1], &mm, 1, 0, NULL));
	show_wait(t0, 150);
	t_out("flen unchanged: %s\n", yes(flen == sizeof from));
}

/* MSG_WAITALL with SO_RCVTIMEO: the bytes that arrived before the timeout. */
static void timeo_recv_waitall_partial(void)
{
	int p[2];
	char b[16];
	alarm(5);
	socketpair(AF_UNIX, SOCK_STREAM, 0, p);
	send(p[0], "abc", 3, 0);
	t_timeo(p[1], SO_RCVTIMEO, 50);
	double t0 = t_ms();
	t_show("recv", b, recv(p[1], b, 10, MSG_WAITALL));
	show_wait(t0, 50);
}

/* A listener with SO_RCVTIMEO: accept gives EAGAIN after it. */
static void timeo_accept(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	alarm(5);
	for (int k = 0; k < 2; k++) {
		int l = t_bound(k ? AF_INET : AF_UNIX, SOCK_STREAM, 4, &a, &len);
		t_timeo(l, SO_RCVTIMEO, 50);
		double t0 = t_ms();
		t_res(k ? "accept-tcp" : "accept-unix", accept(l, NULL, NULL));
		show_wait(t0, 50);
		close(l);
	}
}

/* SO_SNDTIMEO on a full stream socket: -1/EAGAIN when nothing moved, the
 * count when some did. */
static void sndtimeo(int k)
{
	static char big[1 << 20];
	int p[2];
	alarm(5);
	t_sock_pair(t_kinds[k].family, t_kinds[k].type, p);
	t_timeo(p[0], SO_SNDTIMEO, 50);
	long n = send(p[0], big, sizeof big, 0);
	t_out("first: %s\n", n < 0 ? t_errname(errno) : n == sizeof big ? "all" :
			     n > 0 ? "partial" : "0");
	long filled = t_fill(p[0]);
	t_out("filled: %s\n", yes(filled >= 0));
	double t0 = t_ms();
	t_res("send-full", send(p[0], big, 4096, 0));
	show_wait(t0, 50);
	long got = t_drain(p[1]);
	t_out("drained all that moved: %s\n", yes(got == (n > 0 ? n : 0) + filled));
}

static void timeo_send_each(void)
{
	t_out("-- unix_stream\n");
	sndtimeo(T_UNIX_STREAM);
	t_out("-- tcp\n");
	sndtimeo(T_TCP);
}

/* A unix datagram receiver's queue full: a blocking send waits, and
 * SO_SNDTIMEO ends it with EAGAIN. */
static void timeo_send_unix_dgram_queue_full(void)
{
	int p[2];
	alarm(5);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, p);
	long sent = 0;
	while (send(p[0], "d", 1, MSG_DONTWAIT) == 1 && sent < 100000)
		sent++;
	t_out("queued some: %s, dontwait then: %s\n", yes(sent > 0), t_errname(errno));
	t_timeo(p[0], SO_SNDTIMEO, 50);
	double t0 = t_ms();
	t_res("send", send(p[0], "x", 1, 0));
	show_wait(t0, 50);
}

/* Helpers for other threads: connect to conn_addr (and keep the
 * socket), drain a socket. */
static struct sockaddr_storage conn_addr;
static socklen_t conn_len;
static int conn_fd = -1;

static void later_connect(void *arg)
{
	(void)arg;
	conn_fd = socket(conn_addr.ss_family, SOCK_STREAM, 0);
	if (connect(conn_fd, (struct sockaddr *)&conn_addr, conn_len) < 0)
		perror("later connect");
	else
		send(conn_fd, "hi", 2, MSG_NOSIGNAL);
}

static void later_drain(void *arg)
{
	t_drain(*(int *)arg);
}

/* A socket call with a timeout set is not restarted under SA_RESTART: the
 * signal gives EINTR (signal(7)); without a timeout it restarts and ends
 * when the peer thread acts, 50 ms after the handler ran.
 * op: 0 recv, 1 accept, 2 send. */
static void restart_with_timeo(int op)
{
	static char b[4096];
	int p[2], opt = op == 2 ? SO_SNDTIMEO : SO_RCVTIMEO;
	alarm(5);
	socketpair(AF_UNIX, SOCK_STREAM, 0, p);
	int l = t_bound(AF_UNIX, SOCK_STREAM, 4, &conn_addr, &conn_len);
	int fd = op == 0 ? p[1] : op == 1 ? l : p[0];
	if (op == 2)
		t_fill(p[0]);
	t_handle(SIGUSR1, SA_RESTART);
	for (int timeo = 300; timeo >= 0; timeo -= 300) {
		t_timeo(fd, opt, timeo);
		t_handled = 0;
		double t0 = t_ms();
		pthread_t ts = t_later_signal(SIGUSR1, 10), tp = 0;
		if (!timeo && op == 0)
			tp = t_after_signal_write(p[0], "late", 4, 50);
		else if (!timeo)
			tp = t_after_signal(op == 1 ? later_connect : later_drain, &p[1], 50);
		long r = op == 0 ? recv(fd, b, 16, 0) : op == 1 ? accept(fd, NULL, NULL) :
								 send(fd, b, sizeof b, 0);
		t_out("timeo=%d: %s handled=%d early=%s\n", timeo,
		      r < 0 ? t_errname(errno) : op == 1 ? "fd" : "ok", (int)t_handled,
		      yes(t_ms() - t0 < 300));
		pthread_join(ts, NULL);
		if (tp)
			pthread_join(tp, NULL);
		if (op == 1 && r >= 0)
			t_show("got", b, recv((int)r, b, 2, MSG_WAITALL));
		else if (op == 0 && r > 0)
			t_show("got", b, r);
	}
}

static void restart_timeo_recv(void) { restart_with_timeo(0); }
static void restart_timeo_accept(void) { restart_with_timeo(1); }
static void restart_timeo_send(void) { restart_with_timeo(2); }

/* ==== connect =========================================================== */

/* A T_TCP listener with backlog 0 whose queue holds one connection: the next
 * SYN is dropped, so a blocking connect waits (the client resends its SYN
 * after about a second). */
static int full_listener(int family, int *queued)
{
	int l = t_bound(family, SOCK_STREAM, 0, &conn_addr, &conn_len);
	*queued = socket(family, SOCK_STREAM, 0);
	connect(*queued, (struct sockaddr *)&conn_addr, conn_len);
	return l;
}

/* Interrupted on a blocking socket: EINTR, the connection goes on in the
 * kernel; the next connect (made non-blocking not to wait) gives EALREADY;
 * once the queue has room it completes: then EISCONN. */
static void connect_eintr_ealready_eisconn(void)
{
	int queued, l = full_listener(AF_INET, &queued), c = socket(AF_INET, SOCK_STREAM, 0);
	alarm(8);
	t_handle(SIGUSR1, 0);
	pthread_t ts = t_later_signal(SIGUSR1, 10);
	t_res("connect", connect(c, (struct sockaddr *)&conn_addr, conn_len));
	t_out("handled=%d\n", (int)t_handled);
	pthread_join(ts, NULL);
	set_nonblock(c, 1);
	t_res("again", connect(c, (struct sockaddr *)&conn_addr, conn_len));
	int a = accept(l, NULL, NULL);
	struct pollfd pf = { c, POLLOUT, 0 };
	t_res("poll", poll(&pf, 1, 4000));
	t_out("revents=%#x so_error=%d\n", pf.revents, sock_error(c));
	t_res("after", connect(c, (struct sockaddr *)&conn_addr, conn_len));
	t_res("after2", connect(c, (struct sockaddr *)&conn_addr, conn_len));
	close(a);
	close(queued);
}

static int acc_fd = -1;

static void later_accept(void *arg)
{
	acc_fd = accept(*(int *)arg, NULL, NULL);
}

/* Under SA_RESTART an interrupted blocking connect restarts and waits for
 * the connection (T_TCP: until the resent SYN finds room in the queue; unix:
 * until accept makes room); without it, EINTR. */
static void connect_signal(int family, int flags)
{
	int queued, l, c;
	alarm(8);
	if (family == AF_UNIX) {
		l = t_bound(AF_UNIX, SOCK_STREAM, 0, &conn_addr, &conn_len);
		queued = socket(AF_UNIX, SOCK_STREAM, 0);
		t_res("first", connect(queued, (struct sockaddr *)&conn_addr, conn_len));
		int q2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		t_res("second-nonblock", connect(q2, (struct sockaddr *)&conn_addr, conn_len));
		close(q2);
	} else
		l = full_listener(family, &queued);
	c = socket(family, SOCK_STREAM, 0);
	t_handle(SIGUSR1, flags);
	pthread_t ts = t_later_signal(SIGUSR1, 10);
	pthread_t ta = t_after_signal(later_accept, &l, 50);
	t_res("connect", connect(c, (struct sockaddr *)&conn_addr, conn_len));
	t_out("handled=%d\n", (int)t_handled);
	pthread_join(ts, NULL);
	pthread_join(ta, NULL);
	t_out("accepted=%s\n", yes(acc_fd >= 0));
	struct pollfd pf = { c, POLLOUT, 0 };
	t_res("poll", poll(&pf, 1, 4000));
	/* non-blocking: a unix connect waits for room in the queue before it
	 * looks at its own state */
	set_nonblock(c, 1);
	t_res("again", connect(c, (struct sockaddr *)&conn_addr, conn_len));
	t_res("send", send(c, "x", 1, MSG_NOSIGNAL));
}

static void connect_eintr_unix(void) { connect_signal(AF_UNIX, 0); }
static void connect_restart_unix(void) { connect_signal(AF_UNIX, SA_RESTART); }
static void connect_restart_tcp(void) { connect_signal(AF_INET, SA_RESTART); }

/* A blocking unix connect to a full backlog waits until accept makes room
 * (another thread accepts after 50 ms). */
static void connect_waits_unix_backlog(void)
{
	alarm(5);
	int l = t_bound(AF_UNIX, SOCK_STREAM, 0, &conn_addr, &conn_len);
	int q = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
	t_res("first", connect(q, (struct sockaddr *)&conn_addr, conn_len));
	double t0 = t_ms();
	pthread_t ta = t_later(later_accept, &l, 50);
	t_res("connect", connect(c, (struct sockaddr *)&conn_addr, conn_len));
	show_wait(t0, 50);
	pthread_join(ta, NULL);
	t_res("send", send(c, "x", 1, 0));
}

/* Non-blocking: EINPROGRESS, the result via poll and SO_ERROR; then
 * EISCONN.  A refusal the same way. */
static void connect_nonblock(int family)
{
	alarm(5);
	int l = t_bound(family, SOCK_STREAM, 4, &conn_addr, &conn_len);
	int c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(c, (struct sockaddr *)&conn_addr, conn_len);
	t_out("connect: %s\n", r == 0 ? "0" : t_errname(errno));
	struct pollfd pf = { c, POLLOUT, 0 };
	t_res("poll", poll(&pf, 1, 2000));
	t_out("revents=%#x so_error=%s\n", pf.revents, t_errname(sock_error(c)));
	t_res("again", connect(c, (struct sockaddr *)&conn_addr, conn_len));
	close(l);
	/* a bound port nobody listens on refuses */
	struct sockaddr_storage a;
	socklen_t len;
	int b = t_bound(family, SOCK_STREAM, -1, &a, &len);
	int d = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	r = connect(d, (struct sockaddr *)&a, len);
	t_out("refused: %s\n", r == 0 ? "0" : t_errname(errno));
	pf = (struct pollfd){ d, POLLOUT, 0 };
	t_res("poll", poll(&pf, 1, 2000));
	int e1 = sock_error(d), e2 = sock_error(d);
	t_out("revents=%#x so_error=%s then=%d\n", pf.revents, t_errname(e1), e2);
	t_res("again", connect(d, (struct sockaddr *)&a, len));
	close(b);
}

static void connect_nonblock_each(void)
{
	t_out("-- tcp\n");
	connect_nonblock(AF_INET);
	t_out("-- tcp6\n");
	connect_nonblock(AF_INET6);
}

/* Loopback refusals come at once on a blocking socket. */
static void connect_refused(void)
{
	alarm(5);
	for (int k = 0; k < 2; k++) {
		struct sockaddr_storage a;
		socklen_t len;
		int family = k ? AF_INET6 : AF_INET;
		int b = t_bound(family, SOCK_STREAM, -1, &a, &len), c = socket(family, SOCK_STREAM, 0);
		double t0 = t_ms();
		t_res(k ? "tcp6" : "tcp", connect(c, (struct sockaddr *)&a, len));
		t_out("at once: %s\n", yes(t_ms() - t0 < 500));
		t_res("again", connect(c, (struct sockaddr *)&a, len));
		close(b);
		close(c);
	}
	/* unix: a name nobody listens on, a path that is not there, a path
	 * that is no socket, a listener of another type */
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(u.sun_path + 1, "asy-t-nobody");
	t_res("unix-abstract", connect(s, (struct sockaddr *)&u, sizeof u));
	memset(u.sun_path, 0, sizeof u.sun_path);
	strcpy(u.sun_path, "/nonexistent/asy-t");
	t_res("unix-enoent", connect(s, (struct sockaddr *)&u, sizeof u));
	strcpy(u.sun_path, "/dev/null");
	t_res("unix-not-socket", connect(s, (struct sockaddr *)&u, sizeof u));
	struct sockaddr_storage a;
	socklen_t len;
	int l = t_bound(AF_UNIX, SOCK_STREAM, 4, &a, &len), d = socket(AF_UNIX, SOCK_DGRAM, 0);
	t_res("unix-dgram-to-stream", connect(d, (struct sockaddr *)&a, len));
	close(l);
	t_res("unix-after-close", connect(s, (struct sockaddr *)&a, len));
}

/* Argument errors, EISCONN, datagram connect and AF_UNSPEC. */
static void connect_errors(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	int l = t_bound(AF_INET, SOCK_STREAM, 4, &a, &len), p[2];
	int c = socket(AF_INET, SOCK_STREAM, 0);
	t_res("short-addrlen", connect(c, (struct sockaddr *)&a, 4));
	struct sockaddr_in6 six = { .sin6_family = AF_INET6, .sin6_addr = in6addr_loopback };
	t_res("wrong-family", connect(c, (struct sockaddr *)&six, sizeof six));
	t_res("bad-pointer", connect(c, (struct sockaddr *)8, len));
	t_res("ok", connect(c, (struct sockaddr *)&a, len));
	t_res("eisconn", connect(c, (struct sockaddr *)&a, len));
	pipe(p);
	t_res("pipe", connect(p[0], (struct sockaddr *)&a, len));
	t_res("ebadf", connect(999, (struct sockaddr *)&a, len));
	t_res("listener", connect(l, (struct sockaddr *)&a, len));
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	t_res("udp", connect(u, (struct sockaddr *)&a, len));
	t_res("udp-again", connect(u, (struct sockaddr *)&a, len));
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	t_res("udp-unspec", connect(u, &unspec, sizeof unspec));
	t_res("send-after-unspec", send(u, "x", 1, 0));
}

/* ==== accept / accept4 ================================================== */

static const char *family_name(int f)
{
	return f == AF_UNIX ? "unix" : f == AF_INET ? "inet" : f == AF_INET6 ? "inet6" : "other";
}

/* Port or abstract name of a address, to compare two of them. */
static int same_addr(const struct sockaddr_storage *x, const struct sockaddr_storage *y,
		     socklen_t len)
{
	return !memcmp(x, y, len);
}

/* Flags of the new fd and the peer's address in and out, per family. */
static void accept_flags_addr(int family)
{
	struct sockaddr_storage a, peer, mine;
	socklen_t len, plen, mlen = sizeof mine;
	alarm(5);
	int l = t_bound(family, SOCK_STREAM, 8, &a, &len), c[4];
	for (int i = 0; i < 4; i++) {
		c[i] = socket(family, SOCK_STREAM, 0);
		connect(c[i], (struct sockaddr *)&a, len);
	}
	int f = accept(l, NULL, NULL);
	t_out("plain: fd=%s cloexec=%d nonblock=%d\n", yes(f >= 0), fl_cloexec(f), fl_nonblock(f));
	f = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	t_out("accept4: fd=%s cloexec=%d nonblock=%d\n", yes(f >= 0), fl_cloexec(f),
	      fl_nonblock(f));
	memset(&peer, 0xa5, sizeof peer);
	plen = sizeof peer;
	f = accept4(l, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	getsockname(c[2], (struct sockaddr *)&mine, &mlen);
	t_out("addr: fd=%s cloexec=%d family=%s addrlen=%u is-client=%s\n", yes(f >= 0),
	      fl_cloexec(f), family_name(peer.ss_family), (unsigned)plen,
	      yes(plen == mlen && same_addr(&peer, &mine, plen)));
	memset(&peer, 0xa5, sizeof peer);
	plen = 2;
	f = accept(l, (struct sockaddr *)&peer, &plen);
	t_out("short: fd=%s addrlen=%u untouched-after=%s\n", yes(f >= 0), (unsigned)plen,
	      yes(((unsigned char *)&peer)[2] == 0xa5));
}

static void accept_flags_addr_each(void)
{
	t_out("-- unix\n");
	accept_flags_addr(AF_UNIX);
	t_out("-- tcp\n");
	accept_flags_addr(AF_INET);
	t_out("-- tcp6\n");
	accept_flags_addr(AF_INET6);
}

/* The new fd is the lowest free number, as always. */
static void accept_lowest_fd(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	alarm(5);
	int l = t_bound(AF_INET, SOCK_STREAM, 8, &a, &len), c[2], fds[6];
	for (int i = 0; i < 2; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		connect(c[i], (struct sockaddr *)&a, len);
	}
	for (int i = 0; i < 6; i++)
		fds[i] = dup(0);
	close(fds[4]);
	close(fds[1]);
	int f = accept(l, NULL, NULL);
	t_out("accept took the lowest hole: %s\n", yes(f == fds[1]));
	f = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	t_out("accept4 took the next: %s\n", yes(f == fds[4]));
}

/* EMFILE when no fd number is free under RLIMIT_NOFILE; the connection
 * stays queued and is accepted once the limit allows it. */
static void accept_emfile(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	struct rlimit old, rl;
	alarm(5);
	int l = t_bound(AF_UNIX, SOCK_STREAM, 8, &a, &len), c = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, len);
	send(c, "queued", 6, 0);
	getrlimit(RLIMIT_NOFILE, &old);
	int top = dup(0);
	close(top);
	rl = old;
	rl.rlim_cur = (rlim_t)top;
	setrlimit(RLIMIT_NOFILE, &rl);
	t_res("accept", accept(l, NULL, NULL));
	t_res("accept4", accept4(l, NULL, NULL, SOCK_CLOEXEC));
	setrlimit(RLIMIT_NOFILE, &old);
	int f = accept(l, NULL, NULL);
	char b[16];
	t_out("later: fd-is-top=%s\n", yes(f == top));
	t_show("data", b, recv(f, b, sizeof b, 0));
}

/* A blocking accept waits for a connection another thread makes. */
static void accept_waits(int family)
{
	alarm(5);
	int l = t_bound(family, SOCK_STREAM, 4, &conn_addr, &conn_len);
	double t0 = t_ms();
	pthread_t tc = t_later(later_connect, NULL, 50);
	int f = accept(l, NULL, NULL);
	show_wait(t0, 50);
	char b[8];
	t_show("got", b, recv(f, b, 2, MSG_WAITALL));
	pthread_join(tc, NULL);
}

static void accept_waits_each(void)
{
	t_out("-- unix\n");
	accept_waits(AF_UNIX);
	t_out("-- tcp\n");
	accept_waits(AF_INET);
	t_out("-- tcp6\n");
	accept_waits(AF_INET6);
}

/* A handler without SA_RESTART ends a blocking accept with EINTR; with it
 * the accept restarts and returns the connection that comes later. */
static void accept_signal(int flags)
{
	alarm(5);
	int l = t_bound(AF_INET, SOCK_STREAM, 4, &conn_addr, &conn_len);
	t_handle(SIGUSR1, flags);
	pthread_t ts = t_later_signal(SIGUSR1, 10);
	pthread_t tc = t_after_signal(later_connect, NULL, 50);
	int f = accept(l, NULL, NULL);
	t_out("accept=%s handled=%d\n", f >= 0 ? "fd" : t_errname(errno), (int)t_handled);
	pthread_join(ts, NULL);
	pthread_join(tc, NULL);
	if (f < 0)
		f = accept(l, NULL, NULL); /* the connection waited in the queue */
	char b[8];
	t_show("got", b, recv(f, b, 2, MSG_WAITALL));
}

static void accept_eintr(void) { accept_signal(0); }
static void accept_restart(void) { accept_signal(SA_RESTART); }

/* Errors: not listening, a datagram socket, not a socket, bad flags, a
 * non-blocking listener with nothing queued, bad address pointers. */
static void accept_errors(void)
{
	struct sockaddr_storage a, peer;
	socklen_t len, plen = sizeof peer;
	int p[2], s = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
	alarm(5);
	pipe(p);
	t_res("not-listening", accept(s, NULL, NULL));
	t_res("udp", accept(u, NULL, NULL));
	t_res("pipe", accept(p[0], NULL, NULL));
	t_res("ebadf", accept(999, NULL, NULL));
	int l = t_bound(AF_INET, SOCK_STREAM, 4, &a, &len);
	t_res("bad-flags", accept4(l, NULL, NULL, 0x4000000));
	set_nonblock(l, 1);
	double t0 = t_ms();
	t_res("nonblock", accept(l, NULL, NULL));
	t_res("nonblock4", accept4(l, NULL, NULL, SOCK_NONBLOCK));
	t_out("at once: %s\n", yes(t_ms() - t0 < 500));
	/* each failed accept below takes a connection from the queue */
	for (int i = 0; i < 4; i++)
		connect(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&a, len);
	int neg = -1;
	t_res("negative-addrlen", accept(l, (struct sockaddr *)&peer, (socklen_t *)&neg));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* (the sanitizers' own accept reads *addrlen before the call) */
	t_res("bad-addrlen-ptr", accept(l, (struct sockaddr *)&peer, (socklen_t *)8));
#endif
	t_res("bad-addr", accept(l, (struct sockaddr *)8, &plen));
	int f = accept(l, NULL, NULL);
	t_out("then: fd=%s\n", yes(f >= 0));
}

/* The peer resets the connection before accept: Linux still hands it out;
 * the first recv says ECONNRESET, the next 0; a send EPIPE. */
static void accept_peer_reset(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	struct linger lg = { 1, 0 };
	alarm(5);
	int l = t_bound(AF_INET, SOCK_STREAM, 4, &a, &len), c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, len);
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(c);
	int f = accept(l, NULL, NULL);
	char b[8];
	t_out("accept=%s\n", f >= 0 ? "fd" : t_errname(errno));
	t_res("recv", recv(f, b, sizeof b, 0));
	t_res("recv-again", recv(f, b, sizeof b, 0));
	t_res("send", send(f, "x", 1, MSG_NOSIGNAL));
	t_out("so_error=%d\n", sock_error(f));
}

/* ==== the table ========================================================
 * T_NOCORO: a signal interrupts a call (inside coroutines signals do not
 * interrupt hooked calls: README).  T_BACKEND: the coroutine really waits
 * in a hooked call (a timeout, a peer thread). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(timeo_recv_each, T_BACKEND),
	C(timeo_recv_calls_udp, T_BACKEND),
	C(timeo_recv_waitall_partial, T_BACKEND),
	C(timeo_accept, T_BACKEND),
	C(timeo_send_each, T_BACKEND),
	C(timeo_send_unix_dgram_queue_full, T_BACKEND),
	C(restart_timeo_recv, T_NOCORO),
	C(restart_timeo_accept, T_NOCORO),
	C(restart_timeo_send, T_NOCORO),
	C(connect_eintr_ealready_eisconn, T_NOCORO),
	C(connect_eintr_unix, T_NOCORO),
	C(connect_restart_unix, T_NOCORO),
	C(connect_restart_tcp, T_NOCORO),
	/* no T_BACKEND: poll cannot say when a unix backlog has room, so the
	 * engine retries that connect from the scheduler's timer (no backend
	 * op); check-net-coro's k_accept_connect shows that it yields */
	C(connect_waits_unix_backlog, 0),
	C(connect_nonblock_each, 0),
	C(connect_refused, 0),
	C(connect_errors, 0),
	C(accept_flags_addr_each, 0),
	C(accept_lowest_fd, 0),
	C(accept_emfile, 0),
	C(accept_waits_each, T_BACKEND),
	C(accept_eintr, T_NOCORO),
	C(accept_restart, T_NOCORO),
	C(accept_errors, 0),
	C(accept_peer_reset, 0),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "net", 150);
}
