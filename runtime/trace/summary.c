/* The summary (ASYNCIFY_SUMMARY): counters added on the hot path with
 * relaxed atomics, written once at exit by each process of a fork tree.
 *
 * Latencies go into a log-scaled histogram (4 buckets per power of two,
 * so a percentile is known to within 12.5%), never into stored samples. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "trace.h"
#include "trace-int.h"
#include "sys.h"

#define TOP_FILES 10
#define TOP_STACKS 5

/* Shard 0 is shared (atomic adds); shards 1.. belong to one thread each
 * while it lives and are updated without locked instructions.  A thread
 * beyond the last shard, and a signal handler's call that interrupts the
 * accounting of its own thread, use shard 0. */
#define SHARDS 17

static struct asy_shard *shards;
static _Atomic int owner[SHARDS]; /* 1: a live thread holds the shard */
static _Atomic int used[SHARDS];  /* 1: the shard has counts (merge it) */
static _Atomic unsigned shard_gen;  /* bumped in a fork child */
static pthread_key_t shard_key;
static ASY_TLS struct asy_shard *tls_shard;
static ASY_TLS unsigned tls_shard_gen;
static ASY_TLS int tls_busy;

/* Thread exit: the shard's counts stay, the next thread adds to them. */
static void shard_release(void *p)
{
	atomic_store(&owner[(struct asy_shard *)p - shards], 0);
}

int asy__summary_init(void)
{
	/* Untouched pages of a shard cost nothing; a thread's use is a few. */
	void *p = mmap(NULL, sizeof *shards * SHARDS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED || pthread_key_create(&shard_key, shard_release))
		return -ENOMEM;
	shards = p;
	return 0;
}

/* Fresh zero pages over a shard: no page is touched (a memset would
 * fault in a megabyte per shard). */
static void shard_clear(int i)
{
	void *p = mmap(&shards[i], sizeof shards[i], PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		memset(&shards[i], 0, sizeof shards[i]);
}

void asy__summary_reset(int fork_child)
{
	for (int i = 0; i < SHARDS; i++) {
		if (i == 0 || atomic_load(&used[i]))
			shard_clear(i);
		if (fork_child) { /* the owners were the parent's threads */
			atomic_store(&owner[i], 0);
			atomic_store(&used[i], 0);
		}
	}
	if (fork_child)
		atomic_fetch_add(&shard_gen, 1);
	asy__stacks_reset(fork_child);
}

/* This thread's shard, claimed on its first call; NULL: use shard 0. */
static struct asy_shard *shard_get(void)
{
	unsigned g = atomic_load_explicit(&shard_gen, memory_order_relaxed);
	if (tls_shard_gen == g + 1)
		return tls_shard;
	tls_shard = NULL;
	for (int i = 1; i < SHARDS; i++) {
		int free_ = 0;
		if (atomic_compare_exchange_strong(&owner[i], &free_, 1)) {
			atomic_store(&used[i], 1);
			tls_shard = &shards[i];
			pthread_setspecific(shard_key, tls_shard);
			break;
		}
	}
	tls_shard_gen = g + 1;
	return tls_shard;
}

/* Adds to a thread's own shard: a relaxed load and store, no lock prefix
 * (readers at exit see each counter whole). */
static inline void own_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static inline void shared_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static int lat_bucket(uint64_t ns)
{
	if (ns < 4)
		return (int)ns;
	int e = 63 - __builtin_clzll(ns);
	return (e - 1) * 4 + (int)((ns >> (e - 2)) & 3);
}

static uint64_t lat_lower(int b)
{
	if (b < 4)
		return (uint64_t)b;
	int e = b / 4 + 1;
	return (uint64_t)(4 + b % 4) << (e - 2);
}

static void max_update(_Atomic uint64_t *m, uint64_t v, int own)
{
	uint64_t cur = atomic_load_explicit(m, memory_order_relaxed);
	if (own) {
		if (v > cur)
			atomic_store_explicit(m, v, memory_order_relaxed);
		return;
	}
	while (v > cur && !atomic_compare_exchange_weak_explicit(m, &cur, v, memory_order_relaxed,
								 memory_order_relaxed))
		;
}

/* Entry i of a table is in use (its bit in the table's bitmap). */
static int in_use(const _Atomic uint64_t *bits, int i)
{
	return (atomic_load_explicit(&bits[i / 64], memory_order_relaxed) >> (i % 64)) & 1;
}

/* Reads on one side; writes, fsync and fdatasync on the other. */
static int is_read(int call)
{
	static const unsigned char reads[ASY_CALL_COUNT] = {
#define X(n, fam, rd) [ASY_CALL_##n] = rd,
		ASY_CALLS(X)
#undef X
	};
	return reads[call];
}

#define ADD(c, v) (own ? own_add((c), (v)) : shared_add((c), (v)))

static void account(struct asy_shard *sh, const struct asy_trec *r, int own)
{
	struct asy_callstat *c = &sh->call[r->call][r->via];
	int cls = asy__call_class(r->call);
	/* Bytes only where the result counts them (not open's fd, not
	 * fcntl's flags, not poll's ready fds). */
	uint64_t bytes = cls == ASY_TC_DATA && r->res > 0 ? (uint64_t)r->res : 0;
	ADD(&c->count, 1);
	if (r->res < 0)
		ADD(&c->errors, 1);
	ADD(&c->bytes, bytes);
	ADD(&c->time_ns, r->dur);
	ADD(&sh->hist[r->call][r->via][lat_bucket(r->dur)], 1);
	max_update(&c->max_ns, r->dur, own);
	if (r->file) {
		struct asy_filestat *f = &sh->file[r->file];
		int d = !is_read(r->call);
		ADD(&f->time_ns, r->dur);
		if (cls == ASY_TC_META) {
			ADD(&f->meta, 1);
			return;
		}
		ADD(&f->bytes[d], bytes);
		ADD(&f->size_hist[d][asy__size_bucket(r->size)], 1);
	}
}

void asy__summary_account(const struct asy_trec *r)
{
	struct asy_shard *sh = tls_busy ? NULL : shard_get();
	if (sh) {
		tls_busy = 1;
		atomic_signal_fence(memory_order_seq_cst);
		account(sh, r, 1);
		atomic_signal_fence(memory_order_seq_cst);
		tls_busy = 0;
	} else {
		account(&shards[0], r, 0);
	}
}

/* ---- writing ---------------------------------------------------------- */

struct out {
	char buf[8192];
	size_t n;
};

static void out_flush(struct out *o)
{
	asy__tout_write(ASY_TOUT_SUMMARY, o->buf, o->n);
	o->n = 0;
}

static void __attribute__((format(printf, 2, 3))) put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	if (o->n > sizeof o->buf - 1024)
		out_flush(o);
	va_start(ap, fmt);
	int l = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
	va_end(ap);
	if (l > 0)
		o->n += (size_t)l < sizeof o->buf - o->n ? (size_t)l : sizeof o->buf - o->n - 1;
}

