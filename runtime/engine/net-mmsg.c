/* recvmmsg and sendmmsg inside coroutines: message by message, as the
 * kernel's own loop goes, each message that would wait made as one
 * blocking recvmsg / sendmsg of net.c (asy__sock_msg) — so its data,
 * SIGPIPE and errors are the kernel's, exactly once — and the count, the
 * msg_len of each and recvmmsg's time left written back where the
 * kernel writes them. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "engine.h"
#include "net.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

#define MMSG_MAX 1024 /* the kernel's UIO_MAXIOV cap on vlen */

/* sendmmsg: each message as a blocking sendmsg (a stream's whole), as
 * the kernel's loop does; how many went, or the first one's error.  One
 * call per message, so an error (and its SIGPIPE) comes exactly once. */
long asy__send_mmsg(struct asy_io *io, int fd, struct mmsghdr *vec, unsigned vlen, int flags)
{
	/* No message, or a first one it cannot read: the kernel answers
	 * at once, after its own look at the fd (EBADF, ENOTSOCK first). */
	if ((flags & MSG_DONTWAIT) || asy__coro_alone() || !vlen)
		return ASY_PASS;
	if (vlen > MMSG_MAX)
		vlen = MMSG_MAX;
	for (unsigned i = 0; i < vlen; i++) {
		struct mmsghdr m;
		if (asy__copy_in(&m, &vec[i], sizeof m) < 0)
			return i ? (long)i : ASY_PASS;
		long s = asy__sock_msg(io, fd, &vec[i].msg_hdr, flags, 0, i);
		if (s < 0)
			return i ? (long)i : s;
		/* msg_len as the kernel writes it: a vector it cannot write
		 * ends the loop with EFAULT, the message sent */
		unsigned len = (unsigned)s;
		if (asy__copy_out(&vec[i].msg_len, &len, sizeof len) < 0)
			return i ? (long)i : -EFAULT;
		/* A message sent in part (its socket's SO_SNDTIMEO) ends the
		 * loop, counted. */
		if ((size_t)s < asy__iov_total(m.msg_hdr.msg_iov, (int)m.msg_hdr.msg_iovlen))
			return (long)i + 1;
	}
	return (long)vlen;
}

/* A stream socket whose entries go on past their first bytes
 * (MSG_WAITALL, SO_RCVLOWAT): each is one blocking recvmsg, as the
 * kernel's loop makes it — a look without waiting counts what is there
 * as the whole entry. */
static int entries_go_on(int fd, int flags)
{
	return asy__sockopt_int(fd, SO_TYPE) == SOCK_STREAM &&
	       ((flags & MSG_WAITALL) || asy__sockopt_int(fd, SO_RCVLOWAT) > 1);
}

/* After an entry came, an error of the socket's that the next entry
 * meets is the next call's: the kernel's loop puts it back (do_recvmmsg),
 * which no call made from here can do — a recvmsg or recvmmsg that met it
 * took it.  So the next entry looks first, and a pending error (POLLERR,
 * nothing queued) ends the loop and stays where it is.  (POLLERR also
 * says that the error queue holds something: such a socket's loop ends
 * there too, where the kernel's would wait for the next entry.) */
static int error_next(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int queued = 0;
	return asy_sys_poll(&p, 1, 0) == 1 && (p.revents & POLLERR) &&
	       asy_sys(SYS_ioctl, fd, FIONREAD, &queued, 0, 0, 0) == 0 && queued == 0;
}

/* The next entry would wait: for readiness first (the entry's own
 * SO_RCVTIMEO; a handler ends it, as it ends a wait once datagrams
 * came), then the look above.  0: go on with its recvmsg.  A
 * non-blocking socket's entry never waits: only the look. */
static int next_waits_ends(struct asy_io *io, int fd, unsigned got)
{
	if (asy__nonblocking(fd))
		return error_next(fd);
	if (asy__rest_interrupted(got))
		return 1;
	long w = asy__wait_ready(io, fd, POLLIN | POLLRDHUP, asy__sock_deadline(fd, 1, asy_now()),
				 NULL);
	if (w == ASY_PASS)
		return 0;
	/* its timeout (the entry's EAGAIN), a deadline or cancel: what came */
	return w < 0 || error_next(fd);
}

