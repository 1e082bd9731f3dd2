/* The trace writer: a thread of the tracer's own drains the record ring,
 * formats each record (text, json or chrome) and writes the file with raw
 * system calls, so none of it passes through our hooks or is traced.  It
 * wakes when a quarter of the ring is used or every 50 ms; at exit the
 * exiting thread drains what is left.
 *
 * Stacks are symbolized here, and each stack's formatted text is kept
 * (per stack-table index), so a stack seen a million times is formatted
 * once. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/futex.h>

#include "trace-int.h"
#include "trace.h"
#include "sys.h"

#define OUTBUF (64 << 10)
#define STACK_ARENA (8u << 20)
#define TIDS 1024

ASY_TLS int asy__in_trace;

static struct {
	pthread_mutex_t lock; /* one drain at a time: the thread or exit */
	char buf[OUTBUF];
	size_t n;
	size_t mark;       /* buf up to here holds whole records */
	unsigned flushes;  /* writes made so far */
	uint64_t dropped_seen;
	int ended; /* the footer is written */
	int tids[TIDS]; /* threads named in the chrome output so far */
	int ntids;
	uint32_t *stk_off, *stk_len; /* formatted stacks, by stack index */
	char *stk_arena;
	size_t stk_used;
} w = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The first n bytes of the buffer out, the rest moved to its start. */
static void write_out(size_t n)
{
	if (n && asy__tcfg.trace_fd >= 0 && asy__tout_write(ASY_TOUT_TRACE, w.buf, n) < 0) {
		/* Disk full, file gone: tracing stops, the program runs on. */
		asy__warn("tracing: write to the trace file failed; tracing off");
		asy__tout_off(ASY_TOUT_TRACE);
	}
	memmove(w.buf, w.buf + n, w.n - n);
	w.n -= n;
	w.mark = 0;
	w.flushes++;
}

static void flush(void)
{
	write_out(w.n);
}

/* Room in a full buffer: the whole records out, the one being formatted
 * kept, so that every write ends at a record's end — processes of a tree
 * that append to one file (no %p) never cut each other's lines.  A
 * record longer than the buffer goes out in pieces. */
static void room(void)
{
	write_out(w.mark ? w.mark : w.n);
}

static void __attribute__((format(printf, 1, 2))) put(const char *fmt, ...)
{
	va_list ap;
	if (w.n > OUTBUF - 4096)
		room();
	if (w.n > OUTBUF - 4096)
		flush();
	va_start(ap, fmt);
	int l = vsnprintf(w.buf + w.n, OUTBUF - w.n, fmt, ap);
	va_end(ap);
	if (l > 0)
		w.n += (size_t)l < OUTBUF - w.n ? (size_t)l : OUTBUF - w.n - 1;
}

static void put_raw(const char *s, size_t l)
{
	if (w.n + l > OUTBUF)
		room();
	if (w.n + l > OUTBUF)
		flush();
	if (l > OUTBUF) {
		asy__tout_write(ASY_TOUT_TRACE, s, l);
		return;
	}
	memcpy(w.buf + w.n, s, l);
	w.n += l;
}

/* The length of the well-formed UTF-8 character at s (RFC 3629: no
 * overlong form, no surrogate, nothing past U+10FFFF), or 0. */
static int utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	int n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* s as the inside of a JSON string, which must be UTF-8: a path's byte
 * that is not (a name in another encoding, one cut inside a character)
 * is written as the lone surrogate U+DC80 + byte, as Python's
 * surrogateescape reads bytes back — the text stays valid JSON and the
 * bytes can be told. */
static void put_json_str(const char *s)
{
	while (*s) {
		const unsigned char *u = (const unsigned char *)s;
		int n = *u >= 0x80 ? utf8_len(u) : 1;
		if (*u == '"' || *u == '\\')
			put("\\%c", *u);
		else if (*u < 0x20)
			put("\\u%04x", *u);
		else if (!n)
			put("\\u%04x", 0xdc00 + *u);
		else
			put_raw(s, (size_t)n);
		s += n ? n : 1;
	}
}

