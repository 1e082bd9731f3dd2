/* asy_io_deadline and asy_cancel inside coroutines (issue 10, "Inside
 * coroutines"): what only the engine can answer, so each case's output
 * is compared with the exact lines it must print, under uring and
 * threads.  A deadline ends each kind of socket, readiness and sleeping
 * wait with ETIMEDOUT, a cancel with ECANCELED, and nothing is lost (a
 * datagram is still there, a send's moved bytes are its count); a
 * coroutine already past its deadline or cancelled starts no call at all.
 * A call a worker makes for a coroutine (a FIFO's read, a peek with
 * MSG_WAITALL or a peek offset) holds its file from the moment it is
 * made, as the kernel's call does: a sibling that closes the number and
 * puts another file there before the worker starts changes nothing.
 * The same kinds of wait as threads without the shim: check-net-coro.c. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "asyncify.h"
#include "t-helpers.h"

#define yes t_yes

/* Each kind of wait, on fds nothing will make ready. */
enum { W_RECV, W_RECVFROM, W_RECVMSG, W_PEEK_WAITALL, W_PEEK_OFFSET, W_ACCEPT, W_CONNECT, W_SEND, W_POLL, W_SELECT, W_EPOLL,
       W_NANOSLEEP, W_USLEEP, W_CLOCK_NANOSLEEP, W_N };
static const char *const wname[W_N] = {
	"recv", "recvfrom", "recvmsg", "peek_waitall", "peek_offset", "accept", "connect", "send", "poll", "select", "epoll_wait",
	"nanosleep", "usleep", "clock_nanosleep",
};
static int wdgram[2], wlisten, wfull, wstream[2], wpipe[2], wpeek[2];
static struct sockaddr_storage wfull_addr;
static socklen_t wfull_len;

static void waits_setup(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	socketpair(AF_UNIX, SOCK_DGRAM, 0, wdgram);
	wlisten = t_bound(AF_INET, SOCK_STREAM, 4, &a, &len);
	/* a unix listener whose queue is full: connect waits */
	wfull = t_bound(AF_UNIX, SOCK_STREAM, 0, &wfull_addr, &wfull_len);
	connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&wfull_addr, wfull_len);
	socketpair(AF_UNIX, SOCK_STREAM, 0, wstream);
	t_fill(wstream[0]);
	pipe(wpipe);
	/* a peek offset past all that is queued: a peek waits (on a worker) */
	int off = 0;
	socketpair(AF_UNIX, SOCK_STREAM, 0, wpeek);
	setsockopt(wpeek[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);
	send(wpeek[0], "x", 1, 0);
	char b;
	recv(wpeek[1], &b, 1, MSG_PEEK);
}

