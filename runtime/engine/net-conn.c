/* accept and connect inside coroutines (net.c has the recv and send
 * families).
 *
 *  - accept: poll(0) says whether one is queued, then the program's own
 *    accept4 in the calling thread; while it waits, a POLL op on the
 *    listening socket, its number kept (keep.c), and the new fd's number
 *    taken at the start, as the kernel takes it; with no fd number free,
 *    the program's own call (EMFILE at once);
 *  - connect: made non-blocking for the call (O_NONBLOCK set and put back
 *    around it), the wait for POLLOUT, its number kept, then the call
 *    again says how it ended, as a blocking connect leaves the socket;
 *    one made while another is in progress (EALREADY) waits for it.
 *
 * SO_RCVTIMEO ends an accept's wait (EAGAIN), SO_SNDTIMEO a connect's
 * (EINPROGRESS, or EALREADY for a connect made again), as the kernel's
 * timeouts do. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "engine.h"
#include "net.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

/* The program's own accept4, its connection put at the number taken
 * for it.  The taken number was the last one free: it is given up first. */
static long accept_at(const struct asy_io *io, int fd, int flags, struct asy_keep *num)
{
	long r = asy_sys(SYS_accept4, fd, io->a[0], io->a[1], flags, 0, 0);
	if (r == -EMFILE || r == -ENFILE) {
		asy__keep_end(num);
		return asy_sys(SYS_accept4, fd, io->a[0], io->a[1], flags, 0, 0);
	}
	int at = asy__keep_fd(num, -1);
	if (r < 0 || at < 0 ||
	    asy_sys(SYS_dup3, r, at, flags & SOCK_CLOEXEC ? O_CLOEXEC : 0, 0, 0, 0) != at)
		return r;
	asy__keep_given(num);
	asy_sys(SYS_close, r, 0, 0, 0, 0, 0);
	return at;
}

long asy__accept(struct asy_io *io, int fd)
{
	int flags = io->call == ASY_CALL_accept4 ? (int)io->a[2] : 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
		return ASY_PASS; /* EINVAL at once */
	int listening = 0;
	socklen_t len = sizeof listening;
	if (asy_sys_poll(&p, 1, 0) != 0 || asy__coro_alone() || asy__nonblocking(fd) ||
	    asy_sys(SYS_getsockopt, fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len, 0) < 0 ||
	    listening != 1)
		return ASY_PASS; /* queued, an error, or it never waits */
	struct stat id;
	if (asy_sys(SYS_fstat, fd, &id, 0, 0, 0, 0) < 0)
		return ASY_PASS;
	/* The kernel's accept takes its fd number before it waits: another
	 * thread's open meanwhile gets the next one, and the connection comes
	 * at it.  Taken here with a copy of the listener, on the keep list
	 * (the program's close of it says EBADF, a dup2 onto it EBUSY, as of
	 * the kernel's).  With no number free (RLIMIT_NOFILE) the kernel's
	 * says EMFILE at once, never after a connection came: the program's
	 * own call says so. */
	long taken = asy_sys_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (taken < 0)
		return ASY_PASS;
	struct asy_keep num = { .fd = -1, .held = -1 };
	asy__keep_take(&num, (int)taken);
	int64_t deadline = asy__sock_deadline(fd, 1, asy_now());
	/* The number is kept while it waits: another thread's close leaves
	 * the listening socket to this accept, as the kernel's does (keep.c). */
	struct asy_keep keep = { .fd = -1, .held = -1, .id = &id };
	long r;
	for (;;) {
		asy__keep_begin(&keep, fd);
		r = asy__wait_ready(io, fd, POLLIN, deadline, &keep);
		if (r == -ETIME)
			r = -EAGAIN;
		if (r < 0 || r == ASY_PASS)
			break;
		fd = asy__keep_after(&keep, fd, &id);
		if (fd < 0) {
			r = -EBADF;
			break;
		}
		/* Ready: the program's own accept4, in the calling thread
		 * (another thread may take it first: this one then waits as the
		 * kernel's would). */
		p.fd = fd = asy__keep_fd(&keep, fd);
		if (asy_sys_poll(&p, 1, 0) != 0) {
			r = accept_at(io, fd, flags, &num);
			break;
		}
	}
	asy__keep_end(&keep);
	asy__keep_end(&num);
	return r;
}

/* connect on the socket made non-blocking for the call.  The status
 * flags are the program's: read just before, and only the O_NONBLOCK the
 * engine added taken back just after, so that what another thread set
 * while the call waited (O_NONBLOCK, O_ASYNC) stays as it set it. */
