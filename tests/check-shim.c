/* The shim as a whole: what it exports, how it reads its environment (bad
 * values: one warning line and the default), that it is silent otherwise,
 * which backend really ran the calls, calls made before the engine is
 * ready, and the SQPOLL ring. */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "asyncify.h"
#include "t-helpers.h"

/* ---- cases run in a child process ------------------------------------ */

static void *late_writer(void *arg)
{
	int fd = *(int *)arg;
	t_msleep(30);
	write(fd, "late", 4);
	return NULL;
}

/* One call that has to wait (a pipe read), one cold file read, and the
 * backend that ran them. */
static void c_work(void)
{
	int p[2];
	char b[64];
	pthread_t th;
	pipe(p);
	pthread_create(&th, NULL, late_writer, &p[1]);
	t_res("read", read(p[0], b, sizeof b));
	pthread_join(th, NULL);
	const char *path = t_tmpfile(1 << 20, 1);
	int fd = open(path, O_RDONLY);
	unlink(path);
	static char big[1 << 20];
	t_res("pread", pread(fd, big, sizeof big, 0));
	const char *(*name)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "asy_backend_name");
	printf("#backend %s\n", name ? name() : "none");
}

/* SIGPIPE and a big pipe write: what SQPOLL changes (NOTES §2). */
static volatile sig_atomic_t got_pipe;
static void on_pipe(int s)
{
	got_pipe++;
}

static void *slow_drain(void *arg)
{
	int fd = *(int *)arg;
	char b[4096];
	long total = 0, n;
	t_msleep(20);
	while ((n = read(fd, b, sizeof b)) > 0)
		total += n;
	printf("drained=%ld\n", total);
	return NULL;
}

static void c_sqpoll(void)
{
	int p[2];
	static char b[1 << 20];
	signal(SIGPIPE, on_pipe);
	pipe(p);
	pthread_t th;
	pthread_create(&th, NULL, slow_drain, &p[0]);
	t_res("write", write(p[1], b, sizeof b));
	close(p[1]);
	pthread_join(th, NULL);
	pipe(p);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	while (write(p[1], b, 65536) > 0)
		;
	fcntl(p[1], F_SETFL, 0);
	close(p[0]);
	t_res("epipe", write(p[1], b, 10));
	printf("sigpipe=%d\n", (int)got_pipe);
}

/* Calls that wait for each other: a reader whose data comes from a drainer
 * that needs the writer's big write to move.  With ASYNCIFY_WORKERS=1 the
 * pool once ran them one after the other and hung. */
static int sw_p[2], sw_q[2];
static long sw_read, sw_drained;

static void *sw_reader(void *arg)
{
	char b[8];
	sw_read = read(sw_p[0], b, sizeof b);
	return NULL;
}

static void *sw_drainer(void *arg)
{
	static char b[65536];
	long n, total = 0;
	while (total < 200000 && (n = read(sw_q[0], b, sizeof b)) > 0)
		total += n;
	write(sw_p[1], "x", 1);
	sw_drained = total;
	return NULL;
}

static void c_stream_workers(void)
{
	static char b[200000];
	pthread_t r, d;
	pipe(sw_p);
	pipe(sw_q);
	pthread_create(&r, NULL, sw_reader, NULL);
	t_msleep(30);
	pthread_create(&d, NULL, sw_drainer, NULL);
	t_res("write", write(sw_q[1], b, sizeof b));
	pthread_join(d, NULL);
	pthread_join(r, NULL);
	printf("drained=%ld reader=%ld\n", sw_drained, sw_read);
}

static const struct t_case cases[] = {
	{ "work", c_work, T_BACKEND },
	{ "stream_workers", c_stream_workers, T_BACKEND },
	{ "sqpoll", c_sqpoll, T_BACKEND },
	{ NULL, NULL, 0 },
};

/* ---- the tests ------------------------------------------------------- */

static const char *lib(void)
{
	const char *l = getenv("ASY_LIB");
	return l ? l : "lib/libasyncify.so";
}

/* Run `prog --case name` under the shim with one extra variable set. */
static void run_with(const char *name, const char *var, const char *val, const char *backend,
		     struct t_result *r)
{
	if (var)
		setenv(var, val, 1);
	/* t_run() sets LD_PRELOAD and ASYNCIFY_BACKEND itself.  The case
	 * runs in a coroutine: only there do calls reach a backend (a plain
	 * thread's call is its own). */
	enum t_variant v = !strcmp(backend, "threads") ? T_THREADS_CORO :
			   !strcmp(backend, "off")     ? T_OFF :
							 T_URING_CORO;
	ck_assert_int_eq(t_run(name, v, r, 20), 0);
	if (var)
		unsetenv(var);
}

static int lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

