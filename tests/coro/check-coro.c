/* The public coroutine API (asyncify.h), linked with -lasyncify: every
 * call, every misuse, fairness, timers, cancellation.  (State per
 * coroutine, scale, the stack guard, signals and threads are in
 * check-coro-sys.c.)
 * Each case runs in its own process (Check's fork mode), so a scheduler
 * left in a bad state cannot leak into the next case. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asyncify.h"

#define MS 1000000LL

static int trace[256];
static int ntrace;

static void note(int v)
{
	ck_assert_int_lt(ntrace, 256);
	trace[ntrace++] = v;
}

static void noop(void *arg)
{
	(void)arg;
}

static void note_arg(void *arg)
{
	note((int)(intptr_t)arg);
}

/* ---- spawn and run ------------------------------------------------------ */

START_TEST(test_go_run)
{
	int h1 = asy_go(note_arg, (void *)1);
	int h2 = asy_go(note_arg, (void *)2);
	ck_assert_int_gt(h1, 0);
	ck_assert_int_gt(h2, 0);
	ck_assert_int_ne(h1, h2);
	ck_assert_int_eq(ntrace, 0); /* queued, not run yet */
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 2);
	ck_assert_int_eq(trace[0], 1); /* FIFO */
	ck_assert_int_eq(trace[1], 2);
	ck_assert_int_eq(asy_run(), 0); /* nothing left: returns at once */
}
END_TEST

static void spawner(void *arg)
{
	int depth = (int)(intptr_t)arg;
	note(depth);
	if (depth < 5)
		ck_assert_int_gt(asy_go(spawner, (void *)(intptr_t)(depth + 1)), 0);
}

START_TEST(test_go_nested)
{
	ck_assert_int_gt(asy_go(spawner, (void *)1), 0);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 5); /* asy_run waited for the grandchildren */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(trace[i], i + 1);
}
END_TEST

START_TEST(test_go_einval)
{
	errno = 0;
	ck_assert_int_eq(asy_go(NULL, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(asy_go_stack(noop, NULL, 4096), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_go_enomem)
{
	errno = 0;
	ck_assert_int_eq(asy_go_stack(noop, NULL, SIZE_MAX / 4), -1);
	ck_assert_int_eq(errno, ENOMEM);
	/* A failed spawn leaves nothing behind. */
	ck_assert_int_eq(asy_run(), 0);
}
END_TEST

static void use_stack(void *arg)
{
	size_t n = (size_t)arg;
	volatile char *p = __builtin_alloca(n);
	p[0] = 1;
	p[n - 1] = 2;
	note(p[0] + p[n - 1]);
}

START_TEST(test_go_stack_size)
{
	/* 1 MiB of locals would overflow the 256 KiB default. */
	ck_assert_int_gt(asy_go_stack(use_stack, (void *)(1024 * 1024), 2 * 1024 * 1024), 0);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 1);
	ck_assert_int_eq(trace[0], 3);
}
END_TEST

/* ---- yield -------------------------------------------------------------- */

static void yielder(void *arg)
{
	for (int i = 0; i < 4; i++) {
		note((int)(intptr_t)arg);
		ck_assert_int_eq(asy_yield(), 0);
	}
}

START_TEST(test_yield_fair)
{
	for (int i = 0; i < 5; i++)
		asy_go(yielder, (void *)(intptr_t)i);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 20);
	for (int i = 0; i < 20; i++) /* round-robin: 0 1 2 3 4 0 1 2 3 4 … */
		ck_assert_int_eq(trace[i], i % 5);
}
END_TEST

START_TEST(test_yield_outside)
{
	ck_assert_int_eq(asy_yield(), 0); /* nothing queued */
	asy_go(yielder, (void *)7);
	ck_assert_int_eq(asy_yield(), 0); /* runs the queued coroutine once */
	ck_assert_int_eq(ntrace, 1);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 4);
}
END_TEST

/* ---- time and sleep ----------------------------------------------------- */

START_TEST(test_now)
{
	struct timespec ts;
	int64_t a = asy_now();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t b = asy_now();
	int64_t mid = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	ck_assert(a <= mid && mid <= b); /* same clock, nanoseconds */
}
END_TEST

static void sleeper(void *arg)
{
	int ms = (int)(intptr_t)arg;
	int64_t deadline = asy_now() + ms * MS;
	ck_assert_int_eq(asy_sleep(deadline), 0);
	ck_assert(asy_now() >= deadline);
	note(ms);
}

START_TEST(test_sleep_order)
{
	static const int ms[] = { 40, 10, 30, 0, 20, 50 };
	for (unsigned i = 0; i < sizeof ms / sizeof *ms; i++)
		asy_go(sleeper, (void *)(intptr_t)ms[i]);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 6);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(trace[i], i * 10);
}
END_TEST

/* Timers go first: a sleeper whose time came while another coroutine ran
 * runs next, ahead of those queued behind the busy one (not after a
 * whole round of them). */
static int64_t first_due;

static void due_sleeper(void *arg)
{
	(void)arg;
	first_due = asy_now() + 20 * MS; /* runs first: parks before the others start */
	ck_assert_int_eq(asy_sleep(first_due), 0);
	note(0);
}

