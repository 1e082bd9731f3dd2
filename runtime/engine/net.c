/* Socket calls inside coroutines: the recv and send families.
 *
 * Under uring a receive, and a send whose try would wait, go on as RECV
 * and SEND ops on the thread's ring (net-ring.c).  Otherwise the shape is
 * rw.c's: the program's own call, made in the calling thread with
 * MSG_DONTWAIT added, is the answer whenever it does not say "would
 * wait" — so data, ancillary data, addresses, msg_flags,
 * SIGPIPE and every error come from the kernel to the calling thread,
 * exactly once.  When it would wait on a blocking socket, a POLL op waits
 * for readiness (the others run meanwhile) and the call is made again:
 *
 *  - recv: one transfer, except MSG_WAITALL and SO_RCVLOWAT on a stream,
 *    which go on into the rest of the buffer until the kernel's blocking
 *    call would have returned (full, the low-water mark, EOF, error);
 *  - send: a stream moves everything before it returns (the rest goes
 *    with MSG_NOSIGNAL once bytes moved, as the kernel's one call raises
 *    no SIGPIPE then); a datagram is one call or none;
 *  - recvmmsg/sendmmsg: message by message (net-mmsg.c); accept and
 *    connect: net-conn.c.
 *
 * SO_RCVTIMEO / SO_SNDTIMEO end a wait as the kernel's timeout does (EAGAIN,
 * or what moved; connect: EINPROGRESS), and so does a handler once part
 * moved (asy__rest_interrupted).  A call that never waits (MSG_DONTWAIT, a
 * non-blocking socket, MSG_ERRQUEUE) is the program's own call. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "engine.h"
#include "net.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"
#include "net-xfer.h"

/* ---- waiting with a POLL op ------------------------------------------- */

/* Wait for the socket: 0 when it may be ready (*hup: it hung up or
 * failed), -ETIME when a receive's or unix send's timeout passed (one more
 * try says: net-ends.c), else the call's answer.  The number is kept: if
 * another thread closed it, x->fd becomes the copy its close left. */
static long wait_sock(struct asy_io *io, struct xfer *x, const struct stat *id,
		      int64_t deadline, long done, int *hup, struct asy_keep *keep)
{
	asy__keep_begin(keep, x->fd);
	/* A unix send waits in slices: no poll bit says that the peer shut
	 * its reading side, which ends the kernel's wait with EPIPE; the
	 * call after each slice does. */
	int64_t until = x->unix_send ? asy__slice_end(deadline) : deadline;
	long r = asy__wait_ready(io, x->fd, x->reading ? POLLIN | POLLRDHUP : POLLOUT, until,
				 keep);
	if (r == -ETIME && until != deadline)
		r = 0; /* the slice's end: look */
	else if (r == -ETIME)
		return x->reading || x->unix_send ? -ETIME : done ? done : -EAGAIN;
	if (r == ASY_PASS)
		return done ? done : -ENOMEM;
	if (r < 0)
		return done ? done : r;
	/* POLLERR alone is no hang-up: an error would be the call's answer,
	 * so it is the error queue, which keeps it up (asy__pause_again). */
	*hup = (r & (POLLHUP | POLLRDHUP | POLLNVAL)) != 0;
	int fd = asy__keep_after(keep, x->fd, id);
	if (fd < 0)
		return done ? done : -EBADF;
	if (fd != x->fd)
		x->fd = fd, *hup = 0;
	return 0;
}

/* The rest of xfer(): wait by number (no ring), then call again.  A TCP
 * send's SO_SNDTIMEO is one budget from `start` (sk_stream_wait_memory). */
