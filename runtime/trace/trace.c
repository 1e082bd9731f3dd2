/* Tracing: the settings, the hot path every hooked call ends in, the
 * record ring, fork and exit.
 *
 *   hook -> asy__trace_call(): summary counters (atomics), the fd's file
 *           (cached), the stack (libunwind, raw IPs), one slot of the ring;
 *   writer thread (trace-write.c) -> formats and writes the ring with raw
 *           system calls, symbolizing stacks there, off the hot path;
 *   exit (destructor) -> drains the ring, writes the summary (summary.c)
 *           and the folded stacks for flame graphs (flame.c).
 *
 * Nothing on the hot path allocates, locks or blocks: the tables and the
 * ring are mmap'd at start-up, slots are claimed with a CAS, a full ring
 * drops the record and counts it.  errno is saved and restored. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "trace.h"
#include "trace-int.h"
#include "sys.h"
#include "coro.h"

/* The coroutine layer may not be linked in (yet): 0 then. */
extern uint64_t asy__coro_id(void) __attribute__((weak));

int asy__tracing;
struct asy_tcfg asy__tcfg = { .trace_fd = -1, .summary_fd = -1, .flame_fd = -1 };
struct asy_tring *asy__tring;

const char *const asy__call_name[ASY_CALL_COUNT] = {
#define X(n, fam, rd) #n,
	ASY_CALLS(X)
#undef X
};
const char *const asy__via_name[ASY_NVIA] = { "libc", "inline", "uring", "threads", "timer" };

/* Set by the exit path: later calls (other threads still running while
 * the process exits) are no longer recorded. */
static _Atomic int closed;
static _Atomic unsigned trace_gen; /* bumped in a fork child */
static ASY_TLS pid_t tls_tid;
static ASY_TLS unsigned tls_gen;
/* Set while this thread captures a stack: libunwind's own calls (it
 * probes memory through a pipe) are not the program's and go unrecorded,
 * and so, in that window of a few µs, does a signal handler's call
 * (libunwind is not re-entrant). */
static ASY_TLS int tls_unwinding;

uint64_t asy__trace_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the hot path ------------------------------------------------------- */

static pid_t tid_get(void)
{
	unsigned g = atomic_load_explicit(&trace_gen, memory_order_relaxed);
	if (!tls_tid || tls_gen != g) {
		tls_tid = (pid_t)asy_sys_gettid();
		tls_gen = g;
	}
	return tls_tid;
}

/* The bytes a call asks for.  A vector is the program's memory, read
 * as the kernel reads it, a part at a time: one it cannot read, or of
 * more than IOV_MAX entries, asks for none (the call's EFAULT, EINVAL). */
static uint64_t io_size(const struct asy_io *io)
{
	if (io->op == ASY_OP_NONE) /* the fs family's copies name it among their arguments */
		return io->one.iov_len ? io->one.iov_len : asy__fs_size(io);
	if (io->op >= ASY_OP_FSYNC)
		return 0;
	if (!io->iov)
		return io->one.iov_len;
	if (io->iovcnt < 0 || io->iovcnt > 1024)
		return 0;
	struct iovec part[32];
	uint64_t n = 0;
	for (int i = 0; i < io->iovcnt; i += 32) {
		int k = io->iovcnt - i < 32 ? io->iovcnt - i : 32;
		if (asy__copy_in(part, io->iov + i, (size_t)k * sizeof *part) < 0)
			return 0;
		for (int j = 0; j < k; j++)
			n += part[j].iov_len;
	}
	return n;
}

