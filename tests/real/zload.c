/* zload DIR: zlib's gz* calls (Debian's zlib, unchanged) from coroutines,
 * for the zlib case of lib-cases.sh.  Under the shim each job is a
 * coroutine on the main thread (the API looked up with dlsym); without
 * it, or under ASYNCIFY_BACKEND=off, the jobs run one after the other
 * (the pipe's two ends on a thread each).  Prints only what must be the same both ways; the files it
 * leaves are compared byte for byte by the runner.
 *
 *   32 jobs gzwrite DIR/cI.gz (level 1..9, 200 KB each, in odd pieces);
 *   one gzwrites 1 MiB into a pipe in 7 777-byte pieces with pauses, one
 *   gzreads it in 3 000-byte pieces;
 *   gzopen of a FIFO with no writer, ended after 200 ms — by
 *   asy_io_deadline under the shim, by SIGALRM without it — then the
 *   fds left open. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "coapi.h"

#define JOBS 32
#define PIPED (1 << 20)

static const char *dir;
static int pipefd[2];
static unsigned char piped[PIPED];

static void compress_one(void *arg)
{
	int i = (int)(long)arg;
	char path[4096], mode[8];
	unsigned char b[5003];
	snprintf(path, sizeof path, "%s/c%d.gz", dir, i);
	snprintf(mode, sizeof mode, "wb%d", i % 9 + 1);
	gzFile g = gzopen(path, mode);
	if (!g) {
		printf("gzopen %s: %s\n", path, strerror(errno));
		return;
	}
	unsigned s = (unsigned)i * 7919u;
	for (int k = 0; k < 40; k++) {
		for (size_t j = 0; j < sizeof b; j++) {
			s = s * 1103515245u + 12345u;
			b[j] = (unsigned char)('a' + (s >> 16) % (unsigned)(i % 5 + 3));
		}
		if (gzwrite(g, b, sizeof b) != (int)sizeof b)
			printf("gzwrite %s failed\n", path);
	}
	if (gzclose(g) != Z_OK)
		printf("gzclose %s failed\n", path);
}

static void pipe_writer(void *arg)
{
	(void)arg;
	gzFile g = gzdopen(pipefd[1], "wb1");
	gzbuffer(g, 1024);
	for (int i = 0; i < PIPED; i += 7777) {
		int n = PIPED - i < 7777 ? PIPED - i : 7777;
		if (gzwrite(g, piped + i, (unsigned)n) != n)
			printf("pipe gzwrite failed\n");
		if (i % (7777 * 20) == 0)
			usleep(1000);
	}
	printf("pipe writer gzclose: %d\n", gzclose(g));
}

static void *pipe_writer_thread(void *arg)
{
	pipe_writer(arg);
	return NULL;
}

static void pipe_reader(void *arg)
{
	(void)arg;
	static unsigned char out[PIPED + 4096];
	gzFile g = gzdopen(pipefd[0], "rb");
	long total = 0;
	int n;
	while ((n = gzread(g, out + total, 3000)) > 0)
		total += n;
	printf("pipe reader: %ld bytes, %s, last gzread %d\n", total,
	       total == PIPED && !memcmp(out, piped, PIPED) ? "the same" : "different", n);
	gzclose(g);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void fifo_open(void *arg)
{
	(void)arg;
	char path[4096];
	snprintf(path, sizeof path, "%s/fifo", dir);
	mkfifo(path, 0600);
	int before = nfds();
	if (co_io_deadline) {
		co_io_deadline(co_now() + 200000000);
	} else {
		struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &(struct itimerval){ .it_value = { 0, 200000 } }, NULL);
	}
	gzFile g = gzopen(path, "rb");
	int e = errno;
	printf("gzopen of a FIFO with no writer: %s (%s)\n", g ? "opened" : "failed",
	       e == ETIMEDOUT || e == EINTR ? "ended on time" : strerror(e));
	if (co_io_deadline)
		co_io_deadline(-1);
	if (g)
		gzclose(g);
	usleep(100000);
	printf("fds left open: %d\n", nfds() - before);
	unlink(path);
}

/* fn(arg) as a coroutine under the shim, else now. */
static void job(void (*fn)(void *), void *arg)
{
	if (co_go)
		co_go(fn, arg);
	else
		fn(arg);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: zload DIR\n");
		return 2;
	}
	dir = argv[1];
	/* ASYNCIFY_BACKEND=off: every call is the program's own, and a
	 * coroutine's pipe read would hold the thread its writer needs. */
	if (co_api())
		co_go = NULL, co_io_deadline = NULL;
	for (long i = 0; i < PIPED; i++)
		piped[i] = (unsigned char)((i * 31 + (i >> 9)) % 61);
	for (long i = 0; i < JOBS; i++)
		job(compress_one, (void *)i);
	if (pipe(pipefd) < 0)
		return 1;
	if (co_go) {
		job(pipe_reader, NULL);
		job(pipe_writer, NULL);
	} else {
		pthread_t th;
		pthread_create(&th, NULL, pipe_writer_thread, NULL);
		pipe_reader(NULL);
		pthread_join(th, NULL);
	}
	if (co_go)
		co_run();
	job(fifo_open, NULL);
	if (co_go)
		co_run();
	return 0;
}
