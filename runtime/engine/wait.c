/* Waiting for a backend's completion.  Only coroutines wait here (a plain
 * thread's call is the program's own call): the coroutine parks, the
 * scheduler runs the others and, when nothing can run, waits for the
 * whole thread in asy__engine_idle().
 *
 * A wait ended early — the coroutine's I/O deadline, asy_cancel(), or a
 * socket timeout — cancels the op and still waits for its completion, so
 * the kernel or a worker never writes into memory the coroutine no longer
 * owns, and a result that won the race (data that moved) is returned.
 * A detached op (detach.c: a file's read, write or fsync, whose memory is
 * the engine's) is abandoned instead: the coroutine goes on at once, the
 * waiter stays on the parked list, and its completion frees it. */
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <time.h>

#include "engine.h"
#include "spin.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

void asy__complete(struct asy_waiter *w, long res)
{
	w->res = res;
	atomic_store_explicit(&w->done, 1, memory_order_release);
}

static void parked_del(struct asy_thread *t, struct asy_waiter *w);

void asy__learn(struct asy_thread *t, struct asy_waiter *w)
{
	w->learnt = w->learn(w);
	if (w->learnt >= 0) {
		asy__coro_unpark(w->coro);
		t->unparked++;
	}
}

void asy__complete_local(struct asy_thread *t, struct asy_waiter *w, long res)
{
	asy__complete(w, res);
	parked_del(t, w);
	if (w->abandoned) {
		asy__detach_reap(t, w); /* its coroutine left at a deadline */
		return;
	}
	asy__coro_unpark(w->coro);
	t->unparked++;
}

/* A coroutine's waiter is on its thread's parked list while it waits; the
 * scheduler's thread looks there for finished ones.  Only the owning
 * thread touches the list, so completions from workers need no more than
 * the done flag. */
static void parked_add(struct asy_thread *t, struct asy_waiter *w)
{
	w->on_list = 1;
	w->pprev = NULL;
	w->pnext = t->parked;
	if (t->parked)
		t->parked->pprev = w;
	t->parked = w;
}

static void parked_del(struct asy_thread *t, struct asy_waiter *w)
{
	if (!w->on_list)
		return;
	w->on_list = 0;
	if (w->pprev)
		w->pprev->pnext = w->pnext;
	else
		t->parked = w->pnext;
	if (w->pnext)
		w->pnext->pprev = w->pprev;
}

/* Unpark the coroutines whose calls finished; how many.  The ring's
 * completions were unparked as they were reaped (asy__complete_local);
 * the list is looked through only for calls out on the pool. */
static int unpark_done(struct asy_thread *t)
{
	int n = t->unparked;
	t->unparked = 0;
	if (!t->pool_out)
		return n;
	for (struct asy_waiter *w = t->parked, *next; w; w = next) {
		next = w->pnext;
		if (!asy__waiter_done(w))
			continue;
		parked_del(t, w);
		if (w->abandoned) {
			t->pool_out--; /* asy__op_finish left it counted */
			asy__detach_reap(t, w);
			continue;
		}
		asy__coro_unpark(w->coro);
		n++;
	}
	return n;
}

/* ---- waits another thread may end ---- */

void asy__wake_spin(struct asy_thread *t, unsigned seq, int64_t deadline)
{
	int64_t until = asy_now() + (t->listeners ? LISTEN_SPIN_NS : WAKE_SPIN_NS);
	if (deadline > 0 && deadline < until)
		until = deadline; /* a timer due sooner is not made late */
	while (atomic_load_explicit(&t->wake_seq, memory_order_relaxed) == seq && asy_now() < until)
		for (int i = 0; i < 64; i++)
			asy__cpu_relax();
}