static void busy_then_yield(void *arg)
{
	int id = (int)(intptr_t)arg;
	if (id == 1)
		while (asy_now() <= first_due)
			; /* the sleeper's time comes during this slice */
	note(id);
	asy_yield();
	note(10 + id);
}

START_TEST(test_sleep_runs_next)
{
	asy_go(due_sleeper, NULL);
	for (int i = 1; i <= 3; i++)
		asy_go(busy_then_yield, (void *)(intptr_t)i);
	ck_assert_int_eq(asy_run(), 0);
	static const int want[] = { 1, 0, 2, 3, 11, 12, 13 };
	ck_assert_int_eq(ntrace, 7);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(trace[i], want[i]);
}
END_TEST

static void past_sleeper(void *arg)
{
	ck_assert_int_eq(asy_sleep(0), 0);
	ck_assert_int_eq(asy_sleep(asy_now() - MS), 0);
	note(1); /* neither let the other coroutine run first */
}

START_TEST(test_sleep_edges)
{
	asy_go(past_sleeper, NULL);
	asy_go(note_arg, (void *)2);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 2);
	ck_assert_int_eq(trace[0], 1);
	ck_assert_int_eq(asy_sleep(0), 0);
	ck_assert_int_eq(asy_sleep(asy_now() - MS), 0);
	int64_t d = asy_now() + 2 * MS;
	ck_assert_int_eq(asy_sleep(d), 0); /* outside asy_run too */
	ck_assert(asy_now() >= d);
	errno = 0;
	ck_assert_int_eq(asy_sleep(-2), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(asy_sleep(-1), -1); /* forever, nothing else: */
	ck_assert_int_eq(errno, EDEADLK);
}
END_TEST

/* ---- join --------------------------------------------------------------- */

START_TEST(test_join)
{
	int h = asy_go(sleeper, (void *)5);
	ck_assert_int_eq(asy_join(h, -1), 0); /* outside asy_run: runs it */
	ck_assert_int_eq(ntrace, 1);
	errno = 0;
	ck_assert_int_eq(asy_join(h, -1), -1); /* joined twice */
	ck_assert_int_eq(errno, EBADF);
	errno = 0;
	ck_assert_int_eq(asy_cancel(h), -1); /* released */
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_join_bad)
{
	static const int bad[] = { 0, -1, 1, 12345, 1 << 30 };
	for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
		errno = 0;
		ck_assert_int_eq(asy_join(bad[i], 0), -1);
		ck_assert_int_eq(errno, EBADF);
	}
	int h = asy_go(noop, NULL);
	errno = 0;
	ck_assert_int_eq(asy_join(h, -2), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(asy_join(h, 0), 0); /* finished: no wait needed */
}
END_TEST

START_TEST(test_join_timeout)
{
	int h = asy_go(sleeper, (void *)40);
	errno = 0;
	ck_assert_int_eq(asy_join(h, 0), -1); /* not finished, do not wait */
	ck_assert_int_eq(errno, ETIMEDOUT);
	errno = 0;
	ck_assert_int_eq(asy_join(h, asy_now() + 5 * MS), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_eq(ntrace, 0);
	ck_assert_int_eq(asy_join(h, -1), 0); /* still joinable */
	ck_assert_int_eq(ntrace, 1);
}
END_TEST

static int self_handle;

static void join_self(void *arg)
{
	errno = 0;
	ck_assert_int_eq(asy_join(self_handle, -1), -1);
	ck_assert_int_eq(errno, EDEADLK);
	note(1);
}

START_TEST(test_join_self)
{
	self_handle = asy_go(join_self, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 1);
}
END_TEST

static int target;

static void joiner(void *arg)
{
	int r = asy_join(target, -1);
	note(r == 0 ? 1 : -errno);
}

START_TEST(test_join_two)
{
	target = asy_go(sleeper, (void *)10);
	asy_go(joiner, NULL);
	asy_go(joiner, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 3);
	ck_assert_int_eq(trace[0], -EBUSY); /* the second joiner, refused at once */
	ck_assert_int_eq(trace[1], 10);
	ck_assert_int_eq(trace[2], 1);
}
END_TEST

static int peer[2];

static void join_peer(void *arg)
{
	int i = (int)(intptr_t)arg;
	int r = asy_join(peer[1 - i], -1);
	note(r == 0 ? 100 + i : -errno);
}

START_TEST(test_deadlock)
{
	peer[0] = asy_go(join_peer, (void *)0);
	peer[1] = asy_go(join_peer, (void *)1);
	errno = 0;
	ck_assert_int_eq(asy_run(), -1);
	ck_assert_int_eq(errno, EDEADLK);
	ck_assert_int_eq(ntrace, 0);
	/* Cancelling one ends its join; the other's join then succeeds. */
	ck_assert_int_eq(asy_cancel(peer[0]), 0);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 2);
	ck_assert_int_eq(trace[0], -ECANCELED);
	ck_assert_int_eq(trace[1], 101);
}
END_TEST

/* ---- cancel ------------------------------------------------------------- */

