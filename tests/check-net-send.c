/* Sockets, part 3: the send family (issue 10, "Semantics").  Same
 * variants and rules as check-net.c: each case runs without the shim,
 * under off, uring and threads, and inside a coroutine, and must print
 * what plain glibc prints and end the same way. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "t-helpers.h"

#define yes t_yes
#define MiB (1024L * 1024)

static void *volatile bad_ptr = (void *)8;

/* ==== send family ======================================================= */

/* A blocking stream send moves everything before it returns (another
 * thread drains after 50 ms), as write() does; the bytes arrive intact. */
static int drain_fd;
static unsigned long drained_sum;
static long drained;

static void drain_all(void *arg)
{
	static unsigned char b[65536];
	long n;
	(void)arg;
	while ((n = recv(drain_fd, b, sizeof b, 0)) > 0) {
		for (long i = 0; i < n; i++)
			drained_sum = drained_sum * 31 + b[i];
		drained += n;
	}
}

static void send_moves_all(int k, int how)
{
	static unsigned char big[4 * MiB];
	int p[2];
	unsigned long want = 0;
	alarm(8);
	t_pair(k, p);
	for (long i = 0; i < (long)sizeof big; i++) {
		big[i] = (unsigned char)(i * 7 + (i >> 9));
		want = want * 31 + big[i];
	}
	drain_fd = p[1];
	pthread_t td = t_later(drain_all, NULL, 50);
	long r;
	struct iovec v[2] = { { big, sizeof big / 2 }, { big + sizeof big / 2, sizeof big / 2 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	if (how == 0)
		r = send(p[0], big, sizeof big, 0);
	else if (how == 1)
		r = sendto(p[0], big, sizeof big, 0, NULL, 0);
	else
		r = sendmsg(p[0], &m, 0);
	t_res(how == 0 ? "send" : how == 1 ? "sendto" : "sendmsg", r);
	shutdown(p[0], SHUT_WR);
	pthread_join(td, NULL);
	t_out("drained=%ld intact=%s\n", drained, yes(drained_sum == want));
}

static void send_moves_all_unix(void) { send_moves_all(T_UNIX_STREAM, 0); }
static void send_moves_all_tcp(void) { send_moves_all(T_TCP, 1); }
static void sendmsg_moves_all_tcp6(void) { send_moves_all(T_TCP6, 2); }

static void later_drain(void *arg)
{
	t_drain(*(int *)arg);
}

/* A handler interrupting a blocking send that moved some bytes: the count
 * that moved, with or without SA_RESTART; they all arrive. */
static void send_signal(int flags)
{
	static char big[4 * MiB];
	int p[2];
	alarm(5);
	t_pair(T_UNIX_STREAM, p);
	t_handle(SIGUSR1, flags);
	pthread_t ts = t_later_signal(SIGUSR1, 10);
	long r = send(p[0], big, sizeof big, 0);
	t_out("send partial=%s handled=%d\n", yes(r > 0 && r < (long)sizeof big), (int)t_handled);
	pthread_join(ts, NULL);
	t_out("drained all that moved: %s\n", yes(t_drain(p[1]) == r));
	/* nothing can move before the signal: EINTR, or a restart that ends
	 * when the peer drains 50 ms after the handler ran */
	t_fill(p[0]);
	t_handled = 0;
	ts = t_later_signal(SIGUSR1, 10);
	pthread_t td = t_after_signal(later_drain, &p[1], 50);
	t_res("full", send(p[0], big, 4096, 0));
	t_out("handled=%d\n", (int)t_handled);
	pthread_join(ts, NULL);
	pthread_join(td, NULL);
}

static void send_eintr(void) { send_signal(0); }
static void send_restart(void) { send_signal(SA_RESTART); }

/* SIGPIPE where the kernel raises it: a send to a stream with no reader
 * kills by default (a seqpacket socket gets EPIPE without it); ignored or blocked gives EPIPE (blocked: it stays
 * pending); MSG_NOSIGNAL raises nothing. */
static void epipe_pair(int k, int p[2])
{
	t_pair(k, p);
	if (k == T_TCP)
		shutdown(p[0], SHUT_WR); /* EPIPE at once, without a reset */
	else
		close(p[1]);
}

static void sigpipe_default(int k, int how)
{
	int p[2];
	struct msghdr m = { .msg_iov = &(struct iovec){ "x", 1 }, .msg_iovlen = 1 };
	alarm(5);
	epipe_pair(k, p);
	t_out("sending\n");
	long r = how == 0 ? send(p[0], "x", 1, 0) :
		 how == 1 ? sendto(p[0], "x", 1, 0, NULL, 0) : sendmsg(p[0], &m, 0);
	t_res("returned", r);
}

static void sigpipe_send_unix(void) { sigpipe_default(T_UNIX_STREAM, 0); }
static void sigpipe_sendto_tcp(void) { sigpipe_default(T_TCP, 1); }
static void sigpipe_sendmsg_seqpacket(void) { sigpipe_default(T_UNIX_SEQPACKET, 2); }

static void sigpipe_other(int k)
{
	int p[2];
	sigset_t set, pend;
	alarm(5);
	epipe_pair(k, p);
	t_handle(SIGPIPE, 0);
	t_res("nosignal", send(p[0], "x", 1, MSG_NOSIGNAL));
	t_res("nosignal-dontwait", send(p[0], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT));
	t_out("handled=%d\n", (int)t_handled);
	t_res("handler", send(p[0], "x", 1, 0));
	t_out("handled=%d\n", (int)t_handled);
	signal(SIGPIPE, SIG_IGN);
	t_res("ignored", sendto(p[0], "x", 1, 0, NULL, 0));
	t_handle(SIGPIPE, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct msghdr m = { .msg_iov = &(struct iovec){ "x", 1 }, .msg_iovlen = 1 };
	t_res("blocked", sendmsg(p[0], &m, 0));
	sigpending(&pend);
	t_out("pending=%s handled=%d\n", yes(sigismember(&pend, SIGPIPE)), (int)t_handled);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	t_out("after unblock handled=%d\n", (int)t_handled);
}

static void sigpipe_other_each(void)
{
	t_out("-- unix\n");
	sigpipe_other(T_UNIX_STREAM);
	t_out("-- tcp\n");
	sigpipe_other(T_TCP);
}

/* MSG_MORE holds bytes back until the next send; MSG_EOR per kind;
 * MSG_OOB on T_TCP; MSG_DONTWAIT on a full socket answers EAGAIN at once. */
static void send_flags(void)
{
	int p[2];
	char b[16];
	alarm(5);
	t_pair(T_TCP, p);
	t_res("more", send(p[0], "ab", 2, MSG_MORE));
	t_res("held", recv(p[1], b, sizeof b, MSG_DONTWAIT));
	t_res("flush", send(p[0], "cd", 2, 0));
	t_show("got", b, recv(p[1], b, 4, MSG_WAITALL));
	t_res("eor-tcp", send(p[0], "e", 1, MSG_EOR));
	recv(p[1], b, 1, 0);
	t_res("oob", send(p[0], "o", 1, MSG_OOB));
	struct pollfd pf = { p[1], POLLPRI, 0 };
	poll(&pf, 1, 1000);
	t_show("oob-recv", b, recv(p[1], b, 1, MSG_OOB));
	for (int k = T_UNIX_STREAM; k <= T_UNIX_SEQPACKET; k++) {
		t_pair(k, p);
		t_out("%s ", t_sock_name(AF_UNIX, t_kinds[k].type));
		t_res("eor", send(p[0], "e", 1, MSG_EOR));
	}
	t_pair(T_UDP, p);
	t_res("eor-udp", send(p[0], "e", 1, MSG_EOR));
	t_res("oob-udp", send(p[0], "e", 1, MSG_OOB));
	for (int k = T_UNIX_STREAM; k <= T_TCP; k++) {
		t_pair(k, p);
		long filled = t_fill(p[0]);
		double t0 = t_ms();
		t_out("%s filled=%s ", t_sock_name(t_kinds[k].family, t_kinds[k].type), yes(filled > 0));
		t_res("dontwait", send(p[0], "x", 1, MSG_DONTWAIT));
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		t_res("nonblock", send(p[0], "x", 1, 0));
		t_out("at once: %s\n", yes(t_ms() - t0 < 500));
	}
}

/* sendmmsg: how many messages went (each one's msg_len); vlen 0; an error
 * after the first message returns the count, on the first -1. */
static void sendmmsg_count(int k)
{
	int p[2];
	char b[16];
	struct iovec v[4] = { { "m0", 2 }, { "m1", 2 }, { "m2", 2 }, { "m3", 2 } };
	struct mmsghdr mm[4];
	alarm(5);
	t_pair(k, p);
	for (int i = 0; i < 4; i++)
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &v[i], .msg_iovlen = 1 } };
	t_res("vlen0", sendmmsg(p[0], mm, 0, 0));
	t_res("three", sendmmsg(p[0], mm, 3, 0));
	t_out("lens=%u,%u,%u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
	mm[2].msg_hdr.msg_iov = bad_ptr;
	t_res("bad-third", sendmmsg(p[0], mm, 4, 0));
	t_res("bad-first", sendmmsg(p[0], mm + 2, 2, 0));
	t_res("bad-vec", sendmmsg(p[0], bad_ptr, 2, 0));
	long n, got = 0;
	while ((n = recv(p[1], b, sizeof b, MSG_DONTWAIT)) > 0)
		got++;
	t_out("received=%ld\n", got);
}

static void sendmmsg_each(void)
{
	t_out("-- udp\n");
	sendmmsg_count(T_UDP);
	t_out("-- unix_dgram\n");
	sendmmsg_count(T_UNIX_DGRAM);
}

/* A unix datagram receiver's queue fills: a non-blocking sendmmsg stops
 * at the message that would wait; a blocking one waits for room. */
static void sendmmsg_queue_full(void)
{
	static struct mmsghdr mm[1024];
	int p[2];
	struct iovec v = { "d", 1 };
	alarm(5);
	t_pair(T_UNIX_DGRAM, p);
	for (int i = 0; i < 1024; i++)
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &v, .msg_iovlen = 1 } };
	int n = sendmmsg(p[0], mm, 1024, MSG_DONTWAIT);
	t_out("some went: %s, not all: %s\n", yes(n > 0), yes(n < 1024));
	t_res("full", sendmmsg(p[0], mm, 4, MSG_DONTWAIT));
	pthread_t td = t_later(later_drain, &p[1], 50);
	t_res("blocking", sendmmsg(p[0], mm, 4, 0));
	pthread_join(td, NULL);
}

