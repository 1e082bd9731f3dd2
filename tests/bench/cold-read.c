/* cold-read - how long a cold read holds the thread that runs coroutines.
 *
 *   cold-read [-v] [-r RUNS] [-m MIB] [-c CASE,...] FILE
 *
 * One thread runs a ticker coroutine (tests/bench/ticker.h: wakes every
 * 1 ms, records how late) beside one coroutine that reads FILE after its
 * pages were dropped from the page cache (POSIX_FADV_DONTNEED; mincore()
 * checks that they are gone).  Cases:
 *
 *   rand4k    256 preads of 4 KiB at random 4 KiB-aligned offsets
 *   seq1m     64 preads of 1 MiB, one after the other from offset 0
 *   big       one pread of 128 MiB at offset 0
 *   readpos   64 read()s of 1 MiB at the file position (from 0)
 *   idle      no read, a 50 ms sleep: the machine's own lateness
 *
 * FILE is made (MIB MiB, default 160; every 8-byte word holds its own
 * offset) when it is missing or has another size; every byte read is
 * checked against it (-v: every round on stderr).  Each round runs every case once, with a fresh fd;
 * per case it prints the median over RUNS rounds (default 5) of the
 * longest stall of the thread (the ticker's worst lateness) and of the
 * most CPU time the thread spent between two ticks (held: the stall that
 * is the thread's own, not the machine's), the CPU time
 * of the scheduler's thread (CLOCK_THREAD_CPUTIME_ID over asy_run) and the
 * wall time, the worst of all rounds beside each median, and the largest share of the
 * file still cached when a case began.  Exit 1 when a read was wrong. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "asyncify.h"
#include "ticker.h"

#define MIB (1L << 20)
#define MAX_RUNS 31

static const char *path;
static long file_mib = 160;
static int fd = -1, done, bad;
static unsigned char *buf;

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* check - buf[0..n) is what FILE holds at off.  The reader yields
 * before and after it: a read the cache answered returns without a
 * switch, and each stall the ticker sees is then one call's (or one
 * check's), not a run of them. */
static void check(const unsigned char *b, long n, off_t off, long want)
{
	asy_yield();
	if (n != want) {
		fprintf(stderr, "cold-read: %ld bytes at %lld, not %ld (%s)\n", n, (long long)off,
			want, n < 0 ? strerror(errno) : "short");
		bad = 1;
		return;
	}
	for (long i = 0; i < n; i += 8) {
		uint64_t v;
		memcpy(&v, b + i, 8);
		if (v != (uint64_t)(off + i)) {
			fprintf(stderr, "cold-read: wrong bytes at %lld\n", (long long)(off + i));
			bad = 1;
			return;
		}
	}
	asy_yield();
}

static void rand4k(void)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	long blocks = file_mib * MIB / 4096;
	for (int i = 0; i < 256; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		off_t off = (off_t)(s % (uint64_t)blocks) * 4096;
		check(buf, pread(fd, buf, 4096, off), off, 4096);
	}
}

static void seq1m(void)
{
	for (int i = 0; i < 64; i++)
		check(buf, pread(fd, buf, MIB, (off_t)i * MIB), (off_t)i * MIB, MIB);
}

/* Checking 128 MiB takes ~10 ms of CPU: after asy_run, not in the thread
 * the ticker measures. */
static long big_n;

static void big(void)
{
	big_n = pread(fd, buf, 128 * MIB, 0);
}

static void readpos(void)
{
	for (int i = 0; i < 64; i++)
		check(buf, read(fd, buf, MIB), (off_t)i * MIB, MIB);
}

/* No read: how late the ticker wakes on this machine by itself. */
static void idle(void)
{
	asy_sleep(asy_now() + 50000000);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = { { "idle", idle },     { "rand4k", rand4k },  { "seq1m", seq1m },
	      { "big", big },       { "readpos", readpos } };
#define NCASES (int)(sizeof cases / sizeof cases[0])

static void warm_up(void *arg)
{
	(void)arg;
	char b[4096];
	if (pread(fd, b, sizeof b, 0) != sizeof b || read(fd, b, sizeof b) != sizeof b)
		bad = 1;
}

static void reader(void *arg)
{
	cases[(intptr_t)arg].fn();
	done = 1;
}

/* make_file - FILE with every 8-byte word holding its offset, synced. */
static int make_file(void)
{
	struct stat st;
	if (stat(path, &st) == 0 && st.st_size == file_mib * MIB)
		return 0;
	int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f < 0)
		return -1;
	for (long m = 0; m < file_mib; m++) {
		for (long i = 0; i < MIB; i += 8) {
			uint64_t v = (uint64_t)(m * MIB + i);
			memcpy(buf + i, &v, 8);
		}
		if (write(f, buf, MIB) != MIB)
			return close(f), -1;
	}
	int r = fsync(f);
	return close(f) | r;
}