/* recvmmsg: the kernel's loop — block for each datagram until vlen
 * arrived, MSG_WAITFORONE after the first, or the timeout, which it looks
 * at only after each datagram, and writes back what was left of it then. */
long asy__recv_mmsg(struct asy_io *io, int fd, struct mmsghdr *vec, unsigned vlen, int flags,
		      struct timespec *tmo)
{
	struct timespec ts;
	int64_t end = -1, start = asy_now();
	if ((flags & MSG_DONTWAIT) || !vlen) /* no datagram: the kernel's answer at once */
		return ASY_PASS;
	if (tmo) {
		if (asy__copy_in(&ts, tmo, sizeof ts) < 0 || ts.tv_sec < 0 || ts.tv_nsec < 0 ||
		    ts.tv_nsec >= 1000000000)
			return ASY_PASS;
		/* a timeout of centuries is looked at, and counted down, all
		 * the same, but never comes */
		end = ts.tv_sec < INT64_MAX / 1000000000 / 2 ?
			      start + (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec : INT64_MAX;
	}
	if (vlen > MMSG_MAX)
		vlen = MMSG_MAX;
	unsigned got = 0;
	long r = 0;
	int64_t at = start; /* when the last datagram came */
	int go_on = entries_go_on(fd, flags);
	/* The kernel's call answers a pending error before any datagram
	 * (do_recvmmsg), where a recvmsg takes queued bytes first: asked and
	 * cleared as it does (SO_ERROR is sock_error). */
	if (go_on && !(flags & MSG_ERRQUEUE)) {
		int e = asy__sockopt_int(fd, SO_ERROR);
		if (e > 0)
			return -e;
	}
	while (got < vlen) {
		int f = flags | (got && (flags & MSG_WAITFORONE) ? MSG_DONTWAIT : 0);
		/* a call made without waiting first looks now; one that
		 * waits looks after its wait (next_waits_ends) */
		if (got && !(flags & MSG_ERRQUEUE) && (!go_on || (f & MSG_DONTWAIT)) &&
		    error_next(fd))
			break;
		if (!go_on) {
			/* with a timeout, the kernel looks at it after each datagram */
			r = asy_sys(SYS_recvmmsg, fd, vec + got, end >= 0 ? 1 : vlen - got,
				    f | MSG_DONTWAIT, NULL, 0);
			if (r > 0) {
				got += (unsigned)r;
				at = asy_now();
				/* without a timeout the call took all that was queued */
				if ((end < 0 && (flags & MSG_WAITFORONE)) ||
				    (end >= 0 && asy_now() >= end))
					break;
				continue;
			}
			if (r != -EAGAIN || (f & MSG_DONTWAIT))
				break;
		}
		if (!got && asy__coro_alone())
			return ASY_PASS;
		/* Would wait (or goes on): the next as one blocking recvmsg;
		 * after MSG_WAITFORONE's first, one that does not wait. */
		f &= ~MSG_WAITFORONE;
		if (got && !(f & (MSG_DONTWAIT | MSG_ERRQUEUE)) && next_waits_ends(io, fd, got))
			break;
		r = (f & MSG_DONTWAIT) ? asy_sys(SYS_recvmsg, fd, &vec[got].msg_hdr, f, 0, 0, 0) :
					 asy__sock_msg(io, fd, &vec[got].msg_hdr, f, 1, got);
		if (r < 0)
			break;
		unsigned len = (unsigned)r;
		if (asy__copy_out(&vec[got].msg_len, &len, sizeof len) < 0) {
			r = -EFAULT; /* the datagram is gone, as the kernel's */
			break;
		}
		got++;
		at = asy_now();
		/* MSG_WAITFORONE: what else is queued, without waiting (the
		 * loop's next call) */
		if (end >= 0 && at >= end)
			break;
	}
	if (tmo && got) {
		/* what was left when the last datagram came: the kernel writes
		 * it then, not when a wait for the next one ended (EAGAIN at
		 * SO_RCVTIMEO, an error) */
		asy__time_left(&ts, start + (asy_now() - at));
		/* a timeout the kernel cannot write back: EFAULT, the
		 * datagrams received */
		if (asy__copy_out(tmo, &ts, sizeof ts) < 0)
			return -EFAULT;
	}
	return got ? (long)got : r;
}
