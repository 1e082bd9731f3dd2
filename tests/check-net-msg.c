/* Sockets, part 2: the recv family (issue 10, "Semantics"); the send
 * family is in check-net-send.c.
 * Same variants and rules as check-net.c: each case runs without the
 * shim, under off, uring and threads, and inside a coroutine, and must
 * print what plain glibc prints and end the same way. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "t-helpers.h"

#define yes t_yes
#define MiB (1024L * 1024)


static void *volatile bad_ptr = (void *)8;
static volatile size_t huge_count = (size_t)-1;

static int is_stream(int k)
{
	return t_kinds[k].type == SOCK_STREAM;
}

/* ==== recv family ======================================================= */

/* MSG_PEEK leaves the data; MSG_DONTWAIT and a non-blocking socket answer
 * EAGAIN at once; a 0-byte recv; per socket kind. */
static void recv_peek_dontwait(int k)
{
	int p[2];
	char b[16];
	alarm(5);
	t_pair(k, p);
	t_out("%s\n", t_sock_name(t_kinds[k].family, t_kinds[k].type));
	double t0 = t_ms();
	t_res("dontwait", recv(p[1], b, sizeof b, MSG_DONTWAIT));
	int fl = fcntl(p[1], F_GETFL);
	fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
	t_res("nonblock", recv(p[1], b, sizeof b, 0));
	t_res("nonblock-recvfrom", recvfrom(p[1], b, sizeof b, 0, NULL, NULL));
	fcntl(p[1], F_SETFL, fl);
	t_out("at once: %s\n", yes(t_ms() - t0 < 500));
	send(p[0], "hello", 5, 0);
	send(p[0], "world", 5, 0);
	struct pollfd pf = { p[1], POLLIN, 0 };
	poll(&pf, 1, 1000);
	t_show("peek", b, recv(p[1], b, 3, MSG_PEEK));
	t_show("peek-again", b, recv(p[1], b, sizeof b, MSG_PEEK));
	t_res("zero", recv(p[1], b, 0, 0));
	/* a stream may have merged the two sends; wait for the second */
	if (is_stream(k))
		t_show("recv", b, recv(p[1], b, 10, MSG_WAITALL));
	else {
		t_show("recv", b, recv(p[1], b, sizeof b, 0));
		t_show("recv", b, recv(p[1], b, sizeof b, MSG_DONTWAIT));
	}
	t_res("empty", recv(p[1], b, sizeof b, MSG_DONTWAIT));
}

static void recv_peek_dontwait_each(void)
{
	t_out("-- unix_stream\n");
	recv_peek_dontwait(T_UNIX_STREAM);
	t_out("-- unix_dgram\n");
	recv_peek_dontwait(T_UNIX_DGRAM);
	t_out("-- unix_seqpacket\n");
	recv_peek_dontwait(T_UNIX_SEQPACKET);
	t_out("-- tcp\n");
	recv_peek_dontwait(T_TCP);
	t_out("-- tcp6\n");
	recv_peek_dontwait(T_TCP6);
	t_out("-- udp\n");
	recv_peek_dontwait(T_UDP);
	t_out("-- udp6\n");
	recv_peek_dontwait(T_UDP6);
}

/* A blocking recv of each kind waits for what another thread sends. */
static void recv_waits(int k)
{
	int p[2];
	char b[16];
	alarm(5);
	t_pair(k, p);
	double t0 = t_ms();
	pthread_t tw = t_later_write(p[0], "later", 5, 50);
	t_show("recv", b, recv(p[1], b, sizeof b, 0));
	t_out("waited: %s\n", yes(t_ms() - t0 >= 49));
	pthread_join(tw, NULL);
	tw = t_later_write(p[0], "msg", 3, 20);
	struct iovec v = { b, sizeof b };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_flags = -1 };
	t_show("recvmsg", b, recvmsg(p[1], &m, 0));
	t_out("msg_flags=%#x\n", m.msg_flags);
	pthread_join(tw, NULL);
}

static void recv_waits_each(void)
{
	t_out("-- unix_stream\n");
	recv_waits(T_UNIX_STREAM);
	t_out("-- unix_dgram\n");
	recv_waits(T_UNIX_DGRAM);
	t_out("-- unix_seqpacket\n");
	recv_waits(T_UNIX_SEQPACKET);
	t_out("-- tcp\n");
	recv_waits(T_TCP);
	t_out("-- udp6\n");
	recv_waits(T_UDP6);
}

