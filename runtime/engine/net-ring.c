/* Socket calls inside coroutines under uring: a receive is a RECV
 * (RECVMSG) op submitted with the thread's next wait — the kernel's own
 * socket call, tried in this thread's io_uring_enter, which when it has
 * to wait holds the file as the kernel's blocking call does — and a send
 * whose try would wait goes on as SEND ops.  Called from net.c's xfer()
 * and, for read and write of a socket, from rw.c (asy__sock_read,
 * asy__sock_stream). */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "engine.h"
#include "net.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"
#include "net-xfer.h"

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
 * A MSG_WAITALL receive's number is kept from its first op on (a dup2
 * onto it while that op waited gave the rest to the new socket), so its
 * file is the copy's when a close came meanwhile (recv_ring_loop takes
 * the copy after the first op; *known: id is taken).
 * 1: go on; 0: the receive ends with `done`; -1: its timeout passed. */
static int recv_rest_ready(struct asy_io *io, struct xfer *x, size_t done, int64_t start,
			   int64_t *deadline, int *unix_sock, struct asy_keep *keep,
			   struct stat *id, int *known)
{
	if (*deadline < -1)
		*deadline = asy__sock_deadline(x->fd, 1, start);
	if (!*known && asy_sys(SYS_fstat, x->fd, id, 0, 0, 0, 0) < 0)
		return 0;
	*known = 1;
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
	int lowat = -1, unix_sock = -1, known = 0;
	struct stat id;
	if (x->flags & MSG_WAITALL)
		asy__keep_begin(keep, x->fd);
	for (;;) {
		long cr = cut(x, done);
		if (cr)
			return cr;
		int go = done ? recv_rest_ready(io, x, done, start, &deadline, &unix_sock, keep, &id,
						&known) : 1;
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
			/* the program's msghdr is known to be readable now;
			 * the socket is the copy a close meanwhile left */
			x->fd = asy__keep_fd(keep, x->fd);
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

long asy__recv_ring(struct asy_io *io, struct asy_thread *t, const struct xfer *x)
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
	return asy__recv_ring(io, ring, &x);
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
static long send_ring_loop(struct asy_io *io, struct asy_thread *t, struct xfer *x, size_t *done,
			   int64_t *start, struct asy_keep *keep, int fd, int unix_sock)
{
	size_t total = xfer_total(x);
	int64_t deadline = DEADLINE_UNKNOWN;
	for (;;) {
		long cr = cut(x, *done);
		if (cr)
			return cr;
		/* No MSG_WAITALL on an op (see recv_ring); a blocking stream
		 * send moves everything anyway. */
		int flags = (x->flags & ~MSG_WAITALL) | (*done ? MSG_NOSIGNAL : 0);
		x->fd = asy__keep_fd(keep, fd);
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

/* The number is kept while the send's ops wait (keep.c): a close or
 * dup2 of it by another thread leaves the ops after that the copy, as
 * the kernel's call keeps its file (a unix send's rest went to the
 * socket a dup2 put there). */
long asy__send_ring(struct asy_io *io, struct asy_thread *t, const struct xfer *x, size_t *done,
		    int64_t *start)
{
	int unix_sock = *done ? asy__unix_socket(x->fd) : -1;
	if (*done && !unix_sock)
		return ASY_PASS;
	struct xfer on = *x;
	struct asy_keep keep = { .fd = -1, .held = -1 };
	asy__keep_begin(&keep, x->fd);
	long r = send_ring_loop(io, t, &on, done, start, &keep, x->fd, unix_sock);
	asy__keep_end(&keep);
	return r;
}

long asy__sock_stream(struct asy_io *io, size_t *done)
{
	struct asy_thread *ring = asy__ring_thread();
	if (!ring)
		return ASY_PASS;
	struct msghdr m = { .msg_iov = (struct iovec *)io->iov, .msg_iovlen = (size_t)io->iovcnt };
	struct xfer x = { .fd = io->fd, .reading = io->op == ASY_OP_READ, .msg = &m };
	if (x.reading) /* part read under SO_RCVLOWAT: the POLL path goes on */
		return *done ? ASY_PASS : asy__recv_ring(io, ring, &x);
	int64_t start = asy_now();
	return asy__send_ring(io, ring, &x, done, &start);
}
