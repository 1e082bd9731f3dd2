/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks the program's
 * signal handlers: a handler's hooked calls are its own (they never let
 * another coroutine run: the code the handler interrupted may hold
 * malloc's lock), also after a jump out of a handler and within one, and
 * a jump or setcontext out of a handler that runs while every coroutine
 * waits lands on the waiting call's stack with the handler's errno.  What
 * the program is told about its dispositions is check-exact-dispositions'. */
#include <check.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ucontext.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* sigset & co. */
/* glibc exports it; its header declares it only for XPG4.2 without GNU */
extern __sighandler_t bsd_signal(int, __sighandler_t);

/* ---- a handler's calls never switch coroutines ------------------------ */

/* The job that last ran on this thread: a coroutine that ran while a
 * handler waited would have written its number. */
static __thread int me = -1;
static int slow[2], quick[2], pair[2], devnull;
static volatile sig_atomic_t runs, switched, wrong;
static _Atomic int pumping; /* read by the jobs, which are threads without the shim */

static void on_pump(int sig)
{
	int e = errno, was = me;
	char c;
	(void)sig;
	if (write(quick[1], "q", 1) != 1 || read(quick[0], &c, 1) != 1)
		wrong++;
	if (read(slow[0], &c, 1) != 1) /* waits for the pump's byte */
		wrong++;
	if (send(pair[0], "p", 1, 0) != 1 || recv(pair[1], &c, 1, 0) != 1)
		wrong++;
	if (poll(NULL, 0, 1) != 0 || usleep(100) != 0)
		wrong++;
	for (int i = 0; i < 300; i++) /* more than a coroutine's share */
		if (write(devnull, &c, 1) != 1)
			wrong++;
	if (me != was)
		switched++;
	runs++;
	errno = e;
}

/* A plain thread: SIGUSR1 to the case's thread, then the byte its
 * handler waits for a millisecond later; 40 rounds. */
static void *pump(void *arg)
{
	(void)arg;
	for (int i = 0; i < 40; i++) {
		pthread_kill(main_thread, SIGUSR1);
		t_msleep(1);
		write(slow[1], "s", 1);
		t_msleep(2);
	}
	pumping = 0;
	return NULL;
}

static void j_busy(int i)
{
	char c = 0;
	while (pumping) {
		me = i;
		write(devnull, &c, 1); /* yields at the end of its share */
	}
	t_jout(i, "done\n");
}

/* The symptom: libuv's SIGCHLD handler reads and writes a pipe; with its
 * loops in coroutines, the handler's read let a sibling coroutine run
 * while the interrupted one held malloc's lock, and the process hung. */
