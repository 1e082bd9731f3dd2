/* Wait slots: how a waker finds the coroutines waiting on an object (a
 * condition, a mutex, an rwlock), any thread's.
 *
 * A coroutine that waits on an object another coroutine or thread will
 * change (pin.h: parking and looking again) takes a slot naming it for
 * the length of its wait.  A wake of the object — a condition's signal or
 * broadcast, a lock's unlock — marks the slots, and the coroutine's park
 * ends at once rather than at its time (50 µs doubling to 1 ms): made in
 * its own thread, by making it runnable; from another thread, by a nudge
 * of its thread's scheduler (the engine hears it as a worker's completion:
 * runtime/engine/wait.c), which then makes runnable the coroutines of its
 * own whose slots are marked.  The parks still end at their time when no
 * wake comes (a wake glibc makes inside itself, another process's), so a
 * slot only makes a wait end sooner; every waiter looks again at what it
 * waits for.
 *
 * One table for the process, its lock held for a few instructions; a
 * waiter reads its own mark without it.  A waker first looks at a count
 * of the slots by its object's hash (asy__slot_maybe): an unlock of a
 * lock no coroutine waits for costs one load, whatever waits elsewhere.  A thread that ends takes its
 * name out of the table first (asy__sync_forget), and a waker holds the
 * thread (refs) while it nudges it. */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "engine.h"
#include "tsan.h"
#include "coro.h"
#include "spin.h"
#include "pin.h"
#include "sys.h"

#define SLOTS 4096
struct asy_slot {
	const void *obj;       /* NULL: free */
	const void *thread;    /* &thread_mark of the waiter's thread */
	struct asy_thread *t;  /* its engine state, for a nudge (NULL: none) */
	unsigned long seq;     /* order of arrival */
	unsigned gen;          /* the process's (spin.h) when taken */
	unsigned quick;        /* the waiter's looks a mark made, in a row */
	_Atomic int woken;     /* a wake marked it */
	const void *coro;      /* the waiting coroutine */
	const char *frame;     /* its wait's frame: a jump above it leaves the wait */
	unsigned char pass;    /* a mark it did not use goes to the next waiter */
};
static struct asy_slot slots[SLOTS];
static asy_spin slots_lock = ASY_SPIN_INIT;
static unsigned slots_top;   /* slots [0, slots_top) may be in use */
static unsigned long slots_seq;
static unsigned table_gen;   /* the generation the table is of */
_Atomic int asy__slot_buckets[ASY_SLOT_BUCKETS]; /* slots in use by their object's bucket */
static ASY_TLS char thread_mark;
static ASY_TLS unsigned thread_slots; /* slots this thread's waits hold */

/* The signal mask the thread had before it took the table's lock. */
static ASY_TLS uint64_t table_mask;

/* The table's lock, told to ThreadSanitizer too: a wait made inside one
 * of its interceptors (sem_wait) records no lock of its own (tsan.h).  A
 * fork's child finds its parent's waiters there (none of them waits in
 * the child, and another thread's fork may have come in the middle of a
 * count): the first lock of a generation empties the table.
 *
 * Held with every signal blocked: a handler that interrupted its thread
 * in the lock would spin on it for ever (a `sem_post`, which is
 * async-signal-safe, in a handler the library does not wrap — under
 * ASYNCIFY_BACKEND=off, or set by a raw rt_sigaction), and one that
 * jumped out of it (a siglongjmp out of a wait, an unlock or a post, as
 * the program may make out of glibc's) would leave it held for good and
 * every thread after it spinning.  Two system calls, on paths where a
 * coroutine waits or is woken. */
static void lock(void)
{
	asy__mask_all(&table_mask);
	unsigned gen = asy__spin_gen_now();
	asy__spin_take(&slots_lock);
	asy_tsan_acquire(&slots_lock);
	if (table_gen != gen) {
		for (unsigned i = 0; i < slots_top; i++)
			slots[i].obj = NULL;
		slots_top = 0;
		for (int b = 0; b < ASY_SLOT_BUCKETS; b++)
			atomic_store(&asy__slot_buckets[b], 0);
		table_gen = gen;
	}
}

static void unlock(void)
{
	asy_tsan_release(&slots_lock);
	asy__spin_give(&slots_lock);
	asy__unmask(&table_mask);
}

/* s is free again (slots_lock held). */
static void free_slot(struct asy_slot *s)
{
	atomic_fetch_sub(asy__slot_bucket(s->obj), 1);
	if (s->thread == &thread_mark && thread_slots)
		thread_slots--;
	s->obj = NULL;
}

struct asy_slot *asy__slot_take_at(const void *obj, int pass, const void *frame)
{
	struct asy_slot *s = NULL;
	/* Not in a handler the library runs: a wake there may not make a
	 * coroutine runnable (it may have interrupted the scheduler), and a
	 * wait begun there ends its parks at their time (README). */
	if (asy__in_handler)
		return NULL;
	struct asy_thread *t = asy__thread_now();
	lock();
	for (unsigned i = 0; i < SLOTS && !s; i++)
		if (!slots[i].obj) {
			s = &slots[i];
			s->obj = obj;
			s->thread = &thread_mark;
			s->t = t;
			s->seq = ++slots_seq;
			s->gen = table_gen;
			s->quick = 0;
			s->coro = asy__coro_self();
			s->frame = frame;
			s->pass = (unsigned char)pass;
			atomic_store(&s->woken, 0);
			if (i >= slots_top)
				slots_top = i + 1;
			atomic_fetch_add(asy__slot_bucket(obj), 1);
			thread_slots++;
		}
	unlock();
	return s; /* NULL: all taken; the wait's parks end at their time */
}

