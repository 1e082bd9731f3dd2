/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks class 15: the
 * socket calls' own timeouts, marks and families —
 *
 *  - a blocking connect that waits (a listener's full queue) ends at
 *    SO_SNDTIMEO as the kernel's does: EAGAIN for unix, EINPROGRESS for TCP;
 *  - urgent data (MSG_OOB) stops a receive at the mark and is read apart;
 *  - SO_RCVLOWAT makes a blocking TCP receive wait for that many bytes,
 *    and its SO_RCVTIMEO return the bytes short of the mark;
 *  - a connect made again while one is in progress waits for it;
 *  - a unix send waits for each buffer with SO_SNDTIMEO of its own, and
 *    looks once more when it passes; recvmmsg's time left is the last
 *    datagram's;
 *  - other families (netlink, vsock) answer as the kernel answers.
 *
 * A case that could hang under a broken shim sets an alarm first, so that
 * a hang shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
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
#include <linux/icmp.h>
#include <linux/if_alg.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "t-helpers.h"

/* ---- helpers ---------------------------------------------------------- */

/* "waited about ms" as a yes/no a slow machine does not change: at least
 * 80% of it, and less than 2 s more. */
static void show_wait(double t0, int ms)
{
	double took = t_ms() - t0;
	t_out("waited=%s\n", t_yes(took >= ms * 0.8 && took < ms + 2000));
}

/* A listener of family whose accept queue is full: connects that would
 * wait.  Its fd; the address in *a, *al. */
static int full_listener(int family, struct sockaddr_storage *a, socklen_t *al)
{
	int l = t_bound(family, SOCK_STREAM, 0, a, al);
	for (int i = 0; i < 64; i++) {
		int q = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		int r = connect(q, (struct sockaddr *)a, *al);
		if (r < 0 && errno != EINPROGRESS) {
			close(q);
			break;
		}
		if (r < 0 && family != AF_UNIX) {
			/* TCP: the handshake of a connect the queue cannot hold
			 * is never answered; stop at the first that hangs. */
			struct pollfd p = { q, POLLOUT, 0 };
			if (poll(&p, 1, 200) == 0)
				break;
		}
	}
	return l;
}

/* ==== class 15 ========================================================= */

/* A blocking unix connect to a full queue with SO_SNDTIMEO 100 ms. */
static void c15_connect_sndtimeo_unix(void)
{
	struct sockaddr_storage a;
	socklen_t al;
	alarm(5);
	int l = full_listener(AF_UNIX, &a, &al);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	t_timeo(c, SO_SNDTIMEO, 100);
	double t0 = t_ms();
	t_res("connect", connect(c, (struct sockaddr *)&a, al));
	show_wait(t0, 100);
	close(l);
}

/* The same on TCP: the SYN goes unanswered; the connect goes on in the
 * kernel and says EINPROGRESS at the timeout. */
static void c15_connect_sndtimeo_tcp(void)
{
	struct sockaddr_storage a;
	socklen_t al;
	alarm(8);
	int l = full_listener(AF_INET, &a, &al);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	t_timeo(c, SO_SNDTIMEO, 150);
	double t0 = t_ms();
	t_res("connect", connect(c, (struct sockaddr *)&a, al));
	show_wait(t0, 150);
	/* made again while the first goes on: it waits as long, EALREADY */
	t0 = t_ms();
	t_res("again", connect(c, (struct sockaddr *)&a, al));
	show_wait(t0, 150);
	close(l);
}

/* Accepts what the non-blocking listener *arg queues for 2.5 s: room
 * for every SYN sent again. */
static void drain_queue(void *arg)
{
	for (int i = 0; i < 50; i++) {
		for (int n; (n = accept(*(int *)arg, NULL, NULL)) >= 0;)
			close(n);
		t_msleep(50);
	}
}

/* A non-blocking connect in progress (its SYN unanswered), the socket
 * made blocking, connect again: the kernel's waits for the handshake
 * (the SYN sent again once the queue has room) and returns 0. */
static void c15_connect_while_in_progress(void)
{
	struct sockaddr_storage a;
	socklen_t al;
	alarm(8);
	int l = full_listener(AF_INET, &a, &al);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	t_res("non-blocking", connect(c, (struct sockaddr *)&a, al));
	t_msleep(50);
	fcntl(l, F_SETFL, O_NONBLOCK);
	pthread_t th = t_later(drain_queue, &l, 0);
	fcntl(c, F_SETFL, 0);
	t_res("blocking", connect(c, (struct sockaddr *)&a, al));
	t_res("again", connect(c, (struct sockaddr *)&a, al));
	pthread_join(th, NULL);
	close(c);
	close(l);
}

/* Urgent data: a receive stops at the mark; MSG_OOB reads the byte;
 * SIOCATMARK-free: the next receive reads on. */
static void c15_recv_oob(void)
{
	int s[2];
	char b[16];
	alarm(5);
	t_pair(T_TCP, s);
	send(s[0], "ab", 2, 0);
	send(s[0], "c", 1, MSG_OOB);
	send(s[0], "de", 2, 0);
	t_msleep(50);
	struct pollfd p = { s[1], POLLIN | POLLPRI, 0 };
	t_res("poll", poll(&p, 1, 1000));
	t_out("revents=%#x\n", p.revents);
	t_show("recv", b, recv(s[1], b, sizeof b, 0));
	t_show("oob", b, recv(s[1], b, sizeof b, MSG_OOB));
	t_show("recv", b, recv(s[1], b, sizeof b, 0));
	t_show("oob-again", b, recv(s[1], b, sizeof b, MSG_OOB));
	/* a receive of urgent data that is not there yet does not wait */
	t_show("oob-none", b, recv(s[1], b, sizeof b, MSG_OOB));
}

/* SO_RCVLOWAT 10: a blocking receive waits for 5 bytes sent at 40 ms and
 * 5 more at 80 ms, and returns the 10.  (With part of it queued before
 * the call, the kernel's receive waits for a wake-up that never comes:
 * that is not tried.) */
/* 5 bytes, and 40 ms later 5 more, from one thread: in that order however
 * late it runs. */
static void two_writes(void *arg)
{
	int fd = *(int *)arg;
	write(fd, "12345", 5);
	t_msleep(40);
	write(fd, "67890", 5);
}

/* A TCP pair whose receiving end s[1] has SO_RCVLOWAT lowat. */
static void lowat_pair(int s[2], int lowat)
{
	t_pair(T_TCP, s);
	setsockopt(s[1], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
}

static void c15_recv_rcvlowat_tcp(void)
{
	int s[2];
	char b[64];
	alarm(5);
	lowat_pair(s, 10);
	for (int round = 0; round < 2; round++) {
		pthread_t th = t_later(two_writes, &s[0], 40);
		double t0 = t_ms();
		if (round == 0)
			t_show("recv", b, recv(s[1], b, sizeof b, 0));
		else
			t_show("read", b, read(s[1], b, sizeof b));
		show_wait(t0, 80);
		pthread_join(th, NULL);
	}
}

/* SO_RCVLOWAT 5 and SO_RCVTIMEO 200 ms: bytes short of the mark, come
 * during the wait (or queued before and after its start), are the answer
 * at the timeout — the kernel's call copies them though no poll says
 * ready for them — by recv, a peek and read. */
static void c15_rcvlowat_timeout_takes_short_bytes(void)
{
	int s[2];
	char b[16];
	alarm(8);
	lowat_pair(s, 5);
	t_timeo(s[1], SO_RCVTIMEO, 200);
	for (int round = 0; round < 4; round++) {
		if (round == 3)
			write(s[0], "ab", 2);
		pthread_t th = t_later_write(s[0], round == 3 ? "cd" : "abc", round == 3 ? 2 : 3, 30);
		double t0 = t_ms();
		if (round == 1) {
			t_show("peek", b, recv(s[1], b, 10, MSG_PEEK));
			show_wait(t0, 200);
			t_show("taken", b, recv(s[1], b, 10, MSG_DONTWAIT));
		} else {
			t_show(round == 2 ? "read" : "recv", b,
			       round == 2 ? read(s[1], b, 10) : recv(s[1], b, 10, 0));
			show_wait(t0, 200);
		}
		pthread_join(th, NULL);
	}
}

/* A receive of no bytes with SO_RCVTIMEO 150 ms and nothing queued: TCP's
 * waits out the timeout and returns 0 (tcp_recvmsg's loop runs once),
 * unix and UDP sockets' say EAGAIN then. */
static void c15_empty_recv_timeout(void)
{
	static const int kinds[] = { T_TCP, T_TCP, T_TCP, T_UNIX_STREAM, T_UDP };
	static const char *const what[] = { "tcp recv", "tcp recv NULL", "tcp recvmsg",
					    "unix recv", "udp recv" };
	char b[4];
	alarm(8);
	for (int k = 0; k < 5; k++) {
		int s[2];
		t_pair(kinds[k], s);
		t_timeo(s[1], SO_RCVTIMEO, 150);
		struct msghdr m = { 0 };
		double t0 = t_ms();
		t_res(what[k], k == 1 ? recv(s[1], NULL, 0, 0) :
			       k == 2 ? recvmsg(s[1], &m, 0) : recv(s[1], b, 0, 0));
		show_wait(t0, 150);
		close(s[0]);
		close(s[1]);
	}
}

/* A full unix stream socket (SO_SNDBUF 8 KiB) whose peer reads `bytes`
 * every 100 ms, `times` times, from a thread; s[0] sends. */
static int drain_bytes, drain_times;

static void drain_peer(void *arg)
{
	static char b[32768];
	for (int i = 0; i < drain_times; i++) {
		if (i)
			t_msleep(100);
		for (int got = 0, r; got < drain_bytes; got += r)
			if ((r = (int)recv(*(int *)arg, b, (size_t)(drain_bytes - got), 0)) <= 0)
				return;
	}
}

static pthread_t full_unix(int s[2], int bytes, int times)
{
	static char b[4096];
	int size = 8192;
	t_pair(T_UNIX_STREAM, s);
	setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	while (send(s[0], b, sizeof b, MSG_DONTWAIT) > 0)
		;
	t_timeo(s[0], SO_SNDTIMEO, 300);
	drain_bytes = bytes, drain_times = times;
	return t_later(drain_peer, &s[1], 100);
}

/* A unix stream send waits for each buffer with a timeout of its own
 * (sock_alloc_send_pskb): while the peer reads every 100 ms it goes on,
 * and ends 300 ms after the last read with what moved. */
static void c15_unix_send_timeout_per_buffer(void)
{
	static char big[400000];
	int s[2];
	alarm(8);
	pthread_t th = full_unix(s, 30000, 4);
	double t0 = t_ms();
	long n = send(s[0], big, sizeof big, 0);
	t_out("sent more than 100000: %s\n", t_yes(n > 100000));
	show_wait(t0, 600);
	pthread_join(th, NULL);
	close(s[0]);
	close(s[1]);
}

/* The peer reads 8 KiB at 100 ms: room for 100 bytes, but too little for
 * poll to say POLLOUT (a quarter of the buffer), so no wake-up comes; at
 * SO_SNDTIMEO the kernel's send looks once more and sends. */
static void c15_unix_send_room_below_mark(void)
{
	char b[100] = { 0 };
	alarm(8);
	for (int round = 0; round < 2; round++) {
		int s[2];
		pthread_t th = full_unix(s, 8192, 1);
		t_res(round ? "write" : "send",
		      round ? write(s[0], b, sizeof b) : send(s[0], b, sizeof b, 0));
		pthread_join(th, NULL);
		close(s[0]);
		close(s[1]);
	}
}

/* Drains the TCP socket *arg for 60 ms: room comes once. */
static void drain_tcp(void *arg)
{
	static char b[65536];
	for (double end = t_ms() + 60; t_ms() < end;)
		if (recv(*(int *)arg, b, sizeof b, MSG_DONTWAIT) <= 0)
			t_msleep(1);
}

/* A TCP send's SO_SNDTIMEO is one budget for the whole call's waits
 * (sk_stream_wait_memory; the time moving bytes is not counted): room
 * that comes at 900 ms moves bytes, and the send ends 1–1.5 s after it
 * started, not 1 s after the room came. */
static void c15_tcp_send_timeout_one_budget(void)
{
	static char big[64 << 20];
	alarm(8);
	for (int round = 0; round < 2; round++) {
		int s[2];
		t_pair(T_TCP, s);
		while (send(s[0], big, sizeof big, MSG_DONTWAIT) > 0)
			;
		t_timeo(s[0], SO_SNDTIMEO, 1000);
		pthread_t th = t_later(drain_tcp, &s[1], 900);
		double t0 = t_ms();
		long n = round ? write(s[0], big, sizeof big) : send(s[0], big, sizeof big, 0);
		double took = t_ms() - t0;
		int e = errno;
		t_out("%s: some, ended near 1 s: %s %s\n", round ? "write" : "send", t_yes(n > 0),
		      t_yes(took >= 800 && took < 1750));
		if (n <= 0 || took < 800 || took >= 1750) /* shown only where it differs */
			fprintf(stderr, "%s: %ld (%s) after %.0f ms\n", round ? "write" : "send", n,
				n < 0 ? t_errname(e) : "-", took);
		pthread_join(th, NULL);
		close(s[0]);
		close(s[1]);
	}
}

/* recvmmsg's timeout is written back as what was left when its last
 * datagram came, not when the wait for the next ended (SO_RCVTIMEO
 * 300 ms: EAGAIN, the two datagrams returned). */
static void c15_recvmmsg_time_left_at_last_datagram(void)
{
	alarm(8);
	for (int round = 0; round < 2; round++) {
		int s[2];
		char b[3][8];
		struct iovec v[3];
		struct mmsghdr m[3];
		memset(m, 0, sizeof m);
		for (int i = 0; i < 3; i++) {
			v[i] = (struct iovec){ b[i], sizeof b[i] };
			m[i].msg_hdr.msg_iov = &v[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		t_pair(T_UNIX_DGRAM, s);
		send(s[0], "a", 1, 0);
		send(s[0], "b", 1, 0);
		t_timeo(s[1], SO_RCVTIMEO, 300);
		struct timespec tmo = { round, round ? 0 : 200000000 };
		t_res("recvmmsg", recvmmsg(s[1], m, 3, 0, &tmo));
		long left = tmo.tv_sec * 1000 + tmo.tv_nsec / 1000000;
		t_out("left near all of %s: %s\n", round ? "1 s" : "200 ms",
		      t_yes(left >= (round ? 850 : 100)));
		close(s[0]);
		close(s[1]);
	}
}

/* A netlink route dump: every part until NLMSG_DONE, one message per
 * receive, MSG_TRUNC's length of a part too big for the buffer. */
static void c15_netlink_dump(void)
{
	alarm(5);
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0) {
		t_out("no netlink\n");
		return;
	}
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = { { sizeof req, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 }, { AF_UNSPEC } };
	t_res("send", send(s, &req, sizeof req, 0));
	static char buf[65536];
	int parts = 0, done = 0, links = 0;
	while (!done && parts < 100) {
		long n = recv(s, buf, sizeof buf, 0);
		if (n <= 0) {
			t_res("recv", n);
			break;
		}
		parts++;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				done = 1;
			else if (h->nlmsg_type == RTM_NEWLINK)
				links++;
		}
	}
	t_out("done=%d links>0=%s\n", done, t_yes(links > 0));
	/* a receive with nothing queued and MSG_DONTWAIT */
	t_res("empty", recv(s, buf, sizeof buf, MSG_DONTWAIT));
	/* MSG_TRUNC on a 1-byte buffer gives the part's full length */
	t_res("send", send(s, &req, sizeof req, 0));
	long n = recv(s, buf, 1, MSG_TRUNC);
	t_out("trunc gives more than 1=%s\n", t_yes(n > 1));
	close(s);
}

/* A send on a TCP socket that never connected: EPIPE and SIGPIPE; a
 * receive: ENOTCONN. */
static void c15_tcp_unconnected(void)
{
	char b[4];
	int c = socket(AF_INET, SOCK_STREAM, 0);
	signal(SIGPIPE, SIG_IGN);
	t_res("send", send(c, "x", 1, 0));
	t_res("write", write(c, "x", 1));
	t_res("recv", recv(c, b, sizeof b, 0));
	t_res("read", read(c, b, sizeof b));
	signal(SIGPIPE, SIG_DFL);
	t_res("send-nosignal", send(c, "x", 1, MSG_NOSIGNAL));
	t_res("send-default", send(c, "x", 1, 0));
}

/* A vsock connect that fails (no peer at that port; no transport to the
 * local CID, where it times out at the socket's connect timeout, here
 * 300 ms): the error, once, and the socket unconnected, so a second
 * connect tries again.  The ring woke its wait for room to write while
 * it still connected (EALREADY), and a connect after the wait started
 * over (EINPROGRESS from a blocking connect). */
static void c15_vsock_connect_fails(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = 40123 };
	struct timeval tv = { 0, 300000 };
	int err = -1;
	socklen_t len = sizeof err;
	alarm(10);
	signal(SIGPIPE, SIG_IGN);
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0) {
		t_out("no vsock here\n");
		return;
	}
	setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof tv);
	t_res("connect", connect(s, (struct sockaddr *)&a, sizeof a));
	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
	t_out("so_error=%d\n", err);
	t_res("write", write(s, "x", 1));
	t_res("connect-again", connect(s, (struct sockaddr *)&a, sizeof a));
}