static void c6_handler_calls_are_its_own(void)
{
	net(10);
	mark_main();
	t_load_api();
	pipe(slow);
	pipe(quick);
	socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
	devnull = open("/dev/null", O_WRONLY);
	struct sigaction sa = { .sa_handler = on_pump, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	pumping = 1;
	pthread_t th = go(pump, NULL);
	t_spawn(j_busy, 0);
	t_spawn(j_busy, 1);
	t_finish();
	join(th);
	t_out("handler ran=%s switched=%d wrong=%d\n", yes(runs > 0), (int)switched, (int)wrong);
}

/* ---- jumps out of handlers and within them ---------------------------- */

static sigjmp_buf out_env;
static int chan[2];
static volatile sig_atomic_t nested;

static ucontext_t out_uc;
static volatile int by_context;

static volatile int stale_frame, nested_jump, came_back, keep_errno, zero_errno;

static void on_nothing(int sig)
{
	(void)sig;
	if (nested_jump) /* a nested handler that jumps out of both */
		siglongjmp(out_env, 1);
}

/* A jump made deep below the handler's frame, where a nested signal's
 * frame lies, left there when its handler returned. */
static __attribute__((noinline)) void jump_from_deep(void)
{
	char pad[16384];
	__asm__ volatile("" : : "r"(pad) : "memory");
	if (stale_frame) /* always: but the call is not known not to return */
		siglongjmp(out_env, 1);
}

static void on_jump_out(int sig)
{
	(void)sig;
	if (!keep_errno)
		errno = zero_errno ? 0 : ETIMEDOUT; /* the program's errno after the jump */
	if (by_context)
		setcontext(&out_uc);
	if (stale_frame) {
		raise(SIGUSR2);
		jump_from_deep();
		came_back = 1; /* never: the jump does not return */
	}
	if (nested_jump) {
		raise(SIGUSR2);
		came_back = 1; /* never: the nested handler's jump leaves this one too */
	}
	siglongjmp(out_env, 1);
}

/* A handler that raises a second signal, whose handler jumps out of
 * both. */
static void on_outer(int sig)
{
	(void)sig;
	nested++;
	raise(SIGUSR1);
}

/* Job 0 jumps out of handlers, then waits for job 1 in a read: were the
 * thread still marked as inside a handler, the read would hold the
 * thread and job 1 would never run. */
static void j_after_jump(int i)
{
	char b[8];
	if (i == 1) {
		usleep(20000);
		t_jres(i, "write", write(chan[1], "ab", 2));
		t_jout(i, "\n");
		return;
	}
	volatile int back = 0;
	if (by_context) {
		getcontext(&out_uc);
		if (!back) {
			back = 1;
			raise(SIGUSR1);
		}
		t_jout(i, "left by setcontext ");
	} else if (sigsetjmp(out_env, 1) == 0) {
		raise(nested ? SIGUSR1 : SIGUSR2);
	} else {
		t_jout(i, "jumped nested=%d ", (int)nested);
	}
	t_jres(i, "read", read(chan[0], b, sizeof b));
	t_jout(i, "\n");
}

static void jump_out(int via_outer, int context)
{
	by_context = context;
	net(10);
	t_load_api();
	pipe(chan);
	struct sigaction sa = { .sa_handler = on_jump_out };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_outer;
	sigaction(SIGUSR2, &sa, NULL);
	nested = !via_outer;
	t_spawn(j_after_jump, 0);
	t_spawn(j_after_jump, 1);
	t_finish();
}

static void c6_calls_yield_after_siglongjmp_out_of_handler(void) { jump_out(0, 0); }
static void c6_calls_yield_after_siglongjmp_out_of_two_handlers(void) { jump_out(1, 0); }
/* A green-thread library's preemption: the handler leaves by setcontext. */
static void c6_calls_yield_after_setcontext_out_of_handler(void) { jump_out(0, 1); }

/* The handler runs while the thread waits in the scheduler (job 0 in a
 * read nobody feeds, job 1 asleep), and leaves by siglongjmp or
 * setcontext into job 0's read: errno is the handler's, as with glibc
 * (it was ECANCELED, the put-off jump's way of ending the call), and a
 * setcontext is made on job 0's stack (it was made on the scheduler's,
 * whose coroutines then crashed at exit).  A jump made below the frame a
 * nested handler left on the stack returns from the handler through the
 * handler's own signal frame (a search up the stack took the nested one
 * and came back into the handler; bash died in its `wait`), and a jump
 * out of a nested handler leaves the handler it interrupted too (the
 * outer handler's code after its raise() ran).  A handler that leaves
 * errno alone leaves job 0 its errno from before the read, as the read
 * interrupted by glibc's handler never set it (it was the scheduler's,
 * whatever the thread's errno was when the handler ran). */
static int idle_pipe[2];
static pid_t kick_tid;

static void *kick_later(void *arg)
{
	(void)arg;
	t_msleep(30);
	syscall(SYS_tgkill, getpid(), kick_tid, SIGUSR1);
	return NULL;
}

static void j_jump_from_the_wait(int i)
{
	char b[8];
	if (i == 1) {
		t_msleep(80);
		t_jres(i, "write", write(chan[1], "ab", 2));
		t_jout(i, "\n");
		return;
	}
	volatile int back = 0;
	kick_tid = (pid_t)syscall(SYS_gettid);
	pthread_t th = go(kick_later, NULL);
	errno = keep_errno || zero_errno ? ENOTTY : 0;
	if (by_context) {
		getcontext(&out_uc);
		if (!back) {
			back = 1;
			read(idle_pipe[0], b, sizeof b);
			t_jout(i, "read returned ");
		}
	} else if (sigsetjmp(out_env, 1) == 0) {
		read(idle_pipe[0], b, sizeof b);
		t_jout(i, "read returned ");
	}
	int e = errno;
	join(th);
	t_jout(i, "left errno=%s ", strerrorname_np(e));
	if (stale_frame || nested_jump)
		t_jout(i, "came back from the jump=%d ", (int)came_back);
	t_jres(i, "read", read(chan[0], b, sizeof b));
	t_jout(i, "\n");
}

static void jump_from(void (*job)(int), int context)
{
	by_context = context == 1 || context == 5;
	stale_frame = context == 2;
	nested_jump = context == 3;
	keep_errno = context == 4 || context == 5;
	zero_errno = context == 6;
	struct sigaction nothing = { .sa_handler = on_nothing };
	sigemptyset(&nothing.sa_mask);
	sigaction(SIGUSR2, &nothing, NULL);
	net(10);
	t_load_api();
	pipe(chan);
	pipe(idle_pipe);
	struct sigaction sa = { .sa_handler = on_jump_out };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	t_spawn(job, 0);
	t_spawn(job, 1);
	t_finish();
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
}

static void jump_from_the_wait(int context) { jump_from(j_jump_from_the_wait, context); }

static void c6_siglongjmp_from_the_wait_keeps_the_handlers_errno(void) { jump_from_the_wait(0); }
static void c6_setcontext_from_the_wait_lands_on_the_calls_stack(void) { jump_from_the_wait(1); }
static void c6_siglongjmp_below_a_nested_handlers_frame(void) { jump_from_the_wait(2); }
static void c6_siglongjmp_from_a_nested_handler_leaves_both(void) { jump_from_the_wait(3); }
static void c6_siglongjmp_from_the_wait_keeps_the_calls_errno(void) { jump_from_the_wait(4); }
static void c6_setcontext_from_the_wait_keeps_the_calls_errno(void) { jump_from_the_wait(5); }
static void c6_siglongjmp_from_the_wait_gives_errno_0_set_by_the_handler(void)
{
	jump_from_the_wait(6);
}

/* A handler that returns into a coroutine's waiting read (SA_RESTART: the
 * read goes on) stands in that read: it finds the errno from before the
 * call, and one it leaves is the program's after the read succeeds, as
 * with glibc, where the handler runs inside the read's system call (a
 * SIGCHLD handler's waitpid loop leaves ECHILD). */
static volatile int found_errno, leave_errno, reads_done;

static void on_restarted(int sig)
{
	(void)sig;
	found_errno = errno;
	if (leave_errno)
		errno = leave_errno;
}

static void *kick_then_feed(void *arg)
{
	(void)arg;
	t_wait_blocked(kick_tid);
	syscall(SYS_tgkill, getpid(), kick_tid, SIGUSR1);
	t_msleep(30);
	write(chan[1], "ab", 2);
	return NULL;
}

/* A sibling that waits in the API (inside no call) 50 ms at a time until
 * *done: whether its errno stayed as it was. */
static int sleep_in_the_api(volatile int *done)
{
	int kept = 1, was = errno;
	while (t_api.sleep && !*done) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts); /* asy_now()'s clock */
		if (t_api.sleep((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + 50000000) < 0)
			t_msleep(50); /* a thread (off) */
		kept &= errno == was;
	}
	return kept;
}

