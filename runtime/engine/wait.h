/* The engine's waits (wait.c, ready.c): a coroutine's park until its op
 * completes, the scheduler's sleep and what wakes it — a worker's
 * completion, another thread's nudge, a signal handler — and the waits
 * other threads may end (a condition's signal, a lock's unlock).
 * Included by engine.h, after the structures it names. */
#ifndef ASY_WAIT_H
#define ASY_WAIT_H

/* runtime/engine/wait.c: park the calling coroutine until w completes or one of
 * the deadlines passes; see asy__op for the results. */
long asy__wait(struct asy_thread *t, struct asy_waiter *w, int64_t deadline);
/* A blocking stream call (a send, a write to a pipe or socket, a
 * MSG_WAITALL receive) that moved `done` bytes, before it waits for the
 * rest: 1 when a signal handler ran in the thread since it first moved
 * some, and then it returns `done`, as the kernel's call does with or
 * without SA_RESTART (coroutines: jump.c).  From the first such look on,
 * a handler's run ends the call's wait with EINTR. */
int asy__rest_interrupted(long done);
/* runtime/engine/ready.c: POLL and POLLSET ops of a threads-backend
 * scheduler, polled by its own thread.  submit: 1 when taken (else the
 * pool); cancel: 1 when it was one of these (now done); look: a poll(0)
 * when a busy scheduler looks for completions; sleep: 1 when the thread
 * waited in ppoll until an fd was ready or the deadline (0: its calls on
 * the pool need the futex sleep; take_all then hands the list over). */
int asy__ready_submit(struct asy_thread *t, struct asy_waiter *w);
int asy__ready_cancel(struct asy_thread *t, struct asy_waiter *w);
void asy__ready_look(struct asy_thread *t);
int asy__ready_sleep(struct asy_thread *t, int64_t deadline, unsigned seq);
struct asy_waiter *asy__ready_take_all(struct asy_thread *t);
void asy__ready_fini(struct asy_thread *t);

/* Every wait of the engine's own for readiness (ready.c, a worker's POLL
 * op) is a ppoll until an absolute deadline (-1 none, 0 do not wait)
 * that a stop cannot stretch: its timeout is handed to the kernel from a
 * read-only view of a page the thread writes through `rw` (struct
 * asy_ro_ts, engine.h).  The ppoll's answer, or -EINTR when a signal, or a
 * stop and continue, ended it. */
long asy__ppoll_until(struct asy_ro_ts *t, struct pollfd *p, unsigned n, int64_t deadline,
		      const uint64_t *mask); /* mask: the wait's signal mask, or NULL */
void asy__ro_ts_fini(struct asy_ro_ts *t);
/* In a fork child: the pages are the parent's (not mapped here). */
void asy__ro_ts_forget(struct asy_ro_ts *t);

/* The earliest of `deadline` and the running coroutine's I/O deadline. */
int64_t asy__wait_deadline(int64_t deadline);

/* A coroutine's park in a wait another thread may end (shim/slots.c: a
 * condition's signal, a lock's unlock): on its thread's list for the
 * park's length, with the word the waker sets (`mark`).  asy__nudge(t),
 * from any thread, wakes t's scheduler as a worker's completion does,
 * and the scheduler makes runnable the coroutines on the list whose mark
 * is set.  asy__listen returns the thread, or NULL (no engine memory: the
 * park ends at its time). */
struct asy_listener {
	struct asy_listener *next, *prev;
	void *coro;
	_Atomic int *mark;
	unsigned gen; /* t->gen when it began: a fork's child may have a new t there */
};
struct asy_thread *asy__listen(struct asy_listener *l, void *coro, _Atomic int *mark);
void asy__unlisten(struct asy_thread *t, struct asy_listener *l);
void asy__nudge(struct asy_thread *t);
/* Before a backend's scheduler sleeps while calls are out on workers or
 * listeners wait: look at t->wake_seq (still `seq`) for a moment, so that
 * an answer that comes at once costs neither a sleep nor a wake — nor the
 * waker a system call.  A worker's completion is looked for 10 µs; a
 * nudge 30 µs (make bench-handoff: with 10, half the answers at once
 * still found the scheduler asleep on this VM, whose wakes of a sleeping
 * CPU take 20–50 µs; with 30 the round trip's median is the old look's,
 * its 90th percentile a fifth of it). */
#define WAKE_SPIN_NS 10000
#define LISTEN_SPIN_NS 30000
void asy__wake_spin(struct asy_thread *t, unsigned seq, int64_t deadline);
/* A handler runs (wake_handler); the masked sleep (0: sleep with *old as the
 * mask, 1: no sleep, -1: not masked); a handler's look at its mask (wait.c). */
void asy__wake_handler(void);
int asy__sleep_mask(struct asy_thread *t, unsigned seq, uint64_t *old);
void asy__sleep_unmask(const uint64_t *old);
uint64_t *asy__sleep_old_take(void);
void asy__sleep_old_put(uint64_t *o);
/* The calling thread's listener on mark, if one is parked: runnable. */
void asy__listener_wake(_Atomic int *mark);
/* The calling thread's engine state when it is in use for this scheduler
 * run (not a fork's child's inherited one); never made here: NULL. */
struct asy_thread *asy__thread_now(void);
/* shim/slots.c: t is going away; no slot may name it any more, and when
 * its own thread ends (own), none of that thread's slots stays taken. */
void asy__sync_forget(struct asy_thread *t, int own);

/* A socket wait that poll calls ready while the call still would wait,
 * again and again: pause (growing, within `deadline` and the coroutine's
 * own).  0, or the call's answer after `done` bytes (wait.c). */
struct asy_again {
	int n;      /* such looks in a row */
	int64_t at; /* when the last one was */
};
long asy__pause_again(struct asy_again *a, int64_t deadline, long done);

#endif