/* ---- header, footer --------------------------------------------------- */

size_t asy__writer_header_text(char *b, size_t n)
{
	return (size_t)asy__writer_header_for(b, n, (int)asy__tcfg.pid);
}

int asy__writer_header_for(char *b, size_t n, int pid)
{
	int l;
	switch (asy__tcfg.fmt) {
	case ASY_TFMT_JSON:
		l = snprintf(b, n, "{\"type\":\"header\",\"format\":\"asyncify-trace\",\"version\":1,"
				   "\"pid\":%d}\n", pid);
		break;
	case ASY_TFMT_CHROME:
		l = snprintf(b, n, "[\n{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,"
				   "\"tid\":%d,\"args\":{\"sort_index\":0}}", pid, pid);
		break;
	default:
		l = snprintf(b, n, "# asyncify trace, pid %d\n", pid);
	}
	return l > 0 && (size_t)l < n ? l : 0;
}

void asy__writer_header(void)
{
	char b[256];
	if (!strcmp(asy__tcfg.trace_path, "stderr") && asy__tcfg.fmt != ASY_TFMT_CHROME)
		return; /* plain lines on a terminal, like strace */
	size_t l = asy__writer_header_text(b, sizeof b);
	asy__tout_write(ASY_TOUT_TRACE, b, l);
}

/* The end of the file; nothing is written after it (a record another
 * thread published during exit would land behind a chrome file's "]"). */
void asy__writer_footer(void)
{
	asy__mutex_lock(&w.lock);
	if (asy__tcfg.fmt == ASY_TFMT_CHROME && asy__tcfg.trace_fd >= 0)
		asy__tout_write(ASY_TOUT_TRACE, "\n]\n", 3);
	w.ended = 1;
	asy__mutex_unlock(&w.lock);
}

/* ---- one record ------------------------------------------------------- */

static const char *err_name(int64_t res)
{
	const char *s = res < 0 ? strerrorname_np((int)-res) : NULL;
	return s ? s : "E?";
}

/* A table entry another thread has claimed but not yet filled in: give it
 * time (it is a few instructions away, unless that thread was stopped). */
static int wait_ready(_Atomic int *ready)
{
	for (int i = 0; i < 100000; i++) {
		if (atomic_load_explicit(ready, memory_order_acquire)) {
			asy_tsan_acquire(ready);
			return 1;
		}
		sched_yield();
	}
	return 0;
}

static const struct asy_file *file_of(const struct asy_trec *r)
{
	struct asy_file *f = &asy__files[r->file];
	return r->file && wait_ready(&f->ready) ? f : NULL;
}

/* The stack's frames, formatted once for the chosen format. */
static void stack_format(const struct asy_stack *s)
{
	for (int i = 0; i < s->depth; i++) {
		const char *fn, *obj;
		uint64_t off;
		asy__symbolize(s->ip[i], &fn, &off, &obj);
		switch (asy__tcfg.fmt) {
		case ASY_TFMT_TEXT:
			put(" > %s+0x%llx (%s) [0x%llx]\n", fn, (unsigned long long)off, obj,
			    (unsigned long long)s->ip[i]);
			break;
		case ASY_TFMT_JSON:
			put("%s{\"ip\":\"0x%llx\",\"fn\":\"", i ? "," : "", (unsigned long long)s->ip[i]);
			put_json_str(fn);
			put("\",\"off\":%llu,\"obj\":\"", (unsigned long long)off);
			put_json_str(obj);
			put("\"}");
			break;
		default:
			put("%s\"", i ? "," : "");
			put_json_str(fn);
			put("+0x%llx (", (unsigned long long)off);
			put_json_str(obj);
			put(")\"");
		}
	}
}

