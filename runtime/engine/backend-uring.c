/* The io_uring backend: one ring per thread that runs coroutines.
 *
 * Per-thread rings need no locks and keep every request owned by the
 * thread that waits for it; pending requests die with their thread.  A
 * ring is 8-28 KiB (NOTES §10).  The ring holds no fd: its fd is
 * registered (io_uring_enter then takes the registered index) and closed
 * at once, so the program's fd numbers, its RLIMIT_NOFILE and a
 * close_range() never meet it.  Its memory is MADV_DONTFORK: a forked
 * child cannot corrupt the parent's ring (NOTES §4).
 *
 * The thread's calls that run on the worker pool (the file position,
 * RWF flags io_uring reads otherwise) wake it through a futex word; while
 * any is out, the ring's wait includes an IORING_OP_FUTEX_WAIT on that
 * word (6.7+), or, on older kernels, wakes every millisecond to look. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <liburing.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"

#define OP_FUTEX_WAIT    51  /* IORING_OP_FUTEX_WAIT, 6.7 */
#define FUTEX2_SIZE_U32  0x02
#define FUTEX2_PRIVATE   128
#define FUTEX_TAG        ((__u64)1) /* user_data of the futex wait */
#define SOCKOPT_TAG      ((__u64)2) /* user_data of a getsockopt before a RECV/SEND */
#define OP_URING_CMD     46 /* IORING_OP_URING_CMD, 5.19 */
#define SOCK_GETSOCKOPT  2  /* SOCKET_URING_OP_GETSOCKOPT, 6.7 */
#define POOL_LOOK_NS     1000000    /* without the futex op */
/* Only the thread that made the ring submits to it, and the work that
 * ends its ops (a socket receive once data came, a poll) runs when the
 * thread next enters the ring for completions, not on its way back to
 * user space from any system call (6.1+; NOTES §5: the cheapest mode).
 * The kernel's default runs that work as a signal-like notification,
 * which cost a sixth of a busy socket server's time here (get_signal and
 * the signal lock on every return from a system call). */
#define RING_FLAGS (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | \
		    IORING_SETUP_TASKRUN_FLAG)

struct ring {
	struct io_uring u;
	int futex_armed;
	struct asy_waiter *late; /* ops queued with learn() since the last wait */
};

static int futex_op = 1; /* cleared once the kernel refuses the op */
static int sockopt_op = 1; /* likewise for a socket's getsockopt op */

static struct ring *ring_of(struct asy_thread *t)
{
	return t->be_data;
}

static void ring_unmap(struct ring *ring);
static void ring_unregister(struct ring *ring);

static int nop_round_trip(struct io_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(u);
	struct io_uring_cqe *cqe;
	if (!sqe)
		return -EBUSY;
	io_uring_prep_nop(sqe);
	sqe->user_data = 0;
	int r;
	do
		r = io_uring_submit_and_wait(u, 1);
	while (r == -EINTR);
	if (r < 0)
		return r;
	if (io_uring_peek_cqe(u, &cqe) == 0)
		io_uring_cqe_seen(u, cqe);
	return 0;
}

static int uring_thread_init(struct asy_thread *t)
{
	struct ring *ring = asy__map(sizeof *ring);
	if (ring == MAP_FAILED)
		return -ENOMEM;
	memset(ring, 0, sizeof *ring);
	unsigned flags = asy__cfg.sqpoll ? IORING_SETUP_SQPOLL : RING_FLAGS;
	int r = io_uring_queue_init(asy__cfg.queue_depth, &ring->u, flags);
	if (r == -EINVAL && flags == RING_FLAGS) /* before 6.1 */
		r = io_uring_queue_init(asy__cfg.queue_depth, &ring->u, 0);
	if (r < 0)
		goto out_unmap;
	r = io_uring_ring_dontfork(&ring->u);
	if (r < 0)
		goto out_exit;
	/* Without a registered index the ring would need its fd: refuse,
	 * the pool needs none (io_uring_register_ring_fd: 5.18). */
	r = io_uring_register_ring_fd(&ring->u);
	if (r != 1) {
		r = r < 0 ? r : -EOPNOTSUPP;
		goto out_exit;
	}
	asy_sys_close(ring->u.ring_fd);
	ring->u.ring_fd = -1;
	/* A sandbox may allow the ring and refuse io_uring_enter (seccomp):
	 * find out now, with a NOP, rather than at a coroutine's call. */
	r = nop_round_trip(&ring->u);
	if (r < 0) {
		ring_unregister(ring);
		ring_unmap(ring);
		return r;
	}
	t->be_data = ring;
	return 0;
out_exit:
	io_uring_queue_exit(&ring->u);
out_unmap:
	asy__unmap(ring, sizeof *ring);
	return r;
}

