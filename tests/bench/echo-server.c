/* echo-server MODE CONNS: an echo server on 127.0.0.1, three ways, for
 * bench-echo (tests/bench/net.py).
 *
 *   epoll      a hand-written epoll loop on one thread (no shim)
 *   threads    one thread per connection, plain blocking calls (no shim)
 *   coro-rw    one coroutine per connection on one thread, plain blocking
 *              accept/read/write: run under LD_PRELOAD=libasyncify.so
 *   coro-recv  the same with recv/send
 *
 * It listens on an ephemeral port, prints the port on stdout, accepts
 * exactly CONNS connections, echoes whatever each one sends until it
 * closes, and exits 0 when all of them are closed.  The coroutine API is
 * looked up with dlsym, so the plain modes run without the library. */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 4096

static int lfd, conns, use_recv;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* listen_any - a listening TCP socket on 127.0.0.1, port printed. */
static void listen_any(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket");
	if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&a, &len))
		die("bind/listen");
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
}

static int accept_one(void)
{
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* ---- plain blocking code: a thread or a coroutine per connection -------- */

static ssize_t get(int fd, char *buf)
{
	return use_recv ? recv(fd, buf, BUFSZ, 0) : read(fd, buf, BUFSZ);
}

static ssize_t put(int fd, const char *buf, size_t n)
{
	return use_recv ? send(fd, buf, n, 0) : write(fd, buf, n);
}

/* echo - serve one connection until the peer closes it (or an error). */
static void echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[BUFSZ];
	ssize_t n, w;
	while ((n = get(fd, buf)) > 0)
		for (ssize_t off = 0; off < n; off += w)
			if ((w = put(fd, buf + off, (size_t)(n - off))) <= 0)
				goto out;
out:
	close(fd);
}

static void *echo_thread(void *arg)
{
	echo(arg);
	return NULL;
}

static void run_threads(void)
{
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 * 1024);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_JOINABLE);
	pthread_t *t = calloc((size_t)conns, sizeof *t);
	for (int i = 0; i < conns; i++)
		if (pthread_create(&t[i], &at, echo_thread, (void *)(intptr_t)accept_one()))
			die("pthread_create");
	for (int i = 0; i < conns; i++)
		pthread_join(t[i], NULL);
}

static int (*go)(void (*)(void *), void *);

static void acceptor(void *arg)
{
	(void)arg;
	for (int i = 0; i < conns; i++)
		if (go(echo, (void *)(intptr_t)accept_one()) < 0)
			die("asy_go");
}

static void run_coro(void)
{
	int (*run)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	go = (int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	if (!go || !run) {
		fprintf(stderr, "echo-server: coroutine modes need LD_PRELOAD=libasyncify.so\n");
		exit(2);
	}
	if (go(acceptor, NULL) < 0 || run() != 0)
		die("asy_run");
}

/* ---- the hand-written epoll loop ----------------------------------------- */

static void run_epoll(void)
{
	int ep = epoll_create1(0), live = 0, accepted = 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd }, evs[256];
	char buf[BUFSZ];
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
		die("epoll");
	while (accepted < conns || live > 0) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				ev.data.fd = accept_one();
				if (epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev))
					die("epoll_ctl");
				accepted++, live++;
				if (accepted == conns)
					epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
				continue;
			}
			/* Requests are small and the socket buffer empty: a write
			 * that moves less than all means the peer is gone. */
			ssize_t r = read(fd, buf, sizeof buf);
			if (r > 0 && write(fd, buf, (size_t)r) == r)
				continue;
			close(fd);
			live--;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 3 || (conns = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: echo-server epoll|threads|coro-rw|coro-recv CONNS\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	listen_any();
	const char *m = argv[1];
	use_recv = !strcmp(m, "coro-recv");
	if (!strcmp(m, "epoll"))
		run_epoll();
	else if (!strcmp(m, "threads"))
		run_threads();
	else if (!strncmp(m, "coro-", 5))
		run_coro();
	else
		return fprintf(stderr, "echo-server: no mode '%s'\n", m), 2;
	return 0;
}
