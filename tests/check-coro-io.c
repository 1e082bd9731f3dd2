/* Hooked calls inside coroutines.
 *
 * The same jobs run as coroutines on one thread under the shim (uring,
 * threads) and as plain threads without it: a coroutine must behave like a
 * thread that owns its call — same bytes, counts, errno, offsets — while
 * several of them wait at once.  The API is looked up with dlsym, so the
 * program runs unchanged without the library.  Then the cases only the
 * engine can answer: I/O deadlines, cancel, a busy coroutine's fair
 * share, and proof of overlap. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t-helpers.h"

/* ---- jobs ----------------------------------------------------------- */

static int pp[2][2];

/* Two jobs play ping-pong over two pipes: each read waits for the other. */
static void j_ping(int i)
{
	char b[8];
	long ok = 0;
	for (int r = 0; r < 200; r++) {
		if (i == 0) {
			write(pp[0][1], "ping", 4);
			ok += read(pp[1][0], b, sizeof b) == 4;
		} else {
			ok += read(pp[0][0], b, sizeof b) == 4;
			write(pp[1][1], "pong", 4);
		}
	}
	t_jout(i, "rounds=%ld\n", ok);
}

static void c_pingpong(void)
{
	pipe(pp[0]);
	pipe(pp[1]);
	t_spawn(j_ping, 0);
	t_spawn(j_ping, 1);
	t_finish();
}

static int cold_fd;

static unsigned long sum(const unsigned char *b, long n)
{
	unsigned long s = 0;
	for (long k = 0; k < n; k++)
		s = s * 31 + b[k];
	return s;
}

/* Many jobs pread scattered blocks of one file that is not cached. */
static void j_pread(int i)
{
	unsigned char b[4096];
	unsigned long s = 0;
	for (int k = 0; k < 8; k++) {
		long off = (long)((i * 37 + k * 101) % 2048) * 4096;
		long n = pread(cold_fd, b, sizeof b, off);
		s = s * 7 + (n == 4096 ? sum(b, n) : (unsigned long)n);
	}
	int e = errno;
	t_jout(i, "sum=%lx errno-kept=%d\n", s, e == 1000 + i);
}

static void j_pread_errno(int i)
{
	errno = 1000 + i; /* must survive every switch untouched */
	j_pread(i);
}

/* A cold case's misses must not depend on the kernel's readahead window:
 * a read that misses starts readahead of its neighbours, and their reads
 * then find them cached and never wait, so the case would show nothing
 * about the calls that do.  Without readahead each page's first read
 * misses. */
static void cold_random(int fd)
{
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
}

static void c_cold_preads(void)
{
	const char *path = t_tmpfile(8 << 20, 1);
	cold_fd = open(path, O_RDONLY);
	unlink(path);
	cold_random(cold_fd);
	for (int i = 0; i < 32; i++)
		t_spawn(j_pread_errno, i);
	t_finish();
}

/* One job reads a file whose pages were dropped, while the other sleeps
 * (so the reader is never alone on its thread).  After its first miss the
 * fd is known cold: later reads ask the page cache first and skip the
 * try.  The counts at EOF, the file position, a vector across EOF and the
 * bytes must be the plain call's; the number, closed and reused for a
 * pipe and then for another file, must read those. */
static _Atomic int cold_done; /* threads without the shim: read by the other job */

