/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks class 8: what a
 * short try, a poll that is not ready, or a skipped try means depends on
 * the kind of fd, and the engine must never assume more —
 *
 *  - a short read of an eventfd or timerfd is one value, the whole answer
 *    (a second read took the next value, or waited for it forever);
 *  - /dev/kmsg takes writes at once yet never polls ready for them;
 *  - where the try is skipped (an fd known to be O_DIRECT) the vector is
 *    still the kernel's to refuse: EFAULT, not a crash;
 *  - a read the engine copies back (under an I/O deadline) into a buffer
 *    that is partly bad moves the file position by what it copied only;
 *  - a write that stops at RLIMIT_FSIZE is the answer: no continuation,
 *    so no SIGXFSZ the kernel's one call would not raise;
 *  - a perf counter's read and a message queue's never wait, whatever
 *    poll says.
 *
 * A case that could hang under a broken shim sets an alarm first, so that
 * a hang shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <mqueue.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>

#include "t-helpers.h"

/* ---- helpers ---------------------------------------------------------- */

/* Values left in a semaphore eventfd, read one by one without waiting. */
static int values_left(int e)
{
	uint64_t v;
	int n = 0;
	fcntl(e, F_SETFL, O_NONBLOCK);
	while (read(e, &v, sizeof v) == (ssize_t)sizeof v)
		n++;
	return n;
}

/* ==== class 8: the kind of fd decides what the try's answer means ===== */

static void c8_eventfd_read16(void)
{
	uint64_t b[2] = { 0, 0 };
	alarm(4);
	int e = eventfd(5, 0);
	t_res("read16", read(e, b, sizeof b));
	t_out("value=%lu second=%lu\n", (unsigned long)b[0], (unsigned long)b[1]);
}

static void c8_eventfd_semaphore_read16(void)
{
	uint64_t b[2] = { 0, 0 };
	alarm(4);
	int e = eventfd(3, EFD_SEMAPHORE);
	t_res("read16", read(e, b, sizeof b));
	t_out("values=%lu %lu left=%d\n", (unsigned long)b[0], (unsigned long)b[1], values_left(e));
}

static void c8_eventfd_semaphore_readv_8_8(void)
{
	uint64_t b[2] = { 0, 0 };
	alarm(4);
	int e = eventfd(3, EFD_SEMAPHORE);
	struct iovec v[2] = { { &b[0], 8 }, { &b[1], 8 } };
	t_res("readv", readv(e, v, 2));
	t_out("values=%lu %lu left=%d\n", (unsigned long)b[0], (unsigned long)b[1], values_left(e));
}

static void c8_eventfd_write16(void)
{
	uint64_t v[2] = { 1, 2 }, got = 0;
	alarm(4);
	int e = eventfd(0, 0);
	t_res("write16", write(e, v, sizeof v));
	t_res("read", read(e, &got, sizeof got));
	t_out("counter=%lu\n", (unsigned long)got);
}

static void c8_timerfd_read16(void)
{
	uint64_t b[2] = { 0, 0 };
	alarm(4);
	int t = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = { { 0, 400000000 }, { 0, 10000000 } };
	timerfd_settime(t, 0, &its, NULL);
	t_msleep(50);
	double t0 = t_ms();
	t_res("read16", read(t, b, sizeof b));
	t_out("ticks=%lu at once=%s\n", (unsigned long)b[0], t_yes(t_ms() - t0 < 200));
}

static void c8_kmsg_write(void)
{
	alarm(4);
	int fd = open("/dev/kmsg", O_WRONLY);
	if (fd < 0) {
		t_out("no /dev/kmsg to write: %s\n", t_errname(errno));
		return;
	}
	static const char a[] = "asyncify check-exact-devices: write\n";
	t_res("write", write(fd, a, sizeof a - 1));
	struct iovec v[2] = { { "asyncify check-exact-devices: ", 30 }, { "writev\n", 7 } };
	t_res("writev", writev(fd, v, 2));
}

