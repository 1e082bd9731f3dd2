/* Helpers shared by the check-exact-* programs (see t-exact.h): timing
 * buckets, safety alarms, threads that write later, fills and drains of
 * pipes and sockets, record files, a TCP pair, a counting signal handler. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

pid_t main_tid;
pthread_t main_thread;

/* Arguments the compiler must not see through. */
volatile int minus_one = -1;

/* Remember the case's own thread, for helpers that signal or wait for it. */
void mark_main(void)
{
	main_tid = t_gettid();
	main_thread = pthread_self();
}

double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *yes(int cond)
{
	return cond ? "yes" : "no";
}

/* A safety net: a call that hangs ends the process with SIGALRM.  Under
 * ThreadSanitizer each race a case makes on purpose (tests/tsan.supp) is
 * symbolized before it is suppressed, about a second on a quiet machine
 * and three on a busy one: the net is four times as wide there. */
void net(unsigned secs)
{
	const char *san = getenv("ASY_SANITIZE");
	alarm(san && !strcmp(san, "thread") ? 4 * secs : secs);
}

pthread_t go(void *(*fn)(void *), void *arg)
{
	pthread_t th;
	pthread_create(&th, NULL, fn, arg);
	return th;
}

void join(pthread_t th)
{
	pthread_join(th, NULL);
}

struct later {
	int fd, ms;
	const void *data;
	size_t len;
};

static void *later_main(void *arg)
{
	struct later *l = arg;
	t_msleep(l->ms);
	if (write(l->fd, l->data, l->len) < 0)
		perror("later write");
	return NULL;
}

/* After ms, write len bytes of data to fd from another thread. */
pthread_t later_write(int fd, const void *data, size_t len, int ms)
{
	static struct later l[8];
	static int n;
	struct later *p = &l[n++ % 8];
	*p = (struct later){ .fd = fd, .ms = ms, .data = data, .len = len };
	return go(later_main, p);
}

pthread_t later_str(int fd, const char *s, int ms)
{
	return later_write(fd, s, strlen(s), ms);
}

void show_buf(const char *what, const char *buf, long n)
{
	if (n < 0)
		t_res(what, n);
	else
		t_out("%s=%ld '%.*s'\n", what, n, (int)n, buf);
}

void show_status(const char *what, int st)
{
	if (WIFEXITED(st))
		t_out("%s: exit %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		t_out("%s: killed by SIG%s\n", what, sigabbrev_np(WTERMSIG(st)));
	else if (WIFSTOPPED(st))
		t_out("%s: stopped by SIG%s\n", what, sigabbrev_np(WSTOPSIG(st)));
	else
		t_out("%s: status %#x\n", what, st);
}

unsigned long sum(const unsigned char *b, long n, unsigned long s)
{
	for (long i = 0; i < n; i++)
		s = s * 31 + b[i];
	return s;
}

void fill(unsigned char *b, long n, unsigned seed)
{
	for (long i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 7 + (i >> 8) + seed);
}

/* Bytes readable from fd now, without waiting. */
long drain_nb(int fd)
{
	static char buf[65536];
	long total = 0, n;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		total += n;
	fcntl(fd, F_SETFL, fl);
	return total;
}

/* Fill a blocking pipe or socket until a write would block; the count. */
long fill_up(int fd)
{
	static char buf[65536];
	long total = 0, n;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (size_t chunk = sizeof buf; chunk >= 1; chunk /= 8)
		while ((n = write(fd, buf, chunk)) > 0)
			total += n;
	fcntl(fd, F_SETFL, fl);
	return total;
}

/* Read exactly n bytes (or up to EOF/error); the count. */
long read_n(int fd, long n)
{
	static char buf[65536];
	long got = 0, r;
	while (got < n && (r = read(fd, buf, n - got < (long)sizeof buf ? (size_t)(n - got) : sizeof buf)) > 0)
		got += r;
	return got;
}

/* A temporary file's fd (already unlinked), opened with flags. */
int tmp_open(const char *path, int flags)
{
	int fd = open(path, flags);
	unlink(path);
	return fd;
}

int empty_tmp(int flags)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	return tmp_open(path, flags);
}

/* A file of n 100-byte records, record i starting with i; unlinked. */
int record_file(int n, int evict)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	int fd = mkstemp(path);
	unsigned char b[100];
	unlink(path);
	for (int i = 0; i < n; i++) {
		fill(b, sizeof b, (unsigned)i);
		memcpy(b, &i, sizeof i);
		if (write(fd, b, sizeof b) != (ssize_t)sizeof b)
			break;
	}
	if (evict)
		t_evict(fd);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

int tcp_pair(int *client, int *server, int bufsize)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	if (bufsize)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
	if (bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*client = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (bufsize)
		setsockopt(*client, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
	if (connect(*client, (struct sockaddr *)&a, len) < 0)
		return -1;
	*server = accept(l, NULL, NULL);
	close(l);
	return *server < 0 ? -1 : 0;
}

volatile sig_atomic_t handled, handled_same_thread;

static void on_count(int sig)
{
	(void)sig;
	handled++;
	handled_same_thread = t_gettid() == main_tid;
}

void handle(int sig, int flags)
{
	struct sigaction sa = { .sa_handler = on_count, .sa_flags = flags };
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	handled = 0;
}

int pending(int sig)
{
	sigset_t set;
	sigpending(&set);
	return sigismember(&set, sig);
}

/* What a child wrote to fd, up to EOF, as one line of output. */
void child_line(int fd)
{
	char line[128];
	long n = 0, r;
	while (n < (long)sizeof line - 1 && (r = read(fd, line + n, sizeof line - 1 - (size_t)n)) > 0)
		n += r;
	line[n] = 0;
	t_out("child said: %s", n ? line : "nothing\n");
}
