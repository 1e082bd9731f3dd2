/* A deadline bounds every call inside a coroutine, files included.
 *
 * A file's read, write or fsync that the disk is still busy with must end
 * at the coroutine's I/O deadline (ETIMEDOUT) or at asy_cancel()
 * (ECANCELED), and the op the engine leaves behind must never touch the
 * program's memory afterwards: a read never writes into the buffer once
 * the call has returned, a write never takes bytes the program put into
 * its buffer after the call returned.  Each case runs under uring and
 * threads; the timings asserted are generous (the bound is the deadline
 * plus SLACK_MS, where waiting for the disk takes hundreds of ms here),
 * `make bench-deadline` measures the real lateness. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "t-helpers.h"

#define MIB (1024L * 1024)
#define SLACK_MS 50
#define DIRTY_MIB 128
#define COLD_MIB 64

static long ms_since(int64_t t0)
{
	return (long)((t_api.now() - t0) / 1000000);
}

/* A file under /var/tmp (a disk, not tmpfs), already unlinked. */
static int disk_file(int flags)
{
	char path[] = "/var/tmp/asy-dl-XXXXXX";
	int fd = mkostemp(path, flags);
	if (fd < 0) {
		perror("mkostemp");
		exit(1);
	}
	unlink(path);
	return fd;
}

/* mib MiB of byte c written by this (plain) thread: dirty page cache. */
static void fill(int fd, int mib, int c)
{
	static char chunk[1 << 20];
	memset(chunk, c, sizeof chunk);
	for (int i = 0; i < mib; i++)
		if (pwrite(fd, chunk, sizeof chunk, (off_t)i * MIB) != (ssize_t)sizeof chunk) {
			perror("pwrite");
			exit(1);
		}
}

/* "what=ended" when the call returned by deadline + SLACK_MS with
 * ETIMEDOUT (or, the disk being quick, had finished in time); the
 * details otherwise. */
static void ended(int i, const char *what, long r, int err, long late_ms)
{
	if ((r >= 0 || err == ETIMEDOUT || err == ECANCELED) && late_ms <= SLACK_MS)
		t_jout(i, "%s=ended ", what);
	else
		t_jout(i, "%s=%ld %s late=%ldms ", what, r, r < 0 ? t_errname(err) : "", late_ms);
	fprintf(stderr, "%s: r=%ld errno=%s late=%ldms\n", what, r, r < 0 ? t_errname(err) : "-",
		late_ms);
}

/* ---- fsync of much dirty data --------------------------------------- */

static int fs_fd;

/* fn(fd) under an I/O deadline `ms` from now, reported by ended(). */
static void timed(int i, const char *what, int (*fn)(int), int fd, long ms)
{
	int64_t t0 = t_api.now();
	t_api.io_deadline(t0 + ms * 1000000L);
	long r = fn(fd);
	int e = errno;
	long late = ms_since(t0) - ms;
	t_api.io_deadline(-1);
	ended(i, what, r, e, late);
}

static void j_fsync(int i)
{
	timed(i, "fsync", fsync, fs_fd, 5);
	/* The fsync left behind still holds the file; closing it is fine. */
	t_jres(i, "close", close(fs_fd));
	t_jout(i, "\n");
}

static void c_fsync(void)
{
	fs_fd = disk_file(0);
	fill(fs_fd, DIRTY_MIB, 'x');
	t_spawn(j_fsync, 0);
	t_finish();
}

/* syncfs runs on a worker as the program's own call: left behind there. */
static void j_syncfs(int i)
{
	timed(i, "syncfs", syncfs, fs_fd, 5);
	/* The next metadata calls on workers answer as usual meanwhile. */
	struct stat st;
	t_jres(i, "fstatat", fstatat(AT_FDCWD, "/var/tmp", &st, 0));
	t_jout(i, "dir=%d\n", S_ISDIR(st.st_mode));
	close(fs_fd);
}

static void c_syncfs(void)
{
	fs_fd = disk_file(0);
	fill(fs_fd, DIRTY_MIB, 's');
	t_spawn(j_syncfs, 0);
	t_finish();
}

/* ---- asy_cancel of an fsync ------------------------------------------ */

static int cs_victim;
static int64_t cs_when;

static void j_cancelled(int i)
{
	long r = fdatasync(fs_fd);
	int e = errno;
	ended(i, "fdatasync", r, e, cs_when ? ms_since(cs_when) : 0);
	t_jout(i, "\n");
}

static void j_cancel(int i)
{
	t_api.sleep(t_api.now() + 5 * 1000000L);
	cs_when = t_api.now();
	t_jres(i, "cancel", t_api.cancel(cs_victim));
	t_jout(i, "\n");
}

static void c_cancel_sync(void)
{
	fs_fd = disk_file(0);
	fill(fs_fd, DIRTY_MIB, 'y');
	cs_victim = t_spawn(j_cancelled, 0);
	t_spawn(j_cancel, 1);
	t_finish();
}

/* ---- cold reads -------------------------------------------------------- */

static int rd_fd;
static unsigned char *rd_buf;