/* 16 cold direct reads teach the engine that the fd is O_DIRECT; its
 * next calls skip the try. */
static void c8_direct_bad_iovec(void)
{
	alarm(10);
	t_fs_dir();
	int fd = t_abc_file("direct", 1 << 20, O_DIRECT, 1);
	void *b;
	if (fd < 0 || posix_memalign(&b, 4096, 65536)) {
		t_out("no O_DIRECT here\n");
		return;
	}
	int ok = 0;
	for (int i = 0; i < 16; i++)
		ok += pread(fd, b, 65536, (off_t)i * 65536) == 65536;
	t_out("direct reads=%d\n", ok);
	struct iovec *volatile bad = (struct iovec *)8;
	t_res("preadv-bad-vector", preadv(fd, bad, 1, 0));
	t_res("preadv2-bad-vector", preadv2(fd, bad, 2, 4096, 0));
	t_res("readv-bad-vector", readv(fd, bad, 1));
	t_res("writev-bad-vector", writev(fd, bad, 1));
	/* a vector whose second element lies on a page that is not there */
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(m + 4096, 4096, PROT_NONE);
	struct iovec *v = (struct iovec *)(m + 4096 - sizeof *v);
	v[0] = (struct iovec){ b, 4096 };
	t_res("preadv-vector-straddles", preadv(fd, v, 2, 0));
	t_out("pos=%ld\n", t_pos(fd));
}

/* Cold reads at the file position into buffers with a bad part. */
static void bad_buffer_reads(int deadline)
{
	alarm(10);
	t_fs_dir();
	int fd = t_abc_file("f", 64 * 1024, 0, 1);
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(m + 4096, 4096, PROT_NONE);
	mprotect(m + 8192, 4096, PROT_READ);
	t_far_deadline(deadline);
	t_evict(fd);
	t_res("read-second-page-bad", read(fd, m, 8192));
	t_out("pos=%ld\n", t_pos(fd));
	t_evict(fd);
	t_res("read-bad", read(fd, m + 4096, 4096));
	t_out("pos=%ld\n", t_pos(fd));
	t_evict(fd);
	t_res("read-read-only", read(fd, m + 8192, 4096));
	t_out("pos=%ld\n", t_pos(fd));
	t_evict(fd);
	struct iovec v[2] = { { m, 100 }, { m + 4096, 100 } };
	t_res("readv-second-bad", readv(fd, v, 2));
	t_out("pos=%ld\n", t_pos(fd));
	t_evict(fd);
	t_res("preadv2-at-position-bad", preadv2(fd, v + 1, 1, -1, 0));
	t_out("pos=%ld first bytes=%.4s\n", t_pos(fd), m);
	t_far_deadline(0);
}

static void c8_cold_read_bad_buffer(void) { bad_buffer_reads(0); }
static void c8_cold_read_bad_buffer_deadline(void) { bad_buffer_reads(1); }

static volatile sig_atomic_t xfsz;
static void on_xfsz(int sig)
{
	(void)sig;
	xfsz++;
}

/* RLIMIT_FSIZE 8192, writes that cross it: each writes up to the limit
 * and returns that count; only a write that starts at the limit gets
 * EFBIG and SIGXFSZ.  `handled`: a handler counts them; else the default
 * ends the process at the first one the kernel raises. */
static void fsize_straddle(int flags, int handled)
{
	static char b[16384] __attribute__((aligned(4096)));
	alarm(10);
	t_fs_dir();
	memset(b, 'q', sizeof b);
	int fd = open("limited", O_RDWR | O_CREAT | O_TRUNC | flags, 0600);
	if (fd < 0) {
		t_out("no such file here: %s\n", t_errname(errno));
		return;
	}
	if (handled)
		signal(SIGXFSZ, on_xfsz);
	struct rlimit rl = { 8192, 8192 };
	setrlimit(RLIMIT_FSIZE, &rl);
	t_res("pwrite-4096-at-0", pwrite(fd, b, 4096, 0));
	t_res("pwrite-8192-at-4096", pwrite(fd, b, 8192, 4096));
	t_out("xfsz=%d\n", (int)xfsz);
	struct iovec v[2] = { { b, 4096 }, { b + 4096, 8192 } };
	t_res("pwritev-12288-at-0", pwritev(fd, v, 2, 0));
	t_out("xfsz=%d\n", (int)xfsz);
	lseek(fd, 4096, SEEK_SET);
	t_res("write-8192-at-4096", write(fd, b, 8192));
	t_out("xfsz=%d pos=%ld\n", (int)xfsz, t_pos(fd));
	t_res("write-at-limit", write(fd, b, 4096));
	t_out("xfsz=%d\n", (int)xfsz);
}