/* One wait of kind w; prints "name=result" on job line i. */
static void wait_one(int i, int w)
{
	static char b[4096];
	struct iovec v = { b, 16 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	struct pollfd pf = { wpipe[0], POLLIN, 0 };
	struct timespec ts = { 5, 0 };
	fd_set r;
	FD_ZERO(&r);
	FD_SET(wpipe[0], &r);
	int ep = epoll_create1(0), c = -1;
	struct epoll_event a = { .events = EPOLLIN }, ev;
	epoll_ctl(ep, EPOLL_CTL_ADD, wpipe[0], &a);
	long res = 0;
	switch (w) {
	case W_RECV: res = recv(wdgram[1], b, 16, 0); break;
	case W_RECVFROM: res = recvfrom(wdgram[1], b, 16, 0, NULL, NULL); break;
	case W_RECVMSG: res = recvmsg(wdgram[1], &m, 0); break;
	case W_PEEK_WAITALL: res = recv(wdgram[1], b, 16, MSG_PEEK | MSG_WAITALL); break;
	case W_PEEK_OFFSET: res = recv(wpeek[1], b, 16, MSG_PEEK); break;
	case W_ACCEPT: res = accept(wlisten, NULL, NULL); break;
	case W_CONNECT:
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		res = connect(c, (struct sockaddr *)&wfull_addr, wfull_len);
		break;
	case W_SEND: res = send(wstream[0], b, sizeof b, 0); break;
	case W_POLL: res = poll(&pf, 1, 5000); break;
	case W_SELECT: res = select(wpipe[0] + 1, &r, NULL, NULL, NULL); break;
	case W_EPOLL: res = epoll_wait(ep, &ev, 1, 5000); break;
	case W_NANOSLEEP: res = nanosleep(&ts, NULL); break;
	case W_USLEEP: res = usleep(5000000); break;
	case W_CLOCK_NANOSLEEP:
		res = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		if (res)
			errno = (int)res, res = -1;
		break;
	}
	t_jres(i, wname[w], res);
	close(ep);
	if (c >= 0)
		close(c);
}

/* A deadline 30 ms ahead ends each wait with ETIMEDOUT, soon; then, with
 * no deadline, a datagram sent is received whole (the timed-out recv
 * consumed nothing) and bytes a send moved before its deadline are
 * reported as its count. */
static void j_deadline(int i)
{
	for (int w = 0; w < W_N; w++) {
		int64_t t0 = t_api.now();
		t_api.io_deadline(t0 + 30 * 1000000L);
		wait_one(i, w);
		int64_t el = t_api.now() - t0;
		t_jout(i, "%s", el >= 29 * 1000000L && el < 1000 * 1000000L ? "" : "(not ~30 ms) ");
	}
	t_api.io_deadline(-1);
	send(wdgram[0], "whole", 5, 0);
	char b[16];
	long n = recv(wdgram[1], b, sizeof b, 0);
	t_jout(i, "\nthen=%ld '%.*s' ", n, (int)(n > 0 ? n : 0), b);
	static char big[1 << 20];
	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	t_api.io_deadline(t_api.now() + 30 * 1000000L);
	n = send(s[0], big, sizeof big, 0);
	t_api.io_deadline(-1);
	t_jout(i, "partial send=%s all drained=%s\n", yes(n > 0 && n < (long)sizeof big),
	       yes(t_drain(s[1]) == n));
}

static void k_deadline(void)
{
	alarm(8);
	waits_setup();
	t_spawn(j_deadline, 0);
	t_finish();
}

/* asy_cancel ends each kind of wait with ECANCELED at once; a datagram
 * sent afterwards is still there for the next recv. */
static int victims[W_N];

static void j_victim(int w)
{
	wait_one(w, w);
	t_jout(w, "\n");
}

static void j_canceller(int i)
{
	t_api.sleep(t_api.now() + 30 * 1000000L);
	int ok = 0;
	for (int w = 0; w < W_N; w++)
		ok += t_api.cancel(victims[w]) == 0;
	t_jout(i, "cancelled=%d\n", ok);
	t_api.sleep(t_api.now() + 10 * 1000000L);
	send(wdgram[0], "left", 4, 0);
}

static void k_cancel(void)
{
	alarm(8);
	waits_setup();
	for (int w = 0; w < W_N; w++)
		victims[w] = t_spawn(j_victim, w);
	t_spawn(j_canceller, W_N);
	double t0 = t_ms();
	t_finish();
	t_out("soon: %s\n", yes(t_ms() - t0 < 1000));
	char b[16];
	long n = recv(wdgram[1], b, sizeof b, MSG_DONTWAIT);
	t_out("after=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
}

/* A coroutine already past its I/O deadline (job 0) or cancelled (job
 * 1) starts no call that a worker or the ring would make: each fails at
 * once, and none is started — a name lookup once ran and once failed, by
 * whether a worker took it before the wait saw the cancel.  A call
 * answered without waiting still is (a pipe's bytes), also one a worker
 * makes whole otherwise: a MSG_ZEROCOPY send is made once without
 * waiting, and fails only when it would wait (a full socket). */
static int ended_jobs[2];

static void j_ended(int i)
{
	int p[2], fails[3] = { 0, 0, 0 }, want = i ? ECANCELED : ETIMEDOUT;
	pipe(p);
	write(p[1], "ab", 2);
	int f = t_abc_file(i ? "f1" : "f0", 4096, 0, 0);
	if (i)
		t_api.cancel(ended_jobs[i]);
	else
		t_api.io_deadline(t_api.now() - 1);
	unsigned long before = t_stats().submitted;
	for (int k = 0; k < 20; k++) {
		struct addrinfo h = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
		errno = 0;
		int r = getaddrinfo(k % 2 ? "127.0.0.1" : "localhost", "80", &h, &res);
		fails[0] += r == EAI_SYSTEM && errno == want;
		if (!r)
			freeaddrinfo(res);
	}
	for (int k = 0; k < 20; k++) {
		errno = 0;
		fails[1] += fsync(f) == -1 && errno == want;
	}
	for (int k = 0; k < 20; k++) {
		struct stat st;
		errno = 0;
		fails[2] += stat("/", &st) == -1 && errno == want;
	}
	int sp[2];
	char b[4], z[4096] = { 0 };
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	long zc = send(sp[0], "xy", 2, MSG_ZEROCOPY);
	while (send(sp[0], z, sizeof z, MSG_DONTWAIT) > 0)
		;
	errno = 0;
	int full = send(sp[0], z, sizeof z, MSG_ZEROCOPY) == -1 && errno == want;
	unsigned long started = t_stats().submitted - before;
	long n = read(p[0], b, sizeof b);
	t_jout(i, "lookups=%d fsyncs=%d stats=%d failed, %lu started; read=%ld zc=%ld full=%s\n",
	       fails[0], fails[1], fails[2], started, n, zc, full ? "failed" : "no");
	close(sp[0]);
	close(sp[1]);
	close(p[0]);
	close(p[1]);
	close(f);
}

static void k_ended(void)
{
	alarm(8);
	t_fs_dir();
	for (int i = 0; i < 2; i++)
		ended_jobs[i] = t_spawn(j_ended, i);
	t_finish();
}

/* Job 0 waits in a worker's call on a number (a FIFO's read, a peek with
 * MSG_WAITALL, a peek with an offset, a splice from a pipe), or in a ring
 * op not submitted yet (a pipe's read, a recv: uring); job 1, as
 * soon as job 0 has yielded, closes that number and puts a socket holding
 * "NEW!" there, then 30 ms later writes "OLD!" to job 0's own file: that
 * is what the call returns, as a thread's blocked call would.
 * The lock waits (flock, an OFD lock, a POSIX lock by fcntl and by
 * lockf) wait for another process's lock on "f"; job 1 opens "g" at the
 * number (closed only after the look below) and lets the holder go 30 ms
 * later.  The kernel's call locks
 * "f" — a flock and an OFD lock go when their file's last number is
 * gone, a POSIX lock whose number was closed meanwhile is let go with
 * EBADF — and never "g": both are free afterwards. */
enum { H_FIFO, H_PEEK_WAITALL, H_PEEK_OFFSET, H_SPLICE, H_PIPE, H_RECV, H_FLOCK, H_OFD, H_POSIX,
       H_LOCKF, H_N };
static const char *const hname[H_N] = { "fifo read", "peek waitall", "peek offset", "splice",
					"pipe read", "recv", "flock", "ofd lock", "posix lock",
					"lockf" };
static const char *const hholder[H_N] = { [H_FLOCK] = "flock", [H_OFD] = "ofd",
					  [H_POSIX] = "posix", [H_LOCKF] = "posix" };
static int held_fd, held_peer, held_kind, held_out[2];
static struct t_holder lock_holder;

static long held_lock(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	switch (held_kind) {
	case H_FLOCK: return flock(held_fd, LOCK_EX);
	case H_OFD: return fcntl(held_fd, F_OFD_SETLKW, &fl);
	case H_POSIX: return fcntl(held_fd, F_SETLKW, &fl);
	default: return lockf(held_fd, F_LOCK, 0);
	}
}

/* Whether another process may take "flock" or "posix" locks of path. */
static const char *lock_free(const char *kind, const char *path)
{
	struct t_holder h;
	char nb[16];
	snprintf(nb, sizeof nb, "%s-nb", kind);
	if (t_hold(&h, nb, path) < 0)
		return t_errname(errno);
	t_release(&h);
	return "yes";
}

static void j_held(int i)
{
	char b[16];
	long n;
	if (i == 1 && hholder[held_kind]) {
		close(held_fd);
		int g = open("g", O_RDWR | O_CREAT, 0600);
		if (g != held_fd) {
			dup2(g, held_fd);
			close(g);
		}
		t_api.sleep(t_api.now() + 30 * 1000000L);
		t_release(&lock_holder);
		t_jout(i, "reused\n");
		return;
	}
	if (i == 1) {
		int q[2];
		close(held_fd);
		socketpair(AF_UNIX, SOCK_STREAM, 0, q);
		if (q[0] != held_fd) { /* the lowest free number: often the one closed */
			dup2(q[0], held_fd);
			close(q[0]);
		}
		write(q[1], "NEW!", 4);
		t_api.sleep(t_api.now() + 30 * 1000000L);
		write(held_peer, "OLD!", 4);
		close(q[1]);
		close(held_fd);
		t_jout(i, "reused\n");
		return;
	}
	if (hholder[held_kind]) {
		t_jres(i, hname[held_kind], held_lock());
		t_jout(i, "\n");
		return;
	}
	if (held_kind == H_SPLICE) {
		n = splice(held_fd, NULL, held_out[1], NULL, 4, 0);
		if (n > 0 && read(held_out[0], b, (size_t)n) != n)
			n = -2;
	} else if (held_kind == H_FIFO || held_kind == H_PIPE)
		n = read(held_fd, b, 4);
	else if (held_kind == H_RECV)
		n = recv(held_fd, b, 4, 0);
	else
		n = recv(held_fd, b, 4, MSG_PEEK | (held_kind == H_PEEK_WAITALL ? MSG_WAITALL : 0));
	t_jres(i, hname[held_kind], n);
	t_jout(i, "'%.*s'\n", (int)(n > 0 ? n : 0), b);
}

static void k_worker_holds_file(void)
{
	alarm(8);
	t_fs_dir();
	for (held_kind = 0; held_kind < H_N; held_kind++) {
		int s[2], off = 0;
		const char *kind = hholder[held_kind];
		if (kind) {
			close(open("f", O_RDWR | O_CREAT, 0600));
			if (t_hold(&lock_holder, kind, "f") < 0)
				t_out("hold: %s\n", t_errname(errno));
			held_fd = open("f", O_RDWR);
			t_spawn(j_held, 0);
			t_spawn(j_held, 1);
			t_finish();
			t_out("f free: %s, g free: %s\n", lock_free(kind, "f"), lock_free(kind, "g"));
			close(held_fd);
			unlink("g");
			continue;
		}
		if (held_kind == H_SPLICE || held_kind == H_PIPE) {
			pipe(s);
			if (held_kind == H_SPLICE)
				pipe(held_out);
		} else if (held_kind == H_FIFO) {
			mkfifo("fifo", 0600);
			s[0] = open("fifo", O_RDONLY | O_NONBLOCK);
			s[1] = open("fifo", O_WRONLY);
			fcntl(s[0], F_SETFL, 0);
			unlink("fifo");
		} else {
			socketpair(AF_UNIX, SOCK_STREAM, 0, s);
		}
		if (held_kind == H_PEEK_OFFSET)
			setsockopt(s[0], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);
		held_fd = s[0];
		held_peer = s[1];
		t_spawn(j_held, 0);
		t_spawn(j_held, 1);
		t_finish();
		close(s[1]);
		if (held_kind == H_SPLICE) {
			close(held_out[0]);
			close(held_out[1]);
		}
	}
}

static const struct t_case cases[] = {
	{ "k_deadline", k_deadline, T_OWNCORO },
	{ "k_cancel", k_cancel, T_OWNCORO },
	{ "k_ended", k_ended, T_OWNCORO },
	{ "k_worker_holds_file", k_worker_holds_file, T_OWNCORO },
	{ NULL, NULL, 0 },
};

static enum t_variant variants[2];
static int nvariants;

/* What the engine-only cases must print, exactly. */
static const char *engine_want(int c, char *buf, size_t cap)
{
	size_t n = 0;
	if (c == 0) {
		n += (size_t)snprintf(buf + n, cap - n, "0: ");
		for (int w = 0; w < W_N; w++)
			n += (size_t)snprintf(buf + n, cap - n, "%s=-1 ETIMEDOUT ", wname[w]);
		snprintf(buf + n, cap - n, "\nthen=5 'whole' partial send=yes all drained=yes\n");
		return buf;
	}
	if (c == 3)
		return "0: fifo read=4 'OLD!'\n1: reused\n0: peek waitall=4 'OLD!'\n1: reused\n"
		       "0: peek offset=4 'OLD!'\n1: reused\n0: splice=4 'OLD!'\n1: reused\n"
		       "0: pipe read=4 'OLD!'\n1: reused\n0: recv=4 'OLD!'\n1: reused\n"
		       "0: flock=0 \n1: reused\nf free: yes, g free: yes\n"
		       "0: ofd lock=0 \n1: reused\nf free: yes, g free: yes\n"
		       "0: posix lock=-1 EBADF \n1: reused\nf free: yes, g free: yes\n"
		       "0: lockf=-1 EBADF \n1: reused\nf free: yes, g free: yes\n";
	if (c == 2)
		return "0: lookups=20 fsyncs=20 stats=20 failed, 0 started; read=2 zc=2 full=failed\n"
		       "1: lookups=20 fsyncs=20 stats=20 failed, 0 started; read=2 zc=2 full=failed\n";
	for (int w = 0; w < W_N; w++)
		n += (size_t)snprintf(buf + n, cap - n, "%d: %s=-1 ECANCELED \n", w, wname[w]);
	snprintf(buf + n, cap - n, "%d: cancelled=%d\nsoon: yes\nafter=4 'left'\n", W_N, W_N);
	return buf;
}

START_TEST(deadline_and_cancel)
{
	static struct t_result r;
	char buf[2048];
	const char *want = engine_want(_i, buf, sizeof buf);
	for (int v = 0; v < nvariants; v++) {
		ck_assert_int_eq(t_run(cases[_i].name, variants[v], &r, 20), 0);
		ck_assert_msg(!strcmp(r.out, want), "%s under %s:\n--- want:\n%s--- got:\n%s\n%.300s",
			      cases[_i].name, t_variant_name[variants[v]], want, r.out, r.err);
	}
}
END_TEST

int main(int argc, char **argv)
{
	t_fs_helper_main(argc, argv);
	t_load_api();
	if (t_case_main(argc, argv, cases) >= 0)
		return 0;
	nvariants = t_engine_variants(variants, "check-net-deadline");
	Suite *s = suite_create("net-deadline");
	TCase *tc = tcase_create("net-deadline");
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, deadline_and_cancel, 0, 4);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
