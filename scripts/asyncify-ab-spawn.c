/* asyncify-ab-spawn - run one command for asyncify-ab and measure it.
 *
 *   asyncify-ab-spawn RESULT PRELOAD PATH ARGV0 [ARGS...]
 *
 * Forks, executes PATH with ARGV0 ARGS... (LD_PRELOAD set to PRELOAD, or
 * unset when PRELOAD is empty), waits for it with wait4() and writes one
 * line to the file RESULT:
 *
 *   <wait status> <wall ns> <user us> <sys us> <max rss KiB> <exec errno>
 *
 * Why a helper at all: Linux counts the memory a process had before exec in
 * its peak RSS.  A child started from asyncify-ab's Python process (some
 * 20 MiB) could never show a smaller peak; one forked from this small
 * program starts from its ~1 MiB.  The helper runs without LD_PRELOAD (the
 * shim is set only for the command), and keeps SIGTERM, SIGINT and SIGHUP
 * blocked for itself, so that a timeout which signals the process group
 * kills the command but still gets its result written.  Exit status: 0
 * when RESULT was written, 2 on a usage or system error. */
#define _GNU_SOURCE	/* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long usec(struct timeval tv)
{
	return tv.tv_sec * 1000000LL + tv.tv_usec;
}

/* The child: the caller's signal mask back, the command's LD_PRELOAD, exec.
 * Reports a failed exec through the shared pipe as its errno. */
static void child(const char *preload, char **argv, const sigset_t *old, int errfd)
{
	sigprocmask(SIG_SETMASK, old, NULL);
	if (*preload)
		setenv("LD_PRELOAD", preload, 1);
	else
		unsetenv("LD_PRELOAD");
	execv(argv[0], argv + 1);
	int e = errno;
	if (write(errfd, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: asyncify-ab-spawn RESULT PRELOAD PATH ARGV0 [ARGS...]\n");
		return 2;
	}
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		perror("asyncify-ab-spawn: pipe2");
		return 2;
	}
	long long t0 = now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		perror("asyncify-ab-spawn: fork");
		return 2;
	}
	if (pid == 0)
		child(argv[2], argv + 3, &old, pfd[1]);
	close(pfd[1]);

	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("asyncify-ab-spawn: wait4");
			return 2;
		}
	}
	long long wall = now_ns() - t0;
	int exec_errno = 0;
	if (read(pfd[0], &exec_errno, sizeof exec_errno) != (ssize_t)sizeof exec_errno)
		exec_errno = 0;

	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror("asyncify-ab-spawn: result file");
		return 2;
	}
	fprintf(f, "%d %lld %lld %lld %ld %d\n", status, wall, usec(ru.ru_utime),
		usec(ru.ru_stime), ru.ru_maxrss, exec_errno);
	return fclose(f) == 0 ? 0 : 2;
}
