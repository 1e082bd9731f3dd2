/* deadline: how late a coroutine's file call returns after its I/O
 * deadline, when the disk is still busy with it.  Run under LD_PRELOAD
 * with each backend (make bench-deadline).
 *
 * Cases, each ROUNDS times on a file under /var/tmp, with a deadline
 * DEADLINE_MS after the call starts and a ticker coroutine beside it (so
 * that the call's coroutine is not alone on its thread):
 *   fsync      fsync of DIRTY_MIB MiB of dirty pages
 *   syncfs     syncfs of the same (a worker's call)
 *   pread      pread of COLD_MIB MiB whose page cache was dropped
 *   read       the same at the file position
 *   pwrite     an O_DSYNC pwrite of WRITE_MIB MiB
 * Printed per case: how many calls the deadline ended (the rest finished
 * before it), the median and the largest lateness (return - deadline) of
 * those, and the thread's longest stall (the ticker's longest gap beyond
 * its 1 ms period) from the call's start until 300 ms after it returned
 * (what was left behind finishing meanwhile). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 7
#define DEADLINE_MS 5
#define DIRTY_MIB 64
#define COLD_MIB 64
#define WRITE_MIB 4
#define MIB (1024L * 1024)

static int (*go)(void (*)(void *), void *);
static int (*run)(void);
static int (*io_deadline)(int64_t);
static int (*co_sleep)(int64_t);
static int64_t (*now)(void);

static char *buf;
static int done;
static int64_t stall, case_stall;

static void ticker(void *arg)
{
	(void)arg;
	int64_t last = now();
	while (!done) {
		co_sleep(last + 1000000);
		int64_t t = now(), gap = t - last - 1000000;
		if (gap > stall)
			stall = gap;
		last = t;
	}
}

static int new_file(int flags, int mib, int c)
{
	char path[] = "/var/tmp/asy-bd-XXXXXX";
	int fd = mkostemp(path, flags);
	if (fd < 0) {
		perror("mkostemp");
		exit(1);
	}
	unlink(path);
	memset(buf, c, MIB);
	for (int i = 0; i < mib; i++)
		if (pwrite(fd, buf, MIB, (off_t)i * MIB) != MIB) {
			perror("pwrite");
			exit(1);
		}
	return fd;
}

enum { C_FSYNC, C_SYNCFS, C_PREAD, C_READ, C_PWRITE, NCASES };
static const char *const names[NCASES] = { "fsync", "syncfs", "pread", "read", "pwrite" };

/* One call of case c: the lateness in µs when the deadline ended it, -1
 * when it finished first. */
static long one(int c)
{
	int fd;
	switch (c) {
	case C_FSYNC:
	case C_SYNCFS:
		fd = new_file(0, DIRTY_MIB, 'd');
		break;
	case C_PWRITE:
		fd = new_file(O_DSYNC, 0, 0);
		memset(buf, 'w', WRITE_MIB * MIB);
		break;
	default:
		fd = new_file(0, COLD_MIB, 'r');
		fsync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	int64_t t0 = now(), dl = t0 + DEADLINE_MS * 1000000L;
	/* The ticker's gap across the set-up is not this call's. */
	co_sleep(now() + 3000000);
	t0 = now();
	dl = t0 + DEADLINE_MS * 1000000L;
	stall = 0;
	io_deadline(dl);
	long r;
	switch (c) {
	case C_FSYNC: r = fsync(fd); break;
	case C_SYNCFS: r = syncfs(fd); break;
	case C_PREAD: r = pread(fd, buf, COLD_MIB * MIB, 0); break;
	case C_READ: r = read(fd, buf, COLD_MIB * MIB); break;
	default: r = pwrite(fd, buf, WRITE_MIB * MIB, 0);
	}
	int e = errno;
	int64_t t1 = now();
	io_deadline(-1);
	/* Let what was left behind finish before the next round. */
	co_sleep(now() + 300 * 1000000L);
	if (stall > case_stall)
		case_stall = stall;
	close(fd);
	return r < 0 && e == ETIMEDOUT ? (long)((t1 - dl) / 1000) : -1;
}

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

static void bench(void *arg)
{
	(void)arg;
	for (int c = 0; c < NCASES; c++) {
		long late[ROUNDS];
		int n = 0;
		case_stall = 0;
		for (int i = 0; i < ROUNDS; i++) {
			long l = one(c);
			if (l >= 0)
				late[n++] = l;
		}
		qsort(late, (size_t)n, sizeof *late, cmp);
		if (n)
			printf("| %-7s | %d of %d | %ld | %ld | %.1f |\n", names[c], n, ROUNDS,
			       late[n / 2], late[n - 1], case_stall / 1e6);
		else
			printf("| %-7s | 0 of %d | – | – | %.1f |\n", names[c], ROUNDS, case_stall / 1e6);
	}
	done = 1;
}

int main(void)
{
	go = (int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	run = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	io_deadline = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_io_deadline");
	co_sleep = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_sleep");
	now = (int64_t(*)(void))dlsym(RTLD_DEFAULT, "asy_now");
	if (!go || !run || !io_deadline || !co_sleep || !now) {
		fprintf(stderr, "deadline: run it under LD_PRELOAD=libasyncify.so\n");
		return 2;
	}
	buf = aligned_alloc(4096, COLD_MIB * MIB);
	if (!buf)
		return 1;
	go(ticker, NULL);
	go(bench, NULL);
	return run() < 0;
}
