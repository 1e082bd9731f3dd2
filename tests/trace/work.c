/* The workloads of tests/check-trace.c, run in the traced process:
 * check-trace re-runs itself as `check-trace --work NAME` with
 * LD_PRELOAD=$ASY_LIB and the ASYNCIFY_* variables of the case, and
 * tests/trace/check-trace.py knows what each one calls (EXPECT_CALLS,
 * FS_CALLS).  T_DIR names the case's scratch directory. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "trace/work.h"

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

/* A process tree on one trace file (no %p): a write, a child that execs
 * exec2, a write after it. */
__attribute__((noinline)) static void work_tree(void)
{
	int fd = open("/dev/null", O_WRONLY), st;
	write(fd, "t", 1);
	usleep(100000); /* its batch in the file first */
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "check-trace", "--work", "exec2", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	write(fd, "t", 1);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		exit(6);
}

/* Four children at once on the parent's file (no %p): 2000 stats each of
 * a long path, records with stacks. */
__attribute__((noinline)) static void work_crowd(void)
{
	char path[200];
	memset(path, 'p', sizeof path - 1);
	path[0] = '/', path[sizeof path - 1] = 0;
	for (int c = 0; c < 4; c++)
		if (fork() == 0) {
			struct stat st;
			for (int i = 0; i < 2000; i++)
				stat(path, &st);
			exit(0);
		}
	for (int c = 0; c < 4; c++)
		wait(NULL);
}

/* One call, then _exit: a shell's way to end. */
__attribute__((noinline)) static void work_underscore_exit(void)
{
	close(open("/dev/null", O_RDONLY));
	_exit(0);
}

/* Tracing leaves results and errno as they were: errno untouched by a
 * call that succeeds, the call's own errno after one that fails; a
 * vector the call cannot read, or a count past its end, is the call's
 * EFAULT or EINVAL (the trace read the vector and died of SIGSEGV). */
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
	struct iovec two[2] = { { &c, 1 }, { &c, 1 } };
	struct iovec *volatile bad = (struct iovec *)16, *volatile short_one = two;
	if (readv(p[0], bad, 1) != -1 || errno != EFAULT || writev(fd, bad, 2) != -1 ||
	    errno != EFAULT || writev(fd, short_one, 100000) != -1 || errno != EINVAL)
		exit(14);
}

/* Traced to "stderr", the program closes fd 2 by a raw close_range and
 * opens a file of its own there: the trace ends, and no line of the
 * shim's reaches that file (a warning that the trace file could not be
 * written did). */
static void work_stderr_taken(void)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/errfile", getenv("T_DIR"));
	syscall(SYS_close_range, 2, ~0U, 0);
	if (open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600) != 2)
		exit(15);
	write(2, "data\n", 5);
	int fd = open("/dev/null", O_WRONLY);
	for (int i = 0; i < 3000; i++)
		write(fd, "x", 1);
	usleep(200000); /* the writer thread's next flush */
	write(2, "end\n", 4);
}

/* Names that are not UTF-8: a json or chrome trace stays UTF-8. */
static void work_badname(void)
{
	access("bad\xff\xfename", F_OK);
	access("cut\xe2\x82", F_OK);
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

const struct t_work t_trace_works[] = {
	{ "errno", work_errno },      { "stderr-taken", work_stderr_taken },
	{ "badname", work_badname },
	{ "calls", work_calls },     { "signal", work_signal }, { "fork", work_fork },
	{ "threads", work_threads }, { "exec", work_exec },     { "exec2", work_exec2 },
	{ "coro", work_coro },       { "reuse", work_reuse },   { "main-exits", work_main_exits },
	{ "tree", work_tree },       { "crowd", work_crowd },   { "_exit", work_underscore_exit },
	{ NULL, NULL },
};
