/* How a coroutine waits for a lock, a once, a futex word, a condition,
 * a semaphore or a thread another coroutine or thread holds (pin.c,
 * futex.c, sync.c): by parking and looking again, 50 µs doubling to
 * 1 ms, never in the kernel, while its siblings run; a wait whose waker
 * goes through the hooks (an unlock, a signal, a post) holds a slot that
 * waker finds, and its park ends at the wake (slots.c). */
#ifndef ASY_PIN_H
#define ASY_PIN_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define WAIT_FIRST_NS 50000
#define WAIT_MAX_NS 1000000
#define LEFT (-2) /* a handler's jump waits for the call */

/* The running coroutine, when a lock call is one the table follows (a
 * scheduler runs, not the engine's own call nor the library's own lock);
 * else NULL: libc's own call. */
void *asy__pin_self(void);
/* The slot of a wait a waker can find (slots.c): taken for the wait's
 * length (NULL: none free, or in a signal handler), left when it ends —
 * 1 when a wake had marked it.  asy__slot_wake marks the slots of obj (the earliest one, or all)
 * and ends their parks: how many it marked.  A lock's waiter unmarks
 * its slot (rearm) before it looks again.  A stale slot is a parent's,
 * in a fork's child. */
struct asy_slot;
#define ASY_SLOT_BUCKETS 256
extern _Atomic int asy__slot_buckets[ASY_SLOT_BUCKETS];
static inline _Atomic int *asy__slot_bucket(const void *obj)
{
	return &asy__slot_buckets[((uintptr_t)obj >> 3) * 0x9E3779B97F4A7C15ull >> 56];
}
/* May a slot name obj?  (0: none does; a waker looks no further.) */
static inline int asy__slot_maybe(const void *obj)
{
	return atomic_load_explicit(asy__slot_bucket(obj), memory_order_seq_cst) != 0;
}
/* A slot naming obj for the calling wait (NULL: none to be had, or in a
 * handler): its frame is the caller's, so that a handler's jump past it
 * leaves the slot (asy__slot_unwind); `pass`: a mark the wait got and did
 * not use goes to the next waiter then (a mutex's, a condition's, a
 * semaphore's; not an rwlock's, whose unlock marks every waiter). */
struct asy_slot *asy__slot_take_at(const void *obj, int pass, const void *frame);
#define asy__slot_take(obj, pass) asy__slot_take_at(obj, pass, __builtin_frame_address(0))
/* A handler's jump to `to` that is made at once: the running coroutine's
 * waits below it on its stack leave their slots (shim/jump.c). */
void asy__slot_unwind(const char *to);
int asy__slot_leave(struct asy_slot *s);
int asy__slot_woken(struct asy_slot *s);
void asy__slot_rearm(struct asy_slot *s);
int asy__slot_stale(const struct asy_slot *s);
int asy__slot_wake(const void *obj, int all);
_Atomic int *asy__slot_mark(struct asy_slot *s);
/* Before a park: 0, no wake marked the slot; 1, one did: look again at
 * once; 2, one did, but the last four looks were each a mark's in a row
 * (a lock another thread keeps taking): let the siblings run first. */
int asy__slot_look(struct asy_slot *s);

/* One park of such a wait, as a call of the coroutine's (coro/jump.c): a
 * handler's siglongjmp or setcontext out of it is put off to the park's
 * end and made here, from the call's frame — with `jump` 0 the caller
 * makes it (LEFT).  A handler that returns stands in the call (errno).
 * With a slot, a wake of its object ends the park (none when one came
 * already: a yield, after four such looks in a row).  -1: the coroutine
 * can no longer park; 1: woken (a slot's wait only: look again, at the
 * same pace); else 0, the park lasted its time. */
int asy__pin_park(void *self, int64_t every, int jump, struct asy_slot *s);
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
