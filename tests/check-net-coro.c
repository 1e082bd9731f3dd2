/* Sockets, readiness and sleeps inside coroutines (issue 10, "Inside
 * coroutines").
 *
 * The same jobs run as coroutines on one thread under the shim (uring,
 * threads) and as plain threads without it (t_spawn): each must print
 * the same lines both ways.  Several of them would deadlock or take the
 * sum of their waits if a call blocked the thread: a recv waiting for a
 * send of another coroutine, accept and connect on one thread, 16 sleeps
 * at once.  What only the engine can answer (asy_io_deadline and
 * asy_cancel ending each kind of wait) is in check-net-deadline.c. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "asyncify.h"
#include "t-helpers.h"

#define yes t_yes

/* ---- like threads ---------------------------------------------------- */

/* 16 jobs, each waiting 50 ms in one of the sleeping calls: together in
 * well under 16 × 50 ms. */
static void j_sleep(int i)
{
	struct timespec ts = { 0, 50 * 1000000 };
	struct timeval tv = { 0, 50000 };
	int ep = epoll_create1(0);
	struct epoll_event ev;
	double t0 = t_ms();
	long r = 0;
	switch (i % 8) {
	case 0: r = usleep(50000); break;
	case 1: r = nanosleep(&ts, NULL); break;
	case 2: r = poll(NULL, 0, 50); break;
	case 3: r = select(0, NULL, NULL, NULL, &tv); break;
	case 4: r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL); break;
	case 5: r = ppoll(NULL, 0, &ts, NULL); break;
	case 6: r = epoll_wait(ep, &ev, 1, 50); break;
	case 7: r = pselect(0, NULL, NULL, NULL, &ts, NULL); break;
	}
	close(ep);
	t_jres(i, "r", r);
	t_jout(i, "waited>=50ms: %s\n", yes(t_ms() - t0 >= 49));
}

static void k_sleepers(void)
{
	alarm(8);
	double t0 = t_ms();
	for (int i = 0; i < 16; i++)
		t_spawn(j_sleep, i);
	t_finish();
	t_out("all in <400ms: %s\n", yes(t_ms() - t0 < 400));
}

/* recv of each kind waits for what another job sends 20 ms later. */
static int rs[T_NKINDS][2];

static void j_receiver(int k)
{
	/* 5 bytes at a time: a stream may have merged two sends */
	char b[5];
	struct iovec v = { b, sizeof b };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	struct mmsghdr mm = { .msg_hdr = m };
	t_jout(k, "%s ", t_sock_name(t_kinds[k].family, t_kinds[k].type));
	long n = recv(rs[k][1], b, sizeof b, 0);
	t_jout(k, "recv=%ld '%.*s' ", n, (int)(n > 0 ? n : 0), b);
	n = recvfrom(rs[k][1], b, sizeof b, 0, NULL, NULL);
	t_jout(k, "recvfrom=%ld ", n);
	n = recvmsg(rs[k][1], &m, 0);
	t_jout(k, "recvmsg=%ld ", n);
	t_jres(k, "recvmmsg", recvmmsg(rs[k][1], &mm, 1, 0, NULL));
	t_jout(k, "len=%u\n", mm.msg_len);
}

static void j_sender(int i)
{
	for (int k = 0; k < T_NKINDS; k++) {
		for (int n = 0; n < 4; n++) {
			usleep(5000);
			send(rs[k][0], "hello", 5, 0);
		}
	}
	t_jout(i, "sent\n");
}

static void k_recv_waits_send(void)
{
	alarm(8);
	for (int k = 0; k < T_NKINDS; k++)
		t_pair(k, rs[k]);
	for (int k = 0; k < T_NKINDS; k++)
		t_spawn(j_receiver, k);
	t_spawn(j_sender, T_NKINDS);
	t_finish();
}

/* accept and connect between two jobs: TCP, TCP over IPv6, unix; then a
 * unix connect to a full backlog that waits until the other job accepts. */
static int listener[3];
static struct sockaddr_storage laddr[3];
static socklen_t llen[3];