static void j_restarted(int i)
{
	char b[8];
	if (i == 1) {
		sleep_in_the_api(&reads_done);
		t_jout(i, "slept\n");
		return;
	}
	for (int round = 0; round < 2; round++) {
		leave_errno = round ? EDOM : 0;
		found_errno = 0;
		kick_tid = (pid_t)syscall(SYS_gettid);
		errno = ENOTTY;
		pthread_t th = go(kick_then_feed, NULL);
		errno = ENOTTY;
		long r = read(chan[0], b, sizeof b);
		int e = errno;
		join(th);
		t_jout(i, "read=%ld found=%s left=%s ", r, strerrorname_np(found_errno),
		       strerrorname_np(e));
	}
	t_jout(i, "\n");
	reads_done = 1;
}

static void c6_returning_handler_stands_in_the_waiting_call(void)
{
	t_load_api();
	pipe(chan);
	struct sigaction sa = { .sa_handler = on_restarted, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	t_spawn(j_restarted, 0);
	t_spawn(j_restarted, 1);
	t_finish();
	signal(SIGUSR1, SIG_DFL);
}

/* A handler's siglongjmp out of a coroutine's wait for a mutex another
 * thread holds leaves the lock call, the lock not taken, with errno from
 * before the call; it was made from the scheduler's stack, and the
 * process spun for ever at its exit.  A handler that sets errno and jumps
 * out of a read changes no other coroutine's errno: the sibling that
 * waits in the API meanwhile keeps its own (the handler's EBADF went to
 * the code the handler interrupted, the scheduler's loop on that
 * sibling's stack). */
static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
static volatile int locking_done, mutex_held, lock_round, jumps_made;

static void on_jump_with_ebadf(int sig)
{
	(void)sig;
	errno = EBADF;
	siglongjmp(out_env, 1);
}

static void *hold_then_kick(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&held_mutex);
	mutex_held = 1;
	for (int round = 1; round <= 3; round++) {
		while (lock_round != round)
			t_msleep(2);
		t_msleep(40); /* in its wait by then */
		syscall(SYS_tgkill, getpid(), kick_tid, SIGUSR1);
		while (jumps_made != round)
			t_msleep(2);
	}
	pthread_mutex_unlock(&held_mutex);
	return NULL;
}

