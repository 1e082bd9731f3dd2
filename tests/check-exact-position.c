/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks that the file
 * position belongs to the open file: threads reading dup'ed fds (O_DSYNC,
 * O_DIRECT, cold cache), an fd number that becomes a pipe, lseek from
 * another thread, a parent and child sharing one open file.
 *
 * Times are never compared, only buckets ("<50ms", "50ms..1s") or yes/no.
 * A case that could hang under a broken shim sets an alarm first, so that
 * a hang shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ---- helpers ---------------------------------------------------------- */

/* The index of a 100-byte record, or -1 when it is not intact. */
static int record_index(const unsigned char *b)
{
	unsigned char want[100];
	int i;
	memcpy(&i, b, sizeof i);
	if (i < 0 || i > 1000000)
		return -1;
	fill(want, sizeof want, (unsigned)i);
	return memcmp(b + sizeof i, want + sizeof i, sizeof want - sizeof i) ? -1 : i;
}

/* ==== class 8: the file position belongs to the open file ============== */

struct rec_job {
	int fd, id, n;
	long bad;
};

static void rec_make(unsigned char *b, int id)
{
	fill(b, 100, (unsigned)id);
	memcpy(b, &id, sizeof id);
}

static void *dsync_writer(void *arg)
{
	struct rec_job *j = arg;
	unsigned char b[100];
	for (int s = 0; s < j->n; s++) {
		rec_make(b, j->id * j->n + s);
		if (write(j->fd, b, sizeof b) != (ssize_t)sizeof b)
			j->bad++;
	}
	return NULL;
}

/* Whole records at distinct places; which index is where is not asked. */
static void check_records(int fd, int n)
{
	static unsigned char seen[4096], b[100];
	int intact = 0, dups = 0;
	memset(seen, 0, sizeof seen);
	for (int i = 0; pread(fd, b, sizeof b, (off_t)i * 100) == (ssize_t)sizeof b; i++) {
		int id = record_index(b);
		if (id < 0 || id >= n)
			continue;
		intact++;
		dups += seen[id]++ > 0;
	}
	t_out("intact=%d dups=%d\n", intact, dups);
}

static void c8_dsync_two_threads_dup_fds(void)
{
	char path[] = "/tmp/asy-t-XXXXXX";
	int tmp = mkstemp(path);
	close(tmp);
	int fd = open(path, O_WRONLY | O_DSYNC), rd = open(path, O_RDONLY);
	unlink(path);
	struct rec_job a = { .fd = fd, .id = 0, .n = 768 }, b = { .fd = dup(fd), .id = 1, .n = 768 };
	net(8);
	pthread_t th = go(dsync_writer, &b);
	dsync_writer(&a);
	join(th);
	struct stat st;
	fstat(fd, &st);
	t_out("size=%ld short=%ld pos=%ld\n", (long)st.st_size, a.bad + b.bad,
	      (long)lseek(fd, 0, SEEK_CUR));
	check_records(rd, 2 * 768);
}

struct block_job {
	int fd;
	void *buf;
	unsigned char *seen;
	long bad;
};

