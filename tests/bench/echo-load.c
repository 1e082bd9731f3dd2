/* echo-load PORT CONNS SECONDS SIZE: the load generator of bench-echo
 * (tests/bench/net-echo.py), a plain epoll loop in its own process.
 * echo-load PORT CONNS SECONDS /PATH: the same against an HTTP/1.1 server
 * (bench-progs' nginx, tests/bench/net-progs.py).
 *
 * It opens CONNS connections to 127.0.0.1:PORT, then on each one sends a
 * request of SIZE bytes, waits until the same SIZE bytes came back, and
 * sends the next: one request in flight per connection.  After 0.2 s of
 * warm-up it counts the requests answered for SECONDS, prints
 * "REQS_PER_SECOND ANSWERED SERVED" (SERVED: how many connections had at
 * least one answer counted: a server that serves one connection at a time
 * shows here) and closes every connection.  An echo with
 * other bytes than were sent is an error (exit 1).
 *
 * With /PATH the request is a keep-alive GET of PATH and an answer is
 * whole once its header and Content-Length bytes of body came; an answer
 * other than 200, without Content-Length, or with bytes after its end
 * (nothing was pipelined) is an error. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WARMUP_NS 200000000LL

struct conn {
	int fd;
	size_t got;    /* bytes of the current answer received */
	long answered; /* answers counted for this connection */
	size_t want;   /* HTTP: the whole answer's length, once its header is in */
	char head[1024]; /* HTTP: the answer's first bytes, up to its header's end */
};

static size_t size;
static char *req;
static int http; /* requests are GETs of a path, answers HTTP/1.1 */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void send_req(struct conn *c)
{
	c->got = c->want = 0;
	if (write(c->fd, req, size) != (ssize_t)size)
		die("write");
}

static void bad_answer(const char *why)
{
	fprintf(stderr, "echo-load: %s\n", why);
	exit(1);
}

/* http_took - n more bytes of an HTTP answer (buf); 1 when it is whole. */
static int http_took(struct conn *c, const char *buf, size_t n)
{
	if (!c->want) { /* the header is not all in yet: c->got < sizeof c->head - 1 */
		size_t k = n < sizeof c->head - 1 - c->got ? n : sizeof c->head - 1 - c->got;
		memcpy(c->head + c->got, buf, k);
		c->head[c->got + k] = 0;
		const char *end = strstr(c->head, "\r\n\r\n"), *len;
		if (end) {
			if (strncmp(c->head, "HTTP/1.1 200 ", 13))
				bad_answer("an answer was not 200 OK");
			if (!(len = strcasestr(c->head, "\r\nContent-Length:")) || len > end)
				bad_answer("an answer had no Content-Length");
			c->want = (size_t)(end + 4 - c->head) + strtoul(len + 17, NULL, 10);
		} else if (c->got + k == sizeof c->head - 1) {
			bad_answer("an answer's header was longer than 1 KiB");
		}
	}
	c->got += n;
	if (c->want && c->got > c->want)
		bad_answer("bytes came after a whole answer");
	return c->want && c->got == c->want;
}

/* on_readable - take what arrived; 1 when a whole answer is in. */
static int on_readable(struct conn *c)
{
	char buf[65536];
	ssize_t n = read(c->fd, buf, sizeof buf);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		fprintf(stderr, "echo-load: the server closed a connection (%s)\n",
			n ? strerror(errno) : "EOF");
		exit(1);
	}
	if (http)
		return http_took(c, buf, (size_t)n);
	if (c->got + (size_t)n > size || memcmp(buf, req + c->got, (size_t)n)) {
		fprintf(stderr, "echo-load: the echo differs from the request\n");
		exit(1);
	}
	c->got += (size_t)n;
	return c->got == size;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: echo-load PORT CONNS SECONDS SIZE|/PATH\n");
		return 2;
	}
	int port = atoi(argv[1]), nconn = atoi(argv[2]);
	double secs = atof(argv[3]);
	http = argv[4][0] == '/';
	size = http ? strlen(argv[4]) + 64 : (size_t)atol(argv[4]);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	req = malloc(size);
	if (http)
		size = (size_t)snprintf(req, size, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", argv[4]);
	else
		for (size_t i = 0; i < size; i++)
			req[i] = (char)('a' + i % 26);
	struct conn *c = calloc((size_t)nconn, sizeof *c);
	int ep = epoll_create1(0);
	for (int i = 0; i < nconn; i++) {
		c[i].fd = dial(port);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c[i] };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev))
			die("epoll_ctl");
	}
	for (int i = 0; i < nconn; i++)
		send_req(&c[i]);
	struct epoll_event evs[256];
	int64_t start = now_ns() + WARMUP_NS, end = start + (int64_t)(secs * 1e9), t;
	while ((t = now_ns()) < end) {
		int n = epoll_wait(ep, evs, 256, (int)((end - t) / 1000000 + 1));
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++)
			if (on_readable(evs[i].data.ptr)) {
				struct conn *ci = evs[i].data.ptr;
				ci->answered += now_ns() >= start;
				send_req(ci);
			}
	}
	long answered = 0;
	int served = 0;
	for (int i = 0; i < nconn; i++) {
		answered += c[i].answered;
		served += c[i].answered > 0;
	}
	printf("%.0f %ld %d\n", answered / secs, answered, served);
	fflush(stdout);
	for (int i = 0; i < nconn; i++)
		close(c[i].fd);
	return 0;
}
