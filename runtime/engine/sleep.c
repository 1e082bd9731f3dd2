/* Sleeps inside coroutines: nanosleep, clock_nanosleep, usleep, sleep.
 * The coroutine parks on its scheduler's timer heap until the time comes
 * (no system call, no worker); the others run meanwhile.  Its I/O
 * deadline or asy_cancel() ends the sleep early: ETIMEDOUT / ECANCELED,
 * with the time left in *rem (nanosleep, relative clock_nanosleep; a *rem
 * that cannot be written is EFAULT) or sleep()'s return value and errno,
 * as a signal's EINTR would.  A sleep of zero
 * lets the other coroutines run once (asy_yield).
 *
 * A sleep on the process's CPU clock looks at that clock while it parks
 * (cpu_sleep).
 *
 * What the kernel checks (a bad pointer, tv_nsec out of range, a clock
 * that cannot sleep) is answered by the program's own call, as is a sleep
 * of a coroutine alone on its thread: nothing else could run meanwhile,
 * and a signal then interrupts it as it would without the shim. */
#include <errno.h>
#include <time.h>
#include <sys/uio.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

#define NS 1000000000LL

/* Nanoseconds, saturated at INT64_MAX as the kernel's ktime is. */
static int64_t ts_ns(const struct timespec *ts)
{
	if (ts->tv_sec >= INT64_MAX / NS)
		return INT64_MAX;
	return (int64_t)ts->tv_sec * NS + ts->tv_nsec;
}

static void ns_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / NS;
	ts->tv_nsec = ns % NS;
}

/* The clocks a sleep can be measured on here: the monotonic one the
 * scheduler uses, and those that run at its pace (an absolute time on
 * CLOCK_REALTIME/TAI is taken as the same distance from now; a clock step
 * during the sleep is not followed). */
static int clock_ok(clockid_t clk)
{
	return clk == CLOCK_MONOTONIC || clk == CLOCK_REALTIME || clk == CLOCK_BOOTTIME ||
	       clk == CLOCK_TAI;
}

/* How a failed sleep reports its error: -errno, or the error number
 * itself (clock_nanosleep). */
static long fail(const struct asy_io *io, int err)
{
	return io->call == ASY_CALL_clock_nanosleep ? err : -err;
}

/* As the kernel counts it (poll_select_finish): the end is the start
 * plus the timeout, saturated at TIME64_MAX seconds (timespec64_add_safe),
 * and what is left is the end less now. */
void asy__time_left(struct timespec *ts, int64_t start)
{
	int64_t sec, nsec = start % NS + ts->tv_nsec;
	if (__builtin_add_overflow(start / NS, (int64_t)ts->tv_sec, &sec))
		sec = INT64_MAX, nsec = 0;
	else if (nsec >= NS && sec < INT64_MAX)
		sec++, nsec -= NS;
	int64_t now = asy_now();
	sec -= now / NS;
	nsec -= now % NS;
	if (nsec < 0)
		nsec += NS, sec--;
	if (sec < 0)
		sec = nsec = 0;
	ts->tv_sec = sec;
	ts->tv_nsec = nsec;
}

/* A sleep of zero lets the others run once.  They use the engine
 * meanwhile, as while this one parks (asy__park): the thread's depth is
 * theirs until it comes back (else a coroutine that returned from the
 * engine in between left it at 0 for this one, whose return made it -1,
 * and every hooked call of the thread was the program's own from then
 * on). */
static int yield_once(void)
{
	int depth = asy__depth;
	asy__depth = 0;
	int r = asy_yield();
	asy__depth = depth;
	return r;
}

/* What is left of the wait for *rem, or EFAULT; then the error. */
static long ended_early(struct asy_io *io, int err, int64_t left, struct timespec *rem)
{
	ASY_COUNT(interrupted);
	if (left < 0)
		left = 0;
	if (io->call == ASY_CALL_sleep) {
		/* glibc's sleep returns the whole seconds its nanosleep left
		 * (not rounded), errno as that nanosleep set it */
		io->errnum = err;
		return left / NS;
	}
	if (rem) {
		struct timespec t;
		ns_ts(left, &t);
		if (asy__copy_out(rem, &t, sizeof t) < 0)
			return fail(io, EFAULT); /* the kernel's answer too */
	}
	return fail(io, err);
}

