/* Tracing internals shared by runtime/trace/trace.c (settings, the hot path, the
 * record ring), trace-out.c (the outputs' fds), trace-files.c (what an fd
 * is), stacks.c (call stacks),
 * trace-write.c (the writer thread and the three formats), summary.c
 * (the exit table) and flame.c (the folded stacks for flame graphs).
 *
 * Everything the hot path touches is preallocated with mmap at start-up:
 * recording a call never allocates, never takes a lock and never blocks. */
#ifndef ASY_TRACE_INT_H
#define ASY_TRACE_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"

enum asy_tfmt { ASY_TFMT_TEXT, ASY_TFMT_JSON, ASY_TFMT_CHROME };

/* Settings, read once by asy__trace_init() and read-only afterwards
 * (the fork child handler re-derives the paths for the new pid). */
struct asy_tcfg {
	int trace;        /* per-call records go to trace_fd */
	int summary;      /* the exit table goes to summary_fd */
	int flame;        /* folded stacks go to flame_fd at exit */
	int fmt;          /* enum asy_tfmt */
	int stacks;       /* frames per call, 0 = none */
	uint64_t min_ns;  /* ASYNCIFY_TRACE_MIN_US, in ns */
	char trace_path[4096];   /* as given; "stderr" for fd 2 */
	char summary_path[4096];
	char flame_path[4096];
	/* The outputs' fds (trace-out.c), -1 when off.  Atomic: a close of
	 * the program's moves them while the writer thread writes. */
	_Atomic int trace_fd;
	_Atomic int summary_fd;
	_Atomic int flame_fd;
	int trace_owner;  /* this process wrote the file's header */
	uint64_t mono0;   /* CLOCK_MONOTONIC and CLOCK_REALTIME at start-up, */
	uint64_t real0;   /* to print monotonic stamps as wall-clock time */
	pid_t pid;
};
extern struct asy_tcfg asy__tcfg;

#define ASY_NVIA 5

/* One finished call in the ring.  `seq` is written last (release): the
 * writer thread reads a slot only once seq says it is complete. */
struct asy_trec {
	_Atomic uint64_t seq;
	uint64_t t0, dur;   /* CLOCK_MONOTONIC ns */
	int64_t res;        /* >= 0 or -errno */
	int64_t off;        /* -1: the file position */
	uint64_t size;      /* bytes asked for */
	uint64_t coro;      /* coroutine id, 0 outside coroutines */
	int32_t tid, fd;
	uint32_t file;      /* index into the file table, 0 = unknown */
	uint32_t stack;     /* index into the stack table, 0 = none */
	uint8_t call, via;
	uint8_t path;       /* enum asy_tpath: the call names a path (the ring's path[]) */
};

/* What a record of a path call holds in its ring slot's path[]. */
enum asy_tpath {
	ASY_TP_NONE,  /* not a path call */
	ASY_TP_FULL,  /* the path as shown, whole */
	ASY_TP_CUT,   /* its first bytes: longer than ASY_TPATH - 4 (shown with "…") */
	ASY_TP_BAD    /* the pointer could not be read (EFAULT): "0x…", its value */
};
/* Bytes a path is shown with, its NUL included (the file table's too). */
#define ASY_TPATH 176
#define ASY_ELLIPSIS "\xe2\x80\xa6" /* "…", after a path that was cut */

/* The ring: a bounded multi-producer queue (one slot per call) drained
 * by the writer thread.  Full: the record is dropped and counted. */
#define ASY_RING_SLOTS (1u << 15)
struct asy_tring {
	_Atomic uint64_t head;    /* next slot to reserve */
	char pad1[56];
	_Atomic uint64_t tail;    /* next slot the writer reads */
	_Atomic uint64_t dropped; /* records lost because the ring was full */
	_Atomic uint32_t wake;    /* futex word: bumped to wake the writer */
	_Atomic int sleeping;     /* the writer waits on `wake` */
	char pad2[32];
	struct asy_trec slot[ASY_RING_SLOTS];
	/* The path of slot i's call when it names one: copied at the hook, so
	 * a trace names every path however many there are (untouched pages
	 * of it cost nothing). */
	char path[ASY_RING_SLOTS][ASY_TPATH];
};
extern struct asy_tring *asy__tring;

/* ---- trace.c ---------------------------------------------------------- */
/* Before an exec: write the ring and the summary out (they would be lost);
 * the shim's exec hooks should call it (to be declared in trace.h). */
