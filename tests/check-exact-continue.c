/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks that a
 * continuation must not do what the single call would not: a write cut
 * short by a closed peer returns its partial count once, with SIGPIPE at
 * its default or blocked; a stream's recvmsg with a control buffer that
 * goes on past its first bytes (MSG_WAITALL, SO_RCVLOWAT) gets the fds
 * passed with later bytes and stops after them, as the kernel's loop
 * does (a continuation made without the control buffer dropped them: the
 * kernel closed them), and glues one writer's bytes under SO_PASSCRED
 * (the first look's credentials ended it short); a stream receive that
 * goes on stops at the urgent mark (MSG_OOB) of TCP and unix sockets, as
 * the kernel's stops once it copied (the continuation passed the mark,
 * skipping the urgent byte: MSG_OOB then found none); a unix stream
 * sendmsg sent in parts keeps its explicit SCM_CREDENTIALS on every byte
 * and its fds with the first bytes only (the rest went with the sender's
 * own credentials).
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

/* A stream recvmsg with room for 25 bytes and a control buffer, under
 * MSG_WAITALL or SO_RCVLOWAT 12: 5 bytes are queued; 50 ms later 10 come
 * with an fd (SCM_RIGHTS), 50 ms after that 10 more.  The kernel's call
 * waits, takes the fd with the second part and stops there; the third
 * part is left for the next call. */
struct ctl_later {
	int fd, with_fd;
};

static void *send_parts_later(void *arg)
{
	const struct ctl_later *c = arg;
	t_msleep(50);
	int passed = open("/dev/null", O_RDONLY);
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec v = { "0123456789", 10 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	if (c->with_fd) {
		m.msg_control = ctl;
		m.msg_controllen = sizeof ctl;
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &passed, sizeof passed);
	}
	sendmsg(c->fd, &m, 0);
	close(passed);
	t_msleep(50);
	write(c->fd, "ABCDEFGHIJ", 10);
	return NULL;
}

static void recvmsg_control_goes_on(int lowat, int passcred)
{
	int sv[2], on = 1;
	char b[32], ctl[256];
	alarm(5);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (lowat)
		setsockopt(sv[0], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
	if (passcred)
		setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	write(sv[1], "abcde", 5);
	struct ctl_later c = { sv[1], !passcred };
	pthread_t th;
	pthread_create(&th, NULL, send_parts_later, &c);
	struct iovec v = { b, 25 };
	/* on the stack, and (SO_RCVLOWAT) on the heap: the engine reads the
	 * control length of either before the kernel has */
	struct msghdr on_stack, *mp = lowat ? malloc(sizeof *mp) : &on_stack;
	*mp = (struct msghdr){ .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl,
			       .msg_controllen = sizeof ctl };
	long n = recvmsg(sv[0], mp, lowat ? 0 : MSG_WAITALL);
	struct msghdr m = *mp;
	if (mp != &on_stack)
		free(mp);
	t_out("recvmsg=%ld '%.*s' flags=%#x\n", n, (int)(n > 0 ? n : 0), b, m.msg_flags);
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		int fd = -1;
		struct ucred cr = { 0 };
		if (h->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(h), sizeof fd);
		else
			memcpy(&cr, CMSG_DATA(h), sizeof cr);
		t_out("  %s: %s\n", h->cmsg_type == SCM_RIGHTS ? "fd" : "creds",
		      h->cmsg_type == SCM_RIGHTS ? t_yes(fcntl(fd, F_GETFD) >= 0)
						 : t_yes(cr.pid == getpid()));
		if (fd >= 0)
			close(fd);
	}
	pthread_join(th, NULL);
	n = recv(sv[0], b, sizeof b, MSG_DONTWAIT);
	t_out("then=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
	close(sv[0]);
	close(sv[1]);
}

static void c4_waitall_recvmsg_fds_later(void) { recvmsg_control_goes_on(0, 0); }
static void c4_lowat_recvmsg_fds_later(void) { recvmsg_control_goes_on(12, 0); }
static void c4_waitall_recvmsg_creds_one_writer(void) { recvmsg_control_goes_on(0, 1); }

/* A stream receive of 20 that goes on (MSG_WAITALL, or SO_RCVLOWAT 12
 * with recv or read): 5 bytes are queued; 50 ms later an urgent byte
 * comes alone (MSG_OOB), 50 ms after that 20 bytes.  The kernel's call
 * stops at the mark with the 5; the urgent byte is MSG_OOB's. */
static void *send_urgent_later(void *arg)
{
	int fd = *(int *)arg;
	t_msleep(50);
	send(fd, "X", 1, MSG_OOB);
	t_msleep(50);
	write(fd, "ABCDEFGHIJKLMNOPQRST", 20);
	return NULL;
}

static void stops_at_urgent_mark(int kind, int how)
{
	int s[2], lowat = 12, at = -1;
	char b[64];
	alarm(5);
	t_pair(kind, s);
	if (how)
		setsockopt(s[1], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
	write(s[0], "abcde", 5);
	pthread_t th;
	pthread_create(&th, NULL, send_urgent_later, &s[0]);
	long n = how == 2 ? read(s[1], b, 20) : recv(s[1], b, 20, how ? 0 : MSG_WAITALL);
	t_show("receive", b, n);
	pthread_join(th, NULL);
	t_msleep(20);
	ioctl(s[1], SIOCATMARK, &at);
	t_out("at mark=%d\n", at);
	t_show("urgent", b, recv(s[1], b, 1, MSG_OOB));
	t_show("rest", b, recv(s[1], b, sizeof b, MSG_DONTWAIT));
	close(s[0]);
	close(s[1]);
}

static void c4_tcp_waitall_stops_at_urgent_mark(void) { stops_at_urgent_mark(T_TCP, 0); }
static void c4_tcp_lowat_stops_at_urgent_mark(void) { stops_at_urgent_mark(T_TCP, 1); }
static void c4_tcp_read_lowat_stops_at_urgent_mark(void) { stops_at_urgent_mark(T_TCP, 2); }
static void c4_unix_waitall_stops_at_urgent_mark(void) { stops_at_urgent_mark(T_UNIX_STREAM, 0); }
static void c4_unix_read_lowat_stops_at_urgent_mark(void) { stops_at_urgent_mark(T_UNIX_STREAM, 2); }

/* One unix stream sendmsg of 300000 bytes with an fd and explicit
 * credentials (uid 1234 as root), into a 4 KiB send buffer that a reader
 * with SO_PASSCRED empties only after 100 ms: the kernel puts the
 * credentials on every byte and the fd on the first ones.  The reader
 * prints each run of bytes with the same uid, and the fds it got. */
#define CRED_N 300000
static void *cred_reader(void *arg)
{
	static char buf[CRED_N];
	int fd = *(int *)arg, fds = 0;
	long total = 0, last = -1;
	t_msleep(100);
	while (total < CRED_N + 1) {
		union {
			struct cmsghdr h;
			char b[1024];
		} ctl;
		struct iovec v = { buf, sizeof buf };
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl.b,
				    .msg_controllen = sizeof ctl.b };
		long r = recvmsg(fd, &m, 0);
		if (r <= 0)
			break;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			struct ucred cr;
			if (h->cmsg_type == SCM_RIGHTS) {
				int got = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				for (int i = 0; i < got; i++) {
					int f;
					memcpy(&f, CMSG_DATA(h) + i * sizeof(int), sizeof f);
					close(f);
				}
				fds += got;
			} else if (h->cmsg_type == SCM_CREDENTIALS) {
				memcpy(&cr, CMSG_DATA(h), sizeof cr);
				if ((long)cr.uid != last)
					t_out("uid %u from byte %ld\n", cr.uid, total);
				last = (long)cr.uid;
			}
		}
		total += r;
	}
	t_out("received %ld bytes, %d fd\n", total, fds);
	return NULL;
}

