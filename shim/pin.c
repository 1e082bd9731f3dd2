/* pthread locks between coroutines of one thread.
 *
 * A pthread mutex or rwlock belongs to a thread, and every coroutine of a
 * thread is that thread to it.  A coroutine that yields inside a hooked
 * call while it holds one (SQLite holds its VFS mutex across stat() and
 * open()) would otherwise let a sibling coroutine reach for the same lock
 * and either block the whole thread for good — the holder can never run
 * again to release it — or, with a recursive mutex, walk straight into
 * the holder's critical section.  So while a scheduler runs, a thread
 * keeps a small table of the locks its coroutines hold, and a coroutine
 * behaves towards its siblings as a thread towards other threads:
 *  - a lock a sibling holds: the coroutine waits for it by parking (and
 *    retrying), never in the kernel — an unlock through these wrappers,
 *    any thread's, ends the park (slots.c); trylock says EBUSY;
 *  - a lock another thread holds: it waits the same way when other
 *    coroutines could run meanwhile (one of them may be what that thread
 *    waits for), and in libc's own blocking call when it is alone;
 *  - its own recursive or error-checking lock: libc's answer.
 * Each wrapper ends in libc's own function; outside a scheduler run it is
 * one thread-local load more.  The same holds for a once whose init
 * yields, C11 mutexes (glibc's are its pthread mutexes), and the futex
 * waits of libraries with locks of their own (GLib: futex.c); conditions,
 * semaphores and joins wait the same way (sync.c). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "engine.h"
#include "asyncify.h"
#include "coro.h"
#include "sys.h"
#include "pin.h"
#include "real.h"

/* ---- the locks this thread's coroutines hold ---- */

/* An open-addressing table (linear probing) keyed by the lock's address:
 * 32 SQLite connections on one thread hold dozens of mutexes at once, and
 * every lock and unlock looks here. */
#define NHELD 128             /* slots, a power of two */
#define MAX_HELD (NHELD * 3 / 4)
struct held {
	const void *lock;     /* NULL: a free slot */
	void *coro;
	unsigned depth;
};
static ASY_TLS struct held held[NHELD];
static ASY_TLS unsigned nheld;

static unsigned slot_of(const void *l)
{
	return (unsigned)(((uintptr_t)l >> 3) * 0x9E3779B97F4A7C15ull >> 57) & (NHELD - 1);
}

static struct held *find(const void *l)
{
	if (!nheld)
		return NULL;
	for (unsigned i = slot_of(l);; i = (i + 1) & (NHELD - 1)) {
		if (held[i].lock == l)
			return &held[i];
		if (!held[i].lock)
			return NULL;
	}
}

/* Taken by the running coroutine.  A table already full leaves the lock
 * unrecorded: a sibling then meets it as libc would. */
static void took(const void *l, void *self)
{
	struct held *h = find(l);
	if (!h && nheld < MAX_HELD) {
		unsigned i = slot_of(l);
		while (held[i].lock)
			i = (i + 1) & (NHELD - 1);
		h = &held[i];
		*h = (struct held){ l, self, 0 };
		nheld++;
	}
	if (h)
		h->depth++;
}

/* Free slot i, moving back the entries after it that probed past it. */
static void drop(unsigned i)
{
	for (unsigned j = (i + 1) & (NHELD - 1); held[j].lock; j = (j + 1) & (NHELD - 1)) {
		unsigned home = slot_of(held[j].lock);
		/* held[j] may move to i unless its home lies cyclically in (i, j] */
		int stays = i < j ? home > i && home <= j : home > i || home <= j;
		if (!stays) {
			held[i] = held[j];
			i = j;
		}
	}
	held[i] = (struct held){ NULL, NULL, 0 };
	nheld--;
}

static void gave(const void *l)
{
	struct held *h = find(l);
	if (h && --h->depth == 0)
		drop((unsigned)(h - held));
}


/* The running coroutine, when this lock call is one the table follows. */
static ASY_TLS int own_lock;

void *asy__pin_self(void)
{
	if (!asy__sched_running || asy__depth || own_lock)
		return NULL;
	return asy__coro_self();
}

/* One park of a lock call's wait, as a call of the coroutine's
 * (coro/jump.c): a handler's siglongjmp or setcontext out of it is put off
 * to the park's end and made here, from the call's frame, with the lock
 * not taken — as glibc's jump leaves its futex wait (it was made from the
 * scheduler's stack, whose loop then spun for ever at exit); with `jump`
 * 0 the caller makes it (LEFT).  A handler that returns stands in the
 * call (errno).  -1: the coroutine can no longer park; else 0. */