static void j_jump_out_of_waits(int i)
{
	char b[8];
	if (i == 1) {
		errno = ENOTTY;
		t_jout(i, "sibling's errno kept=%d\n", sleep_in_the_api(&locking_done));
		return;
	}
	kick_tid = (pid_t)syscall(SYS_gettid);
	pthread_t th = go(hold_then_kick, NULL);
	while (!mutex_held)
		t_msleep(2);
	for (volatile int round = 0; round < 3; round++) {
		errno = 4321 + round;
		if (sigsetjmp(out_env, 1) == 0) {
			lock_round = round + 1;
			pthread_mutex_lock(&held_mutex);
			t_jout(i, "locked ");
		}
		t_jout(i, "jumped errno=%d ", errno);
		jumps_made = round + 1;
	}
	join(th);
	t_jres(i, "lock", pthread_mutex_lock(&held_mutex));
	pthread_mutex_unlock(&held_mutex);
	struct sigaction sa = { .sa_handler = on_jump_with_ebadf };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	for (volatile int round = 0; round < 3; round++) {
		pthread_t k = go(kick_later, NULL);
		if (sigsetjmp(out_env, 1) == 0)
			read(idle_pipe[0], b, sizeof b);
		t_jout(i, "errno=%s ", strerrorname_np(errno));
		join(k);
	}
	t_jout(i, "\n");
	locking_done = 1;
}

static void c6_siglongjmp_out_of_a_lock_wait_and_no_errno_leaks(void)
{
	t_load_api();
	pipe(idle_pipe);
	struct sigaction sa = { .sa_handler = on_jump_out };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	keep_errno = 1;
	t_spawn(j_jump_out_of_waits, 0);
	t_spawn(j_jump_out_of_waits, 1);
	t_finish();
	signal(SIGUSR1, SIG_DFL);
}

/* A handler that jumps within its own frames (a library's error
 * handling), then waits in a read: still the handler's own call. */
static void on_inner_jump(int sig)
{
	sigjmp_buf here;
	char c;
	int was = me;
	(void)sig;
	if (sigsetjmp(here, 0) == 0)
		siglongjmp(here, 1);
	if (read(slow[0], &c, 1) != 1)
		wrong++;
	if (me != was)
		switched++;
	runs++;
}

static void *feed_slow(void *arg)
{
	(void)arg;
	t_msleep(30);
	write(slow[1], "s", 1);
	return NULL;
}

