/* Condition variables, semaphores, joins and signal waits between
 * coroutines.
 *
 * glibc waits for each in the kernel (a futex wait, or rt_sigtimedwait,
 * made inside glibc, where no hook sees it): a coroutine waiting there for
 * what a sibling coroutine would do — signal the condition, post the
 * semaphore, end the thread's wait by writing to it, send the signal —
 * held the thread for good.  So while a
 * scheduler runs, a coroutine with siblings to run waits the way lock
 * waits do (pin.h): by parking, and looking again.
 *
 *  - pthread_cond_wait and its timed forms (C11's cnd_* are glibc's
 *    conditions): the coroutine takes a slot of the table below, unlocks
 *    the mutex and parks until a pthread_cond_signal or _broadcast of
 *    that condition — by any thread or coroutine — marks its slot, or
 *    its timeout passes; then it locks the mutex again (as a coroutine
 *    locks: pin.c) and returns 0 or ETIMEDOUT, as glibc's.  A signal
 *    wakes the slot that came first, and only it: glibc's own waiters
 *    (plain threads) get the signals no slot takes, and every broadcast.
 *    A wake made in the coroutine's own thread makes it runnable at
 *    once; one from another thread is seen at its next look (1 ms at
 *    most).  A condition shared between processes (PTHREAD_PROCESS_SHARED),
 *    whose signals may come from another process, is glibc's own wait.
 *  - sem_wait and its timed forms: sem_trywait, parking while it says
 *    EAGAIN (a post from anywhere, another process included, is seen at
 *    the next look); 0, or -1 with ETIMEDOUT.
 *  - pthread_join and its timed forms (and C11 thrd_join): glibc's join
 *    with a timeout already past, parking while it says ETIMEDOUT; its own
 *    answers for a joined, detached or the caller's own thread (ESRCH,
 *    EINVAL, EDEADLK) at once.
 *  - sigwait, sigwaitinfo, sigtimedwait: sigtimedwait with no time,
 *    parking while it says EAGAIN; the signals waited for are blocked in
 *    the thread, so one sent meanwhile stays pending for the next look.
 *
 * A coroutine alone on its thread, a timeout glibc never waits for (a
 * clock other than CLOCK_REALTIME or CLOCK_MONOTONIC, a tv_nsec outside
 * [0, 1e9), a time before the epoch), and every call outside a scheduler
 * run are glibc's own; a signal or broadcast with no coroutine waiting
 * anywhere costs one load more.  A handler does not interrupt these waits
 * (the rule for signals inside coroutines: README); a handler's siglongjmp
 * out of a condition's wait leaves the mutex unlocked, as out of glibc's. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>

#include "engine.h"
#include "asyncify.h"
#include "coro.h"
#include "spin.h"
#include "pin.h"
#include "real.h"

/* A timeout glibc waits for; any other it answers at once. */
static int waitable(clockid_t clk, const struct timespec *t)
{
	return (clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC) && t->tv_sec >= 0 &&
	       t->tv_nsec >= 0 && t->tv_nsec < 1000000000;
}

/* ---- conditions ---- */

/* The coroutines waiting on a condition, any thread's: a slot each.  The
 * lock is held for a few instructions; a waiter reads its own `woken`
 * without it. */
#define COND_SLOTS 4096
static struct cond_slot {
	const void *cond;      /* NULL: free */
	void *coro;
	const void *thread;    /* &thread_mark of the waiter's thread */
	unsigned long seq;     /* order of arrival */
	unsigned gen;          /* the process's (spin.h): a fork's child ignores its parent's */
	_Atomic int woken;     /* 1: a signal or broadcast took it */
} slots[COND_SLOTS];
static asy_spin slots_lock = ASY_SPIN_INIT;
static unsigned slots_top;   /* slots [0, slots_top) may be in use */
static unsigned long slots_seq;
static _Atomic int cond_waiters; /* slots in use: a signal with none is glibc's */
static ASY_TLS char thread_mark;

static struct cond_slot *slot_take(const void *c, void *self)
{
	struct cond_slot *s = NULL;
	unsigned gen = asy__spin_gen_now();
	asy__spin_take(&slots_lock);
	for (unsigned i = 0; i < COND_SLOTS && !s; i++)
		if (!slots[i].cond || slots[i].gen != gen) {
			s = &slots[i];
			s->cond = c;
			s->coro = self;
			s->thread = &thread_mark;
			s->seq = ++slots_seq;
			s->gen = gen;
			atomic_store(&s->woken, 0);
			if (i >= slots_top)
				slots_top = i + 1;
			atomic_fetch_add(&cond_waiters, 1);
		}
	asy__spin_give(&slots_lock);
	return s; /* NULL: all taken; the wait wakes as if signalled after a look */
}