int asy__pin_park(void *self, int64_t every, int jump, struct asy_slot *s)
{
	if (!self)
		return -1;
	if (s && asy__slot_stale(s))
		s = NULL; /* a fork's child: the slot is no longer this wait's */
	/* Woken meanwhile: look again at once — but after a few such looks
	 * in a row (a lock another thread keeps taking), after the siblings
	 * have run. */
	int woken = s ? asy__slot_look(s) : 0, r;
	if (woken == 1)
		return 1;
	struct asy_listener l;
	struct asy_thread *t = NULL;
	asy__coro_in_call(self, 1);
	if (woken) {
		/* not asy_yield(): a cancelled coroutine's is refused, and
		 * this wait would then end in libc's blocking call */
		r = asy__coro_yield() == -EINVAL ? -EINVAL : 0;
	} else {
		if (s)
			t = asy__listen(&l, self, asy__slot_mark(s)); /* a wake ends it */
		r = asy__coro_park(asy_now() + every, 0);
		if (t)
			asy__unlisten(t, &l);
	}
	asy__coro_in_call(self, -1);
	errno = asy__coro_call_errno(self, errno);
	if (asy__coro_jump_waits(self)) {
		if (!jump)
			return LEFT;
		asy__jump_due(); /* returns only if the jump is not to be made */
	}
	return r == -EINVAL ? -1 : s && r == 0 ? 1 : 0;
}

int asy__pin_passed(clockid_t clk, const struct timespec *until)
{
	struct timespec now;
	clock_gettime(clk, &now);
	return now.tv_sec > until->tv_sec ||
	       (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec);
}

int64_t asy__pin_park_for(int64_t every, clockid_t clk, const struct timespec *until)
{
	struct timespec now;
	if (!until)
		return every;
	clock_gettime(clk, &now);
	/* seconds first: their difference in ns could overflow */
	if (until->tv_sec > now.tv_sec + 1)
		return every;
	int64_t left = (int64_t)(until->tv_sec - now.tv_sec) * 1000000000 +
		       (until->tv_nsec - now.tv_nsec);
	return left < every ? (left > 0 ? left : 0) : every;
}

/* The wait for a lock someone else holds.  After its first miss the
 * coroutine takes a slot naming the lock (slots.c), so that an unlock made
 * through the hooks — a sibling's, another thread's — ends its park; it
 * then looks again before it parks, an unlock having perhaps come
 * between.  -1: libc's way. */
static int cooperative(int (*try)(void *), void *l, void *self, clockid_t clk,
		       const struct timespec *until, int rwlock)
{
	int64_t every = WAIT_FIRST_NS;
	struct asy_slot *s = NULL;
	int r, slotted = 0;
	for (;;) {
		struct held *h = find(l);
		if (s && asy__slot_stale(s))
			s = NULL; /* a fork's child: not this wait's any more */
		if (s)
			asy__slot_rearm(s);
		if ((!h || h->coro == self) && (r = try(l)) != EBUSY)
			break;
		if (!slotted) {
			slotted = 1;
			if ((s = asy__slot_take(l, !rwlock)))
				continue;
		}
		if (until && asy__pin_passed(clk, until)) {
			r = ETIMEDOUT;
			break;
		}
		int p = asy__pin_park(self, asy__pin_park_for(every, clk, until), 0, s);
		if (p == LEFT) {
			/* a mutex's unlock that marked it goes to the next waiter */
			if (s && asy__slot_leave(s) && !rwlock)
				asy__slot_wake(l, 0);
			s = NULL;
			asy__jump_due(); /* returns only if the jump is not to be made */
			continue;
		}
		if (p < 0) {
			r = -1; /* no longer a coroutine that can park: libc's way */
			break;
		}
		if (p == 0)
			every = asy__pin_next(every); /* a park that lasted its time */
	}
	/* An unlock that marked this wait, which did not take the lock,
	 * goes to the next waiter (a mutex's unlock marks one). */
	if (s && asy__slot_leave(s) && r != 0 && r != EOWNERDEAD && !rwlock)
		asy__slot_wake(l, 0);
	return r;
}

/* An unlock through the hooks: a mutex's marks the wait that came first,
 * an rwlock's every one (readers may all get it). */
