/* Socket calls inside coroutines: the recv and send families.
 *
 * Under uring a receive is a RECV (RECVMSG) op submitted with the thread's
 * next wait: the kernel's own socket call, tried in this thread's
 * io_uring_enter, which when it has to wait holds the file as the kernel's
 * blocking call does; a send whose try would wait goes on as SEND ops.
 * Otherwise the shape is rw.c's: the program's own call, made in the
 * calling thread with MSG_DONTWAIT added, is the answer whenever it does
 * not say "would wait" — so data, ancillary data, addresses, msg_flags,
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
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

/* The arguments of a recv or send call, whatever its entry point. */
struct xfer {
	int fd, flags, reading, unix_send; /* unix_send: waits in slices (wait_sock) */
	unsigned before;         /* recvmmsg/sendmmsg: the messages moved before */
	char *buf;               /* recv/recvfrom/send/sendto */
	size_t len;
	struct sockaddr *addr;   /* recvfrom/sendto */
	long alen;
	struct msghdr *msg;      /* recvmsg/sendmsg */
};

/* The ancillary data the rest of a stream send carries (net-ends.c). */
union rest_ctl {
	struct cmsghdr align;
	char b[256];
};

/* One call for what is left after `done` bytes: the first is the program's
 * call as made; a continuation goes without address, and with the
 * ancillary data of asy__rest_control. */
static long xfer_sys(const struct xfer *x, size_t done, int flags)
{
	if (!x->msg) {
		if (x->reading)
			return asy_sys(SYS_recvfrom, x->fd, x->buf + done, x->len - done, flags,
				       done ? NULL : x->addr, done ? 0 : x->alen);
		return asy_sys(SYS_sendto, x->fd, x->buf + done, x->len - done, flags,
			       done ? NULL : x->addr, done ? 0 : x->alen);
	}
	if (!done)
		return asy_sys(x->reading ? SYS_recvmsg : SYS_sendmsg, x->fd, x->msg, flags, 0, 0, 0);
	struct asy_rest rest;
	if (asy__rest_of(&rest, x->msg->msg_iov, (int)x->msg->msg_iovlen, done) < 0)
		return -ENOMEM;
	union rest_ctl c;
	struct msghdr m = { .msg_iov = rest.v, .msg_iovlen = (size_t)rest.cnt, .msg_control = c.b,
			    .msg_controllen = x->reading ? 0 : asy__rest_control(x->msg, c.b, sizeof c.b) };
	if (!m.msg_controllen)
		m.msg_control = NULL;
	long r = asy_sys(x->reading ? SYS_recvmsg : SYS_sendmsg, x->fd, &m, flags, 0, 0, 0);
	asy__rest_free(&rest);
	return r;
}

/* The same, never waiting. */
static long xfer_try(const struct xfer *x, size_t done, int flags)
{
	return xfer_sys(x, done, flags | MSG_DONTWAIT);
}

static size_t xfer_total(const struct xfer *x)
{
	if (!x->msg)
		return x->len < MAX_RW_COUNT ? x->len : MAX_RW_COUNT;
	return asy__iov_total(x->msg->msg_iov, (int)x->msg->msg_iovlen);
}

/* A handler ran once bytes or earlier messages moved (EINTR: mmsg's count). */
static long cut(const struct xfer *x, size_t done)
{
	return asy__rest_interrupted((long)done + x->before) ? done ? (long)done : -EINTR : 0;
}

/* SO_RCVTIMEO passed after `done` bytes: one more try says (net-ends.c). */
static long recv_timeout(const struct xfer *x, size_t done)
{
	long r = xfer_try(x, done, x->flags & ~MSG_WAITALL);
	return asy__recv_timed_out(x->fd, r, done, !done && r == -EAGAIN && !xfer_total(x));
}

/* How many bytes a blocking receive of a stream waits for, after a first
 * transfer of `got` < total bytes: the whole buffer under MSG_WAITALL,
 * else min(SO_RCVLOWAT, total) (tcp_recvmsg, unix_stream_read_generic).
 * Datagrams and seqpackets never continue, nor does a receive with a
 * control buffer (the kernel's own call on a worker: recv_own). */
