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
 *    conditions): the coroutine takes a wait slot (slots.c), unlocks
 *    the mutex and parks until a pthread_cond_signal or _broadcast of
 *    that condition — by any thread or coroutine — marks its slot, or
 *    its timeout passes; then it locks the mutex again (as a coroutine
 *    locks: pin.c) and returns 0 or ETIMEDOUT, as glibc's.  A signal
 *    wakes the slot that came first, and only it: glibc's own waiters
 *    (plain threads) get the signals no slot takes, and every broadcast.
 *    A wake made in the coroutine's own thread makes it runnable at
 *    once; one from another thread nudges its thread.  A condition shared between processes (PTHREAD_PROCESS_SHARED),
 *    whose signals may come from another process, is glibc's own wait.
 *  - sem_wait and its timed forms: sem_trywait, parking while it says
 *    EAGAIN, with a slot a post of this process ends the park of (one
 *    from another process is seen at the next look); 0, or -1 with
 *    ETIMEDOUT.
 *  - pthread_join and its timed forms (and C11 thrd_join): glibc's join
 *    with a timeout already past, parking while it says ETIMEDOUT; its own
 *    answers for a joined, detached or the caller's own thread (ESRCH,
 *    EINVAL, EDEADLK) at once.
 *  - sigwait, sigwaitinfo, sigtimedwait: sigtimedwait with no time,
 *    parking while it says EAGAIN; the signals waited for are blocked in
 *    the thread, so one sent meanwhile stays pending for the next look.
 *  - pause, sigsuspend: parking until a handler has run on the thread.
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
#include "sys.h"

/* A timeout glibc waits for; any other it answers at once. */
static int waitable(clockid_t clk, const struct timespec *t)
{
	return (clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC) && t->tv_sec >= 0 &&
	       t->tv_nsec >= 0 && t->tv_nsec < 1000000000;
}

/* ---- conditions ---- */

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

/* A coroutine's condition wait is one call of its own: a handler's jump
 * is put off (coro/jump.c) wherever it lands.  One that landed inside
 * glibc's unlock or relock, or in the lock table's bookkeeping, left the
 * mutex locked by no thread or the table wrong, and the next lock of
 * every coroutine waited for ever (the thread runs this code just after
 * its signals are taken, where glibc's sleeps in the kernel).  It is made
 * from the wait itself with the mutex unlocked (jump_now), as glibc's
 * jump out of its futex wait leaves it, or at the end with the mutex
 * taken again, as one landing after glibc's relock does. */
static void jump_now(void *self)
{
	asy__coro_in_call(self, -1);
	asy__jump_due(); /* returns only if the jump is not to be made */
	asy__coro_in_call(self, 1);
}

static int cond_end(void *self, int r)
{
	asy__coro_in_call(self, -1);
	errno = asy__coro_call_errno(self, errno);
	if (asy__coro_jump_waits(self))
		asy__jump_due();
	return r;
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
	asy__coro_in_call(self, 1);
	struct asy_slot *s = asy__slot_take(c, 1);
	int r = pthread_mutex_unlock(m);
	int jumped = asy__coro_jump_waits(self);
	if (r || jumped) {
		if (s && asy__slot_leave(s))
			asy__slot_wake(c, 0); /* a signal it took goes to the next waiter */
		if (r)
			return cond_end(self, r);
		jump_now(self); /* the mutex unlocked, as a jump out of the wait leaves it */
		s = NULL; /* the jump was not to be made: woken */
	}
	int res = 0;
	for (int64_t every = WAIT_FIRST_NS; !jumped; every = asy__pin_next(every)) {
		if (s && asy__slot_stale(s)) {
			/* A fork's child (a handler's fork): the slot is the
			 * parent's, and the rest of the wait is glibc's own, as
			 * a thread's wait goes on in the child of its handler's
			 * fork (it ended as a spurious wake-up: 0 where glibc's
			 * timed out). */
			cond_end(self, 0);
			int lr = pthread_mutex_lock(m);
			return lr ? lr : cond_own(c, m, how, clk, until);
		}
		if (s && asy__slot_woken(s))
			break;
		if (how && asy__pin_passed(clk, until)) {
			res = ETIMEDOUT;
			break;
		}
		int p = asy__pin_park(self, asy__pin_park_for(every, clk, how ? until : NULL), 0, s);
		if (p == LEFT) {
			/* a handler's jump out of the wait: the mutex stays
			 * unlocked, as glibc's jump leaves it */
			if (s && asy__slot_leave(s))
				asy__slot_wake(c, 0);
			jump_now(self);
			s = NULL; /* the jump was not to be made: woken */
			break;
		}
		if (p < 0 || !s)
			break; /* can no longer park, or no slot: woken, spuriously */
	}
	/* Timed out as a signal took the slot: the signal is the answer. */
	if (s && asy__slot_leave(s))
		res = 0;
	int lr = pthread_mutex_lock(m);
	return cond_end(self, lr ? lr : res);
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
	if (asy__slot_maybe(c) && asy__slot_wake(c, 0))
		return 0;
	return get_pthread_cond_signal()(c);
}