static void put_stack(uint32_t idx)
{
	struct asy_stack *s = &asy__stacks[idx];
	if (!wait_ready(&s->ready))
		return;
	if (w.stk_len && w.stk_len[idx]) {
		put_raw(w.stk_arena + w.stk_off[idx], w.stk_len[idx]);
		return;
	}
	if (w.n > OUTBUF / 2)
		room();
	size_t start = w.n; /* format it after the record's start, then keep a copy */
	unsigned flushes = w.flushes;
	stack_format(s);
	size_t len = w.n - start;
	if (w.stk_len && flushes == w.flushes && w.stk_used + len <= STACK_ARENA) {
		memcpy(w.stk_arena + w.stk_used, w.buf + start, len);
		w.stk_off[idx] = (uint32_t)w.stk_used;
		w.stk_len[idx] = (uint32_t)len;
		w.stk_used += len;
	}
}

static const unsigned char fam[ASY_CALL_COUNT] = {
#define X(n, family, rd) [ASY_CALL_##n] = ASY_FAM_##family,
	ASY_CALLS(X)
#undef X
};

/* Calls that take no fd: sleeps, name lookups, poll and select, sync,
 * msync, close_range (and the path calls, shown by their path). */
static int fdless(int call)
{
	return fam[call] == ASY_FAM_sleep || fam[call] == ASY_FAM_res || call == ASY_CALL_poll ||
	       call == ASY_CALL_ppoll || call == ASY_CALL_select || call == ASY_CALL_pselect ||
	       call == ASY_CALL_sync || call == ASY_CALL_msync || call == ASY_CALL_close_range;
}

/* The bytes asked for are shown for the calls that move data (not for
 * fsync, nor the file system's metadata calls). */
static int shows_size(int call)
{
	if (fdless(call) || call == ASY_CALL_fsync || call == ASY_CALL_fdatasync)
		return 0;
	return fam[call] != ASY_FAM_fs || asy__call_class(call) == ASY_TC_DATA;
}

/* A path in text: quoted, with C escapes for what would break the line. */
static void put_text_path(const struct asy_trec *r, const char *path)
{
	if (r->path == ASY_TP_BAD) { /* the pointer, as strace shows one */
		put("%s", path);
		return;
	}
	put("\"");
	for (const unsigned char *c = (const void *)path; *c; c++) {
		if (*c == '"' || *c == '\\')
			put("\\%c", *c);
		else if (*c == '\n')
			put("\\n");
		else if (*c == '\t')
			put("\\t");
		else if (*c < 0x20 || *c == 0x7f)
			put("\\x%02x", *c);
		else
			put_raw((const char *)c, 1);
	}
	put("\"%s", r->path == ASY_TP_CUT ? ASY_ELLIPSIS : "");
}

static void put_text(const struct asy_trec *r, const struct asy_file *f, const char *path)
{
	uint64_t wall = asy__tcfg.real0 + (r->t0 - asy__tcfg.mono0);
	/* UTC by arithmetic: glibc's gmtime_r reads the time zone file once
	 * (leap seconds), an open at the lowest free number that a program's
	 * open racing this thread would see. */
	unsigned day = (unsigned)(wall / 1000000000u % 86400u);
	put("%02u:%02u:%02u.%06llu %d", day / 3600, day / 60 % 60, day % 60,
	    (unsigned long long)(wall % 1000000000u / 1000), r->tid);
	if (r->coro)
		put(":c%llu", (unsigned long long)r->coro);
	put(" %s(", asy__call_name[r->call]);
	if (r->path) {
		put_text_path(r, path);
	} else {
		if (!fdless(r->call))
			put("%d", r->fd);
		if (f)
			put("<%s>", f->path[0] ? f->path : asy__file_kind_name(f));
		if (shows_size(r->call))
			put(", %llu", (unsigned long long)r->size);
		if (r->off >= 0)
			put(", %lld", (long long)r->off);
	}
	if (r->res >= 0)
		put(") = %lld", (long long)r->res);
	else
		put(") = -%s", err_name(r->res));
	put(" <%llu.%06llu> %s\n", (unsigned long long)(r->dur / 1000000000u),
	    (unsigned long long)(r->dur % 1000000000u / 1000), asy__via_name[r->via]);
	if (r->stack)
		put_stack(r->stack);
}

/* "file" and "kind": what the fd is, or the path the call named (null
 * when the pointer could not be read). */
