/* bench-coro: what a coroutine costs.  Prints a Markdown table:
 *   - a switch pair (there and back) with the raw asy__ctx_switch, with
 *     asy_yield() between two coroutines (the scheduler included), and
 *     with glibc's swapcontext() — medians and minima of RUNS runs;
 *   - asy_go() + running an empty coroutine to its end;
 *   - resident memory per 10,000 idle coroutines (each parked in
 *     asy_sleep), from /proc/self/statm.
 * Usage: bench-coro [runs] (default 7). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>
#include <unistd.h>

#include "asyncify.h"
#include "coro-int.h" /* asy__ctx_switch, linked from coro-switch.o */

#define PAIRS 1000000L
#define SPAWNS 20000L /* from the stack cache */
#define FRESH 2000L   /* with a fresh stack each */
#define IDLE 10000

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ---- raw switch -------------------------------------------------------- */

static struct asy_ctx raw_main, raw_co;

static void raw_entry(void *arg)
{
	for (;;)
		asy__ctx_switch(&raw_co, &raw_main);
}

static double raw_pair(void)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	asy__ctx_make(&raw_co, stack, sizeof stack, raw_entry, NULL);
	int64_t t = asy_now();
	for (long i = 0; i < PAIRS; i++)
		asy__ctx_switch(&raw_main, &raw_co);
	return (double)(asy_now() - t) / PAIRS;
}

/* ---- asy_yield ------------------------------------------------------------ */

static void yielder(void *arg)
{
	for (long i = 0; i < PAIRS; i++)
		asy_yield();
}

static double yield_pair(void)
{
	asy_go(yielder, NULL);
	asy_go(yielder, NULL);
	int64_t t = asy_now();
	asy_run();
	/* 2 * PAIRS yields, each one switch: PAIRS pairs (+ the root's 2). */
	return (double)(asy_now() - t) / PAIRS;
}

/* ---- swapcontext ------------------------------------------------------- */

static ucontext_t uc_main, uc_co;

static void uc_entry(void)
{
	for (;;)
		swapcontext(&uc_co, &uc_main);
}

static double uc_pair(void)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	long n = PAIRS / 50; /* ~100x slower: fewer rounds */
	getcontext(&uc_co);
	uc_co.uc_stack.ss_sp = stack;
	uc_co.uc_stack.ss_size = sizeof stack;
	uc_co.uc_link = NULL;
	makecontext(&uc_co, uc_entry, 0);
	int64_t t = asy_now();
	for (long i = 0; i < n; i++)
		swapcontext(&uc_main, &uc_co);
	return (double)(asy_now() - t) / n;
}

/* ---- spawn ------------------------------------------------------------- */

static void empty(void *arg)
{
}

/* n coroutines in batches of `batch`, each batch run to its end. */
static double spawn(long n, int batch)
{
	static int h[1000];
	int64_t t = asy_now();
	for (long i = 0; i < n; i += batch) {
		for (int j = 0; j < batch; j++)
			h[j] = asy_go(empty, NULL);
		asy_run();
		for (int j = 0; j < batch; j++)
			asy_join(h[j], 0);
	}
	return (double)(asy_now() - t) / n;
}

/* Batches no larger than the stack cache: no system call at all. */
static double spawn_cached(void)
{
	return spawn(SPAWNS, ASY_STACK_CACHE);
}

/* Batches of 1000: all but the cache's 64 get a new mapping each. */
static double spawn_fresh(void)
{
	return spawn(FRESH, 1000);
}

/* ---- memory ------------------------------------------------------------ */

static long rss_kib(void)
{
	long size, res;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &size, &res) != 2)
		exit(1);
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int idle_h[IDLE];
static long rss_before, rss_idle;

static void idler(void *arg)
{
	asy_sleep(asy_now() + 3600 * 1000000000LL);
}

static void measurer(void *arg)
{
	rss_idle = rss_kib();
	for (int i = 0; i < IDLE; i++)
		asy_cancel(idle_h[i]);
}

static void memory(void)
{
	rss_before = rss_kib();
	for (int i = 0; i < IDLE; i++)
		idle_h[i] = asy_go(idler, NULL);
	asy_go(measurer, NULL);
	asy_run();
}

struct row {
	const char *what;
	double (*fn)(void);
	double v[64];
};

static struct row rows[] = {
	{ .what = "switch pair, raw asy__ctx_switch", .fn = raw_pair },
	{ .what = "switch pair, asy_yield between 2 coroutines", .fn = yield_pair },
	{ .what = "switch pair, glibc swapcontext", .fn = uc_pair },
	{ .what = "asy_go + run + join an empty coroutine, stack from the cache", .fn = spawn_cached },
	{ .what = "asy_go + run + join an empty coroutine, 94% fresh stacks", .fn = spawn_fresh },
};
#define NROWS (sizeof rows / sizeof *rows)

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 7;
	if (runs < 1 || runs > 64)
		runs = 7;
	memory(); /* first, on a fresh process */
	printf("bench-coro: %d runs each, medians (ns)\n\n", runs);
	printf("| what | median ns | min ns |\n|---|---|---|\n");
	/* Interleaved, so that a noisy moment hits every row alike. */
	for (int r = 0; r < runs; r++)
		for (unsigned i = 0; i < NROWS; i++)
			rows[i].v[r] = rows[i].fn();
	for (unsigned i = 0; i < NROWS; i++) {
		qsort(rows[i].v, (size_t)runs, sizeof *rows[i].v, cmp);
		printf("| %s | %.1f | %.1f |\n", rows[i].what, rows[i].v[runs / 2], rows[i].v[0]);
	}
	printf("\n| memory | value |\n|---|---|\n");
	printf("| RSS per 10,000 idle coroutines (stack %s) | %.1f MiB (%.0f bytes each) |\n",
	       getenv("ASYNCIFY_STACK_SIZE") ? getenv("ASYNCIFY_STACK_SIZE") : "256K",
	       (rss_idle - rss_before) / 1024.0, (rss_idle - rss_before) * 1024.0 / IDLE);
	return 0;
}
