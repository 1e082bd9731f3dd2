/* Regression tests from CPython's own test suite (Debian's
 * libpython3.11-testsuite, run as `python3.11 -m test -v TEST` without
 * the shim, under LD_PRELOAD with ASYNCIFY_BACKEND=off|uring|threads, with
 * ASYNCIFY_TRACE on, and with the interpreter's main() inside a coroutine
 * beside a ticking one): one case per difference seen, reduced to C, as
 * in every check-exact-* program — each runs without the shim, under off,
 * uring and threads, and inside a coroutine (uring-coro, threads-coro),
 * and must print what plain glibc prints and end the same way.  Class 11:
 * processes and threads end, and calls run, where glibc's would —
 *
 *  - the program's last thread ending (pthread_exit in main(), or the
 *    thread that forked returning in the child: test_threading's
 *    test_3_join_in_forked_from_thread and
 *    test_main_thread_after_fork_from_nonmain_thread) ends the process
 *    with exit(0): the shim's own threads — the trace's writer, the
 *    pool's last worker (started by every scheduler run) — kept it alive
 *    forever, with every signal blocked, so only SIGKILL ended it.
 *  - a vfork child of a coroutine makes its calls itself, in its own fd
 *    table — CPython's subprocess child opens
 *    /proc/self/fd to close what pass_fds does not keep (test_subprocess's test_close_fds,
 *    test_pass_fds, test_pass_fds_redirected): its open was handed to a
 *    worker, which opened the file in the parent's fd table — the child
 *    had no such fd (its fds were left open across exec) and the parent
 *    leaked one per spawn; and when no worker was idle the pool started
 *    one from the child — a thread of the child, gone at its exit, that
 *    the parent's pool went on counting as idle: the parent's next worker
 *    call waited forever (test_concurrent_futures hung under threads-coro,
 *    its process holding ~110 leaked fds of /proc/PID/fd).  And under
 *    uring its fsync, a read of uncached pages or a poll with a timeout
 *    went to the ring of its stopped parent: it spun for good (a probe of
 *    process models; the same for a clone with CLONE_VM|CLONE_VFORK).
 *
 *  - usleep(0) in a coroutine yielded with the engine's depth still
 *    counted: the thread's later calls went to libc and held it
 *    (c11_zero_sleep_yields_engine; fixed in sleep.c).
 *
 * With ASY_T_OPEN=1 only the open report runs instead, not fixed:
 * c11_open_killed_reader_leaves_pipe (uring: a killed process's waiting
 * pipe read keeps the pipe open for milliseconds after it is reaped).
 *
 * A case that could hang under a broken shim bounds its wait, so that a
 * hang shows as "still running" next to plain glibc's clean exit. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ---- helpers ---------------------------------------------------------- */

/* Wait up to `secs` for pid; its status as a line, or "still running"
 * (then it is killed with SIGKILL: SIGTERM was blocked in the thread that
 * kept it alive). */
static void wait_bounded(const char *what, pid_t pid, double secs)
{
	int st;
	double end = now() + secs;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			show_status(what, st);
			return;
		}
		if (r < 0) {
			t_out("%s: waitpid %s\n", what, t_errname(errno));
			return;
		}
		if (now() > end)
			break;
		usleep(10000);
	}
	t_out("%s: still running after %.0f s\n", what, secs);
	t_kill_child(pid);
}

/* Run this program again as `--py-helper NAME` with extra environment
 * (the library, when loaded, comes along in LD_PRELOAD); wait for it. */
static void run_helper(const char *name, const char *env)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (env) {
			char e[256];
			snprintf(e, sizeof e, "%s", env);
			char *eq = strchr(e, '=');
			*eq = 0;
			setenv(e, eq + 1, 1);
		}
		execl("/proc/self/exe", "helper", "--py-helper", name, (char *)NULL);
		_exit(127);
	}
	wait_bounded("helper", pid, 5);
}

static void pipe_job(int i)
{
	int p[2];
	char b[4];
	if (pipe(p) < 0)
		return;
	write(p[1], "x", 1);
	t_jres(i, "read", read(p[0], b, sizeof b));
	t_jout(i, "\n");
	close(p[0]);
	close(p[1]);
}

/* ---- the helpers' workloads (run in the process run_helper starts) ------ */

/* main() ends its thread, the process's last: glibc calls exit(0). */
static void h_main_pthread_exit(void)
{
	printf("main: pthread_exit\n");
	fflush(stdout);
	pthread_exit(NULL);
}

