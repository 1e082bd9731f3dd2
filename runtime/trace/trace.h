/* Tracing and the summary: what the shim and the engine call.
 * Implemented in runtime/trace*.c; see README "Tracing". */
#ifndef ASY_TRACE_H
#define ASY_TRACE_H

#include <stdint.h>
#include "engine.h"

/* Nonzero when ASYNCIFY_TRACE or ASYNCIFY_SUMMARY is on; written once by
 * asy__trace_init() before any hook can run, read-only afterwards. */
extern int asy__tracing;

/* Read ASYNCIFY_TRACE, _TRACE_FORMAT, _STACKS, _TRACE_MIN_US, _SUMMARY;
 * called from asy__init() after asy__config_read(). */
void asy__trace_init(void);

/* CLOCK_MONOTONIC in ns (vDSO; no system call). */
uint64_t asy__trace_now(void);

/* Record one finished call.  `io` is the call as the hook described it
 * (io->via: which path ran it), `res` its result (>= 0 or -errno), `t0`
 * asy__trace_now() at entry.  Async-signal-safe; never blocks, never
 * allocates, leaves errno as it was. */
void asy__trace_call(const struct asy_io *io, long res, uint64_t t0);

/* Before a call that ends what its fd names (close): look the fd up now,
 * into io->tfile.  Async-signal-safe, errno preserved. */
void asy__trace_before(struct asy_io *io);

/* The trace's outputs (trace-out.c) live at the top of the fd table; a
 * close of the process's own over lo..hi (asy__closing) must not meet
 * them.  asy__trace_in: whether one is in lo..hi (no system call).
 * asy__trace_closing: move them out of lo..hi, or close those that
 * cannot move; a mask of those, for asy__trace_closed() to reopen once the
 * call returned.  Async-signal-safe, errno preserved. */
int asy__trace_in(unsigned lo, unsigned hi);
unsigned asy__trace_closing(unsigned lo, unsigned hi);
void asy__trace_closed(unsigned lost);

/* Around a call the kernel refuses to a process of more than one thread
 * (shim/task.c): the writer thread ends and is gone before it, and starts
 * again after it.  Not async-signal-safe; errno may change. */
void asy__trace_writer_leave(void);
void asy__trace_writer_back(void);

/* Write out pending records and the summary now (before exec).  Not
 * async-signal-safe; errno preserved. */
void asy__trace_flush(void);
/* _exit: as at exit (the file's end written too), then no more records. */
void asy__trace_end(void);
/* In a child of a fork that ran no pthread_atfork handler, made the
 * engine's own (engine.c): what the trace's fork handler does. */
void asy__trace_fork_child(void);

#endif