static long poll_loop(struct asy_io *io, struct xfer *x, size_t done, size_t want, size_t total,
		      int64_t start, struct asy_keep *keep)
{
	struct stat id;
	if (asy_sys(SYS_fstat, x->fd, &id, 0, 0, 0, 0) < 0)
		return done ? (long)done : ASY_PASS;
	int64_t deadline = asy__sock_deadline(x->fd, x->reading, start);
	struct asy_again again = { 0, 0 };
	keep->id = &id; /* for the waits below only */
	x->unix_send = !x->reading && asy__unix_socket(x->fd);
	int unix_sock = x->reading ? -1 : x->unix_send;
	for (;;) {
		int hup = 0;
		long cr = cut(x, done);
		if (cr)
			return cr;
		long w = wait_sock(io, x, &id, deadline, (long)done, &hup, keep);
		if (w == -ETIME && x->reading)
			return recv_timeout(x, done);
		if (w && w != -ETIME)
			return w;
		if (asy__rest_stops(x->fd, x->reading, done, &unix_sock))
			return (long)done;
		/* Once bytes moved, a stream send raises no SIGPIPE (the
		 * kernel's one call returns the count then). */
		x->fd = asy__keep_fd(keep, x->fd);
		int64_t tried = asy_now();
		long r = xfer_try(x, done, x->flags | (x->reading ? 0 : MSG_NOSIGNAL));
		if (!x->reading)
			r = asy__send_ended(x->fd, x->flags, r, done);
		if (w == -ETIME && r <= 0) /* a unix send's last try */
			return done ? (long)done : r;
		/* Hung up, yet "would wait": a shut-down datagram socket, whose
		 * blocking receive returns 0 at once.  The program's own call
		 * answers (it does not wait). */
		if (r == -EAGAIN && hup)
			return done ? (long)done : ASY_PASS;
		if (r == -EAGAIN && (w = asy__pause_again(&again, deadline, (long)done)) != 0)
			return w;
		if (r == -EAGAIN)
			continue;
		if (r < 0)
			return done ? (long)done : r;
		if (!done && r > 0) {
			total = xfer_total(x);
			if ((size_t)r < total)
				want = x->reading ? recv_target(x, total, -1) : total;
		}
		done += (size_t)r;
		if (r == 0 || done >= want || done >= total)
			return (long)done;
		if (x->unix_send) /* the rest waits with a timeout of its own */
			deadline = asy__sock_deadline(x->fd, 0, asy_now());
		else if (deadline >= 0) /* the kernel's budget counts its waits only */
			deadline += asy_now() - tried;
	}
}

/* A blocking receive whose answer looks and waits cannot give is the
 * kernel's own call, on a worker of its own: a peek with MSG_WAITALL,
 * one short of TCP's SO_RCVLOWAT mark (peek_target), any peek of a socket
 * with a peek offset (SO_PEEK_OFF: each look that finds bytes moves it,
 * and poll calls ready while nothing is queued past it); a stream's
 * receive with a control buffer that goes on (MSG_WAITALL, SO_RCVLOWAT):
 * the kernel's loop stops after passed fds, and at another writer's
 * bytes under SO_PASSCRED, which a continuation cannot see (it would
 * drop the fds).  A deadline or asy_cancel() interrupts it: a peek took
 * nothing, and a receive's count is what moved. */
static int recv_own(const struct xfer *x, int *lowat)
{
	if (x->flags & MSG_PEEK)
		return (x->flags & MSG_WAITALL) || asy__sockopt_int(x->fd, SO_PEEK_OFF) >= 0;
	if (!asy__control_len(x->msg) ||
	    (!(x->flags & MSG_WAITALL) && (*lowat = asy__sockopt_int(x->fd, SO_RCVLOWAT)) <= 1))
		return 0;
	return asy__sockopt_int(x->fd, SO_TYPE) == SOCK_STREAM;
}

struct own { const struct xfer *x; int sigpipe; };

static long own_call(void *arg, int fd) /* on a worker */
{
	struct own *o = arg;
	struct xfer x = *o->x;
	x.fd = fd;
	long r = xfer_sys(&x, 0, x.flags);
	o->sigpipe = !x.reading && r == -EPIPE && asy__take_sig(SIGPIPE);
	return r;
}

/* Past its deadline or cancelled: one call without waiting, in this thread. */
static long on_worker(struct asy_io *io, struct xfer *x)
{
	struct own o = { .x = x };
	int end = asy__coro_ended();
	long r = end ? xfer_try(x, 0, x->flags) :
		 asy__coro_alone() ? ASY_PASS : asy__call_waits(io, x->fd, own_call, &o);
	if (o.sigpipe)
		asy__raise_as_kernel(SIGPIPE);
	return end && r == -EAGAIN ? end : r;
}