static void j_acceptor(int i)
{
	char b[8];
	for (int k = 0; k < 3; k++) {
		int f = accept(listener[k], NULL, NULL);
		long n = f < 0 ? -1 : recv(f, b, 2, MSG_WAITALL);
		t_jout(i, "%d: %s %ld '%.*s' ", k, f >= 0 ? "fd" : t_errname(errno), n,
		       (int)(n > 0 ? n : 0), b);
		if (f >= 0)
			send(f, "ok", 2, 0);
	}
	/* listener 2 (unix, backlog 0) now holds one queued connection and
	 * the other job waits in connect for room: make it after 20 ms */
	usleep(20000);
	int f = accept(listener[2], NULL, NULL);
	t_jout(i, "made room: %s\n", yes(f >= 0));
}

static void j_connector(int i)
{
	char b[4];
	for (int k = 0; k < 3; k++) {
		int c = socket(laddr[k].ss_family, SOCK_STREAM, 0);
		t_jres(i, "connect", connect(c, (struct sockaddr *)&laddr[k], llen[k]));
		send(c, "hi", 2, 0);
		t_jres(i, "reply", recv(c, b, 2, MSG_WAITALL));
	}
	int q = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
	t_jres(i, "queued", connect(q, (struct sockaddr *)&laddr[2], llen[2]));
	t_jres(i, "waits", connect(c, (struct sockaddr *)&laddr[2], llen[2]));
	t_jout(i, "\n");
}

static void k_accept_connect(void)
{
	alarm(8);
	listener[0] = t_bound(AF_INET, SOCK_STREAM, 4, &laddr[0], &llen[0]);
	listener[1] = t_bound(AF_INET6, SOCK_STREAM, 4, &laddr[1], &llen[1]);
	listener[2] = t_bound(AF_UNIX, SOCK_STREAM, 0, &laddr[2], &llen[2]);
	t_spawn(j_acceptor, 0);
	t_spawn(j_connector, 1);
	t_finish();
}

/* poll, select and epoll_wait each on four pipes; another job makes one
 * of each set ready 20 ms later. */
static int pp[3][4][2];

static void j_waiter(int i)
{
	struct pollfd f[4];
	fd_set r;
	int ep = epoll_create1(0), n = 0, which = -1;
	FD_ZERO(&r);
	for (int k = 0; k < 4; k++) {
		f[k] = (struct pollfd){ pp[i][k][0], POLLIN, 0 };
		FD_SET(pp[i][k][0], &r);
		struct epoll_event a = { .events = EPOLLIN, .data.u32 = (unsigned)k };
		epoll_ctl(ep, EPOLL_CTL_ADD, pp[i][k][0], &a);
	}
	if (i == 0) {
		n = poll(f, 4, 5000);
		for (int k = 0; k < 4; k++)
			which = f[k].revents ? k : which;
	} else if (i == 1) {
		n = select(FD_SETSIZE, &r, NULL, NULL, NULL);
		for (int k = 0; k < 4; k++)
			which = FD_ISSET(pp[i][k][0], &r) ? k : which;
	} else {
		struct epoll_event ev;
		n = epoll_wait(ep, &ev, 1, 5000);
		which = n > 0 ? (int)ev.data.u32 : -1;
	}
	t_jout(i, "%s=%d ready=%d\n", i == 0 ? "poll" : i == 1 ? "select" : "epoll_wait", n,
	       which);
	close(ep);
}

static void j_waker(int i)
{
	usleep(20000);
	for (int w = 0; w < 3; w++)
		write(pp[w][w + 1][1], "x", 1);
	t_jout(i, "woke\n");
}

static void k_readiness(void)
{
	alarm(8);
	for (int w = 0; w < 3; w++)
		for (int k = 0; k < 4; k++)
			pipe(pp[w][k]);
	for (int w = 0; w < 3; w++)
		t_spawn(j_waiter, w);
	t_spawn(j_waker, 3);
	t_finish();
}

/* A 4 MiB send on a stream another job drains with recv; sendmsg and
 * sendmmsg on datagrams to a job that receives them. */
static int big[2];

static void j_big_sender(int i)
{
	static char b[4 << 20];
	memset(b, 's', sizeof b);
	t_jres(i, "send", send(big[0], b, sizeof b, 0));
	shutdown(big[0], SHUT_WR);
	t_jout(i, "\n");
}

