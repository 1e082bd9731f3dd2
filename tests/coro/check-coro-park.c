/* The coro.h contract between the scheduler and the engine, tested with
 * the scheduler's objects linked in directly and a fake engine: this
 * file's asy__engine_idle() overrides the weak one in sched-idle.c and
 * "completes I/O" by unparking the coroutines queued on it. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "asyncify.h"
#include "coro.h"
#include "coro-int.h"

#define MS 1000000LL

/* ---- the fake engine ---------------------------------------------------- */

static struct asy_coro *pending[64];
static int npending;
static int idle_calls, idle_blocking, idle_outside;
static int64_t last_deadline;

/* Reap everything "in flight": one batch per call, like a ring. */
int asy__engine_idle(int64_t deadline)
{
	int n = npending;
	idle_calls++;
	/* The scheduler waits on some coroutine's stack (maybe the root's):
	 * the engine always sees a coroutine there. */
	if (!asy__coro_self())
		idle_outside++;
	last_deadline = deadline;
	if (deadline != 0)
		idle_blocking++;
	for (int i = 0; i < n; i++)
		asy__coro_unpark(pending[i]);
	npending = 0;
	return n;
}

/* What the engine's wait path does: park until the completion. */
static int fake_io(int cancellable, int64_t deadline)
{
	pending[npending++] = asy__coro_self();
	int r = asy__coro_park(deadline, cancellable);
	if (r < 0) /* no longer waiting: forget the completion */
		for (int i = 0; i < npending; i++)
			if (pending[i] == asy__coro_self())
				pending[i] = pending[--npending];
	return r;
}

static int trace[64];
static int ntrace;

static void note(int v)
{
	ck_assert_int_lt(ntrace, 64);
	trace[ntrace++] = v;
}

/* ---- cases -------------------------------------------------------------- */

START_TEST(test_self_outside)
{
	ck_assert_ptr_null(asy__coro_self());
	ck_assert_int_eq(asy__coro_id(), 0);
	ck_assert_int_eq(asy__coro_io_deadline(), -1);
	ck_assert_int_eq(asy__coro_park(-1, 1), -EINVAL);
}
END_TEST

static struct asy_coro *seen[4];

static void who(void *arg)
{
	seen[(intptr_t)arg] = asy__coro_self();
	note((int)asy__coro_id());
}

static void root_inside(void *arg)
{
	/* asy_run()'s caller is a coroutine too while it runs: it is parked
	 * in asy_run() now, so it cannot be looked at from here; check that
	 * the running one is not it. */
	ck_assert_ptr_nonnull(asy__coro_self());
	ck_assert_ptr_ne(asy__coro_self(), &asy__sched(0)->root);
}

START_TEST(test_self_ids)
{
	asy_go(who, (void *)0);
	asy_go(who, (void *)1);
	asy_go(root_inside, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_ptr_nonnull(seen[0]);
	ck_assert_ptr_nonnull(seen[1]);
	ck_assert_ptr_ne(seen[0], seen[1]);
	ck_assert_int_gt(trace[0], 0);
	ck_assert_int_eq(trace[1], trace[0] + 1); /* creation order */
	ck_assert_ptr_null(asy__coro_self());
}
END_TEST

static void io_user(void *arg)
{
	errno = (int)(intptr_t)arg;
	int r = fake_io(1, -1);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(errno, (int)(intptr_t)arg); /* saved across the park */
	note((int)(intptr_t)arg);
}

START_TEST(test_park_engine_completes)
{
	for (int i = 1; i <= 3; i++)
		asy_go(io_user, (void *)(intptr_t)i);
	ck_assert_int_eq(asy_run(), 0); /* parked on I/O with no timer: no deadlock */
	ck_assert_int_eq(ntrace, 3);
	/* All three went in flight before the scheduler waited once. */
	ck_assert_int_eq(idle_blocking, 1);
	ck_assert_int_eq(last_deadline, -1);
	ck_assert_int_eq(idle_outside, 0);
}
END_TEST

static void root_io(void *arg)
{
	note(1);
}

static void park_timeout(void *arg)
{
	int64_t d = asy_now() + 3 * MS;
	/* Nothing completes it: the deadline does. */
	int r = asy__coro_park(d, 1);
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert(asy_now() >= d);
	ck_assert_int_eq(asy__coro_park(0, 1), -ETIMEDOUT);
	note(1);
}

START_TEST(test_park_timeout)
{
	asy_go(park_timeout, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 1);
	ck_assert_int_gt(last_deadline, 0); /* the engine was given the deadline */
}
END_TEST

static struct asy_coro *parked;

static void park_plain(void *arg)
{
	int cancellable = (int)(intptr_t)arg;
	parked = asy__coro_self();
	int r = asy__coro_park(-1, cancellable);
	note(r);
	note(asy__coro_park(-1, 1)); /* cancelled by now: refused at once */
}

static void unparker(void *arg)
{
	int h = (int)(intptr_t)arg;
	asy_yield();
	ck_assert_int_eq(asy_cancel(h), 0);
	asy_yield();
	asy_yield();
	note(100); /* uncancellable: still parked here */
	asy__coro_unpark(parked);
	asy__coro_unpark(parked); /* twice: harmless */
}

START_TEST(test_park_uncancellable)
{
	int h = asy_go(park_plain, (void *)0);
	asy_go(unparker, (void *)(intptr_t)h);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 3);
	ck_assert_int_eq(trace[0], 100);
	ck_assert_int_eq(trace[1], 0);
	ck_assert_int_eq(trace[2], -ECANCELED);
}
END_TEST