/* Unmap the ring's memory; its fd is long closed.  The kernel drops the
 * ring with the registered index when the thread exits. */
static void ring_unmap(struct ring *ring)
{
	struct io_uring *u = &ring->u;
	munmap(u->sq.ring_ptr, u->sq.ring_sz);
	if (u->cq.ring_ptr != u->sq.ring_ptr)
		munmap(u->cq.ring_ptr, u->cq.ring_sz);
	munmap(u->sq.sqes, u->sq.ring_entries * sizeof(struct io_uring_sqe));
	asy__unmap(ring, sizeof *ring);
}

/* Unregister the index (IORING_REGISTER_USE_REGISTERED_RING, 6.3): the
 * ring goes away while the thread lives on. */
static void ring_unregister(struct ring *ring)
{
	struct io_uring_rsrc_update up = { .offset = (unsigned)ring->u.enter_ring_fd };
	asy_sys(SYS_io_uring_register, ring->u.enter_ring_fd,
		IORING_UNREGISTER_RING_FDS | (1U << 31), &up, 1, 0, 0);
}

static void uring_thread_fini(struct asy_thread *t)
{
	struct ring *ring = ring_of(t);
	if (!ring)
		return;
	ring_unregister(ring);
	ring_unmap(ring);
	t->be_data = NULL;
}

/* In a forked child: the ring's memory was not inherited, nor its
 * registered index (it belongs to the parent's task). */
static void uring_thread_forget(struct asy_thread *t)
{
	if (t->be_data)
		asy__unmap(t->be_data, sizeof(struct ring));
	t->be_data = NULL;
}

static void blank(void *p, size_t n)
{
	if (p && n)
		asy_sys(SYS_mmap, p, n, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
}

/* In a child a signal handler forked, about to return into what the
 * handler cut: liburing's wait among it, whose loop looks at the ring
 * again before it returns (an io_uring_enter that also submitted returns
 * its count, not EINTR).  The ring's memory is not mapped here: blank
 * pages in its place show that loop an empty ring, and its next
 * io_uring_enter fails (the registered index is the parent task's), so
 * it returns, and the engine sees the child (wait.c). */
static void uring_fork_cover(struct asy_thread *t)
{
	struct ring *ring = t->be_data;
	if (!ring)
		return;
	struct io_uring *u = &ring->u;
	blank(u->sq.ring_ptr, u->sq.ring_sz);
	if (u->cq.ring_ptr != u->sq.ring_ptr)
		blank(u->cq.ring_ptr, u->cq.ring_sz);
	blank(u->sq.sqes, u->sq.ring_entries * sizeof(struct io_uring_sqe));
}

static struct io_uring_sqe *sqe_get(struct ring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->u);
	if (!sqe) {
		io_uring_submit(&ring->u);
		sqe = io_uring_get_sqe(&ring->u);
	}
	return sqe;
}

