/* Differential fuzzing of the data calls, as in every check-exact-*
 * program: each case runs without the shim, under off, uring and threads,
 * and inside a coroutine (uring-coro, threads-coro), and must print what
 * plain glibc prints and end the same way.
 *
 * A case is a seed.  It opens fds of every kind the engine tells apart
 * (pipes, unix stream/datagram/seqpacket, TCP and UDP pairs, eventfd,
 * timerfd, signalfd, files plain, O_APPEND and O_DIRECT, memfd,
 * /dev/null, zero and full, a directory, an O_PATH fd, epoll), then makes
 * a few hundred calls drawn at random from the hooked data calls, with
 * arguments drawn from the edges: zero, small, page-sized and huge
 * counts, NULL and read-only buffers and ones that end at an unmapped
 * page, NULL, empty and oversized vectors, offsets of -1, -2 and near
 * LLONG_MAX, unknown RWF and MSG flags, O_NONBLOCK, SO_RCVTIMEO,
 * SO_RCVLOWAT and shutdowns set in between, fds dup'd, closed and reopened
 * (so the lowest free number is printed), SIGPIPE handled or ignored and
 * RLIMIT_FSIZE set.  Between them come calls on names (open, stat, statx,
 * access, link, rename, unlink, mkdir, readlink, FIFOs …, with bad and
 * long names and bad directory fds), sizes, locks and syncs, and
 * readiness (poll, ppoll, select, epoll_wait over a few fds, accept and
 * connect), and reads, writes and readiness waits that another thread
 * ends 3 ms later by writing or reading, so that a coroutine's call takes
 * the engine's wait.  Each call prints its result, errno, a hash of what it read
 * and the file position after it.
 *
 * Nothing may wait for ever: before a call that could block, a look with
 * poll() and FIONREAD (the same looks in every variant, so the same
 * decision) says whether it would; if so it is made only when the fd has a
 * socket timeout, else the line says "skip".  Every variant must then
 * print the same lines.  ASY_T_FUZZ_SEED and ASY_T_FUZZ_OPS override a
 * case's seed and length, to search by hand (tests/fuzz/fuzz-seeds.sh).  The calls live in tests/fuzz/. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "t-helpers.h"
#include "fuzz/fuzz.h"

static void on_pipe(int sig)
{
	(void)sig;
	fz_sigpipes++;
}

static void on_xfsz(int sig)
{
	(void)sig;
	fz_sigxfszs++;
}

/* How this run treats SIGPIPE and SIGXFSZ, and its file size limit. */
static void process_state(uint64_t seed)
{
	struct sigaction sa = { .sa_flags = fz_chance(50) ? SA_RESTART : 0 };
	int pipe_ign = fz_chance(50), xfsz_ign = fz_chance(50), fsize = fz_chance(30);
	sa.sa_handler = pipe_ign ? SIG_IGN : on_pipe;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = xfsz_ign ? SIG_IGN : on_xfsz;
	sigaction(SIGXFSZ, &sa, NULL);
	struct rlimit rl = { 1 << 20, 1 << 20 };
	if (fsize)
		setrlimit(RLIMIT_FSIZE, &rl);
	sigset_t usr1; /* raised for a signalfd to read */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	t_out("seed=%llu sigpipe=%s sigxfsz=%s restart=%d fsize=%d\n", (unsigned long long)seed,
	      pipe_ign ? "ign" : "handled", xfsz_ign ? "ign" : "handled",
	      !!(sa.sa_flags & SA_RESTART), fsize);
}

static int buffers(void)
{
	/* the buffer, an unmapped page, a read-only one and another unmapped
	 * one: what lies past the mapping differs with and without the shim */
	fz_buf = mmap(NULL, BUF + 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fz_pattern = malloc(BUF);
	if (fz_buf == MAP_FAILED || !fz_pattern)
		return -1;
	mprotect(fz_buf + BUF, 4096, PROT_NONE);
	fz_rdonly = fz_buf + BUF + 4096;
	mprotect(fz_rdonly, 4096, PROT_READ);
	mprotect(fz_rdonly + 4096, 4096, PROT_NONE);
	for (long k = 0; k < BUF; k++)
		fz_pattern[k] = (char)('a' + (k * 7 + k / 4096) % 26);
	memcpy(fz_buf, fz_pattern, BUF);
	return 0;
}

static void fuzz(uint64_t seed, int nops)
{
	fz_seed(seed);
	fz_dir = getenv("ASY_T_TMP") ? getenv("ASY_T_TMP") : "/tmp";
	fz_tame = getenv("ASY_SANITIZE") && *getenv("ASY_SANITIZE");
	if (buffers() < 0) {
		t_out("no memory\n");
		return;
	}
	for (int k = 0; k < NSLOT; k++)
		fz_slot[k].fd = -1;
	process_state(seed);
	for (int k = 0; k < 8; k++)
		fz_make((enum kind)fz_below(K_NKINDS));
	for (int i = 0; i < nops; i++) {
		long p = fz_below(100);
		if (p < 4) {
			fz_make((enum kind)fz_below(K_NKINDS));
			continue;
		}
		if (p < 5) {
			raise(SIGUSR1); /* pending for a signalfd to read */
			continue;
		}
		if (p < 12) {
			fz_names(i);
			continue;
		}
		if (p < 16) {
			fz_ready(i);
			continue;
		}
		if (p < 20) {
			long w = fz_below(10);
			if (w < 5)
				fz_wait_read(i);
			else if (w < 8)
				fz_wait_ready(i);
			else
				fz_wait_write(i);
			continue;
		}
		int s = fz_any_slot();
		if (s < 0) {
			fz_make((enum kind)fz_below(K_NKINDS));
			continue;
		}
		if (p < 31)
			fz_rw(i, s, (int)fz_below(4));
		else if (p < 43)
			fz_rwv(i, s, (int)fz_below(6));
		else if (p < 54)
			fz_recv(i, s, (int)fz_below(3));
		else if (p < 64)
			fz_send(i, s, (int)fz_below(3));
		else if (p < 68)
			fz_mmsg(i, s, (int)fz_below(2));
		else if (p < 79)
			fz_change(i, s);
		else if (p < 86)
			fz_file(i, s);
		else if (p < 93)
			fz_copy(i, s);
		else
			fz_poll(i, s);
	}
	for (int k = 0; k < NSLOT; k++)
		if (fz_slot[k].fd >= 0)
			fz_poll(-1, k);
}

static uint64_t env_or(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

#define OPS 220
#define FZ(n) \
	static void fz_##n(void) \
	{ \
		fuzz(env_or("ASY_T_FUZZ_SEED", n), (int)env_or("ASY_T_FUZZ_OPS", OPS)); \
	}
FZ(1) FZ(2) FZ(3) FZ(4) FZ(5) FZ(6) FZ(7) FZ(8) FZ(9) FZ(10) FZ(11) FZ(12)
#undef FZ

#define C(name) { #name, name, 0 }
static const struct t_case cases[] = {
	C(fz_1), C(fz_2), C(fz_3), C(fz_4), C(fz_5), C(fz_6),
	C(fz_7), C(fz_8), C(fz_9), C(fz_10), C(fz_11), C(fz_12),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-fuzz", 150);
}
