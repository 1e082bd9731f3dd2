/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks class 14: file
 * I/O, vectors and fd reuse (its limits are in check-exact-limits.c) —
 *
 *  - an offset the kernel refuses (below -1 for preadv2/pwritev2) is
 *    EINVAL even where the engine skips the try (a cold or O_DIRECT
 *    file): it never reads or writes at the file position;
 *  - a FIFO opened by name refuses RWF_NOWAIT: a read with no writer
 *    yet is EOF at once though poll() never calls it ready, and the
 *    program's own RWF flags are the kernel's to take or refuse;
 *  - a coroutine's close or dup2 over a number that another coroutine's
 *    file read, begun before it, has out on a backend: the read reads
 *    the old file, as the kernel's call does (it read the new one, or
 *    failed with EBADF), an ftruncate truncates the old file, and a
 *    write made before another coroutine's F_SETFL O_APPEND writes at
 *    the position (it appended), and an ftruncate after a pwrite another
 *    coroutine made first truncates what it wrote (the write landed
 *    after it), and a write after another coroutine's ftruncate or
 *    pwrite, made first, lands after it (it was overtaken);
 *  - and what held already: RWF flags and O_APPEND, offsets near
 *    LLONG_MAX, memfd seals, /proc and sysfs files, O_PATH fds, bad and
 *    read-only vectors and buffers on files, pipes and sockets, a
 *    buffer that is the file's own mapping.
 *
 * A case that could hang under a broken shim sets an alarm first, so that
 * a hang shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"
#undef now /* t_api.now */

/* ---- offsets the kernel refuses ---------------------------------------- */

/* preadv2/pwritev2 with an offset below -1: EINVAL before the file is
 * looked at, whatever the engine knows of the fd. */
static void minus2_calls(int fd, const char *what)
{
	char b[64];
	struct iovec v = { b, sizeof b };
	memset(b, 0, sizeof b);
	t_res(what, preadv2(fd, &v, 1, -2, 0));
	t_out("pos=%ld b=%.4s\n", t_pos(fd), b);
	t_res("preadv-minus2", preadv(fd, &v, 1, -2));
	t_res("pread-minus1", pread(fd, b, sizeof b, -1));
	t_res("pwritev2-minus2", pwritev2(fd, &v, 1, -2, 0));
	t_res("pwritev2-min", pwritev2(fd, &v, 1, LLONG_MIN, 0));
	t_out("pos=%ld\n", t_pos(fd));
}

/* A buffered file whose read missed the page cache (the engine then
 * skips the try of its next reads where the cache is empty). */
static void c14_preadv2_minus2_cold(void)
{
	static char b[256 * 1024];
	alarm(10);
	t_fs_dir();
	int fd = t_abc_file("f", 1024 * 1024, 0, 0);
	t_evict(fd);
	t_res("read", read(fd, b, sizeof b));
	t_evict(fd);
	minus2_calls(fd, "preadv2-minus2");
}


static void c14_preadv2_minus2_direct(void)
{
	int fd = t_known_direct_file();
	if (fd < 0)
		return;
	lseek(fd, 4096, SEEK_SET);
	minus2_calls(fd, "preadv2-minus2");
}

static void c14_offsets_near_max(void)
{
	char b[64];
	alarm(10);
	t_fs_dir();
	int fd = t_abc_file("f", 8192, 0, 0);
	t_res("pread-llmax", pread(fd, b, sizeof b, LLONG_MAX));
	t_res("pread-llmax-10", pread(fd, b, sizeof b, LLONG_MAX - 10));
	t_res("pwrite-llmax-10", pwrite(fd, b, sizeof b, LLONG_MAX - 10));
	t_res("pwrite-llmax", pwrite(fd, b, 1, LLONG_MAX));
	t_res("pwrite-maxbytes", pwrite(fd, b, sizeof b, (off_t)1 << 44));
	t_res("pwrite-1tb", pwrite(fd, b, 1, (off_t)1 << 40));
	t_res("pread-1tb", pread(fd, b, sizeof b, (off_t)1 << 40));
	t_res("lseek", lseek(fd, LLONG_MAX - 10, SEEK_SET));
	t_res("read-at-max", read(fd, b, sizeof b));
	t_res("write-at-max", write(fd, b, sizeof b));
	t_out("pos=%ld\n", t_pos(fd));
}

