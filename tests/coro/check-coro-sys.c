/* Coroutines against the system, linked with -lasyncify: errno and the
 * FP control state per coroutine, hooked I/O inside coroutines, 10,000
 * coroutines, the stack guard, spawning from a signal handler, a jump out
 * of a thread's first call, threads, a fork that runs no fork handler.
 * Each case runs in its own process (Check's fork mode). */
#include <check.h>
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

static void note_arg(void *arg)
{
	note((int)(intptr_t)arg);
}

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

/* ---- hooked I/O inside coroutines ------------------------------------- */

static int io_fd;

static void block_reader(void *arg)
{
	int k = (int)(intptr_t)arg;
	unsigned char buf[4096];
	for (int round = 0; round < 4; round++) {
		int blk = (k + round * 3) % 16;
		ssize_t n = pread(io_fd, buf, sizeof buf, (off_t)blk * 4096);
		ck_assert_int_eq(n, 4096);
		for (int i = 0; i < 4096; i += 511)
			ck_assert_int_eq(buf[i], (unsigned char)(blk * 7 + i));
		/* A failing call's errno survives the others' calls. */
		errno = 0;
		ck_assert_int_eq(pread(-1, buf, 1, 0), -1);
		ck_assert_int_eq(asy_yield(), 0);
		ck_assert_int_eq(errno, EBADF);
	}
	note(k);
}