static inline void unlocked(const void *l, int rwlock)
{
	if (!own_lock && !asy__in_handler && asy__slot_maybe(l))
		asy__slot_wake(l, rwlock);
}

/* An unlock: the table lets go before libc does.  A handler's siglongjmp
 * that lands between the two then leaves the lock the thread's in libc's
 * eyes and in no coroutine's in the table — what a jump before the unlock
 * leaves without the library; the other way round it left the lock a
 * coroutine's in the table after libc had freed it, and every sibling
 * waited for it for ever (a jump out of pthread_cond_timedwait, whose
 * wait begins with this unlock).  A refused unlock gives the entry back. */
static int unlock_as(const void *l, int (*unlock)(void *), int rwlock)
{
	struct held *h = nheld ? find(l) : NULL;
	void *was = h ? h->coro : NULL;
	if (h)
		gave(l);
	int r = unlock((void *)l);
	if (r == 0)
		unlocked(l, rwlock);
	else if (was)
		took(l, was);
	return r;
}

/* What libc's timed call answers, at once, on a lock someone else holds
 * when its timeout is one it never waits for: EINVAL for a clock other
 * than CLOCK_REALTIME or CLOCK_MONOTONIC, or a tv_nsec outside [0, 1e9);
 * ETIMEDOUT for a time before the epoch.  A mutex looks at the seconds
 * before the nanoseconds (in its futex wait), an rwlock the other way
 * round (on entry).  0: a timeout libc could wait for. */
static int bad_timeout(clockid_t clk, const struct timespec *t, int rwlock)
{
	int nsec_bad = t->tv_nsec < 0 || t->tv_nsec >= 1000000000;
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC)
		return EINVAL;
	if (rwlock && nsec_bad)
		return EINVAL;
	if (t->tv_sec < 0)
		return ETIMEDOUT;
	return nsec_bad ? EINVAL : 0;
}

static int m_clock(void *l, clockid_t c, const struct timespec *t);

/* Does libc answer at once a lock call on a lock its own thread holds?
 * An error-checking mutex (EDEADLK) and an rwlock the thread writes
 * (EDEADLK for either kind of lock): glibc's own fields say so.  (A
 * recursive mutex's try already takes it; a normal one waits for ever,
 * or to its timeout, either way.) */
static int own_answers(void *l, int rwlock)
{
	if (rwlock)
		return ((pthread_rwlock_t *)l)->__data.__cur_writer == (int)asy_sys_gettid();
	return (((pthread_mutex_t *)l)->__data.__kind & 3) == PTHREAD_MUTEX_ERRORCHECK_NP;
}

/* One lock call: libc's blocking call when the coroutine is alone and no
 * sibling holds the lock, else the cooperative wait on libc's try call. */
static int take(void *l, int (*block)(void *), int (*try)(void *), clockid_t clk,
		const struct timespec *until, int (*timed)(void *, clockid_t, const struct timespec *))
{
	void *self = asy__pin_self();
	if (!self)
		return until ? timed(l, clk, until) : block(l);
	struct held *h = find(l);
	int r;
	if (until && (r = bad_timeout(clk, until, timed != m_clock))) {
		/* libc never waits with such a timeout: its answer (a free lock
		 * is taken); a sibling's lock is busy, as another thread's. */
		if (h && h->coro != self)
			return r;
		r = timed(l, clk, until);
		if (r == 0 || r == EOWNERDEAD)
			took(l, self);
		return r;
	}
	if ((!h || h->coro == self) && asy__coro_alone())
		r = until ? timed(l, clk, until) : block(l);
	else if (h && h->coro == self && own_answers(l, timed != m_clock))
		r = until ? timed(l, clk, until) : block(l); /* its own: EDEADLK */
	else if ((r = cooperative(try, l, self, clk, until, timed != m_clock)) == -1)
		r = until ? timed(l, clk, until) : block(l);
	if (r == 0 || r == EOWNERDEAD)
		took(l, self);
	return r;
}

/* ---- mutexes ---- */

typedef int (*lock_fn)(void *);
typedef int (*timed_fn)(void *, clockid_t, const struct timespec *);
typedef int (*abs_fn)(void *, const struct timespec *);

REAL(pthread_mutex_lock, lock_fn)
REAL(pthread_mutex_trylock, lock_fn)
REAL(pthread_mutex_unlock, lock_fn)
REAL(pthread_mutex_timedlock, abs_fn)
REAL(pthread_mutex_clocklock, timed_fn)

