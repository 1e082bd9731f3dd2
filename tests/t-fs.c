/* Test helpers for the file programs (check-fs*.c, issue 11): a scratch
 * directory per case, small files, stat lines, a lock held by another
 * process, and a file system mounted in a mount namespace of its own.
 * Declared in t-helpers.h. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "asyncify.h"
#include "t-helpers.h"

extern char **environ;

static char scratch[64];
static pid_t scratch_owner;

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void t_remove_tree(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Only the process that made the directory removes it (a forked child
 * that calls exit() must not take it away from its parent). */
static void remove_scratch(void)
{
	if (scratch[0] && getpid() == scratch_owner)
		t_remove_tree(scratch);
}

const char *t_fs_dir(void)
{
	const char *in = getenv("ASY_T_TMP");
	snprintf(scratch, sizeof scratch, "%s/asy-fs-XXXXXX", in && *in ? in : "/tmp");
	if (!mkdtemp(scratch) || chdir(scratch) < 0) {
		fprintf(stderr, "t_fs_dir: %s\n", strerror(errno));
		exit(3);
	}
	scratch_owner = getpid();
	atexit(remove_scratch);
	return scratch;
}

long t_pos(int fd)
{
	return (long)lseek(fd, 0, SEEK_CUR);
}

int t_abc_file(const char *name, size_t n, int flags, int evict)
{
	char buf[4096];
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (size_t done = 0; done < n; done += sizeof buf) {
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = (char)('a' + (done + i) % 26);
		if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
			t_out("short write\n");
	}
	if (evict)
		t_evict(fd);
	if (!flags) {
		lseek(fd, 0, SEEK_SET);
		return fd;
	}
	close(fd);
	return open(name, O_RDWR | flags);
}

int t_known_direct_file(void)
{
	static char b[65536] __attribute__((aligned(4096)));
	alarm(10);
	t_fs_dir();
	int fd = t_abc_file("f", 1024 * 1024, O_DIRECT, 0);
	if (fd < 0) {
		t_out("no O_DIRECT here\n");
		return -1;
	}
	int ok = 0;
	for (int i = 0; i < 16; i++)
		ok += pread(fd, b, 65536, (off_t)i * 65536) == 65536;
	t_out("direct reads=%d\n", ok);
	return fd;
}

int t_put(const char *name, const char *data)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t n = strlen(data);
	int ok = fd >= 0 && write(fd, data, n) == (ssize_t)n;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

const char *t_get(const char *name)
{
	static char buf[256];
	int fd = open(name, O_RDONLY);
	if (fd < 0) {
		snprintf(buf, sizeof buf, "(%s)", t_errname(errno));
		return buf;
	}
	long n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

const char *t_fd_get(int fd)
{
	static char buf[256];
	long n = pread(fd, buf, sizeof buf - 1, 0);
	if (n < 0)
		snprintf(buf, sizeof buf, "(%s)", t_errname(errno));
	else
		buf[n] = 0;
	return buf;
}

static const char *type_name(mode_t m)
{
	return S_ISREG(m) ? "reg" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "lnk" : S_ISFIFO(m) ? "fifo" :
	       S_ISSOCK(m) ? "sock" : S_ISCHR(m) ? "chr" : S_ISBLK(m) ? "blk" : "?";
}

void t_stat_res(const char *what, long r, const struct stat *st)
{
	if (r < 0) {
		t_res(what, r);
		return;
	}
	t_out("%s=%ld %s mode=%04o size=%ld nlink=%ld\n", what, r, type_name(st->st_mode),
	      (unsigned)(st->st_mode & 07777), (long)st->st_size, (long)st->st_nlink);
}

const char *t_fdflags(int fd)
{
	static char buf[128];
	int fd_fl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);
	if (fd_fl < 0 || fl < 0) {
		snprintf(buf, sizeof buf, "(%s)", t_errname(errno));
		return buf;
	}
	int acc = fl & O_ACCMODE;
	snprintf(buf, sizeof buf, "cloexec=%d %s%s%s%s%s", (fd_fl & FD_CLOEXEC) != 0,
		 (fl & O_PATH) ? "path" : acc == O_RDONLY ? "rdonly" : acc == O_WRONLY ? "wronly" :
		 "rdwr", fl & O_NONBLOCK ? "|nonblock" : "", fl & O_APPEND ? "|append" : "",
		 fl & O_DIRECT ? "|direct" : "", fl & O_NOATIME ? "|noatime" : "");
	return buf;
}

int t_lowest_free(void)
{
	int fd = dup(0);
	if (fd >= 0)
		close(fd);
	return fd;
}

/* ---- helper processes ------------------------------------------------- */

/* A helper is this program run as `prog --hold KIND PATH` or `prog
 * --mount TYPE OPTS DIR`, with fd 3 (it writes one byte when ready: 'L'
 * or 'M', or an errno value) and fd 4 (a byte or EOF: let go and exit).
 * Spawned, not forked: a case may run inside a coroutine. */
