/* Tracing and the summary (issue 4): every format under every backend,
 * parsed field by field by tests/trace/check-trace.py, summary counts
 * against the calls made; flame stacks against the trace; signal handlers,
 * fork, exec, threads, bad settings, symlinks, file modes.
 *
 * A case process is this program re-run as `check-trace --work NAME` with
 * LD_PRELOAD=$ASY_LIB and the ASYNCIFY_* variables of the test. */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

static const char *const formats[] = { "text", "json", "chrome" };
static const char *const backends[] = { "off", "uring", "threads" };
static int no_uring; /* io_uring cannot be set up here: uring falls back */
static char dir[64]; /* this test's scratch directory (mkdtemp) */

/* ---- the workloads (run in the traced process) --------------------------- */

/* The file system calls of work_calls (the checker's FS_CALLS): paths
 * given whole, through a directory fd, through a bad pointer and longer
 * than a trace shows; fds named before close; bytes only for the copy. */
static void fs_calls(int fd, const char *path)
{
	const char *d = getenv("T_DIR");
	char p[PATH_MAX], p2[PATH_MAX], lnk[64], lng[600];
	struct stat st;
	off_t o = 0;
	if (fstat(fd, &st) || ftruncate(fd, 4096) || flock(fd, LOCK_SH) || fcntl(fd, F_GETFL) <= 0)
		exit(20);
	if (posix_fallocate(-1, 0, 1) != EBADF || stat(path, &st) || access(path, R_OK))
		exit(21);
	int dfd = open(d, O_RDONLY | O_DIRECTORY), ofd = openat(dfd, "data", O_RDONLY);
	int nul = open("/dev/null", O_WRONLY);
	if (dfd < 0 || ofd < 0 || nul < 0 || sendfile(nul, ofd, &o, 100) != 100)
		exit(22);
	close(nul);
	close(ofd);
	snprintf(p, sizeof p, "%s/fs-sub", d);
	snprintf(p2, sizeof p2, "%s/fs-sub2", d);
	if (mkdirat(dfd, "fs-sub", 0700) || rename(p, p2) || rmdir(p2))
		exit(23);
	snprintf(p, sizeof p, "%s/fs-link", d);
	if (symlink("data", p) || readlink(p, lnk, sizeof lnk) != 4 || unlinkat(dfd, "fs-link", 0))
		exit(24);
	close(dfd);
	/* EFAULT, never a crash; then a name of 300 bytes (ENAMETOOLONG). */
	if (stat((const char *)1, &st) != -1 || errno != EFAULT)
		exit(25);
	snprintf(lng, sizeof lng, "%s/%0300d", d, 0);
	if (stat(lng, &st) != -1 || errno != ENAMETOOLONG)
		exit(26);
}

/* One call of each kind, with sizes the checker knows (EXPECT_CALLS). */
__attribute__((noinline)) static void work_calls(void)
{
	char b[128], path[PATH_MAX];
	struct iovec iov[2] = { { b, 10 }, { b + 10, 20 } };
	int p[2];
	memset(b, 'S', sizeof b);
	memcpy(b, "SECRET-PAYLOAD", 14); /* must never reach a trace file */
	snprintf(path, sizeof path, "%s/data", getenv("T_DIR"));
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	for (int i = 0; i < 3; i++)
		write(fd, b, 100);
	pwrite(fd, b, 50, 1000);
	writev(fd, iov, 2);
	pwritev(fd, iov, 2, 2000);
	pwritev2(fd, iov, 2, 3000, 0);
	fsync(fd);
	fdatasync(fd);
	pread(fd, b, 10, 0);
	lseek(fd, 0, SEEK_SET);
	read(fd, b, 20);
	readv(fd, iov, 2);
	preadv(fd, iov, 2, 1000);
	preadv2(fd, iov, 2, 0, 0);
	fs_calls(fd, path);
	read(-1, b, 1);
	if (pipe(p) == 0) {
		write(p[1], "x", 1);
		read(p[0], b, 1);
	}
	close(fd);
}

/* fs_calls() inside a coroutine, beside another one (a coroutine alone on
 * its thread makes its calls itself): the calls that may wait go to a
 * worker, fstat and close run inline; the trace shows the same paths and
 * files.  The API is looked up with dlsym (the library is preloaded). */
static int coro_done;

static void coro_files(void *arg)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/data", getenv("T_DIR"));
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, arg, 200) != 200)
		exit(30);
	fs_calls(fd, path);
	close(fd);
	coro_done = 1;
}

static void coro_other(void *arg)
{
	int (*yield)(void) = (int (*)(void))arg;
	while (!coro_done)
		yield();
}

