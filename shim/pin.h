/* How a coroutine waits for a lock, a once, a futex word, a condition,
 * a semaphore or a thread another coroutine or thread holds (pin.c,
 * futex.c, sync.c): by parking and looking again, 50 µs doubling to
 * 1 ms, never in the kernel, while its siblings run. */
#ifndef ASY_PIN_H
#define ASY_PIN_H

#include <stdint.h>
#include <time.h>

#define WAIT_FIRST_NS 50000
#define WAIT_MAX_NS 1000000
#define LEFT (-2) /* a handler's jump waits for the call */

/* The running coroutine, when a lock call is one the table follows (a
 * scheduler runs, not the engine's own call nor the library's own lock);
 * else NULL: libc's own call. */
void *asy__pin_self(void);
/* One park of such a wait, as a call of the coroutine's (coro/jump.c): a
 * handler's siglongjmp or setcontext out of it is put off to the park's
 * end and made here, from the call's frame — with `jump` 0 the caller
 * makes it (LEFT).  A handler that returns stands in the call (errno).
 * -1: the coroutine can no longer park; else 0. */
int asy__pin_park(void *self, int64_t every, int jump);
/* Has the absolute time `until` on clk come? */
int asy__pin_passed(clockid_t clk, const struct timespec *until);
/* How long a wait's next park lasts: `every`, or less where its timeout
 * on clk (NULL: none) comes sooner, so that a timed wait ends at its time
 * (a timeout centuries away, LONG_MAX seconds included, is `every`). */
int64_t asy__pin_park_for(int64_t every, clockid_t clk, const struct timespec *until);
/* The next `every`: doubled, up to WAIT_MAX_NS. */
static inline int64_t asy__pin_next(int64_t every)
{
	return every < WAIT_MAX_NS ? every * 2 : WAIT_MAX_NS;
}

/* C11's answer (thrd_success, thrd_timedout, …) for a pthread call's
 * error number, as glibc maps it (pin.c). */
int asy__thrd_answer(int err);

#endif