static void j_cold_again(int i)
{
	static unsigned char b[100000];
	if (i == 1) {
		while (!cold_done)
			usleep(1000);
		t_jout(i, "slept\n");
		return;
	}
	unsigned long s = 0;
	long n, reads = 0, total = 0;
	while ((n = read(cold_fd, b, sizeof b)) > 0) {
		s = s * 7 + sum(b, n);
		total += n;
		reads++;
	}
	long pos = lseek(cold_fd, 0, SEEK_CUR);
	posix_fadvise(cold_fd, 0, 0, POSIX_FADV_DONTNEED);
	long tail = pread(cold_fd, b, sizeof b, (4 << 20) - 5000);
	unsigned long ts = tail > 0 ? sum(b, tail) : 0;
	long past = pread(cold_fd, b, sizeof b, (4 << 20) + 1);
	struct iovec v[3] = { { b, 3000 }, { b + 3000, 70000 }, { b + 73000, 27000 } };
	long vec = preadv(cold_fd, v, 3, (4 << 20) - 80000);
	unsigned long vs = vec > 0 ? sum(b, vec) : 0;
	t_jout(i, "reads=%ld total=%ld sum=%lx pos=%ld last=%ld tail=%ld/%lx past=%ld vec=%ld/%lx\n",
	       reads, total, s, pos, n, tail, ts, past, vec, vs);
	close(cold_fd);
	int p[2];
	n = pipe(p) == 0 && write(p[1], "fresh", 5) == 5 ? read(p[0], b, sizeof b) : -1;
	t_jout(i, "pipe=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), (char *)b);
	close(p[0]);
	close(p[1]);
	const char *path = t_tmpfile(65536, 1);
	int fd = open(path, O_RDONLY);
	unlink(path);
	n = pread(fd, b, sizeof b, 1000);
	t_jout(i, "other=%ld/%lx\n", n, n > 0 ? sum(b, n) : 0);
	close(fd);
	cold_done = 1;
}

static void c_cold_again(void)
{
	const char *path = t_tmpfile(4 << 20, 1);
	cold_fd = open(path, O_RDONLY);
	unlink(path);
	t_spawn(j_cold_again, 0);
	t_spawn(j_cold_again, 1);
	t_finish();
}

/* Two jobs read records from one shared position, the file dropped from
 * the cache first: no record twice, none torn (a record that crosses a
 * page can be half cached), three rounds. */
static int rec_fd;
static unsigned char seen[20000];

static void j_records(int i)
{
	char b[100];
	long n = 0, dups = 0;
	while (read(rec_fd, b, 100) == 100) {
		unsigned idx;
		memcpy(&idx, b, sizeof idx);
		dups += __atomic_fetch_add(&seen[idx % 20000], 1, __ATOMIC_RELAXED) != 0;
		n++;
	}
	t_jout(i, "dups=%ld\n", dups);
	__atomic_fetch_add(&seen[0], 0, __ATOMIC_RELAXED);
	(void)n;
}

static void c_shared_offset(void)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	char b[100];
	rec_fd = mkstemp(path);
	unlink(path);
	memset(b, '.', sizeof b);
	for (unsigned k = 0; k < 20000; k++) {
		memcpy(b, &k, sizeof k);
		write(rec_fd, b, 100);
	}
	cold_random(rec_fd);
	for (int round = 0; round < 3; round++) {
		memset(seen, 0, sizeof seen);
		t_evict(rec_fd);
		lseek(rec_fd, 0, SEEK_SET);
		t_spawn(j_records, 0);
		t_spawn(j_records, 1);
		t_finish();
		long total = 0;
		for (int k = 0; k < 20000; k++)
			total += seen[k] != 0;
		t_out("distinct=%ld pos=%ld\n", total, (long)lseek(rec_fd, 0, SEEK_CUR));
	}
}

/* Counts and errors from inside coroutines: short reads, EOF, EAGAIN on a
 * non-blocking pipe, EBADF, a big write to a pipe another job drains. */
static int big[2];

static void j_counts(int i)
{
	char b[100];
	int p[2];
	pipe(p);
	write(p[1], "short", 5);
	t_jres(i, "short", read(p[0], b, sizeof b));
	close(p[1]);
	t_jres(i, "eof", read(p[0], b, sizeof b));
	int q[2];
	pipe2(q, O_NONBLOCK);
	t_jres(i, "eagain", read(q[0], b, sizeof b));
	t_jres(i, "ebadf", read(999, b, 1));
	t_jout(i, "\n");
}

static void j_big_writer(int i)
{
	static char b[1 << 20];
	memset(b, 'w', sizeof b);
	t_jres(i, "write", write(big[1], b, sizeof b));
	close(big[1]);
	t_jout(i, "\n");
}

static void j_big_reader(int i)
{
	char b[8192];
	long n, total = 0;
	while ((n = read(big[0], b, sizeof b)) > 0)
		total += n;
	t_jout(i, "read=%ld\n", total);
}

static void c_counts(void)
{
	socketpair(AF_UNIX, SOCK_STREAM, 0, big);
	t_spawn(j_counts, 0);
	t_spawn(j_big_writer, 1);
	t_spawn(j_big_reader, 2);
	t_spawn(j_counts, 3);
	t_finish();
}

static void j_fsync(int i)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	t_jres(i, "pwrite", pwrite(fd, "data", 4, 100));
	t_jres(i, "fsync", fsync(fd));
	t_jres(i, "fdatasync", fdatasync(fd));
	t_jout(i, "\n");
	close(fd);
}

static void c_fsync(void)
{
	for (int i = 0; i < 4; i++)
		t_spawn(j_fsync, i);
	t_finish();
}

/* ---- engine-only cases: deadlines, cancel, fair share ---------------- */

static int dl_pipe[2];

