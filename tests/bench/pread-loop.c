/* pread-loop — the cost of one 4 KiB pread of page-cached data.
 *
 *   pread-loop FILE [OPS]
 *
 * Reads FILE once to bring it into the page cache, runs 10 000 untimed
 * preads, then times OPS (default 200 000) 4 KiB preads walking the file
 * in 4 KiB steps (wrapping at its end), and prints one line:
 *   ns/op 1543.2
 * Run it once per variant (no shim, shim off, uring, threads): the
 * benchmark runner interleaves the processes and takes medians.  Exit 0,
 * or 1 when the file cannot be read (a short read counts as an error). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BS 4096

static int loop(int fd, char *buf, off_t size, long ops)
{
	off_t off = 0;
	for (long i = 0; i < ops; i++) {
		if (pread(fd, buf, BS, off) != BS)
			return -1;
		off += BS;
		if (off + BS > size)
			off = 0;
	}
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static char buf[BS] __attribute__((aligned(4096)));
	struct stat st;
	long ops = argc > 2 ? atol(argv[2]) : 200000;

	if (argc < 2 || ops <= 0) {
		fprintf(stderr, "usage: pread-loop FILE [OPS]\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < BS) {
		perror(argv[1]);
		return 1;
	}
	if (loop(fd, buf, st.st_size, st.st_size / BS) < 0 || loop(fd, buf, st.st_size, 10000) < 0)
		goto bad;
	double t0 = now_ns();
	if (loop(fd, buf, st.st_size, ops) < 0)
		goto bad;
	double t1 = now_ns();
	printf("ns/op %.1f\n", (t1 - t0) / (double)ops);
	return 0;
bad:
	fprintf(stderr, "pread-loop: %s: short or failed pread\n", argv[1]);
	return 1;
}