static long connect_nb(int fd, const struct asy_io *io)
{
	long fl = asy_sys_fcntl(fd, F_GETFL, 0);
	if (fl < 0)
		return fl;
	if (!(fl & O_NONBLOCK) && asy_sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return ASY_PASS;
	long r = asy_sys(SYS_connect, fd, io->a[0], io->a[1], 0, 0, 0);
	long now = asy_sys_fcntl(fd, F_GETFL, 0);
	if (!(fl & O_NONBLOCK) && now >= 0)
		asy_sys_fcntl(fd, F_SETFL, now & ~O_NONBLOCK);
	return r;
}

/* The kernel's own ending of a connect that waited: connected (0) or
 * the error, and the socket's state as a blocking connect leaves it.
 * Asked of a second connect, which ends a failed TCP or unix connect
 * (the error, and the socket unconnected again).  A vsock connect that
 * failed or timed out is unconnected already, its error only in
 * SO_ERROR: a second connect would start over (EINPROGRESS). */
static long connect_end(int fd, const struct asy_io *io)
{
	sa_family_t fam = AF_UNSPEC;
	int err = 0;
	socklen_t len = sizeof err;
	asy__copy_in(&fam, (const void *)io->a[0], sizeof fam); /* the program's, read again */
	if (fam == AF_VSOCK &&
	    asy_sys(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, &err, &len, 0) == 0 && err)
		return -err;
	long r = connect_nb(fd, io);
	return r == -EISCONN ? 0 : r;
}

/* After a wait: the socket to go on with (keep.c: fd while it still
 * holds the socket, else the copy a close or dup2 over the number left),
 * or -1 when it is gone. */
static int conn_after(struct asy_keep *keep, int fd, const struct stat *id)
{
	int now = asy__keep_after(keep, fd, id);
	return now < 0 ? -1 : asy__keep_fd(keep, now);
}

/* The wait of a connect (the kernel's call holds its socket, so its
 * number is kept: another thread's close or dup2 over it meanwhile never
 * makes the connect go on with, or connect, the socket put there). */
static long connect_wait(struct asy_io *io, int fd, long r, struct asy_keep *keep)
{
	struct stat id;
	if (asy_sys(SYS_fstat, fd, &id, 0, 0, 0, 0) < 0)
		return r;
	int64_t start = asy_now(), deadline = asy__sock_deadline(fd, 0, start), pause = 1000000;
	asy__keep_begin(keep, fd);
	/* AF_UNIX with a full backlog: the kernel's call waits for room;
	 * here the coroutine sleeps and tries again. */
	while (r == -EAGAIN) {
		int64_t now = asy_now(), until = now + pause;
		if (deadline >= 0 && now >= deadline)
			return -EAGAIN;
		if (deadline >= 0 && until > deadline)
			until = deadline;
		int64_t io_deadline = asy__coro_io_deadline();
		int p = asy__park(io_deadline >= 0 && io_deadline < until ? io_deadline : until);
		if (p == -ECANCELED || (p == -ETIMEDOUT && io_deadline >= 0 && asy_now() >= io_deadline))
			return p;
		pause = pause < 16000000 ? pause * 2 : pause;
		if ((fd = conn_after(keep, fd, &id)) < 0)
			return -EBADF;
		r = connect_nb(fd, io);
	}
	if (r != -EINPROGRESS && r != -EALREADY)
		return r;
	/* In progress: it goes on in the kernel whatever happens to the
	 * wait (a later connect says EALREADY, then EISCONN).  A blocking
	 * connect made while an earlier one is in progress (EALREADY) waits
	 * for it too, and says EALREADY when its SO_SNDTIMEO passes
	 * (__inet_stream_connect).  The ring's
	 * poll trusts the mask a wake-up carries: a vsock connect is woken
	 * for room to write while it still connects.  It is over only when
	 * the socket's own poll says so. */
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	long timed_out = r;
	do {
		r = asy__wait_ready(io, fd, POLLOUT, deadline, keep);
		if (r == -ETIME)
			return timed_out; /* SO_SNDTIMEO passed: the kernel's answer */
		if (r < 0 || r == ASY_PASS)
			return r;
		if ((fd = conn_after(keep, fd, &id)) < 0)
			return -EBADF;
		p.fd = fd;
	} while (asy_sys_poll(&p, 1, 0) == 0);
	return connect_end(fd, io);
}

long asy__connect(struct asy_io *io, int fd)
{
	long fl = asy_sys_fcntl(fd, F_GETFL, 0);
	if (fl < 0 || (fl & O_NONBLOCK) || asy__coro_alone())
		return ASY_PASS;
	long r = connect_nb(fd, io);
	if (r != -EINPROGRESS && r != -EAGAIN && r != -EALREADY)
		return r;
	struct asy_keep keep = { .fd = -1, .held = -1 };
	r = connect_wait(io, fd, r, &keep);
	asy__keep_end(&keep);
	return r;
}
