/* asyncify-doctor-probe — what `asyncify --doctor` measures, one process
 * per question.  Not meant to be run by hand; scripts/asyncify-doctor
 * starts it without the shim and under each backend and compares.
 *
 *   asyncify-doctor-probe env DIR...   the kernel and io_uring here, and
 *                                      RWF_NOWAIT/RWF_DONTCACHE in each DIR
 *   asyncify-doctor-probe exact [coro] the exactness cases, one line each
 *   asyncify-doctor-probe sigpipe [coro]  write to a pipe nobody reads,
 *                                      SIGPIPE at its default (must kill)
 *   asyncify-doctor-probe stack        one traced read from a known frame
 *
 * Output: one tab-separated line per fact, "key<TAB>value...".  Lines
 * starting with '@' describe the run (backend, engine counters) and are
 * not compared.  "coro" runs the cases inside a coroutine, with a second
 * coroutine asleep beside it so that the calls really go to the backend
 * (a coroutine alone on its thread makes its calls itself); the asy_*
 * functions come from the preloaded library (dlsym), so the probe links
 * nothing of asyncify and runs without it too.  Exit status 0, or 2 when
 * it could not run at all. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif
#define OP_FUTEX_WAIT 51 /* IORING_OP_FUTEX_WAIT, 6.7 */

static const char *err_name(int e)
{
	switch (e) {
#define E(x) case x: return #x;
	E(EPERM) E(ENOENT) E(EINTR) E(EIO) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES)
	E(EFAULT) E(EBUSY) E(EEXIST) E(EISDIR) E(EINVAL) E(EMFILE) E(ENOSPC)
	E(ESPIPE) E(EROFS) E(EPIPE) E(ENOSYS) E(EOPNOTSUPP) E(ECANCELED)
#undef E
	}
	static char buf[24];
	snprintf(buf, sizeof buf, "errno%d", e);
	return buf;
}

/* ---- env ------------------------------------------------------------------ */

static void print_file_line(const char *key, const char *path)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("%s\tabsent\n", key);
		return;
	}
	if (fgets(buf, sizeof buf, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
	printf("%s\t%s\n", key, buf);
}

static void print_seccomp(void)
{
	char line[256];
	const char *mode = "unknown", *filters = "unknown";
	static char m[32], n[32];
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "Seccomp: %31s", m) == 1)
			mode = m;
		else if (sscanf(line, "Seccomp_filters: %31s", n) == 1)
			filters = n;
	}
	if (f)
		fclose(f);
	printf("seccomp\t%s\t%s\n", mode, filters);
}

static void print_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
		printf("memlock\tunknown\tunknown\n");
		return;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		printf("memlock\tunlimited");
	else
		printf("memlock\t%llu", (unsigned long long)rl.rlim_cur);
	if (rl.rlim_max == RLIM_INFINITY)
		printf("\tunlimited\n");
	else
		printf("\t%llu\n", (unsigned long long)rl.rlim_max);
}