/* ---- a handler just before the sleep ----
 * A handler that runs after the scheduler's last look and before its
 * sleep (its asy_go, asy_cancel, put-off siglongjmp, or the cut of a call
 * that moved part) must end that sleep, or the thread sleeps on with a
 * coroutine runnable — for ever, with no timer and no op to end it.  So
 * every handler the trampoline runs moves its thread's wake count
 * (asy__wake_handler: the futex sleep of the threads backend then does
 * not start), and a sleep that can take a signal mask (io_uring_enter,
 * ppoll) is entered with every signal blocked until the kernel installs
 * the old mask for the wait, as pselect does: one that came just before
 * is then taken in the sleep, which ends with EINTR. */
void asy__wake_handler(void)
{
	struct asy_thread *t = asy__tls_thread;
	if (t)
		atomic_fetch_add_explicit(&t->wake_seq, 1, memory_order_relaxed);
}

/* The mask the sleep gives back, while it is on: a handler it takes is
 * shown that one in its context (the kernel's frame holds the
 * all-blocked one), and a change the handler makes there is what the
 * sleep gives back (shim/signal.c). */
static ASY_TLS uint64_t *sleep_old;

int asy__sleep_mask(struct asy_thread *t, unsigned seq, uint64_t *old)
{
	asy__mask_all(old);
	if (*old == ~0ULL)
		return -1;
	if (atomic_load(&t->wake_seq) == seq && !asy__coro_wake_pending()) {
		sleep_old = old;
		return 0;
	}
	asy__sleep_unmask(old);
	return 1;
}

void asy__sleep_unmask(const uint64_t *old)
{
	sleep_old = NULL;
	asy__unmask(old);
}

uint64_t *asy__sleep_old_take(void)
{
	uint64_t *o = sleep_old;
	sleep_old = NULL;
	return o;
}

void asy__sleep_old_put(uint64_t *o)
{
	sleep_old = o;
}

struct asy_thread *asy__thread_now(void)
{
	struct asy_thread *t = asy__tls_thread;
	if (!t || !t->be || asy__forked_in_wait(t) || asy__forked)
		return NULL;
	return t;
}

struct asy_thread *asy__listen(struct asy_listener *l, void *coro, _Atomic int *mark)
{
	struct asy_thread *t = asy__thread_now();
	if (!t)
		return NULL;
	l->coro = coro;
	l->mark = mark;
	l->gen = t->gen;
	l->prev = NULL;
	l->next = t->listeners;
	if (l->next)
		l->next->prev = l;
	t->listeners = l;
	return t;
}

void asy__unlisten(struct asy_thread *t, struct asy_listener *l)
{
	/* A handler forked during the park, and this is the child: its
	 * thread's state may have been made anew where t was (engine.c). */
	if (t != asy__tls_thread || t->gen != l->gen)
		return;
	if (l->prev)
		l->prev->next = l->next;
	else
		t->listeners = l->next;
	if (l->next)
		l->next->prev = l->prev;
}

void asy__listener_wake(_Atomic int *mark)
{
	/* A handler the library does not run (a sem_post in it) that
	 * interrupted the scheduler's own bookkeeping: the mark stays, and
	 * the park ends at its time. */
	if (asy__coro_busy())
		return;
	struct asy_thread *t = asy__thread_now();
	for (struct asy_listener *l = t ? t->listeners : NULL; l; l = l->next)
		if (l->mark == mark)
			asy__coro_unpark(l->coro);
}

/* The caller keeps t mapped (slots.c: t->refs, taken under its lock);
 * the mark it set comes first. */
void asy__nudge(struct asy_thread *t)
{
	atomic_store(&t->nudged, 1);
	asy__thread_wake(t);
}

/* A nudge came: the listeners whose mark is set are made runnable (their
 * parks end as unparked). */
static int unpark_listeners(struct asy_thread *t)
{
	int n = 0;
	if (!atomic_load_explicit(&t->nudged, memory_order_relaxed) ||
	    !atomic_exchange(&t->nudged, 0))
		return 0;
	for (struct asy_listener *l = t->listeners; l; l = l->next)
		if (atomic_load(l->mark)) {
			asy__coro_unpark(l->coro);
			n++;
		}
	return n;
}