/* Bytes of buf[from, n) that are not c. */
static long not_c(const unsigned char *buf, long from, long n, int c)
{
	long bad = 0;
	for (long k = from < 0 ? 0 : from; k < n; k++)
		bad += buf[k] != c;
	return bad;
}

static void cold_read(int i, int positional)
{
	const long n = COLD_MIB * MIB;
	posix_fadvise(rd_fd, 0, 0, POSIX_FADV_DONTNEED);
	memset(rd_buf, 0xAA, (size_t)n);
	lseek(rd_fd, 0, SEEK_SET);
	int64_t t0 = t_api.now();
	t_api.io_deadline(t0 + 2 * 1000000L);
	long r = positional ? read(rd_fd, rd_buf, (size_t)n) : pread(rd_fd, rd_buf, (size_t)n, 0);
	int e = errno;
	long late = ms_since(t0) - 2;
	t_api.io_deadline(-1);
	ended(i, positional ? "read" : "pread", r, e, late);
	/* What the read returned is the file's; nothing past it may change
	 * once the call returned, while the op left behind finishes. */
	long head = r > 0 ? r : 0;
	long before = not_c(rd_buf, head, n, 0xAA);
	t_api.sleep(t_api.now() + 600 * 1000000L);
	long after = not_c(rd_buf, head, n, 0xAA);
	t_jout(i, "data=%s untouched=%s ", not_c(rd_buf, 0, head, 'r') ? "wrong" : "ok",
	       before == 0 && after == 0 ? "yes" : "NO");
}

static void j_cold(int i)
{
	cold_read(i, 0);
	cold_read(i, 1);
	/* The file reads on as before. */
	char b[4];
	t_jres(i, "then", pread(rd_fd, b, sizeof b, 5 * MIB));
	t_jout(i, "'%.4s'\n", b);
}

static void c_cold(void)
{
	rd_fd = disk_file(0);
	fill(rd_fd, COLD_MIB, 'r');
	fsync(rd_fd);
	rd_buf = malloc(COLD_MIB * MIB);
	t_spawn(j_cold, 0);
	t_finish();
	free(rd_buf);
	close(rd_fd);
}

/* ---- a synchronous write left behind ------------------------------- */

static void j_write(int i)
{
	const long n = 4 * MIB;
	int fd = disk_file(O_DSYNC);
	unsigned char *buf = malloc((size_t)n);
	memset(buf, 0xAA, (size_t)n);
	int64_t t0 = t_api.now();
	t_api.io_deadline(t0 + 2 * 1000000L);
	long r = pwrite(fd, buf, (size_t)n, 0);
	int e = errno;
	long late = ms_since(t0) - 2;
	t_api.io_deadline(-1);
	ended(i, "pwrite", r, e, late);
	/* The program reuses its buffer at once: the write left behind
	 * must have taken its bytes when the call was made. */
	memset(buf, 0x55, (size_t)n);
	t_api.sleep(t_api.now() + 1000 * 1000000L);
	long bad = 0;
	for (long off = 0; off < n; off += MIB) {
		long got = pread(fd, buf, MIB, off);
		for (long k = 0; k < got; k++)
			bad += buf[k] == 0x55;
	}
	t_jout(i, "later-bytes-in-file=%ld\n", bad);
	free(buf);
	close(fd);
}

static void c_write(void)
{
	t_spawn(j_write, 0);
	t_finish();
}

static const struct t_case cases[] = {
	{ "fsync", c_fsync, T_OWNCORO },
	{ "cancel_sync", c_cancel_sync, T_OWNCORO },
	{ "cold", c_cold, T_OWNCORO },
	{ "write", c_write, T_OWNCORO },
	{ "syncfs", c_syncfs, T_OWNCORO },
	{ NULL, NULL, 0 },
};

static const char *const want[] = {
	"0: fsync=ended close=0 \n",
	"0: fdatasync=ended \n1: cancel=0 \n",
	"0: pread=ended data=ok untouched=yes read=ended data=ok untouched=yes then=4 'rrrr'\n",
	"0: pwrite=ended later-bytes-in-file=0\n",
	"0: syncfs=ended fstatat=0 dir=1\n",
};

static enum t_variant variants[2];
static int nvariants;

START_TEST(deadline_files)
{
	static struct t_result r;
	for (int v = 0; v < nvariants; v++) {
		ck_assert_int_eq(t_run(cases[_i].name, variants[v], &r, 60), 0);
		ck_assert_msg(!strcmp(r.out, want[_i]), "%s under %s:\n%s\n%s", cases[_i].name,
			      t_variant_name[variants[v]], r.out, r.err);
	}
}
END_TEST

int main(int argc, char **argv)
{
	t_load_api();
	if (t_case_main(argc, argv, cases) >= 0)
		return 0;
	nvariants = t_engine_variants(variants, "check-deadline");
	Suite *s = suite_create("deadline");
	TCase *tc = tcase_create("deadline");
	tcase_set_timeout(tc, 240);
	tcase_add_loop_test(tc, deadline_files, 0, 5);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
