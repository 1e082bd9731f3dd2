/* A signal handler's longjmp into a coroutine that is inside a hooked
 * call — the alarm()-and-siglongjmp timeout of old code, called from a
 * coroutine.
 *
 * Without the shim the handler runs on the caller's stack, the kernel's
 * call has returned EINTR, and the jump unwinds frames of the program
 * only.  In a coroutine the call is an op the engine waits for: the
 * handler runs on whatever stack the thread is on (the scheduler's wait,
 * another coroutine), and a jump from there would leave the op in flight
 * in freed frames and the scheduler half-way through its loop.  So the
 * jump is put off (shim/jump.c finds the handler's signal frame and
 * returns from the handler instead): the coroutine's wait ends as a
 * cancel ends it — nothing lost; a result that won the race comes back
 * to the hook and is dropped by the jump, as a kernel call's result is
 * when its handler jumps — and when its call is back in the hook, on its
 * own stack, the jump is made
 * there, with the handler's signal mask, as the program asked.  A wait
 * in the API (asy_sleep, asy_join, asy_yield: coro.c's with_sched) counts
 * as a call too, and its return makes the jump. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine.h"
#include "coro-int.h"
#include "coro.h"

ASY_TLS int asy__jump_pending;

/* The shim's (shim/jump.c) makes the jump; without it — the scheduler's
 * own tests, linked with a fake engine — no jump is ever put off. */
__attribute__((weak)) void asy__jump_due(void)
{
}

/* The live coroutine whose stack holds sp, or NULL (the root's stack):
 * the running one first, the one a jump within a coroutine names. */
static int holds(const struct asy_coro *c, const void *sp)
{
	return c->state != CO_FREE && c->state != CO_DONE && asy__coro_holds_sp(c, sp);
}

int asy__coro_self_holds(const void *sp)
{
	struct asy_coro *c = asy__coro_self();
	return c && holds(c, sp);
}

static struct asy_coro *owner_of(struct sched *s, const void *sp)
{
	if (s->cur && holds(s->cur, sp))
		return s->cur;
	for (unsigned h = 1; h < s->nslots; h++) {
		struct asy_coro *c = &s->chunks[h >> CHUNK_SHIFT][h & (CHUNK_LEN - 1)];
		if (holds(c, sp))
			return c;
	}
	return NULL;
}

void asy__coro_in_call(struct asy_coro *c, int delta)
{
	struct sched *s = c->s;
	if (!c->in_call) {
		c->call_errno = errno; /* a put-off jump's, if its handler left errno */
		c->errno_given = 0;
		c->hooked = !c->in_api;
		if (c->hooked) { /* in this order: see asy__coro_handler_for */
			s->hooked++;
			atomic_signal_fence(memory_order_seq_cst);
			s->hooked_xor ^= (uintptr_t)c;
		}
	}
	c->in_call = (unsigned short)(c->in_call + delta);
	if (!c->in_call) {
		c->moved = c->sig_hit = 0;
		if (c->hooked) {
			s->hooked_xor ^= (uintptr_t)c;
			atomic_signal_fence(memory_order_seq_cst);
			s->hooked--;
		}
	}
}

/* A handler that runs while a coroutine is inside a hooked call — on the
 * coroutine's own stack while the engine works for it, or on the
 * scheduler's while it waits — stands where glibc's handler would: in
 * that call's system call.  There it finds the errno from before the
 * call, and an errno it leaves is the call's when the call then succeeds
 * (a SIGCHLD handler's waitpid loop ends at ECHILD).  Which call: the
 * running coroutine's, else, while the scheduler's loop runs (on the
 * stack of the coroutine that parked last), the one coroutine inside a
 * hooked call; with several there is no one (each is a thread of its own
 * to the program, and the kernel would have picked one: *several says
 * so).  Waits of the API are no program's call.  NULL: none, or the
 * structures are being changed. */
struct asy_coro *asy__coro_handler_for(int *several)
{
	struct sched *s = asy__sched(0);
	*several = 0;
	if (!s || !s->running || s->crit || !s->cur)
		return NULL;
	struct asy_coro *c = s->cur;
	if (c->state == CO_RUNNING) /* not the scheduler's loop on its stack */
		return c->in_call && c->hooked ? c : NULL;
	/* With one inside a hooked call, hooked_xor is that one.  Half-way
	 * through a change the count is 2 (one enters or leaves beside
	 * another), or it is 1 and hooked_xor 0 (the one enters or leaves). */
	if (s->hooked != 1) {
		*several = s->hooked > 1;
		return NULL;
	}
	c = (struct asy_coro *)s->hooked_xor;
	return c && c->in_call && c->hooked ? c : NULL;
}

int asy__coro_jump_waits(const struct asy_coro *c)
{
	return c && c->jump;
}

int asy__coro_handler_errno(const struct asy_coro *c)
{
	return c->call_errno;
}

void asy__coro_handler_left(struct asy_coro *c, int err)
{
	if (err != c->call_errno)
		c->call_errno = err, c->errno_given = 1;
}