/* ---- RWF flags, O_APPEND ----------------------------------------------- */

static void rwf_flags_on(int fd)
{
	char b[16] = "0123456789abcdef";
	struct iovec v = { b, 4 };
	t_res("pwritev2-append-at-0", pwritev2(fd, &v, 1, 0, RWF_APPEND));
	t_out("pos=%ld size=%ld\n", t_pos(fd), (long)lseek(fd, 0, SEEK_END));
	lseek(fd, 2, SEEK_SET);
	t_res("pwritev2-append-at-pos", pwritev2(fd, &v, 1, -1, RWF_APPEND));
	t_out("pos=%ld\n", t_pos(fd));
	t_res("pwritev2-dsync", pwritev2(fd, &v, 1, 1, RWF_DSYNC));
	t_res("pwritev2-sync-pos", pwritev2(fd, &v, 1, -1, RWF_SYNC));
	t_out("pos=%ld\n", t_pos(fd));
	t_res("preadv2-hipri", preadv2(fd, &v, 1, 0, RWF_HIPRI));
	t_res("preadv2-hipri-pos", preadv2(fd, &v, 1, -1, RWF_HIPRI));
	t_out("pos=%ld\n", t_pos(fd));
	t_res("pwritev2-noappend", pwritev2(fd, &v, 1, 0, RWF_NOAPPEND));
	t_res("preadv2-append", preadv2(fd, &v, 1, 0, RWF_APPEND));
	t_res("preadv2-nowait", preadv2(fd, &v, 1, 0, RWF_NOWAIT));
	t_res("preadv2-bit30", preadv2(fd, &v, 1, 0, 1 << 30));
	t_res("pwritev2-bit30", pwritev2(fd, &v, 1, 0, 1 << 30));
	t_out("pos=%ld size=%ld\n", t_pos(fd), (long)lseek(fd, 0, SEEK_END));
	char r[64] = { 0 };
	t_res("pread-all", pread(fd, r, sizeof r - 1, 0));
	t_out("'%s'\n", r);
}

static void c14_rwf_flags_file(void)
{
	alarm(10);
	t_fs_dir();
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	write(fd, "xxxxxxxx", 8);
	rwf_flags_on(fd);
}

static void c14_rwf_flags_o_append(void)
{
	alarm(10);
	t_fs_dir();
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
	write(fd, "xxxxxxxx", 8);
	t_res("pwrite-at-0", pwrite(fd, "P", 1, 0));
	t_out("pos=%ld\n", t_pos(fd));
	rwf_flags_on(fd);
}

static void c14_rwf_flags_memfd(void)
{
	alarm(10);
	int fd = memfd_create("m", 0);
	write(fd, "xxxxxxxx", 8);
	rwf_flags_on(fd);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int a = open(path, O_RDWR | O_APPEND);
	t_res("pwrite-append-memfd", pwrite(a, "Q", 1, 0));
	rwf_flags_on(a);
}

/* ---- file kinds -------------------------------------------------------- */

/* A FIFO opened for reading with no writer, ever: its read is EOF at
 * once (no writer), though poll() never calls it ready (no writer has
 * come and gone). */
static void c14_fifo_no_writer_blocking(void)
{
	char b[8];
	alarm(4);
	t_fs_dir();
	mkfifo("fifo", 0600);
	mkfifo("lonely", 0600);
	int fd = open("fifo", O_RDONLY | O_NONBLOCK);
	t_res("open-rd-nb", fd);
	t_res("open-wr-nb-no-reader", open("lonely", O_WRONLY | O_NONBLOCK));
	t_res("read-nb", read(fd, b, sizeof b));
	fcntl(fd, F_SETFL, 0);
	t_res("read-blocking", read(fd, b, sizeof b));
	t_res("readv-blocking", readv(fd, &(struct iovec){ b, sizeof b }, 1));
	t_res("pread", pread(fd, b, sizeof b, 0));
	t_res("preadv2-pos", preadv2(fd, &(struct iovec){ b, sizeof b }, 1, -1, 0));
	t_res("preadv2-hipri", preadv2(fd, &(struct iovec){ b, sizeof b }, 1, -1, RWF_HIPRI));
}