START_TEST(exports_only_hooks_and_asy)
{
	/* Every name of the one list (shim/hooks.def), and shim/process.c's,
	 * shim/task.c's, shim/pin.c's, shim/stack.c's, shim/jump.c's and
	 * shim/signal.c's. */
	static const char *const hooks[] = {
#define HOOK(ret, name, ...) #name,
#define VHOOK(ret, name, ...) #name,
#define VOIDHOOK(name, ...) #name,
#define ALIAS(name, target) #name,
#define CHK(ret, name, ...) #name,
#define RES(ret, name, ...) #name,
#include "../shim/hooks.def"
#undef HOOK
#undef VHOOK
#undef VOIDHOOK
#undef ALIAS
#undef CHK
#undef RES
		"execve", "execv", "execvp", "execvpe", "execl", "execlp",
		"execle", "fexecve", "_exit", "_Exit", "vfork", "__vfork", "clone", "__clone",
		/* shim/shim.c */
		"closefrom", "fclose", "_IO_fclose", "pclose", "freopen", "freopen64",
		/* shim/task.c */
		"syscall", "prctl", "setfsuid", "setfsgid", "capset", "setns", "personality",
		/* shim/pin.c */
		"pthread_mutex_lock", "pthread_mutex_trylock", "pthread_mutex_timedlock",
		"pthread_mutex_clocklock", "pthread_mutex_unlock", "pthread_rwlock_rdlock",
		"pthread_rwlock_wrlock", "pthread_rwlock_tryrdlock", "pthread_rwlock_trywrlock",
		"pthread_rwlock_timedrdlock", "pthread_rwlock_timedwrlock",
		"pthread_rwlock_clockrdlock", "pthread_rwlock_clockwrlock", "pthread_rwlock_unlock",
		"pthread_once", "call_once", "mtx_lock", "mtx_timedlock", "mtx_trylock", "mtx_unlock",
		"__pthread_mutex_lock", "__pthread_mutex_trylock", "__pthread_mutex_unlock",
		"__pthread_rwlock_rdlock", "__pthread_rwlock_wrlock", "__pthread_rwlock_tryrdlock",
		"__pthread_rwlock_trywrlock", "__pthread_rwlock_unlock", "__pthread_once",
		/* shim/sync.c */
		"pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_clockwait",
		"pthread_cond_signal", "pthread_cond_broadcast", "cnd_wait", "cnd_timedwait",
		"cnd_signal", "cnd_broadcast", "sem_wait", "sem_timedwait", "sem_clockwait", "sem_post",
		"pthread_join", "pthread_timedjoin_np", "pthread_clockjoin_np", "thrd_join",
		"sigwait", "sigwaitinfo", "sigtimedwait", "sigsuspend", "__sigsuspend", "pause",
		"sigpause", "__sigpause", "__xpg_sigpause",
		/* shim/compose.c */
		"eventfd_read", "eventfd_write", "thrd_sleep",
		/* shim/stack.c */
		"pthread_getattr_np",
		/* shim/jump.c */
		"longjmp", "_longjmp", "siglongjmp", "__longjmp_chk",
		/* shim/signal.c */
		"sigaction", "__sigaction", "signal", "bsd_signal", "ssignal", "sysv_signal",
		"__sysv_signal", "sigset", "siginterrupt", "setcontext", "swapcontext",
		NULL,
	};
	char cmd[4200], sym[256], type[8];
	snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", lib());
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	int found[sizeof hooks / sizeof *hooks] = { 0 }, n = 0;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%*s %7s %255s", type, sym) != 2)
			continue;
		n++;
		int known = !strncmp(sym, "asy_", 4);
		for (int i = 0; hooks[i]; i++)
			if (!strcmp(sym, hooks[i]))
				found[i] = known = 1;
		ck_assert_msg(known, "the library exports %s (%s)", sym, type);
	}
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_int_gt(n, 0);
	for (int i = 0; hooks[i]; i++)
		ck_assert_msg(found[i], "%s is not exported", hooks[i]);
}
END_TEST

static const struct {
	const char *var, *val;
} bad[] = {
	{ "ASYNCIFY_BACKEND", "iouring" },     { "ASYNCIFY_BACKEND", "URING" },
	{ "ASYNCIFY_QUEUE_DEPTH", "0" },       { "ASYNCIFY_QUEUE_DEPTH", "abc" },
	{ "ASYNCIFY_QUEUE_DEPTH", "99999999999999999999" }, { "ASYNCIFY_WORKERS", "-1" },
	{ "ASYNCIFY_WORKERS", "4x" },          { "ASYNCIFY_SQPOLL", "2" },
	{ "ASYNCIFY_STACK_SIZE", "1" },        { "ASYNCIFY_STACK_SIZE", "64q" },
};