int asy__slot_stale(const struct asy_slot *s)
{
	return s->gen != asy__spin_gen_now();
}

int asy__slot_leave(struct asy_slot *s)
{
	if (asy__slot_stale(s))
		return 0; /* the parent's: the child's table was emptied */
	lock();
	int woken = atomic_load(&s->woken);
	free_slot(s);
	unlock();
	return woken;
}

/* A jump to `to` (a handler's longjmp, siglongjmp or setcontext that
 * shim/jump.c did not put off: the coroutine was between two parks)
 * leaves the running coroutine's waits whose frames lie below it on its
 * own stack: their slots are left as the waits would leave them, a mark
 * one of them got going to the next waiter.  Before, such a slot stayed
 * taken until its thread ended, and took the wakes meant for the waiters
 * after it (a condition's signal was lost). */
void asy__slot_unwind(const char *to)
{
	const void *passed[4];
	int npass = 0;
	if (!thread_slots || !asy__coro_self_holds(to))
		return;
	/* A handler on an alternate stack the program carved out of the
	 * coroutine's, jumping within its own frames, leaves no wait. */
	stack_t ss;
	if (asy_sys(SYS_sigaltstack, 0, &ss, 0, 0, 0, 0) == 0 && (ss.ss_flags & SS_ONSTACK) &&
	    to >= (const char *)ss.ss_sp && to < (const char *)ss.ss_sp + ss.ss_size)
		return;
	const void *self = asy__coro_self();
	lock();
	for (unsigned i = 0; i < slots_top; i++) {
		struct asy_slot *s = &slots[i];
		if (!s->obj || s->coro != self || s->thread != &thread_mark || s->frame >= to)
			continue;
		if (atomic_load(&s->woken) && s->pass && npass < 4)
			passed[npass++] = s->obj;
		free_slot(s);
	}
	unlock();
	for (int i = 0; i < npass; i++)
		asy__slot_wake(passed[i], 0);
}

int asy__slot_woken(struct asy_slot *s)
{
	return atomic_load(&s->woken);
}

void asy__slot_rearm(struct asy_slot *s)
{
	atomic_store(&s->woken, 0);
}

int asy__slot_look(struct asy_slot *s)
{
	if (!atomic_load(&s->woken))
		return s->quick = 0;
	if (s->quick++ < 4)
		return 1;
	s->quick = 0;
	return 2;
}

_Atomic int *asy__slot_mark(struct asy_slot *s)
{
	return &s->woken;
}

/* The threads a wake has to nudge, each held (refs) until nudged. */
#define NUDGES 32
struct nudges {
	int n;
	struct asy_thread *t[NUDGES];
};

/* Mark s (slots_lock held).  A waiter of this thread is parked (the
 * thread runs its waker), and its listener, found by the mark, is made
 * runnable; another thread's is nudged (after the lock; under it past
 * NUDGES threads). */
static int mark(struct asy_slot *s, struct nudges *nd)
{
	atomic_store(&s->woken, 1);
	if (s->thread == &thread_mark) {
		asy__listener_wake(&s->woken);
		return 1;
	}
	struct asy_thread *t = s->t;
	if (!t)
		return 1; /* its park's end */
	for (int i = 0; i < nd->n; i++)
		if (nd->t[i] == t)
			return 1;
	if (nd->n == NUDGES) {
		asy__nudge(t);
		return 1;
	}
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	nd->t[nd->n++] = t;
	return 1;
}

int asy__slot_wake(const void *obj, int all)
{
	int n = 0;
	struct asy_slot *first = NULL;
	struct nudges nd = { 0 };
	lock();
	for (unsigned i = 0; i < slots_top; i++) {
		struct asy_slot *s = &slots[i];
		if (s->obj != obj || atomic_load(&s->woken))
			continue;
		if (all)
			n += mark(s, &nd);
		else if (!first || s->seq < first->seq)
			first = s;
	}
	if (first)
		n += mark(first, &nd);
	unlock();
	for (int i = 0; i < nd.n; i++) {
		asy__nudge(nd.t[i]);
		atomic_fetch_sub_explicit(&nd.t[i]->refs, 1, memory_order_release);
	}
	return n;
}

void asy__sync_forget(struct asy_thread *t, int own)
{
	lock();
	for (unsigned i = 0; i < slots_top; i++) {
		struct asy_slot *s = &slots[i];
		if (s->t == t)
			s->t = NULL;
		/* Its thread ends: a wait it left by a handler's jump between
		 * two parks no longer holds the slot (a new thread may get
		 * this one's thread-local storage). */
		if (own && s->obj && s->thread == &thread_mark)
			free_slot(s);
	}
	unlock();
}
