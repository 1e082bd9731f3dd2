/* glibc functions that are one hooked call and some arithmetic, made by
 * glibc through its own internal entry points, where no hook sees the
 * call: inside a coroutine they held the thread, and a sibling that would
 * have ended the wait never ran (an eventfd_read of a counter the sibling
 * writes hung; a thrd_sleep loop waiting for a sibling's flag never saw
 * it).  Each is made here of the hooked call, exactly as glibc 2.36 makes
 * it of its own: the same system call, the same answer, errno left as
 * that call leaves it.  Outside coroutines the hooked call is the
 * program's own, so nothing changes there. */
#include <errno.h>
#include <sys/eventfd.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

/* misc/eventfd_read.c, misc/eventfd_write.c: one read or write of the
 * 8-byte counter; anything but 8 bytes is -1 (errno as the call left
 * it). */
ASY_EXPORT int eventfd_read(int fd, eventfd_t *value)
{
	return read(fd, value, sizeof(eventfd_t)) != sizeof(eventfd_t) ? -1 : 0;
}

ASY_EXPORT int eventfd_write(int fd, eventfd_t value)
{
	return write(fd, &value, sizeof(eventfd_t)) != sizeof(eventfd_t) ? -1 : 0;
}

/* time/thrd_sleep.c: a relative CLOCK_REALTIME clock_nanosleep, whose
 * error number C11 turns into -1 for a signal and -2 for anything else
 * (errno untouched: clock_nanosleep returns its error). */
ASY_EXPORT int thrd_sleep(const struct timespec *d, struct timespec *rem)
{
	switch (clock_nanosleep(CLOCK_REALTIME, 0, d, rem)) {
	case 0:
		return 0;
	case EINTR:
		return -1;
	default:
		return -2;
	}
}