static void *fork_from_thread(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid == 0) {
		/* The child's only thread is this one: its return ends the
		 * process, as CPython's forked thread does. */
		printf("child: thread returns\n");
		fflush(stdout);
		return NULL;
	}
	wait_bounded("forked child", pid, 3);
	return NULL;
}

/* A thread other than main() forks; in the child that thread returns. */
static void h_fork_from_thread(void)
{
	pthread_t th;
	pthread_create(&th, NULL, fork_from_thread, NULL);
	pthread_join(th, NULL);
	printf("main: returns\n");
}

static const struct {
	const char *name;
	void (*fn)(void);
} helpers[] = {
	{ "main_pthread_exit", h_main_pthread_exit },
	{ "fork_from_thread", h_fork_from_thread },
};

/* ==== class 11: the process ends when glibc would end it ================ */

/* The trace's writer thread kept a process whose main() ended with
 * pthread_exit alive (a zombie main thread, SIGTERM pending forever). */
static void c11_traced_main_pthread_exit(void)
{
	run_helper("main_pthread_exit", "ASYNCIFY_TRACE=/dev/null");
}

/* A fork child's writer, started anew after the fork, kept the child
 * alive once the thread that forked returned (test_threading). */
static void c11_traced_fork_from_thread(void)
{
	run_helper("fork_from_thread", "ASYNCIFY_TRACE=/dev/null");
}

/* A process that ran coroutines (the scheduler run starts the pool's
 * first worker, which stays) and then ends main() with pthread_exit:
 * that worker kept it alive.  Without the library the jobs are threads. */
static void c11_pthread_exit_after_coroutines(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		t_load_api();
		t_spawn(pipe_job, 0);
		t_spawn(pipe_job, 1);
		t_finish();
		printf("child: pthread_exit\n");
		fflush(stdout);
		pthread_exit(NULL);
	}
	wait_bounded("child", pid, 5);
}

/* A vfork child's open is of the child's own fd table: the fd is there
 * in the child, and the parent's table is as before. */
static void c11_vfork_child_open(void)
{
	close(open("/dev/null", O_RDONLY)); /* the coroutine's own, handed over */
	int lowest = dup(0);
	close(lowest);
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		_exit(fd < 0 ? 2 : fcntl(fd, F_GETFD) < 0 ? 1 : 0);
	}
	wait_bounded("vfork child (0: its fd is its own)", pid, 5);
	t_out("parent got an fd: %s\n", yes(fcntl(lowest, F_GETFD) >= 0));
}

/* A child that shares the coroutine's memory makes every call as its
 * own: an fsync, a read of pages not in the cache, a poll that times out,
 * a recv and a read with bytes waiting, a sleep.  Inside a coroutine
 * under uring such a call was a ring op, waited on by the parent's
 * stopped scheduler: the child spun and the parent never came back from
 * vfork.  Its exit status has a bit per call that went wrong. */
static int kid_file = -1, kid_pipe[2], kid_sock[2];

static int kid_calls(void *unused)
{
	(void)unused;
	alarm(5); /* the child's own net: a broken shim's child spun for good */
	char b[4];
	struct pollfd pfd = { kid_sock[0], POLLPRI, 0 }; /* never ready */
	struct timespec ts = { 0, 5000000 };
	int bad = fsync(kid_file) ? 1 : 0;
	bad |= pread(kid_file, b, 4, 40 * 4096) != 4 ? 2 : 0;
	bad |= poll(&pfd, 1, 20) != 0 ? 4 : 0;
	bad |= recv(kid_sock[0], b, 1, 0) != 1 ? 8 : 0;
	bad |= read(kid_pipe[0], b, 1) != 1 ? 16 : 0;
	bad |= nanosleep(&ts, NULL) ? 32 : 0;
	return bad;
}

static void kid_setup(void)
{
	char path[64], z[4096] = { 1 };
	snprintf(path, sizeof path, "/var/tmp/t-py-kid-%d", (int)getpid());
	kid_file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	unlink(path);
	for (int i = 0; i < 64; i++)
		pwrite(kid_file, z, sizeof z, i * 4096L);
	fdatasync(kid_file);
	posix_fadvise(kid_file, 0, 0, POSIX_FADV_DONTNEED);
	pipe(kid_pipe);
	socketpair(AF_UNIX, SOCK_STREAM, 0, kid_sock);
	write(kid_pipe[1], "pp", 2);
	send(kid_sock[1], "ss", 2, 0);
}