static size_t recv_target(const struct xfer *x, size_t total, int lowat)
{
	if ((x->flags & MSG_PEEK) || (x->msg && x->msg->msg_controllen))
		return 0;
	size_t want = total;
	if (!(x->flags & MSG_WAITALL)) {
		/* The usual short receive: one look, at the mark (1 unless set;
		 * `lowat` when it was read with the call's start, else -1). */
		if (lowat < 0)
			lowat = asy__sockopt_int(x->fd, SO_RCVLOWAT);
		if (lowat <= 1)
			return 0;
		want = (size_t)lowat < total ? (size_t)lowat : total;
	}
	return asy__sockopt_int(x->fd, SO_TYPE) == SOCK_STREAM ? want : 0;
}

/* A MSG_PEEK of TCP that saw `got` < min(SO_RCVLOWAT, total) bytes: the
 * kernel's peek waits for the mark (TCP wakes its reader, and polls it
 * ready, only once that much is queued); a unix stream's never waits for
 * more.  The size to wait for, or 0. */
static size_t peek_target(const struct xfer *x, size_t total, long got, int lowat)
{
	if (!(x->flags & MSG_PEEK) || got <= 0 || (size_t)got >= total ||
	    (lowat = lowat < 0 ? asy__sockopt_int(x->fd, SO_RCVLOWAT) : lowat) <= 1)
		return 0;
	size_t want = (size_t)lowat < total ? (size_t)lowat : total;
	return (size_t)got < want && !asy__unix_socket(x->fd) &&
			       asy__sockopt_int(x->fd, SO_TYPE) == SOCK_STREAM ? want : 0;
}

/* ---- waiting in the kernel: RECV and SEND ops on the thread's ring ------ */

/* Not known yet: learnt when an op first has to wait. */
#define DEADLINE_UNKNOWN (-2)
/* A receive's socket is blocking; its timeout is not known yet. */
#define DEADLINE_LATER (-3)

/* The thread's ring, when this coroutine's socket call may wait there;
 * NULL: the POLL path below.  A ring with a kernel polling thread would
 * move the data there (README: ASYNCIFY_SQPOLL), and a coroutine alone
 * makes its own calls. */
struct asy_thread *asy__ring_thread(void)
{
	if (asy__cfg.sqpoll || asy__backend() != &asy__backend_uring || asy__coro_alone())
		return NULL;
	struct asy_thread *t = asy__thread();
	return t && t->be == &asy__backend_uring ? t : NULL;
}

/* The arguments of one RECV or SEND op: what is left after `done`
 * bytes.  recvfrom and sendto with an address are a recvmsg / sendmsg of
 * the same buffer (the name goes with the first bytes only). */
struct part {
	struct msghdr m;
	union rest_ctl ctl;
	struct iovec one;
	struct asy_rest rest;
	int named;  /* recvfrom: the name's length goes back to *alen */
};

static int part_of(struct part *p, struct asy_io *o, const struct xfer *x, size_t done)
{
	p->rest.mapped = 0;
	p->named = 0;
	if (x->msg && !done) {
		o->a[0] = (long)x->msg;
	} else if (x->msg) {
		if (asy__rest_of(&p->rest, x->msg->msg_iov, (int)x->msg->msg_iovlen, done) < 0)
			return -ENOMEM;
		p->m = (struct msghdr){ .msg_iov = p->rest.v, .msg_iovlen = (size_t)p->rest.cnt,
					.msg_controllen = x->reading ? 0 :
						  asy__rest_control(x->msg, p->ctl.b, sizeof p->ctl.b) };
		p->m.msg_control = p->m.msg_controllen ? p->ctl.b : NULL;
		o->a[0] = (long)&p->m;
	} else {
		o->one = (struct iovec){ x->buf + done, xfer_total(x) - done };
		if (done || !x->addr)
			return 0;
		int len = (int)x->alen;
		/* recvfrom reads *alen after the receive and fails then (EFAULT,
		 * EINVAL) with the data gone; recvmsg would refuse at once:
		 * such a call is the program's own. */
		if (x->reading && (!x->alen || asy__copy_in(&len, (void *)x->alen, sizeof len) < 0 ||
				   len < 0))
			return -EINVAL;
		p->one = o->one;
		p->m = (struct msghdr){ .msg_name = x->addr, .msg_namelen = (socklen_t)len,
					.msg_iov = &p->one, .msg_iovlen = 1 };
		p->named = x->reading;
		o->a[0] = (long)&p->m;
	}
	return 0;
}

