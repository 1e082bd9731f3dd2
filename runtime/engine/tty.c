/* Terminals under job control: when a read or write is the program's own
 * call (the kernel's checks act on the calling thread), and a write that
 * waited for room while its process group was moved to the background. */
#define _LARGEFILE64_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "engine.h"
#include "fdkind.h"
#include "sys.h"

/* A terminal the calling process controls from a background process
 * group: the kernel's read (and write, with TOSTOP) answers at once —
 * EIO, or SIGTTIN/SIGTTOU to the group and a restart — before it would
 * wait, on the task that calls; a worker, which blocks every signal,
 * would be given EIO or write on.  TIOCGPGRP answers only for the
 * caller's controlling tty and for pty masters, which are no one's. */
int asy__tty_background(int fd, int writing)
{
	pid_t fg;
	unsigned ptn;
	struct termios tio;
	if (asy_sys(SYS_ioctl, fd, TIOCGPGRP, &fg, 0, 0, 0) < 0 ||
	    fg == (pid_t)asy_sys(SYS_getpgid, 0, 0, 0, 0, 0, 0) ||
	    asy_sys(SYS_ioctl, fd, TIOCGPTN, &ptn, 0, 0, 0) == 0)
		return 0;
	return !writing ||
	       (asy_sys(SYS_ioctl, fd, TCGETS, &tio, 0, 0, 0) == 0 && (tio.c_lflag & TOSTOP));
}

int asy__tty_own(int fd, int writing)
{
	struct termios tio;
	if (asy__tty_background(fd, writing))
		return 1;
	return !writing && asy_sys(SYS_ioctl, fd, TCGETS, &tio, 0, 0, 0) == 0 &&
	       !(tio.c_lflag & ICANON) && tio.c_cc[VMIN] == 0 && tio.c_cc[VTIME] == 0;
}

/* The kernel's terminal write moves its bytes in chunks of 2048, and
 * looks at the process group (TOSTOP) as each chunk begins — never while
 * it waits for room inside one.  A coroutine's write that found no room
 * waits by poll and was then made again, which looked again: moved to
 * the background meanwhile, it stopped the process (or a handler got
 * EINTR, or SA_RESTART made it again for ever) where the kernel's wrote
 * on.  So: the rest of the first chunk on a worker, which blocks every
 * signal and so is never stopped; then the next chunk's look, the
 * kernel's — back in the foreground, or SIGTTOU ignored or blocked by
 * the thread: the rest is the thread's own write; else the count so
 * far, and SIGTTOU to the group unless it is orphaned (the kernel's EIO
 * then ends the call). */
#define TTY_CHUNK 2048

static long chunk_write(void *arg, int fd) /* on a worker */
{
	const struct asy_rest *r = arg;
	return asy_sys(SYS_writev, fd, r->v, r->cnt, 0, 0, 0);
}

/* /proc/<pid>/stat's parent, process group and session; 0, or -1. */
static int proc_stat(long pid, long *ppid, long *pgrp, long *sid)
{
	char path[40], b[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	long fd = asy_sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return -1;
	long n = asy_sys(SYS_read, fd, b, sizeof b - 1, 0, 0, 0);
	asy_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	if (n <= 0)
		return -1;
	b[n] = 0;
	char *p = strrchr(b, ')'); /* past the name, which may hold anything */
	char state;
	return p && sscanf(p + 1, " %c %ld %ld %ld", &state, ppid, pgrp, sid) == 4 ? 0 : -1;
}

/* Whether a member of the process group has a parent in another group
 * of the session: the kernel's test before it stops a group (an
 * orphaned one gets EIO instead).  The parent first, then every
 * process. */
static int pgrp_orphaned(long pgrp, long sid)
{
	long ppid = asy_sys(SYS_getppid, 0, 0, 0, 0, 0, 0), pp, pg, ps;
	if (proc_stat(ppid, &pp, &pg, &ps) == 0 && pg != pgrp && ps == sid)
		return 0;
	long dir = asy_sys(SYS_openat, AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0,
			   0, 0);
	if (dir < 0)
		return 0;
	char buf[1024] __attribute__((aligned(8)));
	int orphaned = 1;
	long n;
	while (orphaned && (n = asy_sys(SYS_getdents64, dir, buf, sizeof buf, 0, 0, 0)) > 0) {
		for (long off = 0; off < n && orphaned;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->d_reclen;
			char *end;
			long pid = strtol(d->d_name, &end, 10);
			long mp, mg, ms;
			if (*end || pid <= 0 || proc_stat(pid, &mp, &mg, &ms) < 0 || mg != pgrp)
				continue;
			if (proc_stat(mp, &pp, &pg, &ps) == 0 && pg != pgrp && ps == sid)
				orphaned = 0;
		}
	}
	asy_sys(SYS_close, dir, 0, 0, 0, 0, 0);
	return orphaned;
}

static int ttou_ignored(void)
{
	sigset_t mask;
	struct sigaction sa;
	if (asy_sys(SYS_rt_sigprocmask, SIG_BLOCK, 0, &mask, 8, 0, 0) == 0 &&
	    sigismember(&mask, SIGTTOU))
		return 1;
	return asy_sys(SYS_rt_sigaction, SIGTTOU, 0, &sa, 8, 0, 0) == 0 && sa.sa_handler == SIG_IGN;
}

long asy__tty_write_moved(struct asy_io *io)
{
	size_t total = asy__iov_total(io->iov, io->iovcnt);
	struct asy_rest r;
	if (asy__rest_of(&r, io->iov, io->iovcnt, 0) < 0)
		return ASY_PASS;
	size_t left = TTY_CHUNK;
	int n = 0;
	for (; n < r.cnt && left; n++) {
		if (r.v[n].iov_len > left)
			r.v[n].iov_len = left;
		left -= r.v[n].iov_len;
	}
	r.cnt = n;
	long done = asy__call_waits(io, io->fd, chunk_write, &r);
	asy__rest_free(&r);
	if (done == ASY_PASS || done < TTY_CHUNK || (size_t)done >= total)
		return done;
	/* back in the foreground (fg), or TOSTOP cleared: the look passes */
	if (asy__tty_background(io->fd, 1) && !ttou_ignored()) {
		long pgrp = asy_sys(SYS_getpgid, 0, 0, 0, 0, 0, 0);
		long sid = asy_sys(SYS_getsid, 0, 0, 0, 0, 0, 0);
		if (!pgrp_orphaned(pgrp, sid)) /* orphaned: EIO, after bytes moved the count */
			asy_sys(SYS_kill, -pgrp, SIGTTOU, 0, 0, 0, 0);
		return done;
	}
	if (asy__rest_of(&r, io->iov, io->iovcnt, (size_t)done) < 0)
		return done;
	long more = asy_sys(SYS_writev, io->fd, r.v, r.cnt, 0, 0, 0);
	asy__rest_free(&r);
	return more > 0 ? done + more : done;
}