static void prep(struct io_uring_sqe *sqe, const struct asy_io *io)
{
	switch (io->op) {
	case ASY_OP_READ:
		io_uring_prep_readv(sqe, io->fd, io->iov, (unsigned)io->iovcnt, (__u64)io->off);
		sqe->rw_flags = io->rwflags;
		/* A buffered read that missed the page cache: issued inline it
		 * would start readahead in io_uring_enter, and its wait-for-page
		 * retries would copy every byte in this thread's task work.
		 * An io-wq worker makes it as one blocking read. */
		if (io->flags & ASY_F_COLD)
			sqe->flags |= IOSQE_ASYNC;
		break;
	case ASY_OP_WRITE:
		io_uring_prep_writev(sqe, io->fd, io->iov, (unsigned)io->iovcnt, (__u64)io->off);
		sqe->rw_flags = io->rwflags;
		break;
	case ASY_OP_POLL:
		io_uring_prep_poll_add(sqe, asy__poll_fd(io), (unsigned)io->events);
		break;
	case ASY_OP_PIPE_READ: /* a pipe has no position: off -1 reads it */
		io_uring_prep_readv(sqe, io->fd, io->iov, (unsigned)io->iovcnt, (__u64)-1);
		break;
	case ASY_OP_PIPE_WRITE:
		io_uring_prep_writev(sqe, io->fd, io->iov, (unsigned)io->iovcnt, (__u64)-1);
		break;
	case ASY_OP_RECV:
		if (io->a[0])
			io_uring_prep_recvmsg(sqe, io->fd, (struct msghdr *)io->a[0],
					      (unsigned)io->rwflags);
		else
			io_uring_prep_recv(sqe, io->fd, io->one.iov_base, io->one.iov_len,
					   io->rwflags);
		break;
	case ASY_OP_SEND:
		if (io->a[0])
			io_uring_prep_sendmsg(sqe, io->fd, (const struct msghdr *)io->a[0],
					      (unsigned)io->rwflags);
		else
			io_uring_prep_send(sqe, io->fd, io->one.iov_base, io->one.iov_len,
					   io->rwflags);
		/* Just tried by the caller: wait for room first. */
		if (io->flags & ASY_F_POLL_FIRST)
			sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
		break;
	default:
		io_uring_prep_fsync(sqe, io->fd,
				    io->op == ASY_OP_FDATASYNC ? IORING_FSYNC_DATASYNC : 0);
	}
}

/* A POLLSET is one POLL_ADD per fd, all with the waiter as user_data;
 * the first completion cancels the others, the last one completes the
 * waiter (so nothing refers to it after it returns). */
static int submit_pollset(struct ring *ring, struct asy_waiter *w)
{
	unsigned n = 0;
	for (unsigned i = 0; i < w->io.npfd; i++)
		n += w->io.pfd[i].fd >= 0;
	if (n > io_uring_sq_space_left(&ring->u))
		io_uring_submit(&ring->u);
	if (n == 0 || n > io_uring_sq_space_left(&ring->u))
		return -EBUSY; /* more fds than the ring holds: the pool takes it */
	w->pending = n;
	w->fired = 0;
	for (unsigned i = 0; i < w->io.npfd; i++) {
		if (w->io.pfd[i].fd < 0)
			continue;
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->u);
		io_uring_prep_poll_add(sqe, w->io.pfd[i].fd, (unsigned)w->io.pfd[i].events);
		io_uring_sqe_set_data(sqe, w);
	}
	return 0;
}

/* getsockopt(fd, SOL_SOCKET, opt) into val, as an op (SOCKET_URING_OP_
 * GETSOCKOPT; the SQE fields of linux/io_uring.h 6.7: level and optname
 * share `addr`, optlen is `file_index`, optval is `addr3`). */