static void futex_wake(_Atomic uint32_t *w)
{
	atomic_fetch_add_explicit(w, 1, memory_order_release);
	asy_sys(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

/* Claim a slot, fill it, publish it.  Lock-free: a signal handler that
 * interrupts this on the same thread claims the next slot. */
static void ring_push(const struct asy_trec *r, const char *path)
{
	struct asy_tring *q = asy__tring;
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed), t;
	do {
		t = atomic_load_explicit(&q->tail, memory_order_acquire);
		if (h - t >= ASY_RING_SLOTS) {
			atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
			return;
		}
	} while (!atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_acq_rel,
							  memory_order_relaxed));
	asy_tsan_acquire(&q->tail); /* the writer is done with the slot's last lap */
	struct asy_trec *s = &q->slot[h & (ASY_RING_SLOTS - 1)];
	s->t0 = r->t0, s->dur = r->dur, s->res = r->res, s->off = r->off;
	s->size = r->size, s->coro = r->coro, s->tid = r->tid, s->fd = r->fd;
	s->file = r->file, s->stack = r->stack, s->call = r->call, s->via = r->via;
	s->path = r->path;
	if (r->path)
		memcpy(q->path[h & (ASY_RING_SLOTS - 1)], path, strlen(path) + 1);
	asy_tsan_release(&s->seq);
	atomic_store_explicit(&s->seq, h + 1, memory_order_release);
	/* Wake the writer once a quarter of the ring waits, not per call. */
	if (h - t >= ASY_RING_SLOTS / 4 &&
	    atomic_exchange_explicit(&q->sleeping, 0, memory_order_relaxed))
		futex_wake(&q->wake);
}

/* The file a record names: the path's entry (summary only: the trace
 * shows the path from the ring), the file close's fd named before the
 * call, or the fd's file now. */
static uint32_t file_of(const struct asy_io *io, const struct asy_trec *r, const char *path,
			int record)
{
	if (r->path) {
		char name[ASY_TPATH];
		size_t l = strlen(path);
		if (!asy__tcfg.summary || r->path == ASY_TP_BAD)
			return 0;
		memcpy(name, path, l + 1);
		if (r->path == ASY_TP_CUT)
			memcpy(name + l, ASY_ELLIPSIS, sizeof ASY_ELLIPSIS); /* l <= ASY_TPATH - 4 */
		return asy__path_file(name);
	}
	if (io->call == ASY_CALL_close)
		return io->tfile;
	return io->fd >= 0 ? asy__file_of(io->fd, record) : 0;
}

void asy__trace_before(struct asy_io *io)
{
	if (asy__in_trace || tls_unwinding || atomic_load_explicit(&closed, memory_order_relaxed))
		return;
	io->tfile = (unsigned short)asy__file_of(io->fd, asy__tcfg.trace_fd >= 0);
}

void asy__trace_call(const struct asy_io *io, long res, uint64_t t0)
{
	if (asy__in_trace || tls_unwinding || atomic_load_explicit(&closed, memory_order_relaxed))
		return;
	int saved = errno;
	struct asy_trec r;
	char path[ASY_TPATH];
	r.t0 = t0;
	r.dur = asy__trace_now() - t0;
	r.res = asy__fs_result(io, res);
	r.off = io->op >= ASY_OP_FSYNC ? -1 : io->off;
	r.size = io_size(io);
	r.call = io->call;
	r.via = io->via < ASY_NVIA ? io->via : 0;
	r.fd = io->fd;
	int record = asy__tcfg.trace_fd >= 0 && r.dur >= asy__tcfg.min_ns;
	if (!record && !asy__tcfg.summary && !asy__tcfg.flame) {
		asy__fs_fds(io, res);
		errno = saved;
		return;
	}
	r.tid = tid_get();
	r.coro = asy__coro_id ? asy__coro_id() : 0;
	/* Paths are copied from the program's memory now: the trace never
	 * keeps a pointer (ASY_TP_*, trace-path.c). */
	r.path = record || asy__tcfg.summary ? (uint8_t)asy__trace_path(io, record, path) : 0;
	/* Full tracing checks the fd's identity on every call, so a closed and
	 * reused number is never shown under its old name; the summary alone
	 * re-checks now and then, and forgets the fds close closes
	 * (trace-files.c). */
	r.file = file_of(io, &r, path, record);
	asy__fs_fds(io, res);
	r.stack = 0;
	if (asy__tcfg.stacks) {
		tls_unwinding = 1;
		r.stack = asy__stack_capture(r.call);
		tls_unwinding = 0;
	}
	if (asy__tcfg.summary)
		asy__summary_account(&r);
	/* Time per stack: the summary's top stacks, the flame graph (which
	 * also counts the calls that went without a stack). */
	if (asy__tcfg.flame || (asy__tcfg.summary && r.stack))
		asy__stack_account(r.stack, r.call, r.dur);
	if (record)
		ring_push(&r, path);
	errno = saved;
}

