/* Coroutines and the per-thread scheduler: the interface between them and
 * the engine.  Implemented in runtime/coro*.c and runtime/coro/sched.c.
 *
 * A thread that never calls asy_run() has no scheduler: asy__coro_self()
 * is NULL and the engine blocks the thread itself.  Inside asy_run() every
 * coroutine (and the asy_run() caller's own context) parks instead, and
 * the scheduler calls asy__engine_idle() when nothing can run. */
#ifndef ASY_CORO_H
#define ASY_CORO_H

#include <stdint.h>

struct asy_coro;

/* 1 while a scheduler runs on this thread (inside asy_run() and the
 * calls that run it): the hooks' one-load test for "maybe a coroutine". */
extern __thread int asy__sched_running __attribute__((tls_model("initial-exec")));

/* The running coroutine, or NULL outside asy_run() (plain thread). */
struct asy_coro *asy__coro_self(void);
/* Does the running coroutine's own stack hold sp?  (0 outside one.) */
int asy__coro_self_holds(const void *sp);

/* A small number naming the running coroutine (1, 2, … per process, in
 * creation order), 0 outside coroutines.  For traces.  (The asy_run()
 * caller's own context, a coroutine for asy__coro_self(), is 0 here.) */
uint64_t asy__coro_id(void);

/* Suspend the running coroutine until asy__coro_unpark(), the absolute
 * deadline (asy_now() clock, ns; -1 none) or a cancel.  Returns 0 when
 * unparked, -ETIMEDOUT, or -ECANCELED.  errno is saved and restored
 * across the switch.  `cancellable` 0: only asy__coro_unpark() ends it
 * (used while the kernel may still write into the coroutine's memory). */
/* (Also -EINVAL when there is no running coroutine: outside asy_run(), or
 * in a signal handler that interrupted the scheduler while it was changing
 * its structures — asy__coro_self() is NULL in both cases.  A cancelled
 * coroutine's cancellable park returns -ECANCELED at once, without
 * switching; deadline 0 returns -ETIMEDOUT at once.) */
int asy__coro_park(int64_t deadline, int cancellable);
/* Let the runnable siblings run once, then go on: a yield a cancel does
 * not refuse (asy_yield() says ECANCELED to a cancelled coroutine), for a
 * wait that must look again whatever happens.  0, or -EINVAL as
 * asy__coro_park(). */
int asy__coro_yield(void);
/* How a cancellable park of the running coroutine would end at once:
 * -ECANCELED (cancelled), -ETIMEDOUT (its I/O deadline has come), else 0
 * (also outside coroutines). */
int asy__coro_ended(void);

/* A signal handler's longjmp into a coroutine inside a hooked call
 * (jump.c, shim/jump.c).  The engine counts a coroutine's hooked calls
 * (asy__coro_in_call).  asy__coro_calling_at(): the coroutine whose
 * stack holds sp, if it is inside one.  asy__coro_jump_defer(), from the
 * handler: that coroutine's wait ends as by a cancel and it owns the jump
 * (a longjmp's, or a setcontext's) from then on.  asy__jump_pending says that some coroutine of the
 * thread has one; asy__coro_jump_take() gives the running coroutine's
 * once its call is back in the hook.  asy__coro_stack_top(): the top of
 * the stack sp is on during a scheduler run, or NULL. */
extern __thread int asy__jump_pending __attribute__((tls_model("initial-exec")));
void asy__coro_in_call(struct asy_coro *c, int delta);
/* The coroutine whose hooked call a signal handler starting now stands in
 * (jump.c), or NULL (*several: while the scheduler waits for more than
 * one such call); the errno the handler finds there, and the one it
 * left (the call's from then on).  asy__coro_call_errno(): errno at the
 * end of c's call when it succeeds — a handler's, or `saved`. */
struct asy_coro *asy__coro_handler_for(int *several);
int asy__coro_handler_errno(const struct asy_coro *c);
void asy__coro_handler_left(struct asy_coro *c, int err);
int asy__coro_call_errno(struct asy_coro *c, int saved);
/* Whether a handler's jump waits for c's call to end (jump.c). */
int asy__coro_jump_waits(const struct asy_coro *c);
struct asy_coro *asy__coro_calling_at(const void *sp);
struct asy_jump {
	void *env;      /* the jmp_buf, or the ucontext of a setcontext (ctx) */
	int val, ctx;
	int err;        /* errno when the handler jumped: the program's then */
	int own;        /* ... as the handlers found it: the call's own errno */
	uint64_t mask;  /* the handler's signal mask */
};
void asy__coro_jump_defer(struct asy_coro *c, const struct asy_jump *j);
int asy__coro_jump_take(struct asy_jump *j);
const char *asy__coro_stack_top(const void *sp);
/* shim/jump.c: the running coroutine's put-off jump, at its hook's end;
 * a handler's setcontext to stack pointer sp put off as a jump is
 * (returns only when it is not). */
