/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks class 9: a
 * socket call that waits ends as the kernel's waiting call ends —
 *
 *  - a unix datagram sent to a full receiver waits for room and is then
 *    sent whole (an op the ring retried sent an empty datagram, the
 *    program's was lost);
 *  - a unix stream send waiting when the peer goes away with data unread
 *    gets ECONNRESET, with no SIGPIPE (it got EPIPE and SIGPIPE, which
 *    killed a process that had not ignored it); one whose peer shuts its
 *    reading side, or whose own writing side another thread shuts, gets
 *    EPIPE without SIGPIPE (it raised one, or waited forever: no poll bit
 *    says so), and a TCP one gets EPIPE with SIGPIPE;
 *  - a TCP send whose error queue holds a timestamp moves everything (the
 *    error queue's POLLERR ended the wait with a short count);
 *  - recvmmsg's timeout and sendmmsg's msg_len are written back where the
 *    kernel writes them: into read-only memory that is EFAULT, not a crash;
 *    MSG_WAITFORONE takes what else is queued after the first datagram;
 *  - a MSG_FASTOPEN send connects and sends (MSG_DONTWAIT, added for the
 *    try, left it in progress with the data unsent);
 *  - timeouts of centuries (select's, SO_RCVTIMEO) do not overflow into
 *    "now"; select ignores bits above the fd table, and a hang-up that
 *    poll reports but select's sets do not ask for does not spin;
 *  - the kernel looks at the fd before the message: recvmmsg and sendmmsg
 *    of no message, or of a vector it cannot read, and recvmsg of a bad
 *    message on a number that holds no socket say ENOTSOCK (in a
 *    coroutine they returned 0, EFAULT, EINVAL or EMSGSIZE — found by
 *    check-exact-fuzz); a socket's pending error is recvmmsg's answer even
 *    for no message; a sendmmsg message sent in part (SO_SNDTIMEO) ends the
 *    loop, counted;
 *  - a MSG_PEEK of TCP under SO_RCVLOWAT waits for the mark, and at its
 *    SO_RCVTIMEO returns what it saw; a unix stream's peek never waits
 *    (a coroutine's TCP peek returned what was queued at once);
 *  - a peek of a socket with a peek offset (SO_PEEK_OFF) moves it once,
 *    by what the kernel's one peek returns: under SO_RCVLOWAT a TCP peek
 *    returned only the bytes past the first look's (that look had moved
 *    the offset); one whose offset is past what is queued waits for more,
 *    and at SO_RCVTIMEO says EAGAIN; MSG_PEEK|MSG_WAITALL waits for the
 *    whole buffer;
 *  - recvmmsg on a stream socket under MSG_WAITALL or SO_RCVLOWAT fills
 *    each entry as a blocking recvmsg does (a look without waiting made
 *    the queued bytes the first entry's whole).
 *
 * A case that could hang under a broken shim sets an alarm first, so that
 * a hang shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <errno.h>
#include <linux/net_tstamp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ---- helpers ---------------------------------------------------------- */

static int later_fd;
static void close_later(void *arg)
{
	(void)arg;
	close(later_fd);
}

static void recv_one_later(void *arg)
{
	char b[64];
	(void)arg;
	recv(later_fd, b, sizeof b, 0);
}

static long slow_got;
static void slow_reader(void *arg)
{
	char b[65536];
	long n, all = 0;
	(void)arg;
	while ((n = recv(later_fd, b, sizeof b, 0)) > 0) {
		all += n;
		t_msleep(1);
	}
	slow_got = all;
}

/* ==== class 9: a wait ends as the kernel's waiting call ends ========= */

/* An unconnected unix datagram socket whose receiver's queue is full:
 * another thread takes one datagram 50 ms later. */
static void c9_unix_dgram_send_to_full_receiver(void)
{
	struct sockaddr_storage a;
	socklen_t al;
	alarm(5);
	int rx = t_bound(AF_UNIX, SOCK_DGRAM, -1, &a, &al);
	int tx = socket(AF_UNIX, SOCK_DGRAM, 0);
	int n = 0;
	while (sendto(tx, "d", 1, MSG_DONTWAIT, (struct sockaddr *)&a, al) == 1)
		n++;
	for (int round = 0; round < 2; round++) {
		later_fd = rx;
		pthread_t th = t_later(recv_one_later, NULL, 50);
		if (round == 0) {
			t_res("sendto", sendto(tx, "e", 1, 0, (struct sockaddr *)&a, al));
		} else {
			struct iovec v = { "f", 1 };
			struct msghdr m = { .msg_name = &a, .msg_namelen = al, .msg_iov = &v,
					    .msg_iovlen = 1 };
			t_res("sendmsg", sendmsg(tx, &m, 0));
		}
		pthread_join(th, NULL);
	}
	char c[4];
	long r, queued = 0, empty = 0, last = 0;
	while ((r = recv(rx, c, sizeof c, MSG_DONTWAIT)) >= 0) {
		queued++;
		empty += r == 0;
		last = r > 0 ? c[0] : last;
	}
	t_out("queued=%s empty=%ld last=%c\n", queued == n ? "n" : "other", empty, (char)last);
}

/* A unix stream send that waits for room; the peer closes with data
 * unread.  SIGPIPE: ignored (`quiet`) or at its default. */
static void peer_gone(int quiet)
{
	int p[2];
	alarm(5);
	signal(SIGPIPE, quiet ? SIG_IGN : SIG_DFL);
	for (int how = 0; how < 4; how++) {
		t_pair(T_UNIX_STREAM, p);
		t_fill(p[0]);
		later_fd = p[1];
		pthread_t th = t_later(close_later, NULL, 50);
		struct iovec v = { "x", 1 };
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
		static const char *const what[] = { "send", "write", "sendmsg", "writev" };
		long r = how == 0 ? send(p[0], "x", 1, 0) : how == 1 ? write(p[0], "x", 1) :
			 how == 2 ? sendmsg(p[0], &m, 0) : writev(p[0], &v, 1);
		t_res(what[how], r);
		pthread_join(th, NULL);
		int e = 0;
		socklen_t el = sizeof e;
		getsockopt(p[0], SOL_SOCKET, SO_ERROR, &e, &el);
		t_out("so_error=%s\n", e ? t_errname(e) : "0");
		close(p[0]);
	}
	t_out("alive\n");
}

static void c9_unix_send_peer_gone_sigpipe_ignored(void) { peer_gone(1); }
static void c9_unix_send_peer_gone_sigpipe_default(void) { peer_gone(0); }

static void shut_later(void *arg)
{
	shutdown(later_fd, *(int *)arg);
}

/* A send (or write) waiting for room; 50 ms later another thread shuts
 * the peer's reading side, or the sender's own writing side. */
static void shut_while_waiting(int kind, int how)
{
	int p[2];
	alarm(5);
	t_handle(SIGPIPE, 0);
	for (int use_write = 0; use_write < 2; use_write++) {
		t_pair(kind, p);
		/* TCP moves the send queue to the peer's receive queue
		 * after the fill: fill again once it did, or the send
		 * finds room */
		t_fill(p[0]);
		t_msleep(50);
		t_fill(p[0]);
		later_fd = how == SHUT_RD ? p[1] : p[0];
		pthread_t th = t_later(shut_later, &how, 50);
		t_res(use_write ? "write" : "send",
		      use_write ? write(p[0], "x", 1) : send(p[0], "x", 1, 0));
		pthread_join(th, NULL);
		t_out("SIGPIPE handled=%d\n", t_handled);
		close(p[0]);
		close(p[1]);
	}
}

static void c9_unix_send_peer_shuts_reading(void) { shut_while_waiting(T_UNIX_STREAM, SHUT_RD); }
static void c9_unix_send_own_side_shut(void) { shut_while_waiting(T_UNIX_STREAM, SHUT_WR); }
static void c9_tcp_send_own_side_shut(void) { shut_while_waiting(T_TCP, SHUT_WR); }

/* A TCP socket with one transmit timestamp left on its error queue, then
 * a 2 MiB send (or write) to a slow reader. */
static void errqueue_send(int use_write)
{
	int p[2];
	alarm(10);
	t_pair(T_TCP, p);
	int v = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	setsockopt(p[0], SOL_SOCKET, SO_TIMESTAMPING, &v, sizeof v);
	send(p[0], "a", 1, 0);
	t_msleep(20);
	v = 0;
	setsockopt(p[0], SOL_SOCKET, SO_TIMESTAMPING, &v, sizeof v);
	int sz = 65536;
	setsockopt(p[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	size_t len = 2 << 20;
	char *m = malloc(len);
	memset(m, 't', len);
	later_fd = p[1];
	pthread_t th = t_later(slow_reader, NULL, 20);
	t_res(use_write ? "write" : "send", use_write ? write(p[0], m, len) : send(p[0], m, len, 0));
	shutdown(p[0], SHUT_WR);
	pthread_join(th, NULL);
	t_out("reader got %ld\n", slow_got);
	free(m);
}

static void c9_tcp_send_with_error_queue(void) { errqueue_send(0); }
static void c9_tcp_write_with_error_queue(void) { errqueue_send(1); }

static const struct timespec read_only_timeout = { 1, 0 };
static void c9_recvmmsg_read_only_timeout(void)
{
	int p[2];
	char b[8];
	alarm(5);
	t_pair(T_UDP, p);
	struct iovec v = { b, sizeof b };
	struct mmsghdr mm = { .msg_hdr = { .msg_iov = &v, .msg_iovlen = 1 } };
	pthread_t th = t_later_write(p[0], "x", 1, 50);
	t_res("waited", recvmmsg(p[1], &mm, 1, 0, (struct timespec *)&read_only_timeout));
	pthread_join(th, NULL);
	t_res("left", t_drain(p[1]));
	send(p[0], "y", 1, 0);
	t_msleep(20);
	t_res("queued", recvmmsg(p[1], &mm, 1, 0, (struct timespec *)&read_only_timeout));
	t_res("left", t_drain(p[1]));
}

static const struct iovec read_only_iov = { (void *)"abc", 3 };
static const struct mmsghdr read_only_vec[2] = {
	{ .msg_hdr = { .msg_iov = (struct iovec *)&read_only_iov, .msg_iovlen = 1 } },
	{ .msg_hdr = { .msg_iov = (struct iovec *)&read_only_iov, .msg_iovlen = 1 } },
};
static void c9_sendmmsg_read_only_vector(void)
{
	int p[2];
	alarm(5);
	t_pair(T_UDP, p);
	t_res("sendmmsg", sendmmsg(p[0], (struct mmsghdr *)read_only_vec, 2, 0));
	t_msleep(20);
	t_res("arrived", t_drain(p[1]));
}

static void send_two_later(void *arg)
{
	struct mmsghdr two[2] = {
		{ .msg_hdr = { .msg_iov = &(struct iovec){ "1", 1 }, .msg_iovlen = 1 } },
		{ .msg_hdr = { .msg_iov = &(struct iovec){ "2", 1 }, .msg_iovlen = 1 } },
	};
	sendmmsg(*(int *)arg, two, 2, 0);
}

/* 20 rounds: recvmmsg(MSG_WAITFORONE) waits, a thread sends two
 * datagrams in one call; the kernel's recvmmsg often takes both. */
static void c9_recvmmsg_waitforone_takes_the_rest(void)
{
	int p[2], twos = 0;
	alarm(15);
	t_pair(T_UDP, p);
	for (int round = 0; round < 20; round++) {
		char b[4][8];
		struct iovec v[4];
		struct mmsghdr mm[4];
		for (int i = 0; i < 4; i++) {
			v[i] = (struct iovec){ b[i], sizeof b[i] };
			mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &v[i], .msg_iovlen = 1 } };
		}
		pthread_t th = t_later(send_two_later, &p[0], 20);
		twos += recvmmsg(p[1], mm, 4, MSG_WAITFORONE, NULL) == 2;
		pthread_join(th, NULL);
		t_msleep(5);
		t_drain(p[1]);
	}
	t_out("some took both=%s\n", t_yes(twos > 0));
}

static void c9_tcp_fastopen_send(void)
{
	struct sockaddr_storage a;
	socklen_t al;
	char b[8];
	alarm(5);
	int l = t_bound(AF_INET, SOCK_STREAM, 5, &a, &al);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	t_res("sendto", sendto(s, "hello", 5, MSG_FASTOPEN, (struct sockaddr *)&a, al));
	int c = accept(l, NULL, NULL);
	t_msleep(30);
	t_show("got", b, recv(c, b, sizeof b, MSG_DONTWAIT));
	int s2 = socket(AF_INET, SOCK_STREAM, 0);
	struct iovec v = { "world", 5 };
	struct msghdr m = { .msg_name = &a, .msg_namelen = al, .msg_iov = &v, .msg_iovlen = 1 };
	t_res("sendmsg", sendmsg(s2, &m, MSG_FASTOPEN));
	int c2 = accept(l, NULL, NULL);
	t_msleep(30);
	t_show("got", b, recv(c2, b, sizeof b, MSG_DONTWAIT));
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* select with timeouts of centuries, ended by a byte 50 ms later: the
 * byte's answer, and the time left written back. */
static void c9_select_timeout_of_centuries(void)
{
	static const time_t secs[] = { 10000000000L, LONG_MAX / 2, LONG_MAX };
	int p[2];
	char c;
	alarm(5);
	pipe(p);
	for (int i = 0; i < 3; i++) {
		fd_set r;
		FD_ZERO(&r);
		FD_SET(p[0], &r);
		struct timeval tv = { secs[i], i == 2 ? 999999 : 0 };
		pthread_t th = t_later_write(p[1], "x", 1, 50);
		t_res("select", select(p[0] + 1, &r, NULL, NULL, &tv));
		t_out("left over 1e9 s=%s\n", t_yes(tv.tv_sec > 1000000000L));
		pthread_join(th, NULL);
		read(p[0], &c, 1);
	}
}

static void c9_rcvtimeo_of_centuries(void)
{
	int p[2];
	char b[4];
	alarm(5);
	t_pair(T_TCP, p);
	struct timeval tv = { 18446744073L, 0 };
	t_res("set", setsockopt(p[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	pthread_t th = t_later_write(p[0], "ab", 2, 80);
	t_res("recv", recv(p[1], b, sizeof b, 0));
	pthread_join(th, NULL);
}

/* fd 1000 lies above the fd table: the kernel's select never looks. */
static void c9_select_bit_above_fd_table(void)
{
	int p[2];
	alarm(5);
	pipe(p);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	FD_SET(1000, &r);
	struct timeval tv = { 0, 500000 };
	pthread_t th = t_later_write(p[1], "x", 1, 50);
	double t0 = t_ms();
	t_res("select", select(1024, &r, NULL, NULL, &tv));
	t_out("ready=%s 1000=%s before the timeout=%s\n", t_yes(FD_ISSET(p[0], &r)),
	      t_yes(FD_ISSET(1000, &r)), t_yes(t_ms() - t0 < 300));
	pthread_join(th, NULL);
}

/* Only exceptfds, on a pipe whose writer is gone: poll reports the
 * hang-up, select's sets do not ask for it — a 300 ms sleep. */
static void c9_select_hangup_not_asked(void)
{
	int p[2];
	alarm(5);
	pipe(p);
	close(p[1]);
	fd_set e;
	FD_ZERO(&e);
	FD_SET(p[0], &e);
	struct timeval tv = { 0, 300000 };
	double c0 = cpu_ms(), t0 = t_ms();
	t_res("select", select(p[0] + 1, NULL, NULL, &e, &tv));
	t_out("slept=%s cpu under 100 ms=%s\n", t_yes(t_ms() - t0 >= 250), t_yes(cpu_ms() - c0 < 100));
}

/* ---- the table ---------------------------------------------------------
 * T_BACKEND: the coroutine really waits in a hooked call. */
/* ---- the fd before the message ---------------------------------------- */

static void c9_mmsg_of_nothing_on_no_socket(void)
{
	int p[2];
	struct mmsghdr mm[1];
	alarm(5);
	if (pipe(p) < 0)
		return;
	memset(mm, 0, sizeof mm);
	t_res("recvmmsg pipe 0", recvmmsg(p[0], mm, 0, 0, NULL));
	t_res("sendmmsg pipe 0", sendmmsg(p[1], mm, 0, 0));
	t_res("sendmmsg pipe NULL", sendmmsg(p[1], NULL, 1, 0));
	t_res("recvmmsg pipe NULL", recvmmsg(p[0], NULL, 1, 0, NULL));
	t_res("sendmmsg closed 0", sendmmsg(minus_one + 900, mm, 0, 0));
	int s[2];
	t_pair(T_UDP, s);
	t_res("recvmmsg udp 0", recvmmsg(s[1], mm, 0, 0, NULL));
	t_res("sendmmsg udp 0", sendmmsg(s[0], mm, 0, 0));
	t_res("sendmmsg udp NULL", sendmmsg(s[0], NULL, 1, 0));
}

/* A connected UDP socket whose peer is gone: the refusal is its pending
 * error, recvmmsg's answer before it looks for a message. */
static void c9_recvmmsg_of_nothing_pending_error(void)
{
	int s[2];
	struct mmsghdr mm[1];
	alarm(5);
	t_pair(T_UDP, s);
	close(s[1]);
	t_res("send", send(s[0], "x", 1, 0));
	t_msleep(20);
	memset(mm, 0, sizeof mm);
	t_res("recvmmsg 0", recvmmsg(s[0], mm, 0, 0, NULL));
	t_res("recvmmsg 0 again", recvmmsg(s[0], mm, 0, MSG_DONTWAIT, NULL));
}

static void c9_recvmsg_bad_message_on_no_socket(void)
{
	int p[2];
	char b[16];
	alarm(5);
	if (pipe(p) < 0)
		return;
	int e = eventfd(0, 0);
	struct iovec huge = { b, SIZE_MAX }, many[2000];
	for (int i = 0; i < 2000; i++)
		many[i] = (struct iovec){ b, 1 };
	struct msghdr m = { .msg_iov = &huge, .msg_iovlen = 1 };
	t_res("pipe huge", recvmsg(p[0], &m, 0));
	m.msg_iov = many;
	m.msg_iovlen = 2000;
	t_res("eventfd 2000", recvmsg(e, &m, 0));
	m.msg_iov = (struct iovec *)(uintptr_t)16;
	m.msg_iovlen = 1;
	t_res("pipe bad iov", recvmsg(p[0], &m, 0));
	write(p[1], "abc", 3);
	t_res("pipe huge, data", (m.msg_iov = &huge, recvmsg(p[0], &m, 0)));
	int s[2];
	t_pair(T_UNIX_STREAM, s);
	send(s[0], "abc", 3, 0);
	t_res("socket huge", recvmsg(s[1], &m, 0));
	t_res("left", t_drain(s[1]));
}

/* sendmmsg of two messages on a unix stream socket with room for part of
 * the first: SO_SNDTIMEO ends its send at 300 ms with the bytes that
 * moved, and the loop with that message counted.  A reader that starts
 * at 450 ms makes room for the second, which a loop that went on would
 * have sent. */
static long drained;
static void drain_from(void *arg)
{
	int fd = *(int *)arg;
	double end = t_ms() + 300;
	while (t_ms() < end) {
		long n = t_drain(fd);
		drained += n;
		if (!n)
			t_msleep(5);
	}
}

static void c9_sendmmsg_part_sent_ends_loop(void)
{
	int s[2];
	alarm(5);
	t_pair(T_UNIX_STREAM, s);
	t_timeo(s[0], SO_SNDTIMEO, 300);
	size_t big = 4 << 20;
	char *b = calloc(1, big);
	struct mmsghdr mm[2] = {
		{ .msg_hdr = { .msg_iov = &(struct iovec){ b, big }, .msg_iovlen = 1 } },
		{ .msg_hdr = { .msg_iov = &(struct iovec){ b, 10 }, .msg_iovlen = 1 } },
	};
	pthread_t th = t_later(drain_from, &s[1], 450);
	t_res("sendmmsg", sendmmsg(s[0], mm, 2, 0));
	pthread_join(th, NULL);
	drained += t_drain(s[1]);
	t_out("first part: %s, second: %u\n", t_yes(mm[0].msg_len > 0 && mm[0].msg_len < big),
	      mm[1].msg_len);
	t_out("all sent arrived: %s\n", t_yes(drained == (long)mm[0].msg_len + mm[1].msg_len));
	free(b);
}

/* ---- MSG_PEEK under SO_RCVLOWAT ---------------------------------------- */

static void peek_lowat(int kind)
{
	int s[2];
	static const char out[128] = "0123456789abcdef";
	char b[256]; /* apart from what the thread sends */
	alarm(5);
	t_pair(kind, s);
	int lowat = 50;
	setsockopt(s[1], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
	send(s[0], out, 16, 0);
	t_msleep(20);
	pthread_t th = t_later_write(s[0], out, 93, 50);
	double t0 = t_ms();
	t_res("peek", recv(s[1], b, 128, MSG_PEEK));
	t_out("waited: %s\n", t_yes(t_ms() - t0 >= 40));
	pthread_join(th, NULL);
	t_res("read", recv(s[1], b, sizeof b, 0));
	send(s[0], out, 16, 0);
	t_msleep(20);
	t_timeo(s[1], SO_RCVTIMEO, 100);
	t0 = t_ms();
	t_res("peek at timeout", recv(s[1], b, 128, MSG_PEEK));
	t_out("waited: %s\n", t_yes(t_ms() - t0 >= 90));
}

static void c9_tcp_peek_waits_for_lowat(void) { peek_lowat(T_TCP); }
static void c9_unix_peek_never_waits_for_lowat(void) { peek_lowat(T_UNIX_STREAM); }

/* ---- peek offsets (SO_PEEK_OFF) ------------------------------------------ */

static void peek_offset(int kind, int lowat, int flags)
{
	int s[2], off = 0;
	char b[256];
	socklen_t len = sizeof off;
	alarm(5);
	t_pair(kind, s);
	if (flags & MSG_WAITALL)
		off = -1; /* the kernel's own: MSG_PEEK|MSG_WAITALL, no offset */
	else
		t_res("peek offset", setsockopt(s[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off));
	if (lowat)
		setsockopt(s[1], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
	send(s[0], "abcde", 5, 0);
	t_msleep(20);
	if (!lowat && !(flags & MSG_WAITALL)) /* the offset then is past all that is queued */
		t_show("first peek", b, recv(s[1], b, sizeof b, MSG_PEEK));
	pthread_t th = t_later_write(s[0], "0123456789", 10, 50);
	t_show("peek", b, recv(s[1], b, (flags & MSG_WAITALL) ? 15 : sizeof b, MSG_PEEK | flags));
	pthread_join(th, NULL);
	getsockopt(s[1], SOL_SOCKET, SO_PEEK_OFF, &off, &len);
	t_out("offset %d\n", off);
	if (!(flags & MSG_WAITALL)) {
		t_timeo(s[1], SO_RCVTIMEO, 100);
		double t0 = t_ms();
		t_res("peek past the queue at timeout", recv(s[1], b, sizeof b, MSG_PEEK));
		t_out("waited: %s\n", t_yes(t_ms() - t0 >= 90));
	}
	t_show("read", b, recv(s[1], b, sizeof b, 0));
	close(s[0]);
	close(s[1]);
}

static void c9_tcp_peek_offset_under_lowat(void) { peek_offset(T_TCP, 8, 0); }
static void c9_tcp_peek_offset_past_queue(void) { peek_offset(T_TCP, 0, 0); }
static void c9_unix_peek_offset_past_queue(void) { peek_offset(T_UNIX_STREAM, 0, 0); }
static void c9_unix_dgram_peek_offset_past_queue(void) { peek_offset(T_UNIX_DGRAM, 0, 0); }
static void c9_tcp_peek_waitall(void) { peek_offset(T_TCP, 0, MSG_WAITALL); }

/* ---- recvmmsg on a stream ------------------------------------------------ */

static void *trickle(void *arg)
{
	int fd = *(int *)arg;
	for (int i = 0; i < 6; i++) {
		t_msleep(30);
		write(fd, "abcde", 5);
	}
	return NULL;
}

static void mmsg_stream(int kind, int flags, int lowat)
{
	int s[2];
	char b[3][10];
	struct iovec v[3];
	struct mmsghdr mm[3];
	alarm(5);
	t_pair(kind, s);
	if (lowat)
		setsockopt(s[1], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 3; i++) {
		v[i] = (struct iovec){ b[i], 10 };
		mm[i].msg_hdr.msg_iov = &v[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	write(s[0], "ABCDE", 5);
	pthread_t th;
	pthread_create(&th, NULL, trickle, &s[0]);
	int n = recvmmsg(s[1], mm, 3, flags, NULL);
	t_res("recvmmsg", n);
	for (int i = 0; i < n; i++)
		t_out("  [%d] %u '%.*s'\n", i, mm[i].msg_len, (int)mm[i].msg_len, b[i]);
	pthread_join(th, NULL);
	close(s[0]);
	close(s[1]);
}

static void c9_unix_recvmmsg_waitall(void) { mmsg_stream(T_UNIX_STREAM, MSG_WAITALL, 0); }
static void c9_tcp_recvmmsg_waitall(void) { mmsg_stream(T_TCP, MSG_WAITALL, 0); }
static void c9_unix_recvmmsg_waitall_waitforone(void)
{
	mmsg_stream(T_UNIX_STREAM, MSG_WAITALL | MSG_WAITFORONE, 0);
}
static void c9_unix_recvmmsg_lowat(void) { mmsg_stream(T_UNIX_STREAM, 0, 10); }

#define C(name, flags) { #name, name, flags }
/* A blocking unix stream send whose count runs past the end of its
 * buffer: the kernel's call returns what it sent before the copy
 * faulted, at once, and so does the next one.  The engine took the
 * short try for a full socket and waited for room to send the rest:
 * the second send waited for good (uring), or slice by slice. */
static void c9_unix_send_runs_past_buffer(void)
{
	alarm(5);
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	char *b = mmap(NULL, 128 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(b + 64 * 1024, 64 * 1024);
	memset(b, 'b', 64 * 1024);
	long r1 = send(sv[0], b, 1000000, 0);
	t_out("first sent part=%s\n", t_yes(r1 > 0 && r1 <= 64 * 1024));
	long r2 = send(sv[0], b, 1000000, 0);
	t_out("second the same=%s\n", t_yes(r2 == r1));
	t_out("received all=%s\n", t_yes(t_drain(sv[1]) == r1 + (r2 > 0 ? r2 : 0)));
	t_res("send past the end", send(sv[0], b + 64 * 1024 - 1, 2, 0));
}

static const struct t_case cases[] = {
	C(c9_unix_dgram_send_to_full_receiver, T_BACKEND),
	C(c9_unix_send_peer_gone_sigpipe_ignored, T_BACKEND),
	C(c9_unix_send_peer_gone_sigpipe_default, T_BACKEND),
	C(c9_unix_send_peer_shuts_reading, T_BACKEND),
	C(c9_unix_send_own_side_shut, T_BACKEND),
	C(c9_tcp_send_own_side_shut, T_BACKEND),
	C(c9_tcp_send_with_error_queue, T_BACKEND),
	C(c9_tcp_write_with_error_queue, T_BACKEND),
	C(c9_recvmmsg_read_only_timeout, 0),
	C(c9_sendmmsg_read_only_vector, 0),
	C(c9_recvmmsg_waitforone_takes_the_rest, T_BACKEND),
	C(c9_tcp_fastopen_send, 0),
	C(c9_select_timeout_of_centuries, T_BACKEND),
	C(c9_rcvtimeo_of_centuries, T_BACKEND),
	C(c9_select_bit_above_fd_table, T_BACKEND),
	C(c9_select_hangup_not_asked, T_BACKEND),
	C(c9_mmsg_of_nothing_on_no_socket, 0),
	C(c9_recvmmsg_of_nothing_pending_error, 0),
	C(c9_recvmsg_bad_message_on_no_socket, 0),
	C(c9_sendmmsg_part_sent_ends_loop, T_BACKEND),
	C(c9_tcp_peek_waits_for_lowat, T_BACKEND),
	C(c9_unix_peek_never_waits_for_lowat, 0),
	C(c9_tcp_peek_offset_under_lowat, T_BACKEND),
	C(c9_tcp_peek_offset_past_queue, T_BACKEND),
	C(c9_unix_peek_offset_past_queue, T_BACKEND),
	C(c9_unix_dgram_peek_offset_past_queue, T_BACKEND),
	C(c9_tcp_peek_waitall, T_BACKEND),
	C(c9_unix_recvmmsg_waitall, T_BACKEND),
	C(c9_tcp_recvmmsg_waitall, T_BACKEND),
	C(c9_unix_recvmmsg_waitall_waitforone, T_BACKEND),
	C(c9_unix_recvmmsg_lowat, T_BACKEND),
	C(c9_unix_send_runs_past_buffer, 0),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-sockets", 150);
}