/* MSG_WAITALL: full count when the bytes come in pieces; short at EOF. */
static int waitall_fd;

static void send_pieces(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++) {
		t_msleep(20);
		send(waitall_fd, "abcdefghijkl" + 4 * i, 4, MSG_NOSIGNAL);
	}
}

static void recv_waitall(int k)
{
	int p[2];
	char b[32];
	alarm(5);
	t_pair(k, p);
	waitall_fd = p[0];
	pthread_t tw = t_later(send_pieces, NULL, 0);
	t_show("waitall", b, recv(p[1], b, 12, MSG_WAITALL));
	pthread_join(tw, NULL);
	send(p[0], "tail", 4, 0);
	shutdown(p[0], SHUT_WR);
	t_show("at-eof", b, recv(p[1], b, 12, MSG_WAITALL));
	t_show("eof", b, recv(p[1], b, 12, MSG_WAITALL));
}

static void recv_waitall_each(void)
{
	t_out("-- unix_stream\n");
	recv_waitall(T_UNIX_STREAM);
	t_out("-- tcp\n");
	recv_waitall(T_TCP);
}

/* MSG_WAITALL interrupted by a handler: the bytes that came are returned,
 * with or without SA_RESTART; nothing is lost. */
static void recv_waitall_signal(int flags)
{
	int p[2];
	char b[32];
	alarm(5);
	socketpair(AF_UNIX, SOCK_STREAM, 0, p);
	send(p[0], "part", 4, 0);
	t_handle(SIGUSR1, flags);
	pthread_t ts = t_later_signal(SIGUSR1, 10);
	t_show("waitall", b, recv(p[1], b, 12, MSG_WAITALL));
	t_out("handled=%d\n", (int)t_handled);
	pthread_join(ts, NULL);
	t_handled = 0;
	ts = t_later_signal(SIGUSR1, 10);
	pthread_t tw = t_after_signal_write(p[0], "rest", 4, 50);
	long r = recv(p[1], b, 12, 0);
	t_show("empty-then", b, r);
	pthread_join(ts, NULL);
	pthread_join(tw, NULL);
	if (r < 0)
		t_show("after", b, recv(p[1], b, 12, 0));
}

static void recv_waitall_eintr(void) { recv_waitall_signal(0); }
static void recv_waitall_restart(void) { recv_waitall_signal(SA_RESTART); }

/* One datagram per call: a short buffer truncates it (MSG_TRUNC in
 * msg_flags; with MSG_TRUNC in flags the real length) and the rest is
 * discarded exactly once; the next call gets the next datagram. */
