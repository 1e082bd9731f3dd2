/* The public coroutine API (asyncify.h): spawn, join, yield, sleep,
 * cancel, run, and the per-coroutine I/O deadline.  Coroutine records
 * live in a per-thread table of fixed chunks, indexed by handle; a
 * record never moves, so the engine may keep a pointer to it while the
 * coroutine is parked.  Nothing here calls malloc: asy_go() is safe in a
 * signal handler as long as it does not interrupt the scheduler itself. */
#include <errno.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "engine.h"
#include "spin.h"
#include "coro-int.h"
#include "asyncify.h"

#ifdef ASY_TSAN
#include <sanitizer/tsan_interface.h>
#endif

static _Atomic uint64_t next_id = 1;

/* -1 with errno = -r; the one place the API turns -errno into errno. */
static int fail(int r)
{
	errno = -r;
	return -1;
}

struct asy_coro *asy__coro_lookup(struct sched *s, int h)
{
	if (!s || h <= 0 || (unsigned)h >= s->nslots)
		return NULL;
	struct asy_coro *c = &s->chunks[(unsigned)h >> CHUNK_SHIFT][h & (CHUNK_LEN - 1)];
	return c->state == CO_FREE ? NULL : c;
}

/* A free record: a released handle (oldest first, so that a stale handle
 * is not reused at once), else a new one. */