static void put_json_file(const struct asy_trec *r, const struct asy_file *f, const char *path)
{
	if (r->path == ASY_TP_BAD) {
		put(",\"file\":null,\"kind\":\"path\"");
		return;
	}
	put(",\"file\":\"");
	put_json_str(r->path ? path : f ? f->path : "");
	if (r->path == ASY_TP_CUT)
		put_raw(ASY_ELLIPSIS, sizeof ASY_ELLIPSIS - 1);
	put("\",\"kind\":\"%s\"", r->path ? "path" : f ? asy__file_kind_name(f) : "unknown");
}

/* The fields json and chrome records share: size, off, res, errno. */
static void put_result(const struct asy_trec *r)
{
	put(",\"size\":%llu,\"off\":%lld,\"res\":%lld,\"errno\":", (unsigned long long)r->size,
	    (long long)r->off, (long long)r->res);
	if (r->res < 0)
		put("\"%s\"", err_name(r->res));
	else
		put("null");
}

static void put_json(const struct asy_trec *r, const struct asy_file *f, const char *path)
{
	uint64_t wall = asy__tcfg.real0 + (r->t0 - asy__tcfg.mono0);
	put("{\"type\":\"call\",\"time_us\":%llu,\"pid\":%d,\"tid\":%d,\"coro\":%llu,"
	    "\"call\":\"%s\",\"fd\":%d",
	    (unsigned long long)(wall / 1000), (int)asy__tcfg.pid, r->tid,
	    (unsigned long long)r->coro, asy__call_name[r->call], r->fd);
	put_json_file(r, f, path);
	put_result(r);
	put(",\"dur_ns\":%llu,\"via\":\"%s\",\"stack\":[", (unsigned long long)r->dur,
	    asy__via_name[r->via]);
	if (r->stack)
		put_stack(r->stack);
	put("]}\n");
}

static void thread_comm(int tid, char *b, size_t n)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/self/task/%d/comm", tid);
	long fd = asy_sys(SYS_openat, -100, p, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	long l = fd >= 0 ? asy_sys_read((int)fd, b, n - 1) : 0;
	if (fd >= 0)
		asy_sys_close((int)fd);
	l = l < 0 ? 0 : l;
	if (l && b[l - 1] == '\n')
		l--;
	b[l] = 0;
}

/* Perfetto names a track by its thread: name each tid once. */
static void chrome_thread(int tid)
{
	char name[32];
	for (int i = 0; i < w.ntids; i++)
		if (w.tids[i] == tid)
			return;
	if (w.ntids < TIDS)
		w.tids[w.ntids++] = tid;
	thread_comm(tid, name, sizeof name);
	put(",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"",
	    (int)asy__tcfg.pid, tid);
	put_json_str(name[0] ? name : "thread");
	put(" %d\"}}", tid);
}

static void put_chrome(const struct asy_trec *r, const struct asy_file *f, const char *path)
{
	chrome_thread(r->tid);
	put(",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%llu.%03llu,\"dur\":%llu.%03llu,"
	    "\"pid\":%d,\"tid\":%d,\"args\":{\"fd\":%d",
	    asy__call_name[r->call], asy__via_name[r->via], (unsigned long long)(r->t0 / 1000),
	    (unsigned long long)(r->t0 % 1000), (unsigned long long)(r->dur / 1000),
	    (unsigned long long)(r->dur % 1000), (int)asy__tcfg.pid, r->tid, r->fd);
	put_json_file(r, f, path);
	put_result(r);
	put(",\"via\":\"%s\",\"coro\":%llu,\"stack\":[", asy__via_name[r->via],
	    (unsigned long long)r->coro);
	if (r->stack)
		put_stack(r->stack);
	put("]}}");
}

static void put_record(const struct asy_trec *r, const char *path)
{
	const struct asy_file *f = r->path ? NULL : file_of(r);
	if (asy__tcfg.fmt == ASY_TFMT_TEXT)
		put_text(r, f, path);
	else if (asy__tcfg.fmt == ASY_TFMT_JSON)
		put_json(r, f, path);
	else
		put_chrome(r, f, path);
}

