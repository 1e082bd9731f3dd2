/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks processes and
 * per-thread state: credentials a thread holds alone (setfsuid,
 * setfsgid, capset, a raw setuid system call) decide what its calls may
 * do wherever they run; cancellation of a thread blocked in a hooked
 * call; fork, exec and what the exec'd program inherits.
 *
 * The credential cases need root (the machine's tests run as root); as
 * any other user they print "not root" everywhere. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pty.h>
#include <termios.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/fsuid.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

/* glibc exports capset but declares it nowhere. */
extern int capset(cap_user_header_t hdr, const cap_user_data_t data);
extern int capget(cap_user_header_t hdr, cap_user_data_t data);

#define NOBODY 65534

/* ==== class 12: processes and per-thread state ========================= */

/* A directory only root may enter, holding a file only root may read:
 * dir and dir/f.  0, or -1 when not root. */
static int root_only(char dir[static 32], char f[static 40])
{
	if (geteuid() != 0) {
		t_out("not root\n");
		return -1;
	}
	strcpy(dir, "/tmp/asy-c12-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(f, 40, "%s/f", dir);
	int fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	write(fd, "secret", 6);
	close(fd);
	return 0;
}

static void root_only_done(const char *dir, const char *f)
{
	char sub[48];
	snprintf(sub, sizeof sub, "%s/d", dir);
	rmdir(sub);
	unlink(f);
	rmdir(dir);
}

/* What a thread with the given credentials may do there. */
static void try_root_only(const char *dir, const char *f)
{
	struct stat st;
	char sub[48], b[8];
	snprintf(sub, sizeof sub, "%s/d", dir);
	t_res("stat", stat(f, &st));
	int fd = open(f, O_RDONLY);
	t_res("open", fd >= 0 ? 0 : -1);
	if (fd >= 0) {
		show_buf("read", b, read(fd, b, sizeof b));
		close(fd);
	}
	t_res("mkdir", mkdir(sub, 0700));
	t_res("unlink", unlink(f));
	fd = open(f, O_RDONLY);
	t_res("still-there", fd >= 0 ? 0 : -1);
	if (fd >= 0)
		close(fd);
}

/* setfsuid is the calling thread's alone (glibc does not broadcast it):
 * its stat, open, mkdir and unlink of root's files must fail with EACCES
 * wherever they are made. */
static void c12_setfsuid_root_only(void)
{
	char dir[32], f[40];
	if (root_only(dir, f) < 0)
		return;
	int old = setfsuid(NOBODY);
	try_root_only(dir, f);
	/* and a file it creates is nobody's */
	char mine[] = "/tmp/asy-c12-mine-XXXXXX";
	int fd = mkstemp(mine);
	struct stat st;
	fstat(fd, &st);
	t_out("created-by=%u\n", (unsigned)st.st_uid);
	setfsuid(old);
	close(fd);
	unlink(mine);
	try_root_only(dir, f);
	root_only_done(dir, f);
}

/* The same with setfsgid and a group-only directory. */
static void c12_setfsgid_group_only(void)
{
	char dir[32], f[40];
	if (root_only(dir, f) < 0)
		return;
	chmod(dir, 0070);
	chown(dir, 0, 4242);
	chmod(f, 0060);
	chown(f, 0, 4242);
	int olduid = setfsuid(NOBODY);
	int oldgid = setfsgid(4243);
	try_root_only(dir, f);
	setfsgid(4242);
	try_root_only(dir, f);
	setfsgid(oldgid);
	setfsuid(olduid);
	root_only_done(dir, f);
}

/* A raw setresuid system call changes the calling thread only (glibc's
 * setresuid changes every thread). */
static void c12_raw_setresuid_syscall(void)
{
	char dir[32], f[40];
	if (root_only(dir, f) < 0)
		return;
	t_res("setresuid", syscall(SYS_setresuid, -1, NOBODY, 0));
	try_root_only(dir, f);
	t_res("back", syscall(SYS_setresuid, -1, 0, 0));
	try_root_only(dir, f);
	root_only_done(dir, f);
}

/* capset changes the calling thread's capabilities only: without
 * CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH root is refused a file that
 * is another user's, 0600. */
static void c12_capset_drops_dac_override(void)
{
	char dir[32], f[40];
	if (root_only(dir, f) < 0)
		return;
	chown(dir, NOBODY, NOBODY);
	chown(f, NOBODY, NOBODY);
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2], old[2];
	capget(&h, old);
	memcpy(d, old, sizeof d);
	d[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) |
			    (1u << CAP_FOWNER));
	t_res("capset", capset(&h, d));
	try_root_only(dir, f);
	t_res("back", capset(&h, old));
	try_root_only(dir, f);
	root_only_done(dir, f);
}

