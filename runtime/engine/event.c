/* Eventfd-like fds: the write that skips the try where one was found last. */
#include <poll.h>

#include "engine.h"
#include "fdkind.h"
#include "sys.h"

/* An eventfd's write (8 bytes) refuses the try (EOPNOTSUPP): where one
 * was found last, the poll(0) its row makes comes first, and ready, the
 * call is the program's own (rw.c) — exact whatever the number holds now
 * (a close forgets the hint), and too small to wait where poll calls a
 * pipe or socket ready (2 system calls instead of 5: GLib's and libuv's
 * wake-ups).  A vector the kernel would refuse: the try's path. */
int asy__event_write_ready(struct asy_io *io)
{
	if (io->op != ASY_OP_WRITE || io->rwflags || io->off >= 0 || !asy__fd_was_event(io->fd) ||
	    (unsigned long)asy__vec_total_safe(io) > 8)
		return 0;
	struct pollfd p = { .fd = io->fd, .events = POLLOUT };
	return asy_sys_poll(&p, 1, 0) != 0;
}
