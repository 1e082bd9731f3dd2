/* iops - N coroutines doing plain blocking pread() of random 4 KiB blocks.
 *
 *   iops FILE N SECONDS [direct|buffered]
 *
 * Each coroutine is ordinary blocking code; under asyncify its pread parks
 * the coroutine and the N reads are in flight together.  Prints one line:
 * "iops=<reads per second> reads=<count>".  With N = 0 it runs a plain
 * pread loop on the thread, without coroutines (the baseline for cached
 * reads). */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "asyncify.h"

static int fd;
static long nblocks;
static int64_t end;
static long total;

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void reader(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	void *buf;
	if (posix_memalign(&buf, 4096, 4096))
		return;
	long n = 0;
	while (asy_now() < end) {
		for (int k = 0; k < 16; k++) {
			off_t off = (off_t)(rng(&seed) % (uint64_t)nblocks) * 4096;
			if (pread(fd, buf, 4096, off) != 4096) {
				perror("pread");
				exit(1);
			}
			n++;
		}
	}
	total += n;
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: iops FILE N SECONDS [direct|buffered]\n");
		return 2;
	}
	int direct = argc < 5 || strcmp(argv[4], "buffered");
	int n = atoi(argv[2]);
	fd = open(argv[1], O_RDONLY | (direct ? O_DIRECT : 0));
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[1]);
		return 1;
	}
	nblocks = st.st_size / 4096;
	int64_t start = asy_now();
	end = start + (int64_t)(atof(argv[3]) * 1e9);
	if (n == 0) {
		reader((void *)1);
	} else {
		for (int i = 0; i < n; i++)
			if (asy_go(reader, (void *)(uintptr_t)(i + 1)) < 0) {
				perror("asy_go");
				return 1;
			}
		if (asy_run() < 0) {
			perror("asy_run");
			return 1;
		}
	}
	double secs = (double)(asy_now() - start) / 1e9;
	printf("iops=%.0f reads=%ld\n", (double)total / secs, total);
	return 0;
}