static void j_inner(int i)
{
	char c = 0;
	me = i;
	if (i == 0) {
		pthread_t th = go(feed_slow, NULL);
		raise(SIGUSR1);
		t_jout(i, "after handler switched=%d ", (int)switched);
		pumping = 0;
		join(th);
	}
	while (pumping) {
		me = i;
		write(devnull, &c, 1);
	}
	t_jout(i, "done\n");
}

static void c6_handler_jumping_within_itself_keeps_its_calls(void)
{
	net(10);
	t_load_api();
	pipe(slow);
	devnull = open("/dev/null", O_WRONLY);
	struct sigaction sa = { .sa_handler = on_inner_jump };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	pumping = 1;
	t_spawn(j_inner, 0);
	t_spawn(j_inner, 1);
	t_finish();
	t_out("runs=%d wrong=%d\n", (int)runs, (int)wrong);
}

/* A handler that lands while the thread sleeps in the wait that also
 * sent its coroutines' ops in (job 0 and job 1 both read, no timer
 * bounds the sleep): under uring that enter said how many ops it had
 * submitted rather than EINTR, liburing waited again, and the jump out
 * of job 0's read never landed — the program hung. */
static void j_jump_in_the_first_wait(int i)
{
	char b[8];
	if (i == 1) {
		t_jres(i, "read", read(chan[0], b, sizeof b));
		t_jout(i, "\n");
		return;
	}
	kick_tid = (pid_t)syscall(SYS_gettid);
	pthread_t th = go(kick_later, NULL);
	if (sigsetjmp(out_env, 1) == 0) {
		read(idle_pipe[0], b, sizeof b);
		t_jout(i, "read returned ");
	} else {
		t_jout(i, "jumped ");
	}
	join(th);
	t_jres(i, "write", write(chan[1], "ab", 2));
	t_jout(i, "\n");
}

static void c6_siglongjmp_out_of_an_unbounded_first_wait(void)
{
	jump_from(j_jump_in_the_first_wait, 0);
}

/* ---- the table --------------------------------------------------------
 * T_NOTSAN: under ThreadSanitizer the program's handler runs later, from
 * the sanitizer's own frames (at its next intercepted call), not from the
 * kernel's signal frame: outside the shim's trampoline (README, Known
 * blind spots). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c6_handler_calls_are_its_own, T_OWNCORO | T_NOTSAN),
	C(c6_calls_yield_after_siglongjmp_out_of_handler, T_OWNCORO),
	C(c6_calls_yield_after_siglongjmp_out_of_two_handlers, T_OWNCORO),
	C(c6_calls_yield_after_setcontext_out_of_handler, T_OWNCORO),
	C(c6_siglongjmp_from_the_wait_keeps_the_handlers_errno, T_OWNCORO | T_NOTSAN),
	C(c6_setcontext_from_the_wait_lands_on_the_calls_stack, T_OWNCORO | T_NOTSAN),
	C(c6_siglongjmp_below_a_nested_handlers_frame, T_OWNCORO | T_NOTSAN),
	C(c6_siglongjmp_from_a_nested_handler_leaves_both, T_OWNCORO | T_NOTSAN),
	C(c6_siglongjmp_from_the_wait_keeps_the_calls_errno, T_OWNCORO | T_NOTSAN),
	C(c6_setcontext_from_the_wait_keeps_the_calls_errno, T_OWNCORO | T_NOTSAN),
	C(c6_siglongjmp_from_the_wait_gives_errno_0_set_by_the_handler, T_OWNCORO | T_NOTSAN),
	C(c6_returning_handler_stands_in_the_waiting_call, T_OWNCORO | T_NOTSAN),
	C(c6_siglongjmp_out_of_a_lock_wait_and_no_errno_leaks, T_OWNCORO | T_NOTSAN),
	C(c6_handler_jumping_within_itself_keeps_its_calls, T_OWNCORO | T_NOTSAN),
	C(c6_siglongjmp_out_of_an_unbounded_first_wait, T_OWNCORO | T_NOTSAN),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	t_jobs_threads_under_off();
	return t_cases_main(argc, argv, cases, "exact-handlers", 120);
}