START_TEST(test_io_in_coroutines)
{
	char path[] = "/tmp/check-coro-XXXXXX";
	unsigned char blk[4096];
	io_fd = mkstemp(path);
	ck_assert_int_ge(io_fd, 0);
	unlink(path);
	for (int b = 0; b < 16; b++) {
		for (int i = 0; i < 4096; i++)
			blk[i] = (unsigned char)(b * 7 + i);
		ck_assert_int_eq(write(io_fd, blk, sizeof blk), 4096);
	}
	for (int k = 0; k < 8; k++)
		asy_go(block_reader, (void *)(intptr_t)k);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(ntrace, 8);
	close(io_fd);
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
	 * long before 10,000 (and creating one costs ≈ 5 ms); it is here for
	 * races, not for scale. */
	enum { N = 200 };
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

/* ---- out of memory ------------------------------------------------------ */

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
static int spawned_ran;

static void count_run(void *arg)
{
	spawned_ran++;
}

/* In a child with an address-space limit 64 MiB above its current size:
 * asy_go() must fail with ENOMEM (not crash), and what was spawned must
 * still run.  (Not under ASan/TSan: their shadow memory needs a huge
 * address space of its own.) */
static int oom_child(void)
{
	long pages;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld", &pages) != 1)
		return 10;
	fclose(f);
	struct rlimit rl = { (rlim_t)pages * 4096 + (64 << 20), (rlim_t)pages * 4096 + (64 << 20) };
	if (setrlimit(RLIMIT_AS, &rl) < 0)
		return 11;
	int n = 0;
	while (n < 100000 && asy_go(count_run, NULL) > 0)
		n++;
	if (n == 100000 || n < 10 || errno != ENOMEM)
		return 12;
	if (asy_run() != 0 || spawned_ran != n)
		return 13;
	return 0;
}

START_TEST(test_go_out_of_memory)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(oom_child());
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST
#endif

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

/* ---- a jump out of the first call ---------------------------------------- */

/* A handler's siglongjmp out of a thread's first asy_go(), which makes the
 * thread's scheduler (and, once per process, the key that frees it): a
 * jump from the middle of the key's pthread_once left it under way for
 * good, and every other thread's first call waited on it for ever.  Each
 * child has a timer jump out of its main thread's first asy_go() after
 * its own delay (2 us to 42 us, 250 ns apart: on the machine it was
 * written on, the call was inside the pthread_once 10-20 us in), then a new thread makes its
 * own scheduler and runs a coroutine there; a child that has not ended
 * after 2 s hung (the first such ends the test).  asy_go is called by
 * pointer: the program's own lazy binding of it would take the jump. */
#define FIRST_CHILDREN 160
static sigjmp_buf first_env;
static volatile sig_atomic_t first_armed;

static void first_jump(int sig)
{
	(void)sig;
	if (first_armed) {
		first_armed = 0;
		siglongjmp(first_env, 1);
	}
}

static void first_nothing(void *arg)
{
	(void)arg;
}

static void first_ran(void *arg)
{
	*(int *)arg = 1;
}

static void *first_thread(void *arg)
{
	if (asy_go(first_ran, arg) <= 0 || asy_run() != 0)
		return NULL;
	return arg;
}

static int first_child(long delay_ns)
{
	int (*volatile go)(void (*)(void *), void *) = asy_go;
	struct sigaction sa = { .sa_handler = first_jump };
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
	struct itimerspec at = { .it_value = { 0, delay_ns } };
	timer_t tm;
	if (sigaction(SIGALRM, &sa, NULL) < 0 || timer_create(CLOCK_MONOTONIC, &ev, &tm) < 0)
		return 4;
	if (sigsetjmp(first_env, 1) == 0) {
		first_armed = 1;
		timer_settime(tm, 0, &at, NULL);
		go(first_nothing, NULL);
	}
	first_armed = 0;
	timer_delete(tm);
	int ran = 0;
	pthread_t th;
	void *got = NULL;
	if (pthread_create(&th, NULL, first_thread, &ran) != 0 || pthread_join(th, &got) != 0)
		return 2;
	return got == &ran && ran ? 0 : 3;
}

START_TEST(test_first_go_jumped_out_of)
{
	int bad = 0, hung = 0;
	for (long i = 0; i < FIRST_CHILDREN && !hung; i++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(first_child(2000 + 250 * i));
		int st = 0;
		pid_t r = 0;
		for (int ms = 0; ms < 2000 && (r = waitpid(pid, &st, WNOHANG)) == 0; ms++)
			usleep(1000);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			hung = (int)i + 1;
		}
		bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	ck_assert_msg(!hung, "child %d (its jump after %d ns) hung: a new thread's first asy_go() "
		      "never returned", hung, 2000 + 250 * (hung - 1));
	ck_assert_msg(bad == 0, "children whose new thread's coroutine did not run: %d of %d", bad,
		      FIRST_CHILDREN);
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

/* A fork that runs no pthread_atfork handler: _Fork(), or a raw clone
 * system call with fork's flags.  The child's coroutines made after the
 * fork run; those of the forking run do not (the child is made the
 * engine's own at its first call into it, switch or API call, not only
 * at its first switch, which had parked the new ones too: a join of one
 * said EDEADLK, an asy_run() returned without running it). */
extern pid_t _Fork(void);
static int fork_ran;

static pid_t fork_raw(int raw)
{
	return raw ? (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) : _Fork();
}

static void fork_new(void *arg)
{
	(void)arg;
	ck_assert_int_eq(asy_sleep(asy_now() + MS), 0);
	fork_ran++;
}

/* A child that has not ended in 10 s is killed (one that hung would
 * spin on beside the next cases) and reported as 200. */
static int child_status(pid_t c)
{
	int st;
	pid_t r;
	ck_assert_int_gt(c, 0); /* never a group or every process */
	for (int i = 0; (r = waitpid(c, &st, WNOHANG)) == 0 && i < 1000; i++)
		usleep(10000);
	if (r == 0) {
		kill(c, SIGKILL);
		ck_assert_int_eq(waitpid(c, &st, 0), c);
		return 200;
	}
	ck_assert_int_eq(r, c);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void fork_in_coroutine(void *arg)
{
	pid_t c = fork_raw(*(int *)arg);
	if (c == 0) {
		int h = asy_go(fork_new, NULL);
		_exit(h > 0 && asy_join(h, -1) == 0 && fork_ran == 1 ? 0 : 1);
	}
	ck_assert_int_eq(child_status(c), 0);
}

START_TEST(test_fork_without_handlers)
{
	int raw = _i;
	/* from a plain thread */
	pid_t c = fork_raw(raw);
	if (c == 0) {
		fork_ran = 0;
		_exit(asy_go(fork_new, NULL) > 0 && asy_run() == 0 && fork_ran == 1 ? 0 : 1);
	}
	ck_assert_int_eq(child_status(c), 0);
	/* from a coroutine, beside a sleeping sibling whose copy never runs */
	ck_assert_int_gt(asy_go(fork_new, NULL), 0);
	ck_assert_int_gt(asy_go(fork_in_coroutine, &raw), 0);
	ck_assert_int_eq(asy_run(), 0);
	ck_assert_int_eq(fork_ran, 1);
}
END_TEST

/* A signal handler forks (fork, or _Fork: no fork handler runs) while
 * the thread waits for every coroutine, one reading a pipe and one
 * joining it.  The handler stands in the read (README, signals in
 * coroutines), so the child is the reader, which goes on with its read
 * when the handler returns, as a thread of a plain program does; the
 * joiner's copy never runs.  The child used to return into the engine's
 * wait with the parent's ring (not mapped in a child: liburing's loop
 * looked at it again after an io_uring_enter that had also submitted
 * the read's op): SIGSEGV under uring, a read waiting for good on a
 * worker the child lacks under threads.  A siglongjmp into the child's
 * read, made anew as its own system call, ends it (it waited for the
 * data).  Slow: the data comes after a whole second, past the read's
 * look at its kept number, a later op of the same call (under threads
 * the child started it on the parent's engine and spun for ever). */
static int hf_pipe[2], hf_raw, hf_jump, hf_slow;
static volatile pid_t hf_child = -1;
static sigjmp_buf hf_env;
static int64_t hf_t0;

static void hf_alarm(int sig)
{
	(void)sig;
	siglongjmp(hf_env, 1);
}

static void hf_handler(int sig)
{
	(void)sig;
	int e = errno;
	hf_child = hf_raw ? _Fork() : fork();
	if (hf_child == 0 && hf_jump) { /* the child's read ends by a jump at 300 ms */
		struct sigaction sa = { .sa_handler = hf_alarm };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		ualarm(300000, 0);
	}
	errno = e;
}

static void *hf_signaller(void *arg)
{
	usleep(50000);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	usleep(hf_jump ? 1500000 : hf_slow ? 1100000 : 50000);
	ssize_t w = write(hf_pipe[1], "ab", 2);
	(void)w;
	return NULL;
}

static void hf_reader(void *arg)
{
	char b;
	if (hf_jump && sigsetjmp(hf_env, 1))
		_exit(asy_now() - hf_t0 < 1000 * MS ? 42 : 43); /* 43: only when data came */
	ssize_t r = read(hf_pipe[0], &b, 1);
	if (hf_child == 0)
		_exit(r == 1 ? 40 : 41);
	*(ssize_t *)arg = r;
}

static void hf_joiner(void *arg)
{
	asy_join(*(int *)arg, -1);
}

/* The handler set, the waiting coroutine and its joiner run while a
 * thread signals and writes; the child's exit status. */
static int hf_run(void (*waiter)(void *), void *arg)
{
	hf_child = -1;
	hf_t0 = asy_now();
	ck_assert_int_eq(pipe(hf_pipe), 0);
	struct sigaction sa = { .sa_handler = hf_handler, .sa_flags = SA_RESTART }, old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	pthread_t me = pthread_self(), th;
	int h = asy_go(waiter, arg);
	ck_assert_int_gt(h, 0);
	ck_assert_int_gt(asy_go(hf_joiner, &h), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, hf_signaller, &me), 0);
	ck_assert_int_eq(asy_run(), 0);
	pthread_join(th, NULL);
	sigaction(SIGUSR1, &old, NULL);
	close(hf_pipe[0]);
	close(hf_pipe[1]);
	ck_assert_int_gt(hf_child, 0);
	return child_status(hf_child);
}

START_TEST(test_fork_in_handler_as_thread_waits)
{
	hf_raw = _i & 1;
	hf_jump = _i >> 1 == 1; /* and the child's read ended by a siglongjmp */
	hf_slow = _i >> 1 == 2;
	ssize_t r = -1;
	ck_assert_int_eq(hf_run(hf_reader, &r), hf_jump ? 42 : 40);
	ck_assert_int_eq(r, 1);
}
END_TEST

/* The same with the coroutine in a timed condition wait: the child's
 * wait goes on to its timeout, as a thread's does (it ended at once, as
 * a spurious wake-up: 0). */
static pthread_mutex_t hc_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hc_c = PTHREAD_COND_INITIALIZER;

static void hc_waiter(void *arg)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	pthread_mutex_lock(&hc_m);
	int e = pthread_cond_timedwait(&hc_c, &hc_m, &ts);
	int mine = pthread_mutex_trylock(&hc_m) == EBUSY; /* taken again by the wait */
	pthread_mutex_unlock(&hc_m);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int late = now.tv_sec > ts.tv_sec || (now.tv_sec == ts.tv_sec && now.tv_nsec >= ts.tv_nsec);
	if (hf_child == 0)
		_exit(e == ETIMEDOUT && late && mine ? 40 : e == 0 ? 41 : 42);
	*(int *)arg = e;
}

START_TEST(test_fork_in_handler_as_cond_waits)
{
	hf_raw = _i;
	hf_jump = hf_slow = 0;
	int e = -1;
	ck_assert_int_eq(hf_run(hc_waiter, &e), 40);
	ck_assert_int_eq(e, ETIMEDOUT);
}
END_TEST

static Suite *sys_suite(void)
{
	Suite *s = suite_create("coro-sys");
	TCase *tc = tcase_create("sys");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_errno_per_coro);
	tcase_add_test(tc, test_fpu_per_coro);
	tcase_add_test(tc, test_io_in_coroutines);
	tcase_add_test(tc, test_10000);
	tcase_add_test(tc, test_guard_page);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	tcase_add_test(tc, test_go_out_of_memory);
#endif
	tcase_add_test(tc, test_go_from_handler);
#if !defined(__SANITIZE_THREAD__) /* it runs a handler where it chooses, not where the timer lands */
	tcase_add_test(tc, test_first_go_jumped_out_of);
#endif
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	/* make check-coro runs these cases under each backend */
	TCase *fork = tcase_create("fork");
	tcase_set_timeout(fork, 20);
#if !defined(__SANITIZE_THREAD__) /* it follows only the forks it intercepts */
	tcase_add_loop_test(fork, test_fork_without_handlers, 0, 2);
	/* 0, 1: fork and _Fork; 2, 3: and a jump; 4, 5: slow */
	tcase_add_loop_test(fork, test_fork_in_handler_as_thread_waits, 0, 6);
	tcase_add_loop_test(fork, test_fork_in_handler_as_cond_waits, 0, 2);
#endif
	suite_add_tcase(s, fork);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sys_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
