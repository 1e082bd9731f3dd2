/* A coroutine's read or write of a kind of fd polled before its own call
 * (runtime/engine/fdkind.c: ASY_TRY_POLL): a tty, a character device, an
 * event fd.  rw.c's asy__rw() made the try and comes here when it would
 * wait: poll(0) says whether the call would wait, a POLL op waits until
 * it would not, and the call is then made as the program's own, in the
 * calling thread.  What poll() cannot tell is left to the call itself: a
 * write a poll may never call ready is the backend's WRITE op, a read
 * whose end poll cannot say (fdkind.h: read_call) waits on a worker of its
 * own, and a terminal's read or write that job control would stop goes to
 * the thread's own call (tty.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include "engine.h"
#include "fdkind.h"
#include "rw.h"
#include "sys.h"
#include "coro.h"

static long own_read(void *arg, int fd) /* on a worker, at the file position */
{
	const struct asy_io *io = arg;
	return asy_sys_preadv2(fd, io->iov, io->iovcnt, -1, io->rwflags);
}

/* A read poll() does not call ready, whose end poll() cannot say
 * (fdkind.h: read_call), waits itself, on a worker of its own, as a call
 * that waits for another call of the program: a deadline or asy_cancel()
 * interrupts it before a byte moved.  It raises no signal (a background
 * group's terminal read is the thread's own call). */
static long read_on_worker(struct asy_io *io)
{
	return asy__call_waits(io, io->fd, own_read, io);
}

static long polled_loop(struct asy_io *io, const struct asy_kind_def *k, const struct stat *id,
			struct asy_keep *keep)
{
	short ev = io->op == ASY_OP_READ ? POLLIN : POLLOUT;
	if (io->flags & ASY_F_EXPLICIT)
		return ASY_PASS;
	for (int first = 1;; first = 0) {
		struct pollfd p = { .fd = io->fd, .events = ev };
		if (asy_sys_poll(&p, 1, 0) != 0)
			return ASY_PASS;
		if (first) {
			long fl = asy_sys_fcntl(io->fd, F_GETFL, 0);
			if (fl < 0 || (fl & O_NONBLOCK) || asy__vec_total_safe(io) <= 0)
				return ASY_PASS;
			if (k->vmin && asy__tty_own(io->fd, io->op == ASY_OP_WRITE))
				return ASY_PASS;
			/* Not ready, by a poll that may never say so: the write
			 * itself, made by the backend, waits as the kernel's does. */
			if (io->op == ASY_OP_WRITE && k->write_op)
				return asy__coro_alone() ? ASY_PASS : asy__rw_op_rest(io, 0, ASY_OP_WRITE, 0, -1);
			/* A read whose end poll cannot tell (fdkind.h: read_call). */
			if (io->op == ASY_OP_READ && k->read_call) {
				if (asy__coro_alone())
					return ASY_PASS;
				long r = read_on_worker(io);
				/* Moved to the background as it waited (^Z, bg): the
				 * worker, which blocks SIGTTIN, was told EIO; the
				 * thread's own read raises it, as the program's. */
				if (r == -EIO && k->vmin && asy__tty_own(io->fd, 0))
					return ASY_PASS;
				return r;
			}
		}
		asy__keep_begin(keep, io->fd);
		long r = asy__wait_ready(io, io->fd, ev, -1, keep);
		if (r == ASY_PASS || r < 0)
			return r;
		/* Closed meanwhile: the copy of the file the close left, or
		 * the call ends (keep.c).  Not by inode: every eventfd,
		 * timerfd and inotify fd shares one. */
		int fd = asy__keep_after(keep, io->fd, id);
		if (fd < 0)
			return -EBADF;
		io->fd = asy__keep_fd(keep, fd);
		if (io->op == ASY_OP_WRITE && k->vmin && asy__tty_background(io->fd, 1))
			return asy__tty_write_moved(io); /* moved as it waited (tty.c) */
	}
}

/* A kind polled before its own call (a tty, a device, an event fd).
 * While it waits by number, the number is kept (keep.c): a close or dup2
 * over it leaves the call a copy of its file, on which the call is then
 * made, never on the file put at the number. */
long asy__rw_polled(struct asy_io *io, const struct asy_kind_def *k, const struct stat *id)
{
	struct asy_keep keep = { .fd = -1, .held = -1 };
	int fd = io->fd;
	long r = polled_loop(io, k, id, &keep);
	if (r == ASY_PASS && io->fd != fd)
		r = asy__rw_call_itself(io, io->off);
	io->fd = fd;
	asy__keep_end(&keep);
	return r;
}
