/* Coroutines and the per-thread scheduler: the interface between them and
 * the engine.  Implemented in runtime/coro*.c and runtime/sched.c.
 *
 * A thread that never calls asy_run() has no scheduler: asy__coro_self()
 * is NULL and the engine blocks the thread itself.  Inside asy_run() every
 * coroutine (and the asy_run() caller's own context) parks instead, and
 * the scheduler calls asy__engine_idle() when nothing can run. */
#ifndef ASY_CORO_H
#define ASY_CORO_H

#include <stdint.h>

struct asy_coro;

/* The running coroutine, or NULL outside asy_run() (plain thread). */
struct asy_coro *asy__coro_self(void);

/* A small number naming the running coroutine (1, 2, … per process, in
 * creation order), 0 outside coroutines.  For traces. */
uint64_t asy__coro_id(void);

/* Suspend the running coroutine until asy__coro_unpark(), the absolute
 * deadline (asy_now() clock, ns; -1 none) or a cancel.  Returns 0 when
 * unparked, -ETIMEDOUT, or -ECANCELED.  errno is saved and restored
 * across the switch.  `cancellable` 0: only asy__coro_unpark() ends it
 * (used while the kernel may still write into the coroutine's memory). */
int asy__coro_park(int64_t deadline, int cancellable);

/* Make c runnable again; same thread only. */
void asy__coro_unpark(struct asy_coro *c);

/* The deadline for hooked calls set in the running coroutine with
 * asy_io_deadline(), -1 when none (or outside coroutines). */
int64_t asy__coro_io_deadline(void);

/* Provided by the engine, called by the scheduler: reap this thread's
 * completions and unpark their coroutines.  Blocks until at least one
 * arrives or `deadline` (ns, asy_now() clock; -1 forever, 0 don't block)
 * when `deadline` != 0.  Returns the number of coroutines unparked. */
int asy__engine_idle(int64_t deadline);

#endif
