/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks the file a
 * waiting call holds, beyond the number swaps of check-exact-fds: the
 * kernel's call takes its file when it starts and keeps it to its end,
 * whatever another thread does to the number meanwhile —
 *
 *  - a write of more than a pipe holds, into a full pipe, whose number is
 *    closed (and taken by an open) or dup2'd over while it waits: under
 *    uring inside a coroutine the op after the first part went by number
 *    and the call ended short (65536 of 200000; a write-all loop then
 *    wrote the rest to whatever took the number);
 *  - the same for a MSG_WAITALL receive and a unix stream write whose
 *    number is swapped while their first op waits: the rest went by
 *    number (the receive read "OLDNEW" or ended short, the write gave
 *    80 736 of its bytes to the socket a dup2 put there);
 *  - a sibling thread that takes an fd table of its own (unshare with
 *    CLONE_FILES, close_range with CLOSE_RANGE_UNSHARE, also before any
 *    wait was on, when its close_range took the hook's fast path) and then closes
 *    or dup2s the number in that table: the process's table is
 *    untouched, and the wait goes on.  The shim took the close for one of
 *    the process's table and moved the wait to a copy made in the
 *    sibling's table: read and accept ended with EBADF, and a pipe write
 *    under threads too (found by a probe of fd lifetimes).
 *
 * A case that could hang under a broken shim sets an alarm first. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ---- a write longer than the pipe, its number swapped ------------------ */

struct drain { int w, r, dup; long got; int reused; };

/* After 50 ms the writer's number is closed and taken by an open (dup 0)
 * or has /dev/null dup2'd over it (dup 1); after 50 ms more the pipe is
 * drained to its end (EOF: the write's file is let go when it returns). */
static void *swap_then_drain(void *arg)
{
	struct drain *d = arg;
	char b[65536];
	long n;
	t_msleep(50);
	int o = open("/dev/null", O_RDONLY);
	if (d->dup) {
		d->reused = dup2(o, d->w) == d->w;
		close(o);
	} else {
		close(d->w);
		close(o);
		d->reused = open("/dev/null", O_RDONLY) == d->w;
	}
	t_msleep(50);
	while ((n = read(d->r, b, sizeof b)) > 0)
		d->got += n;
	return NULL;
}

static void write_past_room(int dup)
{
	static char big[200000];
	int p[2];
	net(4);
	pipe(p);
	long filled = fill_up(p[1]);
	struct drain d = { p[1], p[0], dup, 0, 0 };
	pthread_t th = go(swap_then_drain, &d);
	t_res("write", write(p[1], big, sizeof big));
	pthread_join(th, NULL);
	t_out("number-reused=%d drained=%ld\n", d.reused, d.got - filled);
	close(p[0]);
	close(p[1]);
}

static void c7_pipe_write_past_room_number_closed(void)
{
	write_past_room(0);
}

static void c7_pipe_write_past_room_number_dup2(void)
{
	write_past_room(1);
}

/* ---- a read's number closed inside glibc ------------------------------- */

/* Another thread closes the number a read waits on through stdio —
 * fclose, or freopen, which opens /dev/null at it — glibc's own close,
 * which the close hooks never see.  The kernel's read holds its file: it
 * gets the bytes written after.  Under threads a coroutine's read polled
 * the number: the writer met EPIPE and died of SIGPIPE (fclose), or the
 * read took /dev/null's EOF (freopen). */
struct stdio_close { int r, w, how; FILE *f; };

static void *stdio_close_then_write(void *arg)
{
	struct stdio_close *c = arg;
	t_msleep(50);
	c->f = fdopen(c->r, "r");
	if (c->how)
		c->f = freopen("/dev/null", "r", c->f);
	else
		fclose(c->f), c->f = NULL;
	t_msleep(30);
	t_res("write", write(c->w, "bytes", 5));
	return NULL;
}

static void read_closed_by_stdio(int how)
{
	int p[2];
	char b[16] = "";
	net(10);
	pipe(p);
	struct stdio_close c = { p[0], p[1], how, NULL };
	pthread_t th = go(stdio_close_then_write, &c);
	long r = read(p[0], b, sizeof b - 1);
	join(th);
	t_res("read", r);
	t_out("got=%s\n", b);
	if (c.f)
		fclose(c.f);
	close(p[1]);
}

static void c7_read_number_closed_by_fclose(void)
{
	read_closed_by_stdio(0);
}

static void c7_read_number_closed_by_freopen(void)
{
	read_closed_by_stdio(1);
}

/* The number closed by a raw system call and taken by a pipe that never
 * becomes ready: the kernel's read goes on with its file and gets the
 * bytes; the shim's wait by number cannot follow it (README: EBADF), but
 * it ends — it waited for ever on the new pipe. */
static volatile int read_ended, reuse_ended;

static void *raw_close_reuse_then_write(void *arg)
{
	struct stdio_close *c = arg;
	int q[2];
	t_msleep(50);
	syscall(SYS_close, c->r);
	pipe(q); /* q[0] takes the number */
	t_msleep(30);
	signal(SIGPIPE, SIG_IGN);
	write(c->w, "bytes", 5);
	for (int i = 0; i < 600 && !read_ended; i++) /* 6 s at most */
		t_msleep(10);
	reuse_ended = 1;
	close(q[0]);
	close(q[1]);
	return NULL;
}

static void c7_read_number_closed_raw_and_reused_ends(void)
{
	int p[2];
	char b[16];
	net(10);
	pipe(p);
	struct stdio_close c = { p[0], p[1], 0, NULL };
	pthread_t th = go(raw_close_reuse_then_write, &c);
	read(p[0], b, sizeof b); /* plain: 5; the shim: EBADF (README) */
	t_out("read ended %s the new pipe closed\n", reuse_ended ? "after" : "before");
	read_ended = 1;
	join(th);
	close(p[1]);
}

/* ---- a sibling with an fd table of its own ------------------------------ */

enum own { UNSHARE_CLOSE, UNSHARE_DUP2, RANGE_UNSHARE, RAW_UNSHARE_CLOSE, EARLY_RANGE_UNSHARE };
static _Atomic int own_ready; /* the sibling's table is its own (EARLY_*) */

/* The sibling takes a table of its own, then closes the number (or dup2s
 * /dev/null over it) there, and after 50 ms writes `feed` to `peer`. */
struct own_table { int fd, peer; enum own how; const char *feed; int err; };

static void *own_table_then_feed(void *arg)
{
	struct own_table *o = arg;
	/* EARLY: its own table before any wait is on (no call of the
	 * process then looks at the number), the close later. */
	if (o->how == EARLY_RANGE_UNSHARE)
		close_range(1000, 1000, CLOSE_RANGE_UNSHARE);
	own_ready = 1;
	t_msleep(50);
	if (o->how == EARLY_RANGE_UNSHARE) {
		close(o->fd);
	} else if (o->how == RANGE_UNSHARE) {
		close_range((unsigned)o->fd, (unsigned)o->fd, CLOSE_RANGE_UNSHARE);
	} else {
		if (o->how == RAW_UNSHARE_CLOSE)
			syscall(SYS_unshare, CLONE_FILES);
		else
			unshare(CLONE_FILES);
		if (o->how == UNSHARE_DUP2)
			dup2(open("/dev/null", O_RDONLY), o->fd);
		else
			close(o->fd);
	}
	t_msleep(50);
	if (o->feed)
		write(o->peer, o->feed, strlen(o->feed));
	return NULL;
}

static void read_own_table(enum own how)
{
	int sv[2];
	char b[16];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	own_ready = 0;
	pthread_t th = go(own_table_then_feed, &(struct own_table){ sv[0], sv[1], how, "late", 0 });
	while (!own_ready)
		sched_yield();
	show_buf("read", b, read(sv[0], b, sizeof b));
	pthread_join(th, NULL);
	t_res("read-after", recv(sv[0], b, sizeof b, MSG_DONTWAIT));
	close(sv[0]);
	close(sv[1]);
}

static void c7_read_sibling_unshare_close(void)
{
	read_own_table(UNSHARE_CLOSE);
}

static void c7_read_sibling_unshare_dup2(void)
{
	read_own_table(UNSHARE_DUP2);
}

static void c7_read_sibling_close_range_unshare(void)
{
	read_own_table(RANGE_UNSHARE);
}

static void c7_read_sibling_raw_unshare_close(void)
{
	read_own_table(RAW_UNSHARE_CLOSE);
}

static void c7_read_sibling_early_close_range_unshare(void)
{
	read_own_table(EARLY_RANGE_UNSHARE);
}

/* accept on a listener the sibling closes in its own table, then
 * connects to: the process's listener takes the connection. */
static void *own_table_then_connect(void *arg)
{
	struct own_table *o = arg;
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	getsockname(o->fd, (struct sockaddr *)&sa, &len);
	own_table_then_feed(arg);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	o->err = connect(s, (struct sockaddr *)&sa, len) == 0 ? 0 : errno;
	t_msleep(50);
	close(s);
	return NULL;
}

static void c7_accept_sibling_unshare_close(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	net(4);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	bind(l, (struct sockaddr *)&sa, sizeof sa);
	listen(l, 1);
	struct own_table o = { l, -1, UNSHARE_CLOSE, NULL, 0 };
	pthread_t th = go(own_table_then_connect, &o);
	int c = accept(l, NULL, NULL);
	t_out("accept: %s\n", c >= 0 ? "ok" : t_errname(errno));
	pthread_join(th, NULL);
	t_out("connect: %s\n", o.err ? t_errname(o.err) : "ok");
	close(c);
	close(l);
}

/* ---- a handler's jump out of a close of a waited number --------------
 * The case's thread (a coroutine in the -coro variants) waits in accept
 * on one listener after another; a closer thread, once that accept is
 * in its wait, closes the listener under a storm of SIGUSR1 whose
 * handler siglongjmps out of the close,
 * then connects to end the accept (which holds its file).  The close
 * copies the waited number under the engine's lock; a jump from a system
 * call made there left the lock taken, and the next wait's end spun for
 * ever (1 to 22 jumps in; about 70 jumps come in 100 rounds). */
static sigjmp_buf cj_env;
static volatile sig_atomic_t cj_armed;
static _Atomic int cj_l = -1, cj_gen, cj_in_accept, cj_accepted, cj_stop;
static _Atomic pthread_t cj_closer;
static pid_t cj_waiter; /* the thread whose accept waits */
static struct sockaddr_storage cj_addr[2];
static socklen_t cj_len[2];

static void cj_handler(int sig)
{
	(void)sig;
	if (cj_armed) {
		cj_armed = 0;
		siglongjmp(cj_env, 1);
	}
}

static _Atomic int cj_storm; /* the closer is about to close */

static void *cj_killer(void *arg)
{
	(void)arg;
	while (!cj_stop)
		if (cj_storm)
			pthread_kill(cj_closer, SIGUSR1);
		else
			usleep(50);
	return NULL;
}

#define CJ_ROUNDS 100
static void *cj_close_each(void *arg)
{
	(void)arg;
	cj_closer = pthread_self();
	pthread_t k = go(cj_killer, NULL);
	for (int g = 1; g <= CJ_ROUNDS; g++) {
		int l = t_bound(AF_UNIX, SOCK_STREAM, 4, &cj_addr[g & 1], &cj_len[g & 1]);
		cj_l = l;
		cj_gen = g;
		while (cj_in_accept != g)
			usleep(100);
		t_wait_blocked(cj_waiter); /* in its wait */
		cj_storm = 1;
		if (sigsetjmp(cj_env, 1) == 0) {
			cj_armed = 1;
			close(l);
			cj_armed = 0;
		} else if (fcntl(l, F_GETFD) >= 0) {
			close(l); /* the jump came before the close */
		}
		cj_storm = 0;
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		connect(c, (struct sockaddr *)&cj_addr[g & 1], cj_len[g & 1]);
		while (cj_accepted != g)
			usleep(100);
		close(c);
	}
	cj_stop = 1;
	pthread_join(k, NULL);
	return NULL;
}

static void c7_accept_close_jumped_out_of(void)
{
	struct sigaction sa = { .sa_handler = cj_handler };
	sigaction(SIGUSR1, &sa, NULL);
	net(30);
	cj_waiter = (pid_t)syscall(SYS_gettid);
	pthread_t th = go(cj_close_each, NULL);
	int ok = 0, first_bad = 0, bad_err = 0;
	for (int seen = 0; seen < CJ_ROUNDS;) {
		if (cj_gen == seen) {
			usleep(200);
			continue;
		}
		seen = cj_gen;
		cj_in_accept = seen;
		int c = accept(cj_l, NULL, NULL);
		ok += c >= 0;
		if (c >= 0)
			close(c);
		else if (!first_bad)
			first_bad = seen, bad_err = errno;
		cj_accepted = seen;
	}
	pthread_join(th, NULL);
	signal(SIGUSR1, SIG_DFL);
	t_out("accepts that ended with a connection: %d of %d\n", ok, CJ_ROUNDS);
	if (first_bad) /* which state the failing rounds met */
		t_out("first without: round %d, %s\n", first_bad, t_errname(bad_err));
}

/* ---- a stream receive or send whose number is swapped in its first wait */

enum { SW_DUP2, SW_CLOSE, SW_REUSE };

/* a: the program's end, b: its peer; TCP on loopback or a unix pair */
static void stream_pair(int tcp, int *a, int *b)
{
	if (!tcp) {
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		*a = sv[0];
		*b = sv[1];
		return;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	bind(l, (struct sockaddr *)&sa, sizeof sa);
	listen(l, 1);
	getsockname(l, (struct sockaddr *)&sa, &len);
	*b = socket(AF_INET, SOCK_STREAM, 0);
	connect(*b, (struct sockaddr *)&sa, len);
	*a = accept(l, NULL, NULL);
	close(l);
}

struct swap { int fd, peer, tcp, how, reused, newpeer; };

/* At 50 ms the number gets another socket (dup2), is closed, or is
 * closed and taken by an open; the new socket's peer sends "NEW".  The
 * old peer then sends "OLD" and, 50 ms later, "old". */
static void *swap_then_send(void *arg)
{
	struct swap *s = arg;
	int a = -1;
	s->newpeer = -1;
	t_msleep(50);
	if (s->how == SW_DUP2) {
		stream_pair(s->tcp, &a, &s->newpeer);
		s->reused = dup2(a, s->fd) == s->fd;
		close(a);
		write(s->newpeer, "NEW", 3);
	} else {
		close(s->fd);
		if (s->how == SW_REUSE)
			s->reused = open("/dev/null", O_RDONLY) == s->fd;
	}
	t_msleep(30);
	write(s->peer, "OLD", 3);
	t_msleep(50);
	write(s->peer, "old", 3);
	return NULL;
}

/* A MSG_WAITALL receive waits for all 6 bytes on its own socket: under
 * uring inside a coroutine its first op held the file, but the rest went
 * by number, to the socket a dup2 put there ("OLDNEW"), or ended short
 * at a closed number ("OLD", and the peer's next write met EPIPE). */
static void waitall_swapped(int tcp, int how)
{
	char b[8] = "";
	int fd, peer;
	net(6);
	signal(SIGPIPE, SIG_IGN);
	stream_pair(tcp, &fd, &peer);
	struct swap s = { fd, peer, tcp, how, 0, -1 };
	pthread_t th = go(swap_then_send, &s);
	ssize_t r = recv(fd, b, 6, MSG_WAITALL);
	int e = errno;
	pthread_join(th, NULL);
	t_out("recv: %zd %s [%.*s] reused=%d\n", r, r < 0 ? t_errname(e) : "", r > 0 ? (int)r : 0,
	      b, s.reused);
	close(fd);
	close(peer);
	if (s.newpeer >= 0)
		close(s.newpeer);
	signal(SIGPIPE, SIG_DFL);
}

static void c7_recv_waitall_number_dup2_in_first_wait(void) { waitall_swapped(0, SW_DUP2); }
static void c7_recv_waitall_number_closed_in_first_wait(void) { waitall_swapped(0, SW_CLOSE); }
static void c7_tcp_recv_waitall_number_dup2_in_first_wait(void) { waitall_swapped(1, SW_DUP2); }
static void c7_tcp_recv_waitall_number_reused_in_first_wait(void) { waitall_swapped(1, SW_REUSE); }

/* Bytes a peer can read within 200 ms of quiet. */
static long drain_quiet(int fd)
{
	char b[65536];
	long got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (poll(&p, 1, 200) == 1) {
		ssize_t n = read(fd, b, sizeof b);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

struct send_swap { int fd, how, reused; long old_got, new_got; int old_peer; };

static void *swap_then_drain_both(void *arg)
{
	struct send_swap *s = arg;
	int a, b = -1;
	t_msleep(50);
	if (s->how == SW_DUP2) {
		stream_pair(0, &a, &b);
		s->reused = dup2(a, s->fd) == s->fd;
		close(a);
	} else {
		close(s->fd);
		stream_pair(0, &a, &b);
		s->reused = a == s->fd;
	}
	s->old_got = drain_quiet(s->old_peer);
	s->new_got = b >= 0 ? drain_quiet(b) : 0;
	if (b >= 0)
		close(b);
	return NULL;
}

/* A blocking unix stream write of 300 000 bytes into a full socket: the
 * kernel's call moves them all to its own socket.  Under uring inside a
 * coroutine its SEND ops after the first went by number: 80 736 bytes
 * went to the socket a dup2 (or a close and a new socketpair) put
 * there. */
static void unix_send_swapped(int how)
{
	static char buf[300000];
	int fd, peer;
	net(6);
	stream_pair(0, &fd, &peer);
	long pre = 0;
	ssize_t n;
	while ((n = send(fd, buf, 4096, MSG_DONTWAIT)) > 0)
		pre += n;
	struct send_swap s = { fd, how, 0, 0, 0, peer };
	pthread_t th = go(swap_then_drain_both, &s);
	ssize_t r = write(fd, buf, sizeof buf);
	pthread_join(th, NULL);
	t_out("write: %zd old peer: %ld new peer: %ld reused=%d\n", r, s.old_got - pre, s.new_got,
	      s.reused);
	close(fd);
	close(peer);
}

static void c7_unix_write_rest_number_dup2(void) { unix_send_swapped(SW_DUP2); }
static void c7_unix_write_rest_number_reused(void) { unix_send_swapped(SW_REUSE); }

/* ---- a directory's number swapped by a sibling ------------------------- */

/* An *at call made on a worker took its directory (or, with AT_EMPTY_PATH,
 * its file) by number when the worker started it: a sibling coroutine
 * that ran as soon as the caller yielded and closed the number, or
 * dup2'd another directory over it, sent the call into that directory or
 * to EBADF (9 runs in 10), and a statx of "" described the file dup2 put
 * there — where the kernel's call took its file when it was made.  Job 1
 * swaps the number as soon as it runs; as threads (no library, off) it
 * waits until job 0's call has ended. */
enum at_how { AT_FSTATAT, AT_OPENAT, AT_READLINKAT, AT_RENAMEAT, AT_STATX_EMPTY };
static int at_dir, at_other;
static enum at_how at_how;
static _Atomic int at_called;

static void j_at_swap(int i)
{
	struct stat st;
	struct statx sx;
	char b[16];
	long r;
	if (i == 1) {
		while (!t_jobs_coro() && !at_called)
			t_msleep(1);
		if (at_how == AT_OPENAT) {
			close(at_dir);
			/* opened: its number races job 0's open, as two threads' opens do */
			t_jres(i, "open", open("d2", O_RDONLY | O_DIRECTORY | O_CLOEXEC) >= 0);
		} else {
			t_jres(i, "dup2", dup2(at_other, at_dir) == at_dir);
		}
		t_jout(i, "\n");
		return;
	}
	switch (at_how) {
	case AT_FSTATAT:
		r = fstatat(at_dir, "f", &st, 0);
		t_jres(i, "fstatat", r);
		t_jout(i, "size=%ld", r == 0 ? (long)st.st_size : -1L);
		break;
	case AT_OPENAT:
		r = openat(at_dir, "f", O_RDONLY | O_CLOEXEC);
		t_jres(i, "openat", r >= 0);
		t_jres(i, "read", r >= 0 ? read((int)r, b, sizeof b) : -1);
		break;
	case AT_READLINKAT:
		t_jres(i, "readlinkat", readlinkat(at_dir, "lnk", b, sizeof b));
		break;
	case AT_RENAMEAT:
		t_jres(i, "renameat", renameat(at_dir, "f", at_dir, "g"));
		t_jres(i, "moved", access("d1/g", F_OK));
		break;
	case AT_STATX_EMPTY:
		r = statx(at_dir, "", AT_EMPTY_PATH, STATX_SIZE, &sx);
		t_jres(i, "statx", r);
		t_jout(i, "size=%ld", r == 0 ? (long)sx.stx_size : -1L);
		break;
	}
	t_jout(i, "\n");
	at_called = 1;
}

static void at_swapped(enum at_how how)
{
	alarm(10);
	t_fs_dir();
	t_load_api();
	mkdir("d1", 0755);
	mkdir("d2", 0755);
	t_put("d1/f", "hello");
	t_put("d2/f", "abc");
	symlink("target", "d1/lnk");
	at_how = how;
	at_called = 0;
	at_dir = open(how == AT_STATX_EMPTY ? "d1/f" : "d1", O_RDONLY);
	at_other = open(how == AT_STATX_EMPTY ? "d2/f" : "d2", O_RDONLY);
	t_spawn(j_at_swap, 0);
	t_spawn(j_at_swap, 1);
	t_finish();
}

static void c7_fstatat_dir_dup2_by_sibling(void) { at_swapped(AT_FSTATAT); }
static void c7_openat_dir_closed_and_reused_by_sibling(void) { at_swapped(AT_OPENAT); }
static void c7_readlinkat_dir_dup2_by_sibling(void) { at_swapped(AT_READLINKAT); }
static void c7_renameat_dir_dup2_by_sibling(void) { at_swapped(AT_RENAMEAT); }
static void c7_statx_empty_path_dup2_by_sibling(void) { at_swapped(AT_STATX_EMPTY); }

/* ---- the table ---------------------------------------------------------
 * T_BACKEND: the coroutine really waits in a hooked call (for a peer
 * thread or room in a pipe).  T_NOTSAN: ThreadSanitizer reports the
 * close of a number another thread's recv or read waits on as a race on
 * the fd, without the shim too. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c7_pipe_write_past_room_number_closed, T_BACKEND),
	C(c7_pipe_write_past_room_number_dup2, T_BACKEND),
	C(c7_read_number_closed_by_fclose, T_BACKEND | T_NOTSAN),
	C(c7_read_number_closed_by_freopen, T_BACKEND | T_NOTSAN),
	C(c7_read_number_closed_raw_and_reused_ends, T_BACKEND | T_NOTSAN),
	C(c7_read_sibling_unshare_close, T_BACKEND),
	C(c7_read_sibling_unshare_dup2, T_BACKEND),
	C(c7_read_sibling_close_range_unshare, T_BACKEND),
	C(c7_read_sibling_raw_unshare_close, T_BACKEND),
	C(c7_read_sibling_early_close_range_unshare, T_BACKEND),
	C(c7_accept_sibling_unshare_close, T_BACKEND),
	C(c7_accept_close_jumped_out_of, T_BACKEND),
	C(c7_recv_waitall_number_dup2_in_first_wait, T_BACKEND),
	C(c7_recv_waitall_number_closed_in_first_wait, T_BACKEND | T_NOTSAN),
	C(c7_tcp_recv_waitall_number_dup2_in_first_wait, T_BACKEND),
	C(c7_tcp_recv_waitall_number_reused_in_first_wait, T_BACKEND | T_NOTSAN),
	C(c7_unix_write_rest_number_dup2, T_BACKEND),
	C(c7_unix_write_rest_number_reused, T_BACKEND),
	C(c7_fstatat_dir_dup2_by_sibling, T_BACKEND | T_OWNCORO),
	C(c7_openat_dir_closed_and_reused_by_sibling, T_BACKEND | T_OWNCORO),
	C(c7_readlinkat_dir_dup2_by_sibling, T_BACKEND | T_OWNCORO),
	C(c7_renameat_dir_dup2_by_sibling, T_BACKEND | T_OWNCORO),
	C(c7_statx_empty_path_dup2_by_sibling, T_BACKEND | T_OWNCORO),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "exact-held", 60);
}