void asy__trace_flush(void);
/* Names for enum asy_call and enum asy_via. */
extern const char *const asy__call_name[ASY_CALL_COUNT];
extern const char *const asy__via_name[ASY_NVIA];
/* Expand %p in `pattern` into out (size n); 0, or -1 when it does not fit. */
int asy__path_expand(const char *pattern, char *out, size_t n, pid_t pid);

/* ---- trace-out.c: the outputs' fds --------------------------------------- */
enum asy_tout { ASY_TOUT_TRACE, ASY_TOUT_SUMMARY, ASY_TOUT_FLAME, ASY_TOUTS };
/* Open output i for this pid (its ASYNCIFY_* setting in asy__tcfg) at a
 * top number of the fd table; fd, or -1 after one warning.  *owner: the
 * trace file is new (write the header), or it is stderr. */
int asy__tout_open(int i, int *owner);
/* Write all of buf to output i, wherever a close of the program's moved
 * it; 0 or -errno. */
int asy__tout_write(int i, const char *buf, size_t n);
/* Stop output i (a write failed) and close its fd. */
void asy__tout_off(int i);
/* In a fork child, first: the parent's writers are gone, and an output a
 * close of the parent's had closed is open again. */
void asy__tout_fork_child(void);
/* Close output i's fd (a fork child, before it opens its own file). */
void asy__tout_close(int i);
/* Open a trace or summary file (path with %p already expanded): 0600,
 * O_APPEND, never through a symlink, only a file of our own; fd or -errno.
 * A file that starts with `hdr` is this pid's before an exec and is
 * appended to; any other is truncated and *fresh set (write the header).
 * hlen 0: always append (summaries). */
int asy__tfile_open(const char *path, const char *hdr, size_t hlen, int *fresh);

/* ---- trace-files.c: what an fd is --------------------------------------- */
#define ASY_FILES 4096
#define ASY_FDMAP 4096 /* fds cached; larger numbers re-check every call */
#define ASY_SIZE_BUCKETS 24 /* access sizes: [0], [1], [2,4), … , [2^22, ∞) */
struct asy_file {
	_Atomic uint64_t key;   /* hash of (dev, ino), 0 = free */
	_Atomic int ready;      /* dev, ino, mode, path filled in */
	uint64_t dev, ino;
	uint32_t mode;          /* st_mode */
	char path[ASY_TPATH];   /* readlink of /proc/self/fd/N when first seen;
				 * a socket: its family and peer (trace-files.c);
				 * a path entry: the path as the calls named it */
	_Atomic unsigned char renew; /* a socket without a peer yet: look again */
	unsigned char is_path;  /* keyed by a path string, not (dev, ino): the
				 * summary's entry for the calls that named it */
};
extern struct asy_file *asy__files;
/* Which entries are in use, so that exit and fork read a few hundred bytes
 * instead of faulting in every page of the tables (costly in a VM). */
extern _Atomic uint64_t asy__files_used[ASY_FILES / 64];
int asy__files_init(void);
/* The file-table index for fd (0 when it cannot be told); `recheck` asks
 * for an fstat now instead of trusting the per-fd cache. */
uint32_t asy__file_of(int fd, int recheck);
/* The entry of a path as shown (asy__trace_path), added on first use;
 * 0 when the table is full. */
uint32_t asy__path_file(const char *shown);
/* fd was closed, or is a new fd: its cached index must not be trusted. */
void asy__file_forget(int fd);
/* "regular", "pipe", "socket", "chardev", "other" for an st_mode; "path"
 * for a path entry (ASY_KIND_PATH). */
const char *asy__kind_name(uint32_t mode);
#define ASY_KIND_PATH 5
extern const char *const asy__kind_names[]; /* by kind index: ASY_KINDS of them */
int asy__file_kind(const struct asy_file *f);
const char *asy__file_kind_name(const struct asy_file *f);
int asy__size_bucket(uint64_t n);

/* ---- trace-path.c: the path a call names, the classes of calls ---------- */
/* Copy what io's path argument names into out (ASY_TPATH bytes) without
 * trusting the pointer: the path, behind its directory fd's name for an
 * *at call given a relative path; enum asy_tpath (ASY_TP_NONE: the call
 * names no path).  `recheck` as for asy__file_of (the directory fd). */
int asy__trace_path(const struct asy_io *io, int recheck, char *out);
/* Which counters a call adds to: bytes moved (the result is a count of
 * bytes), metadata (the summary's meta ops), or neither. */