static int m_lock(void *l)
{
	return get_pthread_mutex_lock()(l);
}
static int m_try(void *l)
{
	return get_pthread_mutex_trylock()(l);
}
static int m_clock(void *l, clockid_t c, const struct timespec *t)
{
	if (c == CLOCK_REALTIME)
		return get_pthread_mutex_timedlock()(l, t);
	return get_pthread_mutex_clocklock()(l, c, t);
}

ASY_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	/* A thread that runs no coroutines: libc's call, nothing else (a
	 * tail call; SQLite makes millions of these). */
	if (__builtin_expect(!asy__sched_running, 1))
		return get_pthread_mutex_lock()(m);
	return take(m, m_lock, m_try, CLOCK_REALTIME, NULL, m_clock);
}

ASY_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
	return take(m, m_lock, m_try, CLOCK_REALTIME, t, m_clock);
}

ASY_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t c, const struct timespec *t)
{
	return take(m, m_lock, m_try, c, t, m_clock);
}

ASY_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	void *self = asy__pin_self();
	struct held *h = self ? find(m) : NULL;
	if (h && h->coro != self)
		return EBUSY; /* a sibling holds it, as another thread would */
	int r = m_try(m);
	if (self && (r == 0 || r == EOWNERDEAD))
		took(m, self);
	return r;
}

ASY_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
	return unlock_as(m, get_pthread_mutex_unlock(), 0);
}

/* The library's own locks: never the table's.  They go through the
 * global symbol all the same, so that a sanitizer's interceptor in front
 * of this library sees them. */
int asy__mutex_lock(pthread_mutex_t *m)
{
	own_lock++;
	int r = pthread_mutex_lock(m);
	own_lock--;
	return r;
}

int asy__mutex_unlock(pthread_mutex_t *m)
{
	own_lock++;
	int r = pthread_mutex_unlock(m);
	own_lock--;
	return r;
}

/* ---- rwlocks: a sibling's lock of either kind is waited for ---- */

REAL(pthread_rwlock_rdlock, lock_fn)
REAL(pthread_rwlock_wrlock, lock_fn)
REAL(pthread_rwlock_tryrdlock, lock_fn)
REAL(pthread_rwlock_trywrlock, lock_fn)
REAL(pthread_rwlock_unlock, lock_fn)
REAL(pthread_rwlock_timedrdlock, abs_fn)
REAL(pthread_rwlock_timedwrlock, abs_fn)
REAL(pthread_rwlock_clockrdlock, timed_fn)
REAL(pthread_rwlock_clockwrlock, timed_fn)

static int r_lock(void *l)
{
	return get_pthread_rwlock_rdlock()(l);
}
static int r_try(void *l)
{
	return get_pthread_rwlock_tryrdlock()(l);
}
static int r_clock(void *l, clockid_t c, const struct timespec *t)
{
	if (c == CLOCK_REALTIME)
		return get_pthread_rwlock_timedrdlock()(l, t);
	return get_pthread_rwlock_clockrdlock()(l, c, t);
}
static int w_lock(void *l)
{
	return get_pthread_rwlock_wrlock()(l);
}
static int w_try(void *l)
{
	return get_pthread_rwlock_trywrlock()(l);
}
static int w_clock(void *l, clockid_t c, const struct timespec *t)
{
	if (c == CLOCK_REALTIME)
		return get_pthread_rwlock_timedwrlock()(l, t);
	return get_pthread_rwlock_clockwrlock()(l, c, t);
}

ASY_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	return take(l, r_lock, r_try, CLOCK_REALTIME, NULL, r_clock);
}
ASY_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	return take(l, w_lock, w_try, CLOCK_REALTIME, NULL, w_clock);
}
ASY_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *t)
{
	return take(l, r_lock, r_try, CLOCK_REALTIME, t, r_clock);
}
ASY_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t)
{
	return take(l, w_lock, w_try, CLOCK_REALTIME, t, w_clock);
}
ASY_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t c,
					  const struct timespec *t)
{
	return take(l, r_lock, r_try, c, t, r_clock);
}
ASY_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c,
					  const struct timespec *t)
{
	return take(l, w_lock, w_try, c, t, w_clock);
}

