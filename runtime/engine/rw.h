/* What rw.c (a coroutine's read or write) and rw-polled.c (the kinds of
 * fd polled before their own call) share. */
#ifndef ASY_RW_H
#define ASY_RW_H

#include <sys/stat.h>

#include "engine.h"
#include "fdkind.h"

/* One op on the backend for what is left of io after `done` bytes: the
 * op's result (detach.c keeps a file op a deadline leaves behind). */
long asy__rw_op_rest(struct asy_io *io, long done, enum asy_op op, short events,
		     int64_t deadline);
/* The program's call itself, on io->fd, at `off` (-1: the file position). */
long asy__rw_call_itself(const struct asy_io *io, off_t off);
/* A tty, a device or an event fd whose try would wait (rw-polled.c). */
long asy__rw_polled(struct asy_io *io, const struct asy_kind_def *k, const struct stat *id);

#endif