static struct asy_coro *slot_alloc(struct sched *s)
{
	struct asy_coro *c = s->free_head;
	if (c) {
		if (!(s->free_head = c->next))
			s->free_tail = NULL;
		return c;
	}
	unsigned h = s->nslots, k = h >> CHUNK_SHIFT;
	if (k >= MAX_CHUNKS)
		return NULL;
	if (k == s->nchunks) {
		void *m = mmap(NULL, CHUNK_LEN * sizeof *c, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		s->chunks[s->nchunks++] = m;
	}
	s->nslots++;
	c = &s->chunks[k][h & (CHUNK_LEN - 1)];
	c->handle = (int)h;
	return c;
}

static void slot_release(struct sched *s, struct asy_coro *c)
{
	c->state = CO_FREE;
	c->next = NULL;
	if (s->free_tail)
		s->free_tail->next = c;
	else
		s->free_head = c;
	s->free_tail = c;
}

/* The record's last moments: wake whoever waits for it, then leave for
 * good (the next context unmaps the stack we are standing on). */
static __attribute__((noreturn)) void coro_exit(struct sched *s, struct asy_coro *c)
{
	if (asy__fork_unseen()) /* a child of a fork that ran no handler */
		asy__fork_own();
	if (c == s->forker)
		exit(0); /* the forked child's only thread of control (sched.c) */
	asy__sched_crit_enter(s);
	c->state = CO_DONE;
	s->live--;
	if (c->joiner)
		asy__sched_ready(s, c->joiner, 0);
	if (s->live == 0 && s->run_all)
		asy__sched_ready(s, &s->root, 0);
	asy__sched_suspend(s);
	__builtin_trap(); /* a finished coroutine is never resumed */
}

static void coro_entry(void *arg)
{
	struct asy_coro *c = arg;
	struct sched *s = c->s;
	asy__sched_after_switch(s);
	errno = 0;
	asy__sched_crit_leave(s);
	c->fn(c->arg);
	coro_exit(s, c);
}

static void coro_init(struct sched *s, struct asy_coro *c, void (*fn)(void *), void *arg)
{
	int h = c->handle;
	struct asy_stack st = c->stk;
	memset(c, 0, sizeof *c);
	c->handle = h;
	c->stk = st;
	c->s = s;
	c->fn = fn;
	c->arg = arg;
	c->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
	c->heap_idx = -1;
	c->io_deadline = -1;
	c->state = CO_PARKED; /* asy__sched_ready() queues it */
#ifdef ASY_ASAN
	c->asan_lo = st.lo;
	c->asan_size = st.size;
#endif
#ifdef ASY_TSAN
	if (!c->stk.tsan_fiber)
		c->stk.tsan_fiber = __tsan_create_fiber(0);
	c->tsan_fiber = c->stk.tsan_fiber;
#endif
	asy__ctx_make(&c->ctx, st.lo, st.size, coro_entry, c);
}

static int go(struct sched *s, void (*fn)(void *), void *arg, size_t stack_size)
{
	if (s->cur && s->cur->cancelled)
		return -ECANCELED;
	if (asy__sched_heap_reserve(s, s->live + 2) < 0)
		return -ENOMEM;
	struct asy_coro *c = slot_alloc(s);
	if (!c)
		return -ENOMEM;
	c->stk.map = NULL;
	int r = asy__stack_get(s, &c->stk, stack_size);
	if (r < 0) {
		slot_release(s, c);
		return r;
	}
	coro_init(s, c, fn, arg);
	s->live++;
	asy__sched_ready(s, c, 0);
	return c->handle;
}

ASY_EXPORT int asy_go_stack(void (*fn)(void *), void *arg, size_t stack_size)
{
	if (!fn)
		return fail(-EINVAL);
	if (asy__fork_unseen()) /* before a new coroutine: only older ones are copies */
		asy__fork_own();
	struct sched *s = asy__sched(1);
	if (!s)
		return fail(-ENOMEM);
	if (s->crit)
		return fail(-EBUSY);
	asy__sched_crit_enter(s);
	int r = go(s, fn, arg, stack_size);
	asy__sched_crit_leave(s);
	return r < 0 ? fail(r) : r;
}

ASY_EXPORT int asy_go(void (*fn)(void *), void *arg)
{
	return asy_go_stack(fn, arg, 0);
}

/* Run `op` as the running coroutine, first making a plain thread the
 * root for the duration (so asy_join() & co. also work outside asy_run(),
 * running the other coroutines while they wait).  -errno or op's result. */
static int with_sched(int (*op)(struct sched *, void *), void *arg)
{
	if (asy__fork_unseen())
		asy__fork_own();
	struct sched *s = asy__sched(1);
	if (!s)
		return -ENOMEM;
	if (s->crit)
		return -EBUSY;
	asy__sched_crit_enter(s);
	int entered = !s->running, r = 0;
	/* a coroutine waiting here is inside a call, as in a hooked one: a
	 * handler's jump into it is made when the call returns (jump.c) */
	struct asy_coro *self = entered ? NULL : s->cur;
	if (entered) {
		s->root_top = __builtin_frame_address(0);
		r = asy__sched_enter(s);
	}
	if (self) {
		self->in_api = 1;
		asy__coro_in_call(self, 1);
	}
	if (r == 0) {
		r = op(s, arg);
		if (entered)
			asy__sched_leave(s);
	}
	if (self) {
		asy__coro_in_call(self, -1);
		self->in_api = 0;
	}
	asy__sched_crit_leave(s);
	if (self && asy__jump_pending)
		asy__jump_due();
	return r;
}

struct join_arg {
	int h;
	int64_t deadline;
};

static int join_op(struct sched *s, void *arg)
{
	struct join_arg *a = arg;
	struct asy_coro *c = asy__coro_lookup(s, a->h), *self = s->cur;
	if (!c)
		return -EBADF;
	if (c == self)
		return -EDEADLK;
	if (c->joiner && c->joiner != self)
		return -EBUSY;
	if (c->state != CO_DONE) {
		c->joiner = self;
		int r = asy__sched_park(s, a->deadline, 1);
		c->joiner = NULL;
		if (c->state != CO_DONE)
			return r < 0 ? r : -EINTR;
	}
	slot_release(s, c);
	return 0;
}

ASY_EXPORT int asy_join(int h, int64_t deadline)
{
	if (deadline < -1)
		return fail(-EINVAL);
	struct join_arg a = { h, deadline };
	int r = with_sched(join_op, &a);
	return r < 0 ? fail(r) : 0;
}

static int yield_op(struct sched *s, void *arg)
{
	struct asy_coro *self = s->cur;
	if (self->cancelled)
		return -ECANCELED;
	self->state = CO_PARKED;
	asy__sched_ready(s, self, 0);
	return asy__sched_suspend(s);
}

ASY_EXPORT int asy_yield(void)
{
	int r = with_sched(yield_op, NULL);
	return r < 0 ? fail(r) : 0;
}

static int sleep_op(struct sched *s, void *arg)
{
	int64_t deadline = *(int64_t *)arg;
	int r = asy__sched_park(s, deadline, 1);
	return r == -ETIMEDOUT ? 0 : r;
}

ASY_EXPORT int asy_sleep(int64_t deadline)
{
	if (deadline < -1)
		return fail(-EINVAL);
	int r = with_sched(sleep_op, &deadline);
	return r < 0 ? fail(r) : 0;
}

ASY_EXPORT int asy_cancel(int h)
{
	struct sched *s = asy__sched(0);
	struct asy_coro *c = asy__coro_lookup(s, h);
	if (!c)
		return fail(-EBADF);
	if (s->crit)
		return fail(-EBUSY);
	if (c->state == CO_DONE)
		return fail(-ESRCH);
	asy__sched_crit_enter(s);
	c->cancelled = 1;
	if (c->state == CO_PARKED && c->cancellable)
		asy__sched_ready(s, c, -ECANCELED);
	asy__sched_crit_leave(s);
	return 0;
}

static int run_op(struct sched *s, void *arg)
{
	if (s->cur != &s->root || s->run_all)
		return -EBUSY;
	s->run_all = 1;
	int r = 0;
	while (s->live > 0 && r != -EDEADLK)
		r = asy__sched_park(s, -1, 0);
	s->run_all = 0;
	return s->live > 0 ? -EDEADLK : 0;
}

ASY_EXPORT int asy_run(void)
{
	struct sched *s = asy__sched(1);
	if (s && s->running)
		return fail(-EBUSY); /* from a coroutine, or re-entered */
	int r = with_sched(run_op, NULL);
	return r < 0 ? fail(r) : 0;
}

ASY_EXPORT int asy_io_deadline(int64_t deadline)
{
	struct sched *s = asy__sched(0);
	if (deadline < -1)
		return fail(-EINVAL);
	if (!s || !s->cur)
		return fail(-EPERM);
	s->cur->io_deadline = deadline;
	return 0;
}