/* ---- files -------------------------------------------------------------- */

int asy__path_expand(const char *pattern, char *out, size_t n, pid_t pid)
{
	size_t o = 0;
	for (const char *p = pattern; *p; p++) {
		char num[24];
		const char *s = num;
		if (p[0] == '%' && p[1] == 'p') {
			snprintf(num, sizeof num, "%d", (int)pid);
			p++;
		} else {
			num[0] = *p, num[1] = 0;
		}
		size_t l = strlen(s);
		if (o + l >= n)
			return -1;
		memcpy(out + o, s, l);
		o += l;
	}
	out[o] = 0;
	return 0;
}

/* ---- settings ----------------------------------------------------------- */

static int parse_uint(const char *s, unsigned long long hi, unsigned long long *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || errno || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void read_format(void)
{
	static const char *const names[] = { "text", "json", "chrome" };
	const char *s = getenv("ASYNCIFY_TRACE_FORMAT");
	if (!s || !*s)
		return;
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			asy__tcfg.fmt = i;
			return;
		}
	asy__warn("ASYNCIFY_TRACE_FORMAT=%s is not one of text, json, chrome; using text", s);
}

/* ASYNCIFY_STACKS was 0 and ASYNCIFY_FLAME asked for stacks. */
static int stacks_for_flame;

static void read_numbers(void)
{
	unsigned long long v;
	const char *s = getenv("ASYNCIFY_STACKS");
	if (s && *s) {
		if (parse_uint(s, ASY_STACK_MAX, &v) == 0)
			asy__tcfg.stacks = (int)v;
		else
			asy__warn("ASYNCIFY_STACKS=%s is not a number in [0, %d]; using 0", s,
				  ASY_STACK_MAX);
	}
	s = getenv("ASYNCIFY_TRACE_MIN_US");
	if (s && *s) {
		if (parse_uint(s, 1ULL << 40, &v) == 0)
			asy__tcfg.min_ns = v * 1000;
		else
			asy__warn("ASYNCIFY_TRACE_MIN_US=%s is not a number of microseconds; using 0", s);
	}
	/* A flame graph is made of stacks: it turns them on by itself. */
	if (asy__tcfg.flame && !asy__tcfg.stacks) {
		asy__tcfg.stacks = ASY_FLAME_DEPTH;
		stacks_for_flame = 1;
	}
}

/* Copy an ASYNCIFY_TRACE / _SUMMARY / _FLAME value; 1 when set and usable. */
static int read_path(const char *name, char *out, size_t n)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return 0;
	if (strlen(s) >= n) {
		asy__warn("%s is longer than %zu bytes; tracing off", name, n - 1);
		return 0;
	}
	/* The names a shell user gives fd 2 are fd 2 itself ("stderr"): a
	 * path through the symlink would be refused (outputs are opened with
	 * O_NOFOLLOW), or reopen and truncate a file stderr is redirected to. */
	static const char *const fd2[] = { "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2" };
	for (size_t i = 0; i < sizeof fd2 / sizeof fd2[0]; i++)
		if (!strcmp(s, fd2[i]))
			s = "stderr";
	if (strcmp(s, "stderr") && getauxval(AT_SECURE)) {
		asy__warn("%s: no trace files in secure-execution mode (setuid); off", name);
		return 0;
	}
	/* A relative path is taken from the directory the process starts
	 * in: an output reopened after the program's chdir (or chroot)
	 * must not make a file in the program's new directory.  Where that
	 * directory's own path does not reach it (too long for getcwd, a
	 * parent the user may not search) the path stays as given. */
	char cwd[4096];
	struct stat here, there;
	if (strcmp(s, "stderr") && s[0] != '/' && getcwd(cwd, sizeof cwd) &&
	    asy_sys(SYS_newfstatat, AT_FDCWD, (long)".", (long)&here, 0, 0, 0) == 0 &&
	    asy_sys(SYS_newfstatat, AT_FDCWD, (long)cwd, (long)&there, 0, 0, 0) == 0 &&
	    here.st_dev == there.st_dev && here.st_ino == there.st_ino) {
		if (strlen(cwd) + 1 + strlen(s) >= n) {
			asy__warn("%s is longer than %zu bytes from %s; tracing off", name, n - 1, cwd);
			return 0;
		}
		size_t c = strcmp(cwd, "/") ? strlen(cwd) : 0;
		memcpy(out, cwd, c);
		out[c] = '/';
		strcpy(out + c + 1, s);
		return 1;
	}
	strcpy(out, s);
	return 1;
}