/* A receive's or send's op and what its socket says about waiting, read
 * in the kernel just before the op starts. */
struct sock_op {
	struct asy_waiter w; /* first: learn() is handed the waiter */
	struct asy_sockopts o;
	int64_t start;
};

/* Until when the op may wait in the kernel: its socket's SO_RCVTIMEO or
 * SO_SNDTIMEO from the call's start, or -1. */
static int64_t timeo_deadline(const struct sock_op *s)
{
	if (s->o.timeo[0] < 0) /* the ring could not read it (AF_UNIX) */
		return asy__sock_deadline(s->w.io.fd, s->w.io.op == ASY_OP_RECV, s->start);
	return asy__timeo_end(s->start, s->o.timeo[0], s->o.timeo[1]);
}

/* A receive's, once its op is in (asy__learn). */
static int64_t recv_deadline(struct asy_waiter *w)
{
	return timeo_deadline((const struct sock_op *)w);
}

/* One receive or send of what is left after `done` bytes, as a ring op
 * (the kernel's call in this thread's io_uring_enter; a waiting op holds
 * the file).  A send goes in at once (its try found no room); a receive
 * on a non-blocking socket (F_GETFL) is the program's own call
 * (ASY_PASS), else its op goes in with the thread's next wait, at most 16
 * coroutine switches later (sched.c), its socket's timeout saying how
 * long it waits (recv_deadline).  *deadline is DEADLINE_UNKNOWN for a
 * call's first op.  The op's result; -ETIME at the deadline; ASY_PASS
 * when the ring took nothing. */
static long ring_part(struct asy_io *io, struct asy_thread *t, const struct xfer *x, size_t done,
		      int flags, int64_t start, int64_t *deadline, int *lowat)
{
	struct sock_op op = { .w.io = { .op = x->reading ? ASY_OP_RECV : ASY_OP_SEND,
					.call = io->call, .fd = x->fd, .rwflags = flags },
			      .o = { .timeo = { -1, 0 }, .lowat = -1 }, .start = start };
	struct asy_waiter *w = &op.w;
	struct part p;
	int late = x->reading && *deadline < -1; /* UNKNOWN or LATER */
	if (x->reading && *deadline == DEADLINE_UNKNOWN && asy__nonblocking(x->fd))
		return ASY_PASS;
	if (part_of(&p, &w->io, x, done) < 0)
		return ASY_PASS;
	if (*deadline == DEADLINE_UNKNOWN || late)
		w->io.a[1] = (long)&op.o; /* read in the kernel with the op's start */
	if (late)
		w->learn = recv_deadline;
	/* The caller's try found no room: wait for it first.  Not after a
	 * try that moved part, which may have stopped at a bad byte (the
	 * kernel's call returns the count then). */
	if (!x->reading && !done)
		w->io.flags = ASY_F_POLL_FIRST;
	long r = asy__op_start(t, w, -1);
	if (r < 0) {
		asy__rest_free(&p.rest);
		return ASY_PASS;
	}
	if (!late && !asy__waiter_done(w) && *deadline == DEADLINE_UNKNOWN)
		*deadline = timeo_deadline(&op); /* a send waits (its try has
						   * looked at O_NONBLOCK) */
	r = asy__op_finish(t, w, late ? -1 : *deadline);
	if (late) /* a later op of the call waits as long (or learns it) */
		*deadline = w->learnt >= -1 ? w->learnt : DEADLINE_LATER;
	if (lowat && w->io.a[1])
		*lowat = op.o.lowat;
	io->via = w->io.via;
	if (p.named && r >= 0 && asy__copy_out((void *)x->alen, &p.m.msg_namelen, sizeof(socklen_t)) < 0)
		r = -EFAULT; /* recvfrom's answer: the data is gone */
	asy__rest_free(&p.rest);
	return r;
}