static void c8_direct_write_fsize_handled(void) { fsize_straddle(O_DIRECT, 1); }
static void c8_direct_write_fsize_default(void) { fsize_straddle(O_DIRECT, 0); }
static void c8_write_fsize_handled(void) { fsize_straddle(0, 1); }

/* ---- the table ---------------------------------------------------------
 * T_BACKEND: the coroutine really waits in a hooked call (the disk). */
#define C(name, flags) { #name, name, flags }
/* A perf counter with its ring buffer mapped polls ready only when
 * samples wake it, yet its read never waits: 8 bytes of count at once,
 * ENOSPC for a buffer too small.  A coroutine's read waited for POLLIN
 * for good. */
static void c8_perf_counter_read_with_ring(void)
{
	alarm(5);
	struct perf_event_attr a;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.sample_period = 1000000000ULL;
	a.wakeup_events = 1000;
	int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	if (fd < 0) {
		t_res("perf_event_open", fd); /* the same everywhere */
		return;
	}
	void *ring = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	t_out("ring mapped=%s\n", t_yes(ring != MAP_FAILED));
	uint64_t v = 0;
	t_res("read 8", read(fd, &v, 8));
	t_out("counted=%s\n", t_yes(v != 0));
	t_res("read 4", read(fd, &v, 4));
	close(fd);
}

/* A POSIX message queue's fd is a regular file of mqueuefs whose read,
 * at any offset, is the queue's status line: it never waits.  Under uring
 * a coroutine's pread of an empty queue went to an op that waited for a
 * message. */
static void c8_mqueue_pread_status(void)
{
	alarm(5);
	char name[64], buf[128];
	snprintf(name, sizeof name, "/asy-t-%d", (int)getpid());
	struct mq_attr at = { .mq_maxmsg = 4, .mq_msgsize = 16 };
	mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, &at);
	if (q == (mqd_t)-1) {
		t_res("mq_open", -1);
		return;
	}
	mq_unlink(name);
	memset(buf, 0, sizeof buf);
	long r = pread(q, buf, sizeof buf - 1, 0);
	t_res("pread empty", r);
	t_out("status=%.10s\n", buf);
	struct iovec iov = { buf, 16 };
	t_res("preadv empty", preadv(q, &iov, 1, 0));
	t_res("send", mq_send(q, "m", 1, 0));
	t_res("pread one", pread(q, buf, sizeof buf - 1, 0));
	t_out("status=%.10s\n", buf);
	mq_close(q);
}

static const struct t_case cases[] = {
	C(c8_eventfd_read16, 0),
	C(c8_eventfd_semaphore_read16, 0),
	C(c8_eventfd_semaphore_readv_8_8, 0),
	C(c8_eventfd_write16, 0),
	C(c8_timerfd_read16, 0),
	C(c8_kmsg_write, 0),
	C(c8_direct_bad_iovec, T_BACKEND),
	C(c8_cold_read_bad_buffer, T_BACKEND),
	C(c8_cold_read_bad_buffer_deadline, T_BACKEND),
	C(c8_direct_write_fsize_handled, 0),
	C(c8_direct_write_fsize_default, 0),
	C(c8_write_fsize_handled, 0),
	C(c8_perf_counter_read_with_ring, 0),
	C(c8_mqueue_pread_status, 0),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-devices", 150);
}
