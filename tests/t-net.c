/* Test helpers for the socket, readiness and coroutine programs: loopback
 * sockets, time, signals sent from other threads, and jobs that are
 * coroutines under the library and threads without it.  Declared in
 * t-helpers.h. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "t-helpers.h"

/* ---- sockets, time and signals ---------------------------------------- */

double t_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const char *t_yes(int cond)
{
	return cond ? "yes" : "no";
}

int t_bound(int family, int type, int backlog, struct sockaddr_storage *a, socklen_t *len)
{
	static int serial;
	int fd = socket(family, type, 0);
	memset(a, 0, sizeof *a);
	if (family == AF_UNIX) {
		struct sockaddr_un *u = (struct sockaddr_un *)a;
		u->sun_family = AF_UNIX;
		/* Abstract: sun_path[0] is 0, nothing to unlink. */
		int n = snprintf(u->sun_path + 1, sizeof u->sun_path - 1, "asy-t-%d-%d", (int)getpid(),
				 serial++);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	} else if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)a;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)a;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		*len = sizeof *in6;
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)a, *len) < 0 ||
	    (backlog >= 0 && listen(fd, backlog) < 0) ||
	    getsockname(fd, (struct sockaddr *)a, len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int t_sock_pair(int family, int type, int fds[2])
{
	struct sockaddr_storage a, b;
	socklen_t alen, blen;
	if (family == AF_UNIX)
		return socketpair(AF_UNIX, type, 0, fds);
	if (type == SOCK_DGRAM) {
		fds[1] = t_bound(family, type, -1, &b, &blen);
		fds[0] = t_bound(family, type, -1, &a, &alen);
		if (fds[0] < 0 || fds[1] < 0 || connect(fds[0], (struct sockaddr *)&b, blen) < 0 ||
		    connect(fds[1], (struct sockaddr *)&a, alen) < 0)
			return -1;
		return 0;
	}
	int l = t_bound(family, type, 1, &a, &alen);
	fds[0] = socket(family, type, 0);
	if (l < 0 || fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, alen) < 0)
		return -1;
	fds[1] = accept(l, NULL, NULL);
	close(l);
	return fds[1] < 0 ? -1 : 0;
}

const struct t_kind t_kinds[T_NKINDS] = {
	{ AF_UNIX, SOCK_STREAM }, { AF_UNIX, SOCK_DGRAM }, { AF_UNIX, SOCK_SEQPACKET },
	{ AF_INET, SOCK_STREAM }, { AF_INET6, SOCK_STREAM }, { AF_INET, SOCK_DGRAM },
	{ AF_INET6, SOCK_DGRAM },
};

void t_pair(int k, int fds[2])
{
	if (t_sock_pair(t_kinds[k].family, t_kinds[k].type, fds) < 0) {
		t_out("no %s pair: %s\n", t_sock_name(t_kinds[k].family, t_kinds[k].type),
		      t_errname(errno));
		exit(1);
	}
}

void t_show(const char *what, const char *buf, long n)
{
	if (n < 0)
		t_res(what, n);
	else
		t_out("%s=%ld '%.*s'\n", what, n, (int)n, buf);
}

const char *t_sock_name(int family, int type)
{
	int stream = type == SOCK_STREAM, dgram = type == SOCK_DGRAM;
	if (family == AF_UNIX)
		return stream ? "unix-stream" : dgram ? "unix-dgram" : "unix-seqpacket";
	if (family == AF_INET)
		return stream ? "tcp" : dgram ? "udp" : "ip-other";
	return stream ? "tcp6" : dgram ? "udp6" : "ip6-other";
}

void t_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

_Atomic int t_handled; /* lock-free: safe in a handler, seen by other threads */

static void on_count(int sig)
{
	(void)sig;
	t_handled++;
}

void t_handle(int sig, int flags)
{
	struct sigaction sa = { .sa_handler = on_count, .sa_flags = flags };
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	t_handled = 0;
}

/* t_later_signal() calls made, and signals they have sent. */
static _Atomic int signals_asked, signals_sent;

struct later {
	void (*fn)(void *);
	void *arg;
	int ms, after_signal;
	/* t_later_write, t_later_signal */
	int fd, sig;
	const void *data;
	size_t n;
	pthread_t target;
	pid_t target_tid;
};

static void *later_main(void *p)
{
	struct later *l = p;
	for (int i = 0; i < 10000 && l->after_signal > signals_sent; i++)
		t_msleep(1);
	t_msleep(l->ms);
	l->fn(l->arg);
	return NULL;
}

static struct later *later_slot(void)
{
	static struct later slots[16];
	static unsigned next;
	struct later *l = &slots[__atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % 16];
	memset(l, 0, sizeof *l);
	return l;
}

static pthread_t later_start(struct later *l)
{
	pthread_t th;
	if (pthread_create(&th, NULL, later_main, l)) {
		fprintf(stderr, "pthread_create failed\n");
		exit(3);
	}
	return th;
}

pthread_t t_later(void (*fn)(void *), void *arg, int ms)
{
	struct later *l = later_slot();
	l->fn = fn;
	l->arg = arg;
	l->ms = ms;
	return later_start(l);
}