/* Before the rest of a receive that moved `done` bytes: wait by POLL op,
 * then look whether the kernel's call would end there (asy__rest_stops:
 * a hang-up's error, the urgent mark).  The number is kept (keep.c): a
 * close by another thread leaves the rest the copy (x->fd becomes it).
 * 1: go on; 0: the receive ends with `done`; -1: its timeout passed. */
static int recv_rest_ready(struct asy_io *io, struct xfer *x, size_t done, int64_t start,
			   int64_t *deadline, int *unix_sock, struct asy_keep *keep,
			   struct stat *id)
{
	if (*deadline < -1)
		*deadline = asy__sock_deadline(x->fd, 1, start);
	if (!keep->on && asy_sys(SYS_fstat, x->fd, id, 0, 0, 0, 0) < 0)
		return 0;
	asy__keep_begin(keep, x->fd);
	long r = asy__wait_ready(io, x->fd, POLLIN | POLLRDHUP, *deadline, keep);
	if (r < 0)
		return r == -ETIME ? -1 : 0;
	int fd = asy__keep_after(keep, x->fd, id);
	if (fd < 0)
		return 0;
	x->fd = fd;
	return !asy__rest_stops(x->fd, 1, done, unix_sock);
}

/* The ring reads the message and its vector when the op is made, before
 * it looks at the fd; the kernel's recvmsg looks at the fd first.  A
 * refusal of the message (EFAULT, EINVAL, EMSGSIZE) on a number that
 * holds no socket is then not the program's answer (ENOTSOCK): its own
 * call, which never waits there, gives that.  On a socket the order is
 * the kernel's, and the op may have taken the socket's pending error. */
static int refused_before_fd(int fd, long r)
{
	struct stat st;
	return (r == -EFAULT || r == -EINVAL || r == -EMSGSIZE) &&
	       (asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) < 0 || !S_ISSOCK(st.st_mode));
}

/* A receive on the ring, the kernel's own try included.  MSG_WAITALL
 * and SO_RCVLOWAT on a stream go on into the rest of the buffer, op by
 * op, as the kernel's call does (an op never takes MSG_WAITALL: a cancel
 * would lose what it had gathered).  ASY_PASS: the ring took nothing. */
static long recv_ring_loop(struct asy_io *io, struct asy_thread *t, struct xfer *x,
			   struct asy_keep *keep)
{
	int64_t start = asy_now(), deadline = DEADLINE_UNKNOWN;
	size_t done = 0, want = 0, total = 0;
	int lowat = -1, unix_sock = -1;
	struct stat id;
	for (;;) {
		long cr = cut(x, done);
		if (cr)
			return cr;
		int go = done ? recv_rest_ready(io, x, done, start, &deadline, &unix_sock, keep, &id) : 1;
		if (go <= 0)
			return go ? recv_timeout(x, done) : (long)done;
		long r = ring_part(io, t, x, done, x->flags & ~MSG_WAITALL, start, &deadline,
				   done ? NULL : &lowat);
		if (r == ASY_PASS && !done)
			return ASY_PASS;
		if (r == -ETIME)
			return recv_timeout(x, done);
		/* -EAGAIN: the socket's own timeout, where the kernel made the
		 * call blocking (io-wq) */
		if (r == -EAGAIN || r == ASY_PASS)
			return done ? (long)done : -EAGAIN;
		if (r < 0 && !done && refused_before_fd(x->fd, r))
			return ASY_PASS;
		if (r < 0)
			return done ? (long)done : r;
		if (!done && r > 0) {
			/* the program's msghdr is known to be readable now */
			total = xfer_total(x);
			if (peek_target(x, total, r, lowat))
				return ASY_PASS; /* nothing taken: the POLL path waits */
			if ((size_t)r < total)
				want = recv_target(x, total, lowat);
		}
		done += (size_t)r;
		if (r == 0 || done >= want || done >= total)
			return (long)done;
	}
}

static long recv_ring(struct asy_io *io, struct asy_thread *t, const struct xfer *x)
{
	struct xfer on = *x; /* its fd may become a kept copy */
	struct asy_keep keep = { .fd = -1, .held = -1 };
	long r = recv_ring_loop(io, t, &on, &keep);
	asy__keep_end(&keep);
	return r;
}

