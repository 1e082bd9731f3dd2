/* Test helpers shared by the Check programs in tests/.
 *
 * A semantics test runs one case in a fresh process, once without the shim
 * and once under a backend, and asserts that both printed the same thing
 * and ended the same way.  Case processes are this same program, re-run as
 * `prog --case NAME`; lines starting with '#' are not compared (they carry
 * the engine's counters).
 *
 * Variants: none (no shim), off, uring and threads (the shim with that
 * backend; the case runs on a plain thread), and uring-coro and
 * threads-coro (the same backends with ASY_T_CORO=1: the case function runs
 * inside one coroutine, asy_go() + asy_run()). */
#ifndef T_HELPERS_H
#define T_HELPERS_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

enum t_variant { T_NONE, T_OFF, T_URING, T_THREADS, T_URING_CORO, T_THREADS_CORO, T_NVARIANTS };
extern const char *const t_variant_name[T_NVARIANTS];
/* 1 for the variants that run the case inside a coroutine. */
int t_variant_coro(enum t_variant v);

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
/* Outside coroutines the engine never hands a call to a backend (the
 * calling thread makes the real call), so under uring and threads every
 * case must show `submitted == 0`; T_BACKEND asks the opposite of the coro
 * variants, for cases whose coroutine really waits in a hooked call. */
#define T_BACKEND 1 /* under uring-coro/threads-coro: submitted > 0 */
#define T_STDERR  2 /* stderr is part of the compared result */
#define T_NOCORO  4 /* not run in a coroutine: signals interrupting calls,
		     * job control, cancel, siglongjmp, fork, exec, exit */
#define T_OWNCORO 8 /* the case runs coroutines itself: not run under the
		     * coro variants, and under uring/threads T_BACKEND asks
		     * that the backend named was reached */
#define T_NOTSAN 16 /* not run under ThreadSanitizer (said on stdout):
		     * the case measures the sanitizer, not the shim */

/* main() for a program of cases: runs a case when called with --case
 * (inside a coroutine when ASY_T_CORO=1 and the library is loaded). */
int t_case_main(int argc, char **argv, const struct t_case *cases);
/* Under a coro variant: the ticker coroutine beside the case sleeps for
 * the next ms instead of waking every millisecond, so that the scheduler
 * really sleeps until the case's own deadline. */
void t_ticker_quiet(int ms);

/* Run case `name` under variant v; 0, or -1 when the process could not
 * run.  The case gets `timeout_s` seconds. */
int t_run(const char *name, enum t_variant v, struct t_result *r, int timeout_s);

/* Run case under none and under v, assert equal results (ck_assert).
 * A coro variant is skipped for T_NOCORO and T_OWNCORO cases. */
void t_compare(const struct t_case *c, enum t_variant v);

/* Run case once under none, then under each of vs[0..n-1] that applies
 * to it; assert that every variant matches (all mismatches are reported
 * together). */
void t_compare_all(const struct t_case *c, const enum t_variant *vs, int n);

/* main() for a program of compared cases: runs a case when called with
 * --case, else one Check test per case comparing it without the shim and
 * under off, uring, threads and the coro variants (uring ones dropped,
 * with one line, where io_uring cannot be set up); `timeout_s` per case.
 * The exit status for main(). */
int t_cases_main(int argc, char **argv, const struct t_case *cases, const char *suite,
		 int timeout_s);

/* The same for cases whose jobs are coroutines under the library and
 * threads without it (T_OWNCORO: t_spawn): compared without the shim and
 * under uring and threads (t_engine_variants). */
int t_jobs_main(int argc, char **argv, const struct t_case *cases, const char *suite,
		int timeout_s);

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
/* The calling thread's id. */
pid_t t_gettid(void);
/* Wait until thread tid of this process has been asleep in the kernel for
 * 20 ms in a row (blocked in its call), so that a signal or a close finds
 * it there even on a slow, loaded machine; gives up after about 10 s. */
void t_wait_blocked(pid_t tid);
/* A temporary file of n deterministic bytes, evicted from the page cache;
 * returns its path (static buffer). */
const char *t_tmpfile(size_t n, int evict);
/* Drop a file's pages from the page cache. */
void t_evict(int fd);
/* End a child of this process: SIGKILL, then its wait status.  A pid
 * that names no child (a failed fork's -1, or 0) is never signalled —
 * kill(-1) would reach every process of the user — and gives -1. */
int t_kill_child(pid_t pid);