static int hold_lock(int fd, const char *kind)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	size_t n = strlen(kind);
	int nb = n > 3 && !strcmp(kind + n - 3, "-nb");
	if (!strncmp(kind, "flock-sh", 8))
		return flock(fd, LOCK_SH | (nb ? LOCK_NB : 0));
	if (!strncmp(kind, "flock", 5))
		return flock(fd, LOCK_EX | (nb ? LOCK_NB : 0));
	if (!strncmp(kind, "posix", 5))
		return fcntl(fd, nb ? F_SETLK : F_SETLKW, &fl);
	if (!strncmp(kind, "ofd", 3))
		return fcntl(fd, nb ? F_OFD_SETLK : F_OFD_SETLKW, &fl);
	errno = EINVAL;
	return -1;
}

static char helper_ready(char **argv)
{
	if (!strcmp(argv[1], "--hold")) {
		int fd = open(argv[3], O_RDWR);
		return fd >= 0 && hold_lock(fd, argv[2]) == 0 ? 'L' : (char)errno;
	}
	/* --mount: a mount namespace of its own, nothing shared back */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("none", argv[4], argv[2], 0, argv[3]) < 0)
		return (char)errno;
	return 'M';
}

int t_fs_helper_main(int argc, char **argv)
{
	char c;
	if (!((argc == 4 && !strcmp(argv[1], "--hold")) || (argc == 5 && !strcmp(argv[1], "--mount"))))
		return -1;
	c = helper_ready(argv);
	if (write(3, &c, 1) != 1 || read(4, &c, 1) < 0)
		_exit(1);
	_exit(0);
}

static void end_helper(pid_t pid, int *ctl)
{
	int st;
	if (*ctl >= 0)
		close(*ctl);
	*ctl = -1;
	if (pid > 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
}

/* Spawn a helper with argv; its pid, or -1 (errno: what it said). */
static pid_t spawn_helper(char **argv, char ready, int *ctl)
{
	int up[2], down[2], r;
	pid_t pid = -1;
	char c = 0;
	posix_spawn_file_actions_t fa;
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, up[1], 3);
	posix_spawn_file_actions_adddup2(&fa, down[0], 4);
	posix_spawn_file_actions_addclosefrom_np(&fa, 5);
	r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(up[1]);
	close(down[0]);
	*ctl = down[1];
	/* A raw read: the handshake must not count as a hooked call that
	 * waited (cases prove with the engine's counters that theirs did). */
	long n = r ? -1 : syscall(SYS_read, up[0], &c, 1);
	close(up[0]);
	if (n == 1 && c == ready)
		return pid;
	end_helper(r ? -1 : pid, ctl);
	errno = r ? r : n == 1 ? c : ECHILD;
	return -1;
}

int t_hold(struct t_holder *h, const char *kind, const char *path)
{
	char *argv[] = { "holder", "--hold", (char *)kind, (char *)path, NULL };
	h->pid = spawn_helper(argv, 'L', &h->ctl);
	return h->pid < 0 ? -1 : 0;
}

void t_release(struct t_holder *h)
{
	end_helper(h->pid, &h->ctl);
	h->pid = 0;
}

int t_mount(struct t_mount *m, const char *type, const char *opts)
{
	char *argv[] = { "mounter", "--mount", (char *)type, (char *)opts, m->dir, NULL };
	snprintf(m->dir, sizeof m->dir, "/tmp/asy-mnt-XXXXXX");
	if (!mkdtemp(m->dir))
		return -1;
	m->pid = spawn_helper(argv, 'M', &m->ctl);
	if (m->pid < 0) {
		int e = errno;
		rmdir(m->dir);
		errno = e;
		return -1;
	}
	/* The mount is seen through the helper's root. */
	snprintf(m->path, sizeof m->path, "/proc/%d/root%s", (int)m->pid, m->dir);
	return 0;
}

void t_unmount(struct t_mount *m)
{
	end_helper(m->pid, &m->ctl);
	rmdir(m->dir);
}

/* ---- time and the engine's counters (check-fs-coro.c) ------------------ */

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *witness_main(void *arg)
{
	struct t_witness *w = arg;
	struct timespec ts = { w->due / 1000000000, w->due % 1000000000 };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	w->woke = mono_ns();
	return NULL;
}

void t_witness_start(struct t_witness *w, int64_t due)
{
	w->due = due;
	w->woke = 0;
	pthread_create(&w->th, NULL, witness_main, w);
}

int64_t t_witness_end(struct t_witness *w)
{
	pthread_join(w->th, NULL);
	return w->woke;
}

struct asy_stats t_stats(void)
{
	struct asy_stats st = { 0 };
	int (*get)(struct asy_stats *) = (int (*)(struct asy_stats *))dlsym(RTLD_DEFAULT, "asy_stats");
	if (get)
		get(&st);
	return st;
}