/* read() of a socket is its recvmsg with flags 0 and no name or ancillary
 * data (sock_read_iter): recv's ring path, whose op makes the try and
 * reads the socket's timeouts and low-water mark in io_uring_enter (where
 * the usual way cost eight system calls).  A number that no longer holds
 * a socket gets ENOTSOCK from the op before a byte moves. */
long asy__sock_read(struct asy_io *io)
{
	struct asy_thread *ring = asy__ring_thread();
	if (!ring)
		return ASY_PASS;
	struct msghdr m = { .msg_iov = (struct iovec *)io->iov, .msg_iovlen = (size_t)io->iovcnt };
	struct xfer x = { .fd = io->fd, .reading = 1, .msg = &m };
	return recv_ring(io, ring, &x);
}

/* The rest of a blocking send after the try moved *done bytes (or none,
 * and said it would wait).  A stream's send goes on until everything
 * moved.  io_uring's send never raises SIGPIPE: one that fails with
 * EPIPE before a byte moved is made again as the program's own call,
 * whose EPIPE raises it exactly when the kernel's would (once bytes
 * moved, the kernel's one call raises none).  Once bytes moved, only
 * an AF_UNIX send goes on in SEND ops: another socket's goes on by
 * POLL op and try, which stop at a hang-up (asy__rest_stops).  ASY_PASS:
 * the ring took no more (*done says what moved). */
static long send_ring(struct asy_io *io, struct asy_thread *t, const struct xfer *x, size_t *done,
		      int64_t *start)
{
	size_t total = xfer_total(x);
	int64_t deadline = DEADLINE_UNKNOWN;
	int unix_sock = *done ? asy__unix_socket(x->fd) : -1;
	if (*done && !unix_sock)
		return ASY_PASS;
	for (;;) {
		long cr = cut(x, *done);
		if (cr)
			return cr;
		/* No MSG_WAITALL on an op (see recv_ring); a blocking stream
		 * send moves everything anyway. */
		int flags = (x->flags & ~MSG_WAITALL) | (*done ? MSG_NOSIGNAL : 0);
		long r = ring_part(io, t, x, *done, flags, *start, &deadline, NULL);
		if (r == ASY_PASS)
			return ASY_PASS;
		r = asy__send_ended(x->fd, x->flags, r, *done);
		if (r == -EAGAIN && deadline >= 0 && asy_now() >= deadline)
			r = -ETIME;
		if (r == -ETIME && (unix_sock < 0 ? (unix_sock = asy__unix_socket(x->fd)) : unix_sock))
			r = asy__send_ended(x->fd, x->flags, xfer_try(x, *done, flags), *done);
		if (r == -ETIME || (r == -EAGAIN && deadline >= 0 && asy_now() >= deadline))
			return *done ? (long)*done : -EAGAIN; /* a unix send's after one more try */
		if (r == -EAGAIN)
			continue;
		if (r <= 0)
			return *done ? (long)*done : r;
		*done += (size_t)r;
		if (*done >= total)
			return (long)*done;
		if (!(unix_sock < 0 ? (unix_sock = asy__unix_socket(x->fd)) : unix_sock))
			return ASY_PASS; /* its timeout goes on from *start */
		*start = asy_now(); /* a unix send's rest waits with a timeout of its own */
		deadline = DEADLINE_UNKNOWN;
	}
}

long asy__sock_stream(struct asy_io *io, size_t *done)
{
	struct asy_thread *ring = asy__ring_thread();
	if (!ring)
		return ASY_PASS;
	struct msghdr m = { .msg_iov = (struct iovec *)io->iov, .msg_iovlen = (size_t)io->iovcnt };
	struct xfer x = { .fd = io->fd, .reading = io->op == ASY_OP_READ, .msg = &m };
	if (x.reading) /* part read under SO_RCVLOWAT: the POLL path goes on */
		return *done ? ASY_PASS : recv_ring(io, ring, &x);
	int64_t start = asy_now();
	return send_ring(io, ring, &x, done, &start);
}

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
		long r = recv_ring(io, ring, x);
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
		long s = send_ring(io, ring, x, &done, &start);
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