static int try_as_sibling(pthread_rwlock_t *l, int (*try)(void *))
{
	void *self = asy__pin_self();
	struct held *h = self ? find(l) : NULL;
	if (h && h->coro != self)
		return EBUSY;
	int r = try(l);
	if (self && r == 0)
		took(l, self);
	return r;
}

ASY_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	return try_as_sibling(l, r_try);
}
ASY_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	return try_as_sibling(l, w_try);
}

ASY_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	return unlock_as(l, get_pthread_rwlock_unlock(), 1);
}

/* ---- once ---- */

/* A once's init that yields (a library reading its configuration the
 * first time it is used) leaves the once in progress: a sibling reaching
 * it waited in libc's futex, which holds the thread, and the init never
 * finished.  While a sibling's init (or, when others could run, another
 * thread's) is in progress the coroutine parks and looks again; the rest
 * is libc's own call.  glibc's once word: bit 0 an init in progress, bit
 * 1 done, the rest a fork generation. */
#define ONCE_INPROGRESS 1
#define ONCE_DONE 2
typedef int (*once_fn)(pthread_once_t *, void (*)(void));
REAL(pthread_once, once_fn)

ASY_EXPORT int pthread_once(pthread_once_t *o, void (*init)(void))
{
	void *self = asy__pin_self();
	if (!self)
		return get_pthread_once()(o, init);
	for (int64_t every = WAIT_FIRST_NS;; every = asy__pin_next(every)) {
		int v = atomic_load_explicit((_Atomic int *)o, memory_order_acquire);
		struct held *h = find(o);
		if ((v & ONCE_DONE) || !(v & ONCE_INPROGRESS) || (h && h->coro == self) ||
		    (!h && asy__coro_alone()))
			break; /* libc's answer: done, its init to run, or its wait */
		if (asy__pin_park(self, every, 1, NULL) < 0)
			break;
	}
	took(o, self);
	int r = get_pthread_once()(o, init);
	gave(o);
	return r;
}

/* glibc's call_once is its pthread_once on the flag's word. */
ASY_EXPORT void call_once(once_flag *f, void (*fn)(void))
{
	pthread_once((pthread_once_t *)(void *)f, fn);
}

/* ---- C11 mutexes: glibc's are its pthread mutexes ---- */

/* C11's answer for an errno value of a pthread call (glibc's thrd_err_map; pin.h). */
int asy__thrd_answer(int e)
{
	switch (e) {
	case 0:
		return thrd_success;
	case ENOMEM:
		return thrd_nomem;
	case ETIMEDOUT:
		return thrd_timedout;
	case EBUSY:
		return thrd_busy;
	default:
		return thrd_error;
	}
}

ASY_EXPORT int mtx_lock(mtx_t *m)
{
	return asy__thrd_answer(pthread_mutex_lock((pthread_mutex_t *)(void *)m));
}
ASY_EXPORT int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict t)
{
	return asy__thrd_answer(pthread_mutex_timedlock((pthread_mutex_t *)(void *)m, t));
}
ASY_EXPORT int mtx_trylock(mtx_t *m)
{
	return asy__thrd_answer(pthread_mutex_trylock((pthread_mutex_t *)(void *)m));
}
ASY_EXPORT int mtx_unlock(mtx_t *m)
{
	return asy__thrd_answer(pthread_mutex_unlock((pthread_mutex_t *)(void *)m));
}

/* ---- glibc's other public names for the same functions ----
 * (the double-underscore ones of the old libpthread ABI, still exported
 * and still linked against by older binaries) */
#define PIN_ALIAS(name, target) \
	extern __typeof(target) name __attribute__((alias(#target), copy(target), visibility("default")));
PIN_ALIAS(__pthread_mutex_lock, pthread_mutex_lock)
PIN_ALIAS(__pthread_mutex_trylock, pthread_mutex_trylock)
PIN_ALIAS(__pthread_mutex_unlock, pthread_mutex_unlock)
PIN_ALIAS(__pthread_rwlock_rdlock, pthread_rwlock_rdlock)
PIN_ALIAS(__pthread_rwlock_wrlock, pthread_rwlock_wrlock)
PIN_ALIAS(__pthread_rwlock_tryrdlock, pthread_rwlock_tryrdlock)
PIN_ALIAS(__pthread_rwlock_trywrlock, pthread_rwlock_trywrlock)
PIN_ALIAS(__pthread_rwlock_unlock, pthread_rwlock_unlock)
PIN_ALIAS(__pthread_once, pthread_once)
#undef PIN_ALIAS
