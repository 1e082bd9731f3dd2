/* Test helpers: see t-helpers.h. */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <liburing.h>

#include "asyncify.h"
#include "t-helpers.h"

const char *const t_variant_name[T_NVARIANTS] = {
	"none", "off", "uring", "threads", "uring-coro", "threads-coro",
};
/* ASYNCIFY_BACKEND for each variant (none: unset). */
static const char *const backend_name[T_NVARIANTS] = {
	NULL, "off", "uring", "threads", "uring", "threads",
};

int t_variant_coro(enum t_variant v)
{
	return v == T_URING_CORO || v == T_THREADS_CORO;
}

static void print_stats(void)
{
	int (*stats)(struct asy_stats *) =
		(int (*)(struct asy_stats *))dlsym(RTLD_DEFAULT, "asy_stats");
	struct asy_stats st;
	if (!stats || stats(&st) < 0)
		return;
	printf("#stats submitted=%lu uring=%lu threads=%lu inline=%lu interrupted=%lu\n",
	       st.submitted, st.uring, st.threads, st.inline_done, st.interrupted);
}

static volatile int coro_case_done;

static void coro_main(void *arg)
{
	((const struct t_case *)arg)->fn();
	coro_case_done = 1;
}

/* While the case's coroutine runs, a second one wakes every millisecond:
 * the case's coroutine is then never alone on its thread, so its calls
 * that wait go through the engine (a lone coroutine's file calls are the
 * program's own, as on a plain thread). */
static int (*coro_sleep)(int64_t);
static int64_t (*coro_now)(void);

static _Atomic int64_t ticker_quiet_until;

static void ticker_main(void *arg)
{
	(void)arg;
	while (!coro_case_done) {
		int64_t next = coro_now() + 1000000, quiet = ticker_quiet_until;
		coro_sleep(quiet > next ? quiet : next);
	}
}

void t_ticker_quiet(int ms)
{
	if (coro_now)
		ticker_quiet_until = coro_now() + ms * 1000000LL;
}

/* Under a coro variant (ASY_T_CORO=1, the library loaded): run c in a
 * coroutine of this thread, next to the ticker, and return 1; otherwise
 * 0.  The API is looked up so that the program runs unchanged without the
 * library. */