/* Leave the slot: 1 when a signal or broadcast had taken it. */
static int slot_leave(struct cond_slot *s)
{
	asy__spin_take(&slots_lock);
	int woken = atomic_load(&s->woken);
	s->cond = NULL;
	atomic_fetch_sub(&cond_waiters, 1);
	asy__spin_give(&slots_lock);
	return woken;
}

/* Mark s woken (slots_lock held).  Its coroutine cannot run while this
 * thread does: when it is this thread's, it is parked, and made runnable. */
static int take_slot(struct cond_slot *s)
{
	atomic_store(&s->woken, 1);
	if (s->thread == &thread_mark)
		asy__coro_unpark(s->coro);
	return 1;
}

/* Mark the first waiting slot of c (every one: all), and make those of
 * this thread runnable.  How many it took. */
static int wake(const void *c, int all)
{
	int n = 0;
	struct cond_slot *first = NULL;
	unsigned gen = asy__spin_gen_now();
	asy__spin_take(&slots_lock);
	for (unsigned i = 0; i < slots_top; i++) {
		struct cond_slot *s = &slots[i];
		if (s->cond != c || s->gen != gen || atomic_load(&s->woken))
			continue;
		if (all)
			n += take_slot(s);
		else if (!first || s->seq < first->seq)
			first = s;
	}
	if (first)
		n += take_slot(first);
	asy__spin_give(&slots_lock);
	return n;
}

typedef int (*cond_wait_fn)(pthread_cond_t *, pthread_mutex_t *);
typedef int (*cond_timed_fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
typedef int (*cond_clock_fn)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
			     const struct timespec *);
typedef int (*cond_fn)(pthread_cond_t *);
REAL(pthread_cond_wait, cond_wait_fn)
REAL(pthread_cond_timedwait, cond_timed_fn)
REAL(pthread_cond_clockwait, cond_clock_fn)
REAL(pthread_cond_signal, cond_fn)
REAL(pthread_cond_broadcast, cond_fn)

/* glibc's condition flags (its __wrefs word): shared between processes,
 * and timed on CLOCK_MONOTONIC (pthread_condattr_setclock). */
#define COND_SHARED 1u
#define COND_MONOTONIC 2u

static unsigned cond_flags(pthread_cond_t *c)
{
	return atomic_load_explicit((_Atomic unsigned *)&c->__data.__wrefs, memory_order_relaxed);
}

/* glibc's call, as the program made it. */
static int cond_own(pthread_cond_t *c, pthread_mutex_t *m, int how, clockid_t clk,
		    const struct timespec *t)
{
	if (how == 0)
		return get_pthread_cond_wait()(c, m);
	if (how == 1)
		return get_pthread_cond_timedwait()(c, m, t);
	return get_pthread_cond_clockwait()(c, m, clk, t);
}

/* how: 0 wait, 1 timedwait (the condition's clock), 2 clockwait. */
static int cond_wait(pthread_cond_t *c, pthread_mutex_t *m, int how, clockid_t clk,
		     const struct timespec *until)
{
	void *self = asy__pin_self();
	if (how == 1)
		clk = cond_flags(c) & COND_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME;
	if (!self || (cond_flags(c) & COND_SHARED) || asy__coro_alone() ||
	    (how && !waitable(clk, until)))
		return cond_own(c, m, how, clk, until);
	struct cond_slot *s = slot_take(c, self);
	int r = pthread_mutex_unlock(m);
	if (r) {
		if (s && slot_leave(s))
			wake(c, 0); /* a signal it took goes to the next waiter */
		return r;
	}
	int res = 0;
	for (int64_t every = WAIT_FIRST_NS;; every = asy__pin_next(every)) {
		if (s && atomic_load(&s->woken))
			break;
		if (s && s->gen != asy__spin_gen_now()) {
			s = NULL; /* a fork's child (a handler's fork): the slot is
				   * the parent's; woken, spuriously */
			break;
		}
		if (how && asy__pin_passed(clk, until)) {
			res = ETIMEDOUT;
			break;
		}
		int p = asy__pin_park(self, asy__pin_park_for(every, clk, how ? until : NULL), 0);
		if (p == LEFT) {
			/* a handler's jump out of the wait: the mutex stays
			 * unlocked, as glibc's jump leaves it */
			if (s && slot_leave(s))
				wake(c, 0);
			asy__jump_due();
			s = NULL; /* the jump was not to be made: woken */
			break;
		}
		if (p < 0 || !s)
			break; /* can no longer park, or no slot: woken, spuriously */
	}
	/* Timed out as a signal took the slot: the signal is the answer. */
	if (s && slot_leave(s))
		res = 0;
	int lr = pthread_mutex_lock(m);
	return lr ? lr : res;
}