/* ---- sockets, time and signals (the socket and readiness cases) ---- */

/* CLOCK_MONOTONIC in milliseconds. */
double t_ms(void);
/* "yes" or "no". */
const char *t_yes(int cond);
/* A connected pair on loopback: socketpair() for AF_UNIX; for AF_INET and
 * AF_INET6, listen + connect + accept (SOCK_STREAM) or two bound sockets
 * connected to each other (SOCK_DGRAM).  fds[0] is the connecting side.
 * 0, or -1. */
int t_sock_pair(int family, int type, int fds[2]);
/* A socket bound on loopback (AF_UNIX: an abstract name unique to the
 * process and n), listening with backlog `backlog` when it is >= 0; its
 * address in *a and *len.  The fd, or -1. */
int t_bound(int family, int type, int backlog, struct sockaddr_storage *a, socklen_t *len);
/* The socket kinds the cases go through, in t_kinds[] order. */
enum { T_UNIX_STREAM, T_UNIX_DGRAM, T_UNIX_SEQPACKET, T_TCP, T_TCP6, T_UDP, T_UDP6, T_NKINDS };
extern const struct t_kind {
	int family, type;
} t_kinds[T_NKINDS];
/* t_sock_pair() of kind k (T_UNIX_STREAM…); exit(1) with a line if it
 * cannot be made. */
void t_pair(int k, int fds[2]);
/* "what=n 'bytes'" (or t_res()'s line when n < 0). */
void t_show(const char *what, const char *buf, long n);
/* "unix-stream", "tcp6", "udp", … */
const char *t_sock_name(int family, int type);
/* setsockopt SO_RCVTIMEO or SO_SNDTIMEO to ms milliseconds. */
void t_timeo(int fd, int opt, int ms);
/* Install a handler for sig that counts deliveries in t_handled (reset to
 * 0), with sa_flags `flags` (SA_RESTART or 0). */
extern _Atomic int t_handled;
void t_handle(int sig, int flags);
/* Run fn(arg) on another thread after ms milliseconds; join with
 * pthread_join(). */
pthread_t t_later(void (*fn)(void *), void *arg, int ms);
/* After ms, from another thread: write n bytes of data to fd. */
pthread_t t_later_write(int fd, const void *data, size_t n, int ms);
/* The same, but the ms count only from when the last t_later_signal()
 * has sent its signal: what a restarted call waits for then comes after
 * the signal however late the signal is.  (Not from when the handler ran:
 * under TSan a handler runs only once the interrupted call returns.) */
pthread_t t_after_signal(void (*fn)(void *), void *arg, int ms);
pthread_t t_after_signal_write(int fd, const void *data, size_t n, int ms);
/* After ms, from another thread: once the calling thread has been
 * blocked in the kernel for a while (t_wait_blocked), send it sig. */
pthread_t t_later_signal(int sig, int ms);
/* Fill a socket's send side until a write would block; the count. */
long t_fill(int fd);
/* Read without waiting until nothing is left; the count. */
long t_drain(int fd);
/* Number of open fds of the process. */
int t_nfds(void);

/* ---- jobs: coroutines under the library, threads without it -----------
 * A T_OWNCORO case spawns jobs and runs them: as coroutines on the
 * calling thread when the library is loaded (asy_go + asy_run), as plain
 * threads when it is not, so that the same case prints the same lines
 * both ways.  Each job writes its own line; t_finish() prints them in job
 * order. */
/* The backends an engine-only case runs under: uring (where io_uring
 * works; otherwise a line saying `prog` skips it) and threads.  How many
 * were put in v[0..1]. */
int t_engine_variants(enum t_variant v[2], const char *prog);

struct t_api {
	int (*go)(void (*)(void *), void *);
	int (*run)(void);
	int (*cancel)(int);
	int (*io_deadline)(int64_t);
	int64_t (*now)(void);
	int (*sleep)(int64_t);
	int (*yield)(void);
};
/* The library's API, looked up by t_load_api(); all NULL without it. */
extern struct t_api t_api;
void t_load_api(void);
/* Inside a coroutine, an I/O deadline 20 s away (on) or none: with one set
 * the engine sends its file calls to a backend and lands reads in a block
 * of its own (detach.c).  Without the library nothing. */
void t_far_deadline(int on);
/* Under the off backend a coroutine's calls never yield: make the jobs
 * threads there, as without the library (a case's main, before
 * t_cases_main). */
