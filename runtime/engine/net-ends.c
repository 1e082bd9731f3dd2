/* How a socket call that waited ends, for the recv and send families
 * (net.c) and for read and write of a socket (rw.c): where a call that
 * moved part stops (a hang-up, the urgent mark), what a receive's timeout
 * returns, what ancillary data a send's rest carries, which sends the
 * kernel counts call by call, how often a unix send looks again, and the
 * error and SIGPIPE of a send that found its socket shut. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "engine.h"
#include "net.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

#define UNIX_SEND_SLICE_NS 50000000LL /* 50 ms */
#ifndef SCM_TS_OPT_ID
#define SCM_TS_OPT_ID 81 /* Linux 6.13 */
#endif

int asy__sockopt_int(int fd, int opt)
{
	int v = 0;
	socklen_t len = sizeof v;
	if (asy_sys(SYS_getsockopt, fd, SOL_SOCKET, opt, &v, &len, 0) < 0)
		return -1;
	return v;
}

int asy__unix_socket(int fd)
{
	return asy__sockopt_int(fd, SO_DOMAIN) == AF_UNIX;
}

/* Whether a receive or send on stream socket fd that has moved `done`
 * bytes and waited ends now, without another try: once bytes
 * moved, a call on a socket other than AF_UNIX is not made again after
 * the socket hung up (a reset, a time-out, both directions shut), once a
 * receive has taken what came before.  The kernel's one call returns its
 * count there and leaves the socket's error to the next call
 * (tcp_sendmsg_locked after sk_stream_wait_memory, tcp_recvmsg once it
 * copied); a try made then would take the error (sk_stream_wait_connect,
 * sock_error): the next send would fail with EPIPE and SIGPIPE, the next
 * read see EOF, where the kernel's give ECONNRESET.  AF_UNIX's one call
 * takes the error itself (sock_alloc_send_pskb,
 * unix_stream_read_generic), as a try does. */
int asy__rest_stops(int fd, int reading, size_t done, int *unix_sock)
{
	if (!done)
		return 0;
	/* At the urgent mark (MSG_OOB): the kernel's receive stops there
	 * once it has copied (tcp_recvmsg, manage_oob); a receive made there
	 * would skip the urgent byte, which MSG_OOB then never finds. */
	int at = 0;
	if (reading && asy_sys(SYS_ioctl, fd, SIOCATMARK, &at, 0, 0, 0) == 0 && at)
		return 1;
	if (*unix_sock < 0)
		*unix_sock = asy__unix_socket(fd);
	/* Asked now, not from the wait: the reset may come while other
	 * coroutines run. */
	struct pollfd p = { .fd = fd, .events = reading ? POLLIN : POLLOUT };
	if (*unix_sock || asy_sys(SYS_poll, &p, 1, 0, 0, 0, 0) != 1 || !(p.revents & POLLHUP))
		return 0;
	int queued = 0; /* a receive takes what came before the hang-up */
	return !reading || (asy_sys(SYS_ioctl, fd, FIONREAD, &queued, 0, 0, 0) == 0 && !queued);
}

/* The answer of a receive whose SO_RCVTIMEO passed after `done` bytes,
 * given `last`, the answer of one more try without waiting.  The kernel's
 * call copies bytes as they come, also short of its SO_RCVLOWAT mark,
 * where no poll says ready (tcp_poll waits for the mark): the try takes
 * them, and an error it met is the answer when nothing moved.  A TCP
 * receive of no bytes (`empty`) waits out its timeout and returns 0
 * (tcp_recvmsg's loop runs once); other sockets' say EAGAIN. */
long asy__recv_timed_out(int fd, long last, size_t done, int empty)
{
	if (last > 0)
		return (long)done + last;
	if (done || last == 0)
		return (long)done;
	if (last == -EAGAIN && empty && asy__sockopt_int(fd, SO_TYPE) == SOCK_STREAM &&
	    asy__sockopt_int(fd, SO_PROTOCOL) == IPPROTO_TCP)
		return 0;
	return last;
}

/* The ancillary data the rest of a stream send carries, after its first
 * bytes went: the call's, but SCM_RIGHTS, which the kernel sends with the
 * first bytes only (explicit SCM_CREDENTIALS go on every byte of a unix
 * stream send; a SO_TIMESTAMPING request holds for the call).  Copied
 * into b; its length (0: none, also when what is left without the fds
 * does not fit: a unix socket's always does). */
size_t asy__rest_control(struct msghdr *m, char *b, size_t cap)
{
	size_t n = 0;
	if (!m || !m->msg_control)
		return 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
			continue;
		if (h->cmsg_len < sizeof *h || n + CMSG_ALIGN(h->cmsg_len) > cap)
			return 0;
		memcpy(b + n, h, h->cmsg_len);
		n += CMSG_ALIGN(h->cmsg_len);
	}
	return n;
}

/* The control buffer's length of a msghdr the kernel has not read yet:
 * read as is when it lies on the running coroutine's stack (mapped
 * whole), else copied; 0 when unreadable (the call says EFAULT). */
size_t asy__control_len(const struct msghdr *m)
{
	void *lo = NULL;
	size_t size = 0, guard, ctl = 0;
	if (asy__coro_stack(&ctl, &lo, &size, &guard) && (const char *)m >= (const char *)lo &&
	    (const char *)(m + 1) <= (const char *)lo + size)
		return m->msg_controllen;
	return asy__copy_in(&ctl, &m->msg_controllen, sizeof ctl) < 0 ? 0 : ctl;
}

int asy__counted_send(const struct msghdr *m)
{
	union { struct cmsghdr align; char b[256]; } c;
	size_t len = asy__control_len(m);
	void *at = NULL;
	if (!len || len > sizeof c.b || asy__copy_in(&at, &m->msg_control, sizeof at) < 0 ||
	    asy__copy_in(c.b, at, len) < 0)
		return len > 0;
	struct msghdr h = { .msg_control = c.b, .msg_controllen = len };
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&h); cm; cm = CMSG_NXTHDR(&h, cm))
		if (cm->cmsg_level == SOL_SOCKET && (cm->cmsg_type == SO_TIMESTAMPING_OLD ||
						     cm->cmsg_type == SO_TIMESTAMPING_NEW ||
						     cm->cmsg_type == SCM_TS_OPT_ID))
			return 1;
	return 0;
}

int64_t asy__slice_end(int64_t deadline)
{
	int64_t slice = asy_now() + UNIX_SEND_SLICE_NS;
	return deadline >= 0 && deadline < slice ? deadline : slice;
}

/* A blocking send that waited and then found the socket shut (its call
 * made with MSG_NOSIGNAL): the error the kernel's waiting sender gives —
 * the socket's pending one first (a unix peer gone with data unread:
 * ECONNRESET) — and SIGPIPE where it raises one: the wait of TCP and the
 * other stream protocols does (sk_stream_error); AF_UNIX's and the
 * datagram protocols' do not. */
long asy__send_ended(int fd, int flags, long r, size_t done)
{
	if (r != -EPIPE)
		return r;
	int e = asy__sockopt_int(fd, SO_ERROR);
	if (e > 0)
		return -e;
	if (!done && !(flags & MSG_NOSIGNAL) && asy__sockopt_int(fd, SO_DOMAIN) != AF_UNIX &&
	    asy__sockopt_int(fd, SO_TYPE) == SOCK_STREAM)
		asy__raise_as_kernel(SIGPIPE);
	return -EPIPE;
}