/* Reap every backend the thread's calls may be on. */
static void reap_all(struct asy_thread *t)
{
	t->be->reap(t);
	if (t->be != &asy__backend_threads)
		asy__backend_threads.reap(t);
}

/* A handler that ran in the wait forked, and this is the child: the
 * thread's ring and workers are the parent's (the ring's memory is not
 * even mapped here), so nothing of them is looked at again. */
int asy__forked_in_wait(const struct asy_thread *t)
{
	return t->gen != atomic_load(&asy__fork_gen) || asy__fork_unseen();
}

int asy__engine_idle(int64_t deadline)
{
	struct asy_thread *t = asy__tls_thread;
	if (asy__fork_unseen())
		return 0; /* the scheduler makes the child its own first (sched.c) */
	if (!t || !t->be || t->gen != atomic_load(&asy__fork_gen)) {
		if (deadline > 0)
			asy_sys_sleep_until(deadline);
		return 0;
	}
	int saved = errno;
	asy__depth++;
	if (t->pool_kick)
		asy__pool_kick(t);
	unsigned seq = atomic_load(&t->wake_seq); /* before looking: no lost wake-up */
	unsigned signals = t->signals;
	reap_all(t);
	int n = unpark_done(t) + unpark_listeners(t);
	if (!n && t->detach_trim)
		asy__detach_trim(t);
	if (n || asy__coro_wake_pending()) { /* a handler's, since the scheduler looked */
		t->be->wait(t, 0, seq);
	} else {
		/* deadline 0, a look: what the wait ran (io_uring's deferred
		 * task work) may have finished ops */
		t->be->wait(t, deadline, seq);
		if (asy__forked_in_wait(t)) {
			asy__depth--;
			errno = saved;
			return 0;
		}
		reap_all(t);
		n = unpark_done(t) + unpark_listeners(t);
	}
	/* a handler ran: calls that moved part end (a handler the
	 * trampoline ran counted itself; another shows as the wait's EINTR) */
	int counted = asy__coro_handlers_new();
	if (counted || t->signals != signals)
		asy__coro_signalled(!counted);
	asy__depth--;
	errno = saved;
	return n;
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int64_t asy__wait_deadline(int64_t deadline)
{
	return earliest(asy__coro_io_deadline(), deadline);
}

#define KICK_FIRST_NS 200000LL
#define KICK_MAX_NS 16000000LL
/* A detached waiting call the signal has not ended this long after the
 * first kick is one the disk holds, and is left behind.  Not sooner: a
 * worker the signal woke may wait that long for a CPU on a busy machine,
 * and an open of a FIFO left behind is a reader a writer's open finds. */
#define GIVE_UP_NS 200000000LL

/* The coroutine goes on without its detached op: the op stays on the
 * parked list, and whoever sees it done frees it (above). */
static long abandon(struct asy_waiter *w, int depth, long r)
{
	w->abandoned = 1;
	ASY_COUNT(interrupted);
	asy__depth = depth;
	return r;
}

/* ppoll until `until` (-1: no end) as one call: a handler's EINTR
 * goes on waiting, as the engine's own wait does. */
static long child_ppoll(struct pollfd *p, unsigned n, int64_t until)
{
	for (;;) {
		struct timespec ts, *tp = NULL;
		if (until >= 0) {
			int64_t left = until - asy_now();
			left = left < 0 ? 0 : left;
			ts = (struct timespec){ left / 1000000000, left % 1000000000 };
			tp = &ts;
		}
		long r = asy_sys(SYS_ppoll, p, n, tp, NULL, 8, 0);
		if (r != -EINTR || asy__coro_ended())
			return r;
	}
}

/* A signal handler forked as the thread waited for every coroutine, and
 * this coroutine's call is the one it stood in: in the child it alone
 * goes on (sched.c, asy__coro_fork_child), as a thread does that returns
 * from its handler into its system call.  Its op is the parent's — on
 * the parent's ring (not even mapped here) or with a worker the child
 * does not have — so the op is made here, as one blocking system call
 * of the child's own; a signal's EINTR goes on waiting, as the engine's
 * wait does (README, signals in coroutines), unless the handler
 * cancelled the coroutine or jumped into its call, which ends it as a
 * park would.  Until `until` for a readiness wait; `sock_first`: the
 * socket's timeout ends it first. */
static long made_in_child(struct asy_waiter *w, int64_t until, int sock_first)
{
	const struct asy_io *io = &w->io;
	long r;
	int ended = 0;
	do {
		switch (io->op) {
		case ASY_OP_POLL: {
			struct pollfd p = { .fd = asy__poll_fd(io), .events = (short)io->events };
			r = child_ppoll(&p, 1, until);
			if (r > 0)
				return p.revents;
			break;
		}
		case ASY_OP_POLLSET:
			r = child_ppoll(io->pfd, io->npfd, until);
			break;
		case ASY_OP_PIPE_READ:
			r = asy_sys(SYS_readv, io->fd, io->iov, io->iovcnt, 0, 0, 0);
			break;
		case ASY_OP_PIPE_WRITE:
			r = asy_sys(SYS_writev, io->fd, io->iov, io->iovcnt, 0, 0, 0);
			break;
		case ASY_OP_RECV:
			r = io->a[0] ? asy_sys(SYS_recvmsg, io->fd, io->a[0], io->rwflags, 0, 0, 0) :
				       asy_sys(SYS_recvfrom, io->fd, io->one.iov_base, io->one.iov_len,
					       io->rwflags, 0, 0);
			break;
		case ASY_OP_SEND:
			r = io->a[0] ? asy_sys(SYS_sendmsg, io->fd, io->a[0], io->rwflags, 0, 0, 0) :
				       asy_sys(SYS_sendto, io->fd, io->one.iov_base, io->one.iov_len,
					       io->rwflags, 0, 0);
			break;
		default:
			r = asy__run_here(w);
		}
	} while (r == -EINTR && !(ended = asy__coro_ended()));
	if (r == -EINTR) /* a cancel, a jump put off until the call ends, the deadline */
		return ended;
	if (r == 0 && (io->op == ASY_OP_POLL || io->op == ASY_OP_POLLSET))
		return sock_first ? -ETIME : -ETIMEDOUT; /* as a park that timed out */
	if (r == -EAGAIN && (io->op == ASY_OP_RECV || io->op == ASY_OP_SEND))
		return -ETIME; /* the socket's timeout, as the ring's op ends at it */
	return r;
}

/* The call's own deadline (a socket's timeout) comes before the
 * coroutine's I/O deadline. */
static int sock_first(int64_t deadline, int64_t io_deadline)
{
	return deadline >= 0 && (io_deadline < 0 || deadline < io_deadline);
}

long asy__wait(struct asy_thread *t, struct asy_waiter *w, int64_t deadline)
{
	int64_t io_deadline = asy__coro_io_deadline();
	int64_t until = earliest(io_deadline, deadline);
	if (!w->be) /* not started: a fork's child (opdef.c, asy__op_start) */
		return made_in_child(w, until, sock_first(deadline, io_deadline));
	int r = 0;
	int depth = asy__depth;
	asy__depth = 0; /* other coroutines use the engine while this one waits */
	parked_add(t, w);
	while (!asy__waiter_done(w)) {
		r = asy__coro_park(until, 1);
		if (!asy__waiter_done(w) && t->gen != atomic_load(&asy__fork_gen)) {
			asy__depth = depth;
			return made_in_child(w, until, sock_first(deadline, io_deadline));
		}
		if (r == 0 && deadline < 0 && w->learnt >= 0) {
			/* in the kernel now, and its end is known (asy__learn) */
			deadline = w->learnt;
			until = earliest(io_deadline, deadline);
			continue;
		}
		if (r < 0 && !asy__waiter_done(w) && w->detached && !(w->io.flags & ASY_F_WAITS)) {
			w->be->cancel(t, w); /* may end it sooner; nothing waits for it */
			if (!asy__waiter_done(w))
				return abandon(w, depth, r);
			break;
		}
		if (r < 0 && !asy__waiter_done(w)) {
			w->be->cancel(t, w);
			/* A worker's waiting call is ended by a signal, which may
			 * have come just before its system call began: send it
			 * again until the call has returned (backend-threads.c). */
			int kick = w->io.op == ASY_OP_CALL && (w->io.flags & ASY_F_WAITS) &&
				   w->be == &asy__backend_threads;
			int64_t every = KICK_FIRST_NS;
			/* One that the signal does not end soon (an open the
			 * disk holds) is left behind if it can be — only once
			 * the signal was sent: one that never gets it (no
			 * ASYNCIFY_SIGNAL) would go on waiting for a peer. */
			int64_t give_up = w->detached ? asy_now() + GIVE_UP_NS : -1;
			while (!asy__waiter_done(w)) {
				int64_t until = kick ? asy_now() + every : -1;
				if (give_up >= 0 && w->kicked && (until < 0 || until > give_up))
					until = give_up;
				if (give_up >= 0 && w->kicked && asy_now() >= give_up)
					return abandon(w, depth, r);
				int p = asy__coro_park(until, 0);
				if (!asy__waiter_done(w) && t->gen != atomic_load(&asy__fork_gen)) {
					asy__depth = depth; /* a child's: it ends as it was ending */
					return r;
				}
				if (p < 0 && !asy__waiter_done(w)) {
					w->be->cancel(t, w);
					every = every < KICK_MAX_NS ? every * 2 : KICK_MAX_NS;
				}
			}
			break;
		}
	}
	parked_del(t, w);
	asy__depth = depth;
	if (r == 0 && w->res == -ETIME)
		r = -ETIMEDOUT; /* the backend ended the op at w->deadline itself */
	/* Ended early, and nothing moved: a POLL or POLLSET moves nothing ever. */
	if (r < 0 && (w->io.op == ASY_OP_POLL || w->io.op == ASY_OP_POLLSET || w->res == -ECANCELED ||
		      w->res == -EINTR)) {
		ASY_COUNT(interrupted);
		/* The socket's own timeout came first: the kernel's answer. */
		if (r == -ETIMEDOUT && deadline >= 0 && (io_deadline < 0 || deadline < io_deadline))
			return -ETIME;
		return r;
	}
	return w->res;
}

int asy__rest_interrupted(long done)
{
	return done > 0 && asy__coro_moved();
}

/* Called ready, yet the call would wait, a second time or more in a row:
 * a wait poll cannot express (an unconnected datagram socket whose
 * receiver is full; a socket whose error queue keeps POLLERR up).  The
 * next look comes after a pause growing from 50 µs to 3.2 ms, within the
 * call's deadline and the coroutine's.  A look that comes long after the
 * last one had a real wait between them: the pauses start again.  0, or
 * the call's answer. */
long asy__pause_again(struct asy_again *a, int64_t deadline, long done)
{
	int64_t now = asy_now();
	if (now - a->at > 5000000)
		a->n = 0;
	a->at = now;
	if (++a->n < 2)
		return 0;
	int64_t until = now + (50000LL << (a->n < 8 ? a->n - 2 : 6));
	int64_t io = asy__coro_io_deadline();
	if (deadline >= 0 && deadline < until)
		until = deadline;
	if (io >= 0 && io < until)
		until = io;
	int r = asy__park(until); /* -ETIMEDOUT when `until` came */
	now = a->at = asy_now();
	if (deadline >= 0 && now >= deadline)
		return done ? done : -EAGAIN;
	if (r == -ECANCELED || (io >= 0 && now >= io))
		return done ? done : r == -ECANCELED ? r : -ETIMEDOUT;
	return 0;
}
