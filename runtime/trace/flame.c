/* The folded stacks of ASYNCIFY_FLAME: at exit, one line per distinct
 * stack of the table stacks.c fills on the hot path,
 *
 *   comm;main;load_config;fread;read 200123
 *
 * root first (the process's name, then the outermost frame), the call
 * name as the leaf, weighted by the microseconds spent in the calls made
 * from there.  This is the input every flame-graph tool reads as it is
 * (flamegraph.pl, inferno, speedscope); scripts/asyncify-flame renders it.
 *
 * Written once per process (and before an exec), off the hot path:
 * symbolizing (asy__symbolize) locks and the sort may allocate here.  The
 * lines go out with raw system calls, each write() holding whole lines
 * only, so that processes sharing an O_APPEND file (a fork without %p in
 * the path) never cut each other's lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace-int.h"
#include "sys.h"

/* A line has at most ASY_STACK_MAX frames of at most FRAME_MAX bytes. */
#define FRAME_MAX 512
#define LINE_MAX_ (64 + (ASY_STACK_MAX + 2) * (FRAME_MAX + 1))

struct folded {
	char buf[1 << 16];
	size_t n;
	int err;
};

static void flush(struct folded *o)
{
	int r = o->n ? asy__tout_write(ASY_TOUT_FLAME, o->buf, o->n) : 0;
	if (r < 0 && !o->err)
		o->err = r;
	o->n = 0;
}

/* Append one frame (after a ';' unless it is the first), with the
 * characters that would break a folded line replaced. */
static void frame(struct folded *o, const char *name)
{
	if (o->n && o->buf[o->n - 1] != '\n')
		o->buf[o->n++] = ';';
	for (size_t i = 0; name[i] && i < FRAME_MAX; i++) {
		char c = name[i];
		o->buf[o->n++] = c == ';' || c == '\n' || c == '\r' ? '_' : c;
	}
}

/* The name of the frame at ip into b: its function, or "[object+0xoff]"
 * when no symbol covers it, so that `addr2line -e object 0xoff` can
 * still tell. */
static const char *frame_name(uint64_t ip, char *b, size_t n)
{
	const char *fn, *obj, *base;
	uint64_t off;
	asy__symbolize(ip, &fn, &off, &obj);
	if (strcmp(fn, "?"))
		return fn;
	base = strrchr(obj, '/');
	snprintf(b, n, "[%s+0x%llx]", base ? base + 1 : obj, (unsigned long long)off);
	return b;
}

/* End the line with its weight: µs, rounded, at least 1 (a recorded call
 * took some time; a 0 would make some tools drop the stack). */
static void weight(struct folded *o, uint64_t ns)
{
	uint64_t us = (ns + 500) / 1000;
	o->n += (size_t)snprintf(o->buf + o->n, 32, " %llu\n", (unsigned long long)(us ? us : 1));
	if (o->n > sizeof o->buf - LINE_MAX_)
		flush(o);
}

/* Stacks that differ only in their return addresses (two calls of read in
 * one function) fold into one line: they are sorted by the hash of what
 * the line says, and each run of equal hashes is written once. */
static struct line {
	uint64_t key;
	uint32_t idx;
} lines[ASY_STACKS];

static uint64_t hash_str(uint64_t k, const char *s)
{
	for (; *s; s++)
		k = (k ^ (unsigned char)*s) * 0x100000001b3ull;
	return (k ^ ';') * 0x100000001b3ull;
}

static uint64_t line_key(const struct asy_stack *s)
{
	char b[FRAME_MAX];
	uint64_t k = 0xcbf29ce484222325ull ^ s->truncated;
	for (int f = s->depth - 1; f >= 0; f--)
		k = hash_str(k, frame_name(s->ip[f], b, sizeof b));
	return hash_str(k, asy__call_name[s->call]);
}

static int line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

static void put_stack(struct folded *o, const char *comm, const struct asy_stack *s,
		      uint64_t ns)
{
	char b[FRAME_MAX];
	frame(o, comm);
	if (s->truncated) /* the outer frames were not captured */
		frame(o, "[truncated]");
	for (int f = s->depth - 1; f >= 0; f--)
		frame(o, frame_name(s->ip[f], b, sizeof b));
	frame(o, asy__call_name[s->call]);
	weight(o, ns);
}

static void put_stacks(struct folded *o, const char *comm)
{
	size_t n = 0;
	if (!asy__stacks)
		return;
	for (uint32_t i = 1; i < ASY_STACKS; i++) {
		const struct asy_stack *s = &asy__stacks[i];
		if ((atomic_load(&asy__stacks_used[i / 64]) >> (i % 64)) & 1 &&
		    atomic_load(&s->ready) && atomic_load(&s->calls))
			lines[n++] = (struct line){ line_key(s), i };
	}
	qsort(lines, n, sizeof *lines, line_cmp);
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t ns = 0;
		for (j = i; j < n && lines[j].key == lines[i].key; j++)
			ns += atomic_load(&asy__stacks[lines[j].idx].time_ns);
		put_stack(o, comm, &asy__stacks[lines[i].idx], ns);
	}
}

/* Calls without a stack (libunwind missing, the table full). */
static void put_nostack(struct folded *o, const char *comm)
{
	for (int c = 0; c < ASY_CALL_COUNT; c++) {
		if (!atomic_load(&asy__nostack_calls[c]))
			continue;
		frame(o, comm);
		frame(o, "[no stack]");
		frame(o, asy__call_name[c]);
		weight(o, atomic_load(&asy__nostack_ns[c]));
	}
}

void asy__flame_write(void)
{
	static struct folded o; /* 64 KiB: not on the exiting thread's stack */
	char comm[64], path[4096];
	int in_trace = asy__in_trace;
	o.n = 0, o.err = 0;
	asy__comm(comm, sizeof comm);
	if (!comm[0])
		strcpy(comm, "?");
	/* libunwind reads files to name frames: not the program's calls, and
	 * they must not add stacks to the table being written. */
	asy__in_trace = 1;
	put_stacks(&o, comm);
	put_nostack(&o, comm);
	flush(&o);
	asy__in_trace = in_trace;
	if (!o.err)
		return;
	if (asy__path_expand(asy__tcfg.flame_path, path, sizeof path, asy__tcfg.pid) < 0)
		strcpy(path, asy__tcfg.flame_path);
	asy__warn("ASYNCIFY_FLAME=%s: cannot write the folded stacks (%s); lost", path,
		  strerror(-o.err));
}