/* Each bad value: exactly one warning line naming the variable, and the
 * program's own result unchanged. */
/* The name a family of ABI names shares: read for __read and __read_chk,
 * pread for pread64 and __pread64_chk, open for __open64_2, preadv2 for
 * preadv64v2. */
static void abi_base(const char *name, char *out, size_t cap)
{
	static const char *const tails[] = { "_chk", "64_2", "_2", "64v2", "64", NULL };
	snprintf(out, cap, "%s", strncmp(name, "__", 2) ? name : name + 2);
	for (int i = 0; tails[i]; i++) {
		size_t n = strlen(out), t = strlen(tails[i]);
		if (n > t && !strcmp(out + n - t, tails[i]))
			strcpy(out + n - t, strcmp(tails[i], "64v2") ? "" : "v2");
	}
}

/* The names `nm -D --defined-only path` lists, without versions; with
 * public set, only those of a version a program can link against (not
 * GLIBC_PRIVATE).  How many, at most cap. */
static int dyn_names(const char *path, int public, char (*names)[64], int cap)
{
	char cmd[4200], line[512], sym[256];
	snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", path);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	int n = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%*s %*s %255s", sym) == 1 && n < cap &&
		    !(public && strstr(sym, "@GLIBC_PRIVATE"))) {
			sym[strcspn(sym, "@")] = 0;
			snprintf(names[n++], 64, "%.63s", sym);
		}
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_int_lt(n, cap);
	return n;
}

/* Every name libc exports for a function the library takes over is the
 * library's too (__read and __write beside read and write, the old
 * libpthread's __pthread_mutex_lock, __clone, __dup2): a program linked
 * against any of them goes through the hook. */
START_TEST(exports_every_libc_name_of_a_hook)
{
	static char ours[1024][64], libc[8192][64];
	Dl_info di;
	ck_assert(dladdr(dlsym(RTLD_DEFAULT, "gnu_get_libc_version"), &di) && di.dli_fname);
	int no = dyn_names(lib(), 0, ours, 1024), nl = dyn_names(di.dli_fname, 1, libc, 8192);
	char a[64], b[64];
	for (int i = 0; i < nl; i++) {
		abi_base(libc[i], a, sizeof a);
		int family = 0, have = 0;
		for (int j = 0; j < no && !have; j++) {
			abi_base(ours[j], b, sizeof b);
			family |= strncmp(ours[j], "asy_", 4) && !strcmp(a, b);
			have = !strcmp(libc[i], ours[j]);
		}
		ck_assert_msg(!family || have, "libc exports %s, the library does not", libc[i]);
	}
}
END_TEST

START_TEST(bad_values_warn_once)
{
	static struct t_result ref, r;
	ck_assert_int_eq(t_run("work", T_NONE, &ref, 20), 0);
	/* ASYNCIFY_BACKEND is set by t_run: a bad one goes in through the
	 * variant name, so test it by running the child directly. */
	if (!strcmp(bad[_i].var, "ASYNCIFY_BACKEND")) {
		char cmd[4400];
		snprintf(cmd, sizeof cmd,
			 "LD_PRELOAD='%s %s' ASYNCIFY_BACKEND='%s' /proc/%d/exe --case work 2>&1 >/dev/null",
			 getenv("ASY_PRELOAD_FIRST") ? getenv("ASY_PRELOAD_FIRST") : "", lib(),
			 bad[_i].val, getpid());
		FILE *f = popen(cmd, "r");
		char err[1024] = "";
		size_t n = fread(err, 1, sizeof err - 1, f);
		err[n] = 0;
		ck_assert_int_eq(pclose(f), 0);
		ck_assert_msg(lines(err) == 1 && strstr(err, "ASYNCIFY_BACKEND"),
			      "ASYNCIFY_BACKEND=%s gave: '%s'", bad[_i].val, err);
		return;
	}
	run_with("work", bad[_i].var, bad[_i].val, "uring", &r);
	ck_assert_str_eq(r.out, ref.out);
	ck_assert_int_eq(r.status, ref.status);
	ck_assert_msg(lines(r.err) == 1 && strstr(r.err, bad[_i].var) && !strncmp(r.err, "asyncify: ", 10),
		      "%s=%s gave stderr '%s'", bad[_i].var, bad[_i].val, r.err);
}
END_TEST

/* Good values: nothing at all on stderr, and the calls of a coroutine
 * really went to the backend named (under uring, the ring took some). */