static void recv_trunc(int k)
{
	int p[2];
	char b[32];
	alarm(5);
	t_pair(k, p);
	for (int i = 0; i < 4; i++)
		send(p[0], i % 2 ? "next" : "0123456789", i % 2 ? 4 : 10, 0);
	struct pollfd pf = { p[1], POLLIN, 0 };
	poll(&pf, 1, 1000);
	t_show("short", b, recv(p[1], b, 4, 0));
	t_show("next", b, recv(p[1], b, sizeof b, 0));
	t_res("trunc-flag", recv(p[1], b, 4, MSG_TRUNC));
	struct iovec v = { b, 3 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	t_show("recvmsg", b, recvmsg(p[1], &m, 0));
	t_out("msg_flags=%s\n", m.msg_flags & MSG_TRUNC ? "MSG_TRUNC" : "0");
	t_res("empty", recv(p[1], b, sizeof b, MSG_DONTWAIT));
	/* a 0-length datagram and a 0-byte read of a datagram */
	send(p[0], "", 0, 0);
	send(p[0], "gone", 4, 0);
	poll(&pf, 1, 1000);
	t_res("zero-dgram", recv(p[1], b, sizeof b, 0));
	t_res("zero-read", recv(p[1], b, 0, 0));
	t_res("consumed", recv(p[1], b, sizeof b, MSG_DONTWAIT));
}

static void recv_trunc_each(void)
{
	t_out("-- unix_dgram\n");
	recv_trunc(T_UNIX_DGRAM);
	t_out("-- unix_seqpacket\n");
	recv_trunc(T_UNIX_SEQPACKET);
	t_out("-- udp\n");
	recv_trunc(T_UDP);
	t_out("-- udp6\n");
	recv_trunc(T_UDP6);
}

/* MSG_TRUNC on a T_TCP stream discards the bytes it counts. */
static void recv_trunc_tcp(void)
{
	int p[2];
	char b[16];
	alarm(5);
	t_pair(T_TCP, p);
	send(p[0], "0123456789", 10, 0);
	struct pollfd pf = { p[1], POLLIN, 0 };
	poll(&pf, 1, 1000);
	t_res("trunc", recv(p[1], NULL, 4, MSG_TRUNC));
	t_show("rest", b, recv(p[1], b, sizeof b, 0));
}

/* Names written back: recvfrom's address and its length (truncated when
 * the buffer is short; NULL allowed), msg_namelen and msg_flags. */
static void recv_names(int family)
{
	int p[2];
	char b[16];
	struct sockaddr_storage from, mine;
	socklen_t flen, mlen = sizeof mine;
	alarm(5);
	if (family == AF_UNIX) {
		socklen_t l;
		struct sockaddr_storage a;
		p[1] = t_bound(AF_UNIX, SOCK_DGRAM, -1, &a, &l);
		p[0] = t_bound(AF_UNIX, SOCK_DGRAM, -1, &mine, &mlen);
		connect(p[0], (struct sockaddr *)&a, l);
	} else
		t_sock_pair(family, SOCK_DGRAM, p);
	getsockname(p[0], (struct sockaddr *)&mine, &mlen);
	for (int i = 0; i < 4; i++)
		send(p[0], "dgram", 5, 0);
	flen = sizeof from;
	memset(&from, 0xa5, sizeof from);
	recvfrom(p[1], b, sizeof b, 0, (struct sockaddr *)&from, &flen);
	t_out("full: len=%u sender=%s\n", (unsigned)flen,
	      yes(flen == mlen && !memcmp(&from, &mine, flen)));
	flen = 4;
	memset(&from, 0xa5, sizeof from);
	recvfrom(p[1], b, sizeof b, 0, (struct sockaddr *)&from, &flen);
	t_out("short: len=%u kept-after-4=%s\n", (unsigned)flen,
	      yes(((unsigned char *)&from)[4] == 0xa5));
	t_res("null", recvfrom(p[1], b, sizeof b, 0, NULL, NULL));
	struct iovec v = { b, sizeof b };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &v,
			    .msg_iovlen = 1, .msg_control = b, .msg_controllen = 8,
			    .msg_flags = -1 };
	t_res("recvmsg", recvmsg(p[1], &m, 0));
	t_out("namelen=%u controllen=%zu flags=%#x\n", (unsigned)m.msg_namelen, m.msg_controllen,
	      m.msg_flags);
}

static void recv_names_each(void)
{
	t_out("-- unix\n");
	recv_names(AF_UNIX);
	t_out("-- udp\n");
	recv_names(AF_INET);
	t_out("-- udp6\n");
	recv_names(AF_INET6);
}

/* SCM_RIGHTS: fds arrive exactly once, at the lowest free numbers;
 * MSG_CMSG_CLOEXEC marks them; a short control buffer gives MSG_CTRUNC and
 * installs only what fits. */
static int send_fds(int s, int n)
{
	int fds[3] = { 0, 1, 2 };
	char c[CMSG_SPACE(sizeof fds)];
	struct iovec v = { "x", 1 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = c,
			    .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(h), fds, sizeof(int) * (size_t)n);
	return (int)sendmsg(s, &m, 0);
}

static void recv_fds(int s, size_t cap, int flags, const char *what)
{
	char b[4], c[256];
	int lowest = dup(0);
	close(lowest);
	int before = t_nfds();
	struct iovec v = { b, sizeof b };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = cap ? c : NULL,
			    .msg_controllen = cap };
	long r = recvmsg(s, &m, flags);
	int got = 0, first = -1, cloexec = 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		int n = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
			first = got++ ? first : fd;
			cloexec += (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
		}
	}
	t_out("%s: r=%ld flags=%s%s fds=%d new-open=%d at-lowest=%s cloexec=%d\n", what, r,
	      m.msg_flags & MSG_CTRUNC ? "CTRUNC" : "", m.msg_flags & MSG_TRUNC ? "TRUNC" : "",
	      got, t_nfds() - before, yes(!got || first == lowest), cloexec);
}