/* A sleep on the process's CPU clock ends once the process has used
 * that much CPU time — other coroutines of this thread among them, so
 * the coroutine parks and looks at the clock every CPU_LOOK_NS at most
 * (the program's own call would hold the thread, and a process whose
 * CPU time is its coroutines' would never reach the end). */
#define CPU_LOOK_NS 1000000

static long cpu_sleep(struct asy_io *io, const struct timespec *req, int abs, struct timespec *rem)
{
	struct timespec now;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now) < 0)
		return ASY_PASS;
	int64_t target = ts_ns(req);
	if (!abs)
		target = target > INT64_MAX - ts_ns(&now) ? INT64_MAX : target + ts_ns(&now);
	int64_t io_deadline = asy__coro_io_deadline();
	io->via = ASY_VIA_TIMER;
	for (;;) {
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
		int64_t left = target - ts_ns(&now);
		if (left <= 0)
			return 0;
		int64_t until = asy_now() + (left < CPU_LOOK_NS ? left : CPU_LOOK_NS);
		int by_deadline = io_deadline >= 0 && io_deadline <= until;
		int r = asy__park(by_deadline ? io_deadline : until);
		if (r == -ECANCELED || (r == -ETIMEDOUT && by_deadline)) {
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
			return ended_early(io, -r, target - ts_ns(&now), abs ? NULL : rem);
		}
		if (r < 0 && r != -ETIMEDOUT)
			return ASY_PASS; /* not a coroutine after all */
	}
}

long asy__sleep(struct asy_io *io)
{
	clockid_t clk = (clockid_t)io->a[0];
	int abs = io->call == ASY_CALL_clock_nanosleep && (io->a[1] & TIMER_ABSTIME);
	const struct timespec *req = (const struct timespec *)io->a[2];
	struct timespec *rem = (struct timespec *)io->a[3];
	int64_t ns;
	if (io->call == ASY_CALL_usleep || io->call == ASY_CALL_sleep) {
		ns = io->a[4] * 1000;
	} else {
		struct timespec ts;
		int cpu = io->call == ASY_CALL_clock_nanosleep && clk == CLOCK_PROCESS_CPUTIME_ID;
		if ((!clock_ok(clk) && !cpu) || asy__copy_in(&ts, req, sizeof ts) < 0 ||
		    ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= NS)
			return ASY_PASS;
		if (cpu)
			return asy__coro_alone() ? ASY_PASS : cpu_sleep(io, &ts, abs, rem);
		ns = ts_ns(&ts);
		if (abs) {
			struct timespec now;
			clock_gettime(clk, &now);
			ns -= ts_ns(&now);
		}
	}
	if (asy__coro_alone())
		return ASY_PASS;
	if (ns <= 0) {
		if (abs)
			return 0;
		return yield_once() < 0 ? fail(io, ECANCELED) : 0;
	}
	/* The kernel's timer ends at now + req, saturated at KTIME_MAX: its
	 * *rem when ended early is what is left of that. */
	int64_t start = asy_now(), io_deadline = asy__coro_io_deadline();
	int64_t end = ns > INT64_MAX - start ? INT64_MAX : start + ns;
	io->via = ASY_VIA_TIMER;
	int r;
	for (;;) {
		int64_t until = io_deadline >= 0 && io_deadline < end ? io_deadline : end;
		if (until > INT64_MAX / 2)
			until = INT64_MAX / 2; /* the timer heap's far end */
		r = asy__park(until);
		if (asy_now() >= end)
			return 0;
		if (r == -ETIMEDOUT || r == -ECANCELED)
			break;
		if (r < 0)
			return ASY_PASS; /* not a coroutine after all */
	}
	return ended_early(io, -r, end - asy_now(), abs ? NULL : rem);
}
