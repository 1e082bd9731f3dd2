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
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

/* ---- the table ---------------------------------------------------------
 * T_BACKEND: the coroutine really waits in a hooked call (for a peer
 * thread or room in a pipe). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c7_pipe_write_past_room_number_closed, T_BACKEND),
	C(c7_pipe_write_past_room_number_dup2, T_BACKEND),
	C(c7_read_sibling_unshare_close, T_BACKEND),
	C(c7_read_sibling_unshare_dup2, T_BACKEND),
	C(c7_read_sibling_close_range_unshare, T_BACKEND),
	C(c7_read_sibling_raw_unshare_close, T_BACKEND),
	C(c7_read_sibling_early_close_range_unshare, T_BACKEND),
	C(c7_accept_sibling_unshare_close, T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	return t_cases_main(argc, argv, cases, "exact-held", 60);
}