/* A FIFO open that a signal (plain) or the I/O deadline (a coroutine) ends
 * while the thread making it cannot get a CPU: it is runnable only once a
 * busy thread on its CPU lets go, 40 ms later.  The kernel's open then
 * fails with EINTR and leaves no reader behind; the engine left its
 * worker's open behind 2 ms after the kick, a reader in the FIFO that a
 * writer's open found and wrote to. */
static _Atomic int hog_go, hog_ready;

/* Thread tid on CPU cpu only, as SCHED_IDLE or not; cpu -1: anywhere,
 * as SCHED_OTHER. */
static void pin(pid_t tid, int cpu, int idle)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (cpu < 0 || c == cpu)
			CPU_SET(c, &set);
	sched_setaffinity(tid, sizeof set, &set);
	sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, &(struct sched_param){ 0 });
}

/* The threads of the process waiting in openat(2) right now. */
static int openers(pid_t *tids, int max)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	for (struct dirent *e; d && (e = readdir(d)) && n < max;) {
		char path[64], line[64];
		snprintf(path, sizeof path, "/proc/self/task/%.20s/syscall", e->d_name);
		int fd = open(path, O_RDONLY);
		ssize_t r = fd < 0 ? -1 : read(fd, line, sizeof line - 1);
		if (fd >= 0)
			close(fd);
		if (r > 0 && atoi(line) == SYS_openat)
			tids[n++] = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return n;
}

static void *fifo_hog(void *arg)
{
	(void)arg;
	pin(0, 0, 0);
	hog_ready = 1;
	while (!hog_go)
		usleep(1000);
	pid_t tids[8];
	int n = openers(tids, 8);
	for (int i = 0; i < n; i++)
		pin(tids[i], 0, 1);
	/* a real-time thread keeps the others off its CPU (root; else
	 * SCHED_IDLE leaves them a sliver) */
	int rt = sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){ 1 }) == 0;
	double end = t_ex_now() + 0.06;
	while (t_ex_now() < end)
		;
	if (rt)
		sched_setscheduler(0, SCHED_OTHER, &(struct sched_param){ 0 });
	for (int i = 0; i < n; i++)
		pin(tids[i], -1, 0);
	return NULL;
}

static void start_hog(void *arg)
{
	(void)arg;
	hog_go = 1;
}

static void c14_fifo_open_ended_off_cpu(void)
{
	alarm(6);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		t_out("one CPU: nothing to show\n");
		return;
	}
	t_fs_dir();
	mkfifo("fifo", 0600);
	pin(0, 1, 0);
	pthread_t hog = go(fifo_hog, NULL);
	while (!hog_ready)
		usleep(1000);
	t_load_api();
	int by_deadline = t_api.io_deadline && t_api.io_deadline(t_api.now() + 30000000) == 0;
	pthread_t sig;
	if (!by_deadline) {
		t_handle(SIGUSR1, 0);
		sig = t_later_signal(SIGUSR1, 30);
	}
	pthread_t starter = t_later(start_hog, NULL, 10);
	int fd = open("fifo", O_RDONLY);
	int err = errno;
	if (by_deadline)
		t_api.io_deadline(-1);
	t_out("open=%s\n", fd >= 0 ? "fd" : err == EINTR || err == ETIMEDOUT ? "ended" : t_errname(err));
	for (int k = 0; k < 2; k++) {
		int probe = open("fifo", O_WRONLY | O_NONBLOCK);
		t_out("left-open=%s\n", probe < 0 && errno == ENXIO ? "none" : "reader");
		if (probe >= 0)
			close(probe);
		usleep(30000);
	}
	join(hog);
	pthread_join(starter, NULL);
	if (!by_deadline)
		pthread_join(sig, NULL);
}

/* A FIFO opened by name refuses RWF_NOWAIT: calls with RWF flags of
 * the program's, and a read that waits for another thread's write. */