static int nop_round_trip(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	if (!sqe)
		return -EBUSY;
	io_uring_prep_nop(sqe);
	int r;
	do
		r = io_uring_submit_and_wait(ring, 1);
	while (r == -EINTR);
	if (r < 0)
		return r;
	r = io_uring_peek_cqe(ring, &cqe);
	if (r < 0)
		return r;
	r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

static void print_result(const char *key, int r)
{
	printf("%s\t%s\n", key, r < 0 ? err_name(-r) : "ok");
}

/* The steps the engine takes for each thread's ring (backend-uring.c), in
 * its order: setup, registered ring fd, a NOP through io_uring_enter. */
static void probe_uring(void)
{
	struct io_uring ring;
	int r = io_uring_queue_init(8, &ring, 0);
	print_result("uring_setup", r);
	if (r < 0)
		return;
	printf("uring_features\t0x%x\n", ring.features);
	r = io_uring_register_ring_fd(&ring);
	print_result("uring_register_ring_fd", r == 1 ? 0 : r < 0 ? r : -EOPNOTSUPP);
	print_result("uring_enter", nop_round_trip(&ring));
	struct io_uring_probe *p = io_uring_get_probe_ring(&ring);
	printf("uring_futex_op\t%s\n", p && io_uring_opcode_supported(p, OP_FUTEX_WAIT) ? "ok" : "no");
	if (p)
		io_uring_free_probe(p);
	io_uring_queue_exit(&ring);

	r = io_uring_queue_init(8, &ring, IORING_SETUP_SQPOLL);
	print_result("uring_sqpoll", r);
	if (r == 0)
		io_uring_queue_exit(&ring);
}

static const char *fs_name(long type)
{
	switch ((unsigned long)type) {
	case 0xEF53: return "ext4";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x01021994: return "tmpfs";
	case 0x794C7630: return "overlayfs";
	case 0x6969: return "nfs";
	case 0x65735546: return "fuse";
	case 0x2FC12FC1: return "zfs";
	case 0xF2F52010: return "f2fs";
	case 0x858458F6: return "ramfs";
	case 0x01021997: return "9p";
	case 0xCA451A4E: return "bcachefs";
	}
	static char buf[24];
	snprintf(buf, sizeof buf, "0x%lx", (unsigned long)type);
	return buf;
}

/* Which RWF flags a read of a fresh file in dir takes.  The file is
 * removed at once; an unwritable dir says so. */
static void probe_dir(const char *dir)
{
	char path[4096];
	struct statfs sfs;
	const char *type = statfs(dir, &sfs) == 0 ? fs_name(sfs.f_type) : "unknown";
	snprintf(path, sizeof path, "%s/.asyncify-doctor.XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		printf("fs\t%s\t%s\t%s\t%s\n", err_name(errno), err_name(errno), type, dir);
		return;
	}
	unlink(path);
	char buf[64] = "asyncify doctor";
	struct iovec v = { buf, sizeof buf };
	int ok = write(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
	ssize_t a = ok ? preadv2(fd, &v, 1, 0, RWF_NOWAIT) : -1;
	int ea = errno;
	ssize_t b = ok ? preadv2(fd, &v, 1, 0, RWF_DONTCACHE) : -1;
	int eb = errno;
	printf("fs\t%s\t%s\t%s\t%s\n", a >= 0 ? "ok" : err_name(ea), b >= 0 ? "ok" : err_name(eb),
	       type, dir);
	close(fd);
}

static int cmd_env(int argc, char **argv)
{
	struct utsname u;
	printf("kernel\t%s\n", uname(&u) == 0 ? u.release : "unknown");
	printf("machine\t%s\n", uname(&u) == 0 ? u.machine : "unknown");
	print_file_line("io_uring_disabled", "/proc/sys/kernel/io_uring_disabled");
	print_seccomp();
	print_limit();
	probe_uring();
	for (int i = 0; i < argc; i++)
		probe_dir(argv[i]);
	return 0;
}

/* ---- exact ---------------------------------------------------------------- */

static char tmpdir[4096];
static int coro_mode;
static volatile sig_atomic_t handled;

static void on_signal(int sig)
{
	(void)sig;
	handled++;
}

/* "n <count> <bytes>" or "-1 <ERRNO>" for one call's result. */
static void out(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("%s\t", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *res(ssize_t r, const char *buf)
{
	static char s[8][96];
	static int k;
	char *p = s[k++ % 8];
	if (r < 0)
		snprintf(p, 96, "-1/%s", err_name(errno));
	else if (buf)
		snprintf(p, 96, "%zd'%.*s'", r, (int)(r < 40 ? r : 40), buf);
	else
		snprintf(p, 96, "%zd", r);
	return p;
}

static int tmpfile_with(const char *text, int flags)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/f.XXXXXX", tmpdir);
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	int fd2 = open(path, flags, 0600);
	unlink(path);
	close(fd);
	return fd2;
}

static void case_short_reads(void)
{
	char b[64] = "", c[64] = "";
	int p[2];
	if (pipe(p) < 0)
		return;
	(void)!write(p[1], "hello", 5);
	ssize_t r = read(p[0], b, sizeof b);
	out("short-read-pipe", "%s", res(r, b));
	close(p[0]);
	close(p[1]);

	int fd = tmpfile_with("0123456789", O_RDONLY);
	ssize_t r1 = read(fd, b, 4);
	const char *s1 = res(r1, b);
	ssize_t r2 = read(fd, b, sizeof b);
	const char *s2 = res(r2, b);
	ssize_t r3 = read(fd, b, sizeof b);
	out("short-read-eof", "%s %s %s off=%lld", s1, s2, res(r3, NULL),
	    (long long)lseek(fd, 0, SEEK_CUR));

	lseek(fd, 0, SEEK_SET);
	struct iovec v[2] = { { b, 4 }, { c, sizeof c } };
	r = readv(fd, v, 2);
	out("readv-across-eof", "%s '%.4s' '%.6s' off=%lld", res(r, NULL), b, c,
	    (long long)lseek(fd, 0, SEEK_CUR));
	close(fd);
}

static void case_offsets(void)
{
	char b[64] = "";
	int fd = tmpfile_with("0123456789", O_RDWR);
	ssize_t a = pread(fd, b, 4, 3);
	const char *sa = res(a, b);
	ssize_t c = pread(fd, b, sizeof b, 8);
	const char *sc = res(c, b);
	ssize_t d = pread(fd, b, 4, 20);
	const char *sd = res(d, NULL);
	ssize_t e = pread(fd, b, 4, -1);
	out("pread-offsets", "%s %s %s %s off=%lld", sa, sc, sd, res(e, NULL),
	    (long long)lseek(fd, 0, SEEK_CUR));

	struct iovec v = { b, 3 };
	a = preadv2(fd, &v, 1, -1, 0);
	sa = res(a, b);
	c = preadv2(fd, &v, 1, 0, 0x40000000);
	out("preadv2-cur-and-bad-flag", "%s %s off=%lld", sa, res(c, NULL),
	    (long long)lseek(fd, 0, SEEK_CUR));

	a = write(fd, "ab", 2);
	c = pwrite(fd, "XY", 2, 0);
	out("write-offsets", "%s %s off=%lld", res(a, NULL), res(c, NULL),
	    (long long)lseek(fd, 0, SEEK_CUR));
	close(fd);

	fd = tmpfile_with("0123", O_RDWR | O_APPEND);
	a = write(fd, "ab", 2);
	c = pwrite(fd, "cd", 2, 0);
	d = pread(fd, b, sizeof b, 0);
	out("append", "%s %s %s off=%lld", res(a, NULL), res(c, NULL), res(d, b),
	    (long long)lseek(fd, 0, SEEK_CUR));
	close(fd);
}

static void case_errors(void)
{
	char b[16];
	int p[2];
	if (pipe(p) < 0)
		return;
	ssize_t a = pread(p[0], b, 1, 0);
	const char *sa = res(a, NULL);
	ssize_t c = pwrite(p[1], "x", 1, 0);
	const char *sc = res(c, NULL);
	int d = fsync(p[1]);
	out("pipe-espipe-fsync", "%s %s %s", sa, sc, res(d, NULL));
	close(p[0]);
	close(p[1]);

	a = read(-1, b, 1);
	sa = res(a, NULL);
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	c = read(dfd, b, 1);
	close(dfd);
	int fd = tmpfile_with("0123456789", O_RDONLY);
	d = write(fd, "x", 1);
	const char *sd = res(d, NULL);
	void *volatile bad = (void *)16; /* an address no program maps */
	ssize_t e = read(fd, bad, 4);
	out("errors", "%s %s %s %s fdatasync=%s", sa, res(c, NULL), sd, res(e, NULL),
	    res(fdatasync(fd), NULL));
	close(fd);
}

struct late {
	pthread_t target;
	int fd;
};

/* Signal the reader after 20 ms, give it data after 60 ms. */
static void *late_writer(void *arg)
{
	struct late *l = arg;
	struct timespec ts = { 0, 20000000 };
	nanosleep(&ts, NULL);
	pthread_kill(l->target, SIGUSR1);
	ts.tv_nsec = 40000000;
	nanosleep(&ts, NULL);
	(void)!write(l->fd, "abc", 3);
	return NULL;
}

/* A read from an empty pipe, interrupted by a handler with or without
 * SA_RESTART; the data comes after the signal. */
static void case_signal(const char *name, int flags)
{
	char b[16] = "";
	int p[2];
	if (pipe(p) < 0)
		return;
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = flags }, old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	handled = 0;
	struct late l = { pthread_self(), p[1] };
	pthread_t t;
	int e = pthread_create(&t, NULL, late_writer, &l);
	if (e) {
		out(name, "cannot start a thread: %s", err_name(e));
	} else {
		ssize_t r = read(p[0], b, sizeof b);
		const char *s = res(r, b);
		pthread_join(t, NULL);
		out(name, "%s handler=%d", s, (int)handled);
	}
	sigaction(SIGUSR1, &old, NULL);
	close(p[0]);
	close(p[1]);
}

/* SIGPIPE ignored, then caught: EPIPE either way, the handler once. */
static void case_sigpipe(void)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	ssize_t a = write(p[1], "x", 1);
	const char *sa = res(a, NULL);
	struct sigaction act = { .sa_handler = on_signal }, old;
	sigemptyset(&act.sa_mask);
	sigaction(SIGPIPE, &act, &old);
	handled = 0;
	ssize_t c = write(p[1], "x", 1);
	out("sigpipe-ignored-caught", "%s %s handler=%d", sa, res(c, NULL), (int)handled);
	sigaction(SIGPIPE, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
}

static void run_cases(void)
{
	case_short_reads();
	case_offsets();
	case_errors();
	case_sigpipe();
	case_signal("signal-sa-restart", SA_RESTART);
	if (coro_mode)
		printf("skip\tsignal-eintr\tinside coroutines a handler does not interrupt the call "
		       "(README: Known blind spots)\n");
	else
		case_signal("signal-eintr", 0);
}

/* The asy_* API of the preloaded library. */
struct asy_stats_v {
	unsigned long inline_done, submitted, uring, threads, interrupted, passed, fallbacks;
};
static struct {
	int (*go)(void (*)(void *), void *);
	int (*run)(void);
	int (*sleep)(int64_t);
	int (*cancel)(int);
	int64_t (*now)(void);
	int (*stats)(struct asy_stats_v *);
	const char *(*backend)(void);
} asy;

static int load_asy(void)
{
#define SYM(f, n) (*(void **)&asy.f = dlsym(RTLD_DEFAULT, n))
	return SYM(go, "asy_go") && SYM(run, "asy_run") && SYM(sleep, "asy_sleep") &&
	       SYM(cancel, "asy_cancel") && SYM(now, "asy_now") && SYM(stats, "asy_stats") &&
	       SYM(backend, "asy_backend_name");
#undef SYM
}

static void companion(void *arg)
{
	(void)arg;
	asy.sleep(asy.now() + 30 * 1000000000LL);
}

static void cases_coro(void *arg)
{
	int *companion_h = arg;
	run_cases();
	fflush(stdout);
	asy.cancel(*companion_h);
}

static void sigpipe_write(void *arg)
{
	(void)arg;
	int p[2];
	if (pipe(p) < 0)
		return;
	close(p[0]);
	ssize_t r = write(p[1], "x", 1);
	printf("sigpipe-default\tsurvived %s\n", res(r, NULL));
}

static void sigpipe_coro(void *arg)
{
	sigpipe_write(NULL);
	asy.cancel(*(int *)arg);
}

static int run_in_coroutine(void (*fn)(void *))
{
	static int h;
	h = asy.go(companion, NULL);
	if (h < 0 || asy.go(fn, &h) < 0 || asy.run() < 0) {
		printf("error\tcoroutines: %s\n", strerror(errno));
		return 2;
	}
	return 0;
}

static void print_engine(void)
{
	struct asy_stats_v st;
	if (!load_asy()) {
		printf("@backend\tnone\n");
		return;
	}
	asy.stats(&st);
	printf("@backend\t%s\n", asy.backend());
	const char *(*version)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "asy_version");
	printf("@version\t%s\n", version ? version() : "?");
	printf("@ops\t%lu\t%lu\t%lu\t%lu\t%lu\n", st.submitted, st.uring, st.threads,
	       st.inline_done, st.fallbacks);
}

static int cmd_exact(int argc, char **argv, int sigpipe)
{
	coro_mode = argc > 0 && !strcmp(argv[0], "coro");
	if (coro_mode && !load_asy()) {
		printf("error\tcoro: no asyncify library in this process (asy_go not found)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sigpipe) { /* killed on the way: nothing on disk */
		int rc = coro_mode ? run_in_coroutine(sigpipe_coro) : (sigpipe_write(NULL), 0);
		print_engine();
		return rc;
	}
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/asyncify-doctor.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("error\tcannot make a directory in %s: %s\n", t && *t ? t : "/tmp",
		       strerror(errno));
		return 2;
	}
	int rc = 0;
	if (coro_mode)
		rc = run_in_coroutine(cases_coro);
	else
		run_cases();
	rmdir(tmpdir);
	print_engine();
	return rc;
}

/* ---- stack ---------------------------------------------------------------- */

__attribute__((noinline)) int asyncify_doctor_marker(int fd)
{
	char b[8];
	int r = (int)read(fd, b, sizeof b);
	__asm__ volatile("" ::: "memory"); /* keep the frame: no tail call */
	return r;
}

static int cmd_stack(void)
{
	int p[2];
	if (pipe(p) < 0 || write(p[1], "x", 1) != 1)
		return 2;
	return asyncify_doctor_marker(p[0]) == 1 ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "env"))
		return cmd_env(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "exact"))
		return cmd_exact(argc - 2, argv + 2, 0);
	if (argc >= 2 && !strcmp(argv[1], "sigpipe"))
		return cmd_exact(argc - 2, argv + 2, 1);
	if (argc >= 2 && !strcmp(argv[1], "stack"))
		return cmd_stack();
	fprintf(stderr, "usage: asyncify-doctor-probe env DIR... | exact [coro] | sigpipe [coro] | stack\n");
	return 2;
}