void asy__jump_due(void);
void asy__context_defer(const void *uc, const char *sp);

/* A stream call's rest and signals (jump.c): the running coroutine's call
 * moved part and is about to wait for the rest — 1 when a handler ran on
 * the thread since it first said so (the call then returns what moved).
 * asy__coro_handler_ran(): a program's handler runs on this thread
 * (async-signal-safe: a count); asy__coro_handlers_new(): one ran since
 * the engine last asked.  asy__coro_signalled(all): a handler ran, so the
 * waits of the calls that moved part before it (all: every one that moved
 * part, for a handler seen only as the engine's wait's EINTR) end with
 * EINTR. */
int asy__coro_moved(void);
void asy__coro_handler_ran(void);
int asy__coro_handlers_new(void);
void asy__coro_signalled(int all);
/* Must the scheduler look before it sleeps: a coroutine was made runnable
 * (a handler's asy_go, asy_cancel or put-off jump) or a handler ran since
 * the engine last asked?  Asked with the thread's signals blocked, just
 * before the sleep (wait.c, the backends' waits). */
int asy__coro_wake_pending(void);
/* How many of the program's handlers have run on the thread while its
 * scheduler ran (the trampoline counts them): a wait for "a handler ran"
 * (pause, sigsuspend: shim/sync.c) compares two of them. */
unsigned asy__coro_handlers_count(void);

/* Make c runnable again; same thread only. */
void asy__coro_unpark(struct asy_coro *c);

/* 1 when the running coroutine is the only one that could run before a
 * call it makes now ends: nothing else is runnable, parked on the engine
 * or due at a deadline, and the coroutine itself has no I/O deadline and
 * is not cancelled.  Blocking the thread in that call then keeps nothing
 * from running.  0 outside coroutines. */
int asy__coro_alone(void);
/* Is this thread's scheduler inside its own bookkeeping (a handler that
 * interrupted it may not make a coroutine runnable)? */
int asy__coro_busy(void);
/* How many times the thread's scheduler has switched coroutines: a
 * change tells the engine that the running coroutine's run began anew
 * (engine.c, fair_share). */
unsigned asy__coro_switches(void);
/* In a child forked inside a scheduler run (engine.c's atfork handler):
 * only the forking coroutine is the program's (sched.c). */
void asy__coro_fork_child(void);

/* The deadline for hooked calls set in the running coroutine with
 * asy_io_deadline(), -1 when none (or outside coroutines). */
int64_t asy__coro_io_deadline(void);

/* The stack a coroutine other than the asy_run() caller's own runs on,
 * when `sp` (an address on the caller's stack) lies on it: its usable
 * bytes [*lo, *lo + *size) and the guard below them (*guard bytes).
 * Returns 1, or 0 on the thread's own stack (outside coroutines, in the
 * asy_run() caller's context, in a signal handler between two). */
int asy__coro_stack(const void *sp, void **lo, size_t *size, size_t *guard);

/* Provided by the engine, called by the scheduler: reap this thread's
 * completions and unpark their coroutines.  Blocks until at least one
 * arrives or `deadline` (ns, asy_now() clock; -1 forever, 0 don't block)
 * when `deadline` != 0.  Returns the number of coroutines unparked. */
/* How the scheduler calls it (runtime/coro/sched.c):
 *  - on the stack of whichever coroutine suspended last, so
 *    asy__coro_self() is non-NULL inside: it must block the thread
 *    itself, never park;
 *  - with a deadline > 0 when the earliest timer is due then: it must
 *    sleep until then even with no I/O in flight (timers rely on it);
 *  - with -1 only while some coroutine is parked in asy__coro_park();
 *    when none is and no timer is set the scheduler reports EDEADLK
 *    instead of calling it;
 *  - with 0 every 16 switches while a coroutine is parked in
 *    asy__coro_park(), so that busy coroutines do not starve I/O;
 *  - with the scheduler's critical section open: a signal handler that
 *    runs meanwhile may call asy_go()/asy_cancel().
 * runtime/coro/sched-idle.c holds a weak stand-in (it only sleeps). */
int asy__engine_idle(int64_t deadline);

/* Provided by the engine, called when the scheduler starts running on a
 * thread (never from a signal handler): set up what the thread's first
 * call that waits would otherwise set up, so that it costs what a later
 * one costs. */
void asy__engine_prepare(void);

#endif