static void put_dropped(void)
{
	uint64_t d = atomic_load_explicit(&asy__tring->dropped, memory_order_relaxed);
	if (d == w.dropped_seen)
		return;
	unsigned long long n = d - w.dropped_seen;
	w.dropped_seen = d;
	if (asy__tcfg.fmt == ASY_TFMT_TEXT)
		put("# asyncify: %llu records dropped (ring full)\n", n);
	else if (asy__tcfg.fmt == ASY_TFMT_JSON)
		put("{\"type\":\"dropped\",\"pid\":%d,\"count\":%llu}\n", (int)asy__tcfg.pid, n);
}

/* ---- draining ----------------------------------------------------------- */

static void drain_locked(void)
{
	struct asy_tring *q = asy__tring;
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	if (asy__tcfg.trace_fd < 0 || w.ended)
		return;
	for (;;) {
		struct asy_trec *s = &q->slot[t & (ASY_RING_SLOTS - 1)];
		if (atomic_load_explicit(&s->seq, memory_order_acquire) != t + 1)
			break;
		asy_tsan_acquire(&s->seq); /* engine/tsan.h: pushed inside an interceptor */
		struct asy_trec r;
		r.t0 = s->t0, r.dur = s->dur, r.res = s->res, r.off = s->off, r.size = s->size;
		r.coro = s->coro, r.tid = s->tid, r.fd = s->fd, r.file = s->file;
		r.stack = s->stack, r.call = s->call, r.via = s->via, r.path = s->path;
		char path[ASY_TPATH];
		if (r.path) { /* before the slot is given back */
			memcpy(path, q->path[t & (ASY_RING_SLOTS - 1)], ASY_TPATH);
			path[ASY_TPATH - 1] = 0;
		}
		asy_tsan_release(&q->tail);
		atomic_store_explicit(&q->tail, ++t, memory_order_release);
		put_record(&r, path);
		w.mark = w.n;
	}
	put_dropped();
	flush();
}

void asy__writer_drain(void)
{
	int saved = asy__in_trace;
	asy__in_trace = 1;
	asy__mutex_lock(&w.lock);
	drain_locked();
	asy__mutex_unlock(&w.lock);
	asy__in_trace = saved;
}

static uint64_t ring_used(void)
{
	struct asy_tring *q = asy__tring;
	return atomic_load(&q->head) - atomic_load(&q->tail);
}

static _Atomic int writer_running;
static _Atomic int writer_tid;  /* the writer thread's, 0 while there is none */
static _Atomic int writer_quit; /* asy__trace_writer_leave() asks it to end */

static void *writer_main(void *arg)
{
	struct asy_tring *q = asy__tring;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	asy__in_trace = 1;
	atomic_store(&writer_tid, (int)asy_sys(SYS_gettid, 0, 0, 0, 0, 0, 0));
	atomic_store(&writer_running, 1);
	while (!atomic_load(&writer_quit)) {
		uint32_t v = atomic_load(&q->wake);
		atomic_store(&q->sleeping, 1);
		/* Sleep until a quarter of the ring is used (a producer wakes
		 * us) or 50 ms passed: batches, not a busy second core. */
		if (ring_used() < ASY_RING_SLOTS / 4 && !atomic_load(&writer_quit))
			asy_sys(SYS_futex, &q->wake, FUTEX_WAIT_PRIVATE, v, &ts, 0, 0);
		atomic_store(&q->sleeping, 0);
		asy__mutex_lock(&w.lock);
		drain_locked();
		asy__mutex_unlock(&w.lock);
	}
	asy__thread_counted(1); /* glibc counts it out again as it ends */
	return NULL;
}

static void process_name(void)
{
	char name[32];
	if (asy__tcfg.fmt != ASY_TFMT_CHROME)
		return;
	thread_comm((int)asy__tcfg.pid, name, sizeof name);
	put(",\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"",
	    (int)asy__tcfg.pid, (int)asy__tcfg.pid);
	put_json_str(name);
	put(" %d\"}}", (int)asy__tcfg.pid);
	flush();
}