static void *map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int tables_init(void)
{
	if (asy__files_init() < 0 || asy__summary_init() < 0)
		return -1;
	if (asy__tcfg.stacks && asy__stacks_init() < 0)
		asy__tcfg.stacks = 0;
	return 0;
}

static void clocks_init(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	asy__tcfg.real0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	asy__tcfg.mono0 = asy__trace_now();
}

static void open_outputs(void)
{
	int owner;
	if (asy__tcfg.trace) {
		asy__tcfg.trace_fd = asy__tout_open(ASY_TOUT_TRACE, &owner);
		if (asy__tcfg.trace_fd >= 0 && owner)
			asy__writer_header();
		/* A new image ends the file it writes: when it appends to its
		 * own pid's file after an exec, the image before it did not. */
		asy__tcfg.trace_owner = asy__tcfg.trace_fd >= 0;
	}
	if (asy__tcfg.summary)
		asy__tcfg.summary_fd = asy__tout_open(ASY_TOUT_SUMMARY, &owner);
	asy__tcfg.summary = asy__tcfg.summary_fd >= 0;
	if (asy__tcfg.flame)
		asy__tcfg.flame_fd = asy__tout_open(ASY_TOUT_FLAME, &owner);
	asy__tcfg.flame = asy__tcfg.flame_fd >= 0;
}

static void trace_fork_child(void);
static void trace_fini(void);

void asy__trace_init(void)
{
	int saved = errno;
	asy__tcfg.trace = read_path("ASYNCIFY_TRACE", asy__tcfg.trace_path,
				    sizeof asy__tcfg.trace_path);
	asy__tcfg.summary = read_path("ASYNCIFY_SUMMARY", asy__tcfg.summary_path,
				      sizeof asy__tcfg.summary_path);
	asy__tcfg.flame = read_path("ASYNCIFY_FLAME", asy__tcfg.flame_path,
				    sizeof asy__tcfg.flame_path);
	read_format();
	read_numbers();
	if (!asy__tcfg.trace && !asy__tcfg.summary && !asy__tcfg.flame)
		goto out;
	asy__tcfg.pid = (pid_t)asy_sys_getpid();
	clocks_init();
	if (tables_init() < 0 || (asy__tcfg.trace && !(asy__tring = map(sizeof *asy__tring)))) {
		asy__warn("tracing: out of memory; off");
		goto out;
	}
	open_outputs();
	if (stacks_for_flame && !asy__tcfg.flame)
		asy__tcfg.stacks = 0; /* the flame file cannot be written: no stacks */
	if (asy__tcfg.trace_fd < 0 && !asy__tcfg.summary && !asy__tcfg.flame)
		goto out;
	if (asy__tcfg.trace_fd >= 0 && asy__writer_start() < 0)
		asy__warn("tracing: no writer thread; records are written at exit only");
	pthread_atfork(NULL, NULL, trace_fork_child);
	atexit(trace_fini);
	asy__tracing = 1;
out:
	errno = saved;
}

