/* Tracing and the summary (issue 4): every format under every backend,
 * parsed field by field by tests/trace/check-trace.py, summary counts
 * against the calls made; flame stacks against the trace; signal handlers,
 * fork, exec, threads, bad settings, symlinks, file modes.
 *
 * A case process is this program re-run as `check-trace --work NAME` with
 * LD_PRELOAD=$ASY_LIB and the ASYNCIFY_* variables of the test; the
 * workloads are in tests/trace/work.c. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "trace/work.h"

static const char *const formats[] = { "text", "json", "chrome" };
static const char *const backends[] = { "off", "uring", "threads" };
static int no_uring; /* io_uring cannot be set up here: uring falls back */
static char dir[64]; /* this test's scratch directory (mkdtemp) */

/* ---- running a workload ------------------------------------------------ */

struct run {
	int status;
	char err[8192]; /* its stderr */
};

static void slurp(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t l = fd >= 0 ? read(fd, buf, n - 1) : 0;
	buf[l > 0 ? l : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* Run workload `name` with the shim and env (NULL-terminated "K=V" list)
 * in a fresh process; stdout/stderr go to files in dir. */
static void run(const char *name, const char *const *env, struct run *r)
{
	char errpath[PATH_MAX + 8];
	snprintf(errpath, sizeof errpath, "%s/stderr", dir);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		const char *lib = getenv("ASY_LIB"), *pre = getenv("ASY_PRELOAD_FIRST");
		char preload[2 * PATH_MAX];
		snprintf(preload, sizeof preload, "%s%s%s", pre && *pre ? pre : "",
			 pre && *pre ? " " : "", lib ? lib : "lib/libasyncify.so");
		int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(e, 2);
		for (char **v = environ; *v;)
			if (!strncmp(*v, "ASYNCIFY_", 9)) {
				char k[64];
				snprintf(k, sizeof k, "%.*s", (int)(strchr(*v, '=') - *v), *v);
				unsetenv(k);
			} else {
				v++;
			}
		for (; *env; env++)
			putenv((char *)*env);
		setenv("LD_PRELOAD", preload, 1);
		setenv("T_DIR", dir, 1);
		/* TSan: the writer thread makes every fork a multi-threaded one. */
		setenv("TSAN_OPTIONS", "die_after_fork=0", 0);
		alarm(20);
		execl("/proc/self/exe", "check-trace", "--work", name, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &r->status, 0);
	slurp(errpath, r->err, sizeof r->err);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Run the python checker; its stderr explains a failure. */
static void checker(const char *args)
{
	char cmd[12288], out[8192], outpath[PATH_MAX + 8];
	snprintf(outpath, sizeof outpath, "%s/checker.out", dir);
	char self[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
	ck_assert_int_gt(l, 0);
	self[l] = 0;
	*strrchr(self, '/') = 0;
	snprintf(cmd, sizeof cmd, "python3 %s/../trace/check-trace.py %s > %s 2>&1", self, args,
		 outpath);
	int rc = system(cmd);
	slurp(outpath, out, sizeof out);
	ck_assert_msg(rc == 0, "checker %s failed:\n%s", args, out);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/check-trace.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static const char *via_of(const char *backend)
{
	if (!strcmp(backend, "uring") && no_uring)
		return "threads";
	return backend;
}

/* ---- cases -------------------------------------------------------------- */

/* Loop index: format (i / 3) × backend (i % 3). */
START_TEST(test_formats)
{
	const char *fmt = formats[_i / 3], *be = backends[_i % 3];
	char e1[64], e2[64], e3[PATH_MAX + 32], e4[PATH_MAX + 32], args[4 * PATH_MAX];
	struct run r;
	snprintf(e1, sizeof e1, "ASYNCIFY_TRACE_FORMAT=%s", fmt);
	snprintf(e2, sizeof e2, "ASYNCIFY_BACKEND=%s", be);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s/summary.%%p", dir);
	const char *env[] = { e1, e2, e3, e4, "ASYNCIFY_STACKS=4", NULL };
	run("calls", env, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s",
		      r.status, r.err);
	ck_assert_msg(!r.err[0], "stderr: %s", r.err);
	snprintf(args, sizeof args, "calls --format %s --via %s --stacks 4 --dir %s", fmt,
		 via_of(be), dir);
	checker(args);
}
END_TEST

/* The file calls inside a coroutine: every format under every backend.
 * Loop index: format (i / 3) × backend (i % 3). */
START_TEST(test_coro)
{
	const char *fmt = formats[_i / 3], *be = backends[_i % 3];
	char e1[64], e2[64], e3[PATH_MAX + 32], e4[PATH_MAX + 32], args[4 * PATH_MAX];
	struct run r;
	snprintf(e1, sizeof e1, "ASYNCIFY_TRACE_FORMAT=%s", fmt);
	snprintf(e2, sizeof e2, "ASYNCIFY_BACKEND=%s", be);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s/summary.%%p", dir);
	const char *env[] = { e1, e2, e3, e4, NULL };
	run("coro", env, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		      "status %#x (exit 20-31: which step failed): %s", r.status, r.err);
	snprintf(args, sizeof args, "coro --format %s --via %s --dir %s", fmt, via_of(be), dir);
	checker(args);
}
END_TEST

/* close forgets its fd: the summary counts a reused number's calls under
 * what it names now. */
START_TEST(test_reuse)
{
	char e4[PATH_MAX + 32], args[2 * PATH_MAX];
	struct run r;
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s/summary.%%p", dir);
	const char *env[] = { e4, "ASYNCIFY_BACKEND=off", NULL };
	run("reuse", env, &r);
	ck_assert_msg(r.status == 0, "status %#x: %s", r.status, r.err);
	snprintf(args, sizeof args, "reuse --dir %s", dir);
	checker(args);
}
END_TEST

/* Calls faster than ASYNCIFY_TRACE_MIN_US are not recorded; the summary
 * still counts every call. */
START_TEST(test_min_us)
{
	char e3[PATH_MAX + 32], e4[PATH_MAX + 32], args[2 * PATH_MAX];
	struct run r;
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s/summary.%%p", dir);
	const char *env[] = { e3, e4, "ASYNCIFY_TRACE_FORMAT=json", "ASYNCIFY_BACKEND=off",
			      "ASYNCIFY_TRACE_MIN_US=100000000", NULL };
	run("calls", env, &r);
	ck_assert_int_eq(r.status, 0);
	snprintf(args, sizeof args, "calls --format json --via off --min-us 100000000 --dir %s",
		 dir);
	checker(args);
}
END_TEST

/* A write made by a signal handler while the thread waits in read(). */
START_TEST(test_signal)
{
	const char *be = backends[_i];
	char e2[64], e3[PATH_MAX + 32], e4[PATH_MAX + 32], args[2 * PATH_MAX];
	struct run r;
	const char *san = getenv("ASY_SANITIZE");
	if (san && !strcmp(san, "thread")) {
		/* TSan defers a signal until the thread enters one of its
		 * interceptors; a read() blocked in libc never does. */
		printf("check-trace: test_signal not run under TSan (deferred signals)\n");
		return;
	}
	snprintf(e2, sizeof e2, "ASYNCIFY_BACKEND=%s", be);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s/summary.%%p", dir);
	const char *env[] = { e2, e3, e4, "ASYNCIFY_TRACE_FORMAT=json", "ASYNCIFY_STACKS=8", NULL };
	run("signal", env, &r);
	ck_assert_msg(r.status == 0, "status %#x: %s", r.status, r.err);
	snprintf(args, sizeof args, "signal --format json --dir %s", dir);
	checker(args);
}
END_TEST

/* fork: each process writes its own trace and summary (%p). */
START_TEST(test_fork)
{
	const char *fmt = formats[_i];
	char e1[64], e3[PATH_MAX + 32], e4[PATH_MAX + 32], args[2 * PATH_MAX];
	struct run r;
	snprintf(e1, sizeof e1, "ASYNCIFY_TRACE_FORMAT=%s", fmt);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s/summary.%%p", dir);
	const char *env[] = { e1, e3, e4, NULL };
	run("fork", env, &r);
	ck_assert_msg(r.status == 0, "status %#x: %s", r.status, r.err);
	snprintf(args, sizeof args, "fork --format %s --dir %s", fmt, dir);
	checker(args);
}
END_TEST

/* Four threads: one track (thread_name) per thread in chrome output. */
START_TEST(test_threads)
{
	const char *fmt = formats[_i];
	char e1[64], e3[PATH_MAX + 32], e4[PATH_MAX + 32], args[2 * PATH_MAX];
	struct run r;
	snprintf(e1, sizeof e1, "ASYNCIFY_TRACE_FORMAT=%s", fmt);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s/summary.%%p", dir);
	const char *env[] = { e1, e3, e4, "ASYNCIFY_STACKS=8", NULL };
	run("threads", env, &r);
	ck_assert_msg(r.status == 0, "status %#x: %s", r.status, r.err);
	snprintf(args, sizeof args, "threads --format %s --dir %s", fmt, dir);
	checker(args);
}
END_TEST

/* exec: the same pid continues its file; the header is not repeated and
 * the chrome file stays one valid JSON array. */
START_TEST(test_exec)
{
	const char *fmt = formats[_i];
	char e1[64], e3[PATH_MAX + 32], args[2 * PATH_MAX];
	struct run r;
	snprintf(e1, sizeof e1, "ASYNCIFY_TRACE_FORMAT=%s", fmt);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	const char *env[] = { e1, e3, NULL };
	run("exec", env, &r);
	ck_assert_msg(r.status == 0, "status %#x: %s", r.status, r.err);
	snprintf(args, sizeof args, "exec --format %s --dir %s", fmt, dir);
	checker(args);
}
END_TEST

/* One text trace file for a process tree (no %p): the child's exec
 * appended after a header of its own, where it had emptied the file of
 * the parent's first lines. */
START_TEST(test_tree_one_file)
{
	char e3[PATH_MAX + 32], path[PATH_MAX + 16], log[65536];
	struct run r;
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/tree.trace", dir);
	const char *env[] = { e3, NULL };
	run("tree", env, &r);
	ck_assert_msg(r.status == 0, "status %#x: %s", r.status, r.err);
	snprintf(path, sizeof path, "%s/tree.trace", dir);
	slurp(path, log, sizeof log);
	int headers = 0, writes = 0, before = 0; /* the parent's first, before the child's header */
	for (const char *l = log; *l;) {
		const char *nl = strchr(l, '\n'), *w = strstr(l, " write(");
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		headers += !strncmp(l, "# asyncify trace", 16);
		if (w && w < l + len) {
			writes++;
			before += headers == 1;
		}
		l += len + (nl != NULL);
	}
	ck_assert_msg(headers == 2 && writes == 4 && before == 1,
		      "headers %d, writes %d, before the child's header %d:\n%.2000s", headers,
		      writes, before, log);
}
END_TEST

/* Processes appending to one json file: every write ends at a record's
 * end, so every line is one whole record (the writer wrote at buffer
 * ends and before each new stack: 2–230 lines of thousands were two
 * processes' records spliced). */
START_TEST(test_crowd_whole_lines)
{
	char e3[PATH_MAX + 32], path[PATH_MAX + 16], line[8192];
	struct run r;
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/crowd.json", dir);
	const char *env[] = { e3, "ASYNCIFY_TRACE_FORMAT=json", "ASYNCIFY_STACKS=4", NULL };
	run("crowd", env, &r);
	ck_assert_msg(r.status == 0, "status %#x: %s", r.status, r.err);
	snprintf(path, sizeof path, "%s/crowd.json", dir);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	int lines = 0, bad = 0;
	while (fgets(line, sizeof line, f)) {
		size_t l = strlen(line);
		const char *second = strstr(line + 1, "{\"type\":");
		int whole = !strncmp(line, "{\"type\":", 8) && l >= 2 &&
			    !strcmp(line + l - 2, "}\n") && !second;
		if (!whole && bad++ < 1)
			fprintf(stderr, "cut: %.300s\n", line);
		lines++;
	}
	fclose(f);
	ck_assert_msg(lines >= 8000 && !bad, "%d lines, %d not one whole record", lines, bad);
}
END_TEST

/* A chrome file ends with its closing bracket also after _exit. */
START_TEST(test_chrome_underscore_exit)
{
	char e3[PATH_MAX + 32], path[PATH_MAX + 16], log[65536];
	struct run r;
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/x.json", dir);
	const char *env[] = { e3, "ASYNCIFY_TRACE_FORMAT=chrome", NULL };
	run("_exit", env, &r);
	ck_assert_msg(r.status == 0, "status %#x: %s", r.status, r.err);
	snprintf(path, sizeof path, "%s/x.json", dir);
	slurp(path, log, sizeof log);
	size_t l = strlen(log);
	ck_assert_msg(l > 3 && !strcmp(log + l - 3, "\n]\n"), "the file ends: %.200s",
		      log + (l > 200 ? l - 200 : 0));
}
END_TEST

/* ASYNCIFY_FLAME under every backend: stacks on by themselves, one folded
 * line per stack of work_calls, weights equal to the trace's durations. */
START_TEST(test_flame)
{
	char e2[64], e3[PATH_MAX + 32], e4[PATH_MAX + 32], args[2 * PATH_MAX];
	struct run r;
	snprintf(e2, sizeof e2, "ASYNCIFY_BACKEND=%s", backends[_i]);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	snprintf(e4, sizeof e4, "ASYNCIFY_FLAME=%s/flame.%%p", dir);
	const char *env[] = { e2, e3, e4, "ASYNCIFY_TRACE_FORMAT=json", NULL };
	run("calls", env, &r);
	ck_assert_msg(r.status == 0, "status %#x: %s", r.status, r.err);
	ck_assert_msg(!r.err[0], "stderr: %s", r.err);
	snprintf(args, sizeof args, "flame --via %s --dir %s", via_of(backends[_i]), dir);
	checker(args);
}
END_TEST

/* Results and errno under full tracing with stacks, every backend. */
START_TEST(test_errno)
{
	char e2[64], e3[PATH_MAX + 32], e4[PATH_MAX + 32];
	struct run r;
	snprintf(e2, sizeof e2, "ASYNCIFY_BACKEND=%s", backends[_i]);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s/summary.%%p", dir);
	const char *env[] = { e2, e3, e4, "ASYNCIFY_STACKS=8", NULL };
	run("errno", env, &r);
	ck_assert_msg(r.status == 0, "status %#x (exit 10-14: which check failed): %s", r.status,
		      r.err);
}
END_TEST

/* Text to stderr: strace-like lines, nothing else. */
START_TEST(test_stderr)
{
	struct run r;
	const char *env[] = { "ASYNCIFY_TRACE=stderr", "ASYNCIFY_BACKEND=off", NULL };
	char args[2 * PATH_MAX];
	run("calls", env, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(count_lines(r.err), 17 + 24); /* data calls, fs_calls() */
	snprintf(args, sizeof args, "stderr --dir %s", dir);
	checker(args);
}
END_TEST

/* Traced to stderr, fd 2 taken by a file of the program's: in that file
 * the program's lines only, with or without coroutines' calls. */
START_TEST(test_stderr_taken)
{
	struct run r;
	char path[PATH_MAX + 16], got[256] = "";
	const char *env[] = { "ASYNCIFY_TRACE=stderr", "ASYNCIFY_BACKEND=uring", NULL };
	run("stderr-taken", env, &r);
	ck_assert_msg(r.status == 0, "status %#x", r.status);
	snprintf(path, sizeof path, "%s/errfile", dir);
	slurp(path, got, sizeof got);
	ck_assert_str_eq(got, "data\nend\n");
}
END_TEST

/* Whether the n bytes at b are UTF-8 (no overlong forms checked: the
 * trace copies a name's well-formed characters as they are). */
static int is_utf8(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n;) {
		int k = b[i] < 0x80 ? 0 : b[i] >= 0xf0 ? 3 : b[i] >= 0xe0 ? 2 : b[i] >= 0xc2 ? 1 : -1;
		if (k < 0 || i + (size_t)k >= n + (k == 0))
			return 0;
		for (int j = 1; j <= k; j++)
			if ((b[i + j] & 0xc0) != 0x80)
				return 0;
		i += (size_t)k + 1;
	}
	return 1;
}

/* Names in another encoding, or cut inside a character: the json and
 * chrome traces stay UTF-8 (the bytes were copied raw, and a JSON
 * reader refused the lines), each such byte as U+DC80 + byte. */
START_TEST(test_badname)
{
	struct run r;
	char e1[64], e2[PATH_MAX + 32], path[PATH_MAX + 16];
	static char got[1 << 16];
	snprintf(e1, sizeof e1, "ASYNCIFY_TRACE_FORMAT=%s", formats[_i + 1]);
	snprintf(e2, sizeof e2, "ASYNCIFY_TRACE=%s/bad.json", dir);
	const char *env[] = { e1, e2, NULL };
	run("badname", env, &r);
	ck_assert_msg(r.status == 0, "status %#x", r.status);
	snprintf(path, sizeof path, "%s/bad.json", dir);
	slurp(path, got, sizeof got);
	unlink(path);
	size_t n = strlen(got);
	ck_assert_int_gt(n, 0);
	ck_assert_msg(is_utf8((const unsigned char *)got, n), "not UTF-8: %s", got);
	ck_assert_msg(strstr(got, "bad\\udcff\\udcfename") && strstr(got, "cut\\udce2\\udc82"),
		      "%s", got);
}
END_TEST

/* Bad values: one warning line each, the defaults, the program runs on. */
START_TEST(test_bad_values)
{
	struct run r;
	char e3[PATH_MAX + 32], args[2 * PATH_MAX];
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/trace.%%p", dir);
	const char *env[] = { e3, "ASYNCIFY_TRACE_FORMAT=xml", "ASYNCIFY_STACKS=many",
			      "ASYNCIFY_TRACE_MIN_US=-5", "ASYNCIFY_BACKEND=off", NULL };
	run("calls", env, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(count_lines(r.err) == 3, "stderr: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "asyncify: ASYNCIFY_TRACE_FORMAT=xml"));
	ck_assert_ptr_nonnull(strstr(r.err, "asyncify: ASYNCIFY_STACKS=many"));
	ck_assert_ptr_nonnull(strstr(r.err, "asyncify: ASYNCIFY_TRACE_MIN_US=-5"));
	snprintf(args, sizeof args, "calls --format text --via off --dir %s --no-summary", dir);
	checker(args);
}
END_TEST

/* A path that cannot be opened: one warning, no tracing, exit 0. */
START_TEST(test_bad_path)
{
	struct run r;
	const char *env[] = { "ASYNCIFY_TRACE=/nonexistent-asyncify-dir/t.%p",
			      "ASYNCIFY_SUMMARY=/nonexistent-asyncify-dir/s", NULL };
	run("calls", env, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(count_lines(r.err) == 2, "stderr: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "asyncify: ASYNCIFY_TRACE="));
	ck_assert_ptr_nonnull(strstr(r.err, "asyncify: ASYNCIFY_SUMMARY="));
}
END_TEST

/* A symlink at the trace path is refused (dangling or not); its target
 * keeps its contents. */
START_TEST(test_symlink)
{
	struct run r;
	char target[PATH_MAX + 16], link[PATH_MAX + 16], dangling[PATH_MAX + 16], buf[64];
	char e3[2 * PATH_MAX], e4[2 * PATH_MAX];
	snprintf(target, sizeof target, "%s/target", dir);
	snprintf(link, sizeof link, "%s/link", dir);
	snprintf(dangling, sizeof dangling, "%s/dangling", dir);
	int fd = open(target, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	close(fd);
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(symlink("created-through-link", dangling), 0);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s", link);
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s", dangling);
	const char *env[] = { e3, e4, NULL };
	run("calls", env, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(count_lines(r.err) == 2, "stderr: %s", r.err);
	slurp(target, buf, sizeof buf);
	ck_assert_str_eq(buf, "keep");
	snprintf(target, sizeof target, "%s/created-through-link", dir);
	ck_assert_int_eq(access(target, F_OK), -1);
}
END_TEST

/* The names a shell gives fd 2 mean "stderr": the trace and the summary
 * come on the program's stderr, with no warning. */
START_TEST(test_stderr_names)
{
	static const char *const names[] = { "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2" };
	struct run r;
	char e3[64], e4[64];
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s", names[_i]);
	snprintf(e4, sizeof e4, "ASYNCIFY_SUMMARY=%s", names[(_i + 1) % 3]);
	const char *env[] = { e3, e4, NULL };
	run("calls", env, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(!strstr(r.err, "cannot write"), "%s: %.300s", names[_i], r.err);
	ck_assert_msg(strstr(r.err, "asyncify summary"), "%s: no summary: %.300s", names[_i], r.err);
	ck_assert_msg(strstr(r.err, " write("), "%s: no trace lines: %.300s", names[_i], r.err);
}
END_TEST

/* The trace's writer thread does not keep a process alive: its main
 * thread's pthread_exit ends it once its other thread returns, with the
 * trace complete (it had lived on, SIGTERM pending, until the alarm). */
START_TEST(test_main_pthread_exit)
{
	const char *san = getenv("ASY_SANITIZE");
	if (san && !strcmp(san, "thread")) {
		/* Under TSan such a process never ends, shim or not. */
		printf("check-trace: test_main_pthread_exit not run under TSan\n");
		return;
	}
	struct run r;
	char e3[PATH_MAX + 64], path[PATH_MAX + 32], buf[4096];
	snprintf(path, sizeof path, "%s/t", dir);
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s", path);
	const char *env[] = { e3, NULL };
	run("main-exits", env, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %.300s",
		      r.status, r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "thread done"));
	slurp(path, buf, sizeof buf);
	ck_assert_msg(strstr(buf, "write(2"), "the thread's write is not in the trace: %.300s", buf);
}
END_TEST

/* Trace files are 0600 whatever the umask, and hold no data. */
START_TEST(test_file_mode)
{
	struct run r;
	char e3[PATH_MAX + 32], path[PATH_MAX + 32];
	struct stat st;
	snprintf(e3, sizeof e3, "ASYNCIFY_TRACE=%s/t", dir);
	const char *env[] = { e3, NULL };
	mode_t old = umask(0);
	run("calls", env, &r);
	umask(old);
	ck_assert_int_eq(r.status, 0);
	snprintf(path, sizeof path, "%s/t", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_gt(st.st_size, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("trace");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_formats, 0, 9);
	tcase_add_loop_test(tc, test_stderr_names, 0, 3);
	tcase_add_test(tc, test_main_pthread_exit);
	tcase_add_loop_test(tc, test_coro, 0, 9);
	tcase_add_test(tc, test_min_us);
	tcase_add_test(tc, test_reuse);
	tcase_add_loop_test(tc, test_signal, 0, 3);
	tcase_add_loop_test(tc, test_fork, 0, 3);
	tcase_add_loop_test(tc, test_threads, 0, 3);
	tcase_add_loop_test(tc, test_exec, 0, 3);
	tcase_add_test(tc, test_tree_one_file);
	tcase_add_test(tc, test_crowd_whole_lines);
	tcase_add_test(tc, test_chrome_underscore_exit);
	tcase_add_loop_test(tc, test_errno, 0, 3);
	tcase_add_loop_test(tc, test_flame, 0, 3);
	tcase_add_test(tc, test_stderr);
	tcase_add_test(tc, test_stderr_taken);
	tcase_add_loop_test(tc, test_badname, 0, 2);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_bad_path);
	tcase_add_test(tc, test_symlink);
	tcase_add_test(tc, test_file_mode);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--work")) {
		for (int i = 0; t_trace_works[i].name; i++)
			if (!strcmp(t_trace_works[i].name, argv[2])) {
				t_trace_works[i].fn();
				return 0;
			}
		return 2;
	}
	struct io_uring_params prm = { 0 };
	long ring = syscall(SYS_io_uring_setup, 4, &prm);
	if (ring < 0) {
		no_uring = 1;
		printf("check-trace: io_uring unavailable; the uring runs check the fallback\n");
	} else {
		close((int)ring);
	}
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
