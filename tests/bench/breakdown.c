/* breakdown — N calls of one kind, for perf stat to count (make
 * bench-breakdown, tests/bench/breakdown.py).
 *
 *   breakdown OP N FILE [coro|coro-alone]
 *
 * OP is one of
 *   read       read() 4 KiB of FILE, page-cached, walking it (an lseek
 *              back to 0 at its end: once per FILE / 4 KiB calls)
 *   pread      pread() 4 KiB of FILE, the same walk
 *   write      write() 4 KiB into FILE, the same walk (overwrites cached
 *              pages; the kernel writes them back later)
 *   fdatasync  pwrite() 4 KiB at offset 0 of FILE, then fdatasync(): the
 *              figure is per pair, the fdatasync having a page to write
 *   pipe       read() 64 bytes from a pipe that holds data (refilled by
 *              one 64 KiB write every 1 024 reads)
 *   stat       stat() of FILE
 *   eventfd    write() of 8 bytes to an eventfd (a read() empties it every
 *              1 024 writes): GLib's and libuv's wake-up
 * FILE must exist and hold at least 64 KiB; it is read once beforehand.
 * N = 0 makes the same set-up and no call: the start-up to take off.
 *
 * Built twice: `breakdown` (plain, run with and without LD_PRELOAD: a
 * plain thread's calls) and `breakdown-coro` (-DCORO, linked with
 * -lasyncify): its calls are made inside a coroutine, beside a second one
 * asleep in asy_sleep() (`coro`: the engine's path) or alone on the
 * thread (`coro-alone`: the engine lets a lone coroutine make file calls
 * as the program's own).  Prints "calls N"; exit 1 when a call fails. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef CORO
#include <asyncify.h>
#endif

#define BS 4096
#define PIPE_CHUNK 65536
#define PIPE_READ 64

struct job {
	const char *op, *path;
	long n;
	int fd, pipefd[2], efd;
	off_t size;
	int failed;
#ifdef CORO
	int sleeper;
#endif
};

static char buf[PIPE_CHUNK] __attribute__((aligned(4096)));

/* The next offset of the walk through the file, wrapping at its end. */
static off_t step(struct job *j, off_t off)
{
	off += BS;
	return off + BS > j->size ? 0 : off;
}

static int one_read(struct job *j, off_t *off, int pos)
{
	ssize_t r = pos ? pread(j->fd, buf, BS, *off) : read(j->fd, buf, BS);
	*off = step(j, *off);
	if (!pos && *off == 0 && lseek(j->fd, 0, SEEK_SET) != 0)
		return -1;
	return r == BS ? 0 : -1;
}

static int one_write(struct job *j, off_t *off)
{
	ssize_t r = write(j->fd, buf, BS);
	*off = step(j, *off);
	if (*off == 0 && lseek(j->fd, 0, SEEK_SET) != 0)
		return -1;
	return r == BS ? 0 : -1;
}

static int one_wake(struct job *j, long i)
{
	uint64_t one = 1, v;
	if (write(j->efd, &one, sizeof one) != sizeof one)
		return -1;
	return i % 1024 == 1023 && read(j->efd, &v, sizeof v) != sizeof v ? -1 : 0;
}

static int one_pipe(struct job *j, long i)
{
	if (i % (PIPE_CHUNK / PIPE_READ) == 0 && write(j->pipefd[1], buf, PIPE_CHUNK) != PIPE_CHUNK)
		return -1;
	return read(j->pipefd[0], buf, PIPE_READ) == PIPE_READ ? 0 : -1;
}

/* N calls of the job's kind; 0, or -1 at the first that fails. */
static int calls(struct job *j)
{
	struct stat st;
	off_t off = 0;

	for (long i = 0; i < j->n; i++) {
		int r;
		if (!strcmp(j->op, "read") || !strcmp(j->op, "pread"))
			r = one_read(j, &off, j->op[0] == 'p');
		else if (!strcmp(j->op, "write"))
			r = one_write(j, &off);
		else if (!strcmp(j->op, "fdatasync"))
			r = pwrite(j->fd, buf, BS, 0) == BS && fdatasync(j->fd) == 0 ? 0 : -1;
		else if (!strcmp(j->op, "pipe"))
			r = one_pipe(j, i);
		else if (!strcmp(j->op, "eventfd"))
			r = one_wake(j, i);
		else
			r = stat(j->path, &st);
		if (r < 0) {
			perror(j->op);
			return -1;
		}
	}
	return 0;
}

static int setup(struct job *j)
{
	static const char *const ops[] = { "read", "pread", "write", "fdatasync", "pipe", "stat",
					     "eventfd" };
	int known = 0;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		known |= !strcmp(j->op, ops[i]);
	if (!known || j->n < 0)
		return -1;
	j->fd = open(j->path, O_RDWR | O_CLOEXEC);
	j->efd = eventfd(0, EFD_CLOEXEC);
	if (j->fd < 0 || pipe(j->pipefd) < 0 || j->efd < 0) {
		perror(j->path);
		return -1;
	}
	j->size = lseek(j->fd, 0, SEEK_END);
	if (j->size < PIPE_CHUNK || lseek(j->fd, 0, SEEK_SET) != 0)
		return -1;
	while (read(j->fd, buf, PIPE_CHUNK) > 0)   /* into the page cache */
		;
	return lseek(j->fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

#ifdef CORO
static void sleeper(void *arg)
{
	asy_sleep(asy_now() + 3600 * 1000000000LL);   /* until cancelled */
}

static void worker(void *arg)
{
	struct job *j = arg;
	j->failed = calls(j) < 0;
	if (j->sleeper > 0)
		asy_cancel(j->sleeper);
}

static int run(struct job *j, const char *mode)
{
	if (strcmp(mode, "coro-alone") && (j->sleeper = asy_go(sleeper, NULL)) < 0)
		return -1;
	if (asy_go(worker, j) < 0 || asy_run() < 0)
		return -1;
	return j->failed ? -1 : 0;
}
#else
static int run(struct job *j, const char *mode)
{
	return calls(j);
}
#endif

int main(int argc, char **argv)
{
	struct job j = { .op = argc > 1 ? argv[1] : "", .n = argc > 2 ? atol(argv[2]) : -1,
			 .path = argc > 3 ? argv[3] : "" };

	if (argc < 4 || setup(&j) < 0) {
		fprintf(stderr, "usage: breakdown read|pread|write|fdatasync|pipe|stat|eventfd N FILE"
				" [coro|coro-alone]\n");
		return 2;
	}
	if (run(&j, argc > 4 ? argv[4] : "coro") < 0) {
		fprintf(stderr, "breakdown: %s failed\n", j.op);
		return 1;
	}
	printf("calls %ld\n", j.n);
	return 0;
}