static void prep_getsockopt(struct io_uring_sqe *sqe, int fd, int opt, void *val, unsigned len)
{
	io_uring_prep_rw(OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = SOCK_GETSOCKOPT;
	sqe->addr = (__u64)SOL_SOCKET | (__u64)(unsigned)opt << 32;
	sqe->file_index = len;
	sqe->addr3 = (__u64)(uintptr_t)val;
	sqe->user_data = SOCKOPT_TAG;
	/* Its answer is in val; only a failure posts a completion (a
	 * kernel before 5.17 fails the flag itself: EINVAL, as below). */
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* A RECV or SEND reads the socket's options first, in the same submit:
 * a getsockopt op completes where it is issued, so the values are in
 * place before the RECV or SEND starts (the ring issues in order) and
 * before the submit returns.  Where the ring cannot, they stay -1. */
static int submit_sockopts(struct ring *ring, const struct asy_io *io)
{
	struct asy_sockopts *o = (struct asy_sockopts *)io->a[1];
	if (!o || !sockopt_op)
		return 0;
	if (io_uring_sq_space_left(&ring->u) < 3)
		io_uring_submit(&ring->u);
	if (io_uring_sq_space_left(&ring->u) < 3)
		return -EBUSY;
	int recv = io->op == ASY_OP_RECV;
	prep_getsockopt(io_uring_get_sqe(&ring->u), io->fd, recv ? SO_RCVTIMEO : SO_SNDTIMEO,
			o->timeo, sizeof o->timeo);
	if (recv)
		prep_getsockopt(io_uring_get_sqe(&ring->u), io->fd, SO_RCVLOWAT, &o->lowat,
				sizeof o->lowat);
	return 0;
}

static void *probe_main(void *arg)
{
	return arg;
}

/* Whether no thread can start now.  RLIMIT_NPROC counts the user's
 * threads, io-wq's workers too (root's are not counted); where io-wq can
 * start none, an op handed to it ends ECANCELED (uncancelled() makes it
 * here then) or, at a limit of 0, never ends.  A thread that exits at
 * once is the test, made at most once a second, and only under a finite
 * limit. */
static int threads_refused(void)
{
	static _Atomic int64_t at = -1;
	static _Atomic int refused;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NPROC, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || getuid() == 0)
		return 0;
	int64_t now = asy_now(), last = atomic_load_explicit(&at, memory_order_relaxed);
	if (last >= 0 && now - last < 1000000000LL)
		return atomic_load_explicit(&refused, memory_order_relaxed);
	pthread_t th;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&th, NULL, probe_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		asy__join(th, NULL);
	atomic_store_explicit(&refused, r == EAGAIN, memory_order_relaxed);
	atomic_store_explicit(&at, now, memory_order_relaxed);
	return r == EAGAIN;
}

/* Queued; the scheduler's next wait submits everything queued at once.
 * An op io-wq would make (a cold read, an fsync) where no thread can
 * start is refused: the pool makes it here (backend-threads.c). */
static int uring_submit(struct asy_thread *t, struct asy_waiter *w)
{
	if ((((w->io.flags & ASY_F_COLD) || w->detached) && w->io.op == ASY_OP_READ) ||
	    w->io.op == ASY_OP_FSYNC || w->io.op == ASY_OP_FDATASYNC)
		if (threads_refused())
			return -EAGAIN;
	if (w->io.op == ASY_OP_POLLSET)
		return submit_pollset(ring_of(t), w);
	if ((w->io.op == ASY_OP_RECV || w->io.op == ASY_OP_SEND) &&
	    submit_sockopts(ring_of(t), &w->io) < 0)
		return -EBUSY;
	struct io_uring_sqe *sqe = sqe_get(ring_of(t));
	if (!sqe)
		return -EBUSY;
	prep(sqe, &w->io);
	/* A read a deadline may leave behind (detach.c) runs whole in the
	 * kernel's own workers: a buffered read the ring finished by task
	 * work would be finished in this thread's wait, deadline or not. */
	if (w->detached && w->io.op == ASY_OP_READ)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data(sqe, w);
	if (w->learn) {
		w->late = 1;
		w->next = ring_of(t)->late;
		ring_of(t)->late = w;
	}
	return 0;
}

static void uring_cancel(struct asy_thread *t, struct asy_waiter *w)
{
	struct ring *ring = ring_of(t);
	atomic_store_explicit(&w->cancel, 1, memory_order_relaxed);
	struct io_uring_sqe *sqe = sqe_get(ring);
	if (!sqe)
		return;
	io_uring_prep_cancel(sqe, w, w->io.op == ASY_OP_POLLSET ? IORING_ASYNC_CANCEL_ALL : 0);
	io_uring_sqe_set_data(sqe, NULL);
	int r;
	do
		r = io_uring_submit(&ring->u);
	while (r == -EINTR || r == -EAGAIN || r == -EBUSY);
}

/* One fd's op of a POLLSET ended.  -EINVAL: the ring could not wait on
 * that file (a file with no poll of its own, not ready for what was
 * asked; a terminal whose wait could not be armed again after a wake-up):
 * the set ends with it, and the wait goes on a worker's poll() (asy__op). */
static void pollset_done(struct asy_thread *t, struct asy_waiter *w, long res)
{
	if (!w->fired) {
		w->fired = 1;
		w->first = res;
		if (w->pending > 1)
			uring_cancel(t, w);
	}
	if (--w->pending == 0)
		asy__complete_local(t, w, w->first);
}

/* Submit what is queued, and let the kernel finish what waits for the
 * thread's entry (task work), without waiting. */
static void submit_now(struct ring *ring)
{
	if (IO_URING_READ_ONCE(*ring->u.sq.kflags) & IORING_SQ_TASKRUN)
		io_uring_submit_and_get_events(&ring->u);
	else if (io_uring_sq_ready(&ring->u))
		io_uring_submit(&ring->u);
}

static void late_drop(struct ring *ring, struct asy_waiter *w)
{
	struct asy_waiter **pp = &ring->late;
	while (*pp != w)
		pp = &(*pp)->next;
	*pp = w->next;
	w->late = 0;
}

static void uring_reap(struct asy_thread *t);

/* Submit what is queued; the late ops among it that still wait learn
 * their deadlines (their coroutines are parked: each one's frame lives
 * until its completion, which the reap here or later delivers). */
static void late_submit(struct asy_thread *t, struct ring *ring)
{
	struct asy_waiter *late = ring->late, *w;
	ring->late = NULL;
	for (w = late; w; w = w->next)
		w->late = 0;
	submit_now(ring);
	uring_reap(t);
	for (w = late; w; w = w->next)
		if (!asy__waiter_done(w))
			asy__learn(t, w);
}

static void uring_flush(struct asy_thread *t)
{
	struct ring *ring = ring_of(t);
	if (io_uring_sq_ready(&ring->u))
		late_submit(t, ring);
}

/* An op of a file the ring hands to io-wq (a cold read, a write ext4
 * cannot try, an fsync) that ends ECANCELED with no cancel of ours:
 * io-wq could start no worker (RLIMIT_NPROC counts the user's threads)
 * and made nothing of it.  It is made here, as the program's own call,
 * rather than failing. */
static long uncancelled(struct asy_waiter *w, long res)
{
	if (res != -ECANCELED || atomic_load_explicit(&w->cancel, memory_order_relaxed))
		return res;
	switch (w->io.op) {
	case ASY_OP_READ: case ASY_OP_WRITE: case ASY_OP_FSYNC: case ASY_OP_FDATASYNC:
		return asy__run_here(w);
	default:
		return res;
	}
}

static void uring_reap(struct asy_thread *t)
{
	struct ring *ring = ring_of(t);
	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(&ring->u, &cqe) == 0) {
		if (cqe->user_data == FUTEX_TAG) {
			ring->futex_armed = 0;
			if (cqe->res == -EINVAL || cqe->res == -EOPNOTSUPP)
				futex_op = 0;
		} else if (cqe->user_data == SOCKOPT_TAG) {
			/* an unknown op or command (before 6.7); AF_UNIX
			 * sockets say EOPNOTSUPP: their calls read it then */
			if (cqe->res == -EINVAL)
				sockopt_op = 0;
		} else if (cqe->user_data) {
			struct asy_waiter *w = io_uring_cqe_get_data(cqe);
			if (w->late) /* submitted early, by a full ring or a cancel */
				late_drop(ring, w);
			if (w->io.op != ASY_OP_POLLSET)
				asy__complete_local(t, w, uncancelled(w, cqe->res));
			else
				pollset_done(t, w, cqe->res);
		}
		io_uring_cqe_seen(&ring->u, cqe);
	}
}

