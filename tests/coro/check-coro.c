/* The public coroutine API (asyncify.h), linked with -lasyncify: every
 * call, every misuse, fairness, timers, cancellation, errno and the FP
 * control state per coroutine, many coroutines, the stack guard, threads.
 * Each case runs in its own process (Check's fork mode), so a scheduler
 * left in a bad state cannot leak into the next case. */
#include <check.h>
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

START_TEST(test_sleep_edges)
{
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

/* ---- per-coroutine state ------------------------------------------------ */

static void errno_keeper(void *arg)
{
	int mine = (int)(intptr_t)arg;
	for (int i = 0; i < 50; i++) {
		errno = mine + i;
		ck_assert_int_eq(asy_yield(), 0);
		ck_assert_int_eq(errno, mine + i);
		errno = mine - i;
		ck_assert_int_eq(asy_sleep(asy_now() + (i % 3) * 100000), 0);
		ck_assert_int_eq(errno, mine - i);
	}
	note(mine);
}

START_TEST(test_errno_per_coro)
{
	for (int i = 1; i <= 4; i++)
		asy_go(errno_keeper, (void *)(intptr_t)(i * 1000));
	errno = 4242;
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(errno, 4242); /* the caller's errno too */
	ck_assert_int_eq(ntrace, 4);
}
END_TEST

static volatile double one = 1.0, three = 3.0;
static volatile long double lone = 1.0L, lthree = 3.0L;

/* 1/3 and -1/3, rounded by SSE (MXCSR) and by the x87 unit (its control
 * word): the pair tells all four rounding modes apart. */
static void thirds(double d[2], long double l[2])
{
	d[0] = one / three;
	d[1] = -one / three;
	l[0] = lone / lthree;
	l[1] = -lone / lthree;
}

static void fp_keeper(void *arg)
{
	int mode = (int)(intptr_t)arg;
	double d0[2], d[2];
	long double l0[2], l[2];
	ck_assert_int_eq(fegetround(), FE_TONEAREST); /* inherited from main */
	fesetround(mode);
	thirds(d0, l0);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(asy_yield(), 0);
		ck_assert_int_eq(fegetround(), mode);
		thirds(d, l);
		ck_assert(d[0] == d0[0] && d[1] == d0[1]);
		ck_assert(l[0] == l0[0] && l[1] == l0[1]);
	}
	note(1);
}

START_TEST(test_fpu_per_coro)
{
	asy_go(fp_keeper, (void *)FE_UPWARD);
	asy_go(fp_keeper, (void *)FE_DOWNWARD);
	asy_go(fp_keeper, (void *)FE_TOWARDZERO);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 3);
	ck_assert_int_eq(fegetround(), FE_TONEAREST);
}
END_TEST

/* ---- scale -------------------------------------------------------------- */

static int finished;

static void many(void *arg)
{
	ck_assert_int_eq(asy_yield(), 0);
	ck_assert_int_eq(asy_sleep(asy_now() + (intptr_t)arg % 7 * 100000), 0);
	finished++;
}

START_TEST(test_10000)
{
#if defined(__SANITIZE_THREAD__)
	/* TSan keeps a full thread state per fiber and runs out of memory
	 * long before 10,000; it is here for races, not for scale. */
	enum { N = 1000 };
#else
	enum { N = 10000 };
#endif
	static int h[N];
	for (int i = 0; i < N; i++) {
		h[i] = asy_go(many, (void *)(intptr_t)i);
		ck_assert_int_gt(h[i], 0);
		if (i)
			ck_assert_int_ne(h[i], h[i - 1]);
	}
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(finished, N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(asy_join(h[i], 0), 0);
	/* Released handles come back, and their stacks from the cache. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++)
			ck_assert_int_gt(asy_go(many, NULL), 0);
		ck_assert_int_eq(asy_run(), 0);
	}
	ck_assert_int_eq(finished, N + 300);
}
END_TEST

/* ---- stack overflow ----------------------------------------------------- */

static uintptr_t guard_lo, guard_hi;
static size_t overflow_size = 64 * 1024;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	_exit(a >= guard_lo && a < guard_hi ? 42 : 43);
}

/* From /proc/self/maps: the mapping holding `p` must start right above a
 * PROT_NONE page; that page is the guard. */
static int find_guard(uintptr_t p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], perms[8], prev_perms[8] = "";
	unsigned long lo, hi, prev_lo = 0, prev_hi = 0;
	int found = -1;
	if (!f)
		return -1;
	while (found < 0 && fgets(line, sizeof line, f)) { /* sorted by address */
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (lo <= p && p < hi && prev_hi == lo && !strcmp(prev_perms, "---p") &&
		    lo - prev_lo >= 4096) {
			guard_lo = lo - 4096;
			guard_hi = lo;
			found = 0;
		}
		prev_lo = lo;
		prev_hi = hi;
		strcpy(prev_perms, perms);
	}
	fclose(f);
	return found;
}

static volatile int keep_going = 1;

static int recurse(int n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	return keep_going ? recurse(n + 1) + pad[0] : 0;
}

static void overflow(void *arg)
{
	/* The frame, not a local: ASan may put locals on a heap "fake stack". */
	if (find_guard((uintptr_t)__builtin_frame_address(0)) < 0)
		_exit(44);
	recurse(0);
}

START_TEST(test_guard_page)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		static char alt[64 * 1024];
		stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt };
		struct sigaction sa = { .sa_sigaction = on_segv,
					.sa_flags = SA_SIGINFO | SA_ONSTACK };
		sigaltstack(&ss, NULL);
		sigaction(SIGSEGV, &sa, NULL);
		asy_go_stack(overflow, NULL, overflow_size);
		asy_run();
		_exit(1); /* not reached: the recursion never ends */
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 42);
}
END_TEST

/* ---- signal handlers ---------------------------------------------------- */

static void on_usr1(int sig)
{
	int saved = errno;
	/* No Check calls here: they are not async-signal-safe. */
	trace[ntrace++] = asy_go(note_arg, (void *)77) > 0 ? 1 : -errno;
	errno = saved;
}

static void raiser(void *arg)
{
	raise(SIGUSR1);
	note(2);
}

START_TEST(test_go_from_handler)
{
	signal(SIGUSR1, on_usr1);
	asy_go(raiser, NULL);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 3);
	ck_assert_int_eq(trace[0], 1);
	ck_assert_int_eq(trace[1], 2);
	ck_assert_int_eq(trace[2], 77);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

struct thread_run {
	pthread_t self;
	int bad, done;
};

static void on_thread(void *arg)
{
	struct thread_run *t = arg;
	for (int i = 0; i < 100; i++) {
		if (!pthread_equal(pthread_self(), t->self))
			t->bad++;
		asy_yield();
	}
	t->done++;
}

static void *thread_main(void *arg)
{
	struct thread_run *t = arg;
	t->self = pthread_self();
	for (int i = 0; i < 50; i++)
		if (asy_go(on_thread, t) <= 0)
			t->bad++;
	if (asy_run() != 0)
		t->bad++;
	return NULL;
}

START_TEST(test_threads)
{
	struct thread_run t[2] = { { 0 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(t[i].bad, 0);
		ck_assert_int_eq(t[i].done, 50);
	}
	/* The main thread's scheduler saw none of it. */
	ck_assert_int_eq(asy_run(), 0);
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
	tcase_add_test(tc, test_errno_per_coro);
	tcase_add_test(tc, test_fpu_per_coro);
	tcase_add_test(tc, test_10000);
	tcase_add_test(tc, test_guard_page);
	tcase_add_test(tc, test_go_from_handler);
	tcase_add_test(tc, test_threads);
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