ASY_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	return cond_wait(c, m, 0, CLOCK_REALTIME, NULL);
}

ASY_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				      const struct timespec *t)
{
	return cond_wait(c, m, 1, CLOCK_REALTIME, t);
}

ASY_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
				      const struct timespec *t)
{
	return cond_wait(c, m, 2, clk, t);
}

ASY_EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
	if (atomic_load_explicit(&cond_waiters, memory_order_seq_cst) && wake(c, 0))
		return 0;
	return get_pthread_cond_signal()(c);
}

ASY_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	if (atomic_load_explicit(&cond_waiters, memory_order_seq_cst))
		wake(c, 1);
	return get_pthread_cond_broadcast()(c);
}

/* ---- C11: glibc's cnd_* and thrd_join are its pthread calls, made
 * inside glibc where no hook sees them; the same here, with C11's
 * answers (asy__thrd_answer). */

ASY_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
	return asy__thrd_answer(pthread_cond_wait((pthread_cond_t *)(void *)c, (pthread_mutex_t *)(void *)m));
}

ASY_EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m,
			     const struct timespec *restrict t)
{
	return asy__thrd_answer(pthread_cond_timedwait((pthread_cond_t *)(void *)c,
						  (pthread_mutex_t *)(void *)m, t));
}

ASY_EXPORT int cnd_signal(cnd_t *c)
{
	return asy__thrd_answer(pthread_cond_signal((pthread_cond_t *)(void *)c));
}

ASY_EXPORT int cnd_broadcast(cnd_t *c)
{
	return asy__thrd_answer(pthread_cond_broadcast((pthread_cond_t *)(void *)c));
}

/* ---- semaphores ---- */

typedef int (*sem_fn)(sem_t *);
typedef int (*sem_timed_fn)(sem_t *, const struct timespec *);
typedef int (*sem_clock_fn)(sem_t *, clockid_t, const struct timespec *);
REAL(sem_wait, sem_fn)
REAL(sem_trywait, sem_fn)
REAL(sem_timedwait, sem_timed_fn)
REAL(sem_clockwait, sem_clock_fn)

static int sem_own(sem_t *s, int how, clockid_t clk, const struct timespec *t)
{
	if (how == 0)
		return get_sem_wait()(s);
	if (how == 1)
		return get_sem_timedwait()(s, t);
	return get_sem_clockwait()(s, clk, t);
}

static int sem_until(sem_t *s, int how, clockid_t clk, const struct timespec *until)
{
	void *self = asy__pin_self();
	if (!self || asy__coro_alone() || (how && !waitable(clk, until)))
		return sem_own(s, how, clk, until);
	for (int64_t every = WAIT_FIRST_NS;; every = asy__pin_next(every)) {
		int e = errno;
		if (get_sem_trywait()(s) == 0)
			return 0;
		if (errno != EAGAIN)
			return -1;
		errno = e;
		if (how && asy__pin_passed(clk, until)) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (asy__pin_park(self, asy__pin_park_for(every, clk, how ? until : NULL), 1) < 0)
			return sem_own(s, how, clk, until);
	}
}

ASY_EXPORT int sem_wait(sem_t *s)
{
	return sem_until(s, 0, CLOCK_REALTIME, NULL);
}

ASY_EXPORT int sem_timedwait(sem_t *restrict s, const struct timespec *restrict t)
{
	return sem_until(s, 1, CLOCK_REALTIME, t);
}

ASY_EXPORT int sem_clockwait(sem_t *restrict s, clockid_t clk, const struct timespec *restrict t)
{
	return sem_until(s, 2, clk, t);
}

/* ---- joins ---- */

typedef int (*join_fn)(pthread_t, void **);
typedef int (*join_timed_fn)(pthread_t, void **, const struct timespec *);
typedef int (*join_clock_fn)(pthread_t, void **, clockid_t, const struct timespec *);
REAL(pthread_join, join_fn)
REAL(pthread_timedjoin_np, join_timed_fn)
REAL(pthread_clockjoin_np, join_clock_fn)

static int join_own(pthread_t th, void **ret, int how, clockid_t clk, const struct timespec *t)
{
	if (how == 0)
		return get_pthread_join()(th, ret);
	if (how == 1)
		return get_pthread_timedjoin_np()(th, ret, t);
	return get_pthread_clockjoin_np()(th, ret, clk, t);
}

/* how: 0 join, 1 timedjoin (CLOCK_REALTIME; no timeout: a join), 2 clockjoin.
 * Each look is glibc's join with a timeout already past, which makes all
 * of glibc's own checks first — ESRCH for a thread already joined, EINVAL
 * for a detached one or one another thread joins, EDEADLK for the
 * caller's own — and says ETIMEDOUT while the thread runs (taking back
 * its claim on the join, so another joiner is not refused meanwhile). */
