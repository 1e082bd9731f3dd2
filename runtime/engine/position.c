/* Calls at the file position, one at a time per open file.
 *
 * A read or write at the file position that the try did not finish goes
 * to a backend op while its coroutine yields (rw_file): the rest after a
 * part the try moved, or the whole call.  Until that op ends, no other
 * coroutine of the thread starts a read or write at the position of the
 * same open file (the same fd, or one kcmp finds to share its file: a
 * dup; the same file opened again has a position of its own), not even
 * its try: the kernel makes such calls one after the other (the file's
 * position lock), and a try made while an op waits would move the
 * position under it — a record read by two coroutines from one shared fd
 * came back torn, and every read after it misaligned.  Another thread or
 * process can still come between the two parts of a call (README). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "engine.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

#define SPAN_LOOK_NS 50000 /* a waiting coroutine looks again after 50 µs */

#define SPANS (sizeof ((struct asy_thread *)0)->span / sizeof ((struct asy_thread *)0)->span[0])

/* The slot taken for the file, or -1 when all are in use. */
static int span_take(struct asy_thread *t, int fd, const struct stat *id)
{
	if (t->spans >= SPANS)
		return -1;
	for (unsigned i = 0; i < SPANS; i++)
		if (!t->span[i].ino) {
			t->span[i].dev = id->st_dev;
			t->span[i].ino = id->st_ino;
			t->span[i].fd = fd;
			t->spans++;
			return (int)i;
		}
	return -1;
}

void asy__pos_end(struct asy_thread *t, int i)
{
	t->span[i].ino = 0;
	t->spans--;
}

#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif

/* fd's open file has an op out (st NULL: every slot is taken).  Where
 * kcmp cannot tell, the same inode counts as the same open file. */
static int span_busy(const struct asy_thread *t, int fd, const struct stat *st)
{
	if (!st)
		return t->spans >= SPANS;
	for (unsigned i = 0; i < SPANS; i++)
		if (t->span[i].ino == st->st_ino && t->span[i].dev == st->st_dev &&
		    (t->span[i].fd == fd ||
		     asy_sys(SYS_kcmp, asy__pid, asy__pid, KCMP_FILE, fd, t->span[i].fd, 0) <= 0))
			return 1;
	return 0;
}

/* Park while span_busy(); 0, or the deadline's or cancel's error. */
static long span_park(const struct asy_thread *t, int fd, const struct stat *st)
{
	int64_t io_deadline = asy__coro_io_deadline();
	while (t->spans && span_busy(t, fd, st)) {
		int64_t look = asy_now() + SPAN_LOOK_NS;
		int r = asy__park(io_deadline >= 0 && io_deadline < look ? io_deadline : look);
		if (r == -ECANCELED)
			return r;
		if (io_deadline >= 0 && asy_now() >= io_deadline)
			return -ETIMEDOUT;
		if (r < 0 && r != -ETIMEDOUT)
			return 0; /* not a coroutine after all */
	}
	return 0;
}

/* Before a call at the file position: wait while a call of another
 * coroutine at the position of the same file is out. */
long asy__pos_wait(const struct asy_io *io)
{
	struct asy_thread *t = asy__tls_thread;
	struct stat st;
	if (!t || !t->spans || asy_sys(SYS_fstat, io->fd, &st, 0, 0, 0, 0) < 0)
		return 0;
	return span_park(t, io->fd, &st);
}

/* A slot for the op this call is about to send out: -1 when the call is
 * not at the position; -2 + (-errno) when the wait for a slot ended. */
int asy__pos_begin(struct asy_thread *t, const struct asy_io *io, const struct stat *id)
{
	if (io->off >= 0 || !t)
		return -1;
	for (;;) {
		int i = span_take(t, io->fd, id);
		if (i >= 0)
			return i;
		long r = span_park(t, io->fd, NULL); /* every slot taken: rare */
		if (r < 0)
			return -2 + (int)r;
	}
}

long asy__write_end(const struct asy_io *io, long done)
{
	struct stat st;
	long fl = asy_sys_fcntl(io->fd, F_GETFL, 0);
	int append = ((fl >= 0 && (fl & O_APPEND)) || (io->rwflags & RWF_APPEND)) &&
		     !(io->rwflags & RWF_NOAPPEND);
	if (append)
		return asy_sys(SYS_fstat, io->fd, &st, 0, 0, 0, 0) == 0 ? (long)st.st_size : -1;
	return io->off >= 0 ? io->off + done : asy_sys(SYS_lseek, io->fd, 0, SEEK_CUR, 0, 0, 0);
}