/* glibc's setresgid makes the change in every thread of the process and
 * aborts when one thread's result differs from another's.  A root
 * process alone on its thread keeps its capabilities over setresuid
 * (PR_SET_KEEPCAPS), raises them again with capset (the calling thread
 * only) and changes its gid: plain glibc's one thread succeeds.  Inside
 * a coroutine the stat before went to a worker, whose capabilities
 * setresuid cleared: a worker left alive fails where the caller succeeds,
 * and glibc aborted the process. */
static void c12_setresgid_after_capset(void)
{
	if (geteuid() != 0) {
		t_out("not root\n");
		return;
	}
	struct stat st;
	t_res("stat", stat(t_fs_dir(), &st));
	t_res("keepcaps", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	t_res("setresuid", setresuid(NOBODY, NOBODY, NOBODY));
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	capget(&h, d);
	t_out("effective=%s\n", yes(d[0].effective != 0));
	d[0].effective = d[0].permitted;
	d[1].effective = d[1].permitted;
	t_res("capset", capset(&h, d));
	t_res("setresgid", setresgid(NOBODY, NOBODY, NOBODY));
	gid_t r, e, sv;
	getresgid(&r, &e, &sv);
	t_out("gids=%u,%u,%u\n", (unsigned)r, (unsigned)e, (unsigned)sv);
	t_res("stat-after", stat(t_fs_dir(), &st));
}

static char inherit_dir[32], inherit_f[40];

static void j_inherit(int i)
{
	struct stat st;
	if (i == 1) { /* keeps the other from being alone on its thread */
		t_msleep(1);
		t_jout(i, "slept\n");
		return;
	}
	t_jres(i, "stat", stat(inherit_f, &st));
	int fd = open(inherit_f, O_RDONLY);
	t_jres(i, "open", fd >= 0 ? 0 : -1);
	if (fd >= 0)
		close(fd);
	t_jout(i, "\n");
}

static void *inheriting_thread(void *arg)
{
	t_spawn(j_inherit, 0);
	t_spawn(j_inherit, 1);
	t_finish();
	return NULL;
}

static void *fsuid_thread(void *arg)
{
	setfsuid(NOBODY);
	join(go(inheriting_thread, NULL));
	return NULL;
}

/* A thread created by a thread with filesystem ids of its own has them
 * too: its coroutines' stat and open are refused as its own would be.
 * The pool's workers were started first, by a root thread. */
static void c12_thread_inherits_fsuid(void)
{
	if (root_only(inherit_dir, inherit_f) < 0)
		return;
	t_load_api();
	t_spawn(j_inherit, 0);
	t_spawn(j_inherit, 1);
	t_finish();
	join(go(fsuid_thread, NULL));
	root_only_done(inherit_dir, inherit_f);
}

static int cleaner_pipe[2];
static char cleaner_dir[32];

/* Started before the case's thread restricts itself, so that it can
 * remove what a wrong answer created. */
static void *cleaner(void *arg)
{
	char b, path[48];
	read(cleaner_pipe[0], &b, 1);
	snprintf(path, sizeof path, "%s/d", cleaner_dir);
	rmdir(path);
	snprintf(path, sizeof path, "%s/f", cleaner_dir);
	unlink(path);
	rmdir(cleaner_dir);
	return NULL;
}

/* A Landlock domain is the thread's own (landlock_restrict_self has no
 * glibc wrapper: a raw syscall()): once it handles reading files and
 * making entries, with no rule that allows them, the thread's open,
 * mkdir and creat are refused everywhere. */
static void c12_landlock_thread(void)
{
	struct landlock_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
				     LANDLOCK_ACCESS_FS_MAKE_REG,
	};
	char sub[48], f[48];
	strcpy(cleaner_dir, "/tmp/asy-c12-XXXXXX");
	mkdtemp(cleaner_dir);
	pipe(cleaner_pipe);
	pthread_t th = go(cleaner, NULL);
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (rs < 0) {
		t_out("no landlock\n");
	} else {
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		t_res("restrict", syscall(SYS_landlock_restrict_self, rs, 0));
		snprintf(sub, sizeof sub, "%s/d", cleaner_dir);
		snprintf(f, sizeof f, "%s/f", cleaner_dir);
		int fd = open("/etc/passwd", O_RDONLY);
		t_res("open", fd >= 0 ? 0 : -1);
		t_res("mkdir", mkdir(sub, 0700));
		fd = open(f, O_CREAT | O_WRONLY, 0600);
		t_res("creat", fd >= 0 ? 0 : -1);
		struct stat st;
		t_res("stat", stat("/etc/passwd", &st));
	}
	write(cleaner_pipe[1], "x", 1);
	join(th);
}

