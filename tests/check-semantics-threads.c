/* CONTRACT §4 semantics, as in every check-semantics-* program: every case
 * runs without the shim and under each backend (off, uring, threads), then
 * inside a coroutine (uring-coro, threads-coro), and must print the same
 * results — return values, errno names, bytes, offsets, signals seen — and
 * end the same way.  On plain threads no call may reach a backend; in a
 * coroutine, cases marked T_BACKEND must have reached one.  This program
 * checks threads and processes: many threads, fork, vfork, posix_spawn,
 * the exec family, pthread_cancel, exit while a call is blocked, fsync,
 * special fds, the fortified _chk calls and an fd number reused after
 * close_range. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-semantics.h"

extern char **environ;
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);

/* ---- threads and processes -------------------------------------------- */

static void *echo_main(void *arg)
{
	int *p = arg;
	char b[64];
	long n;
	while ((n = read(p[0], b, sizeof b)) > 0)
		write(p[3], b, (size_t)n);
	close(p[3]);
	return NULL;
}

static void c_many_threads(void)
{
	enum { N = 8, ROUNDS = 100 };
	int fds[N][4];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		pipe(fds[i]);
		pipe(fds[i] + 2);
		pthread_create(&th[i], NULL, echo_main, fds[i]);
	}
	long ok = 0;
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < N; i++) {
			char b[8] = "ping";
			write(fds[i][1], b, 4);
			ok += read(fds[i][2], b, sizeof b) == 4 && !memcmp(b, "ping", 4);
		}
	for (int i = 0; i < N; i++) {
		close(fds[i][1]);
		join(th[i]);
	}
	t_out("ok=%ld\n", ok);
}

static void c_fork(void)
{
	int p[2], q[2];
	char b[16];
	pipe(p);
	pipe(q);
	pthread_t th = later_write(p[1], "pre", 30);
	show_buf("parent-before", b, read(p[0], b, sizeof b));
	join(th);
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t t2 = later_write(p[1], "child", 30);
		long n = read(p[0], b, sizeof b);
		write(q[1], b, n > 0 ? (size_t)n : 0);
		join(t2);
		_exit(n == 5 ? 3 : 4);
	}
	show_buf("from-child", b, read(q[0], b, sizeof b));
	int st;
	waitpid(pid, &st, 0);
	t_out("child exit=%d\n", WEXITSTATUS(st));
	th = later_write(p[1], "after", 30);
	show_buf("parent-after", b, read(p[0], b, sizeof b));
	join(th);
}

static void c_vfork(void)
{
	int p[2];
	char b[16];
	pipe(p);
	pthread_t th = later_write(p[1], "warm", 20);
	read(p[0], b, sizeof b);
	join(th);
	pid_t pid = vfork();
	if (pid == 0) {
		write(p[1], "vfork", 5);
		_exit(5);
	}
	int st;
	waitpid(pid, &st, 0);
	show_buf("read", b, read(p[0], b, sizeof b));
	t_out("exit=%d\n", WEXITSTATUS(st));
	th = later_write(p[1], "again", 20);
	show_buf("read", b, read(p[0], b, sizeof b));
	join(th);
}

static void c_spawn(void)
{
	int p[2];
	char b[64];
	pipe(p);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	char *argv[] = { "sh", "-c", "sleep 0.05; printf spawned", NULL };
	pid_t pid;
	t_out("spawn=%d\n", posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ));
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	show_buf("read", b, read(p[0], b, sizeof b));
	int st;
	waitpid(pid, &st, 0);
	t_out("exit=%d\n", WEXITSTATUS(st));
	t_out("system=%d\n", WEXITSTATUS(system("exit 3")));
}

static void c_exec(void)
{
	t_out("before exec\n");
	execl("/bin/sh", "sh", "-c", "head -c 5 /etc/hostname >/dev/null; echo exec-ok", (char *)NULL);
}

/* Every exec entry point (the shim hooks them all for tracing). */
static void c_exec_family(void)
{
	char *const argv[] = { "sh", "-c", "printf \"$0 $1 ${X:-}\\n\"", "v", NULL };
	char *const envp[] = { "X=env", NULL };
	for (int k = 0; k < 8; k++) {
		int p[2];
		char b[64];
		pipe(p);
		pid_t pid = fork();
		if (pid == 0) {
			dup2(p[1], 1);
			switch (k) {
			case 0: execl("/bin/sh", "sh", "-c", "echo execl $0", "a", (char *)NULL); break;
			case 1: execlp("sh", "sh", "-c", "echo execlp $0", "b", (char *)NULL); break;
			case 2: execle("/bin/sh", "sh", "-c", "echo execle $X", (char *)NULL, envp); break;
			case 3: execv("/bin/sh", argv); break;
			case 4: execvp("sh", argv); break;
			case 5: execve("/bin/sh", argv, envp); break;
			case 6: execvpe("sh", argv, envp); break;
			case 7: execl("/nonexistent", "x", (char *)NULL);
				printf("execl-failed %s\n", t_errname(errno));
			}
			_exit(9);
		}
		close(p[1]);
		long n = read(p[0], b, sizeof b);
		int st;
		waitpid(pid, &st, 0);
		t_out("%d: %.*s status=%d\n", k, (int)(n > 0 ? n - 1 : 0), b, WEXITSTATUS(st));
		close(p[0]);
	}
}