static void kid_done(const char *what, pid_t pid)
{
	wait_bounded(what, pid, 5);
	close(kid_file);
	close(kid_pipe[0]), close(kid_pipe[1]);
	close(kid_sock[0]), close(kid_sock[1]);
}

static void c11_vfork_child_calls_its_own(void)
{
	net(10);
	kid_setup();
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0)
		_exit(kid_calls(NULL));
	kid_done("vfork child (0: every call as libc's)", pid);
}

/* The same child made by clone: with CLONE_VFORK, and without it, where
 * the two run side by side (the parent waits in waitpid meanwhile). */
static void clone_kid(int flags, const char *what)
{
	net(10);
	kid_setup();
	size_t size = 256 * 1024;
	char *stack = malloc(size);
	fflush(stdout);
	pid_t pid = clone(kid_calls, stack + size, flags | SIGCHLD, NULL);
	if (pid < 0)
		t_out("clone: %s\n", t_errname(errno));
	else
		kid_done(what, pid);
	free(stack);
}

static void c11_clone_vm_vfork_child_calls_its_own(void)
{
	clone_kid(CLONE_VM | CLONE_VFORK, "clone(CLONE_VM|CLONE_VFORK) child");
}

static void c11_clone_vm_child_calls_its_own(void)
{
	clone_kid(CLONE_VM, "clone(CLONE_VM) child");
}

/* Jobs 0 and 1 wait in a FIFO's open (a worker each) while job 2's vfork
 * child opens a file with no worker idle: the pool started one from the
 * child — a thread of the child, gone at its exit, that the parent's pool
 * still counted as idle: the parent's next worker call was handed to it
 * and waited forever (test_concurrent_futures under threads-coro, after
 * ~110 subprocesses).  Without the library the jobs are threads. */
static char fifo_path[64];

static void j_fifo_reader(int i)
{
	usleep(20000 * (useconds_t)(i + 1)); /* one at a time: every worker busy */
	int fd = open(fifo_path, O_RDONLY);
	t_jout(i, "fifo open: %s\n", yes(fd >= 0));
	if (fd >= 0)
		close(fd);
}

static void j_vfork_then_open(int i)
{
	usleep(100000); /* jobs 0 and 1 are in their opens by then */
	pid_t pid = vfork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		/* A raw sleep (no hook): the worker goes idle meanwhile, as
		 * it had by the time CPython's child got to exec. */
		struct timespec ts = { 0, 20000000 };
		syscall(SYS_nanosleep, &ts, NULL);
		_exit(fd < 0 ? 2 : 0);
	}
	int st;
	waitpid(pid, &st, 0);
	t_jout(i, "vfork child: exit %d; ", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	t_jout(i, "open after it: %s; ", yes(fd >= 0));
	if (fd >= 0)
		close(fd);
	fd = open(fifo_path, O_WRONLY);
	t_jout(i, "fifo writer: %s\n", yes(fd >= 0));
	if (fd >= 0)
		close(fd);
}

static void c11_vfork_child_starts_no_worker(void)
{
	net(10);
	snprintf(fifo_path, sizeof fifo_path, "/tmp/t-py-fifo-%d", (int)getpid());
	unlink(fifo_path);
	if (mkfifo(fifo_path, 0600) < 0) {
		t_out("mkfifo: %s\n", t_errname(errno));
		return;
	}
	t_load_api();
	const char *be = getenv("ASYNCIFY_BACKEND");
	if (be && !strcmp(be, "off")) /* no engine to wait in: threads, as plain */
		memset(&t_api, 0, sizeof t_api);
	t_spawn(j_fifo_reader, 0);
	t_spawn(j_fifo_reader, 1);
	t_spawn(j_vfork_then_open, 2);
	t_finish();
	unlink(fifo_path);
}

/* ---- known, not fixed here: run only with ASY_T_OPEN=1 ------------------ */

/* Job 0's usleep(0) yields from inside the engine (sleep.c) with the
 * engine's depth still counted, so every call the other coroutines make
 * until job 0 runs again is passed to libc: job 1's read of an empty pipe
 * held the thread, and job 0 never ran to write it (found while reducing
 * the vfork cases).  Without the library the jobs are threads. */
static int zpipe[2];

