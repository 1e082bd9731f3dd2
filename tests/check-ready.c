/* Many coroutines waiting for readiness at once.
 *
 * On the threads backend the scheduler's own thread polls the fds its
 * coroutines wait for, and hands them to workers while it also has calls
 * out on the pool (runtime/engine/ready.c).  Each case runs as coroutines
 * on one thread under the shim and as plain threads without it, and must
 * print the same lines: waits mixed with file calls on workers, more
 * waiting fds than one poll array holds at first, and more than
 * RLIMIT_NOFILE in all. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "t-helpers.h"

/* Two jobs play ping-pong over a socket pair while a third syncs a file
 * (an op on the pool each time): the waits go to workers and back. */
static int mx[2];

static void j_mixed(int i)
{
	char b[8];
	long ok = 0;
	if (i == 2) {
		char path[] = "/tmp/asy-t-XXXXXX";
		int fd = mkstemp(path);
		unlink(path);
		for (int k = 0; k < 20; k++)
			ok += pwrite(fd, "data", 4, k * 4) == 4 && fsync(fd) == 0;
		close(fd);
		t_jout(i, "synced=%ld\n", ok);
		return;
	}
	for (int r = 0; r < 300; r++) {
		if (i == 0) {
			ok += write(mx[0], "ping", 4) == 4 && read(mx[0], b, sizeof b) == 4;
		} else {
			ok += read(mx[1], b, sizeof b) == 4 && write(mx[1], "pong", 4) == 4;
		}
	}
	t_jout(i, "rounds=%ld\n", ok);
}

static void r_mixed(void)
{
	alarm(20);
	t_pair(T_UNIX_STREAM, mx);
	for (int i = 0; i < 3; i++)
		t_spawn(j_mixed, i);
	t_finish();
}

/* JOBS jobs each poll() one pipe twice over (two entries), then read it;
 * the last one writes.  Together more entries than a first poll array
 * holds (512) and, with RLIMIT_NOFILE at 256, more than one poll() may
 * take: each program's poll is valid alone, and must still end. */
#define JOBS 300
static int pp[2];

static void j_many(int i)
{
	if (i == JOBS) {
		usleep(30000);
		char b[JOBS];
		memset(b, 'x', sizeof b);
		t_jres(i, "wrote", write(pp[1], b, sizeof b));
		t_jout(i, "\n");
		return;
	}
	struct pollfd p[2] = { { .fd = pp[0], .events = POLLIN }, { .fd = pp[0], .events = POLLIN } };
	int n = poll(p, 2, 5000);
	char c;
	long r = read(pp[0], &c, 1);
	if (i < 3 || n != 2 || p[0].revents != POLLIN || r != 1)
		t_jout(i, "poll=%d revents=%#x read=%ld", n, p[0].revents, r);
	t_jout(i, "\n");
}

static void many(int limit)
{
	alarm(20);
	if (pipe(pp) < 0)
		exit(1);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	struct rlimit low = { (rlim_t)limit, rl.rlim_max };
	if (limit && setrlimit(RLIMIT_NOFILE, &low) < 0)
		exit(1);
	for (int i = 0; i <= JOBS; i++)
		t_spawn(j_many, i);
	t_finish();
	if (limit)
		setrlimit(RLIMIT_NOFILE, &rl);
	char c;
	t_out("left=%ld\n", (long)read(pp[0], &c, 0));
}

static void r_many(void)
{
	many(0);
}

static void r_over_limit(void)
{
	many(256);
}

static const struct t_case cases[] = {
	{ "r_mixed", r_mixed, T_BACKEND | T_OWNCORO },
	{ "r_many", r_many, T_BACKEND | T_OWNCORO },
	{ "r_over_limit", r_over_limit, T_BACKEND | T_OWNCORO },
	{ NULL, NULL, 0 },
};

#define NCASES 3

static enum t_variant variants[2];
static int nvariants;

START_TEST(like_threads)
{
	t_compare_all(&cases[_i], variants, nvariants);
}
END_TEST

int main(int argc, char **argv)
{
	t_load_api();
	if (t_case_main(argc, argv, cases) >= 0)
		return 0;
	nvariants = t_engine_variants(variants, "check-ready");
	Suite *s = suite_create("ready");
	TCase *tc = tcase_create("ready");
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, like_threads, 0, NCASES);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