static void *odirect_blocks(void *arg)
{
	struct block_job *j = arg;
	for (int i = 0; i < 100; i++) {
		int idx;
		if (read(j->fd, j->buf, 4096) != 4096) {
			j->bad++;
			continue;
		}
		memcpy(&idx, j->buf, sizeof idx);
		if (idx >= 0 && idx < 200)
			__atomic_fetch_add(&j->seen[idx], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void c8_odirect_two_threads_dup_fds(void)
{
	static unsigned char block[4096], seen[200];
	char path[] = "/tmp/asy-t-XXXXXX";
	int w = mkstemp(path);
	for (int i = 0; i < 200; i++) {
		fill(block, sizeof block, (unsigned)i);
		memcpy(block, &i, sizeof i);
		write(w, block, sizeof block);
	}
	t_evict(w);
	close(w);
	int fd = tmp_open(path, O_RDONLY | O_DIRECT);
	struct block_job a = { .fd = fd, .seen = seen }, b = { .fd = dup(fd), .seen = seen };
	net(6);
	if (fd < 0 || posix_memalign(&a.buf, 4096, 4096) || posix_memalign(&b.buf, 4096, 4096)) {
		t_out("no O_DIRECT here\n");
		return;
	}
	pthread_t th = go(odirect_blocks, &b);
	odirect_blocks(&a);
	join(th);
	int once = 0, twice = 0;
	for (int i = 0; i < 200; i++)
		once += seen[i] == 1, twice += seen[i] > 1;
	t_out("blocks=%d twice=%d short=%ld pos=%ld\n", once, twice, a.bad + b.bad,
	      (long)lseek(fd, 0, SEEK_CUR));
	free(a.buf);
	free(b.buf);
}

struct pipe_reader {
	int fd;
	long total;
	unsigned long sum;
};

static void *read_to_eof(void *arg)
{
	struct pipe_reader *r = arg;
	static unsigned char b[8192];
	long n;
	while ((n = read(r->fd, b, sizeof b)) > 0)
		r->total += n, r->sum = sum(b, n, r->sum);
	return NULL;
}

/* fd 50 was a regular file the program wrote to; now it is a pipe's write
 * end (and 306 its read end): a blocking 100 KiB write completes. */
static void c8_file_fd_becomes_pipe(void)
{
	static unsigned char big[100 * KiB];
	int p[2];
	net(4);
	int f = empty_tmp(O_RDWR);
	dup2(f, 50);
	close(f);
	for (int i = 0; i < 8; i++)
		write(50, "file-data", 9);
	t_res("file-pos", lseek(50, 0, SEEK_CUR));
	pipe(p);
	dup2(p[1], 50);
	dup2(p[0], 306);
	close(p[0]);
	close(p[1]);
	struct pipe_reader r = { .fd = 306 };
	pthread_t th = go(read_to_eof, &r);
	fill(big, sizeof big, 1);
	t_res("write", write(50, big, sizeof big));
	close(50);
	join(th);
	t_out("reader total=%ld same=%s\n", r.total, yes(r.sum == sum(big, sizeof big, 0)));
}

struct rec_reader {
	int fd;
	unsigned char *seen;
	long n, bad;
};

static void *read_records(void *arg)
{
	struct rec_reader *r = arg;
	unsigned char b[100];
	while (read(r->fd, b, sizeof b) == (ssize_t)sizeof b) {
		int id = record_index(b);
		if (id < 0 || id >= 10000)
			r->bad++;
		else
			__atomic_fetch_add(&r->seen[id], 1, __ATOMIC_RELAXED);
		r->n++;
	}
	return NULL;
}

static void report_seen(const unsigned char *seen, int n)
{
	int once = 0, twice = 0;
	for (int i = 0; i < n; i++)
		once += seen[i] == 1, twice += seen[i] > 1;
	t_out("records=%d twice=%d\n", once, twice);
}

static void c8_cold_two_threads_dup_fds(void)
{
	static unsigned char seen[10000];
	int fd = record_file(10000, 1);
	struct rec_reader a = { .fd = fd, .seen = seen }, b = { .fd = dup(fd), .seen = seen };
	net(6);
	pthread_t th = go(read_records, &b);
	read_records(&a);
	join(th);
	report_seen(seen, 10000);
	t_out("bad=%ld pos=%ld\n", a.bad + b.bad, (long)lseek(fd, 0, SEEK_CUR));
}

static _Atomic int reading_done;

static void *watch_position(void *arg)
{
	int fd = (int)(intptr_t)arg;
	off_t last = 0;
	long unaligned = 0, backwards = 0;
	while (!reading_done) {
		off_t pos = lseek(fd, 0, SEEK_CUR);
		unaligned += pos % 100 != 0;
		backwards += pos < last;
		last = pos;
	}
	t_out("watcher: aligned=%s monotonic=%s\n", yes(!unaligned), yes(!backwards));
	return NULL;
}

/* lseek from another thread sees only positions the reads left. */
static void c8_lseek_while_reading(void)
{
	static unsigned char b[100];
	int fd = record_file(5000, 1);
	long n = 0;
	net(6);
	pthread_t th = go(watch_position, (void *)(intptr_t)dup(fd));
	while (read(fd, b, sizeof b) == (ssize_t)sizeof b)
		n++;
	reading_done = 1;
	join(th);
	t_out("records=%ld pos=%ld\n", n, (long)lseek(fd, 0, SEEK_CUR));
}

/* Parent and child share one open file: each record is read once. */
static void c8_fork_shared_position(void)
{
	static unsigned char seen[10000], child_seen[10000];
	int fd = record_file(10000, 1), res[2];
	net(8);
	pipe(res);
	pid_t pid = fork();
	if (pid == 0) {
		struct rec_reader r = { .fd = fd, .seen = child_seen };
		read_records(&r);
		write(res[1], child_seen, sizeof child_seen);
		_exit(r.bad ? 1 : 0);
	}
	close(res[1]);
	struct rec_reader r = { .fd = fd, .seen = seen };
	read_records(&r);
	long got = 0, n;
	while (got < (long)sizeof child_seen &&
	       (n = read(res[0], child_seen + got, sizeof child_seen - (size_t)got)) > 0)
		got += n;
	for (int i = 0; i < 10000; i++)
		seen[i] += child_seen[i];
	int st;
	waitpid(pid, &st, 0);
	show_status("child", st);
	report_seen(seen, 10000);
	t_out("bad=%ld\n", r.bad);
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe).
 * c8_lseek_while_reading is T_NOCORO too: inside a coroutine a read at the
 * file position that finds part of its bytes cached (a record across the
 * end of the readahead window) is two calls, and another thread may see
 * the position between them (README, blind spots) — on a plain thread it
 * is one call, which is what the case shows.  So is
 * c8_cold_two_threads_dup_fds, whose two threads read records at one
 * shared position: a read of a coroutine that met the end of the
 * readahead window let the other thread read between its two calls. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c8_dsync_two_threads_dup_fds, T_BACKEND),
	C(c8_odirect_two_threads_dup_fds, T_BACKEND),
	C(c8_file_fd_becomes_pipe, T_BACKEND),
	C(c8_cold_two_threads_dup_fds, T_NOCORO),
	C(c8_lseek_while_reading, T_NOCORO),
	C(c8_fork_shared_position, T_NOCORO),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-position", 150);
}