ASY_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	if (asy__slot_maybe(c))
		asy__slot_wake(c, 1);
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
	struct asy_slot *slot = NULL;
	int r, slotted = 0;
	for (int64_t every = WAIT_FIRST_NS;;) {
		int e = errno;
		if (slot && asy__slot_stale(slot))
			slot = NULL; /* a fork's child: not this wait's any more */
		if (slot)
			asy__slot_rearm(slot);
		if ((r = get_sem_trywait()(s)) == 0 || errno != EAGAIN)
			break;
		errno = e;
		if (!slotted) {
			/* a post through the hooks ends the park: look again
			 * once the slot is there (a post may have come between) */
			slotted = 1;
			if ((slot = asy__slot_take(s, 1)))
				continue;
		}
		if (how && asy__pin_passed(clk, until)) {
			errno = ETIMEDOUT;
			r = -1;
			break;
		}
		int p = asy__pin_park(self, asy__pin_park_for(every, clk, how ? until : NULL), 0, slot);
		if (p == LEFT) {
			/* a post that marked it goes to the next waiter */
			int e = errno;
			if (slot && asy__slot_leave(slot))
				asy__slot_wake(s, 0);
			errno = e;
			slot = NULL;
			asy__jump_due(); /* returns only if the jump is not to be made */
		} else if (p < 0) {
			r = 1;
			break;
		} else if (p == 0) {
			every = asy__pin_next(every); /* a park that lasted its time */
		}
	}
	/* A post that marked this wait, which did not take it, goes to the
	 * next waiter. */
	if (slot) {
		int e = errno;
		if (asy__slot_leave(slot) && r != 0)
			asy__slot_wake(s, 0);
		errno = e;
	}
	return r == 1 ? sem_own(s, how, clk, until) : r;
}

REAL(sem_post, sem_fn)

/* A post ends the park of a coroutine waiting on s, any thread's (its
 * next look would see it).  Not from a handler the library runs, which
 * may have interrupted the scheduler (a wake makes a coroutine runnable
 * there): its next look sees it.  One it does not run finds the slots'
 * lock free: it is held with signals blocked (slots.c). */
