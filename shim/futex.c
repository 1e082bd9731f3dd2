/* A library's own futex waits, between coroutines (the lock waits'
 * way of parking: pin.h). */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "engine.h"
#include "asyncify.h"
#include "coro.h"
#include "sys.h"
#include "pin.h"

/* GLib's GMutex, GCond and g_once, and others that build their locks on
 * the futex system call, wait in futex(FUTEX_WAIT) through syscall(): a
 * coroutine waiting there for a sibling that holds the lock held the
 * thread for good.  With siblings to run, the coroutine parks instead,
 * looking again with a wait of no time (the kernel reads the word and
 * says EAGAIN, EFAULT or EINVAL as it would), and returns 0, as woken,
 * once the word has changed or a wake made through syscall() (by any
 * thread) took it (FUTEX_WAKE, FUTEX_WAKE_BITSET: the slots below) or met
 * an address of its bucket (a requeue or FUTEX_WAKE_OP, or any wake while
 * a wait found no slot); ETIMEDOUT at its timeout.  Wakes are looked at
 * only while such a wait is on. */
#define WAKE_BUCKETS 64
static _Atomic unsigned wakes[WAKE_BUCKETS];
_Atomic int asy__futex_waiting;

static _Atomic unsigned *bucket(long uaddr)
{
	return &wakes[((unsigned long)uaddr >> 2) * 0x9E3779B97F4A7C15ull >> 58];
}

/* The waits parked here, by address and bitset: a FUTEX_WAKE or
 * FUTEX_WAKE_BITSET made through syscall() takes them after the kernel's
 * own waiters, up to its count, and answers with how many it woke, as
 * the kernel would have counted them queued there (a waker that wakes
 * until the answer says 1, as LTP's checkpoints do, gave up after 10 s).
 * Lock-free: a slot is free (0), being filled (1) or waiting (2). */
#define PARKED_MAX 64
static _Atomic int unparked; /* waits that found every slot taken */
static struct parked {
	_Atomic int state;
	_Atomic int taken; /* a wake counted it */
	_Atomic long uaddr;
	_Atomic unsigned bits;
} parked[PARKED_MAX];

static struct parked *park_on(long uaddr, unsigned bits)
{
	for (int i = 0; i < PARKED_MAX; i++) {
		int free_slot = 0;
		struct parked *p = &parked[i];
		if (!atomic_compare_exchange_strong(&p->state, &free_slot, 1))
			continue;
		atomic_store(&p->taken, 0);
		atomic_store(&p->uaddr, uaddr);
		atomic_store(&p->bits, bits);
		atomic_store(&p->state, 2);
		return p;
	}
	atomic_fetch_add(&unparked, 1);
	return NULL; /* full: woken by the word or a bucket only */
}

/* How many parked waits on uaddr a wake of up to `most` takes. */
static long take_parked(long uaddr, unsigned bits, long most)
{
	long n = 0;
	for (int i = 0; i < PARKED_MAX && n < most; i++) {
		struct parked *p = &parked[i];
		int no = 0;
		if (atomic_load(&p->state) == 2 && atomic_load(&p->uaddr) == uaddr &&
		    (atomic_load(&p->bits) & bits) && atomic_compare_exchange_strong(&p->taken, &no, 1))
			n++;
	}
	return n;
}

