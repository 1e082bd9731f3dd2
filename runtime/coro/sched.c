/* The per-thread scheduler: a FIFO run queue, a min-heap of deadlines,
 * and the switch between coroutines.  There is no scheduler context of
 * its own: whoever suspends picks the next coroutine and, when nothing
 * can run, waits in asy__engine_idle() on its own stack (libdill does the
 * same), so a pair of switches is one asy__ctx_switch() each way.
 *
 * The structures are only ever touched by their own thread.  `crit` marks
 * the stretches where they are inconsistent: a signal handler that calls
 * the API there gets EBUSY instead of corrupting them. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "engine.h"
#include "spin.h"
#include "coro-int.h"
#include "asyncify.h"

#ifdef ASY_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef ASY_TSAN
#include <sanitizer/tsan_interface.h>
#endif

static ASY_TLS struct sched *tls_sched;
ASY_TLS int asy__sched_running;
static pthread_key_t sched_key;
static pthread_once_t sched_once = PTHREAD_ONCE_INIT;

void asy__sched_crit_enter(struct sched *s)
{
	s->crit++;
	atomic_signal_fence(memory_order_seq_cst);
}

void asy__sched_crit_leave(struct sched *s)
{
	atomic_signal_fence(memory_order_seq_cst);
	s->crit--;
}

/* ---- thread lifetime ---------------------------------------------------- */

static void sched_free(void *p)
{
	struct sched *s = p;
	if (!s || s != tls_sched)
		return;
	for (unsigned i = 0; i < s->nchunks; i++) {
		struct asy_coro *chunk = s->chunks[i];
		for (unsigned j = 0; j < CHUNK_LEN; j++)
			asy__stack_put(s, &chunk[j].stk);
		munmap(chunk, CHUNK_LEN * sizeof *chunk);
	}
	asy__stack_drain(s);
	munmap(s->chunks, MAX_CHUNKS * sizeof *s->chunks);
	if (s->heap)
		munmap(s->heap, s->heap_cap * sizeof *s->heap);
	tls_sched = NULL;
	munmap(s, sizeof *s);
}

static int key_made; /* 0: every key was taken (a scheduler then is refused) */

static void key_init(void)
{
	key_made = pthread_key_create(&sched_key, sched_free) == 0;
}

static struct sched *sched_new(void)
{
	/* its key first: without one a scheduler could never be freed, and
	 * key 0 — the program's — would be set to it */
	pthread_once(&sched_once, key_init);
	if (!key_made)
		return NULL;
	struct sched *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	s->chunks = mmap(NULL, MAX_CHUNKS * sizeof *s->chunks, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->chunks == MAP_FAILED) {
		munmap(s, sizeof *s);
		return NULL;
	}
	s->root.s = s;
	s->root.heap_idx = -1;
	s->root.io_deadline = -1;
	s->root.state = CO_RUNNING;
	s->nslots = 1; /* handle 0 is never given out */
	pthread_setspecific(sched_key, s);
	tls_sched = s;
	return s;
}

/* This thread's scheduler; created (mmap, no malloc) when `create`.
 * NULL when it does not exist or cannot be created.  Created with every
 * signal blocked, once per thread: a handler's jump out of the middle
 * would leave the key's pthread_once under way for good (every later
 * first call of every thread waited on it) or a scheduler half made. */
struct sched *asy__sched(int create)
{
	struct sched *s = tls_sched;
	if (s || !create)
		return s;
	uint64_t old;
	asy__mask_all(&old);
	s = sched_new();
	asy__unmask(&old);
	return s;
}

/* ---- run queue and timers ----------------------------------------------- */

static void rq_push(struct sched *s, struct asy_coro *c)
{
	c->next = NULL;
	if (s->rq_tail)
		s->rq_tail->next = c;
	else
		s->rq_head = c;
	s->rq_tail = c;
}

static struct asy_coro *rq_pop(struct sched *s)
{
	struct asy_coro *c = s->rq_head;
	if (c && !(s->rq_head = c->next))
		s->rq_tail = NULL;
	return c;
}

static void heap_set(struct sched *s, unsigned i, struct asy_coro *c)
{
	s->heap[i] = c;
	c->heap_idx = (int)i;
}