static void j_deadline(int i)
{
	char b[16];
	t_api.io_deadline(t_api.now() + 50 * 1000000L);
	t_jres(i, "read", read(dl_pipe[0], b, sizeof b));
	t_api.io_deadline(-1);
	write(dl_pipe[1], "kept", 4);
	long n = read(dl_pipe[0], b, sizeof b);
	t_jout(i, "then=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
}

static void c_deadline(void)
{
	pipe(dl_pipe);
	t_spawn(j_deadline, 0);
	t_finish();
}

static int victim;
static int cancel_pipe[2];

static void j_victim(int i)
{
	char b[16];
	t_jres(i, "read", read(cancel_pipe[0], b, sizeof b));
	t_jout(i, "\n");
}

static void j_canceller(int i)
{
	t_api.sleep(t_api.now() + 30 * 1000000L);
	t_jres(i, "cancel", t_api.cancel(victim));
	/* Let the victim see its cancel before the data arrives; data that
	 * arrives first is returned instead (nothing is ever lost). */
	t_api.sleep(t_api.now() + 10 * 1000000L);
	write(cancel_pipe[1], "left", 4);
	t_jout(i, "\n");
}

static void c_cancel(void)
{
	pipe(cancel_pipe);
	victim = t_spawn(j_victim, 0);
	t_spawn(j_canceller, 1);
	t_finish();
	char b[16];
	long n = read(cancel_pipe[0], b, sizeof b);
	t_out("after=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
}

/* A coroutine whose every call is answered at once (a pipe that holds
 * its byte) does 100 µs of its own work between its calls: after a
 * millisecond of that it yields at its next call, so a sibling gets the
 * thread at least twice in 30 rounds (3 ms or more), where the yield
 * once came only every 64 such calls (none in these 60): a 1 ms sleeper
 * behind SQLite reading cached pages waited 10-15 ms. */
static volatile int fair_busy, fair_turns;

static void j_fair_busy(int i)
{
	int p[2];
	char c = 0;
	pipe(p);
	fair_busy = 1;
	for (int k = 0; k < 30; k++) {
		write(p[1], &c, 1);
		read(p[0], &c, 1);
		double t0 = t_ms();
		while (t_ms() - t0 < 0.1)
			;
	}
	fair_busy = 0;
	t_jout(i, "sibling ran while busy: %s\n", fair_turns >= 2 ? "twice or more" : "less");
	close(p[0]);
	close(p[1]);
}

static void j_fair_sibling(int i)
{
	do {
		fair_turns += fair_busy;
		t_api.yield();
	} while (fair_busy);
	t_jout(i, "done\n");
}

static void c_fair(void)
{
	t_spawn(j_fair_busy, 0);
	t_spawn(j_fair_sibling, 1);
	t_finish();
}

/* Under threads, a coroutine that is alone on its thread makes its file
 * calls itself (a worker would only add two wake-ups); as soon as another
 * coroutine could run meanwhile, the calls go to workers again.  Who read
 * shows in the thread's own I/O accounting (rchar: bytes that its read
 * calls returned). */
static long my_rchar(void)
{
	char b[512];
	long v = -1;
	int fd = open("/proc/thread-self/io", O_RDONLY);
	long n = fd < 0 ? -1 : read(fd, b, sizeof b - 1);
	if (n > 0) {
		b[n] = 0;
		sscanf(b, "rchar: %ld", &v);
	}
	if (fd >= 0)
		close(fd);
	return v;
}

static void j_alone(int i)
{
	unsigned char b[4096];
	long got = 0, before = my_rchar();
	for (int k = 0; k < 16; k++)
		got += pread(cold_fd, b, sizeof b, (long)k * 256 * 1024) == 4096;
	long mine = my_rchar() - before;
	t_jout(i, "reads=%d by this thread=%s\n", (int)got, mine >= 16 * 4096 ? "all" : "not all");
}

static void c_alone_threads(void)
{
	const char *path = t_tmpfile(8 << 20, 1);
	cold_fd = open(path, O_RDONLY);
	unlink(path);
	cold_random(cold_fd);
	t_spawn(j_alone, 0);
	t_finish();
	/* The kernel's try of a page it does not hold sometimes finishes the
	 * read itself (the I/O it starts completes before it looks again: 6%
	 * of such tries here, a run of them on a loaded machine), and then
	 * there is nothing to hand over.  A round where every try did so says
	 * nothing; a shim that never hands over reads all in every round. */
	int all = 1;
	for (int round = 0; round < 5 && all; round++) {
		t_evict(cold_fd);
		long before = my_rchar();
		t_spawn(j_pread, 0);
		t_spawn(j_pread, 1);
		t_finish();
		all = my_rchar() - before >= 16 * 4096;
	}
	t_out("together: this thread read %s\n", all ? "all" : "not all");
}

/* A job forks while another job is running: as with threads, the child
 * has only the forking job.  Its calls that wait (stat, open, usleep) must
 * not let the copy of the other job run there and write as the child. */
static int fk_pipe[2];

static void j_fork(int i)
{
	if (i == 0) {
		struct stat pst;
		usleep(2000);
		stat("/", &pst); /* the other job waits meanwhile: through the backend */
		pid_t c = fork();
		if (c == 0) {
			struct stat st;
			int ok = stat("/", &st) == 0;
			int fd = open("/dev/null", O_RDONLY);
			ok &= fd >= 0;
			close(fd);
			usleep(30000);
			_exit(ok ? 0 : 1);
		}
		int w = 0;
		waitpid(c, &w, 0);
		t_jout(i, "child=%d\n", WIFEXITED(w) ? WEXITSTATUS(w) : -1);
	} else {
		for (int k = 0; k < 10; k++) {
			struct stat st;
			usleep(5000);
			stat("/", &st);
			pid_t me = getpid();
			write(fk_pipe[1], &me, sizeof me);
		}
		t_jout(i, "wrote\n");
	}
}

static void c_fork(void)
{
	pipe(fk_pipe);
	pid_t parent = getpid(), p;
	t_spawn(j_fork, 0);
	t_spawn(j_fork, 1);
	t_finish();
	close(fk_pipe[1]);
	int n = 0, foreign = 0;
	while (read(fk_pipe[0], &p, sizeof p) == sizeof p) {
		n++;
		foreign += p != parent;
	}
	t_out("writes=%d from another process=%d\n", n, foreign);
}

/* Two jobs take the same locks around calls that wait (SQLite holds its
 * VFS mutex across stat and open): as between threads, each lock keeps
 * the other job out — a normal mutex, a recursive one (the owner is the
 * thread, so a sibling coroutine must still wait) and an rwlock — and
 * nothing hangs.  A job's own error-checking mutex, and an rwlock it
 * writes, taken again: EDEADLK at once, as for a thread (it parked and
 * tried again for ever). */
static pthread_mutex_t lk_normal = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lk_rec, lk_check;
static pthread_rwlock_t lk_rw = PTHREAD_RWLOCK_INITIALIZER;
static int lk_in[3], lk_overlap[3];

static void lk_hold(int which)
{
	struct stat st;
	if (lk_in[which]++)
		lk_overlap[which]++;
	stat("/", &st);
	usleep(200);
	lk_in[which]--;
}

static void j_locks(int i)
{
	for (int k = 0; k < 30; k++) {
		pthread_mutex_lock(&lk_normal);
		lk_hold(0);
		pthread_mutex_unlock(&lk_normal);
		pthread_mutex_lock(&lk_rec);
		pthread_mutex_lock(&lk_rec);
		lk_hold(1);
		pthread_mutex_unlock(&lk_rec);
		pthread_mutex_unlock(&lk_rec);
		pthread_rwlock_wrlock(&lk_rw);
		lk_hold(2);
		if (!k) {
			struct timespec soon;
			clock_gettime(CLOCK_REALTIME, &soon);
			soon.tv_sec += 5;
			t_jout(i, "own rwlock: wrlock=%s rdlock=%s timedwrlock=%s ",
			       strerrorname_np(pthread_rwlock_wrlock(&lk_rw)),
			       strerrorname_np(pthread_rwlock_rdlock(&lk_rw)),
			       strerrorname_np(pthread_rwlock_timedwrlock(&lk_rw, &soon)));
			pthread_mutex_lock(&lk_check);
			t_jout(i, "own error-checking mutex: lock=%s timedlock=%s ",
			       strerrorname_np(pthread_mutex_lock(&lk_check)),
			       strerrorname_np(pthread_mutex_timedlock(&lk_check, &soon)));
			pthread_mutex_unlock(&lk_check);
		}
		pthread_rwlock_unlock(&lk_rw);
	}
	t_jout(i, "done\n");
}

static void c_locks(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&lk_rec, &a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&lk_check, &a);
	t_spawn(j_locks, 0);
	t_spawn(j_locks, 1);
	t_finish();
	t_out("overlaps: normal=%d recursive=%d rwlock=%d\n", lk_overlap[0], lk_overlap[1],
	      lk_overlap[2]);
}

/* Six jobs hold up to eight of 64 recursive mutexes each, at once, across
 * calls that wait, taken in ascending order and given back in another
 * order each round: the thread's table of held locks (shim/pin.c) is
 * filled, collides and is emptied out of order.  A recursive mutex lets
 * a sibling coroutine of its owner thread in unless the table knows it is
 * held: an overlap shows a lost entry, a hang a stale one. */
#define ML_LOCKS 64
static pthread_mutex_t ml[ML_LOCKS];
static int ml_in[ML_LOCKS], ml_overlap;

static void j_many_locks(int i)
{
	for (int round = 0; round < 12; round++) {
		int set[8], n = 0;
		for (int k = 0; k < ML_LOCKS && n < 8; k++)
			if ((k * 7 + i * 13 + round * 5) % 9 < 2)
				set[n++] = k;
		for (int k = 0; k < n; k++) {
			pthread_mutex_lock(&ml[set[k]]);
			if (ml_in[set[k]]++)
				ml_overlap++;
			struct stat st;
			stat("/", &st); /* waits on a worker: a sibling runs */
		}
		for (int k = 0; k < n; k++) {
			int j = (k * 3 + round) % n; /* a permutation when gcd(3, n) = 1 */
			if (n % 3 == 0)
				j = n - 1 - k;
			ml_in[set[j]]--;
			pthread_mutex_unlock(&ml[set[j]]);
			if (k % 2)
				usleep(50);
		}
	}
	t_jout(i, "done\n");
}

static void c_many_locks(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	for (int k = 0; k < ML_LOCKS; k++)
		pthread_mutex_init(&ml[k], &a);
	alarm(20);
	for (int i = 0; i < 6; i++)
		t_spawn(j_many_locks, i);
	t_finish();
	t_out("overlaps=%d\n", ml_overlap);
}

static const struct t_case cases[] = {
	{ "pingpong", c_pingpong, T_BACKEND | T_OWNCORO },
	{ "cold_preads", c_cold_preads, T_BACKEND | T_OWNCORO },
	{ "shared_offset", c_shared_offset, T_BACKEND | T_OWNCORO },
	{ "counts", c_counts, T_BACKEND | T_OWNCORO },
	{ "fsync", c_fsync, T_BACKEND | T_OWNCORO },
	{ "fork", c_fork, T_BACKEND | T_OWNCORO },
	{ "locks", c_locks, T_BACKEND | T_OWNCORO },
	{ "cold_again", c_cold_again, T_BACKEND | T_OWNCORO },
	{ "many_locks", c_many_locks, T_BACKEND | T_OWNCORO },
	/* engine only: */
	{ "deadline", c_deadline, T_OWNCORO },
	{ "cancel", c_cancel, T_OWNCORO },
	{ "fair", c_fair, T_OWNCORO },
	{ "alone_threads", c_alone_threads, T_OWNCORO },
	{ NULL, NULL, 0 },
};
#define NLIKE 9
static const struct t_case *const engine_cases = cases + NLIKE;

static enum t_variant variants[2];
static int nvariants;

START_TEST(like_threads)
{
	t_compare_all(&cases[_i], variants, nvariants);
}
END_TEST

START_TEST(deadline_and_cancel)
{
	static struct t_result r;
	static const char *const want[] = {
		"0: read=-1 ETIMEDOUT then=4 'kept'\n",
		"0: read=-1 ECANCELED \n1: cancel=0 \nafter=4 'left'\n",
		"0: sibling ran while busy: twice or more\n1: done\n",
	};
	for (int v = 0; v < nvariants; v++) {
		ck_assert_int_eq(t_run(engine_cases[_i].name, variants[v], &r, 20), 0);
		ck_assert_msg(!strcmp(r.out, want[_i]), "%s under %s:\n%s\n%s", engine_cases[_i].name,
			      t_variant_name[variants[v]], r.out, r.err);
	}
}
END_TEST

START_TEST(alone_threads)
{
	static struct t_result r;
	ck_assert_int_eq(t_run("alone_threads", T_THREADS, &r, 20), 0);
	ck_assert_msg(!strncmp(r.out, "0: reads=16 by this thread=all\n", 31) &&
			      strstr(r.out, "together: this thread read not all\n"),
		      "alone_threads:\n%s\n%s", r.out, r.err);
}
END_TEST

int main(int argc, char **argv)
{
	t_load_api();
	if (t_case_main(argc, argv, cases) >= 0)
		return 0;
	nvariants = t_engine_variants(variants, "check-coro-io");
	Suite *s = suite_create("coro-io");
	TCase *tc = tcase_create("coro-io");
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, like_threads, 0, NLIKE);
	tcase_add_loop_test(tc, deadline_and_cancel, 0, 3);
	tcase_add_test(tc, alone_threads);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