/* Errors: no destination, too big, an address on a connected stream, not
 * connected, not a socket, bad fd and buffer; 0 bytes. */
static void send_errors(void)
{
	int p[2], q[2];
	char b[4];
	alarm(5);
	pipe(q);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	t_res("udp-no-dest", send(u, "x", 1, 0));
	struct sockaddr_storage a;
	socklen_t len;
	int r = t_bound(AF_INET, SOCK_DGRAM, -1, &a, &len);
	static char huge[70000];
	t_res("udp-too-big", sendto(u, huge, sizeof huge, 0, (struct sockaddr *)&a, len));
	t_pair(T_UNIX_DGRAM, p);
	static char big[1 << 20];
	t_res("unix-dgram-too-big", send(p[0], big, sizeof big, 0));
	t_pair(T_TCP, p);
	t_res("tcp-with-addr", sendto(p[0], "x", 1, 0, (struct sockaddr *)&a, len));
	t_res("tcp-zero", send(p[0], "", 0, 0));
	t_res("tcp-bad-buffer", send(p[0], bad_ptr, 10, 0));
	int s = socket(AF_INET, SOCK_STREAM, 0);
	t_res("tcp-unconnected", send(s, "x", 1, MSG_NOSIGNAL));
	int us = socket(AF_UNIX, SOCK_STREAM, 0);
	t_res("unix-unconnected", send(us, "x", 1, MSG_NOSIGNAL));
	t_res("pipe", send(q[1], "x", 1, 0));
	t_res("ebadf", send(999, "x", 1, 0));
	t_res("null-msg", sendmsg(p[0], NULL, 0));
	t_res("bad-msg", sendmsg(p[0], bad_ptr, 0));
	t_res("udp-zero", sendto(u, "", 0, 0, (struct sockaddr *)&a, len));
	t_show("udp-zero-got", b, recv(r, b, sizeof b, MSG_DONTWAIT));
}

/* ==== the table ========================================================
 * T_NOCORO: a signal interrupts a call (inside coroutines signals do not
 * interrupt hooked calls: README).  T_BACKEND: the coroutine really waits
 * in a hooked call (a peer thread). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(send_moves_all_unix, T_BACKEND),
	C(send_moves_all_tcp, T_BACKEND),
	C(sendmsg_moves_all_tcp6, T_BACKEND),
	C(send_eintr, T_NOCORO),
	C(send_restart, T_NOCORO),
	C(sigpipe_send_unix, 0),
	C(sigpipe_sendto_tcp, 0),
	C(sigpipe_sendmsg_seqpacket, 0),
	C(sigpipe_other_each, 0),
	C(send_flags, 0),
	C(sendmmsg_each, 0),
	C(sendmmsg_queue_full, T_BACKEND),
	C(send_errors, 0),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "net-send", 150);
}
