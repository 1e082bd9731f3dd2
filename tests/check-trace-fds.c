/* The trace's own fds and thread are not the program's
 * (runtime/trace/trace-out.c, trace-write.c): with
 * ASYNCIFY_TRACE=<file>, ASYNCIFY_SUMMARY=<file> or ASYNCIFY_TRACE=stderr,
 * under every backend, a program sees the fd numbers, results and errno
 * it sees without the shim, what it writes after closing "every" fd
 * lands in its own file, never the trace, and a call the kernel refuses
 * to a process of more than one thread is not refused for the writer's.
 *
 * A case runs this program as `check-trace-fds --work NAME` twice: plain,
 * then with LD_PRELOAD=$ASY_LIB and the test's ASYNCIFY_* variables; the
 * two stdouts must be the same.  The traced run must also leave the calls
 * made after the close in the trace (a marker path). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static const char *const backends[] = { "off", "uring", "threads" };
/* What is traced, and where (%s: the test's directory). */
enum { M_TRACE, M_SUMMARY, M_STDERR, M_COUNT };
static char dir[64];

/* ---- the workloads (run in the plain and the traced process) ----------- */

static void t_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", getenv("T_DIR"), name);
}

/* Five lines into out.txt through fd, then its size as the program sees
 * it (35 bytes: only its own). */
static void write_lines(int fd)
{
	char path[PATH_MAX];
	struct stat st;
	for (int i = 0; i < 5; i++)
		if (write(fd, "line 1\n", 7) != 7)
			exit(3);
	t_path(path, sizeof path, "out.txt");
	printf("size=%lld\n", stat(path, &st) ? -1LL : (long long)st.st_size);
}