static void scm_rights(int type)
{
	int p[2];
	alarm(5);
	socketpair(AF_UNIX, type, 0, p);
	t_res("sendmsg", send_fds(p[0], 3));
	recv_fds(p[1], 256, 0, "all");
	send(p[0], "y", 1, 0);
	recv_fds(p[1], 256, 0, "once");
	send_fds(p[0], 2);
	recv_fds(p[1], 256, MSG_CMSG_CLOEXEC, "cloexec");
	send_fds(p[0], 3);
	recv_fds(p[1], CMSG_SPACE(sizeof(int)), 0, "short");
	send_fds(p[0], 3);
	recv_fds(p[1], 0, 0, "none");
	t_res("empty", recv(p[1], p, 1, MSG_DONTWAIT));
}

static void scm_rights_unix_stream(void) { scm_rights(SOCK_STREAM); }
static void scm_rights_unix_dgram(void) { scm_rights(SOCK_DGRAM); }
static void scm_rights_unix_seqpacket(void) { scm_rights(SOCK_SEQPACKET); }

/* MSG_ERRQUEUE never waits: EAGAIN when empty; with IP_RECVERR a loopback
 * port unreachable is queued with the datagram that caused it. */
static void recv_errqueue_udp(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	char b[16], c[256];
	int one = 1;
	alarm(5);
	int gone = t_bound(AF_INET, SOCK_DGRAM, -1, &a, &len);
	close(gone); /* nobody there: the kernel answers port unreachable */
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	double t0 = t_ms();
	t_res("empty", recv(s, b, sizeof b, MSG_ERRQUEUE));
	t_out("at once: %s\n", yes(t_ms() - t0 < 500));
	setsockopt(s, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
	t_res("sendto", sendto(s, "probe", 5, 0, (struct sockaddr *)&a, len));
	struct pollfd pf = { s, 0, 0 };
	t_res("poll", poll(&pf, 1, 1000));
	t_out("revents=%#x\n", pf.revents);
	struct iovec v = { b, sizeof b };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = c,
			    .msg_controllen = sizeof c };
	long r = recvmsg(s, &m, MSG_ERRQUEUE);
	t_show("errqueue", b, r);
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (r >= 0 && h && h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_RECVERR) {
		struct sock_extended_err ee;
		memcpy(&ee, CMSG_DATA(h), sizeof ee);
		t_out("ee_errno=%s origin=%d flags=%s\n", t_errname((int)ee.ee_errno),
		      ee.ee_origin, m.msg_flags & MSG_ERRQUEUE ? "ERRQUEUE" : "0");
	}
	t_res("again", recv(s, b, sizeof b, MSG_ERRQUEUE));
	t_res("plain", recv(s, b, sizeof b, MSG_DONTWAIT));
}

/* recvmmsg: how many datagrams, each one's length; vlen 0; MSG_WAITFORONE;
 * the timeout checked after each datagram; bad arguments. */