static volatile int cleanup_ran;

static void on_cleanup(void *arg)
{
	cleanup_ran = 1;
}

static void *cancel_main(void *arg)
{
	int *p = arg;
	char b[16];
	pthread_cleanup_push(on_cleanup, NULL);
	read(p[0], b, sizeof b);
	pthread_cleanup_pop(0);
	return NULL;
}

static void c_pthread_cancel(void)
{
	int p[2];
	char b[16];
	pipe(p);
	pthread_t th;
	void *ret;
	pthread_create(&th, NULL, cancel_main, p);
	t_msleep(50);
	pthread_cancel(th);
	pthread_join(th, &ret);
	t_out("canceled=%d cleanup=%d\n", ret == PTHREAD_CANCELED, cleanup_ran);
	write(p[1], "kept", 4);
	show_buf("read", b, read(p[0], b, sizeof b));
}

static void *blocked_main(void *arg)
{
	int *p = arg;
	char b[16];
	read(p[0], b, sizeof b);
	return NULL;
}

static void c_exit_while_blocked(void)
{
	static int p[2];
	pthread_t th;
	pipe(p);
	pthread_create(&th, NULL, blocked_main, p);
	t_msleep(50);
	t_out("exiting\n");
	exit(7);
}

static void c_fsync(void)
{
	const char *path = t_tmpfile(4096, 0);
	int fd = open(path, O_RDWR);
	unlink(path);
	t_res("pwrite", pwrite(fd, "sync", 4, 0));
	t_res("fsync", fsync(fd));
	t_res("fdatasync", fdatasync(fd));
	t_res("fsync-ro", fsync(open("/etc/hostname", O_RDONLY)));
	t_res("fsync-null", fsync(open("/dev/null", O_WRONLY)));
}

static void c_special_fds(void)
{
	char b[64];
	int efd = eventfd(0, 0);
	uint64_t v = 5;
	static struct later l;
	l = (struct later){ .fd = efd, .ms = 40, .data = &v, .len = 8 };
	pthread_t th = later(&l);
	t_res("eventfd", read(efd, b, 8));
	t_out("value=%lu\n", (unsigned long)*(uint64_t *)b);
	join(th);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	grantpt(m);
	unlockpt(m);
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	th = later_write(s, "line\n", 40);
	long n = read(m, b, sizeof b);
	t_out("pty=%ld\n", n);
	join(th);
}

static void c_chk(void)
{
	int p[2];
	char b[16];
	pipe(p);
	write(p[1], "fortify", 7);
	show_buf("read_chk", b, __read_chk(p[0], b, 4, sizeof b));
	const char *path = t_tmpfile(100, 1);
	int fd = open(path, O_RDONLY);
	unlink(path);
	t_res("pread_chk", __pread_chk(fd, b, 10, 90, sizeof b));
	t_res("pread_chk-eof", __pread_chk(fd, b, 10, 95, sizeof b));
}

/* A daemon closes every fd it does not know and reuses the numbers: the
 * shim's own fds go with them, and it must never read, write or close the
 * program's files in their place (it once read the program's pipe). */
static void c_close_range_reuse(void)
{
	int p[2], q[2];
	char b[64];
	pipe(p);
	pthread_t th = later_write(p[1], "warm", 20);
	show_buf("before", b, read(p[0], b, sizeof b));
	join(th);
	syscall(SYS_close_range, 100, ~0U, 0);
	pipe(q);
	write(q[1], "0123456789abcdef", 16);
	for (int fd = 100; fd < 1100; fd++)
		dup2(q[0], fd);
	th = later_write(p[1], "late", 30);
	show_buf("after", b, read(p[0], b, sizeof b));
	join(th);
	th = later_write(p[1], "again", 30);
	show_buf("again", b, read(p[0], b, sizeof b));
	join(th);
	fcntl(q[0], F_SETFL, O_NONBLOCK);
	show_buf("program-pipe", b, read(q[0], b, sizeof b));
}

/* T_NOCORO: a signal handler interrupts a call (inside coroutines signals
 * do not interrupt hooked calls: README), or the case cancels a thread,
 * forks, execs or exits.  T_BACKEND: the coroutine really waits in a
 * hooked call (for a peer thread, the disk, or room in a pipe). */

static const struct t_case cases[] = {
	{ "close_range_reuse", c_close_range_reuse, T_BACKEND },
	{ "many_threads", c_many_threads, T_BACKEND },
	{ "fork", c_fork, T_NOCORO },
	{ "vfork", c_vfork, T_NOCORO },
	{ "spawn", c_spawn, T_NOCORO },
	{ "exec", c_exec, T_NOCORO },
	{ "exec_family", c_exec_family, T_NOCORO },
	{ "pthread_cancel", c_pthread_cancel, T_NOCORO },
	{ "exit_while_blocked", c_exit_while_blocked, T_NOCORO },
	{ "fsync", c_fsync, T_BACKEND },
	{ "special_fds", c_special_fds, T_BACKEND },
	{ "chk", c_chk, 0 },
	{ NULL, NULL, 0 },
};

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "semantics-threads", 60);
}
