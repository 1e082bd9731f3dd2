/* The backend ops, one row each (the kernel's io_uring/opdef.c reads the
 * same way): what an op needs and which backend may run it.  Generic code
 * asks the row, never the op.
 *
 * Which backend runs a coroutine's op:
 *  - an op at the file position (offset -1) always runs on a worker, as
 *    the program's own call: the kernel then takes its file position lock,
 *    so two users of one open file — threads, dup'd fds, another process —
 *    never read the same bytes or overwrite each other's records.
 *    io_uring's offset -1 takes no such lock (NOTES §3);
 *  - an op whose row says `uring` runs on the thread's ring when the
 *    thread has one and the call's RWF flags mean the same there;
 *  - everything else runs on a worker. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>

#include "engine.h"
#include "asyncify.h"
#include "coro.h"

#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif

struct asy_opdef {
	const char *name;
	unsigned char uring;       /* io_uring has an op with the same meaning */
	unsigned char positional;  /* offset -1 means the file position */
	unsigned char file_write;  /* a write to a file: RLIMIT_FSIZE applies */
	unsigned char ring_only;   /* no other backend has it: the caller falls back */
	unsigned char now;         /* submitted at once: the kernel tries it in the
				    * calling coroutine's turn and takes the file then
				    * (unless the caller asks to learn its deadline
				    * later: asy_waiter.learn) */
};

static const struct asy_opdef opdefs[ASY_OP_COUNT] = {
	[ASY_OP_READ]      = { .name = "read",      .uring = 1, .positional = 1 },
	[ASY_OP_WRITE]     = { .name = "write",     .uring = 1, .positional = 1, .file_write = 1 },
	[ASY_OP_FSYNC]     = { .name = "fsync",     .uring = 1 },
	[ASY_OP_FDATASYNC] = { .name = "fdatasync", .uring = 1 },
	[ASY_OP_POLL]      = { .name = "poll",      .uring = 1 },
	[ASY_OP_POLLSET]   = { .name = "pollset",   .uring = 1 },
	[ASY_OP_RECV]      = { .name = "recv",      .uring = 1, .ring_only = 1, .now = 1 },
	[ASY_OP_SEND]      = { .name = "send",      .uring = 1, .ring_only = 1, .now = 1 },
	[ASY_OP_CALL]      = { .name = "call" },
	[ASY_OP_PIPE_READ] = { .name = "pipe read", .uring = 1, .ring_only = 1 },
	[ASY_OP_PIPE_WRITE]= { .name = "pipe write", .uring = 1, .ring_only = 1 },
};

/* RWF flags io_uring's READV/WRITEV take with the meaning preadv2 gives
 * them.  RWF_HIPRI is refused on a ring without IOPOLL; unknown flags
 * must get the kernel's own answer from the program's own call. */
#define URING_RWF (RWF_DSYNC | RWF_SYNC | RWF_APPEND | RWF_DONTCACHE)

static const struct asy_backend *op_backend(const struct asy_thread *t, const struct asy_io *io)
{
	const struct asy_opdef *d = &opdefs[io->op];
	if (t->be != &asy__backend_uring || !d->uring || (io->flags & ASY_F_POOL))
		return &asy__backend_threads;
	if (d->positional && (io->off < 0 || (io->rwflags & ~URING_RWF)))
		return &asy__backend_threads;
	return &asy__backend_uring;
}

/* A write that failed with EFBIG because it started at or past
 * RLIMIT_FSIZE raised SIGXFSZ in the kernel — in the task that made it,
 * an io_uring or pool worker, where nobody sees it.  The calling thread
 * gets it, as from its own write. */
static void fsize_signal(const struct asy_waiter *w, long res)
{
	if (res != -EFBIG || !opdefs[w->io.op].file_write)
		return;
	if (w->sigxfsz) {
		asy__raise_as_kernel(SIGXFSZ);
		return;
	}
	struct rlimit rl;
	if (w->be != &asy__backend_uring || getrlimit(RLIMIT_FSIZE, &rl) < 0 ||
	    rl.rlim_cur == RLIM_INFINITY)
		return;
	long pos = asy__write_end(&w->io, 0);
	if (pos >= 0 && (unsigned long long)pos >= rl.rlim_cur)
		asy__raise_as_kernel(SIGXFSZ);
}

int asy__op_start(struct asy_thread *t, struct asy_waiter *w, int64_t deadline)
{
	const struct asy_opdef *d = &opdefs[w->io.op];
	atomic_store_explicit(&w->done, 0, memory_order_relaxed);
	atomic_store_explicit(&w->cancel, 0, memory_order_relaxed);
	w->res = 0;
	w->sigxfsz = 0;
	w->kicked = 0;
	w->local = 0;
	w->abandoned = 0;
	w->on_list = 0;
	w->late = 0;
	w->learnt = -2;
	w->thread = t;
	w->coro = asy__coro_self();
	w->deadline = asy__wait_deadline(deadline);
	if (asy__forked_in_wait(t)) {
		/* A handler forked inside this call and this is the child
		 * (seen, or a `_Fork`'s not yet): the thread's ring and
		 * workers are the parent's.  The op is not started; its wait
		 * makes it here (wait.c, made_in_child), a ring's own op as
		 * well — a call's later op too, as a read's next look at a
		 * kept number (a child that parked on the parent's engine
		 * spun for ever). */
		w->be = NULL;
		return 0;
	}
	w->be = op_backend(t, &w->io);
	if (d->ring_only && w->be != &asy__backend_uring)
		return -EOPNOTSUPP;
	int r = w->be->submit(t, w);
	if (r < 0 && w->be != &asy__backend_threads && !d->ring_only) {
		/* The ring refused (a full SQ after a failed submit): the
		 * pool takes it. */
		ASY_COUNT(fallbacks);
		w->be = &asy__backend_threads;
		r = w->be->submit(t, w);
	}
	if (r < 0)
		return r;
	w->io.via = w->be->via;
	if (d->now && !w->learn) {
		/* Submitted and reaped here: the op took its file in this
		 * coroutine's turn, and an op the kernel finished at once
		 * never parks.  Its completion unparked nobody.  (One with
		 * learn goes in with the thread's next wait, in one system
		 * call with the other coroutines' ops.) */
		w->be->wait(t, 0, atomic_load(&t->wake_seq));
		w->be->reap(t);
		if (asy__waiter_done(w)) {
			t->unparked--;
			w->io.via = ASY_VIA_INLINE;
			ASY_COUNT(inline_done);
			return 0;
		}
	}
	ASY_COUNT(submitted);
	atomic_fetch_add_explicit(&asy__count.by_backend[w->be == &asy__backend_threads], 1,
				  memory_order_relaxed);
	return 0;
}