START_TEST(silent_and_really_there)
{
	static const char *const backends[] = { "uring", "threads" };
	static struct t_result ref, r;
	const char *be = backends[_i];
	if (!strcmp(be, "uring") && !t_uring_works())
		return;
	ck_assert_int_eq(t_run("work", T_NONE, &ref, 20), 0);
	run_with("work", "ASYNCIFY_QUEUE_DEPTH", "8", be, &r);
	ck_assert_str_eq(r.out, ref.out);
	ck_assert_str_eq(r.err, "");
	ck_assert(r.have_stats);
	ck_assert_int_gt(!strcmp(be, "uring") ? r.uring : r.threads, 0);
	if (strcmp(be, "uring"))
		ck_assert_int_eq(r.uring, 0);
	run_with("work", "ASYNCIFY_WORKERS", "1", be, &r);
	ck_assert_str_eq(r.out, ref.out);
	ck_assert_str_eq(r.err, "");
}
END_TEST

START_TEST(sqpoll_ring)
{
	static struct t_result ref, r;
	if (!t_uring_works())
		return;
	ck_assert_int_eq(t_run("sqpoll", T_NONE, &ref, 20), 0);
	run_with("sqpoll", "ASYNCIFY_SQPOLL", "1", "uring", &r);
	ck_assert_msg(!strcmp(r.out, ref.out), "none:\n%s\nsqpoll:\n%s\n%s", ref.out, r.out, r.err);
	ck_assert_int_eq(r.status, ref.status);
	ck_assert_str_eq(r.err, "");
	ck_assert_int_gt(r.uring, 0);
}
END_TEST

START_TEST(threads_pool_stream_deadlock)
{
	static struct t_result ref, r;
	ck_assert_int_eq(t_run("stream_workers", T_NONE, &ref, 20), 0);
	run_with("stream_workers", "ASYNCIFY_WORKERS", "1", "threads", &r);
	ck_assert_msg(!strcmp(r.out, ref.out), "none:\n%s\nthreads:\n%s\n%s", ref.out, r.out, r.err);
	ck_assert_int_eq(r.status, ref.status);
	ck_assert_int_gt(r.threads, 2);
}
END_TEST

/* A program that ends with _exit (as shells do) runs no atexit handler:
 * its trace records must still be written. */
START_TEST(trace_survives__exit)
{
	char cmd[4400], path[] = "/tmp/asy-t-XXXXXX", buf[4096] = "";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	snprintf(cmd, sizeof cmd,
		 "ASYNCIFY_TRACE=%s LD_PRELOAD='%s %s' /bin/sh -c 'echo hi; exec >/dev/null' >/dev/null",
		 path, getenv("ASY_PRELOAD_FIRST") ? getenv("ASY_PRELOAD_FIRST") : "", lib());
	int st = system(cmd);
	long n = read(fd, buf, sizeof buf - 1);
	close(fd);
	unlink(path); /* before any assertion: a failure leaves nothing in /tmp */
	buf[n > 0 ? n : 0] = 0;
	ck_assert_int_eq(st, 0);
	ck_assert_msg(strstr(buf, " write(1") && strstr(buf, "= 3 "), "trace: %s", buf);
}
END_TEST

/* A library whose constructor does I/O before asyncify's has run: what
 * glibc answers (tests/t-early.c). */
START_TEST(calls_before_init)
{
	char cmd[4400], out[512] = "";
	const char *early = getenv("ASY_EARLY_LIB");
	ck_assert_ptr_nonnull(early);
	snprintf(cmd, sizeof cmd, "LD_PRELOAD='%s %s %s' ASYNCIFY_BACKEND=uring /bin/true 2>&1",
		 getenv("ASY_PRELOAD_FIRST") ? getenv("ASY_PRELOAD_FIRST") : "", lib(), early);
	FILE *f = popen(cmd, "r");
	size_t n = fread(out, 1, sizeof out - 1, f);
	out[n] = 0;
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_str_eq(out, "early: read 5 'early' errno 0\n"
			      "early: select 0 usleep 0 sleep(0) 0 errno 0 posix_fallocate 0 lockf 0 "
			      "ppoll 0 timeout kept 1 F_GETOWN is -pgrp 1 errno 0 getaddrinfo 0 found 1\n");
}
END_TEST

int main(int argc, char **argv)
{
	if (t_case_main(argc, argv, cases) >= 0)
		return 0;
	Suite *s = suite_create("shim");
	TCase *tc = tcase_create("shim");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, exports_only_hooks_and_asy);
	tcase_add_test(tc, exports_every_libc_name_of_a_hook);
	tcase_add_loop_test(tc, bad_values_warn_once, 0, sizeof bad / sizeof bad[0]);
	tcase_add_loop_test(tc, silent_and_really_there, 0, 2);
	tcase_add_test(tc, sqpoll_ring);
	tcase_add_test(tc, threads_pool_stream_deadlock);
	tcase_add_test(tc, calls_before_init);
	tcase_add_test(tc, trace_survives__exit);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