static void recvmmsg_count_timeout(int k)
{
	int p[2];
	char b[8][16];
	struct iovec v[8];
	struct mmsghdr mm[8];
	alarm(5);
	t_pair(k, p);
	for (int i = 0; i < 8; i++) {
		v[i] = (struct iovec){ b[i], sizeof b[i] };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &v[i], .msg_iovlen = 1 } };
	}
	for (int i = 0; i < 3; i++)
		send(p[0], "one\0two\0three" + 4 * i, 3 + (i == 2) * 2, 0);
	struct pollfd pf = { p[1], POLLIN, 0 };
	poll(&pf, 1, 1000);
	t_res("vlen0", recvmmsg(p[1], mm, 0, MSG_DONTWAIT, NULL));
	t_res("vlen2", recvmmsg(p[1], mm, 2, 0, NULL));
	t_out("lens=%u,%u '%.3s'\n", mm[0].msg_len, mm[1].msg_len, b[1]);
	t_res("rest-dontwait", recvmmsg(p[1], mm, 8, MSG_DONTWAIT, NULL));
	t_out("len=%u '%.5s'\n", mm[0].msg_len, b[0]);
	t_res("empty-dontwait", recvmmsg(p[1], mm, 8, MSG_DONTWAIT, NULL));
	send(p[0], "w1", 2, 0);
	t_res("waitforone", recvmmsg(p[1], mm, 8, MSG_WAITFORONE, NULL));
	/* the timeout is looked at after each datagram: one already due ends
	 * the call after the first */
	send(p[0], "t1", 2, 0);
	send(p[0], "t2", 2, 0);
	struct timespec zero = { 0, 0 };
	t_res("timeout-zero", recvmmsg(p[1], mm, 8, 0, &zero));
	t_res("left", recvmmsg(p[1], mm, 8, MSG_DONTWAIT, NULL));
	/* two datagrams, room for four, a 50 ms timeout: the third wait ends
	 * with SO_RCVTIMEO's EAGAIN and the call returns the two */
	send(p[0], "u1", 2, 0);
	send(p[0], "u2", 2, 0);
	struct timespec ts = { 0, 50 * 1000000 };
	t_timeo(p[1], SO_RCVTIMEO, 100);
	double t0 = t_ms();
	t_res("timeout+rcvtimeo", recvmmsg(p[1], mm, 4, 0, &ts));
	/* the kernel counts SO_RCVTIMEO in jiffies, which lag real time on a
	 * loaded virtual machine: its own wait has ended short of 100 ms (the
	 * CI, ASan, "off": the kernel's recvmmsg itself); 90 still tells the
	 * 100 ms wait from recvmmsg's 50 */
	t_out("waited>=90ms: %s\n", yes(t_ms() - t0 >= 90));
	struct timespec bad = { 0, 2000000000 };
	t_res("bad-timeout", recvmmsg(p[1], mm, 4, MSG_DONTWAIT, &bad));
	t_res("bad-vec", recvmmsg(p[1], bad_ptr, 4, MSG_DONTWAIT, NULL));
	t_res("huge-vlen-empty", recvmmsg(p[1], mm, UINT_MAX, MSG_DONTWAIT, NULL));
}

static void recvmmsg_each(void)
{
	t_out("-- unix_dgram\n");
	recvmmsg_count_timeout(T_UNIX_DGRAM);
	t_out("-- udp\n");
	recvmmsg_count_timeout(T_UDP);
}

/* A blocking recvmmsg waits for the first datagram another thread sends. */
static void recvmmsg_waits_udp(void)
{
	int p[2];
	char b[16];
	struct iovec v = { b, sizeof b };
	struct mmsghdr mm = { .msg_hdr = { .msg_iov = &v, .msg_iovlen = 1 } };
	alarm(5);
	t_pair(T_UDP, p);
	pthread_t tw = t_later_write(p[0], "late", 4, 50);
	t_res("recvmmsg", recvmmsg(p[1], &mm, 1, 0, NULL));
	t_out("len=%u '%.4s'\n", mm.msg_len, b);
	pthread_join(tw, NULL);
}

/* Errors: not a socket, bad fd, not connected, a listener, bad pointers,
 * too many iovecs, flags the family refuses. */
static void recv_errors(void)
{
	int p[2], q[2];
	char b[16];
	alarm(5);
	pipe(q);
	t_pair(T_TCP, p);
	t_res("pipe", recv(q[0], b, sizeof b, 0));
	t_res("ebadf", recv(999, b, sizeof b, 0));
	int s = socket(AF_INET, SOCK_STREAM, 0);
	t_res("unconnected-tcp", recv(s, b, sizeof b, 0));
	listen(s, 1);
	t_res("listener", recv(s, b, sizeof b, 0));
	int us = socket(AF_UNIX, SOCK_STREAM, 0);
	t_res("unconnected-unix", recv(us, b, sizeof b, 0));
	send(p[0], "kept", 4, 0);
	struct pollfd pf = { p[1], POLLIN, 0 };
	poll(&pf, 1, 1000);
	t_res("bad-buffer", recv(p[1], bad_ptr, sizeof b, 0));
	t_res("null-msg", recvmsg(p[1], NULL, 0));
	t_res("bad-msg", recvmsg(p[1], bad_ptr, 0));
	t_res("bad-msg-waitall", recvmsg(p[1], bad_ptr, MSG_WAITALL));
	struct iovec v[1100];
	for (int i = 0; i < 1100; i++)
		v[i] = (struct iovec){ b, 1 };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 1100 };
	t_res("iovlen>UIO_MAXIOV", recvmsg(p[1], &m, 0));
	m.msg_iov = NULL;
	m.msg_iovlen = 1;
	t_res("null-iov", recvmsg(p[1], &m, 0));
	t_res("oob-none", recv(p[1], b, sizeof b, MSG_OOB));
	t_show("still-there", b, recv(p[1], b, sizeof b, 0));
	int u[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, u);
	t_res("oob-unix-dgram", recv(u[1], b, sizeof b, MSG_OOB));
	/* a count far beyond the buffer: what is there fits, as the kernel
	 * copies only that (a static buffer: a stack one + 2 GiB may pass
	 * the end of the address space, EFAULT by where ASLR put it) */
	static char sb[16];
	send(p[0], "huge", 4, 0);
	poll(&pf, 1, 1000);
	t_show("huge-count", sb, recv(p[1], sb, huge_count, 0));
}