static void c14_fifo_flags(void)
{
	char b[16];
	alarm(4);
	t_fs_dir();
	mkfifo("fifo", 0600);
	int r = open("fifo", O_RDONLY | O_NONBLOCK);
	int w = open("fifo", O_WRONLY);
	fcntl(r, F_SETFL, 0);
	struct iovec v = { b, sizeof b };
	memcpy(b, "abcdefgh", 8);
	t_res("pwritev2-dsync", pwritev2(w, &(struct iovec){ b, 4 }, 1, -1, RWF_DSYNC));
	t_res("pwritev2-hipri", pwritev2(w, &(struct iovec){ b + 4, 4 }, 1, -1, RWF_HIPRI));
	t_res("pwritev2-bit30", pwritev2(w, &(struct iovec){ b, 4 }, 1, -1, 1 << 30));
	t_res("preadv2-hipri", preadv2(r, &(struct iovec){ b, 3 }, 1, -1, RWF_HIPRI));
	t_res("preadv2-dsync", preadv2(r, &(struct iovec){ b, 3 }, 1, -1, RWF_DSYNC));
	t_res("preadv2-bit30", preadv2(r, &v, 1, -1, 1 << 30));
	show_buf("read", b, read(r, b, sizeof b));
	t_res("preadv2-bit30-empty", preadv2(r, &v, 1, -1, 1 << 30));
	pthread_t th = later_str(w, "later", 50);
	show_buf("read-waits", b, read(r, b, sizeof b));
	join(th);
	th = later_str(w, "hipri", 50);
	show_buf("preadv2-hipri-waits", b, preadv2(r, &v, 1, -1, RWF_HIPRI));
	join(th);
	close(w);
	t_res("read-eof", read(r, b, sizeof b));
}

static void c14_kinds_misc(void)
{
	char b[64];
	alarm(4);
	t_fs_dir();
	int d = open(".", O_RDONLY | O_DIRECTORY);
	t_res("dir-read", read(d, b, sizeof b));
	t_res("dir-readv", readv(d, &(struct iovec){ b, sizeof b }, 1));
	t_res("dir-preadv2", preadv2(d, &(struct iovec){ b, sizeof b }, 1, 0, 0));
	t_res("dir-write", write(d, b, 1));
	int f = t_abc_file("f", 4096, 0, 0);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", f);
	int p = open("f", O_PATH);
	t_res("opath-read", read(p, b, sizeof b));
	t_res("opath-pread", pread(p, b, sizeof b, 0));
	t_res("opath-write", write(p, b, 1));
	t_res("opath-fsync", fsync(p));
	int e = eventfd(0, 0);
	uint64_t all = ~0ULL;
	t_res("eventfd-write-max", write(e, &all, 8));
	t_res("eventfd-pread", pread(e, b, 8, 0));
	int pp[2];
	pipe(pp);
	t_res("pipe-pread", pread(pp[0], b, sizeof b, 0));
	t_res("pipe-pwrite", pwrite(pp[1], b, 1, 0));
	t_res("pipe-preadv2-nowait", preadv2(pp[0], &(struct iovec){ b, 8 }, 1, -1, RWF_NOWAIT));
	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	t_res("sock-pread", pread(s[0], b, sizeof b, 0));
	t_res("sock-pwrite", pwrite(s[0], b, 1, 0));
	t_res("sock-preadv2-nowait", preadv2(s[0], &(struct iovec){ b, 8 }, 1, -1, RWF_NOWAIT));
	t_res("sock-preadv2-hipri", preadv2(s[0], &(struct iovec){ b, 8 }, 1, -1, RWF_HIPRI | RWF_NOWAIT));
	t_res("pipe-fsync", fsync(pp[0]));
	t_res("sock-fdatasync", fdatasync(s[0]));
	t_res("bad-fsync", fsync(-1));
	t_res("dir-fsync", fsync(d));
}