static long xfer(struct asy_io *io, struct xfer *x)
{
	/* MSG_OOB receives never wait (no urgent byte: EINVAL/EAGAIN at once);
	 * a MSG_FASTOPEN send connects, which MSG_DONTWAIT would leave in
	 * progress (EINPROGRESS, the data unsent): the program's own call. */
	if (x->flags & (MSG_DONTWAIT | MSG_ERRQUEUE) || (x->reading && (x->flags & MSG_OOB)) ||
	    (!x->reading && (x->flags & MSG_FASTOPEN)))
		return ASY_PASS;
	int lowat = -1; /* SO_RCVLOWAT, once read */
	if (x->reading && (x->flags & MSG_PEEK || x->msg) && recv_own(x, &lowat) &&
	    !asy__nonblocking(x->fd))
		return on_worker(io, x);
	/* A send the kernel counts call by call is made whole (net-ends.c). */
	if (!x->reading && ((x->flags & MSG_ZEROCOPY) || (x->msg && asy__counted_send(x->msg))) &&
	    !asy__nonblocking(x->fd))
		return on_worker(io, x);
	struct asy_thread *ring = asy__ring_thread();
	if (ring && x->reading) {
		long r = asy__recv_ring(io, ring, x);
		if (r != ASY_PASS)
			return r;
	}
	long r = xfer_try(x, 0, x->flags);
	size_t done = 0, want = 0, total = 0;
	if (r > 0 && x->reading && peek_target(x, xfer_total(x), r, -1) &&
	    !asy__nonblocking(x->fd))
		return on_worker(io, x);
	if (r > 0) {
		total = xfer_total(x);
		done = (size_t)r;
		if (done >= total)
			return asy__inline(io, r);
		/* Short: a datagram, a receive that returns what is there, or a
		 * stream send that filled the buffer. */
		want = x->reading ? recv_target(x, total, lowat) : total;
		if (done >= want)
			return asy__inline(io, r);
	} else if (r != -EAGAIN || asy__coro_alone()) {
		return r == -EAGAIN ? ASY_PASS : r == 0 ? asy__inline(io, r) : r;
	}
	if (asy__nonblocking(x->fd))
		return done ? (long)done : r;
	/* A stream's send waits in SEND ops; a datagram's does not: a unix
	 * datagram send that the ring retries after "would wait" has its
	 * bytes taken already and sends an empty datagram. */
	int64_t start = asy_now();
	if (ring && !x->reading && asy__sockopt_int(x->fd, SO_TYPE) == SOCK_STREAM) {
		long s = asy__send_ring(io, ring, x, &done, &start);
		if (s != ASY_PASS)
			return s;
		total = xfer_total(x);
		want = total;
	}
	struct asy_keep keep = { .fd = -1, .held = -1 };
	int fd = x->fd;
	r = poll_loop(io, x, done, want, total, start, &keep);
	if (r == ASY_PASS && x->fd != fd) /* hung up: the call itself, on the copy */
		r = xfer_sys(x, 0, x->flags);
	x->fd = fd;
	asy__keep_end(&keep);
	return r;
}

/* One message of recvmmsg or sendmmsg (net-mmsg.c): a blocking recvmsg / sendmsg. */
long asy__sock_msg(struct asy_io *io, int fd, struct msghdr *m, int flags, int reading,
		   unsigned before)
{
	struct xfer x = { .fd = fd, .flags = flags, .reading = reading, .msg = m, .before = before };
	long r = xfer(io, &x);
	if (r == ASY_PASS)
		r = asy_sys(reading ? SYS_recvmsg : SYS_sendmsg, fd, m, flags, 0, 0, 0);
	return r;
}

long asy__net(struct asy_io *io)
{
	long *a = io->a;
	struct xfer x = { .fd = io->fd };
	switch (io->call) {
	case ASY_CALL_recv:
	case ASY_CALL_recvfrom:
		x.reading = 1;
		/* fall through */
	case ASY_CALL_send:
	case ASY_CALL_sendto:
		x.buf = (char *)a[0];
		x.len = (size_t)a[1];
		x.flags = (int)a[2];
		x.addr = (struct sockaddr *)a[3];
		x.alen = a[4];
		return xfer(io, &x);
	case ASY_CALL_recvmsg:
		x.reading = 1;
		/* fall through */
	case ASY_CALL_sendmsg:
		x.msg = (struct msghdr *)a[0];
		x.flags = (int)a[1];
		if (!x.msg)
			return ASY_PASS; /* EFAULT: NULL means "no msghdr", not a buffer call */
		return xfer(io, &x);
	case ASY_CALL_recvmmsg:
		return asy__recv_mmsg(io, io->fd, (struct mmsghdr *)a[0], (unsigned)a[1], (int)a[2],
				 (struct timespec *)a[3]);
	case ASY_CALL_sendmmsg:
		return asy__send_mmsg(io, io->fd, (struct mmsghdr *)a[0], (unsigned)a[1], (int)a[2]);
	case ASY_CALL_accept:
	case ASY_CALL_accept4:
		return asy__accept(io, io->fd);
	case ASY_CALL_connect:
		return asy__connect(io, io->fd);
	}
	return ASY_PASS;
}