/* ---- fork and exit ------------------------------------------------------ */

/* The child is a process of its own: empty ring and counters, its own
 * files when the paths name the pid, a writer thread of its own.  What the
 * parent had not yet written stays the parent's to write. */
void asy__trace_fork_child(void)
{
	if (asy__tracing)
		trace_fork_child();
}

static void trace_fork_child(void)
{
	int owner;
	atomic_fetch_add(&trace_gen, 1);
	/* asy__pid too: the engine's handler that sets it is not installed
	 * under ASYNCIFY_BACKEND=off (asy__closing compares it). */
	asy__pid = asy__tcfg.pid = (pid_t)asy_sys_getpid();
	asy__tout_fork_child();
	if (asy__tring) {
		uint64_t h = atomic_load(&asy__tring->head);
		atomic_store(&asy__tring->tail, h);
		atomic_store(&asy__tring->dropped, 0);
	}
	asy__summary_reset(1);
	if (asy__tcfg.trace_fd >= 0 && strstr(asy__tcfg.trace_path, "%p")) {
		asy__tout_close(ASY_TOUT_TRACE);
		asy__tcfg.trace_fd = asy__tout_open(ASY_TOUT_TRACE, &owner);
		asy__tcfg.trace_owner = owner;
		if (asy__tcfg.trace_fd >= 0 && owner)
			asy__writer_header();
	} else {
		asy__tcfg.trace_owner = 0; /* shares the parent's file */
	}
	if (asy__tcfg.summary && strstr(asy__tcfg.summary_path, "%p")) {
		asy__tout_close(ASY_TOUT_SUMMARY);
		asy__tcfg.summary_fd = asy__tout_open(ASY_TOUT_SUMMARY, &owner);
		asy__tcfg.summary = asy__tcfg.summary_fd >= 0;
	}
	if (asy__tcfg.flame && strstr(asy__tcfg.flame_path, "%p")) {
		asy__tout_close(ASY_TOUT_FLAME);
		asy__tcfg.flame_fd = asy__tout_open(ASY_TOUT_FLAME, &owner);
		asy__tcfg.flame = asy__tcfg.flame_fd >= 0;
	}
	if (asy__tcfg.trace_fd >= 0 && asy__writer_start() < 0)
		asy__warn("tracing: no writer thread in child; records are written at exit only");
}

/* At exit: stop recording, write what the ring holds, end the file, then
 * the summary.  Calls other threads make from now on are not recorded. */
static void trace_fini(void)
{
	int saved = errno;
	if (atomic_exchange(&closed, 1))
		return;
	if (asy__tcfg.trace_fd >= 0) {
		asy__writer_drain();
		if (asy__tcfg.trace_owner)
			asy__writer_footer();
	}
	if (asy__tcfg.summary)
		asy__summary_write();
	if (asy__tcfg.flame)
		asy__flame_write();
	errno = saved;
}

/* Before an exec (called by the shim's exec hooks): write out what the
 * ring holds, this image's summary and flame stacks, which an exec would
 * lose.  The counters start again from zero, in case the exec fails. */
void asy__trace_end(void)
{
	trace_fini();
}

void asy__trace_flush(void)
{
	int saved = errno;
	if (!asy__tracing || atomic_load(&closed)) {
		errno = saved;
		return;
	}
	if (asy__tcfg.trace_fd >= 0)
		asy__writer_drain();
	if (asy__tcfg.summary)
		asy__summary_write();
	if (asy__tcfg.flame)
		asy__flame_write();
	if (asy__tcfg.summary || asy__tcfg.flame)
		asy__summary_reset(0); /* the stacks' counters too */
	errno = saved;
}

/* Exit through exit() or a return from main: atexit() runs trace_fini;
 * the destructor is the same, for a dlclose or when atexit was full. */
__attribute__((destructor)) static void trace_dtor(void)
{
	if (asy__tracing)
		trace_fini();
}