static int open_out(void)
{
	char path[PATH_MAX];
	t_path(path, sizeof path, "out.txt");
	return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

/* A later call the trace must still show. */
static void marker(void)
{
	char path[PATH_MAX];
	t_path(path, sizeof path, "marker-after-close");
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	printf("marker=%d\n", fd);
}

static void result(const char *what, long r)
{
	printf("%s=%ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}

static void work_first_open(void)
{
	result("open", open("/dev/null", O_RDONLY));
	result("dup", dup(0));
}

static void work_close_3(void)
{
	result("close3", close(3));
	result("close4", close(4));
	result("open", open("/dev/null", O_RDONLY));
}

static void work_close_range(void)
{
	result("close_range", close_range(3, ~0U, 0));
	int fd = open_out();
	result("open", fd);
	write_lines(fd);
	marker();
}

/* The number an fd the program did not open has (the trace's), else a
 * number plain runs do not use either. */
static int foreign_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = 1000;
	while (d && (e = readdir(d)))
		if (atoi(e->d_name) > 2 && atoi(e->d_name) != dirfd(d))
			found = atoi(e->d_name);
	if (d)
		closedir(d);
	return found;
}

static void work_dup2(void)
{
	int n = foreign_fd(), fd = open_out();
	result("open", fd);
	printf("dup2-took-it=%d\n", dup2(fd, n) == n);
	result("close", close(fd));
	write_lines(n);
	result("close-n", close(n));
	marker();
}

static void work_close_all(void)
{
	int closed = 0;
	for (int fd = 3; fd < 1024; fd++)
		closed += close(fd) == 0;
	printf("closed=%d\n", closed);
	int fd = open_out();
	result("open", fd);
	write_lines(fd);
	marker();
}

/* glibc's closefrom: made as the hooked close_range (shim/shim.c). */
static void work_closefrom(void)
{
	closefrom(3);
	int fd = open_out();
	result("open", fd);
	write_lines(fd);
	marker();
}

/* A raw close_range system call, which the shim does not see. */
static void work_close_range_raw(void)
{
	syscall(SYS_close_range, 3, ~0U, 0);
	int fd = open_out();
	result("open", fd);
	write_lines(fd);
	marker();
}

/* Calls for the writer to format, then whether anything opened the
 * time-zone file run() names in TZ (inotify): glibc's gmtime_r reads it
 * once, and the writer thread's open took the lowest free number while
 * the program opened its own. */
static void work_zone(void)
{
	char zone[PATH_MAX], b[4096];
	t_path(zone, sizeof zone, "zone");
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	result("watch", inotify_add_watch(in, zone, IN_OPEN) >= 0);
	struct stat st;
	for (int i = 0; i < 20; i++)
		stat("/", &st);
	usleep(200000); /* the writer's batch (traced inside TSan's interceptor) */
	printf("zone-opened=%s\n", read(in, b, sizeof b) > 0 ? "yes" : "no");
	close(in);
	marker();
}

/* stderr closed and a file of the program's put at 2, then everything
 * above closed: the trace to "stderr" was reopened as fd 2 as it was
 * then, the program's file, and wrote its lines there. */
static void work_stderr_replaced(void)
{
	char path[PATH_MAX];
	close(2);
	t_path(path, sizeof path, "data");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	result("open", fd);
	result("close_range", close_range(3, ~0U, 0));
	struct stat st;
	for (int i = 0; i < 20; i++)
		stat("/", &st);
	usleep(200000);
	fstat(fd, &st);
	printf("data-size=%lld\n", (long long)st.st_size);
}

/* A relative trace path (run() starts this one in T_DIR), then chdir and
 * close_range: the trace was reopened in the new directory. */
static void work_chdir(void)
{
	char sub[PATH_MAX];
	t_path(sub, sizeof sub, "sub");
	mkdir(sub, 0700);
	result("chdir", chdir(sub));
	result("close_range", close_range(3, ~0U, 0));
	marker();
	usleep(200000);
	DIR *d = opendir(".");
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	printf("files-in-new-cwd=%d\n", n);
}

static void slurp(const char *path, char *buf, size_t n);

/* unshare and setns that the kernel refuses (EINVAL, EUSERS) once the
 * process has a second thread — the trace's writer was one — each in a
 * child of its own (a fork child's writer is started again), then the
 * process's own unshare of a user namespace and a call after it, which
 * the writer, back, has written out before the program ends. */
static void alone_child(const char *what, int ns)
{
	char path[64];
	pid_t peer = -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		long r;
		if (ns < 0) {
			r = !strcmp(what, "unshare-user-raw") ? syscall(SYS_unshare, CLONE_NEWUSER)
							      : unshare(-ns);
		} else if (ns == CLONE_NEWTIME) { /* its own child's time namespace */
			unshare(CLONE_NEWUSER | CLONE_NEWTIME);
			int fd = open("/proc/self/ns/time_for_children", O_RDONLY);
			r = setns(fd, CLONE_NEWTIME);
		} else { /* a child's user namespace (and its mount namespace) */
			int p[2];
			char c;
			if (pipe(p) < 0)
				_exit(3);
			if ((peer = fork()) == 0) {
				unshare(CLONE_NEWUSER | (ns == CLONE_NEWNS ? CLONE_NEWNS : 0));
				write(p[1], "r", 1);
				pause();
				_exit(0);
			}
			read(p[0], &c, 1);
			snprintf(path, sizeof path, "/proc/%d/ns/user", (int)peer);
			r = setns(open(path, O_RDONLY), CLONE_NEWUSER);
			if (ns == CLONE_NEWNS && r == 0) {
				snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)peer);
				r = setns(open(path, O_RDONLY), 0);
			}
			kill(peer, SIGKILL);
			waitpid(peer, NULL, 0);
		}
		result(what, r);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

static void work_alone(void)
{
	char buf[16], path[PATH_MAX];
	int fd = open("/dev/null", O_RDONLY);
	result("read", read(fd, buf, 1));
	close(fd);
	alone_child("unshare-user", -CLONE_NEWUSER);
	alone_child("unshare-user-raw", -CLONE_NEWUSER);
	alone_child("unshare-thread", -CLONE_THREAD);
	alone_child("unshare-sighand", -CLONE_SIGHAND);
	alone_child("unshare-vm", -CLONE_VM);
	alone_child("setns-user", CLONE_NEWUSER);
	alone_child("setns-mnt-nstype-0", CLONE_NEWNS);
	alone_child("setns-time", CLONE_NEWTIME);
	result("unshare", unshare(CLONE_NEWUSER));
	printf("uid-is-overflow=%d\n", getuid() == 65534);
	marker();
	usleep(300000); /* the writer's 50 ms sleep, many times over */
	const char *tr = getenv("ASYNCIFY_TRACE");
	int seen = 1;
	if (tr) {
		static char log[1 << 16];
		if (!strcmp(tr, "stderr"))
			snprintf(path, sizeof path, "/proc/self/fd/2");
		else
			snprintf(path, sizeof path, "%s/trace.%d", getenv("T_DIR"), (int)getpid());
		slurp(path, log, sizeof log);
		seen = strstr(log, "marker-after-close") != NULL;
	}
	printf("written-while-running=%d\n", seen);
}

static const struct {
	const char *name;
	void (*fn)(void);
} works[] = {
	{ "first-open", work_first_open }, { "close-3", work_close_3 },
	{ "close-range", work_close_range }, { "dup2", work_dup2 },
	{ "close-all", work_close_all },   { "closefrom", work_closefrom },
	{ "close-range-raw", work_close_range_raw },
	{ "zone", work_zone },		   { "stderr-replaced", work_stderr_replaced },
	{ "chdir", work_chdir },	   { "alone", work_alone },
	{ NULL, NULL },
};

/* ---- running a workload ------------------------------------------------ */

static void slurp(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t l = fd >= 0 ? read(fd, buf, n - 1) : 0;
	buf[l > 0 ? l : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* Run workload `name`, traced (mode, backend) or plain (mode < 0); its
 * stdout into out, its stderr into err; the pid. */
static pid_t run(const char *name, int mode, const char *be, char *out, char *err, size_t n)
{
	char opath[PATH_MAX], epath[PATH_MAX];
	snprintf(opath, sizeof opath, "%s/stdout", dir);
	snprintf(epath, sizeof epath, "%s/stderr", dir);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char v[PATH_MAX + 32], preload[2 * PATH_MAX];
		const char *lib = getenv("ASY_LIB"), *pre = getenv("ASY_PRELOAD_FIRST");
		int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(o, 1), dup2(e, 2), close(o), close(e);
		closefrom(3);
		clearenv();
		setenv("T_DIR", dir, 1);
		setenv("PATH", "/usr/bin:/bin", 1);
		snprintf(v, sizeof v, ":%s/zone", dir); /* work_zone's */
		setenv("TZ", v, 1);
		int rel = !strcmp(name, "chdir"); /* a relative trace path */
		if (rel && chdir(dir) < 0)
			_exit(126);
		if (mode >= 0) {
			snprintf(preload, sizeof preload, "%s%s%s", pre && *pre ? pre : "",
				 pre && *pre ? " " : "", lib ? lib : "lib/libasyncify.so");
			setenv("LD_PRELOAD", preload, 1);
			setenv("ASYNCIFY_BACKEND", be, 1);
			snprintf(v, sizeof v, "%s%s%s.%%p", rel ? "" : dir, rel ? "" : "/",
				 mode == M_SUMMARY ? "summary" : "trace");
			setenv(mode == M_SUMMARY ? "ASYNCIFY_SUMMARY" : "ASYNCIFY_TRACE",
			       mode == M_STDERR ? "stderr" : v, 1);
			setenv("TSAN_OPTIONS", "die_after_fork=0", 1);
		}
		alarm(20);
		execl("/proc/self/exe", "check-trace-fds", "--work", name, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	slurp(opath, out, n);
	slurp(epath, err, n);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s (mode %d, %s): status %#x: %.1500s",
		      name, mode, be, st, err);
	return pid;
}

/* The traced run's stdout is the plain run's; the trace (or summary)
 * was written and, when `marked`, shows the call made after the close. */
static void same_as_plain(const char *name, int i, int marked)
{
	int mode = i / 3;
	const char *be = backends[i % 3];
	static char log[1 << 18]; /* the close loop's 1021 lines come first */
	char plain[4096], traced[4096], err[4096], path[PATH_MAX];
	run(name, -1, "", plain, err, sizeof plain);
	pid_t pid = run(name, mode, be, traced, err, sizeof traced);
	ck_assert_msg(!strcmp(plain, traced), "%s (mode %d, %s): plain:\n%.700straced:\n%.700s", name,
		      mode, be, plain, traced);
	if (mode == M_STDERR) {
		snprintf(path, sizeof path, "%s/stderr", dir);
		slurp(path, log, sizeof log);
	} else {
		snprintf(path, sizeof path, "%s/%s.%d", dir, mode == M_SUMMARY ? "summary" : "trace",
			 (int)pid);
		slurp(path, log, sizeof log);
	}
	size_t l = strlen(log);
	const char *tail = log + (l > 2000 ? l - 2000 : 0);
	ck_assert_msg(mode != M_SUMMARY || strstr(log, "asyncify summary"), "%s (%s): summary:\n%s",
		      name, be, tail);
	ck_assert_msg(mode == M_SUMMARY || !marked || strstr(log, "marker-after-close"),
		      "%s (mode %d, %s): no later call in the trace; it ends:\n%s", name, mode, be,
		      tail);
	ck_assert_msg(!strstr(log, "line 1"), "%s: the program's bytes in the trace", name);
}

static void setup(void)
{
	char zone[PATH_MAX];
	snprintf(dir, sizeof dir, "/tmp/check-trace-fds.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(zone, sizeof zone, "%s/zone", dir); /* read or not, only opened */
	close(open(zone, O_WRONLY | O_CREAT, 0600));
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* ---- cases: loop index = mode (i / 3) × backend (i % 3) ------------------ */

/* The trace's file took fd 3: the program's first open got 4. */
START_TEST(test_first_open_number)
{
	same_as_plain("first-open", _i, 0);
}
END_TEST

/* close(3) with nothing of the program's there closed the trace's and
 * said 0, not EBADF. */
START_TEST(test_close_3_ebadf)
{
	same_as_plain("close-3", _i, 0);
}
END_TEST

/* close_range(3, ~0U) then open: the trace went on writing its lines
 * into the program's file. */
START_TEST(test_close_range_then_write)
{
	same_as_plain("close-range", _i, 1);
}
END_TEST

/* dup2 onto the trace's number: the trace wrote into the program's file. */
START_TEST(test_dup2_onto_trace_number)
{
	same_as_plain("dup2", _i, 1);
}
END_TEST

/* A daemon's loop closing every fd 3..1023, then an open. */
START_TEST(test_close_every_fd)
{
	same_as_plain("close-all", _i, 1);
}
END_TEST

/* closefrom(3): glibc closed inside itself, the trace's number too. */
START_TEST(test_closefrom)
{
	same_as_plain("closefrom", _i, 1);
}
END_TEST

/* A raw close_range(3, ~0U), unseen: the trace's number is found closed
 * before the next write and the output reopened, not written to a dead
 * number. */
START_TEST(test_close_range_raw_unseen)
{
	same_as_plain("close-range-raw", _i, 1);
}
END_TEST

START_TEST(test_writer_opens_no_zone)
{
	same_as_plain("zone", _i, 1);
}
END_TEST

START_TEST(test_stderr_replaced_then_close_range)
{
	same_as_plain("stderr-replaced", _i, 0);
}
END_TEST

START_TEST(test_relative_path_then_chdir)
{
	same_as_plain("chdir", _i, 1);
}
END_TEST

/* unshare(CLONE_NEWUSER), setns into a user, mount or time namespace
 * and the like failed under ASYNCIFY_TRACE: the writer thread made the
 * process more than one thread (`unshare -U` said "Invalid argument"). */
START_TEST(test_single_thread_calls)
{
#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer's own thread comes and goes with forks: the case
	 * would measure it, not the shim. */
	return;
#endif
	same_as_plain("alone", _i, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trace-fds");
	TCase *tc = tcase_create("trace-fds");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_first_open_number, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_close_3_ebadf, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_close_range_then_write, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_dup2_onto_trace_number, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_close_every_fd, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_closefrom, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_close_range_raw_unseen, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_writer_opens_no_zone, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_stderr_replaced_then_close_range, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_relative_path_then_chdir, 0, 3 * M_COUNT);
	tcase_add_loop_test(tc, test_single_thread_calls, 0, 3 * M_COUNT);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--work")) {
		setvbuf(stdout, NULL, _IONBF, 0);
		for (int i = 0; works[i].name; i++)
			if (!strcmp(works[i].name, argv[2])) {
				works[i].fn();
				return 0;
			}
		return 2;
	}
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
