/* The io_uring backend: one ring per thread.
 *
 * Per-thread rings need no locks and keep every request owned by the
 * thread that waits for it, which is what the kernel's signal delivery
 * assumes: SIGPIPE from an inline or task-work write lands in the
 * submitting thread exactly as write() raises it (NOTES §2), and pending
 * requests die with their thread.  A ring is 8-28 KiB (NOTES §10).
 *
 * Completions are announced on the thread's eventfd (registered with the
 * ring), so the engine waits in read(2) on it: that restarts under
 * SA_RESTART and is a cancellation point, which io_uring_enter() is not
 * (NOTES §1). */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <liburing.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"

int asy__fd_own(int fd);

static struct io_uring *ring_of(struct asy_thread *t)
{
	return t->be_data;
}

static int uring_thread_init(struct asy_thread *t)
{
	struct io_uring *ring = mmap(NULL, sizeof *ring, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ring == MAP_FAILED)
		return -ENOMEM;
	unsigned flags = asy__cfg.sqpoll ? IORING_SETUP_SQPOLL : 0;
	int r = (int)asy_sys(SYS_eventfd2, 0, EFD_CLOEXEC, 0, 0, 0, 0);
	if (r < 0)
		goto out_unmap;
	t->efd = asy__fd_own(r);
	r = io_uring_queue_init(asy__cfg.queue_depth, ring, flags);
	if (r < 0)
		goto out_efd;
	/* Keep the ring's fd out of the program's way. */
	ring->ring_fd = ring->enter_ring_fd = asy__fd_own(ring->ring_fd);
	/* A forked child touching the parent's ring corrupts it (NOTES §4);
	 * without the mapping it cannot. */
	r = io_uring_ring_dontfork(ring);
	if (r < 0)
		goto out_exit;
	r = io_uring_register_eventfd(ring, t->efd);
	if (r < 0)
		goto out_exit;
	/* Lets the ring survive a program that closes every fd it does not
	 * know (close_range), NOTES §8.  Optional. */
	io_uring_register_ring_fd(ring);
	t->be_data = ring;
	t->id_fd = ring->ring_fd;
	return 0;
out_exit:
	io_uring_queue_exit(ring);
out_efd:
	asy_sys_close(t->efd);
	t->efd = -1;
out_unmap:
	munmap(ring, sizeof *ring);
	return r;
}

static void uring_thread_fini(struct asy_thread *t)
{
	struct io_uring *ring = ring_of(t);
	if (ring && !t->lost) {
		io_uring_queue_exit(ring);
		asy_sys_close(t->efd);
	} else if (ring) {
		/* Not ours any more: unmap, close nothing. */
		munmap(ring->sq.ring_ptr, ring->sq.ring_sz);
		if (ring->cq.ring_ptr != ring->sq.ring_ptr)
			munmap(ring->cq.ring_ptr, ring->cq.ring_sz);
		munmap(ring->sq.sqes, ring->sq.ring_entries * sizeof(struct io_uring_sqe));
	}
	if (ring)
		munmap(ring, sizeof *ring);
	t->be_data = NULL;
	t->efd = -1;
}

static void uring_thread_forget(struct asy_thread *t)
{
	struct io_uring *ring = ring_of(t);
	if (!ring)
		return;
	/* The ring's memory was not inherited (MADV_DONTFORK): only fds. */
	if (!t->lost) {
		asy_sys_close(ring->ring_fd);
		asy_sys_close(t->efd);
	}
	munmap(ring, sizeof *ring);
	t->be_data = NULL;
	t->efd = -1;
}

static struct io_uring_sqe *sqe_get(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

static void prep(struct io_uring_sqe *sqe, const struct asy_io *io)
{
	switch (io->op) {
	case ASY_OP_READ:
		io_uring_prep_readv(sqe, io->fd, io->iov, (unsigned)io->iovcnt, (__u64)io->off);
		sqe->rw_flags = io->rwflags;
		break;
	case ASY_OP_WRITE:
		io_uring_prep_writev(sqe, io->fd, io->iov, (unsigned)io->iovcnt, (__u64)io->off);
		sqe->rw_flags = io->rwflags;
		break;
	default:
		io_uring_prep_fsync(sqe, io->fd,
				    io->op == ASY_OP_FDATASYNC ? IORING_FSYNC_DATASYNC : 0);
	}
}

static int uring_submit(struct asy_thread *t, struct asy_waiter *w)
{
	struct io_uring *ring = ring_of(t);
	struct io_uring_sqe *sqe = sqe_get(ring);
	if (!sqe)
		return -EBUSY;
	prep(sqe, &w->io);
	io_uring_sqe_set_data(sqe, w);
	/* A coroutine's call waits for the scheduler's next wait, which
	 * submits everything queued in the same system call. */
	if (w->coro)
		return 0;
	int r;
	do
		r = io_uring_submit(ring);
	while (r == -EINTR || r == -EAGAIN || r == -EBUSY);
	return r < 0 ? r : 0;
}

static void uring_cancel(struct asy_thread *t, struct asy_waiter *w)
{
	struct io_uring *ring = ring_of(t);
	struct io_uring_sqe *sqe = sqe_get(ring);
	if (!sqe)
		return;
	io_uring_prep_cancel(sqe, w, 0);
	io_uring_sqe_set_data(sqe, NULL);
	int r;
	do
		r = io_uring_submit(ring);
	while (r == -EINTR || r == -EAGAIN || r == -EBUSY);
}

static void uring_reap(struct asy_thread *t)
{
	struct io_uring *ring = ring_of(t);
	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(ring, &cqe) == 0) {
		struct asy_waiter *w = io_uring_cqe_get_data(cqe);
		if (w) {
			/* Under SQPOLL the kernel thread wrote, and its SIGPIPE
			 * went nowhere (NOTES §2): the engine replays it. */
			if (asy__cfg.sqpoll && cqe->res == -EPIPE && w->io.op == ASY_OP_WRITE &&
			    (S_ISFIFO(w->fmt) || S_ISSOCK(w->fmt)))
				w->sigpipe = 1;
			asy__complete(w, cqe->res);
		}
		io_uring_cqe_seen(ring, cqe);
	}
}

static void uring_wait(struct asy_thread *t, int64_t deadline, unsigned seq)
{
	struct io_uring *ring = ring_of(t);
	struct io_uring_cqe *cqe;
	if (deadline == 0) {
		if (io_uring_sq_ready(ring))
			io_uring_submit(ring);
		return;
	}
	struct __kernel_timespec ts, *tsp = NULL;
	if (deadline > 0) {
		int64_t left = deadline - asy_now();
		if (left < 0)
			left = 0;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		tsp = &ts;
	}
	/* -EINTR, -ETIME: the scheduler looks at its timers again. */
	io_uring_submit_and_wait_timeout(ring, &cqe, 1, tsp, NULL);
}

static void uring_fork_child(void)
{
}

const struct asy_backend asy__backend_uring = {
	.name = "uring",
	.thread_init = uring_thread_init,
	.thread_fini = uring_thread_fini,
	.thread_forget = uring_thread_forget,
	.submit = uring_submit,
	.cancel = uring_cancel,
	.reap = uring_reap,
	.wait = uring_wait,
	.fork_child = uring_fork_child,
};