#define CRED_FDS 64
static void send_creds_and_fds(int nfds)
{
	static char data[CRED_N];
	int sv[2], on = 1, size = 4096, passed[CRED_FDS];
	for (int i = 0; i < nfds; i++)
		passed[i] = open("/dev/null", O_RDONLY);
	alarm(5);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	pthread_t th;
	pthread_create(&th, NULL, cred_reader, &sv[1]);
	write(sv[0], "A", 1); /* the sender's own credentials */
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof passed) + CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec v = { data, CRED_N };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl.b,
			    .msg_controllen = CMSG_SPACE(nfds * sizeof(int)) +
					      CMSG_SPACE(sizeof(struct ucred)) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(h), passed, nfds * sizeof(int));
	h = CMSG_NXTHDR(&m, h);
	struct ucred cr = { getpid(), geteuid() ? geteuid() : 1234, geteuid() ? getegid() : 1234 };
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_CREDENTIALS;
	h->cmsg_len = CMSG_LEN(sizeof cr);
	memcpy(CMSG_DATA(h), &cr, sizeof cr);
	long n = sendmsg(sv[0], &m, 0);
	pthread_join(th, NULL);
	t_res("sendmsg", n);
	for (int i = 0; i < nfds; i++)
		close(passed[i]);
	close(sv[0]);
	close(sv[1]);
}

static void c4_unix_send_creds_on_every_part(void) { send_creds_and_fds(1); }
/* Control data longer than the shim's own buffer for a part's: the fds
 * need no room there, the credentials still go on every part. */
static void c4_unix_send_creds_with_many_fds(void) { send_creds_and_fds(CRED_FDS); }

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
	C(c4_waitall_recvmsg_fds_later, T_BACKEND),
	C(c4_lowat_recvmsg_fds_later, T_BACKEND),
	C(c4_waitall_recvmsg_creds_one_writer, T_BACKEND),
	C(c4_tcp_waitall_stops_at_urgent_mark, T_BACKEND),
	C(c4_tcp_lowat_stops_at_urgent_mark, T_BACKEND),
	C(c4_tcp_read_lowat_stops_at_urgent_mark, T_BACKEND),
	C(c4_unix_waitall_stops_at_urgent_mark, T_BACKEND),
	C(c4_unix_read_lowat_stops_at_urgent_mark, T_BACKEND),
	C(c4_unix_send_creds_on_every_part, T_BACKEND),
	C(c4_unix_send_creds_with_many_fds, T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-continue", 150);
}