/* A connected UDP socket whose peer port is closed: the ICMP refusal
 * comes back as ECONNREFUSED on the next receive, once. */
static void c15_udp_refused(void)
{
	struct sockaddr_storage a;
	socklen_t al;
	char b[4];
	alarm(5);
	int gone = t_bound(AF_INET, SOCK_DGRAM, -1, &a, &al);
	close(gone);
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	t_timeo(c, SO_RCVTIMEO, 200);
	connect(c, (struct sockaddr *)&a, al);
	t_res("send", send(c, "x", 1, 0));
	t_msleep(50);
	t_res("recv", recv(c, b, sizeof b, 0));
	t_res("recv-again", recv(c, b, sizeof b, 0));
}

/* The kernel's crypto sockets: accept on the bound socket makes an
 * operation socket at once (it never waits); a sha256 of "abc" through
 * write and read, then send and recv. */
static void c15_alg_hash(void)
{
	alarm(5);
	int s = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (s < 0) {
		t_out("no AF_ALG\n");
		return;
	}
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	strcpy((char *)sa.salg_type, "hash");
	strcpy((char *)sa.salg_name, "sha256");
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		t_out("no sha256\n");
		return;
	}
	unsigned char d[32];
	for (int round = 0; round < 2; round++) {
		int op = round ? accept4(s, NULL, NULL, SOCK_CLOEXEC) : accept(s, NULL, 0);
		t_out("accept>=0=%s\n", t_yes(op >= 0));
		long w = round ? send(op, "abc", 3, 0) : write(op, "abc", 3);
		long r = round ? recv(op, d, sizeof d, 0) : read(op, d, sizeof d);
		t_out("w=%ld r=%ld d=%02x%02x..%02x\n", w, r, d[0], d[1], d[31]);
		close(op);
	}
	close(s);
}