/* Calls the kernel refuses to a process of more than one thread
 * (shim/task.c: asy__alone_begin) run while the writer is away: `calls`
 * of them under way, `left` when the writer left for them. */
static struct {
	pthread_mutex_t lock;
	int calls, left;
} alone = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int writer_spawn(void);

/* Start (or, in a fork child, restart) the writer thread; 0 or -errno. */
int asy__writer_start(void)
{
	pthread_mutex_init(&w.lock, NULL); /* a fork child: the parent's may be held */
	w.n = 0, w.mark = 0, w.ntids = 0, w.dropped_seen = 0, w.ended = 0;
	if (asy__tcfg.stacks && !w.stk_len) {
		void *p = mmap(NULL, STACK_ARENA + 2 * sizeof(uint32_t) * ASY_STACKS,
			       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			w.stk_off = p, w.stk_len = w.stk_off + ASY_STACKS;
			w.stk_arena = (char *)(w.stk_len + ASY_STACKS);
		}
	}
	process_name();
	pthread_mutex_init(&alone.lock, NULL); /* a fork child's own */
	alone.calls = alone.left = 0;
	atomic_store(&writer_tid, 0);
	return writer_spawn();
}

/* The thread itself, every signal blocked in it: the program's handlers
 * run elsewhere.  Returns once it runs (below). */
static int writer_spawn(void)
{
	pthread_t th;
	pthread_attr_t attr;
	sigset_t all, old;
	atomic_store(&writer_quit, 0);
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	atomic_store(&writer_running, 0);
	int r = pthread_create(&th, &attr, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (!r)
		asy__thread_counted(0); /* out of glibc's count while it runs */
	/* Return once the thread runs: a thread still starting up (in its
	 * libc or sanitizer set-up, which allocates) when the program forks or
	 * exits right away left a forked child's allocator locked (seen under
	 * ASan: the child hung in its leak check at exit).  A second at most,
	 * runnable all along: a program's parent that waits until its fork
	 * child sleeps (/proc/PID/stat's state S) before it signals the child
	 * took that wait for the child's own (LTP's futex_wait07, 1 run in 5). */
	uint64_t until = asy__trace_now() + 1000000000u;
	while (!r && !atomic_load(&writer_running) && asy__trace_now() < until)
		asy_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	return -r;
}

/* The writer ends, and its thread is gone from the process (the kernel
 * counts it until then) — a second at most; the ring keeps what comes
 * meanwhile.  Nested and concurrent calls share one absence. */
void asy__trace_writer_leave(void)
{
	asy__mutex_lock(&alone.lock);
	int tid = atomic_load(&writer_tid);
	if (alone.calls++ == 0 && tid > 0) {
		struct asy_tring *q = asy__tring;
		struct timespec pause = { 0, 100000 };
		uint64_t until = asy__trace_now() + 1000000000u;
		long pid = asy_sys_getpid();
		atomic_store(&writer_quit, 1);
		atomic_fetch_add(&q->wake, 1);
		asy_sys(SYS_futex, &q->wake, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
		int gone;
		while (!(gone = asy_sys(SYS_tgkill, pid, tid, 0, 0, 0, 0) == -ESRCH) &&
		       asy__trace_now() < until)
			asy_sys(SYS_nanosleep, &pause, 0, 0, 0, 0, 0);
		if (gone) {
			atomic_store(&writer_tid, 0);
			alone.left = 1;
		} else { /* held in a write (a pipe nobody reads): it stays */
			atomic_store(&writer_quit, 0);
		}
	}
	asy__mutex_unlock(&alone.lock);
}

/* After the last of those calls: the writer again, as it was. */
void asy__trace_writer_back(void)
{
	asy__mutex_lock(&alone.lock);
	if (alone.calls > 0 && --alone.calls == 0 && alone.left) {
		alone.left = 0;
		if (writer_spawn() < 0)
			asy__warn("tracing: no writer thread; records are written at exit only");
	}
	asy__mutex_unlock(&alone.lock);
}
