/* asyncify — public C interface.
 *
 * The library works unchanged under LD_PRELOAD (nothing to call); this
 * header is for programs that want to ask it things or, later, to run
 * coroutines.  Every function returns >= 0 on success and -1 with errno on
 * failure unless it says otherwise. */
#ifndef ASYNCIFY_H
#define ASYNCIFY_H

#ifdef __cplusplus
extern "C" {
#endif

/* What the engine has done in this process so far.  Counts are totals over
 * all threads since start-up (or since fork, in a child).  Only calls made
 * inside coroutines are counted: a plain thread's call is the program's
 * own and never reaches the engine. */
struct asy_stats {
	unsigned long inline_done; /* calls the non-blocking try answered */
	unsigned long submitted;   /* backend ops (a wait, a file op, an fsync) */
	unsigned long uring;       /*   … of which io_uring ran */
	unsigned long threads;     /*   … of which the worker pool ran */
	unsigned long interrupted; /* waits ended by a deadline or asy_cancel() */
	unsigned long passed;      /* calls made as the program's own call */
	unsigned long fallbacks;   /* the ring could not take an op: the pool ran it */
};

/* asy_stats - fill *st with the engine's counters.  Returns 0. */
int asy_stats(struct asy_stats *st);

/* asy_backend_name - the backend calls go to now: "uring", "threads" or
 * "off" (after a fallback this is the backend actually used). */
const char *asy_backend_name(void);

/* asy_version - the library's version string, e.g. "0.1.0". */
const char *asy_version(void);

/* ---- Coroutines ----------------------------------------------------------
 *
 * A coroutine is a function running on its own stack, on the thread that
 * spawned it; it never moves to another thread.  Each thread has its own
 * scheduler: asy_run() runs the coroutines spawned on the calling thread,
 * one at a time, until all of them have finished.  Inside a coroutine the
 * blocking calls the library hooks (read, pread, write, fsync, …) do not
 * block the thread: the coroutine waits and the others run.
 *
 * Time: asy_now() is CLOCK_MONOTONIC in nanoseconds.  Every deadline is an
 * absolute point on that clock (e.g. asy_now() + 500000000 for half a
 * second from now); -1 means "no deadline, wait forever" and 0 means "do
 * not wait at all".  A deadline that passes gives ETIMEDOUT.
 *
 * Handles: asy_go() returns a small positive int naming the coroutine on
 * the calling thread (handles are per thread, like the scheduler).  A
 * handle stays valid after the coroutine finishes, until asy_join()
 * returns 0 for it; then it is released and may be handed out again by a
 * later asy_go() (released handles are reused oldest first).
 *
 * Cancellation: after asy_cancel(h), the blocking calls of coroutine h
 * (asy_join, asy_sleep, asy_yield, asy_go, and hooked I/O) fail with
 * ECANCELED; a call it is blocked in at that moment ends with ECANCELED
 * at once (in-flight I/O is cancelled first and never writes into freed
 * memory).  The coroutine keeps running until its function returns.
 *
 * Signal handlers: asy_go() and asy_cancel() may be called from a signal
 * handler on the scheduler's thread; if the handler interrupted the
 * scheduler while it was changing its own structures they fail with EBUSY
 * (try again later, e.g. from the next coroutine).  The calls that wait
 * (asy_join, asy_yield, asy_sleep, asy_run) must not be used from a signal
 * handler.  The first asy_* call on a thread sets up its scheduler and
 * should not itself be made from a signal handler; it sets it up with
 * every signal blocked, so a handler's jump out of that call leaves the
 * scheduler made whole or not at all, and other threads' first calls
 * unaffected.  A handler may
 * siglongjmp() or longjmp() into a coroutine waiting in a hooked call or
 * in asy_join/asy_yield/asy_sleep (x86-64): that wait ends as a cancel
 * ends it and the jump is made when the call returns, on the coroutine's
 * own stack (README, Known blind spots).
 *
 * errno belongs to each coroutine: a coroutine never sees a value set by
 * another one, whatever happens between two of its statements. */

#include <stddef.h>
#include <stdint.h>

/* asy_go - spawn fn(arg) as a coroutine on the calling thread.
 *
 * Inside asy_run() (or any coroutine) the new coroutine is queued behind
 * the runnable ones; outside, it waits on this thread until asy_run()
 * (or asy_join/asy_yield/asy_sleep, which run the scheduler while they
 * wait).  Its stack is ASYNCIFY_STACK_SIZE bytes (default 256 KiB) with an
 * inaccessible guard page below: a stack overflow is a SIGSEGV.
 *
 * Returns a handle (> 0), or -1 with errno:
 *   EINVAL     fn is NULL;
 *   ENOMEM     no memory for the stack or the coroutine record;
 *   ECANCELED  the calling coroutine has been cancelled;
 *   EBUSY      called from a signal handler that interrupted the scheduler. */
int asy_go(void (*fn)(void *), void *arg);

/* asy_go_stack - asy_go() with a stack of stack_size bytes (rounded up to
 * whole pages; 0 = the default).  EINVAL when stack_size is below 16 KiB. */
int asy_go_stack(void (*fn)(void *), void *arg, size_t stack_size);

/* asy_join - wait until coroutine h has finished, or the deadline.
 *
 * Returns 0 once h has finished, and releases the handle: joining it again
 * gives EBADF.  Called outside asy_run() it runs the thread's scheduler
 * while it waits.  Only one coroutine may wait for a given h at a time.
 * Returns -1 with errno:
 *   ETIMEDOUT  the deadline passed first (h is still valid: join again);
 *   ECANCELED  the calling coroutine is cancelled;
 *   EBADF      h is not a live handle of this thread (never given out,
 *              already joined);
 *   EDEADLK    h is the calling coroutine itself, or every coroutine of
 *              the thread is waiting for another one and none ever can run;
 *   EBUSY      another coroutine is already joining h, or called from a
 *              signal handler that interrupted the scheduler;
 *   EINVAL     deadline < -1. */
int asy_join(int h, int64_t deadline);

/* asy_yield - let every other runnable coroutine of this thread run once,
 * then continue (the caller goes to the back of the run queue, so N
 * coroutines yielding in a loop take turns round-robin).  Outside asy_run()
 * it runs the coroutines queued on this thread once.  Returns 0, or -1
 * with errno ECANCELED (cancelled coroutine) or EBUSY. */
int asy_yield(void);

/* asy_sleep - wait until the deadline (others run meanwhile).  A deadline
 * in the past, or 0, returns at once.  When the deadline comes the
 * coroutine runs next, ahead of the run queue (timers go first; it waits
 * only for the coroutine running then).  Returns 0 when the deadline is
 * reached, or -1 with errno ECANCELED (the coroutine was cancelled before
 * or during the sleep), EDEADLK (deadline -1 and nothing else can ever
 * run), EINVAL (deadline < -1), EBUSY. */
int asy_sleep(int64_t deadline);

/* asy_cancel - cancel coroutine h of this thread (see Cancellation
 * above).  Cancelling twice is harmless; a coroutine may cancel itself.
 * Returns 0, or -1 with errno:
 *   ESRCH  h has already finished (nothing left to cancel);
 *   EBADF  h is not a live handle of this thread;
 *   EBUSY  called from a signal handler that interrupted the scheduler. */
int asy_cancel(int h);

/* asy_run - run the coroutines spawned on the calling thread until every
 * one of them has finished, including those they spawn.  While it runs,
 * the caller's own context counts as a coroutine (its hooked calls wait
 * like the others').  Returns 0 when nothing is left, or -1 with errno:
 *   EBUSY    the scheduler already runs on this thread (asy_run() called
 *            from a coroutine, re-entrantly, or from a signal handler);
 *   EDEADLK  the coroutines left all wait for each other forever (they
 *            stay; a later asy_cancel() + asy_run() can end them);
 *   ENOMEM   the scheduler could not be set up. */
int asy_run(void);

/* asy_now - the current time, CLOCK_MONOTONIC, in nanoseconds: the clock
 * every deadline refers to.  Cannot fail. */
int64_t asy_now(void);

/* asy_io_deadline - give the hooked blocking calls (read, pread, write,
 * fsync, …) that the running coroutine makes from now on an absolute
 * deadline; one that passes makes the call fail with ETIMEDOUT instead of
 * hanging (data already transferred is reported as a short count, as for
 * a signal).  File calls the disk is still busy with end on time too: the
 * engine leaves them behind on copies of their buffers, their outcome
 * unknown (README, "Calls a deadline leaves behind").  -1 removes it.  Lasts until changed or until the coroutine
 * ends (for the asy_run() caller: until asy_run() returns).  Returns 0, or
 * -1 with errno EPERM (not inside a coroutine or asy_run()) or EINVAL
 * (deadline < -1). */
int asy_io_deadline(int64_t deadline);

#ifdef __cplusplus
}
#endif
#endif