/* select on an empty pipe for 20 ms: what it leaves in its timeout. */
static void select_20ms(void (*out)(int, const char *, ...), int i)
{
	int p[2];
	pipe(p);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	struct timeval tv = { 0, 20000 };
	int n = select(p[0] + 1, &r, NULL, NULL, &tv);
	out(i, "select=%d timeout-left=%ld.%06ld\n", n, (long)tv.tv_sec, (long)tv.tv_usec);
	close(p[0]);
	close(p[1]);
}

static void case_out(int i, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	t_out("%s", line);
}

/* With STICKY_TIMEOUTS in the thread's personality the kernel's select
 * leaves the timeout as it was. */
static void c12_sticky_timeouts_select(void)
{
	int old = personality(0xffffffff);
	personality(PER_LINUX | STICKY_TIMEOUTS);
	select_20ms(case_out, 0);
	personality(old);
	select_20ms(case_out, 0);
}

static void j_sticky(int i)
{
	if (i == 1) {
		t_msleep(1);
		t_jout(i, "slept\n");
	} else
		select_20ms(t_jout, i);
}

static void *sticky_thread(void *arg)
{
	t_spawn(j_sticky, 0);
	t_spawn(j_sticky, 1);
	t_finish();
	return NULL;
}

/* The same in coroutines of a thread that got the personality from the
 * thread that created it. */
static void c12_thread_inherits_sticky_timeouts(void)
{
	t_load_api();
	int old = personality(0xffffffff);
	personality(PER_LINUX | STICKY_TIMEOUTS);
	join(go(sticky_thread, NULL));
	personality(old);
}

static int fork_pipe[2], fork_go[2], fork_kind;
static pid_t fork_parent;

extern pid_t _Fork(void);

/* fork(), or one that runs no pthread_atfork handler: _Fork(), a raw
 * clone system call with fork's flags. */
static pid_t fork_by_kind(void)
{
	if (fork_kind == 1)
		return _Fork();
	if (fork_kind == 2)
		return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	return fork();
}

/* A sibling of the forking job: it waits across the fork and tells,
 * through the pipe, if a copy of it ran in the child.  The child waits
 * in a read for the parent's byte. */