static void j_big_receiver(int i)
{
	char b[65536];
	long n, total = 0;
	while ((n = recv(big[1], b, sizeof b, 0)) > 0)
		total += n;
	t_jout(i, "received=%ld\n", total);
}

static void k_send_big(void)
{
	alarm(8);
	t_pair(T_TCP, big);
	t_spawn(j_big_sender, 0);
	t_spawn(j_big_receiver, 1);
	t_finish();
}

/* read() of a number that last held a socket: a socket read waits on
 * the ring as recv does; whatever the number holds next (another kind of
 * socket, a pipe, a file, /dev/zero, an eventfd, a listening socket,
 * nothing) reads as itself.  Before each, a non-blocking socket's
 * "would wait" at that number marks it as a socket again. */
#define REUSED 100
static int ru_go[2], ru_late[2], ru_s[2];

static void ru_mark(void)
{
	int nb[2];
	char b[8];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, nb);
	dup2(nb[0], REUSED);
	if (read(REUSED, b, sizeof b) != -1 || errno != EAGAIN)
		t_out("mark failed\n");
	close(nb[0]);
	close(nb[1]);
}

static void ru_read(int i, const char *what, size_t len)
{
	char b[64];
	long n = read(REUSED, b, len);
	t_jres(i, what, n);
	if (n > 0)
		t_jout(i, "'%.*s' ", (int)n, b);
}

static void ru_onto(int fd)
{
	ru_mark();
	dup2(fd, REUSED);
	close(fd);
}