static int run_in_coro(const struct t_case *c)
{
	const char *on = getenv("ASY_T_CORO");
	if (!on || strcmp(on, "1"))
		return 0;
	unsetenv("ASY_T_CORO");
	int (*go)(void (*)(void *), void *) =
		(int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	int (*run)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	coro_sleep = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_sleep");
	coro_now = (int64_t(*)(void))dlsym(RTLD_DEFAULT, "asy_now");
	if (!go || !run || !coro_sleep || !coro_now)
		return 0;
	if (go(coro_main, (void *)c) < 0 || go(ticker_main, NULL) < 0 || run() < 0) {
		fprintf(stderr, "case %s: no coroutine: %s\n", c->name, strerror(errno));
		exit(3);
	}
	return 1;
}

int t_case_main(int argc, char **argv, const struct t_case *cases)
{
	if (argc < 3 || strcmp(argv[1], "--case"))
		return -1;
	setvbuf(stdout, NULL, _IONBF, 0);
	for (const struct t_case *c = cases; c->name; c++) {
		if (!strcmp(c->name, argv[2])) {
			if (!run_in_coro(c))
				c->fn();
			print_stats();
			exit(0);
		}
	}
	fprintf(stderr, "no case %s\n", argv[2]);
	exit(2);
}

static size_t drain(int fd, char *buf, size_t cap, size_t have)
{
	ssize_t n = read(fd, buf + have, cap - 1 - have);
	return n > 0 ? have + (size_t)n : have;
}

/* Keep stdout lines not starting with '#'; parse '#stats'. */
static void split_stats(struct t_result *r, const char *raw)
{
	char *o = r->out;
	for (const char *p = raw; *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
		if (*p == '#') {
			if (sscanf(p, "#stats submitted=%ld uring=%ld threads=%ld inline=%ld interrupted=%ld",
				   &r->submitted, &r->uring, &r->threads, &r->inline_done,
				   &r->interrupted) == 5)
				r->have_stats = 1;
		} else if ((size_t)(o - r->out) + len < sizeof r->out) {
			memcpy(o, p, len);
			o += len;
		}
		p += len;
	}
	*o = 0;
}

static void child_exec(const char *name, enum t_variant v, int out, int err, const char *tmp)
{
	const char *lib = getenv("ASY_LIB"), *pre = getenv("ASY_PRELOAD_FIRST");
	char preload[4096];
	dup2(out, 1);
	dup2(err, 2);
	unsetenv("LD_PRELOAD");
	unsetenv("ASYNCIFY_BACKEND");
	unsetenv("ASY_T_CORO");
	if (tmp)
		setenv("ASY_T_TMP", tmp, 1);
	if (v != T_NONE) {
		snprintf(preload, sizeof preload, "%s%s%s", pre && *pre ? pre : "",
			 pre && *pre ? " " : "", lib ? lib : "lib/libasyncify.so");
		setenv("LD_PRELOAD", preload, 1);
		setenv("ASYNCIFY_BACKEND", backend_name[v], 1);
	}
	if (t_variant_coro(v))
		setenv("ASY_T_CORO", "1", 1);
	/* Under ASan the case processes skip LeakSanitizer (cases that fill
	 * the fd table leave it no fd to read /proc with at exit; the library
	 * allocates with mmap, which it does not track anyway) and the
	 * alternate signal stack (its removal at the exit of a cancelled
	 * thread is reported as a stack-buffer-underflow). */
	const char *san = getenv("ASY_SANITIZE"), *supp = getenv("ASY_TSAN_SUPP");
	if (san && !strcmp(san, "thread") && supp) {
		char opts[1024];
		const char *old = getenv("TSAN_OPTIONS");
		snprintf(opts, sizeof opts, "%s%ssuppressions=%s", old ? old : "",
			 old && *old ? ":" : "", supp);
		setenv("TSAN_OPTIONS", opts, 1);
	}
	if (san && !strcmp(san, "address")) {
		char opts[512];
		const char *old = getenv("ASAN_OPTIONS");
		snprintf(opts, sizeof opts, "%s%sdetect_leaks=0:use_sigaltstack=0", old ? old : "",
			 old && *old ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
	}
	execl("/proc/self/exe", "case", "--case", name, (char *)NULL);
	_exit(127);
}

/* Time limits stretch under ThreadSanitizer, whose runtime makes every
 * case slower; a case that moves gigabytes (13 to 60 s a run) is left out
 * there by its T_NOTSAN. */
static int under_tsan(void)
{
	const char *san = getenv("ASY_SANITIZE");
	return san && !strcmp(san, "thread");
}

static int time_scale(void)
{
	return under_tsan() ? 3 : 1;
}

int t_run(const char *name, enum t_variant v, struct t_result *r, int timeout_s)
{
	int po[2], pe[2];
	timeout_s *= time_scale();
	memset(r, 0, sizeof *r);
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return -1;
	/* The case's scratch files go in a directory of this run, removed
	 * here whatever way the case ended (a case that dies of a signal, as
	 * plain glibc's does, never runs its atexit clean-up). */
	char tmp[] = "/tmp/asy-case-XXXXXX";
	const char *have_tmp = mkdtemp(tmp);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		child_exec(name, v, po[1], pe[1], have_tmp);
	close(po[1]);
	close(pe[1]);
	static char raw[sizeof r->out * 2];
	size_t no = 0, ne = 0;
	struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
	int open_fds = 2;
	time_t end = time(NULL) + timeout_s;
	while (open_fds > 0 && time(NULL) <= end) {
		if (poll(p, 2, 200) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			size_t before = i ? ne : no;
			size_t after = i ? drain(pe[0], r->err, sizeof r->err, ne) :
					   drain(po[0], raw, sizeof raw, no);
			if (after == before) {
				p[i].fd = -1;
				open_fds--;
			}
			*(i ? &ne : &no) = after;
		}
	}
	if (open_fds > 0)
		kill(pid, SIGKILL);
	raw[no] = 0;
	r->err[ne] = 0;
	waitpid(pid, &r->status, 0);
	close(po[0]);
	close(pe[0]);
	if (have_tmp)
		t_remove_tree(tmp);
	split_stats(r, raw);
	if (open_fds > 0)
		snprintf(r->err + ne, sizeof r->err - ne, "[timed out after %d s]", timeout_s);
	return 0;
}

static void describe(char *buf, size_t n, int status)
{
	if (WIFEXITED(status))
		snprintf(buf, n, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, n, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, n, "status %#x", status);
}

/* Where the calls of b (under v) went, against the rule for v (see
 * T_BACKEND); writes what is wrong to msg and returns its length. */
static size_t mechanism(const struct t_case *c, enum t_variant v, const struct t_result *b,
			char *msg, size_t cap)
{
	const char *vn = t_variant_name[v];
	/* Under uring a coroutine's call at the file position runs on the
	 * pool (the kernel's position lock): any backend counts there. */
	long via = v == T_URING ? b->submitted : b->threads;
	int must = (c->flags & T_BACKEND) != 0, n = 0;
	if (v == T_NONE)
		return 0;
	if (v == T_OFF)
		n = b->submitted ? snprintf(msg, cap, "%s under off: %ld calls submitted\n", c->name,
					    b->submitted) : 0;
	else if (c->flags & T_OWNCORO)
		n = must && via <= 0 ? snprintf(msg, cap, "%s under %s: nothing went through the "
						"backend (%ld submitted)\n", c->name, vn,
						b->submitted) : 0;
	else if (!t_variant_coro(v))
		n = b->submitted ? snprintf(msg, cap, "%s under %s: %ld calls were handed to a "
					    "backend outside coroutines\n", c->name, vn,
					    b->submitted) : 0;
	else
		n = must && b->submitted <= 0 ? snprintf(msg, cap, "%s under %s: no call was "
							 "handed to a backend inside the coroutine\n",
							 c->name, vn) : 0;
	return n > 0 ? (size_t)n : 0;
}

/* The line number where x and y first differ, and in *xs and *ys where
 * that line starts in each. */
static int first_difference(const char *x, const char *y, const char **xs, const char **ys)
{
	int line = 1;
	*xs = x;
	*ys = y;
	for (; *x && *x == *y; x++, y++)
		if (*x == '\n') {
			line++;
			*xs = x + 1;
			*ys = y + 1;
		}
	return line;
}

/* At most 8 lines of s, at most cap - 1 bytes, into buf. */
static const char *excerpt(char *buf, size_t cap, const char *s)
{
	size_t n = 0;
	for (int lines = 0; s[n] && lines < 8 && n + 1 < cap; n++)
		lines += s[n] == '\n';
	memcpy(buf, s, n);
	buf[n] = 0;
	return buf;
}

/* Compare b (under v) with the reference a; append what differs to msg.
 * (Check carries at most 8 KiB of message: only excerpts go in.) */
static void diff(const struct t_case *c, enum t_variant v, const struct t_result *a,
		 const struct t_result *b, char *msg, size_t cap)
{
	char sa[32], sb[32], xa[600], xb[600];
	size_t n = strlen(msg);
	const char *vn = t_variant_name[v], *da, *db;
	int line = first_difference(a->out, b->out, &da, &db);
	describe(sa, sizeof sa, a->status);
	describe(sb, sizeof sb, b->status);
	if (strcmp(a->out, b->out))
		snprintf(msg + n, cap - n, "%s under %s: output differs from line %d\n--- none:\n%s"
			 "--- %s:\n%s---\n%.300s\n", c->name, vn, line, excerpt(xa, sizeof xa, da), vn,
			 excerpt(xb, sizeof xb, db), b->err);
	else if (a->status != b->status)
		snprintf(msg + n, cap - n, "%s under %s: %s, without shim %s\n%.300s\n", c->name, vn, sb,
			 sa, b->err);
	else if (strcmp(a->err, b->err) && ((c->flags & T_STDERR) || *b->err))
		snprintf(msg + n, cap - n, "%s under %s: stderr differs:\n%.300s\n---\n%.300s\n", c->name,
			 vn, a->err, b->err);
	else
		mechanism(c, v, b, msg + n, cap - n);
}

void t_compare_all(const struct t_case *c, const enum t_variant *vs, int nv)
{
	static struct t_result a, b;
	static char msg[65536];
	msg[0] = 0;
	ck_assert_int_eq(t_run(c->name, T_NONE, &a, 20), 0);
	for (int i = 0; i < nv; i++) {
		if (t_variant_coro(vs[i]) && (c->flags & (T_NOCORO | T_OWNCORO)))
			continue;
		ck_assert_int_eq(t_run(c->name, vs[i], &b, 20), 0);
		diff(c, vs[i], &a, &b, msg, sizeof msg);
	}
	ck_assert_msg(!msg[0], "%.7000s", msg);
}

void t_compare(const struct t_case *c, enum t_variant v)
{
	t_compare_all(c, &v, 1);
}

static const struct t_case *suite_cases;
static enum t_variant suite_variants[T_NVARIANTS];
static int suite_nvariants;

START_TEST(t_case_test)
{
	t_compare_all(&suite_cases[_i], suite_variants, suite_nvariants);
}
END_TEST

/* One Check test per case of `cases`, each compared under suite_variants
 * (T_NOTSAN cases left out under ThreadSanitizer, each by name). */
static int run_cases(const struct t_case *cases, const char *suite, int timeout_s)
{
	int ncases = 0;
	while (cases[ncases].name)
		ncases++;
	if (under_tsan()) {
		struct t_case *kept = calloc(ncases + 1, sizeof *kept);
		int k = 0;
		for (int i = 0; i < ncases; i++)
			if (cases[i].flags & T_NOTSAN)
				printf("check-%s: %s not run under TSan\n", suite, cases[i].name);
			else
				kept[k++] = cases[i];
		cases = kept;
		ncases = k;
	}
	suite_cases = cases;
	Suite *s = suite_create(suite);
	TCase *tc = tcase_create("cases");
	tcase_set_timeout(tc, timeout_s * time_scale());
	tcase_add_loop_test(tc, t_case_test, 0, ncases);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}

int t_cases_main(int argc, char **argv, const struct t_case *cases, const char *suite,
		 int timeout_s)
{
	if (t_case_main(argc, argv, cases) >= 0)
		return 0;
	int uring = t_uring_works();
	if (!uring)
		printf("check-%s: io_uring is not available here; uring variants skipped "
		       "(the uring backend falls back to threads, tested under threads)\n", suite);
	suite_variants[suite_nvariants++] = T_OFF;
	if (uring)
		suite_variants[suite_nvariants++] = T_URING;
	suite_variants[suite_nvariants++] = T_THREADS;
	if (uring)
		suite_variants[suite_nvariants++] = T_URING_CORO;
	suite_variants[suite_nvariants++] = T_THREADS_CORO;
	return run_cases(cases, suite, timeout_s);
}

int t_jobs_main(int argc, char **argv, const struct t_case *cases, const char *suite,
		int timeout_s)
{
	char prog[64];
	t_load_api();
	if (t_case_main(argc, argv, cases) >= 0)
		return 0;
	snprintf(prog, sizeof prog, "check-%s", suite);
	suite_nvariants = t_engine_variants(suite_variants, prog);
	return run_cases(cases, suite, timeout_s);
}

int t_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

int t_uring_works(void)
{
	struct io_uring ring;
	if (io_uring_queue_init(4, &ring, 0) < 0)
		return 0;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	int ok = io_uring_submit(&ring) == 1;
	io_uring_queue_exit(&ring);
	return ok;
}

int t_engine_variants(enum t_variant v[2], const char *prog)
{
	int n = 0;
	if (t_uring_works())
		v[n++] = T_URING;
	else
		printf("%s: io_uring is not available here; uring runs skipped\n", prog);
	v[n++] = T_THREADS;
	return n;
}

void t_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

const char *t_errname(int e)
{
	static char buf[16];
	static const struct { int e; const char *n; } names[] = {
		{ EAGAIN, "EAGAIN" }, { EBADF, "EBADF" }, { EFAULT, "EFAULT" }, { EINTR, "EINTR" },
		{ EINVAL, "EINVAL" }, { EISDIR, "EISDIR" }, { ESPIPE, "ESPIPE" }, { EPIPE, "EPIPE" },
		{ ENOSPC, "ENOSPC" }, { EIO, "EIO" }, { ECANCELED, "ECANCELED" },
		{ ETIMEDOUT, "ETIMEDOUT" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { ENOENT, "ENOENT" },
		{ EPERM, "EPERM" }, { EDEADLK, "EDEADLK" }, { EBUSY, "EBUSY" },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].e == e)
			return names[i].n;
	if (strerrorname_np(e))
		return strerrorname_np(e);
	snprintf(buf, sizeof buf, "E#%d", e);
	return buf;
}

void t_res(const char *what, long r)
{
	if (r < 0)
		t_out("%s=-1 %s\n", what, t_errname(errno));
	else
		t_out("%s=%ld\n", what, r);
}

void t_msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

pid_t t_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* 1 when thread tid is asleep in the kernel ('S' in its stat). */
static int asleep(pid_t tid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	int fd = open(path, O_RDONLY);
	long n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

void t_wait_blocked(pid_t tid)
{
	int streak = 0;
	for (int i = 0; i < 5000 && streak < 10; i++) {
		streak = asleep(tid) ? streak + 1 : 0;
		t_msleep(2);
	}
}

void t_evict(int fd)
{
	/* Pages written moments ago may still sit in another CPU's LRU
	 * batch, where POSIX_FADV_DONTNEED does not reach them: mincore()
	 * says what is still resident, and the drop is made again for up to
	 * a second (a cold case then found the file cached, under load). */
	struct stat st;
	fdatasync(fd);
	void *m = MAP_FAILED;
	size_t len = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
	unsigned char *in = len ? malloc((len + 4095) / 4096) : NULL;
	if (in)
		m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	for (int k = 0; k < 100; k++) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		size_t left = 0;
		if (m == MAP_FAILED || mincore(m, len, in) < 0)
			break;
		for (size_t i = 0; i < (len + 4095) / 4096; i++)
			left += in[i] & 1;
		if (!left)
			break;
		usleep(10000);
		fdatasync(fd);
	}
	if (m != MAP_FAILED)
		munmap(m, len);
	free(in);
}

int t_kill_child(pid_t pid)
{
	int st = -1;
	if (pid <= 0)
		return -1;
	kill(pid, SIGKILL);
	pid_t r;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	return r == pid ? st : -1;
}

const char *t_tmpfile(size_t n, int evict)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/asy-t-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	char buf[4096];
	for (size_t done = 0; done < n;) {
		size_t k = n - done < sizeof buf ? n - done : sizeof buf;
		for (size_t i = 0; i < k; i++)
			buf[i] = (char)((done + i) * 131 + ((done + i) >> 12));
		if (write(fd, buf, k) != (ssize_t)k)
			break;
		done += k;
	}
	if (evict)
		t_evict(fd);
	close(fd);
	return path;
}
