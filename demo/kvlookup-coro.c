/* kvlookup-coro - the same legacy lookup code, run one call after another
 * and then from many coroutines on one thread.
 *
 *   kvlookup-coro DBFILE [lookups [coroutines]]
 *
 * kv_lookup() below is "legacy library" code: a plain blocking pread() of
 * one 256-byte record of a kvstore file, and a check of it.  The program
 * evicts the file from the page cache, times `lookups` calls made one
 * after another, evicts again, and times the same lookups spread over
 * `coroutines` coroutines (asy_go/asy_run): their preads wait together.
 * It prints both times, the speed-up, and the two checksums (equal). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "asyncify.h"

#define REC_SIZE 256

static int fd;
static uint64_t nrec;

/* The legacy call: nothing here knows about coroutines. */
static uint64_t kv_lookup(uint64_t key)
{
	unsigned char rec[REC_SIZE];
	if (pread(fd, rec, sizeof rec, (off_t)(key * REC_SIZE)) != REC_SIZE) {
		perror("pread");
		exit(1);
	}
	uint64_t h = 0xcbf29ce484222325ULL;
	for (int i = 0; i < REC_SIZE; i++)
		h = (h ^ rec[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t key_of(uint64_t i)
{
	uint64_t z = i * 0x9e3779b97f4a7c15ULL + 12345;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	return (z ^ (z >> 27)) % nrec;
}

struct job {
	uint64_t from, to, sum;
};

static void job_main(void *arg)
{
	struct job *j = arg;
	for (uint64_t i = j->from; i < j->to; i++)
		j->sum += kv_lookup(key_of(i));
}

static void evict(void)
{
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: kvlookup-coro DBFILE [lookups [coroutines]]\n");
		return 2;
	}
	uint64_t lookups = argc > 2 ? strtoull(argv[2], NULL, 10) : 4000;
	int n = argc > 3 ? atoi(argv[3]) : 64;
	struct stat st;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < REC_SIZE || n < 1 || n > 4096) {
		fprintf(stderr, "kvlookup-coro: %s: not a kvstore file, or bad arguments\n", argv[1]);
		return 1;
	}
	nrec = (uint64_t)st.st_size / REC_SIZE;

	evict();
	struct job one = { 0, lookups, 0 };
	int64_t t0 = asy_now();
	job_main(&one);
	int64_t plain = asy_now() - t0;

	evict();
	struct job *jobs = calloc((size_t)n, sizeof *jobs);
	for (int k = 0; k < n; k++) {
		jobs[k].from = lookups * (uint64_t)k / (uint64_t)n;
		jobs[k].to = lookups * (uint64_t)(k + 1) / (uint64_t)n;
		if (asy_go(job_main, &jobs[k]) < 0) {
			perror("asy_go");
			return 1;
		}
	}
	t0 = asy_now();
	if (asy_run() < 0) {
		perror("asy_run");
		return 1;
	}
	int64_t coro = asy_now() - t0;
	uint64_t sum = 0;
	for (int k = 0; k < n; k++)
		sum += jobs[k].sum;

	printf("%" PRIu64 " lookups of a cold file, backend %s\n", lookups, asy_backend_name());
	printf("  one after another:   %8.1f ms\n", plain / 1e6);
	printf("  %4d coroutines:      %8.1f ms   speed-up %.1fx\n", n, coro / 1e6,
	       (double)plain / (double)(coro > 0 ? coro : 1));
	printf("  checksums %s (%016" PRIx64 ")\n", sum == one.sum ? "equal" : "DIFFER", sum);
	free(jobs);
	return sum == one.sum ? 0 : 3;
}