static int join_until(pthread_t th, void **ret, int how, clockid_t clk,
		      const struct timespec *until)
{
	static const struct timespec past = { 0, 0 };
	void *self = asy__pin_self();
	if (!self || asy__coro_alone() || (until && !waitable(clk, until)))
		return join_own(th, ret, how, clk, until);
	for (int64_t every = WAIT_FIRST_NS;; every = asy__pin_next(every)) {
		int r = get_pthread_clockjoin_np()(th, ret, CLOCK_MONOTONIC, &past);
		if (r != ETIMEDOUT)
			return r;
		if (until && asy__pin_passed(clk, until))
			return ETIMEDOUT;
		if (asy__pin_park(self, asy__pin_park_for(every, clk, until), 1) < 0)
			return join_own(th, ret, how, clk, until);
	}
}

/* The library's own joins: glibc's, never a coroutine's park. */
int asy__join(pthread_t th, void **ret)
{
	return get_pthread_join()(th, ret);
}

ASY_EXPORT int pthread_join(pthread_t th, void **ret)
{
	return join_until(th, ret, 0, CLOCK_REALTIME, NULL);
}

ASY_EXPORT int pthread_timedjoin_np(pthread_t th, void **ret, const struct timespec *t)
{
	return join_until(th, ret, 1, CLOCK_REALTIME, t);
}

ASY_EXPORT int pthread_clockjoin_np(pthread_t th, void **ret, clockid_t clk,
				    const struct timespec *t)
{
	return join_until(th, ret, 2, clk, t);
}

ASY_EXPORT int thrd_join(thrd_t th, int *res)
{
	void *r = NULL;
	int err = pthread_join((pthread_t)th, &r);
	if (res)
		*res = (int)(uintptr_t)r;
	return asy__thrd_answer(err);
}

/* ---- signal waits ---- */

typedef int (*sigtimed_fn)(const sigset_t *, siginfo_t *, const struct timespec *);
typedef int (*sigwait_fn)(const sigset_t *, int *);
typedef int (*siginfo_fn)(const sigset_t *, siginfo_t *);
REAL(sigtimedwait, sigtimed_fn)
REAL(sigwait, sigwait_fn)
REAL(sigwaitinfo, siginfo_fn)

/* sigtimedwait with a timeout of no time, parking while it says EAGAIN
 * (a signal is seen at the next look: the thread blocks those it waits
 * for, so they stay pending meanwhile), until `rel` (NULL: none) passes:
 * the signal's number, or -1 with errno.  -2: libc's own call. */
static int sig_until(const sigset_t *set, siginfo_t *info, const struct timespec *rel)
{
	void *self = asy__pin_self();
	if (!self || asy__coro_alone() ||
	    (rel && (rel->tv_sec < 0 || rel->tv_nsec < 0 || rel->tv_nsec >= 1000000000)))
		return -2;
	int64_t now0 = asy_now(), end = -1;
	/* past what the clock counts: as the kernel's, for ever */
	if (rel && rel->tv_sec < (INT64_MAX - now0) / 1000000000 - 1)
		end = now0 + (int64_t)rel->tv_sec * 1000000000 + rel->tv_nsec;
	static const struct timespec none = { 0, 0 };
	for (int64_t every = WAIT_FIRST_NS;; every = asy__pin_next(every)) {
		int e = errno;
		int r = get_sigtimedwait()(set, info, &none);
		if (r > 0)
			return r;
		if (errno != EAGAIN && errno != EINTR)
			return -1; /* EINVAL, EFAULT: the kernel's answer */
		errno = e;
		int64_t now = asy_now();
		if (end >= 0 && now >= end) {
			errno = EAGAIN;
			return -1;
		}
		if (asy__pin_park(self, end >= 0 && end - now < every ? end - now : every, 1) < 0)
			return -2;
	}
}

ASY_EXPORT int sigtimedwait(const sigset_t *restrict set, siginfo_t *restrict info,
			    const struct timespec *restrict t)
{
	int r = sig_until(set, info, t);
	return r != -2 ? r : get_sigtimedwait()(set, info, t);
}

ASY_EXPORT int sigwaitinfo(const sigset_t *restrict set, siginfo_t *restrict info)
{
	int r = sig_until(set, info, NULL);
	return r != -2 ? r : get_sigwaitinfo()(set, info);
}

/* sigwait: the signal in *sig and 0, or the error number (never EINTR). */
ASY_EXPORT int sigwait(const sigset_t *restrict set, int *restrict sig)
{
	siginfo_t si;
	int r = sig_until(set, &si, NULL);
	if (r == -2)
		return get_sigwait()(set, sig);
	if (r < 0)
		return errno;
	*sig = r;
	return 0;
}