static void j_zero_sleep_then_write(int i)
{
	t_jres(i, "usleep0", usleep(0));
	usleep(50000); /* job 1 is in its read by then */
	t_jres(i, "write", write(zpipe[1], "x", 1));
	t_jout(i, "\n");
}

static void j_read_pipe(int i)
{
	char b[4];
	t_jres(i, "read", read(zpipe[0], b, sizeof b));
	t_jout(i, "\n");
}

static void c11_zero_sleep_yields_engine(void)
{
	net(10);
	t_load_api();
	const char *be = getenv("ASYNCIFY_BACKEND");
	if (be && !strcmp(be, "off"))
		memset(&t_api, 0, sizeof t_api);
	if (pipe(zpipe) < 0)
		return;
	t_spawn(j_zero_sleep_then_write, 0);
	t_spawn(j_read_pipe, 1);
	t_finish();
}

/* A process killed while its coroutine's pipe read waits: once it is
 * reaped the pipe has no reader, and a write gets EPIPE at once (a
 * writer's check that a reader lives: CPython's resource tracker,
 * test_multiprocessing_fork's test_resource_tracker_sigkill and
 * _sigterm under uring-coro).  Under uring the read's ring op held the
 * pipe's file for some milliseconds after the reaping, and the writes
 * went in. */
static int kpipe[2];

static void j_read_kpipe(int i)
{
	char b[4];
	read(kpipe[0], b, sizeof b);
	(void)i;
}

static void j_idle(int i)
{
	sleep(30);
	(void)i;
}

static void c11_open_killed_reader_leaves_pipe(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (pipe(kpipe) < 0)
		return;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(kpipe[1]);
		t_load_api();
		const char *be = getenv("ASYNCIFY_BACKEND");
		if (be && !strcmp(be, "off"))
			memset(&t_api, 0, sizeof t_api);
		t_spawn(j_read_kpipe, 0);
		t_spawn(j_idle, 1);
		t_finish();
		_exit(0);
	}
	close(kpipe[0]);
	usleep(200000); /* the child waits in its read */
	show_status("reader", t_kill_child(pid));
	t_res("write after the reader was reaped", write(kpipe[1], "x", 1));
	close(kpipe[1]);
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks (a fork child of a coroutine runs none). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c11_traced_main_pthread_exit, T_NOCORO),
	C(c11_traced_fork_from_thread, T_NOCORO),
	C(c11_pthread_exit_after_coroutines, T_NOCORO),
	C(c11_vfork_child_open, T_BACKEND),
	C(c11_vfork_child_starts_no_worker, T_BACKEND | T_OWNCORO),
	C(c11_vfork_child_calls_its_own, T_BACKEND),
	C(c11_clone_vm_vfork_child_calls_its_own, T_BACKEND),
	C(c11_clone_vm_child_calls_its_own, T_BACKEND),
	C(c11_zero_sleep_yields_engine, T_BACKEND | T_OWNCORO),
	{ NULL, NULL, 0 },
};
static const struct t_case open_cases[] = {
	C(c11_open_killed_reader_leaves_pipe, T_NOCORO),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--py-helper")) {
		setvbuf(stdout, NULL, _IONBF, 0);
		for (size_t i = 0; i < sizeof helpers / sizeof helpers[0]; i++)
			if (!strcmp(helpers[i].name, argv[2])) {
				helpers[i].fn();
				return 0;
			}
		return 2;
	}
	const char *open_ones = getenv("ASY_T_OPEN");
	int open = open_ones && !strcmp(open_ones, "1");
	const char *san = getenv("ASY_SANITIZE");
	if (!open && san && !strcmp(san, "thread")) {
		/* Under ThreadSanitizer a process whose last thread ends by
		 * pthread_exit is not ended the same way, vfork is a fork, and
		 * a child sharing memory runs its hooks: those cases say nothing
		 * there. */
		static struct t_case kept[sizeof cases / sizeof cases[0]];
		size_t k = 0;
		for (const struct t_case *c = cases; c->name; c++)
			if (!strstr(c->name, "pthread_exit") && !strstr(c->name, "fork") &&
			    !strstr(c->name, "clone"))
				kept[k++] = *c;
		if (argc < 2)
			printf("check-exact-python: the pthread_exit, fork and clone cases not run under TSan\n");
		return t_cases_main(argc, argv, kept, "exact-python", 60);
	}
	return t_cases_main(argc, argv, open ? open_cases : cases, "exact-python", 60);
}