enum asy_tclass { ASY_TC_OTHER, ASY_TC_DATA, ASY_TC_META };
int asy__call_class(int call);
/* Bytes a copy (sendfile, splice, tee, copy_file_range) asks for. */
uint64_t asy__fs_size(const struct asy_io *io);
/* The result the trace shows: posix_fallocate's error number as -errno. */
long asy__fs_result(const struct asy_io *io, long res);
/* After a call: forget the fds it closed or made (close, close_range,
 * open, accept, F_DUPFD, …). */
void asy__fs_fds(const struct asy_io *io, long res);

/* ---- stacks.c ----------------------------------------------------------- */
#define ASY_STACK_MAX 32
#define ASY_STACKS 4096
/* One stack of one call: the same frames ending in read and in write are
 * two entries, so that a flame graph can name the call as its leaf. */
struct asy_stack {
	_Atomic uint64_t key; /* hash of the frames and the call, 0 = free */
	_Atomic int ready;
	int depth;
	uint8_t call;      /* enum asy_call */
	uint8_t truncated; /* there were more frames than asy__tcfg.stacks */
	uint64_t ip[ASY_STACK_MAX];
	_Atomic uint64_t calls, time_ns;
};
extern struct asy_stack *asy__stacks;
extern _Atomic uint64_t asy__stacks_used[ASY_STACKS / 64];
/* Calls recorded without a stack (none captured, or the table was full),
 * per call: a flame graph still shows their time. */
extern _Atomic uint64_t asy__nostack_calls[ASY_CALL_COUNT], asy__nostack_ns[ASY_CALL_COUNT];
int asy__stacks_init(void);
void asy__stacks_reset(int fork_child);
/* Capture the caller's stack (our own frames left out) of a call to
 * `call` into the table; its index, 0 when none.  Async-signal-safe. */
uint32_t asy__stack_capture(int call);
/* Add one call of ns to stack idx (0: to the call's no-stack counters). */
void asy__stack_account(uint32_t idx, int call, uint64_t ns);
/* Symbolize one frame ("fn+0x1a", "/lib/x.so") off the hot path; cached. */
void asy__symbolize(uint64_t ip, const char **fn, uint64_t *off, const char **obj);

/* ---- trace-write.c ------------------------------------------------------ */
int asy__writer_start(void);
/* Drain the ring into the trace file from the calling thread (exit, or
 * when the writer thread could not start). */
void asy__writer_drain(void);
/* The header and the end of the file for the chosen format; the header
 * names the pid and nothing that changes across an exec. */
size_t asy__writer_header_text(char *buf, size_t n);
int asy__writer_header_for(char *buf, size_t n, int pid); /* another pid's */
void asy__writer_header(void);
void asy__writer_footer(void);
extern ASY_TLS int asy__in_trace; /* this thread is the tracer's own */

/* ---- summary.c ---------------------------------------------------------- */
#define ASY_LAT_BUCKETS 256 /* log2 of ns, 4 sub-buckets each */
struct asy_callstat {
	_Atomic uint64_t count, errors, bytes, time_ns, max_ns;
};
/* Per file and direction (0 read, 1 write/sync): ops = sum of size_hist;
 * meta: calls that move no data (open, stat, close, rename, flock, …). */
struct asy_filestat {
	_Atomic uint64_t bytes[2], time_ns, meta;
	_Atomic uint64_t size_hist[2][ASY_SIZE_BUCKETS];
};
#define ASY_KINDS 6
/* Counters of one thread (or, shard 0, of everyone, with atomic adds). */
struct asy_shard {
	struct asy_callstat call[ASY_CALL_COUNT][ASY_NVIA];
	_Atomic uint64_t hist[ASY_CALL_COUNT][ASY_NVIA][ASY_LAT_BUCKETS];
	struct asy_filestat file[ASY_FILES];
};
int asy__summary_init(void);
/* Every counter back to 0; in a fork child also every shard free (their
 * owners were the parent's threads). */
void asy__summary_reset(int fork_child);
void asy__summary_account(const struct asy_trec *r);
int asy__kind_index(uint32_t mode);
/* Write the exit table to asy__tcfg.summary_fd. */
void asy__summary_write(void);
/* The process's name (/proc/self/comm) into b, at most n - 1 bytes. */
void asy__comm(char *b, size_t n);

/* ---- flame.c ------------------------------------------------------------ */
/* Frames per call when ASYNCIFY_FLAME is set and ASYNCIFY_STACKS is not. */
#define ASY_FLAME_DEPTH 16
/* Write the stack table in the folded format to asy__tcfg.flame_fd. */
void asy__flame_write(void);

#endif