ASY_EXPORT int sem_post(sem_t *s)
{
	int r = get_sem_post()(s);
	if (r == 0 && asy__slot_maybe(s) && !asy__in_handler)
		asy__slot_wake(s, 0);
	return r;
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
		if (asy__pin_park(self, asy__pin_park_for(every, clk, until), 1, NULL) < 0)
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
		if (asy__pin_park(self, end >= 0 && end - now < every ? end - now : every, 1, NULL) < 0)
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

/* pause and sigsuspend: the wait ends when a handler of the program has
 * run on the thread.  In a coroutine with siblings the coroutine parks
 * and looks at the handlers' count (a sibling's kill or pthread_kill, or
 * another thread's, lands while the thread runs or sleeps), sigsuspend's
 * mask being the thread's meanwhile — the siblings run under it too,
 * since coroutines share their thread's mask — and the old one back at
 * the end: -1 with EINTR, as the kernel's.  A mask glibc cannot read is
 * its own call's EFAULT.  -2: libc's own call. */
static int suspend(const sigset_t *mask, int is_pause)
{
	void *self = asy__pin_self();
	uint64_t m = 0, all = ~0ULL, prev;
	/* Only handlers the trampoline runs are counted: none under `off`,
	 * where nothing is wrapped (shim/signal.c). */
	if (!self || asy__coro_alone() || !asy__handlers_wrapped() ||
	    (!is_pause && (!mask || asy__copy_in(&m, mask, sizeof m) < 0)))
		return -2; /* glibc's own call: its EFAULT */
	/* A handler before the call does not end it: the count is read with
	 * every signal blocked, then the call's mask goes in (a signal it
	 * unblocks is taken then, and counts). */
	if (asy_sys(SYS_rt_sigprocmask, SIG_BLOCK, &all, &prev, 8, 0, 0) < 0)
		return -2;
	unsigned seen = asy__coro_handlers_count();
	m &= ~(1ULL << (SIGKILL - 1) | 1ULL << (SIGSTOP - 1)); /* as the kernel installs it */
	asy_sys(SYS_rt_sigprocmask, SIG_SETMASK, is_pause ? &prev : &m, NULL, 8, 0, 0);
	int r = -1;
	for (int64_t every = WAIT_FIRST_NS; asy__coro_handlers_count() == seen;
	     every = asy__pin_next(every))
		if (asy__pin_park(self, every, 1, NULL) < 0) {
			r = -2; /* no longer a coroutine that can park */
			break;
		}
	/* The mask from before goes back only where this call's is still
	 * the thread's: of two that overlap, the one that ends second finds
	 * the first one's restore and leaves it (its own restore would undo
	 * it); one left by a jump counts nothing that a later one could miss. */
	uint64_t cur;
	if (!is_pause && asy_sys(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &cur, 8, 0, 0) == 0 &&
	    cur == m)
		asy_sys(SYS_rt_sigprocmask, SIG_SETMASK, &prev, NULL, 8, 0, 0);
	if (r == -2)
		return -2;
	errno = EINTR;
	return -1;
}

typedef int (*sigsuspend_fn)(const sigset_t *);
typedef int (*pause_fn)(void);
REAL(sigsuspend, sigsuspend_fn)
REAL(pause, pause_fn)

ASY_EXPORT int sigsuspend(const sigset_t *mask)
{
	int r = suspend(mask, 0);
	return r != -2 ? r : get_sigsuspend()(mask);
}

ASY_EXPORT int __sigsuspend(const sigset_t *mask)
{
	return sigsuspend(mask);
}

/* sigpause: glibc's three names for it make its own sigsuspend inside,
 * with the set made here as glibc makes it — __sigpause(sig, 1) and
 * X/Open's __xpg_sigpause(sig) the thread's mask less sig (sigdelset's
 * EINVAL), __sigpause(mask, 0) and BSD's sigpause(mask) the bits of the
 * first 32 signals as the whole mask. */
ASY_EXPORT int __sigpause(int sig_or_mask, int is_sig)
{
	sigset_t set;
	if (is_sig) {
		if (pthread_sigmask(SIG_SETMASK, NULL, &set) != 0 ||
		    sigdelset(&set, sig_or_mask) < 0)
			return -1;
	} else {
		sigemptyset(&set);
		set.__val[0] = (unsigned int)sig_or_mask;
	}
	return sigsuspend(&set);
}

ASY_EXPORT int __xpg_sigpause(int sig)
{
	return __sigpause(sig, 1);
}

/* <signal.h> names X/Open's `sigpause`; the symbol is BSD's. */
ASY_EXPORT int asy__bsd_sigpause(int mask) __asm__("sigpause");
ASY_EXPORT int asy__bsd_sigpause(int mask)
{
	return __sigpause(mask, 0);
}

ASY_EXPORT int pause(void)
{
	int r = suspend(NULL, 1);
	return r != -2 ? r : get_pause()();
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

