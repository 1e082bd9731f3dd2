/* ticker.h - how long a thread that runs coroutines stalls.
 *
 * A ticker coroutine sleeps for one period at a time and records how late
 * it woke: the longest lateness is the longest the thread was held by
 * something else (a call made in the thread, the scheduler's own work).
 * It also records the most CPU time the thread used between two wakes:
 * lateness can be the machine's (another task had the CPU), CPU time used
 * in the gap is the thread's own (a system call, the scheduler's work).
 * The sleep and the clock are passed in, so that a program that links the
 * library (asy_sleep, asy_now) and one that looks them up with dlsym can
 * both use it:
 *
 *	static struct ticker tk = { .period_ns = 1000000 };
 *	tk.sleep_until = asy_sleep; tk.now = asy_now; tk.stop = &done;
 *	asy_go(ticker_run, &tk);   ... asy_run(); then tk.worst_ns
 */
#ifndef BENCH_TICKER_H
#define BENCH_TICKER_H

#include <stdint.h>
#include <time.h>

struct ticker {
	int64_t period_ns;            /* how long each sleep is */
	int (*sleep_until)(int64_t);  /* asy_sleep: until an absolute asy_now() */
	int64_t (*now)(void);         /* asy_now */
	const volatile int *stop;     /* the ticker ends once *stop != 0 */
	int64_t worst_ns;             /* out: the longest wake past its due time */
	int64_t worst_cpu_ns;         /* out: the most thread CPU time between two wakes */
	long ticks;                   /* out: how many times it woke */
};

static inline int64_t ticker_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void ticker_run(void *arg)
{
	struct ticker *tk = arg;
	tk->worst_ns = tk->worst_cpu_ns = 0;
	tk->ticks = 0;
	while (!*tk->stop) {
		int64_t due = tk->now() + tk->period_ns, c0 = ticker_cpu();
		if (tk->sleep_until(due) < 0)
			return;
		int64_t late = tk->now() - due, cpu = ticker_cpu() - c0;
		if (late > tk->worst_ns)
			tk->worst_ns = late;
		if (cpu > tk->worst_cpu_ns)
			tk->worst_cpu_ns = cpu;
		tk->ticks++;
	}
}

#endif
