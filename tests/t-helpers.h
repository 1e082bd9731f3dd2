/* Test helpers shared by the Check programs in tests/.
 *
 * A semantics test runs one case in a fresh process, once without the shim
 * and once under a backend, and asserts that both printed the same thing
 * and ended the same way.  Case processes are this same program, re-run as
 * `prog --case NAME`; lines starting with '#' are not compared (they carry
 * the engine's counters). */
#ifndef T_HELPERS_H
#define T_HELPERS_H

#include <stddef.h>
#include <sys/types.h>

enum t_variant { T_NONE, T_OFF, T_URING, T_THREADS, T_NVARIANTS };
extern const char *const t_variant_name[T_NVARIANTS];

struct t_result {
	int status;          /* as from waitpid() */
	char out[16384];     /* stdout without '#' lines */
	char err[4096];      /* stderr */
	long submitted, uring, threads, inline_done, interrupted; /* '#stats' */
	int have_stats;
};

struct t_case {
	const char *name;
	void (*fn)(void);
	int flags;
};
#define T_BACKEND 1 /* the case must reach a backend under uring/threads */
#define T_STDERR  2 /* stderr is part of the compared result */

/* main() for a program of cases: runs a case when called with --case. */
int t_case_main(int argc, char **argv, const struct t_case *cases);

/* Run case `name` under variant v; 0, or -1 when the process could not
 * run.  The case gets `timeout_s` seconds. */
int t_run(const char *name, enum t_variant v, struct t_result *r, int timeout_s);

/* Run case under none and under v, assert equal results (ck_assert). */
void t_compare(const struct t_case *c, enum t_variant v);

/* Run case once under none, then under each of vs[0..n-1]; assert that
 * every variant matches (all mismatches are reported together). */
void t_compare_all(const struct t_case *c, const enum t_variant *vs, int n);

/* Run every test of s; the exit status for main(): 0 all passed, 1 not. */
struct Suite;
int t_run_suite(struct Suite *s);

/* 1 when io_uring can be set up here. */
int t_uring_works(void);

/* In a case: printf to stdout, unbuffered. */
void t_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* In a case: "name=value" or "name=-1 ERRNAME" for a call result. */
void t_res(const char *what, long r);
/* The name of an errno value ("EAGAIN"). */
const char *t_errname(int e);
/* Sleep ms milliseconds. */
void t_msleep(int ms);
/* A temporary file of n deterministic bytes, evicted from the page cache;
 * returns its path (static buffer). */
const char *t_tmpfile(size_t n, int evict);
/* Drop a file's pages from the page cache. */
void t_evict(int fd);

#endif