/* A raw ICMP socket: an echo request to 127.0.0.1 and its reply (with
 * the IP header) read back; then a receive that times out. */
static void c15_raw_icmp_echo(void)
{
	alarm(5);
	int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (s < 0) {
		t_out("no raw socket\n");
		return;
	}
	unsigned char pkt[16] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g' };
	unsigned sum = 0;
	for (int i = 0; i < 16; i += 2)
		sum += (unsigned)(pkt[i] << 8 | pkt[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	pkt[2] = (unsigned char)(sum >> 8);
	pkt[3] = (unsigned char)sum;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	/* echo requests and replies only: the host's other ICMP traffic
	 * (port unreachables of other programs' datagrams) stays out */
	struct icmp_filter only_echo = { ~(1U << ICMP_ECHO | 1U << ICMP_ECHOREPLY) };
	setsockopt(s, SOL_RAW, ICMP_FILTER, &only_echo, sizeof only_echo);
	t_res("sendto", sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to));
	unsigned char b[128];
	int replies = 0;
	t_timeo(s, SO_RCVTIMEO, 100);
	for (int i = 0; i < 4; i++) {
		long n = recv(s, b, sizeof b, 0);
		if (n < 0) {
			t_res("recv", n);
			break;
		}
		/* the request itself comes back too; count the reply */
		replies += n == 36 && b[20] == 0;
	}
	t_out("replies=%d\n", replies);
}

/* An accept that waits takes its fd number when it starts, as the
 * kernel's does: another thread's open meanwhile gets the next number,
 * the program's close of the taken one says EBADF and a dup2 onto it
 * EBUSY, and the connection comes at it. */
struct taken { int n; struct sockaddr_storage a; socklen_t al; };

static void open_during_accept(void *arg)
{
	struct taken *t = arg;
	int o = open("/dev/null", O_RDONLY);
	t_out("open-is-next=%s\n", t_yes(o == t->n + 1));
	t_res("close-taken", close(t->n));
	t_res("dup2-onto-taken", dup2(o, t->n) == t->n ? 0 : -1);
	int c = socket(t->a.ss_family, SOCK_STREAM, 0);
	t_res("connect", connect(c, (struct sockaddr *)&t->a, t->al));
	t_msleep(50);
	close(c);
	close(o);
}

static void accept_takes_number(int flags)
{
	struct taken t;
	struct sockaddr_storage peer;
	socklen_t pl = sizeof peer;
	alarm(5);
	int l = t_bound(AF_INET, SOCK_STREAM, 4, &t.a, &t.al);
	t.n = dup(0);
	close(t.n);
	pthread_t th = t_later(open_during_accept, &t, 50);
	int a = accept4(l, (struct sockaddr *)&peer, &pl, flags);
	pthread_join(th, NULL);
	t_out("accepted-at-taken=%s cloexec=%s nonblock=%s peer=%s\n", t_yes(a == t.n),
	      t_yes((fcntl(a, F_GETFD) & FD_CLOEXEC) != 0),
	      t_yes((fcntl(a, F_GETFL) & O_NONBLOCK) != 0), t_yes(peer.ss_family == AF_INET));
	t_res("next-open", open("/dev/null", O_RDONLY) - t.n);
}

static void c15_accept_takes_number_first(void)
{
	accept_takes_number(0);
}

static void c15_accept4_cloexec_takes_number_first(void)
{
	accept_takes_number(SOCK_CLOEXEC | SOCK_NONBLOCK);
}

/* ---- the table ---------------------------------------------------------
 * T_BACKEND: the coroutine really waits in a hooked call. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c15_connect_sndtimeo_unix, 0),
	C(c15_connect_sndtimeo_tcp, 0),
	C(c15_recv_oob, 0),
	C(c15_recv_rcvlowat_tcp, 0),
	C(c15_rcvlowat_timeout_takes_short_bytes, 0),
	C(c15_empty_recv_timeout, 0),
	C(c15_connect_while_in_progress, 0),
	C(c15_unix_send_timeout_per_buffer, 0),
	C(c15_unix_send_room_below_mark, 0),
	C(c15_recvmmsg_time_left_at_last_datagram, 0),
	C(c15_tcp_send_timeout_one_budget, 0),
	C(c15_netlink_dump, 0),
	C(c15_tcp_unconnected, 0),
	C(c15_udp_refused, 0),
	C(c15_vsock_connect_fails, T_BACKEND),
	C(c15_alg_hash, 0),
	C(c15_raw_icmp_echo, 0),
	C(c15_accept_takes_number_first, T_BACKEND),
	C(c15_accept4_cloexec_takes_number_first, T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "exact-conn", 150);
}