void t_jobs_threads_under_off(void);
/* Are the jobs t_spawn() starts coroutines (else threads)? */
int t_jobs_coro(void);
/* Spawn job fn(i); returns the coroutine's handle (or the job's index + 1
 * with threads). */
int t_spawn(void (*fn)(int), int i);
/* Run every job to its end, print their lines ("i: …"), forget them. */
void t_finish(void);
/* Jobs 0..n-1 of fn, each to its end, under an alarm of `secs`: a hang
 * shows as SIGALRM. */
void t_jobs_all(void (*fn)(int), int n, unsigned secs);
/* A call that waits inside a coroutine (a stat, a 2 ms sleep): a sibling
 * runs meanwhile. */
void t_jobs_waits(void);
/* Append to job i's line. */
void t_jout(int i, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "what=r " or "what=-1 ERRNAME " on job i's line. */
void t_jres(int i, const char *what, long r);

/* ---- files (check-fs*.c, t-fs.c) --------------------------------------- */
struct stat;
/* A fresh directory made the current directory, removed with everything
 * in it when the process that made it exits; its path.  It is made in
 * $ASY_T_TMP (the directory t_run gives each case and removes after it)
 * or else in /tmp. */
const char *t_fs_dir(void);
/* Remove a directory and everything under it (no symlink followed). */
void t_remove_tree(const char *dir);
/* File `name` (created or truncated) holding n bytes 'a'..'z' repeated (n
 * a multiple of 4096), dropped from the page cache when evict is set; its
 * fd at the position 0, reopened with O_RDWR | flags when flags are given. */
int t_abc_file(const char *name, size_t n, int flags, int evict);
/* An O_DIRECT file "f" of 1 MiB in a fresh t_fs_dir(), read slowly enough
 * for the engine to know it (its next calls skip the try), with an alarm
 * of 10 s set; -1 (and a line saying so) where there is no O_DIRECT. */
int t_known_direct_file(void);
/* fd's file position. */
long t_pos(int fd);
/* Create (or truncate) file `name` holding `data`, mode 0644; 0 or -1. */
int t_put(const char *name, const char *data);
/* What a file holds (up to 255 bytes; "(ENOENT)" when it cannot be
 * opened); t_fd_get: what fd holds from offset 0 (static buffers). */
const char *t_get(const char *name);
const char *t_fd_get(int fd);
/* "what=r reg mode=0644 size=N nlink=N", or t_res()'s line. */
void t_stat_res(const char *what, long r, const struct stat *st);
/* "cloexec=1 rdwr|nonblock|append" for fd (static buffer). */
const char *t_fdflags(int fd);
/* The number the next open would get. */
int t_lowest_free(void);
/* main() calls this first: it runs a helper process (--hold, --mount)
 * and exits, or returns -1. */
int t_fs_helper_main(int argc, char **argv);
/* Another process holding a lock on path: kind "flock", "flock-sh",
 * "posix" (F_SETLKW, whole file, write) or "ofd"; 0 once it holds it, or
 * -1.  With "-nb" appended the helper does not wait: -1 with its errno
 * (EAGAIN) when the lock is taken.  t_release() lets go and waits for it
 * to end. */
struct t_holder {
	pid_t pid;
	int ctl;
};
int t_hold(struct t_holder *h, const char *kind, const char *path);
void t_release(struct t_holder *h);
/* A file system of `type` (mount options `opts`) mounted in a mount
 * namespace of a helper process of its own: reach it at m->path.  0, or
 * -1 with errno (EPERM when this process may not mount). */
struct t_mount {
	pid_t pid;
	int ctl;
	char dir[64], path[128];
};
int t_mount(struct t_mount *m, const char *type, const char *opts);
void t_unmount(struct t_mount *m);

/* A witness: a plain thread asleep until `due` (CLOCK_MONOTONIC, ns)
 * that notes when it woke.  This shared, loaded VM now and then wakes a
 * sleeper 50-100 ms late (a plain 50 ms poll without the shim: about 1
 * in 200 late by 20 ms or more), so a call's end is judged against a
 * witness's wake-up at the same moment, not against the clock alone.
 * t_witness_end joins it (waiting for its time if need be) and returns
 * when it woke. */
struct t_witness {
	pthread_t th;
	int64_t due;
	_Atomic int64_t woke;
};
void t_witness_start(struct t_witness *w, int64_t due);
int64_t t_witness_end(struct t_witness *w);
/* The engine's counters (asy_stats), all 0 without the library. */
struct asy_stats t_stats(void);

#endif