static void sleep_forever(void *arg)
{
	errno = 0;
	ck_assert_int_eq(asy_sleep(-1), -1);
	note(errno);
	/* From now on every blocking call fails. */
	errno = 0;
	ck_assert_int_eq(asy_yield(), -1);
	ck_assert_int_eq(errno, ECANCELED);
	errno = 0;
	ck_assert_int_eq(asy_sleep(asy_now() + MS), -1);
	ck_assert_int_eq(errno, ECANCELED);
	errno = 0;
	ck_assert_int_eq(asy_go(noop, NULL), -1);
	ck_assert_int_eq(errno, ECANCELED);
	note(0);
}

static void canceller(void *arg)
{
	int h = (int)(intptr_t)arg;
	ck_assert_int_eq(asy_yield(), 0); /* let h park */
	ck_assert_int_eq(asy_cancel(h), 0);
	ck_assert_int_eq(asy_cancel(h), 0); /* twice: harmless */
	ck_assert_int_eq(asy_join(h, -1), 0);
	note(1);
}

START_TEST(test_cancel_park)
{
	int h = asy_go(sleep_forever, NULL);
	asy_go(canceller, (void *)(intptr_t)h);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 3);
	ck_assert_int_eq(trace[0], ECANCELED);
	ck_assert_int_eq(trace[1], 0);
	ck_assert_int_eq(trace[2], 1);
}
END_TEST

static void cancel_self(void *arg)
{
	ck_assert_int_eq(asy_cancel(*(int *)arg), 0);
	errno = 0;
	ck_assert_int_eq(asy_join(*(int *)arg + 1, -1), -1);
	note(errno);
}

START_TEST(test_cancel_self)
{
	static int h;
	h = asy_go(cancel_self, &h);
	asy_go(noop, NULL); /* h + 1 */
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 1);
	ck_assert_int_eq(trace[0], ECANCELED);
}
END_TEST

START_TEST(test_cancel_bad)
{
	int h = asy_go(noop, NULL);
	ck_assert_int_eq(asy_run(), 0);
	errno = 0;
	ck_assert_int_eq(asy_cancel(h), -1); /* finished */
	ck_assert_int_eq(errno, ESRCH);
	errno = 0;
	ck_assert_int_eq(asy_cancel(0), -1);
	ck_assert_int_eq(errno, EBADF);
	errno = 0;
	ck_assert_int_eq(asy_cancel(h + 100), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_cancel_before_start)
{
	int h = asy_go(sleep_forever, NULL);
	ck_assert_int_eq(asy_cancel(h), 0);
	ck_assert_int_eq(asy_run(), 0); /* it runs; its sleep fails at once */
	ck_assert_int_eq(ntrace, 2);
	ck_assert_int_eq(trace[0], ECANCELED);
}
END_TEST

/* ---- asy_run misuse, io deadline ---------------------------------------- */

static void run_inside(void *arg)
{
	errno = 0;
	ck_assert_int_eq(asy_run(), -1);
	note(errno);
}

START_TEST(test_run_reentrant)
{
	asy_go(run_inside, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 1);
	ck_assert_int_eq(trace[0], EBUSY);
}
END_TEST

static void set_io_deadline(void *arg)
{
	ck_assert_int_eq(asy_io_deadline(asy_now() + 1000 * MS), 0);
	ck_assert_int_eq(asy_io_deadline(-1), 0);
	errno = 0;
	ck_assert_int_eq(asy_io_deadline(-5), -1);
	ck_assert_int_eq(errno, EINVAL);
	note(1);
}

START_TEST(test_io_deadline)
{
	errno = 0;
	ck_assert_int_eq(asy_io_deadline(-1), -1); /* not in a coroutine */
	ck_assert_int_eq(errno, EPERM);
	asy_go(set_io_deadline, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 1);
}
END_TEST

static Suite *coro_suite(void)
{
	Suite *s = suite_create("coro");
	TCase *tc = tcase_create("api");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_go_run);
	tcase_add_test(tc, test_go_nested);
	tcase_add_test(tc, test_go_einval);
	tcase_add_test(tc, test_go_enomem);
	tcase_add_test(tc, test_go_stack_size);
	tcase_add_test(tc, test_yield_fair);
	tcase_add_test(tc, test_yield_outside);
	tcase_add_test(tc, test_now);
	tcase_add_test(tc, test_sleep_order);
	tcase_add_test(tc, test_sleep_runs_next);
	tcase_add_test(tc, test_sleep_edges);
	tcase_add_test(tc, test_join);
	tcase_add_test(tc, test_join_bad);
	tcase_add_test(tc, test_join_timeout);
	tcase_add_test(tc, test_join_self);
	tcase_add_test(tc, test_join_two);
	tcase_add_test(tc, test_deadlock);
	tcase_add_test(tc, test_cancel_park);
	tcase_add_test(tc, test_cancel_self);
	tcase_add_test(tc, test_cancel_bad);
	tcase_add_test(tc, test_cancel_before_start);
	tcase_add_test(tc, test_run_reentrant);
	tcase_add_test(tc, test_io_deadline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(coro_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