/* While calls are out on the pool, or coroutines listen for another
 * thread's nudge (wait.c), let a futex wake end the ring's wait.  Returns
 * the longest the wait may last (ns; -1 any). */
static int64_t pool_listen(struct asy_thread *t, struct ring *ring, unsigned seq)
{
	if (!t->pool_out && !t->listeners)
		return -1;
	if (!futex_op)
		return POOL_LOOK_NS;
	if (!ring->futex_armed) {
		struct io_uring_sqe *sqe = sqe_get(ring);
		if (!sqe)
			return POOL_LOOK_NS;
		io_uring_prep_rw(OP_FUTEX_WAIT, sqe, FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
				 (void *)&t->wake_seq, 0, seq);
		sqe->addr3 = 0xffffffffu;
		sqe->user_data = FUTEX_TAG;
		ring->futex_armed = 1;
	}
	return -1;
}

static void uring_wait(struct asy_thread *t, int64_t deadline, unsigned seq)
{
	struct ring *ring = ring_of(t);
	struct io_uring_cqe *cqe;
	if (ring->late) {
		/* Submitted apart from the wait: a late op's deadline must be
		 * known before the thread sleeps. */
		late_submit(t, ring);
		if (t->unparked || deadline == 0)
			return;
	}
	if (deadline == 0) {
		/* Completions wait in the kernel until the thread asks. */
		submit_now(ring);
		return;
	}
	if (t->listeners && atomic_load(&t->wake_seq) == seq) {
		/* another thread's answer may come at once: its nudge is
		 * looked for a moment before the sleep (what is queued goes
		 * to the kernel first) */
		submit_now(ring);
		if (!io_uring_cq_ready(&ring->u))
			asy__wake_spin(t, seq, deadline);
	}
	int64_t cap = pool_listen(t, ring, seq);
	if (cap >= 0 && (deadline < 0 || deadline > asy_now() + cap))
		deadline = asy_now() + cap;
	struct __kernel_timespec ts, zero = { 0, 0 }, *tsp = NULL;
	if (deadline > 0) {
		int64_t left = deadline - asy_now();
		if (left < 0)
			left = 0;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		tsp = &ts;
	}
	atomic_store(&t->sleeping, 1);
	/* A worker finished after seq was read: do not sleep. */
	if (atomic_load(&t->wake_seq) != seq)
		tsp = &zero;
	/* What is queued goes in first, in an enter of its own: one that
	 * submits and then waits returns the count it submitted when a
	 * handler cuts its wait, and liburing waits again — the handler's
	 * siglongjmp, asy_cancel() or cut of a call that moved part never
	 * reached the scheduler, which slept on.  An enter that only waits
	 * says -EINTR.  -EINTR, -ETIME: the scheduler looks again. */
	submit_now(ring);
	if (!(ring->u.flags & IORING_SETUP_SQPOLL) && io_uring_sq_ready(&ring->u))
		tsp = &zero; /* the submit failed (EAGAIN, EBUSY): no sleep, the scheduler tries again */
	uint64_t old;
	int masked = tsp == &zero ? 1 : asy__sleep_mask(t, seq, &old); /* wait.c */
	if (masked == 1)
		tsp = &zero;
	if (io_uring_wait_cqes(&ring->u, &cqe, 1, tsp, masked ? NULL : (sigset_t *)&old) == -EINTR)
		t->signals++;
	if (!masked)
		asy__sleep_unmask(&old);
	atomic_store(&t->sleeping, 0);
}

static void uring_fork_child(void)
{
}

const struct asy_backend asy__backend_uring = {
	.name = "uring",
	.via = ASY_VIA_URING,
	.thread_init = uring_thread_init,
	.thread_fini = uring_thread_fini,
	.thread_forget = uring_thread_forget,
	.submit = uring_submit,
	.flush = uring_flush,
	.cancel = uring_cancel,
	.reap = uring_reap,
	.wait = uring_wait,
	.fork_child = uring_fork_child,
	.fork_cover = uring_fork_cover,
};