static void j_fork(int i)
{
	if (i == 0) {
		usleep(30000);
		if (getpid() != fork_parent)
			write(fork_pipe[1], "sibling's copy ran in the child\n", 32);
		t_jout(i, "sibling done\n");
		return;
	}
	usleep(5000);
	pid_t c = fork_by_kind();
	if (c == 0) {
		char b[1];
		if (read(fork_go[0], b, 1) == 1)
			write(fork_pipe[1], "child's job returns\n", 20);
		return; /* the child's only thread of control ends */
	}
	close(fork_pipe[1]);
	usleep(20000);
	write(fork_go[1], "g", 1);
	int st;
	waitpid(c, &st, 0);
	t_jout(i, "child: %s\n", WIFEXITED(st) ? (WEXITSTATUS(st) ? "exit !0" : "exit 0") : "killed");
}

/* A child forked by a job has that job only: when it returns, the child
 * ends (exit 0), and the copies of the other jobs never run there.  Also
 * after a fork that runs no pthread_atfork handler: the child's read
 * waited on the parent's ring and hung under `uring` (`_Fork`). */
static void fork_child_has_forker_only(int kind)
{
	net(6);
	t_load_api();
	pipe(fork_pipe);
	pipe(fork_go);
	fork_kind = kind;
	fork_parent = getpid();
	t_spawn(j_fork, 0);
	t_spawn(j_fork, 1);
	t_finish();
	child_line(fork_pipe[0]);
}

static void c12_fork_child_has_forker_only(void) { fork_child_has_forker_only(0); }
static void c12__Fork_child_has_forker_only(void) { fork_child_has_forker_only(1); }
static void c12_raw_fork_child_has_forker_only(void) { fork_child_has_forker_only(2); }

static void j_stat(int i)
{
	struct stat st;
	for (int n = 0; n < 10; n++)
		stat("/", &st);
	usleep(1000);
	t_jout(i, "stat done\n");
}

static void *late_line(void *arg)
{
	(void)arg;
	t_msleep(50);
	t_out("last thread done\n");
	return NULL;
}

/* After jobs whose calls went to the worker pool, the main thread ends
 * with pthread_exit while another thread works: the process ends with
 * status 0 when that thread returns (the idle workers kept it alive,
 * every signal blocked, until the alarm). */