/* The peer shut down or reset: 0 at EOF, ECONNRESET once, then 0. */
static void recv_shutdown_reset(void)
{
	int p[2];
	char b[16];
	struct linger lg = { 1, 0 };
	alarm(5);
	t_pair(T_UNIX_STREAM, p);
	shutdown(p[0], SHUT_WR);
	t_res("unix-peer-shut-wr", recv(p[1], b, sizeof b, 0));
	shutdown(p[1], SHUT_RD);
	t_res("unix-own-shut-rd", recv(p[1], b, sizeof b, 0));
	t_pair(T_TCP, p);
	send(p[0], "ab", 2, 0);
	setsockopt(p[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(p[0]);
	t_msleep(20);
	t_res("tcp-reset", recv(p[1], b, sizeof b, 0));
	t_res("tcp-then", recv(p[1], b, sizeof b, 0));
	t_res("tcp-send", send(p[1], "x", 1, MSG_NOSIGNAL));
	t_pair(T_TCP, p);
	shutdown(p[1], SHUT_RD);
	t_res("tcp-own-shut-rd", recv(p[1], b, sizeof b, 0));
}

/* Another thread shuts down the socket a call waits on: recv returns 0
 * (EOF), accept EINVAL, as for a plain thread. */
static int shut_fd;

static void shut_it(void *arg)
{
	(void)arg;
	shutdown(shut_fd, SHUT_RDWR);
}

static void shutdown_wakes(void)
{
	int p[2];
	char b[8];
	struct sockaddr_storage a;
	socklen_t len;
	alarm(5);
	t_pair(T_TCP, p);
	shut_fd = p[1];
	pthread_t th = t_later(shut_it, NULL, 50);
	t_res("recv", recv(p[1], b, sizeof b, 0));
	pthread_join(th, NULL);
	shut_fd = t_bound(AF_INET, SOCK_STREAM, 4, &a, &len);
	th = t_later(shut_it, NULL, 50);
	t_res("accept", accept(shut_fd, NULL, NULL));
	pthread_join(th, NULL);
	t_pair(T_UNIX_DGRAM, p);
	shut_fd = p[1];
	th = t_later(shut_it, NULL, 50);
	t_res("recv-dgram", recv(p[1], b, sizeof b, 0));
	pthread_join(th, NULL);
}

/* ==== the table ========================================================
 * T_NOCORO: a signal interrupts a call (inside coroutines signals do not
 * interrupt hooked calls: README).  T_BACKEND: the coroutine really waits
 * in a hooked call (a peer thread or a timeout). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(recv_peek_dontwait_each, 0),
	C(recv_waits_each, T_BACKEND),
	C(recv_waitall_each, T_BACKEND),
	C(recv_waitall_eintr, T_NOCORO),
	C(recv_waitall_restart, T_NOCORO),
	C(recv_trunc_each, 0),
	C(recv_trunc_tcp, 0),
	C(recv_names_each, 0),
	C(scm_rights_unix_stream, 0),
	C(scm_rights_unix_dgram, 0),
	C(scm_rights_unix_seqpacket, 0),
	C(recv_errqueue_udp, 0),
	C(recvmmsg_each, T_BACKEND),
	C(recvmmsg_waits_udp, T_BACKEND),
	C(recv_errors, 0),
	C(recv_shutdown_reset, 0),
	C(shutdown_wakes, T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "net-msg", 150);
}