/* The latency at quantile q (0..1) of a histogram, in ns; a bucket's
 * midpoint, never above the observed maximum. */
static uint64_t quantile(const uint64_t *h, uint64_t total, double q, uint64_t max)
{
	uint64_t want = (uint64_t)(q * (double)total + 0.999999), seen = 0;
	for (int b = 0; b < ASY_LAT_BUCKETS; b++) {
		seen += h[b];
		if (seen >= want && h[b]) {
			uint64_t lo = lat_lower(b), hi = b + 1 < ASY_LAT_BUCKETS ? lat_lower(b + 1) : lo;
			uint64_t mid = lo + (hi - lo) / 2;
			return mid < max ? mid : max;
		}
	}
	return max;
}

static void put_calls(struct out *o)
{
	put(o, "%-16s %-8s %10s %7s %14s %11s %9s %9s %9s\n", "call", "backend", "count",
	    "errors", "bytes", "total_ms", "p50_us", "p99_us", "max_us");
	for (int c = 0; c < ASY_CALL_COUNT; c++)
		for (int v = 0; v < ASY_NVIA; v++) {
			struct asy_callstat *s = &shards[0].call[c][v];
			uint64_t n = atomic_load(&s->count), h[ASY_LAT_BUCKETS];
			if (!n)
				continue;
			for (int b = 0; b < ASY_LAT_BUCKETS; b++)
				h[b] = atomic_load(&shards[0].hist[c][v][b]);
			uint64_t max = atomic_load(&s->max_ns);
			put(o, "%-16s %-8s %10llu %7llu %14llu %11.3f %9.1f %9.1f %9.1f\n",
			    asy__call_name[c], asy__via_name[v], (unsigned long long)n,
			    (unsigned long long)atomic_load(&s->errors),
			    (unsigned long long)atomic_load(&s->bytes),
			    (double)atomic_load(&s->time_ns) / 1e6,
			    (double)quantile(h, n, 0.50, max) / 1e3,
			    (double)quantile(h, n, 0.99, max) / 1e3, (double)max / 1e3);
		}
}