static void j_reused(int i)
{
	char c = 'g', b[64];
	int one = 1, four = 4, p[2], u[2];
	struct timeval tmo = { 0, 30000 }, none = { 0, 0 };
	if (i == 1) {
		read(ru_go[0], &c, 1);
		usleep(20000);
		write(ru_s[1], "one", 3);
		read(ru_go[0], &c, 1);
		write(ru_s[1], "ab", 2);
		usleep(10000);
		write(ru_s[1], "cdef", 4);
		read(ru_go[0], &c, 1);
		usleep(20000);
		write(ru_late[1], "late", 4);
		read(ru_go[0], &c, 1); /* job 0 is never alone on its thread */
		t_jout(i, "\n");
		return;
	}
	ru_onto(dup(ru_s[0]));
	write(ru_go[1], &c, 1);
	ru_read(i, "waits", 64);
	write(ru_s[1], "xyz12", 5);
	struct iovec v[2] = { { b, 2 }, { b + 2, 10 } };
	t_jres(i, "readv", readv(REUSED, v, 2));
	setsockopt(REUSED, SOL_SOCKET, SO_RCVLOWAT, &four, sizeof four);
	write(ru_go[1], &c, 1);
	ru_read(i, "lowat", 64);
	setsockopt(REUSED, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
	setsockopt(REUSED, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
	ru_read(i, "timeo", 64);
	setsockopt(REUSED, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
	fcntl(REUSED, F_SETFL, O_NONBLOCK);
	ru_read(i, "nonblock", 64);
	fcntl(REUSED, F_SETFL, 0);
	t_jout(i, "\n");

	socketpair(AF_UNIX, SOCK_DGRAM, 0, u);
	ru_onto(u[0]);
	send(u[1], "0123456789", 10, 0);
	send(u[1], "xy", 2, 0);
	ru_read(i, "dgram", 4);
	ru_read(i, "next", 8);
	send(u[1], "zz", 2, 0);
	struct iovec none0 = { b, 0 };
	t_jres(i, "readv0", readv(REUSED, &none0, 1)); /* reads nothing, takes no datagram */
	t_jres(i, "read0", read(REUSED, b, 0));
	ru_read(i, "kept", 8);
	close(u[1]);
	pipe(p);
	write(p[1], "pipe", 4);
	ru_onto(p[0]);
	ru_read(i, "pipe", 64);
	close(p[1]);
	ru_onto(ru_late[0]);
	write(ru_go[1], &c, 1);
	ru_read(i, "pipe-waits", 64);
	t_jout(i, "\n");

	t_put("reused", "file bytes");
	ru_onto(open("reused", O_RDONLY));
	ru_read(i, "file", 64);
	ru_onto(open("/dev/zero", O_RDONLY));
	t_jres(i, "zero", read(REUSED, b, 8));
	ru_onto(eventfd(7, 0));
	uint64_t ev = 0;
	t_jres(i, "eventfd", read(REUSED, &ev, sizeof ev));
	t_jout(i, "value=%lu ", (unsigned long)ev);
	ru_onto(socket(AF_INET, SOCK_STREAM, 0));
	ru_read(i, "unconnected", 64);
	ru_mark();
	close(REUSED);
	ru_read(i, "closed", 64);
	write(ru_go[1], &c, 1);
	t_jout(i, "\n");
}

static void k_reused_number(void)
{
	alarm(8);
	t_fs_dir();
	pipe(ru_go);
	pipe(ru_late);
	t_pair(T_UNIX_STREAM, ru_s);
	t_spawn(j_reused, 0);
	t_spawn(j_reused, 1);
	t_finish();
}

/* Name resolution of loopback names from several jobs at once.  A
 * numeric lookup leaves errno and h_errno as they were (in a coroutine
 * they were the worker's left-overs). */
static void j_resolve(int i)
{
	struct addrinfo numeric = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *nr = NULL;
	errno = 1000 + i;
	h_errno = 700 + i;
	int nrr = getaddrinfo("127.0.0.1", "80", &numeric, &nr);
	t_jout(i, "numeric=%d errno kept=%d h_errno kept=%d ", nrr, errno == 1000 + i,
	       h_errno == 700 + i);
	if (nr)
		freeaddrinfo(nr);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int r = getaddrinfo(i % 2 ? "127.0.0.1" : "localhost", "80", &hints, &res);
	int n4 = 0, n6 = 0;
	for (struct addrinfo *a = res; a; a = a->ai_next)
		a->ai_family == AF_INET ? n4++ : n6++;
	t_jout(i, "getaddrinfo=%d v4=%d v6=%d ", r, n4, n6);
	if (res) {
		char host[64], serv[16];
		r = getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof host, serv, sizeof serv,
				NI_NUMERICHOST | NI_NUMERICSERV);
		t_jout(i, "getnameinfo=%d %s:%s ", r, host, serv);
		freeaddrinfo(res);
	}
	struct hostent he, *hp = NULL;
	char buf[1024];
	int herr = 0;
	gethostbyname_r("localhost", &he, buf, sizeof buf, &hp, &herr);
	t_jout(i, "gethostbyname_r=%s\n", hp ? "found" : "none");
}

static void k_resolve(void)
{
	alarm(8);
	for (int i = 0; i < 4; i++)
		t_spawn(j_resolve, i);
	t_finish();
}

/* A thread's own resolver settings: each job points its thread's _res at
 * a DNS server of the test's (a plain thread on a loopback UDP port that
 * answers every A question with 10.1.2.3) and looks up "foo.test".  In a
 * coroutine the lookup ran on a worker, whose _res is resolv.conf's:
 * gethostbyname said NULL and getaddrinfo EAI_NONAME. */
static int dns_fd = -1;
static struct sockaddr_in dns_at;

static void *dns_server(void *arg)
{
	(void)arg;
	for (;;) {
		unsigned char b[512 + 16];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		long n = recvfrom(dns_fd, b, 512, 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			return NULL; /* shut down: the case is over */
		if (n <= 12)
			continue;
		long q = 12; /* past the question's name, type and class */
		while (q < n && b[q])
			q += b[q] + 1;
		if (q + 5 > n)
			continue;
		int type_a = b[q + 1] == 0 && b[q + 2] == 1;
		q += 5;
		b[2] = 0x81, b[3] = 0x80; /* a response, recursion available, no error */
		b[6] = 0, b[7] = (unsigned char)type_a, b[8] = b[9] = b[10] = b[11] = 0;
		static const unsigned char a[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3 };
		if (type_a)
			memcpy(b + q, a, sizeof a), q += sizeof a;
		sendto(dns_fd, b, (size_t)q, 0, (struct sockaddr *)&from, fl);
	}
}

static void j_own_resolver(int i)
{
	res_init();
	_res.nscount = 1;
	_res.nsaddr_list[0] = dns_at;
	_res.retrans = 1;
	_res.retry = 1;
	struct hostent he, *h = NULL;
	char buf[1024], a[INET_ADDRSTRLEN] = "NULL";
	int herr = 0;
	gethostbyname_r("foo.test", &he, buf, sizeof buf, &h, &herr);
	if (h)
		inet_ntop(AF_INET, h->h_addr_list[0], a, sizeof a);
	t_jout(i, "gethostbyname_r=%s ", a);
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
	int r = getaddrinfo("foo.test", "80", &hints, &res);
	if (r == 0)
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, a, sizeof a);
	t_jout(i, "getaddrinfo=%d %s\n", r, r == 0 ? a : "-");
	if (res)
		freeaddrinfo(res);
}

static void k_resolve_own_settings(void)
{
	alarm(8);
	dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	dns_at = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof dns_at;
	if (bind(dns_fd, (struct sockaddr *)&dns_at, sizeof dns_at) < 0 ||
	    getsockname(dns_fd, (struct sockaddr *)&dns_at, &len) < 0)
		return;
	pthread_t srv;
	pthread_create(&srv, NULL, dns_server, NULL);
	for (int i = 0; i < 2; i++)
		t_spawn(j_own_resolver, i);
	t_finish();
	shutdown(dns_fd, SHUT_RDWR);
	pthread_join(srv, NULL);
	close(dns_fd);
}

/* A receive's SO_RCVTIMEO runs from the call, not from when the engine
 * gets to it: job 0 waits 100 ms on a TCP and then a unix socket (the
 * ring reads the first one's timeout itself, the second's by
 * getsockopt) while job 1 keeps the thread busy for 60 ms without
 * yielding, twice.  Threads: the timeouts end at 100 ms; coroutines:
 * they must too, not at 160. */
static int tb_go[2];

static void j_timeo_busy(int i)
{
	char b[8], c = 0;
	if (i == 1) {
		for (int k = 0; k < 2; k++) {
			read(tb_go[0], &c, 1);
			double t0 = t_ms();
			while (t_ms() - t0 < 60)
				;
		}
		t_jout(i, "spun\n");
		return;
	}
	int fds[2][2];
	t_sock_pair(AF_INET, SOCK_STREAM, fds[0]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, fds[1]);
	for (int k = 0; k < 2; k++) {
		t_timeo(fds[k][0], SO_RCVTIMEO, 100);
		write(tb_go[1], &c, 1);
		double t0 = t_ms();
		t_jres(i, k ? "unix" : "tcp", recv(fds[k][0], b, sizeof b, 0));
		double el = t_ms() - t0;
		t_jout(i, "100ms: %s ", yes(el >= 99 && el < 145));
		close(fds[k][0]);
		close(fds[k][1]);
	}
	t_jout(i, "\n");
}

static void k_timeo_busy(void)
{
	alarm(8);
	pipe(tb_go);
	t_spawn(j_timeo_busy, 0);
	t_spawn(j_timeo_busy, 1);
	t_finish();
}

static const struct t_case cases[] = {
	{ "k_sleepers", k_sleepers, T_OWNCORO },
	{ "k_recv_waits_send", k_recv_waits_send, T_BACKEND | T_OWNCORO },
	{ "k_accept_connect", k_accept_connect, T_BACKEND | T_OWNCORO },
	{ "k_readiness", k_readiness, T_BACKEND | T_OWNCORO },
	{ "k_send_big", k_send_big, T_BACKEND | T_OWNCORO },
	{ "k_reused_number", k_reused_number, T_BACKEND | T_OWNCORO },
	{ "k_resolve", k_resolve, T_OWNCORO },
	{ "k_resolve_own_settings", k_resolve_own_settings, T_OWNCORO },
	{ "k_timeo_busy", k_timeo_busy, T_BACKEND | T_OWNCORO },
	{ NULL, NULL, 0 },
};
#define NCASES ((int)(sizeof cases / sizeof *cases) - 1)

static enum t_variant variants[2];
static int nvariants;

START_TEST(like_threads)
{
	t_compare_all(&cases[_i], variants, nvariants);
}
END_TEST

int main(int argc, char **argv)
{
	t_load_api();
	if (t_case_main(argc, argv, cases) >= 0)
		return 0;
	nvariants = t_engine_variants(variants, "check-net-coro");
	Suite *s = suite_create("net-coro");
	TCase *tc = tcase_create("net-coro");
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, like_threads, 0, NCASES);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