long asy__op_finish(struct asy_thread *t, struct asy_waiter *w, int64_t deadline)
{
	int pooled = w->be == &asy__backend_threads;
	if (!pooled)
		w->deadline = asy__wait_deadline(deadline); /* a worker may read it */
	t->pool_out += pooled; /* the ring's wait also listens for the pool */
	long res = asy__wait(t, w, deadline);
	if (!w->abandoned) /* else counted until its completion comes (wait.c) */
		t->pool_out -= pooled;
	fsize_signal(w, res);
	return res;
}

/* An op made by a coroutine already cancelled, or past its I/O
 * deadline, is not started: its wait would end at once, and whether a
 * worker took the op in that instant would decide whether it ran (a
 * cancelled coroutine's name lookup ran, or failed, by chance).  It ends
 * as an op cancelled before it started does.  (A RECV or SEND op, the
 * kernel's try in the coroutine's turn, is started by net-ring.c itself, as
 * the try of the threads backend is made.) */
long asy__op(struct asy_thread *t, struct asy_waiter *w, int64_t deadline)
{
	int r = asy__coro_ended();
	if (r < 0) {
		ASY_COUNT(interrupted);
		return r;
	}
	r = asy__op_start(t, w, deadline);
	long res = r < 0 ? r : asy__op_finish(t, w, deadline);
	/* A readiness wait the ring refused (POLL_ADD's EINVAL): a file with
	 * no poll of its own, not ready for what was asked, or one whose
	 * wait the kernel could not arm again after a wake-up that found
	 * nothing — a terminal whose settings changed (bash's fg restores
	 * them), which has a wait queue for each direction.  A worker's
	 * poll() has no such limit: the wait goes on there, to the same end. */
	if (res == -EINVAL && w->be == &asy__backend_uring &&
	    (w->io.op == ASY_OP_POLL || w->io.op == ASY_OP_POLLSET)) {
		w->io.flags |= ASY_F_POOL;
		r = asy__op_start(t, w, deadline);
		res = r < 0 ? r : asy__op_finish(t, w, deadline);
	}
	return res;
}

/* A wait by number whose number is closed without the shim seeing it (a
 * raw close, glibc's own) and taken by a file that never becomes ready
 * waited for ever; the kernel's call holds its file.  So such a wait looks
 * at its number at each whole second of asy_now() (the waits of a thread
 * end together: one wake-up), and ends as ready (POLLNVAL) once another
 * file is there — the caller's asy__keep_after() then says EBADF. */
#define LOOK_EVERY_NS 1000000000LL

long asy__wait_ready(struct asy_io *io, int fd, short events, int64_t deadline,
		     struct asy_keep *keep)
{
	struct asy_thread *t = asy__thread();
	if (!t)
		return ASY_PASS; /* no memory for the thread's state */
	for (;;) {
		int64_t until = deadline, look = -1;
		if (keep && keep->on && keep->id) {
			look = (asy_now() / LOOK_EVERY_NS + 1) * LOOK_EVERY_NS;
			if (until >= 0 && until <= look)
				look = -1;
			else
				until = look;
		}
		struct asy_waiter w = { .io = { .op = ASY_OP_POLL, .call = io->call, .fd = fd,
						.events = events,
						.held = keep && keep->on ? &keep->held : NULL } };
		long r = asy__op(t, &w, until);
		io->via = w.io.via;
		if (r != -ETIME || look < 0)
			return r;
		if (atomic_load_explicit(&keep->held, memory_order_acquire) < 0 &&
		    !asy__same_file(fd, keep->id))
			return POLLNVAL;
	}
}

/* A waiting call by fd number (asy__call_waits): the worker makes it on
 * the number's copy once there is one, read when it starts. */
struct kept_call {
	long (*fn)(void *, int);
	void *arg;
	int fd;
	struct asy_keep keep;
};

static long kept_call(void *arg)
{
	struct kept_call *c = arg;
	return c->fn(c->arg, asy__keep_fd(&c->keep, c->fd));
}

long asy__call_waits(struct asy_io *io, int fd, long (*fn)(void *, int), void *arg)
{
	struct asy_thread *t = asy__thread();
	if (!t)
		return ASY_PASS;
	struct kept_call c = { .fn = fn, .arg = arg, .fd = fd, .keep = { .fd = -1, .held = -1 } };
	asy__keep_now(&c.keep, fd);
	struct asy_waiter w = { .io = { .op = ASY_OP_CALL, .call = io->call, .flags = ASY_F_WAITS,
					.fn = kept_call, .arg = &c } };
	long r = asy__op(t, &w, -1);
	io->via = w.io.via;
	asy__keep_end(&c.keep);
	return r;
}