static void c14_memfd_seals(void)
{
	char b[64];
	alarm(4);
	memset(b, 'z', sizeof b);
	int m = memfd_create("m", MFD_ALLOW_SEALING);
	write(m, "0123456789", 10);
	fcntl(m, F_ADD_SEALS, F_SEAL_GROW);
	t_res("grow-write-end", write(m, b, 4));
	lseek(m, 0, SEEK_SET);
	t_res("grow-write-inside", write(m, b, 4));
	t_res("grow-write-across", write(m, b, 20));
	t_out("pos=%ld\n", t_pos(m));
	t_res("grow-pwrite-across", pwrite(m, b, 8, 6));
	t_res("grow-pwritev-across", pwritev(m, &(struct iovec){ b, 8 }, 1, 6));
	fcntl(m, F_ADD_SEALS, F_SEAL_WRITE);
	t_res("sealed-write", write(m, b, 1));
	t_res("sealed-pwrite", pwrite(m, b, 1, 0));
	t_res("sealed-read", pread(m, b, 64, 0));
	t_res("sealed-fsync", fsync(m));
}

static void c14_proc_files(void)
{
	char b[4096];
	alarm(4);
	int fd = open("/proc/self/maps", O_RDONLY);
	long total = 0, n, calls = 0;
	while ((n = read(fd, b, 7)) > 0)
		total += n, calls++;
	t_out("maps read in 7s: %s calls=%s\n", yes(total > 0), yes(calls > 10));
	t_res("maps-pread", pread(fd, b, 16, 3) > 0);
	close(fd);
	fd = open("/proc/self/mem", O_RDWR);
	static char secret[16] = "secret-value";
	memset(b, 0, 32);
	t_res("mem-pread", pread(fd, b, 12, (off_t)(uintptr_t)secret));
	t_out("'%s'\n", b);
	t_res("mem-pwrite", pwrite(fd, "SECRET", 6, (off_t)(uintptr_t)secret));
	t_out("'%s'\n", secret);
	t_res("mem-pread-bad", pread(fd, b, 12, 4096));
	lseek(fd, (off_t)(uintptr_t)secret, SEEK_SET);
	t_res("mem-read", read(fd, b, 6));
	t_out("pos-moved=%ld\n", t_pos(fd) - (long)(uintptr_t)secret);
	int sys = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
	if (sys >= 0) {
		t_res("sysfs-read", read(sys, b, 1) == 1);
		t_res("sysfs-read2", read(sys, b, sizeof b) > 0);
		t_res("sysfs-read-eof", read(sys, b, sizeof b));
	}
	int st = open("/proc/self/status", O_RDONLY);
	t_res("status-readv", readv(st, (struct iovec[]){ { b, 3 }, { b + 3, 5 } }, 2));
	t_res("status-preadv2", preadv2(st, &(struct iovec){ b, 5 }, 1, -1, 0));
	t_out("pos=%ld\n", t_pos(st));
}

/* ---- vectors and buffers ----------------------------------------------- */

static void vec_cases(int rfd, int wfd, const char *what)
{
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(m + 4096, 4096, PROT_NONE);
	memset(m, 'w', 4096);
	t_out("%s\n", what);
	t_res("write-2nd-page-bad", write(wfd, m, 8192));
	t_res("writev-null-base-0", writev(wfd, (struct iovec[]){ { m, 3 }, { NULL, 0 }, { m, 2 } }, 3));
	t_res("writev-null-0", writev(wfd, NULL, 0));
	t_res("readv-null-base-0", readv(rfd, (struct iovec[]){ { NULL, 0 }, { m, 3 } }, 2));
	t_res("read-2nd-page-bad", read(rfd, m + 4096 - 2, 64));
	mprotect(m + 8192, 4096, PROT_READ);
	t_res("read-into-ro", read(rfd, m + 8192, 16));
	t_res("writev-iov-huge", writev(wfd, (struct iovec[]){ { m, 1 }, { m, SSIZE_MAX } }, 2));
	t_res("readv-iov-neg", readv(rfd, (struct iovec[]){ { m, 1 }, { m, (size_t)-1 } }, 2));
	t_res("readv-iov-overflow", readv(rfd, (struct iovec[]){ { m, SSIZE_MAX / 2 + 1 }, { m, SSIZE_MAX / 2 + 1 } }, 2));
	struct iovec *rov = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rov[0] = (struct iovec){ m, 3 };
	mprotect(rov, 4096, PROT_READ);
	t_res("writev-ro-vector", writev(wfd, rov, 1));
	t_res("readv-ro-vector", readv(rfd, rov, 1));
	t_res("read-rest", read(rfd, m, 4096));
}

