/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks that a
 * continuation must not do what the single call would not: a write cut
 * short by a closed peer returns its partial count once, with SIGPIPE at
 * its default or blocked.
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

static void block_signal(int sig)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* ==== class 4: a continuation must not do what the single call would not */

enum peer { PEER_UNIX, PEER_PIPE, PEER_TCP };

static const char *count_bucket(long n, long all)
{
	return n < 0 ? "failed" : n == 0 ? "0" : n < all ? "partial" : n == all ? "all" : "more";
}

/* A child writes 1 MiB (default SIGPIPE, or blocked); the parent reads
 * 200 KiB and closes.  The child prints what its one call returned. */
static void partial_then_close(enum peer peer, int use_writev, int block)
{
	static char big[MiB];
	int fds[2], res[2], w, r;
	net(8);
	if (peer == PEER_TCP) {
		if (tcp_pair(&w, &r, 32768) < 0) {
			t_out("no loopback TCP here\n");
			return;
		}
	} else {
		if (peer == PEER_PIPE)
			pipe(fds);
		else
			socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
		r = fds[0];
		w = fds[1];
	}
	pipe(res);
	pid_t pid = fork();
	if (pid == 0) {
		char line[128];
		close(r);
		alarm(6);
		signal(SIGPIPE, SIG_DFL);
		if (block)
			block_signal(SIGPIPE);
		struct iovec v[4];
		for (int i = 0; i < 4; i++)
			v[i] = (struct iovec){ big + i * (MiB / 4), MiB / 4 };
		long n = use_writev ? writev(w, v, 4) : write(w, big, MiB);
		int e = errno;
		int len = snprintf(line, sizeof line, "write=%s%s%s pending=%d\n", count_bucket(n, MiB),
				   n < 0 ? " " : "", n < 0 ? t_errname(e) : "", pending(SIGPIPE));
		write(res[1], line, (size_t)len);
		_exit(0);
	}
	close(w);
	close(res[1]);
	t_out("parent read=%ld\n", read_n(r, 200 * KiB));
	close(r);
	child_line(res[0]);
	int st;
	waitpid(pid, &st, 0);
	show_status("child", st);
}

static void c4_sigpipe_unix_partial_write(void) { partial_then_close(PEER_UNIX, 0, 0); }
static void c4_sigpipe_pipe_partial_write(void) { partial_then_close(PEER_PIPE, 0, 0); }
static void c4_sigpipe_tcp_partial_write(void) { partial_then_close(PEER_TCP, 0, 0); }
static void c4_sigpipe_unix_partial_writev(void) { partial_then_close(PEER_UNIX, 1, 0); }
static void c4_sigpipe_blocked_pipe_partial(void) { partial_then_close(PEER_PIPE, 0, 1); }
static void c4_sigpipe_blocked_unix_partial(void) { partial_then_close(PEER_UNIX, 0, 1); }

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c4_sigpipe_unix_partial_write, T_NOCORO),
	C(c4_sigpipe_pipe_partial_write, T_NOCORO),
	C(c4_sigpipe_tcp_partial_write, T_NOCORO),
	C(c4_sigpipe_unix_partial_writev, T_NOCORO),
	C(c4_sigpipe_blocked_pipe_partial, T_NOCORO),
	C(c4_sigpipe_blocked_unix_partial, T_NOCORO),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-continue", 150);
}
