/* What net.c (waiting with POLL ops) and net-ring.c (waiting in RECV
 * and SEND ops on the thread's ring) share: a call's arguments, whatever
 * its entry point, the one call for what is left of it, and how much a
 * blocking receive waits for. */
#ifndef ASY_NET_XFER_H
#define ASY_NET_XFER_H

#include <sys/socket.h>

#include "engine.h"
#include "sys.h"

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
static inline long xfer_sys(const struct xfer *x, size_t done, int flags)
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
static inline long xfer_try(const struct xfer *x, size_t done, int flags)
{
	return xfer_sys(x, done, flags | MSG_DONTWAIT);
}

static inline size_t xfer_total(const struct xfer *x)
{
	if (!x->msg)
		return x->len < MAX_RW_COUNT ? x->len : MAX_RW_COUNT;
	return asy__iov_total(x->msg->msg_iov, (int)x->msg->msg_iovlen);
}

/* A handler ran once bytes or earlier messages moved (EINTR: mmsg's count). */
static inline long cut(const struct xfer *x, size_t done)
{
	return asy__rest_interrupted((long)done + x->before) ? done ? (long)done : -EINTR : 0;
}

/* SO_RCVTIMEO passed after `done` bytes: one more try says (net-ends.c). */
static inline long recv_timeout(const struct xfer *x, size_t done)
{
	long r = xfer_try(x, done, x->flags & ~MSG_WAITALL);
	return asy__recv_timed_out(x->fd, r, done, !done && r == -EAGAIN && !xfer_total(x));
}

/* How many bytes a blocking receive of a stream waits for, after a first
 * transfer of `got` < total bytes: the whole buffer under MSG_WAITALL,
 * else min(SO_RCVLOWAT, total) (tcp_recvmsg, unix_stream_read_generic).
 * Datagrams and seqpackets never continue, nor does a receive with a
 * control buffer (the kernel's own call on a worker: recv_own). */
static inline size_t recv_target(const struct xfer *x, size_t total, int lowat)
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
static inline size_t peek_target(const struct xfer *x, size_t total, long got, int lowat)
{
	if (!(x->flags & MSG_PEEK) || got <= 0 || (size_t)got >= total ||
	    (lowat = lowat < 0 ? asy__sockopt_int(x->fd, SO_RCVLOWAT) : lowat) <= 1)
		return 0;
	size_t want = (size_t)lowat < total ? (size_t)lowat : total;
	return (size_t)got < want && !asy__unix_socket(x->fd) &&
			       asy__sockopt_int(x->fd, SO_TYPE) == SOCK_STREAM ? want : 0;
}

/* The ring's way (net-ring.c): a receive, the kernel's own try included,
 * and the rest of a blocking send after its try moved *done bytes (or
 * none).  ASY_PASS: the ring took nothing (more). */
long asy__recv_ring(struct asy_io *io, struct asy_thread *t, const struct xfer *x);
long asy__send_ring(struct asy_io *io, struct asy_thread *t, const struct xfer *x, size_t *done,
		    int64_t *start);

#endif