static uint64_t file_ops(const struct asy_filestat *f, int d)
{
	uint64_t n = 0;
	for (int b = 0; b < ASY_SIZE_BUCKETS; b++)
		n += atomic_load(&f->size_hist[d][b]);
	return n;
}

/* Per kind of fd (and the paths path calls named), added up from the
 * per-file counters. */
static void put_kinds(struct out *o)
{
	uint64_t ops[ASY_KINDS] = { 0 }, meta[ASY_KINDS] = { 0 }, bytes[ASY_KINDS] = { 0 };
	uint64_t ns[ASY_KINDS] = { 0 };
	for (int i = 1; i < ASY_FILES; i++) {
		const struct asy_file *f = &asy__files[i];
		if (!in_use(asy__files_used, i) || !atomic_load(&f->ready))
			continue;
		const struct asy_filestat *st = &shards[0].file[i];
		int k = asy__file_kind(f);
		ops[k] += file_ops(st, 0) + file_ops(st, 1);
		meta[k] += atomic_load(&st->meta);
		bytes[k] += atomic_load(&st->bytes[0]) + atomic_load(&st->bytes[1]);
		ns[k] += atomic_load(&st->time_ns);
	}
	put(o, "\n%-10s %10s %8s %14s %11s\n", "kind", "ops", "meta", "bytes", "total_ms");
	for (int k = 0; k < ASY_KINDS; k++)
		if (ops[k] || meta[k])
			put(o, "%-10s %10llu %8llu %14llu %11.3f\n", asy__kind_names[k],
			    (unsigned long long)ops[k], (unsigned long long)meta[k],
			    (unsigned long long)bytes[k], (double)ns[k] / 1e6);
}

static void size_label(char *b, size_t n, int bucket)
{
	static const char units[] = "BKMG";
	if (bucket == 0) {
		snprintf(b, n, "0");
		return;
	}
	uint64_t v = 1ull << (bucket - 1);
	int u = 0;
	while (v >= 1024 && u < 3)
		v >>= 10, u++;
	snprintf(b, n, "%llu%c%s", (unsigned long long)v, units[u],
		 bucket == ASY_SIZE_BUCKETS - 1 ? "+" : "");
}