static long futex_wait(long uaddr, long op, long val, const struct timespec *t, long uaddr2,
		       long val3, struct parked **slot, int *unslotted)
{
	int cmd = (int)op & FUTEX_CMD_MASK;
	/* the end: a relative timeout on CLOCK_MONOTONIC for FUTEX_WAIT, an
	 * absolute one for FUTEX_WAIT_BITSET, on CLOCK_REALTIME if asked */
	clockid_t clk = cmd == FUTEX_WAIT_BITSET && (op & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME
									    : CLOCK_MONOTONIC;
	struct timespec end = { 0, 0 }, now;
	if (t && cmd == FUTEX_WAIT) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		end.tv_sec = now.tv_sec + t->tv_sec;
		end.tv_nsec = now.tv_nsec + t->tv_nsec;
		if (end.tv_nsec >= 1000000000)
			end.tv_sec++, end.tv_nsec -= 1000000000;
		if (t->tv_sec > LONG_MAX - now.tv_sec - 1)
			t = NULL; /* beyond what the clock can count: as the kernel's, for ever */
	} else if (t) {
		end = *t;
	}
	const struct timespec none = { 0, 0 }; /* relative: now; absolute: past */
	static int none_moved; /* the second word of the compare below */
	unsigned seen = atomic_load(bucket(uaddr));
	for (int64_t every = WAIT_FIRST_NS, first = 1;; first = 0) {
		/* The first look is the kernel's wait of no time (its answers:
		 * EAGAIN, EFAULT, EINVAL; 0 if a wake met it there), and the
		 * wait takes its slot after it.  The later looks compare the
		 * word without being queued (a compare-and-requeue of none): a
		 * wake that met this wait queued in the kernel and parked in
		 * its slot counted it twice (2 where a waker looked for 1). */
		long r = first ? asy_sys(SYS_futex, uaddr, op, val, (long)&none, uaddr2, val3)
			       : asy_sys(SYS_futex, uaddr, FUTEX_CMP_REQUEUE | (op & FUTEX_PRIVATE_FLAG),
					 0, 0, (long)&none_moved, val);
		if (first && r != -ETIMEDOUT)
			return r;
		if (!first && r != 0)
			return r == -EAGAIN ? 0 : r;
		if (first) {
			*slot = park_on(uaddr, cmd == FUTEX_WAIT ? ~0u : (unsigned)val3);
			*unslotted = !*slot;
		}
		if (atomic_load(bucket(uaddr)) != seen || (*slot && atomic_load(&(*slot)->taken)))
			return 0;
		if (t && asy__pin_passed(clk, &end))
			return -ETIMEDOUT;
		long p = asy__pin_park(asy__coro_self(), asy__pin_park_for(every, clk, t ? &end : NULL), 0, NULL);
		if (p)
			return p == LEFT ? LEFT : first ? ASY_PASS : 0;
		every = asy__pin_next(every);
	}
}

long asy__pin_futex(long uaddr, long op, long val, long tmo, long uaddr2, long val3)
{
	int cmd = (int)op & FUTEX_CMD_MASK;
	const struct timespec *t = (const struct timespec *)tmo;
	switch (cmd) {
	case FUTEX_WAKE_OP: /* the kernel's answer; the waits here look again */
	case FUTEX_REQUEUE:
	case FUTEX_CMP_REQUEUE:
		atomic_fetch_add(bucket(uaddr2), 1);
		if (atomic_load(&asy__futex_waiting))
			atomic_fetch_add(bucket(uaddr), 1);
		return ASY_PASS;
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		if (!atomic_load(&asy__futex_waiting))
			return ASY_PASS; /* the kernel's wake, for the waits in it */
		/* A bucket's wake is for the waits no slot counts: one it
		 * ended uncounted left the next wake nobody to wake. */
		if (atomic_load(&unparked))
			atomic_fetch_add(bucket(uaddr), 1);
		{
			long r = asy_sys(SYS_futex, uaddr, op, val, tmo, uaddr2, val3);
			/* FUTEX_WAKE wakes a wait of any bitset */
			if (r >= 0 && r < val)
				r += take_parked(uaddr, cmd == FUTEX_WAKE ? ~0u : (unsigned)val3,
						 val - r);
			return r;
		}
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		break;
	default:
		return ASY_PASS;
	}
	void *self = asy__pin_self();
	if (!self || asy__coro_alone() ||
	    (t && (t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000)))
		return ASY_PASS;
	/* The whole wait is one call of the coroutine's: a handler's jump is
	 * put off to its end (coro/jump.c), after the slot and the count are
	 * given back — one made from inside the looks left both behind, one
	 * more per jump, and a later wake counted the dead slot as a waiter
	 * it woke. */
	asy__coro_in_call(self, 1);
	atomic_fetch_add(&asy__futex_waiting, 1);
	struct parked *p = NULL;
	int unslotted = 0;
	long r = futex_wait(uaddr, op, val, t, uaddr2, val3, &p, &unslotted);
	if (p) {
		if (atomic_load(&p->taken)) /* a wake counted it: woken */
			r = 0;
		atomic_store(&p->state, 0);
	}
	if (unslotted)
		atomic_fetch_sub(&unparked, 1);
	atomic_fetch_sub(&asy__futex_waiting, 1);
	asy__coro_in_call(self, -1);
	errno = asy__coro_call_errno(self, errno);
	if (r == LEFT || asy__coro_jump_waits(self)) {
		asy__jump_due(); /* the handler's, from the call's frame */
		if (r == LEFT)
			r = 0; /* not made: a wake-up, as the kernel's may be */
	}
	return r;
}
