/* The order of a coroutine's file calls against those its thread's other
 * coroutines have out on a backend (runtime/engine/fs.c).
 *
 * An op handed to a backend when its coroutine yielded takes its file by
 * number, and changes it, only when the ring's next submit or a worker
 * starts it.  A call another coroutine of the thread makes after that
 * yield must not overtake it where the kernel's call, made first, would
 * hold the file: a close, dup2 or F_SETFL of the number, a resize of the
 * file, or a write to it. */
#ifndef ASY_ORDER_H
#define ASY_ORDER_H

#include "engine.h"

/* Ops out that change a file's contents or size (a write, an ftruncate
 * or fallocate on a worker), counted by the thread that sent them: a
 * write looks for them only while there are some. */
extern ASY_TLS unsigned asy__changing;

/* Park the calling coroutine until the ops io must come after have
 * ended (or its I/O deadline or cancel comes); `len`: a write's bytes,
 * -1 when not known. */
void asy__ops_first(const struct asy_io *io, long len);

#endif