static void heap_up(struct sched *s, unsigned i)
{
	struct asy_coro *c = s->heap[i];
	while (i > 0 && s->heap[(i - 1) / 2]->wake_at > c->wake_at) {
		heap_set(s, i, s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(s, i, c);
}

static void heap_down(struct sched *s, unsigned i)
{
	struct asy_coro *c = s->heap[i];
	for (;;) {
		unsigned k = 2 * i + 1;
		if (k >= s->heap_len)
			break;
		if (k + 1 < s->heap_len && s->heap[k + 1]->wake_at < s->heap[k]->wake_at)
			k++;
		if (s->heap[k]->wake_at >= c->wake_at)
			break;
		heap_set(s, i, s->heap[k]);
		i = k;
	}
	heap_set(s, i, c);
}

static void heap_remove(struct sched *s, struct asy_coro *c)
{
	unsigned i = (unsigned)c->heap_idx;
	c->heap_idx = -1;
	struct asy_coro *last = s->heap[--s->heap_len];
	if (last == c)
		return;
	heap_set(s, i, last);
	heap_up(s, i);
	heap_down(s, (unsigned)last->heap_idx);
}

/* Room in the heap for `n` timers: every coroutine (and the root) is in
 * it at most once, so asy_go() reserves and parking never allocates. */
int asy__sched_heap_reserve(struct sched *s, unsigned n)
{
	if (n <= s->heap_cap)
		return 0;
	unsigned cap = s->heap_cap ? s->heap_cap : 256;
	while (cap < n)
		cap *= 2;
	struct asy_coro **h = mmap(NULL, cap * sizeof *h, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return -ENOMEM;
	if (s->heap) {
		memcpy(h, s->heap, s->heap_len * sizeof *h);
		munmap(s->heap, s->heap_cap * sizeof *h);
	}
	s->heap = h;
	s->heap_cap = cap;
	return 0;
}

/* Make c runnable; its park returns `wake`.  Idempotent for a coroutine
 * already queued or running. */
void asy__sched_ready(struct sched *s, struct asy_coro *c, int wake)
{
	if (c->state != CO_PARKED && c->state != CO_READY)
		return;
	if (c->heap_idx >= 0)
		heap_remove(s, c);
	if (c->state == CO_READY)
		return;
	c->wake = wake;
	c->state = CO_READY;
	rq_push(s, c);
}

/* Timers run first: the coroutines whose time came go to the head of the
 * run queue, earliest first, ahead of those readied otherwise.  A sleeper
 * then waits for the slice that is running, not for a whole round of
 * busy coroutines (32 SQLite connections opening at once take ≈ 2.3 ms
 * of CPU each: 74 ms for a 1 ms ticker behind them, one slice in front).
 * A timer is due at most once per park, so it cannot starve the others. */
static void fire_timers(struct sched *s)
{
	int64_t now = asy_now();
	struct asy_coro *head = s->rq_head, *tail = s->rq_tail;
	s->rq_head = s->rq_tail = NULL;
	while (s->heap_len && s->heap[0]->wake_at <= now)
		asy__sched_ready(s, s->heap[0], -ETIMEDOUT);
	if (!head)
		return;
	if (s->rq_tail) /* the queue as it was, after the timers */
		s->rq_tail->next = head;
	else
		s->rq_head = head;
	s->rq_tail = tail;
}

/* ---- switching -------------------------------------------------------- */

static void san_start(struct sched *s, struct asy_coro *from, struct asy_coro *to)
{
#ifdef ASY_ASAN
	/* A finished coroutine passes NULL: its fake stack is freed. */
	__sanitizer_start_switch_fiber(from->state == CO_DONE ? NULL : &from->asan_fake,
				       to->asan_lo, to->asan_size);
#endif
#ifdef ASY_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
}

/* Runs first thing in every context that has just been switched to. */
void asy__sched_after_switch(struct sched *s)
{
#ifdef ASY_ASAN
	const void *lo;
	size_t size;
	__sanitizer_finish_switch_fiber(s->cur->asan_fake, &lo, &size);
	if (s->prev == &s->root) { /* learn the thread stack's bounds */
		s->root.asan_lo = lo;
		s->root.asan_size = size;
	}
#endif
	struct asy_coro *d = s->dead;
	if (d) {
		s->dead = NULL;
		asy__stack_put(s, &d->stk); /* with its TSan fiber */
	}
}

static void switch_to(struct sched *s, struct asy_coro *from, struct asy_coro *to)
{
	from->err = errno;
	if (from->state == CO_DONE)
		s->dead = from;
	s->prev = from;
	s->cur = to;
	s->switches++;
	to->state = CO_RUNNING;
	san_start(s, from, to);
	asy__ctx_switch(&from->ctx, &to->ctx);
	asy__sched_after_switch(s);
	errno = from->err;
}

/* Nothing can run and nothing can ever make anything runnable: every
 * coroutine waits for another.  Wake the root with EDEADLK, so that
 * asy_run() (or the root's asy_join()/asy_sleep()) reports it. */
static void deadlock(struct sched *s)
{
	if (s->root.state == CO_PARKED)
		asy__sched_ready(s, &s->root, -EDEADLK);
}

static void idle(struct sched *s)
{
	int64_t deadline = s->heap_len ? s->heap[0]->wake_at : -1;
	if (deadline < 0 && s->engine_parked == 0) {
		deadlock(s);
		return;
	}
	/* The engine may block: a signal handler may spawn meanwhile. */
	int crit = s->crit;
	s->crit = 0;
	s->idling = 1;
	asy__engine_idle(deadline);
	/* A handler forked with no fork handler run (`_Fork`) as the thread
	 * waited: the child is seen here, the handler's coroutine its own. */
	if (asy__fork_unseen())
		asy__fork_own();
	s->idling = 0;
	s->crit = crit;
}

/* Reap what the engine has finished, without waiting. */
static void look_at_engine(struct sched *s)
{
	int crit = s->crit;
	s->crit = 0;
	s->idling = 1; /* as in idle(): a handler may fork meanwhile */
	asy__engine_idle(0);
	if (asy__fork_unseen())
		asy__fork_own();
	s->idling = 0;
	s->crit = crit;
}

/* Give the CPU away: the caller has already queued itself, parked or
 * finished.  Returns the caller's wake value when it runs again. */
int asy__sched_suspend(struct sched *s)
{
	struct asy_coro *self = s->cur;
	if (asy__fork_unseen())
		asy__fork_own();
	for (;;) {
		if (s->jump_to)
			asy__sched_jumps(s);
		if (s->heap_len) {
			/* A completion that came before a timer fell due wins
			 * over it, however late the thread gets to look (a
			 * coroutine computed meanwhile): as a kernel call that
			 * finds its data there when its timeout wakes it. */
			if (s->engine_parked && s->heap[0]->wake_at <= asy_now())
				look_at_engine(s);
			fire_timers(s);
		}
		/* Busy coroutines must not starve I/O waiters: look at the
		 * completions every few switches even when some can run. */
		if (s->engine_parked && (++s->tick & 15) == 0)
			look_at_engine(s);
		struct asy_coro *next = rq_pop(s);
		if (!next) {
			idle(s);
			continue;
		}
		if (next != self)
			switch_to(s, self, next);
		else
			self->state = CO_RUNNING;
		return self->wake;
	}
}

/* Park the running coroutine until readied, the deadline (-1 none) or,
 * when cancellable, a cancel.  Called inside a critical section. */
int asy__sched_park(struct sched *s, int64_t deadline, int cancellable)
{
	struct asy_coro *self = s->cur;
	if (cancellable && asy__coro_ending(self))
		return -ECANCELED;
	if (deadline == 0 || (deadline > 0 && deadline <= asy_now()))
		return -ETIMEDOUT; /* already due: do not even yield */
	self->state = CO_PARKED;
	self->cancellable = (unsigned char)cancellable;
	self->wake_at = deadline;
	if (deadline > 0) {
		s->heap[s->heap_len] = self;
		self->heap_idx = (int)s->heap_len++;
		heap_up(s, (unsigned)self->heap_idx);
	}
	return asy__sched_suspend(s);
}

/* Enter scheduler mode on a plain thread: the caller becomes the root
 * coroutine.  -EBUSY when the scheduler already runs here. */
int asy__sched_enter(struct sched *s)
{
	if (s->running)
		return -EBUSY;
	if (asy__sched_heap_reserve(s, s->live + 1) < 0)
		return -ENOMEM;
	asy__engine_prepare();
	s->running = 1;
	asy__sched_running = 1;
	s->root.state = CO_RUNNING;
	s->root.wake = 0;
	s->root.io_deadline = -1;
#ifdef ASY_TSAN
	s->root.tsan_fiber = __tsan_get_current_fiber();
#endif
	s->cur = &s->root;
	return 0;
}

void asy__sched_leave(struct sched *s)
{
	s->cur = NULL;
	s->running = 0;
	asy__sched_running = 0;
	s->root.io_deadline = -1;
}

/* ---- the engine's side (coro.h) ----------------------------------------- */

struct asy_coro *asy__coro_self(void)
{
	struct sched *s = tls_sched;
	/* Mid-update (a signal handler interrupted us) nothing may park. */
	return s && !s->crit ? s->cur : NULL;
}

int asy__coro_stack(const void *sp, void **lo, size_t *size, size_t *guard)
{
	struct sched *s = tls_sched;
	struct asy_coro *c = s ? s->cur : NULL;
	if (!c || !asy__coro_holds_sp(c, sp))
		return 0;
	*lo = c->stk.lo;
	*size = c->stk.size;
	*guard = (size_t)((char *)c->stk.lo - (char *)c->stk.map);
	return 1;
}

uint64_t asy__coro_id(void)
{
	struct sched *s = tls_sched;
	return s && s->cur ? s->cur->id : 0;
}

unsigned asy__coro_switches(void)
{
	struct sched *s = tls_sched;
	return s ? s->switches : 0;
}

int asy__coro_busy(void)
{
	struct sched *s = tls_sched;
	return s && s->crit;
}

int asy__coro_alone(void)
{
	struct sched *s = tls_sched;
	return s && s->cur && !s->crit && !s->rq_head && !s->heap_len && !s->engine_parked &&
	       s->cur->io_deadline < 0 && !asy__coro_ending(s->cur);
}

/* A child forked by one of many threads has that thread only; a child
 * forked by a coroutine has copies of every coroutine of its thread, and
 * only the forking one is the program's.  The others are parked for
 * good: off the run queue and the timers, never woken by an op (the
 * child's engine starts empty) nor by a cancel: a join of one of them
 * never returns (asy_run reports EDEADLK, as for any deadlock).  The root
 * (the asy_run caller) keeps its place; when the forking coroutine ends,
 * the child ends with it, as a process does when its last thread
 * returns (coro.c, coro_exit). */
void asy__coro_fork_child(void)
{
	struct sched *s = tls_sched;
	if (!s || !s->running || !s->cur)
		return;
	struct asy_coro *self = s->cur, *root = &s->root;
	/* Forked by a signal handler while the thread waited for every
	 * coroutine: the child is the coroutine the handler stood in, if
	 * one (jump.c), as a child of a thread a signal interrupted in its
	 * call.  It runs again at once: its call's op is the parent's, and
	 * its wait makes the call anew (wait.c, asy__wait). */
	int several;
	struct asy_coro *in = s->idling && self->state != CO_RUNNING ?
			      asy__coro_handler_for(&several) : NULL;
	if (in) {
		self = in;
		self->heap_idx = -1;
		self->wake = 0;
		self->state = CO_READY;
	}
	for (unsigned h = 1; h < s->nslots; h++) {
		struct asy_coro *c = &s->chunks[h >> CHUNK_SHIFT][h & (CHUNK_LEN - 1)];
		if (c == self || (c->state != CO_READY && c->state != CO_PARKED))
			continue;
		c->state = CO_PARKED;
		c->cancellable = 0;
		c->heap_idx = -1;
	}
	int root_ready = root->state == CO_READY, root_timer = root->heap_idx >= 0;
	s->rq_head = s->rq_tail = NULL;
	s->heap_len = 0;
	if (root_timer) {
		s->heap[0] = root;
		root->heap_idx = 0;
		s->heap_len = 1;
	}
	if (root_ready)
		rq_push(s, root);
	/* A fork that ran no handler is seen when its coroutine gives the
	 * thread away (asy__fork_own): queued or timed, it stays so. */
	if (self != root && self->state == CO_READY)
		rq_push(s, self);
	if (self != root && self->heap_idx >= 0) {
		self->heap_idx = (int)s->heap_len;
		heap_set(s, s->heap_len++, self);
		heap_up(s, (unsigned)self->heap_idx);
	}
	if (self->joiner && self->joiner != root)
		self->joiner = NULL;
	s->live = self != root;
	s->engine_parked = in != NULL; /* the handler's coroutine is in asy__coro_park */
	s->forker = self != root ? self : NULL;
}

int64_t asy__coro_io_deadline(void)
{
	struct sched *s = tls_sched;
	return s && s->cur ? s->cur->io_deadline : -1;
}

int asy__coro_ended(void)
{
	struct sched *s = tls_sched;
	if (!s || !s->cur)
		return 0;
	if (asy__coro_ending(s->cur))
		return -ECANCELED;
	return s->cur->io_deadline >= 0 && asy_now() >= s->cur->io_deadline ? -ETIMEDOUT : 0;
}

int asy__coro_park(int64_t deadline, int cancellable)
{
	struct sched *s = tls_sched;
	if (!s || !s->cur || s->crit)
		return -EINVAL;
	asy__sched_crit_enter(s);
	s->engine_parked++;
	int r = asy__sched_park(s, deadline, cancellable);
	s->engine_parked--;
	asy__sched_crit_leave(s);
	return r;
}

int asy__coro_yield(void)
{
	struct sched *s = tls_sched;
	if (!s || !s->cur || s->crit)
		return -EINVAL;
	asy__sched_crit_enter(s);
	s->cur->state = CO_PARKED;
	asy__sched_ready(s, s->cur, 0);
	int r = asy__sched_suspend(s);
	asy__sched_crit_leave(s);
	return r;
}

void asy__coro_unpark(struct asy_coro *c)
{
	struct sched *s = c->s;
	asy__sched_crit_enter(s);
	if (c->state == CO_PARKED)
		asy__sched_ready(s, c, 0);
	asy__sched_crit_leave(s);
}

ASY_EXPORT int64_t asy_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
