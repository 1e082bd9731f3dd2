/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program holds the calls real
 * libraries make, cut down to what the library does with them: libpq and
 * OpenSSL under a server that resets the connection in the middle of a
 * large send (libpq blocks SIGPIPE around its send and takes a pending
 * one back with sigtimedwait; it tells a reset from a close by the error
 * of its next call).
 *
 * Times are never compared, only buckets or yes/no.  A case that could
 * hang under a broken shim sets an alarm first, so that a hang shows as
 * "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ---- helpers ---------------------------------------------------------- */

static const char *count_bucket(long n, long all)
{
	return n < 0 ? "failed" : n == 0 ? "0" : n < all ? "partial" : n == all ? "all" : "more";
}

/* The server's side: read 200 KiB, then close with more unread, which
 * resets the connection (RST) while the client's send waits for room
 * (50 ms later: not in the microseconds between the wake-up its last
 * read gave and the send's next try; README, Known blind spots). */
static void *reset_after_200k(void *arg)
{
	int fd = *(int *)arg;
	read_n(fd, 200 * KiB);
	t_msleep(50);
	close(fd);
	return NULL;
}

enum how { SEND, WRITE, WRITEV, SENDMSG };

/* One blocking call writing len bytes of big to fd, by `how`. */
static long put(enum how how, int fd, const char *big, size_t len)
{
	struct iovec v[2] = { { (void *)big, len / 2 }, { (void *)(big + len / 2), len - len / 2 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	switch (how) {
	case SEND:
		return send(fd, big, len, 0);
	case WRITE:
		return write(fd, big, len);
	case WRITEV:
		return writev(fd, v, 2);
	default:
		return sendmsg(fd, &m, 0);
	}
}

/* libpq's send with SIGPIPE blocked (pq_block_sigpipe): 1 MiB to a server
 * that resets the connection after 200 KiB.  The kernel's one call returns
 * its count and leaves the reset for the next call: that one fails with
 * ECONNRESET, raises no SIGPIPE, and a read after it sees EOF.  Then
 * libpq's pq_reset_sigpipe: take back a SIGPIPE raised meanwhile. */
static void reset_in_send(enum how how, int then_read)
{
	static char big[MiB];
	int c, s;
	net(8);
	if (tcp_pair(&c, &s, 32768) < 0) {
		t_out("no loopback TCP here\n");
		return;
	}
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	pthread_t th = go(reset_after_200k, &s);
	t_out("first=%s\n", count_bucket(put(how, c, big, MiB), MiB));
	join(th);
	t_msleep(50); /* the reset has come, whatever the sender did */
	char b[16];
	if (then_read)
		t_res("recv", recv(c, b, sizeof b, 0));
	t_res("second", put(how, c, big, 1000));
	t_res("recv", recv(c, b, sizeof b, 0));
	t_out("sigpipe pending=%d\n", pending(SIGPIPE));
	struct timespec zero = { 0, 0 };
	t_out("taken back=%s\n", yes(sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(c);
}

static void c1_tcp_send_reset_after_part(void) { reset_in_send(SEND, 0); }
static void c1_tcp_write_reset_after_part(void) { reset_in_send(WRITE, 0); }
static void c1_tcp_writev_reset_after_part(void) { reset_in_send(WRITEV, 0); }
static void c1_tcp_sendmsg_reset_after_part(void) { reset_in_send(SENDMSG, 0); }
static void c1_tcp_recv_after_reset_part(void) { reset_in_send(SEND, 1); }

/* The server's side of a receive: 100 bytes, then a reset (SO_LINGER 0). */
static void *part_then_reset(void *arg)
{
	int fd = *(int *)arg;
	struct linger hard = { 1, 0 };
	t_msleep(50);
	write(fd, "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "012345678901234567890123456789", 100);
	t_msleep(100);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
	close(fd);
	return NULL;
}

/* A receive that waits for more than has come (MSG_WAITALL, or
 * SO_RCVLOWAT with read): the server sends part, then resets.  The
 * kernel's one call returns the part and leaves the reset to the next
 * call (ECONNRESET), after which the socket reads EOF. */
static void reset_in_recv(int lowat)
{
	static char buf[1000];
	int c, s;
	net(8);
	if (tcp_pair(&c, &s, 0) < 0) {
		t_out("no loopback TCP here\n");
		return;
	}
	int want = (int)sizeof buf;
	if (lowat)
		setsockopt(c, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want);
	pthread_t th = go(part_then_reset, &s);
	t_res("first", lowat ? read(c, buf, sizeof buf) : recv(c, buf, sizeof buf, MSG_WAITALL));
	join(th);
	t_res("second", recv(c, buf, sizeof buf, 0));
	t_res("third", recv(c, buf, sizeof buf, 0));
	close(c);
}

static void c2_tcp_recv_waitall_reset_after_part(void) { reset_in_recv(0); }
static void c2_tcp_read_lowat_reset_after_part(void) { reset_in_recv(1); }

/* recvmmsg on a stream whose entries go on (SO_RCVLOWAT, MSG_WAITALL)
 * and a reset: the kernel's call answers a pending error before any
 * entry, with bytes still queued (a recvmsg per entry took the bytes
 * first, and the next send met EPIPE for ECONNRESET); an error met after
 * an entry is the next call's, as the kernel puts it back. */
static void reset_in_recvmmsg(int queued)
{
	static char buf[2][100];
	struct iovec v[2] = { { buf[0], 100 }, { buf[1], 100 } };
	struct mmsghdr m[2] = { { .msg_hdr = { .msg_iov = &v[0], .msg_iovlen = 1 } },
				{ .msg_hdr = { .msg_iov = &v[1], .msg_iovlen = 1 } } };
	int c, s, want = 100;
	net(8);
	if (tcp_pair(&c, &s, 0) < 0) {
		t_out("no loopback TCP here\n");
		return;
	}
	setsockopt(c, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want);
	if (queued) {
		struct linger hard = { 1, 0 };
		write(s, "0123456789", 10);
		t_msleep(20);
		setsockopt(s, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
		close(s);
		t_msleep(20);
		t_res("recvmmsg", recvmmsg(c, m, 2, 0, NULL));
	} else {
		pthread_t th = go(part_then_reset, &s);
		t_res("recvmmsg", recvmmsg(c, m, 2, 0, NULL));
		join(th);
		t_out("len=%u ", m[0].msg_len);
	}
	t_res("recv", recv(c, buf[0], sizeof buf[0], MSG_DONTWAIT));
	t_res("send", send(c, "x", 1, MSG_NOSIGNAL));
	t_res("recv", recv(c, buf[0], sizeof buf[0], MSG_DONTWAIT));
	t_out("\n");
	close(c);
}

static void c2_tcp_recvmmsg_lowat_reset_with_bytes_queued(void) { reset_in_recvmmsg(1); }
static void c2_tcp_recvmmsg_lowat_reset_after_an_entry(void) { reset_in_recvmmsg(0); }

/* recvmmsg on a non-blocking socket, one entry's worth queued: the
 * entries after it do not wait (EAGAIN ends the loop: 1); in a coroutine
 * the look for the next entry's error waited for readiness and hung —
 * datagrams, and a stream whose entries go on (MSG_WAITALL). */
static void nonblocking_recvmmsg(int type)
{
	static char buf[2][100];
	struct iovec v[2] = { { buf[0], 100 }, { buf[1], 100 } };
	struct mmsghdr m[2] = { { .msg_hdr = { .msg_iov = &v[0], .msg_iovlen = 1 } },
				{ .msg_hdr = { .msg_iov = &v[1], .msg_iovlen = 1 } } };
	int sv[2];
	if (socketpair(AF_UNIX, type | SOCK_NONBLOCK, 0, sv) < 0) {
		t_out("socketpair: %s\n", strerrorname_np(errno));
		return;
	}
	write(sv[1], "0123456789", 10);
	alarm(5); /* a hang shows as SIGALRM */
	t_res("recvmmsg", recvmmsg(sv[0], m, 2, type == SOCK_STREAM ? MSG_WAITALL : 0, NULL));
	alarm(0);
	t_out("len=%u ", m[0].msg_len);
	t_res("recv", recv(sv[0], buf[0], sizeof buf[0], 0));
	t_out("\n");
	close(sv[0]);
	close(sv[1]);
}

static void c2_unix_dgram_recvmmsg_nonblocking_after_one(void) { nonblocking_recvmmsg(SOCK_DGRAM); }
static void c2_unix_stream_recvmmsg_waitall_nonblocking_after_one(void) { nonblocking_recvmmsg(SOCK_STREAM); }

/* ---- the table ---------------------------------------------------------
 * T_BACKEND: the coroutine really waits in a hooked call. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c1_tcp_send_reset_after_part, T_BACKEND),
	C(c1_tcp_write_reset_after_part, T_BACKEND),
	C(c1_tcp_writev_reset_after_part, T_BACKEND),
	C(c1_tcp_sendmsg_reset_after_part, T_BACKEND),
	C(c1_tcp_recv_after_reset_part, T_BACKEND),
	C(c2_tcp_recv_waitall_reset_after_part, T_BACKEND),
	C(c2_tcp_read_lowat_reset_after_part, T_BACKEND),
	C(c2_tcp_recvmmsg_lowat_reset_with_bytes_queued, 0),
	C(c2_tcp_recvmmsg_lowat_reset_after_an_entry, T_BACKEND),
	C(c2_unix_dgram_recvmmsg_nonblocking_after_one, 0),
	C(c2_unix_stream_recvmmsg_waitall_nonblocking_after_one, 0),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-libs", 150);
}