static void do_write(void *p)
{
	struct later *l = p;
	if (write(l->fd, l->data, l->n) < 0)
		perror("later write");
}

pthread_t t_later_write(int fd, const void *data, size_t n, int ms)
{
	struct later *l = later_slot();
	*l = (struct later){ .fn = do_write, .ms = ms, .fd = fd, .data = data, .n = n };
	l->arg = l;
	return later_start(l);
}

pthread_t t_after_signal(void (*fn)(void *), void *arg, int ms)
{
	struct later *l = later_slot();
	*l = (struct later){ .fn = fn, .arg = arg, .ms = ms, .after_signal = signals_asked };
	return later_start(l);
}

pthread_t t_after_signal_write(int fd, const void *data, size_t n, int ms)
{
	struct later *l = later_slot();
	*l = (struct later){ .fn = do_write, .ms = ms, .fd = fd, .data = data, .n = n,
			     .after_signal = signals_asked };
	l->arg = l;
	return later_start(l);
}

static void do_signal(void *p)
{
	struct later *l = p;
	t_wait_blocked(l->target_tid);
	pthread_kill(l->target, l->sig);
	signals_sent++;
}

pthread_t t_later_signal(int sig, int ms)
{
	struct later *l = later_slot();
	*l = (struct later){ .fn = do_signal, .ms = ms, .sig = sig, .target = pthread_self(),
			     .target_tid = t_gettid() };
	signals_asked++;
	l->arg = l;
	return later_start(l);
}

long t_fill(int fd)
{
	static char buf[65536];
	long total = 0, n;
	for (size_t chunk = sizeof buf; chunk >= 1; chunk /= 8)
		while ((n = send(fd, buf, chunk, MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
			total += n;
	return total;
}

long t_drain(int fd)
{
	static char buf[65536];
	long total = 0, n;
	while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
		total += n;
	return total;
}

int t_nfds(void)
{
	int n = -1; /* the directory's own fd */
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ---- jobs ------------------------------------------------------------- */

struct t_api t_api;

#define MAXJOBS 512
static pthread_t job_threads[MAXJOBS];
static int njobs;
static char job_out[MAXJOBS][512];

struct job {
	void (*fn)(int i);
	int i;
};
static struct job jobs[MAXJOBS];

static void job_main(void *arg)
{
	struct job *j = arg;
	j->fn(j->i);
}

static void *job_thread(void *arg)
{
	job_main(arg);
	return NULL;
}

void t_load_api(void)
{
	/* Once: a job thread that calls it again while the case's thread
	 * reads t_api would race with it (ThreadSanitizer says so). */
	static int loaded;
	if (loaded)
		return;
	loaded = 1;
	t_api.go = (int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	t_api.run = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	t_api.cancel = (int (*)(int))dlsym(RTLD_DEFAULT, "asy_cancel");
	t_api.io_deadline = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_io_deadline");
	t_api.now = (int64_t(*)(void))dlsym(RTLD_DEFAULT, "asy_now");
	t_api.sleep = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_sleep");
	t_api.yield = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_yield");
}

void t_jobs_threads_under_off(void)
{
	t_load_api();
	const char *(*backend)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "asy_backend_name");
	if (backend && !strcmp(backend(), "off"))
		t_api.go = NULL;
}

int t_jobs_coro(void)
{
	return t_api.go != NULL;
}

void t_far_deadline(int on)
{
	t_load_api();
	if (t_api.io_deadline && t_api.now)
		t_api.io_deadline(on ? t_api.now() + 20LL * 1000000000LL : -1);
}

int t_spawn(void (*fn)(int), int i)
{
	if (njobs == MAXJOBS) {
		fprintf(stderr, "t_spawn: more than %d jobs\n", MAXJOBS);
		exit(3);
	}
	struct job *j = &jobs[njobs];
	*j = (struct job){ fn, i };
	if (t_api.go)
		return njobs++, t_api.go(job_main, j);
	pthread_create(&job_threads[njobs++], NULL, job_thread, j);
	return njobs;
}

void t_finish(void)
{
	if (t_api.go) {
		int r = t_api.run();
		if (r)
			t_out("asy_run=%d %s\n", r, t_errname(errno));
	} else {
		for (int i = 0; i < njobs; i++)
			pthread_join(job_threads[i], NULL);
	}
	for (int i = 0; i < njobs; i++)
		t_out("%d: %s", i, job_out[i]);
	memset(job_out, 0, sizeof job_out);
	njobs = 0;
}

void t_jobs_all(void (*fn)(int), int n, unsigned secs)
{
	alarm(secs);
	for (int i = 0; i < n; i++)
		t_spawn(fn, i);
	t_finish();
}

void t_jobs_waits(void)
{
	struct stat st;
	stat("/", &st);
	usleep(2000);
}

void t_jout(int i, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(job_out[i]);
	va_start(ap, fmt);
	vsnprintf(job_out[i] + n, sizeof job_out[i] - n, fmt, ap);
	va_end(ap);
}

void t_jres(int i, const char *what, long r)
{
	if (r < 0)
		t_jout(i, "%s=-1 %s ", what, t_errname(errno));
	else
		t_jout(i, "%s=%ld ", what, r);
}
