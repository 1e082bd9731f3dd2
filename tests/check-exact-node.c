/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  The cases are reduced from Node.js
 * (libuv's loop, its thread pool and child processes, V8's heap) run under
 * the shim with main() in a coroutine.
 *
 * Class 1: the stack code runs on is the stack it is told about.  A
 * garbage collector that scans its stack for pointers (V8's, every
 * collection) asks pthread_getattr_np() where the stack ends and reads
 * every word from its frame up to there. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ---- helpers ---------------------------------------------------------- */

/* The calling thread's (or th's) stack as pthread_getattr_np() tells it. */
static int stack_of(pthread_t th, char **lo, char **hi)
{
	pthread_attr_t at;
	void *base;
	size_t size;
	int r = pthread_getattr_np(th, &at);
	if (r) {
		t_out("pthread_getattr_np: %s\n", t_errname(r));
		return -1;
	}
	pthread_attr_getstack(&at, &base, &size);
	pthread_attr_destroy(&at);
	*lo = base;
	*hi = (char *)base + size;
	return 0;
}

static int inside(const volatile void *p, const char *lo, const char *hi)
{
	return (const char *)p >= lo && (const char *)p < hi;
}

/* A frame some way below the caller's: whether it is still on the stack
 * told about. */
static __attribute__((noinline)) int deeper(const char *lo, const char *hi, int depth)
{
	volatile char pad[2048];
	pad[0] = (char)depth;
	if (depth)
		return deeper(lo, hi, depth - 1) + pad[0] - depth;
	return inside(pad, lo, hi);
}

/* ==== class 1: the stack a coroutine's code is told about is its own === */

static void c1_stack_holds_the_frame(void)
{
	char *lo, *hi;
	volatile int local = 0;
	if (stack_of(pthread_self(), &lo, &hi) < 0)
		return;
	t_out("frame inside=%s deeper frame inside=%s at least 16 KiB=%s\n",
	      yes(inside(&local, lo, hi)), yes(deeper(lo, hi, 8)), yes(hi - lo >= 16 * KiB));
}

/* V8's conservative scan: every word from the frame to the stack's top.
 * On a coroutine told the thread's stack it walked into unmapped memory
 * (SIGSEGV).  Not instrumented: the words read are other frames'. */
static __attribute__((noinline, no_sanitize_address)) unsigned long scan(const char *from,
									 const char *top)
{
	unsigned long s = 0;
	for (const char *p = (const char *)((uintptr_t)from & ~(uintptr_t)7); p + 8 <= top; p += 8)
		s += *(const volatile unsigned long *)p;
	return s;
}

static void c1_stack_scan_to_its_top(void)
{
	char *lo, *hi;
	volatile int local = 0;
	net(5);
	if (stack_of(pthread_self(), &lo, &hi) < 0)
		return;
	unsigned long s = scan((const char *)&local, hi);
	t_out("scanned to the top (%s)\n", yes(s == s + local));
}

/* Another thread's stack stays glibc's answer about that thread. */
static volatile char *other_local;
static pthread_mutex_t other_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t other_cv = PTHREAD_COND_INITIALIZER;
static int other_state;

static void *other_thread(void *arg)
{
	(void)arg;
	volatile char local = 1;
	char *lo, *hi;
	int own = stack_of(pthread_self(), &lo, &hi) == 0 && inside(&local, lo, hi);
	pthread_mutex_lock(&other_mu);
	other_local = &local;
	other_state = 1;
	pthread_cond_broadcast(&other_cv);
	while (other_state != 2)
		pthread_cond_wait(&other_cv, &other_mu);
	pthread_mutex_unlock(&other_mu);
	return own ? "own stack: yes" : "own stack: no";
}

static void c1_stack_of_another_thread(void)
{
	char *lo, *hi;
	void *res;
	net(5);
	pthread_t th = go(other_thread, NULL);
	pthread_mutex_lock(&other_mu);
	while (other_state != 1)
		pthread_cond_wait(&other_cv, &other_mu);
	int ok = stack_of(th, &lo, &hi) == 0;
	t_out("its frame inside its stack=%s\n", yes(ok && inside(other_local, lo, hi)));
	other_state = 2;
	pthread_cond_broadcast(&other_cv);
	pthread_mutex_unlock(&other_mu);
	pthread_join(th, &res);
	t_out("%s\n", (const char *)res);
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c1_stack_holds_the_frame, 0),
	C(c1_stack_scan_to_its_top, 0),
	C(c1_stack_of_another_thread, 0),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-node", 150);
}