int asy__coro_call_errno(struct asy_coro *c, int saved)
{
	if (c->in_call || !c->errno_given)
		return saved;
	c->errno_given = 0;
	return c->call_errno;
}

/* A blocking stream call that has moved part of its bytes and waits for
 * the rest returns that count when a handler runs in its thread, with or
 * without SA_RESTART, where a coroutine's call otherwise goes on (README:
 * signals inside coroutines).  Every handler the program installed counts
 * itself (asy__coro_handler_ran, from shim/signal.c's trampoline), on
 * whatever stack it runs: a call whose coroutine is parked while a
 * sibling runs is hit too, not only one the thread's wait was in (a send
 * to a socket nobody reads, cut by alarm(), waited for ever when the
 * handler landed in the sibling).  A handler the trampoline does not run
 * (installed by a raw system call) is seen when the thread's wait ends
 * with EINTR.  The engine then ends the waits of such calls with EINTR
 * (asy__coro_signalled), and their loops return what moved. */
int asy__coro_moved(void)
{
	struct sched *s = asy__sched(0);
	struct asy_coro *c = s && s->running ? s->cur : NULL;
	if (!c)
		return 0;
	if (!c->moved) {
		c->moved = 1;
		c->moved_at = s->handlers;
	}
	return c->sig_hit || c->moved_at != s->handlers;
}

void asy__coro_handler_ran(void)
{
	struct sched *s = asy__sched(0);
	if (s && s->running)
		s->handlers++;
}

int asy__coro_handlers_new(void)
{
	struct sched *s = asy__sched(0);
	if (!s || !s->running || s->handlers == s->handlers_seen)
		return 0;
	s->handlers_seen = s->handlers;
	return 1;
}

unsigned asy__coro_handlers_count(void)
{
	struct sched *s = asy__sched(0);
	return s ? s->handlers : 0;
}

int asy__coro_wake_pending(void)
{
	struct sched *s = asy__sched(0);
	return s && s->running && (s->rq_head || s->handlers != s->handlers_seen);
}

void asy__coro_signalled(int all)
{
	struct sched *s = asy__sched(0);
	if (!s || !s->running)
		return;
	asy__sched_crit_enter(s);
	for (unsigned h = 0; h < s->nslots; h++) {
		struct asy_coro *c = h ? &s->chunks[h >> CHUNK_SHIFT][h & (CHUNK_LEN - 1)] : &s->root;
		if (!c->moved || !c->in_call || (!all && c->moved_at == s->handlers))
			continue;
		c->sig_hit = 1;
		if (c->state == CO_PARKED && c->cancellable)
			asy__sched_ready(s, c, -EINTR);
	}
	asy__sched_crit_leave(s);
}

const char *asy__coro_stack_top(const void *sp)
{
	struct sched *s = asy__sched(0);
	if (!s || !s->running)
		return NULL;
	struct asy_coro *c = owner_of(s, sp);
	if (c)
		return (const char *)c->stk.lo + c->stk.size;
	return s->root_top && (const char *)sp < s->root_top ? s->root_top : NULL;
}

struct asy_coro *asy__coro_calling_at(const void *sp)
{
	struct sched *s = asy__sched(0);
	if (!s || !s->running)
		return NULL;
	struct asy_coro *c = owner_of(s, sp);
	return c && c->in_call ? c : NULL;
}

void asy__coro_jump_defer(struct asy_coro *c, const struct asy_jump *j)
{
	struct sched *s = c->s;
	if (!c->jump)
		asy__jump_pending++;
	c->jump = 1;
	c->jump_env = j->env;
	c->jump_val = j->val;
	c->jump_ctx = (unsigned char)j->ctx;
	c->jump_errno = j->err;
	c->jump_own = (unsigned char)j->own;
	c->jump_mask = j->mask;
	atomic_signal_fence(memory_order_seq_cst);
	/* As asy_cancel() from a handler: only while nothing is half-changed;
	 * else the scheduler's loop does it (asy__sched_jumps). */
	if (!s->crit && c->state == CO_PARKED && c->cancellable)
		asy__sched_ready(s, c, -ECANCELED);
	else
		s->jump_to = c;
}

void asy__sched_jumps(struct sched *s)
{
	/* taken atomically: a handler may set it again meanwhile */
	struct asy_coro *c = __atomic_exchange_n(&s->jump_to, NULL, __ATOMIC_SEQ_CST);
	/* not parked, or not cancellably: its next cancellable park ends at
	 * once (asy__sched_park) */
	if (c && c->jump && c->state == CO_PARKED && c->cancellable)
		asy__sched_ready(s, c, -ECANCELED);
}

int asy__coro_jump_take(struct asy_jump *j)
{
	struct sched *s = asy__sched(0);
	struct asy_coro *c = s && s->running ? s->cur : NULL;
	if (!c || !c->jump || c->in_call || s->crit)
		return 0;
	c->jump = 0;
	asy__jump_pending--;
	*j = (struct asy_jump){ .env = c->jump_env, .val = c->jump_val, .ctx = c->jump_ctx,
				.err = c->jump_own ? c->call_errno : c->jump_errno,
				.mask = c->jump_mask };
	return 1;
}