static void c14_vectors_file(void)
{
	alarm(10);
	t_fs_dir();
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	int r = open("f", O_RDONLY);
	vec_cases(r, fd, "file");
	t_out("pos=%ld %ld\n", t_pos(fd), t_pos(r));
}

static void c14_vectors_pipe(void)
{
	int p[2];
	alarm(10);
	pipe(p);
	vec_cases(p[0], p[1], "pipe");
}

static void c14_vectors_socket(void)
{
	int s[2];
	alarm(10);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	write(s[1], "0123456789abcdefghijklmnopqrstuvwxyz", 36);
	vec_cases(s[0], s[1], "socket");
}

/* The buffer is the file's own mapping, followed by a page that is not
 * there. */
static void c14_buffer_is_own_mmap(void)
{
	alarm(10);
	t_fs_dir();
	int fd = t_abc_file("f", 64 * 1024, 0, 0);
	char *m = mmap(NULL, 68 * 1024, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mmap(m, 64 * 1024, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	t_res("pwrite-from-own-map", pwrite(fd, m, 8192, 4096));
	t_res("pread-into-own-map", pread(fd, m + 100, 8192, 0));
	t_out("%.8s %.8s\n", m + 100, m + 4096);
	t_evict(fd);
	t_res("read-into-own-map-cold", read(fd, m + 200, 30000));
	t_out("pos=%ld %.8s\n", t_pos(fd), m + 200);
	t_res("write-beyond-map", pwrite(fd, m, 70000, 0));
	t_evict(fd);
	t_res("read-beyond-map", pread(fd, m + 4096, 65536, 0));
	t_res("write-at-end-from-map", pwrite(fd, m, 70000, 65536));
	t_out("size=%ld\n", (long)lseek(fd, 0, SEEK_END));
}

/* ---- fd reuse ---------------------------------------------------------- */

/* Job 0 reads a cold file (a backend op, in a coroutine); job 1, once
 * job 0's read has begun, closes its number or dup2s another file over
 * it.  The read began first: it reads the old file, as the kernel's
 * call, which took its file when it was made (it read the other file,
 * or failed with EBADF, when the op took the number later).
 *
 * The read must be a backend op.  A cold read is first tried without
 * blocking, and that try was seen to find all of a 1 MiB file under load:
 * read by the readahead it started while the thread was preempted (and
 * the case tested nothing).  So the reader first misses once on the fd's
 * last page, and drops the pages again: the engine then knows the fd is
 * cold (runtime/engine/cold.c), asks the page cache before its next read
 * and, finding none of it, makes no try. */
#define REUSE_COLD (16 << 20)
static int reuse_fd, reuse_other, reuse_how;
static _Atomic pid_t reuse_tid;
static char *reuse_buf;

static void reuse_reader(int i)
{
	if (!(reuse_how & (8 | 16 | 64))) {
		char last[4096];
		pread(reuse_fd, last, sizeof last, REUSE_COLD - sizeof last);
		t_evict(reuse_fd);
	}
	reuse_tid = t_gettid();
	if (reuse_how & 64) {
		t_jres(i, "ftruncate", ftruncate(reuse_fd, 0));
		t_jout(i, "\n");
		t_msleep(100);
		return;
	}
	if (reuse_how & 16) {
		t_far_deadline(1); /* the write goes to a backend */
		t_jres(i, "write", reuse_how & 32 ? pwrite(reuse_fd, reuse_buf, 1 << 20, 0) :
						    write(reuse_fd, "HELLO", 5));
		t_far_deadline(0);
		t_jout(i, "\n");
		t_msleep(100);
		return;
	}
	if (reuse_how & 8) {
		t_jres(i, "ftruncate", ftruncate(reuse_fd, 10));
		t_jout(i, "\n");
		t_msleep(100);
		return;
	}
	long n = reuse_how & 4 ? read(reuse_fd, reuse_buf, REUSE_COLD) :
				 pread(reuse_fd, reuse_buf, REUSE_COLD, 0);
	t_jres(i, "read", n);
	t_jout(i, "first=%c\n", n > 0 ? reuse_buf[0] : '-');
	t_msleep(100); /* asleep: the other job's look ends */
}

static void reuse_closer(int i)
{
	while (!reuse_tid)
		t_msleep(1);
	if (reuse_tid != t_gettid())
		t_wait_blocked(reuse_tid); /* threads: in its read, or done */
	if (reuse_how & (64 | 128))
		t_jres(i, "pwrite", pwrite(reuse_fd, "BBBB", 4, 0));
	else if (reuse_how & 32)
		t_jres(i, "ftruncate", ftruncate(reuse_fd, 0));
	else if (reuse_how & 16)
		t_jres(i, "setfl-append", fcntl(reuse_fd, F_SETFL, O_APPEND));
	else if (reuse_how & 1)
		t_jres(i, "dup2", dup2(reuse_other, reuse_fd) == reuse_fd);
	else
		t_jres(i, "close", close(reuse_fd));
	t_jout(i, "\n");
}

static void number_reused_under_read(int how)
{
	alarm(20);
	t_fs_dir();
	t_load_api();
	reuse_how = how;
	reuse_buf = malloc(REUSE_COLD);
	reuse_other = t_abc_file("other", 1 << 20, 0, 0);
	int fd = open("orig", O_RDWR | O_CREAT | O_TRUNC, 0644);
	memset(reuse_buf, 'X', REUSE_COLD);
	write(fd, reuse_buf, reuse_how & (8 | 16 | 64) ? 1 << 20 : REUSE_COLD);
	lseek(fd, 0, SEEK_SET);
	t_evict(fd);
	reuse_fd = fd;
	t_spawn(reuse_reader, 0);
	t_spawn(reuse_closer, 1);
	t_finish();
	struct stat a, b;
	stat("orig", &a);
	stat("other", &b);
	t_out("sizes: orig=%ld other=%ld\n", (long)a.st_size, (long)b.st_size);
	char head[8] = { 0 };
	pread(open("orig", O_RDONLY), head, 5, 0);
	t_out("orig starts '%s'\n", head);
}

static void c14_dup2_over_cold_pread(void) { number_reused_under_read(1); }
static void c14_close_under_cold_pread(void) { number_reused_under_read(0); }
static void c14_dup2_over_cold_read(void) { number_reused_under_read(5); }
static void c14_dup2_over_ftruncate(void) { number_reused_under_read(9); }
static void c14_setfl_append_over_write(void) { number_reused_under_read(16); }
static void c14_ftruncate_after_pwrite(void) { number_reused_under_read(48); }
static void c14_pwrite_after_ftruncate(void) { number_reused_under_read(64); }
static void c14_pwrite_after_pwrite(void) { number_reused_under_read(16 | 32 | 128); }


/* ---- the table --------------------------------------------------------- */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c14_preadv2_minus2_cold, T_BACKEND),
	C(c14_preadv2_minus2_direct, 0),
	C(c14_offsets_near_max, 0),
	C(c14_rwf_flags_file, 0),
	C(c14_rwf_flags_o_append, 0),
	C(c14_rwf_flags_memfd, 0),
	C(c14_fifo_no_writer_blocking, T_BACKEND),
	C(c14_fifo_flags, T_BACKEND),
	C(c14_fifo_open_ended_off_cpu, T_BACKEND),
	C(c14_kinds_misc, 0),
	C(c14_memfd_seals, 0),
	C(c14_proc_files, 0),
	C(c14_vectors_file, 0),
	C(c14_vectors_pipe, 0),
	C(c14_vectors_socket, 0),
	C(c14_buffer_is_own_mmap, 0),
	C(c14_dup2_over_cold_pread, T_OWNCORO | T_BACKEND),
	C(c14_close_under_cold_pread, T_OWNCORO | T_BACKEND),
	C(c14_dup2_over_cold_read, T_OWNCORO | T_BACKEND),
	C(c14_dup2_over_ftruncate, T_OWNCORO | T_BACKEND),
	C(c14_setfl_append_over_write, T_OWNCORO | T_BACKEND),
	C(c14_ftruncate_after_pwrite, T_OWNCORO | T_BACKEND),
	C(c14_pwrite_after_ftruncate, T_OWNCORO | T_BACKEND),
	C(c14_pwrite_after_pwrite, T_OWNCORO | T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "exact-files", 150);
}