/* Indices of the n biggest values (time), biggest first. */
static int top(const _Atomic uint64_t *(*val)(int), int count, int *idx, int n)
{
	int k = 0;
	for (int i = 1; i < count; i++) {
		uint64_t v = atomic_load(val(i));
		if (!v)
			continue;
		int j = k < n ? k++ : n;
		if (j == n && v <= atomic_load(val(idx[n - 1])))
			continue;
		if (j == n)
			j = n - 1;
		while (j > 0 && atomic_load(val(idx[j - 1])) < v) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	return k;
}

/* Free table entries read as 0 without touching their (untouched) pages. */
static const _Atomic uint64_t zero;

static const _Atomic uint64_t *file_time(int i)
{
	return in_use(asy__files_used, i) ? &shards[0].file[i].time_ns : &zero;
}

static const _Atomic uint64_t *stack_time(int i)
{
	return in_use(asy__stacks_used, i) ? &asy__stacks[i].time_ns : &zero;
}

static void put_file(struct out *o, int i)
{
	const struct asy_file *f = &asy__files[i];
	const struct asy_filestat *st = &shards[0].file[i];
	int ready = atomic_load(&f->ready);
	uint64_t ops = file_ops(st, 0) + file_ops(st, 1);
	put(o, "%11.3f %8llu/%-8llu %8llu %12llu/%-12llu %-8s %s\n",
	    (double)atomic_load(&st->time_ns) / 1e6, (unsigned long long)file_ops(st, 0),
	    (unsigned long long)file_ops(st, 1), (unsigned long long)atomic_load(&st->meta),
	    (unsigned long long)atomic_load(&st->bytes[0]),
	    (unsigned long long)atomic_load(&st->bytes[1]), ready ? asy__file_kind_name(f) : "?",
	    ready && f->path[0] ? f->path : "?");
	if (!ops)
		return; /* metadata only: no sizes */
	put(o, "%11s sizes:", "");
	for (int b = 0; b < ASY_SIZE_BUCKETS; b++) {
		uint64_t n = atomic_load(&st->size_hist[0][b]) + atomic_load(&st->size_hist[1][b]);
		char l[16];
		if (!n)
			continue;
		size_label(l, sizeof l, b);
		put(o, " %s:%llu", l, (unsigned long long)n);
	}
	put(o, "\n");
}

static void put_files(struct out *o)
{
	int idx[TOP_FILES];
	int n = top(file_time, ASY_FILES, idx, TOP_FILES);
	if (!n)
		return;
	put(o, "\ntop files and peers by time\n%11s %17s %8s %25s %-8s %s\n", "total_ms",
	    "ops r/w", "meta", "bytes r/w", "kind", "path");
	for (int i = 0; i < n; i++)
		put_file(o, idx[i]);
}

static void put_stacks(struct out *o)
{
	int idx[TOP_STACKS];
	if (!asy__stacks)
		return;
	int n = top(stack_time, ASY_STACKS, idx, TOP_STACKS);
	if (!n)
		return;
	put(o, "\ntop stacks by time\n");
	for (int i = 0; i < n; i++) {
		struct asy_stack *s = &asy__stacks[idx[i]];
		put(o, "#%d %11.3f ms %10llu calls  %s\n", i + 1,
		    (double)atomic_load(&s->time_ns) / 1e6, (unsigned long long)atomic_load(&s->calls),
		    asy__call_name[s->call]);
		for (int f = 0; f < s->depth; f++) {
			const char *fn, *obj;
			uint64_t off;
			asy__symbolize(s->ip[f], &fn, &off, &obj);
			put(o, "   > %s+0x%llx (%s) [0x%llx]\n", fn, (unsigned long long)off, obj,
			    (unsigned long long)s->ip[f]);
		}
	}
}

void asy__comm(char *b, size_t n)
{
	long fd = asy_sys(SYS_openat, -100, "/proc/self/comm", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	long l = fd >= 0 ? asy_sys_read((int)fd, b, n - 1) : 0;
	if (fd >= 0)
		asy_sys_close((int)fd);
	if (l < 0)
		l = 0;
	if (l > 0 && b[l - 1] == '\n')
		l--;
	b[l] = 0;
}

/* Fold every thread's shard into shard 0 (atomic adds: threads still
 * running may use shard 0 meanwhile). */
static void merge_file(struct asy_filestat *d, struct asy_filestat *f)
{
	for (int k = 0; k < 2; k++) {
		shared_add(&d->bytes[k], atomic_load(&f->bytes[k]));
		for (int b = 0; b < ASY_SIZE_BUCKETS; b++)
			shared_add(&d->size_hist[k][b], atomic_load(&f->size_hist[k][b]));
	}
	shared_add(&d->time_ns, atomic_load(&f->time_ns));
	shared_add(&d->meta, atomic_load(&f->meta));
}

/* Fold the shards threads used into shard 0 (atomic adds: threads still
 * running may use shard 0 meanwhile).  Only what was touched is read:
 * the shards are mostly untouched pages. */
static void merge(void)
{
	for (int s = 1; s < SHARDS; s++) {
		if (!atomic_load(&used[s]))
			continue;
		for (int c = 0; c < ASY_CALL_COUNT; c++)
			for (int v = 0; v < ASY_NVIA; v++) {
				struct asy_callstat *d = &shards[0].call[c][v], *f = &shards[s].call[c][v];
				if (!atomic_load(&f->count))
					continue; /* never used: its histogram pages stay untouched */
				shared_add(&d->count, atomic_load(&f->count));
				shared_add(&d->errors, atomic_load(&f->errors));
				shared_add(&d->bytes, atomic_load(&f->bytes));
				shared_add(&d->time_ns, atomic_load(&f->time_ns));
				max_update(&d->max_ns, atomic_load(&f->max_ns), 0);
				for (int b = 0; b < ASY_LAT_BUCKETS; b++)
					shared_add(&shards[0].hist[c][v][b],
						   atomic_load(&shards[s].hist[c][v][b]));
			}
		for (int i = 1; i < ASY_FILES; i++)
			if (in_use(asy__files_used, i))
				merge_file(&shards[0].file[i], &shards[s].file[i]);
	}
}

void asy__summary_write(void)
{
	static struct out o;
	char name[64];
	o.n = 0;
	asy__comm(name, sizeof name);
	uint64_t dropped = asy__tring ? atomic_load(&asy__tring->dropped) : 0;
	put(&o, "asyncify summary: pid %d (%s), %.3f s", (int)asy_sys_getpid(), name,
	    (double)(asy__trace_now() - asy__tcfg.mono0) / 1e9);
	if (dropped)
		put(&o, ", %llu trace records dropped (ring full)", (unsigned long long)dropped);
	put(&o, "\n");
	merge();
	put_calls(&o);
	put_kinds(&o);
	put_files(&o);
	put_stacks(&o);
	put(&o, "\n");
	out_flush(&o);
}