static void cancel_it(void *arg)
{
	ck_assert_int_eq(asy_cancel((int)(intptr_t)arg), 0);
	note(100);
}

START_TEST(test_park_cancellable)
{
	int h = asy_go(park_plain, (void *)1);
	asy_go(cancel_it, (void *)(intptr_t)h);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 3);
	ck_assert_int_eq(trace[0], 100);
	ck_assert_int_eq(trace[1], -ECANCELED);
	ck_assert_int_eq(trace[2], -ECANCELED);
}
END_TEST

static void deadline_user(void *arg)
{
	ck_assert_int_eq(asy__coro_io_deadline(), -1);
	ck_assert_int_eq(asy_io_deadline(12345), 0);
	ck_assert_int_eq(asy__coro_io_deadline(), 12345);
	asy_yield();
	ck_assert_int_eq(asy__coro_io_deadline(), 12345); /* per coroutine */
	note(1);
}

static void deadline_other(void *arg)
{
	ck_assert_int_eq(asy__coro_io_deadline(), -1);
	asy_yield();
	ck_assert_int_eq(asy__coro_io_deadline(), -1);
	note(2);
}

START_TEST(test_io_deadline)
{
	asy_go(deadline_user, NULL);
	asy_go(deadline_other, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 2);
	ck_assert_int_eq(asy__coro_io_deadline(), -1);
}
END_TEST

static void spin(void *arg)
{
	for (int i = 0; i < 200; i++)
		asy_yield();
	note(2);
}

static void io_once(void *arg)
{
	ck_assert_int_eq(fake_io(1, -1), 0);
	note(1);
}

START_TEST(test_busy_does_not_starve_io)
{
	/* While another coroutine keeps yielding, completions are still
	 * reaped (without blocking): the I/O waiter finishes first. */
	asy_go(io_once, NULL);
	asy_go(spin, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 2);
	ck_assert_int_eq(trace[0], 1);
	ck_assert_int_eq(idle_blocking, 0);
}
END_TEST

static void on_usr1(int sig)
{
	int saved = errno;
	/* No Check calls here: they are not async-signal-safe. */
	trace[ntrace++] = asy_go(root_io, NULL) > 0 ? 1 : -errno;
	trace[ntrace++] = asy__coro_self() == NULL ? 3 : 4;
	errno = saved;
}

static void interrupted(void *arg)
{
	struct sched *s = asy__sched(0);
	asy__sched_crit_enter(s);
	raise(SIGUSR1);
	asy__sched_crit_leave(s);
	ck_assert_ptr_nonnull(asy__coro_self());
	note(5);
}

START_TEST(test_handler_busy)
{
	/* A handler that interrupts the scheduler mid-update is refused,
	 * and the engine is told there is no coroutine to park. */
	signal(SIGUSR1, on_usr1);
	asy_go(interrupted, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 3);
	ck_assert_int_eq(trace[0], -EBUSY);
	ck_assert_int_eq(trace[1], 3);
	ck_assert_int_eq(trace[2], 5);
}
END_TEST

static Suite *park_suite(void)
{
	Suite *s = suite_create("coro-park");
	TCase *tc = tcase_create("contract");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_self_outside);
	tcase_add_test(tc, test_self_ids);
	tcase_add_test(tc, test_park_engine_completes);
	tcase_add_test(tc, test_park_timeout);
	tcase_add_test(tc, test_park_uncancellable);
	tcase_add_test(tc, test_park_cancellable);
	tcase_add_test(tc, test_io_deadline);
	tcase_add_test(tc, test_busy_does_not_starve_io);
	tcase_add_test(tc, test_handler_busy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(park_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