static void c12_main_pthread_exit_after_workers(void)
{
	net(8);
	t_load_api();
	pid_t c = fork();
	if (c == 0) {
		net(4);
		t_spawn(j_stat, 0);
		t_spawn(j_stat, 1);
		t_finish();
		pthread_t th;
		pthread_create(&th, NULL, late_line, NULL);
		pthread_exit(NULL);
	}
	int st;
	waitpid(c, &st, 0);
	t_out("child: %s\n", WIFEXITED(st) ? (WEXITSTATUS(st) ? "exit !0" : "exit 0") :
	      WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? "lived on (SIGALRM)" : "killed");
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one.  T_BACKEND: the coroutine really waits in a hooked
 * call. */
/* A fork while a coroutine's call waits, from another thread: the child
 * has none of what only that wait holds, as the kernel's child has not.
 * The pipe's reader, closed by the program while a read waited on it,
 * was kept by the child (a copy the close made), and the writer's EPIPE
 * after the read ended did not come; an accept's taken number was the
 * child's fd (it is free in the kernel's child: its open gets it). */
static int fk_pipe[2], fk_n;
static struct sockaddr_storage fk_a;
static socklen_t fk_al;

static void close_fork_feed(void *arg)
{
	pid_t *child = arg;
	close(fk_pipe[0]);
	if ((*child = fork()) == 0) {
		t_msleep(300);
		_exit(0);
	}
	write(fk_pipe[1], "late", 4);
}

static void c12_fork_child_lacks_a_waits_closed_file(void)
{
	char b[8];
	pid_t child = -1;
	signal(SIGPIPE, SIG_IGN);
	pipe(fk_pipe);
	pthread_t th = t_later(close_fork_feed, &child, 50);
	t_show("read", b, read(fk_pipe[0], b, sizeof b));
	pthread_join(th, NULL);
	t_res("write-after", write(fk_pipe[1], "x", 1));
	waitpid(child, NULL, 0);
}

static void fork_during_accept(void *arg)
{
	(void)arg;
	int st = -1;
	pid_t p = fork();
	if (p == 0)
		_exit(open("/dev/null", O_RDONLY) == fk_n ? 0 : 1);
	waitpid(p, &st, 0);
	t_out("child-open-at-taken=%s\n", t_yes(WIFEXITED(st) && WEXITSTATUS(st) == 0));
	int c = socket(fk_a.ss_family, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&fk_a, fk_al);
	close(c);
}

static void c12_fork_child_has_accepts_number_free(void)
{
	alarm(5);
	int l = t_bound(AF_INET, SOCK_STREAM, 4, &fk_a, &fk_al);
	fk_n = dup(0);
	close(fk_n);
	pthread_t th = t_later(fork_during_accept, NULL, 50);
	int a = accept(l, NULL, NULL);
	pthread_join(th, NULL);
	t_out("accepted-at-taken=%s\n", t_yes(a == fk_n));
}

/* execl with 70 000 arguments: glibc takes any count below INT_MAX and
 * leaves the size to the kernel (the shim said E2BIG past 65 536), on
 * whatever stack the call runs (a coroutine's is smaller than a
 * thread's). */
#define A10 "a", "a", "a", "a", "a", "a", "a", "a", "a", "a"
#define A100 A10, A10, A10, A10, A10, A10, A10, A10, A10, A10
#define A1000 A100, A100, A100, A100, A100, A100, A100, A100, A100, A100
#define A10000 A1000, A1000, A1000, A1000, A1000, A1000, A1000, A1000, A1000, A1000
/* (compiled without optimisation: at -O2 such a call takes GCC minutes) */
__attribute__((optimize("O0"))) static void execl_70000(void)
{
	execl("/bin/sh", "sh", "-c", "echo arguments: $#", "x", A10000, A10000, A10000, A10000, A10000,
	      A10000, A10000, (char *)NULL);
}

static void c12_execl_70000_arguments(void)
{
	alarm(10);
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execl_70000();
		printf("execl: %s\n", t_errname(errno));
		fflush(stdout);
		_exit(1);
	}
	close(p[1]);
	char buf[128];
	ssize_t n = read(p[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	int st;
	waitpid(pid, &st, 0);
	close(p[0]);
	t_out("%sexit=%d\n", buf, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
#undef A10
#undef A100
#undef A1000
#undef A10000

#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c12_setfsuid_root_only, 0),
	C(c12_setfsgid_group_only, 0),
	C(c12_raw_setresuid_syscall, 0),
	C(c12_capset_drops_dac_override, 0),
	/* Under ThreadSanitizer, its background thread, started with the
	 * first pthread_create, lacks the capabilities too: glibc aborts
	 * there without the shim as well. */
	C(c12_setresgid_after_capset, T_BACKEND | T_NOTSAN),
	C(c12_thread_inherits_fsuid, T_BACKEND | T_OWNCORO),
	C(c12_landlock_thread, 0),
	C(c12_sticky_timeouts_select, 0),
	C(c12_fork_child_has_forker_only, T_OWNCORO),
	/* ThreadSanitizer follows only the forks it intercepts: in these
	 * children it takes the parent's other threads for live ones and
	 * reports the engine's set-up as racing with them. */
	C(c12__Fork_child_has_forker_only, T_OWNCORO | T_NOTSAN),
	C(c12_raw_fork_child_has_forker_only, T_OWNCORO | T_NOTSAN),
	C(c12_thread_inherits_sticky_timeouts, T_OWNCORO),
	C(c12_main_pthread_exit_after_workers, T_OWNCORO),
	C(c12_fork_child_lacks_a_waits_closed_file, T_BACKEND),
	C(c12_fork_child_has_accepts_number_free, T_BACKEND),
	C(c12_execl_70000_arguments, T_NOCORO), /* its own frame outgrows a coroutine's stack */
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "exact-process", 150);
}