__attribute__((noinline)) static void work_coro(void)
{
	int (*go)(void (*)(void *), void *) = (int (*)(void (*)(void *), void *))dlsym(
		RTLD_DEFAULT, "asy_go");
	int (*run)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	void *yield = dlsym(RTLD_DEFAULT, "asy_yield");
	static char b[200];
	if (!go || !run || !yield || go(coro_files, b) <= 0 || go(coro_other, yield) <= 0 ||
	    run() < 0 || !coro_done)
		exit(31);
}

/* A closed number reused by a call the shim does not hook (pipe): with
 * the summary alone (the fd cache trusted for 63 calls), the pipe's calls
 * must not count under the file closed there. */
__attribute__((noinline)) static void work_reuse(void)
{
	char path[PATH_MAX], b[4];
	int p[2];
	snprintf(path, sizeof path, "%s/data", getenv("T_DIR"));
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "abc", 3) != 3 || pread(fd, b, 1, 0) != 1 || close(fd) ||
	    pipe(p) || p[0] != fd || write(p[1], "xy", 2) != 2 || read(p[0], b, 2) != 2)
		exit(40);
}

static int sig_pipe[2];

static void on_alarm(int sig)
{
	/* A traced call inside a signal handler (not a tail call, so that
	 * on_alarm keeps its frame in the stack). */
	if (write(sig_pipe[1], "s", 1) != 1)
		_exit(9);
}

/* The main thread blocks in read() until the handler's write arrives. */
__attribute__((noinline)) static void work_signal(void)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct itimerval it = { .it_value = { 0, 20000 } };
	char c;
	if (pipe(sig_pipe) < 0)
		exit(3);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	if (read(sig_pipe[0], &c, 1) != 1 || c != 's')
		exit(4);
}

__attribute__((noinline)) static void work_fork(void)
{
	int fd = open("/dev/null", O_WRONLY);
	write(fd, "p", 1);
	pid_t pid = fork();
	if (pid == 0) {
		write(fd, "c", 1);
		write(fd, "c", 1);
		exit(0);
	}
	waitpid(pid, NULL, 0);
	write(fd, "p", 1);
}

static void *thread_writes(void *arg)
{
	int fd = (int)(long)arg;
	for (int i = 0; i < 50; i++)
		write(fd, "t", 1);
	return NULL;
}

__attribute__((noinline)) static void work_threads(void)
{
	pthread_t th[4];
	int fd = open("/dev/null", O_WRONLY);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, thread_writes, (void *)(long)fd);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
}

__attribute__((noinline)) static void work_exec2(void)
{
	int fd = open("/dev/null", O_WRONLY);
	write(fd, "e", 1);
	write(fd, "e", 1);
}

/* One write, then the same pid becomes another program image. */
__attribute__((noinline)) static void work_exec(void)
{
	int fd = open("/dev/null", O_WRONLY);
	write(fd, "x", 1);
	execl("/proc/self/exe", "check-trace", "--work", "exec2", (char *)NULL);
	exit(5);
}

/* Tracing leaves results and errno as they were: errno untouched by a
 * call that succeeds, the call's own errno after one that fails. */
__attribute__((noinline)) static void work_errno(void)
{
	int fd = open("/dev/null", O_WRONLY), p[2];
	char c;
	errno = ERANGE;
	if (write(fd, "e", 1) != 1 || errno != ERANGE)
		exit(10);
	if (read(-1, &c, 1) != -1 || errno != EBADF)
		exit(11);
	errno = ERANGE;
	if (pipe(p) < 0 || write(p[1], "z", 1) != 1 || read(p[0], &c, 1) != 1 || c != 'z' ||
	    errno != ERANGE)
		exit(12);
	if (fsync(p[0]) != -1 || errno != EINVAL)
		exit(13);
}

static void *late_writer(void *arg)
{
	(void)arg;
	usleep(50000);
	write(2, "thread done\n", 12);
	return NULL;
}

/* The main thread ends with pthread_exit while another thread still
 * works: the process ends (exit 0) when that thread returns. */
static void work_main_exits(void)
{
	pthread_t th;
	pthread_create(&th, NULL, late_writer, NULL);
	pthread_exit(NULL);
}

static const struct {
	const char *name;
	void (*fn)(void);
} works[] = {
	{ "errno", work_errno },
	{ "calls", work_calls },     { "signal", work_signal }, { "fork", work_fork },
	{ "threads", work_threads }, { "exec", work_exec },     { "exec2", work_exec2 },
	{ "coro", work_coro },       { "reuse", work_reuse },   { "main-exits", work_main_exits },
	{ NULL, NULL },
};

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
	ck_assert_msg(r.status == 0, "status %#x (exit 10-13: which check failed): %s", r.status,
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
	tcase_add_loop_test(tc, test_errno, 0, 3);
	tcase_add_loop_test(tc, test_flame, 0, 3);
	tcase_add_test(tc, test_stderr);
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
		for (int i = 0; works[i].name; i++)
			if (!strcmp(works[i].name, argv[2])) {
				works[i].fn();
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