/* cached_share - the share of FILE's pages in the page cache (mincore). */
static double cached_share(int f)
{
	size_t len = (size_t)file_mib * MIB, pages = len / 4096, in = 0;
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, f, 0);
	unsigned char *vec = malloc(pages);
	if (p == MAP_FAILED || !vec || mincore(p, len, vec) < 0)
		in = pages; /* cannot tell: say cached */
	else
		for (size_t i = 0; i < pages; i++)
			in += vec[i] & 1;
	if (p != MAP_FAILED)
		munmap(p, len);
	free(vec);
	return (double)in / (double)pages;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double median_ms(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp64);
	return (double)(n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) / 1e6;
}

int main(int argc, char **argv)
{
	int runs = 5, verbose = 0, opt;
	const char *only = NULL;
	while ((opt = getopt(argc, argv, "r:m:c:v")) != -1) {
		if (opt == 'r')
			runs = atoi(optarg);
		else if (opt == 'm')
			file_mib = atol(optarg);
		else if (opt == 'c')
			only = optarg;
		else if (opt == 'v')
			verbose = 1;
		else
			goto usage;
	}
	if (optind != argc - 1 || runs < 1 || runs > MAX_RUNS || file_mib < 129)
		goto usage;
	path = argv[optind];
	buf = aligned_alloc(4096, 128 * MIB);
	if (!buf)
		return perror("cold-read"), 1;
	memset(buf, 1, 128 * MIB); /* faulted in now, not inside a read */
	if (make_file() < 0)
		return perror(path), 1;

	/* The engine's first op sets up the thread (ring, workers): not a
	 * cold read's cost. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	asy_go(warm_up, NULL);
	asy_run();
	close(fd);

	static int64_t stall[NCASES][MAX_RUNS], held[NCASES][MAX_RUNS], cpu[NCASES][MAX_RUNS],
		wall[NCASES][MAX_RUNS];
	double cached[NCASES] = { 0 };
	for (int r = 0; r < runs; r++) {
		for (int c = 0; c < NCASES; c++) {
			if (only && !strstr(only, cases[c].name))
				continue;
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return perror(path), 1;
			/* Pages still under the last case's readahead stay: again. */
			double share = 1;
			for (int k = 0; k < 50 && share > 0; k++) {
				if (k)
					usleep(10000);
				posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
				share = cached_share(fd);
			}
			if (share > cached[c])
				cached[c] = share;
			static struct ticker tk = { .period_ns = 1000000 };
			tk.sleep_until = asy_sleep;
			tk.now = asy_now;
			tk.stop = &done;
			done = 0;
			asy_go(ticker_run, &tk);
			asy_go(reader, (void *)(intptr_t)c);
			int64_t c0 = cpu_ns(), t0 = asy_now();
			if (asy_run() < 0)
				return perror("asy_run"), 1;
			wall[c][r] = asy_now() - t0;
			cpu[c][r] = cpu_ns() - c0;
			if (cases[c].fn == big)
				check(buf, big_n, 0, 128 * MIB);
			stall[c][r] = tk.worst_ns;
			held[c][r] = tk.worst_cpu_ns;
			if (verbose)
				fprintf(stderr, "%s %s round %d: stall %.2f held %.2f cpu %.1f wall %.1f ms\n",
					asy_backend_name(), cases[c].name, r, tk.worst_ns / 1e6,
					tk.worst_cpu_ns / 1e6, cpu[c][r] / 1e6, wall[c][r] / 1e6);
			close(fd);
		}
	}
	printf("%-8s %-8s %9s %9s %9s %9s %9s %9s %7s\n", "backend", "case", "stall_ms",
	       "worst_ms", "held_ms", "worst_ms", "cpu_ms", "wall_ms", "cached");
	for (int c = 0; c < NCASES; c++) {
		if (only && !strstr(only, cases[c].name))
			continue;
		int64_t worst = 0, worst_held = 0;
		for (int r = 0; r < runs; r++) {
			worst = stall[c][r] > worst ? stall[c][r] : worst;
			worst_held = held[c][r] > worst_held ? held[c][r] : worst_held;
		}
		printf("%-8s %-8s %9.2f %9.2f %9.2f %9.2f %9.1f %9.1f %6.1f%%\n", asy_backend_name(),
		       cases[c].name, median_ms(stall[c], runs), (double)worst / 1e6,
		       median_ms(held[c], runs), (double)worst_held / 1e6, median_ms(cpu[c], runs),
		       median_ms(wall[c], runs), 100 * cached[c]);
	}
	return bad;
usage:
	fprintf(stderr, "usage: cold-read [-v] [-r RUNS] [-m MIB >= 129] [-c CASE,...] FILE\n");
	return 2;
}
