/* Files, part 5: copies in the kernel (issue 11, "Semantics").  Same
 * variants and rules as check-fs.c: sendfile/sendfile64 and
 * copy_file_range with a NULL offset (the file position moves) and with a
 * pointer (*off moves, the position stays), splice and tee partial counts
 * on pipes, vmsplice into and out of a pipe, their errors; copies that
 * wait for the other end of a pipe or socket, and — on plain threads — a
 * handler ending them: EINTR when nothing moved, else the count that did.
 * Times are printed as yes/no against a bound; an alarm turns a hang into
 * "signal 14". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "t-helpers.h"

#define yes t_yes
#define SRC "0123456789abcdef"

static void start(void)
{
	alarm(10);
	t_fs_dir();
	t_put("src", SRC);
}

static long pos(int fd)
{
	return (long)lseek(fd, 0, SEEK_CUR);
}

/* Read what a pipe or socket holds now, without waiting. */
static void show_drain(const char *what, int fd)
{
	char b[256];
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	long n = read(fd, b, sizeof b);
	fcntl(fd, F_SETFL, fl);
	t_show(what, b, n);
}

/* ==== offsets ============================================================ */

static void copy_sendfile_offsets(void)
{
	int p[2], s[2];
	off_t off;
	off64_t off64;
	start();
	int in = open("src", O_RDONLY), out = open("out", O_RDWR | O_CREAT, 0644);
	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	t_res("null-offset", sendfile(p[1], in, NULL, 5));
	t_out("  pos=%ld\n", pos(in));
	show_drain("  pipe", p[0]);
	off = 10;
	t_res("pointer", sendfile(p[1], in, &off, 4));
	t_out("  off=%ld pos=%ld\n", (long)off, pos(in));
	show_drain("  pipe", p[0]);
	off64 = 2;
	t_res("sendfile64", sendfile64(s[0], in, &off64, 3));
	t_out("  off=%ld pos=%ld\n", (long)off64, pos(in));
	show_drain("  socket", s[1]);
	t_res("to-file", sendfile(out, in, NULL, 100));
	t_out("  in pos=%ld out pos=%ld out='%s'\n", pos(in), pos(out), t_fd_get(out));
	t_res("at-eof", sendfile(out, in, NULL, 100));
	off = 14;
	t_res("across-eof", sendfile(p[1], in, &off, 100));
	t_out("  off=%ld\n", (long)off);
	show_drain("  pipe", p[0]);
	t_res("count-0", sendfile(p[1], in, NULL, 0));
	off = -1;
	t_res("negative-offset", sendfile(p[1], in, &off, 1));
	t_res("efault-offset", sendfile(p[1], in, (off_t *)8, 1));
	t_res("in-wronly", sendfile(p[1], open("src", O_WRONLY), NULL, 1));
	t_res("out-rdonly", sendfile(open("out", O_RDONLY), in, NULL, 1));
	t_res("out-append", sendfile(open("out", O_WRONLY | O_APPEND), in, &(off_t){ 0 }, 1));
	t_res("in-dir", sendfile(p[1], open(".", O_RDONLY), NULL, 1));
	write(s[1], "sock", 4);
	t_res("in-socket", sendfile(p[1], s[0], NULL, 4));
	t_res("in-ebadf", sendfile(p[1], 999, NULL, 1));
	t_res("out-ebadf", sendfile(999, in, NULL, 1));
	t_out("final pos=%ld\n", pos(in));
}

static void copy_file_range_offsets(void)
{
	loff_t oin, oout;
	int p[2];
	start();
	int in = open("src", O_RDONLY), out = open("out", O_RDWR | O_CREAT, 0644);
	pipe(p);
	t_res("null-offsets", copy_file_range(in, NULL, out, NULL, 6, 0));
	t_out("  in pos=%ld out pos=%ld out='%s'\n", pos(in), pos(out), t_fd_get(out));
	oin = 10;
	oout = 20;
	t_res("pointers", copy_file_range(in, &oin, out, &oout, 3, 0));
	t_out("  oin=%ld oout=%ld in pos=%ld out pos=%ld size-now=%ld\n", (long)oin, (long)oout,
	      pos(in), pos(out), (long)lseek(out, 0, SEEK_END));
	lseek(out, 6, SEEK_SET);
	oin = 14;
	t_res("across-eof", copy_file_range(in, &oin, out, NULL, 100, 0));
	t_out("  oin=%ld out pos=%ld\n", (long)oin, pos(out));
	oin = 16;
	t_res("at-eof", copy_file_range(in, &oin, out, NULL, 100, 0));
	t_res("len-0", copy_file_range(in, NULL, out, NULL, 0, 0));
	t_res("flags", copy_file_range(in, NULL, out, NULL, 1, 1));
	oin = 0;
	oout = 2;
	int both = open("src", O_RDWR);
	t_res("same-file-overlap", copy_file_range(both, &oin, both, &oout, 4, 0));
	oout = 100;
	t_res("same-file-apart", copy_file_range(both, &oin, both, &oout, 4, 0));
	t_res("out-append", copy_file_range(in, NULL, open("out", O_WRONLY | O_APPEND), NULL, 1, 0));
	t_res("out-rdonly", copy_file_range(in, NULL, open("out", O_RDONLY), NULL, 1, 0));
	t_res("in-dir", copy_file_range(open(".", O_RDONLY), NULL, out, NULL, 1, 0));
	t_res("in-pipe", copy_file_range(p[0], NULL, out, NULL, 1, 0));
	t_res("out-pipe", copy_file_range(in, NULL, p[1], NULL, 1, 0));
	oin = -1;
	t_res("negative-offset", copy_file_range(in, &oin, out, NULL, 1, 0));
	t_res("efault-offset", copy_file_range(in, (loff_t *)8, out, NULL, 1, 0));
	t_res("ebadf", copy_file_range(999, NULL, out, NULL, 1, 0));
	int shm = open("/dev/shm", O_TMPFILE | O_RDWR, 0600);
	t_res("to-another-fs", copy_file_range(in, &(loff_t){ 0 }, shm, NULL, 4, 0));
	t_out("  shm='%s'\n", t_fd_get(shm));
	t_out("final in pos=%ld out='%s'\n", pos(in), t_fd_get(out));
}

/* ==== splice, tee, vmsplice ============================================== */

static void copy_splice_counts(void)
{
	int p[2], q[2], s[2];
	loff_t off;
	start();
	int in = open("src", O_RDONLY), out = open("out", O_RDWR | O_CREAT, 0644);
	pipe(p);
	pipe(q);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	write(p[1], "0123456789", 10);
	t_res("pipe-to-pipe-partial", splice(p[0], NULL, q[1], NULL, 100, 0));
	show_drain("  q", q[0]);
	t_res("file-to-pipe-null", splice(in, NULL, p[1], NULL, 4, 0));
	t_out("  pos=%ld\n", pos(in));
	off = 12;
	t_res("file-to-pipe-pointer", splice(in, &off, p[1], NULL, 100, 0));
	t_out("  off=%ld pos=%ld\n", (long)off, pos(in));
	off = 3;
	t_res("pipe-to-file-pointer", splice(p[0], NULL, out, &off, 5, 0));
	t_out("  off=%ld out pos=%ld out-size=%ld\n", (long)off, pos(out),
	      (long)lseek(out, 0, SEEK_END));
	lseek(out, 0, SEEK_SET);
	t_res("pipe-to-file-null", splice(p[0], NULL, out, NULL, 100, 0));
	t_out("  out pos=%ld\n", pos(out));
	t_res("empty-nonblock", splice(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK));
	write(s[1], "socket", 6);
	t_res("socket-to-pipe", splice(s[0], NULL, q[1], NULL, 100, 0));
	t_res("pipe-to-socket", splice(q[0], NULL, s[0], NULL, 100, SPLICE_F_MORE));
	show_drain("  socket", s[1]);
	t_res("neither-pipe", splice(in, NULL, out, NULL, 1, 0));
	t_res("offset-on-pipe", splice(p[0], &(loff_t){ 0 }, out, NULL, 1, 0));
	t_res("same-pipe", splice(p[0], NULL, p[1], NULL, 1, SPLICE_F_NONBLOCK));
	t_res("to-append", splice(p[0], NULL, open("out", O_WRONLY | O_APPEND), NULL, 1,
				  SPLICE_F_NONBLOCK));
	t_res("bad-flags", splice(p[0], NULL, out, NULL, 1, 0x100));
	t_res("ebadf", splice(999, NULL, p[1], NULL, 1, 0));
	t_res("efault-offset", splice(in, (loff_t *)8, p[1], NULL, 1, 0));
	close(p[1]);
	t_res("writer-gone", splice(p[0], NULL, q[1], NULL, 10, 0));
	fcntl(q[1], F_SETPIPE_SZ, 4096);
	static char big[4096];
	write(q[1], big, sizeof big);
	t_res("into-full-nonblock", splice(in, &(loff_t){ 0 }, q[1], NULL, 4, SPLICE_F_NONBLOCK));
	t_out("final pos=%ld\n", pos(in));
}

static void copy_tee(void)
{
	int a[2], b[2], c[2];
	char buf[32];
	start();
	pipe(a);
	pipe(b);
	pipe(c);
	write(a[1], "hello world", 11);
	t_res("tee", tee(a[0], b[1], 5, 0));
	show_drain("  b", b[0]);
	t_res("tee-all", tee(a[0], c[1], 100, 0));
	show_drain("  c", c[0]);
	long n = read(a[0], buf, sizeof buf);
	t_out("  a still: %ld '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
	t_res("empty-nonblock", tee(a[0], b[1], 5, SPLICE_F_NONBLOCK));
	int f = open("src", O_RDONLY);
	t_res("from-file", tee(f, b[1], 5, 0));
	t_res("same-pipe", tee(a[0], a[1], 5, SPLICE_F_NONBLOCK));
	t_res("to-read-end", tee(a[0], b[0], 5, SPLICE_F_NONBLOCK));
	t_res("ebadf", tee(999, b[1], 5, 0));
	t_res("bad-flags", tee(a[0], b[1], 5, 0x100));
	close(a[1]);
	t_res("writer-gone", tee(a[0], b[1], 5, 0));
}

static void copy_vmsplice(void)
{
	int p[2], s[2];
	char b[64];
	static char big[65536 * 2];
	start();
	pipe(p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	struct iovec v[2] = { { "vm", 2 }, { "splice", 6 } };
	t_res("into-pipe", vmsplice(p[1], v, 2, 0));
	show_drain("  pipe", p[0]);
	t_res("gift", vmsplice(p[1], v, 1, SPLICE_F_GIFT));
	char r[4] = { 0 };
	struct iovec rv = { r, 4 };
	t_res("out-of-pipe", vmsplice(p[0], &rv, 1, 0));
	t_out("  got '%.2s'\n", r);
	t_res("no-segments", vmsplice(p[1], v, 0, 0));
	t_res("empty-read-nonblock", vmsplice(p[0], &rv, 1, SPLICE_F_NONBLOCK));
	t_res("to-socket", vmsplice(s[0], v, 1, 0));
	t_res("to-file", vmsplice(open("src", O_RDWR), v, 1, 0));
	t_res("ebadf", vmsplice(999, v, 1, 0));
	t_res("efault-iov", vmsplice(p[1], (struct iovec *)8, 1, 0));
	t_res("bad-segments", vmsplice(p[1], v, -1, 0));
	struct iovec bv = { big, sizeof big };
	t_res("into-full-nonblock", vmsplice(p[1], &bv, 1, SPLICE_F_NONBLOCK));
	t_res("then-nonblock", vmsplice(p[1], &bv, 1, SPLICE_F_NONBLOCK));
	long total = 0, n;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while ((n = read(p[0], b, sizeof b)) > 0)
		total += n;
	t_out("drained=%ld\n", total);
}

/* ==== copies that wait =================================================== */

static int wp[2], wq[2];

static void drain_pipe(void *arg)
{
	(void)arg;
	char b[65536];
	fcntl(wp[0], F_SETFL, O_NONBLOCK);
	while (read(wp[0], b, sizeof b) > 0)
		;
}

/* Each copy waits for another thread: data 50 ms later into an empty
 * pipe or socket, or room 50 ms later in a full pipe. */
static void copy_waits(void)
{
	static char fill[65536];
	int s[2];
	struct iovec v = { "vm", 2 };
	start();
	int in = open("src", O_RDONLY), out = open("out", O_RDWR | O_CREAT, 0644);
	for (int k = 0; k < 6; k++) {
		pipe(wp);
		pipe(wq);
		socketpair(AF_UNIX, SOCK_STREAM, 0, s);
		int full = k >= 3;
		if (full) {
			fcntl(wp[1], F_SETFL, O_NONBLOCK);
			while (write(wp[1], fill, sizeof fill) > 0)
				;
			fcntl(wp[1], F_SETFL, 0);
		}
		double t0 = t_ms();
		pthread_t th = full ? t_later(drain_pipe, NULL, 50) :
				      t_later_write(k == 2 ? s[1] : wp[1], "later", 5, 50);
		long r = 0;
		const char *name = "";
		switch (k) {
		case 0: name = "splice-empty-pipe"; r = splice(wp[0], NULL, out, NULL, 100, 0); break;
		case 1: name = "tee-empty-pipe"; r = tee(wp[0], wq[1], 100, 0); break;
		case 2: name = "splice-empty-socket"; r = splice(s[0], NULL, wq[1], NULL, 100, 0); break;
		case 3: name = "sendfile-full-pipe"; r = sendfile(wp[1], in, NULL, 16); break;
		case 4: name = "vmsplice-full-pipe"; r = vmsplice(wp[1], &v, 1, 0); break;
		case 5: name = "splice-file-to-full-pipe"; r = splice(in, &(loff_t){ 0 }, wp[1], NULL, 16, 0); break;
		}
		t_res(name, r);
		double el = t_ms() - t0;
		t_out("  waited>=50ms: %s, <2s: %s\n", yes(el >= 49), yes(el < 2000));
		pthread_join(th, NULL);
		close(wp[0]), close(wp[1]), close(wq[0]), close(wq[1]), close(s[0]), close(s[1]);
	}
	t_out("pos=%ld out='%s'\n", pos(in), t_fd_get(out));
}

/* A copy into a full socket that another thread drains: everything
 * moves before the call returns. */
static int cs[2];

static void drain_socket(void *arg)
{
	long *got = arg, n;
	char b[65536];
	while (*got < (1 << 20) && (n = read(cs[1], b, sizeof b)) > 0)
		*got += n;
}

static void copy_sendfile_big_socket(void)
{
	long got = 0;
	start();
	int fd = open("big", O_RDWR | O_CREAT, 0644);
	ftruncate(fd, 1 << 20);
	socketpair(AF_UNIX, SOCK_STREAM, 0, cs);
	pthread_t th = t_later(drain_socket, &got, 20);
	t_res("sendfile", sendfile(cs[0], fd, NULL, 1 << 20));
	pthread_join(th, NULL);
	t_out("pos=%ld received=%ld\n", pos(fd), got);
}

/* ==== signals ============================================================ */

/* A handler while nothing moved: EINTR without SA_RESTART; with it the
 * call restarts and moves what comes 50 ms after the signal. */
static void copy_signal(int flags)
{
	struct iovec v = { "vm", 2 };
	static char fill[65536];
	start();
	t_handle(SIGUSR1, flags);
	int out = open("out", O_RDWR | O_CREAT, 0644);
	for (int k = 0; k < 3; k++) {
		pipe(wp);
		pipe(wq);
		if (k == 2) {
			fcntl(wp[1], F_SETFL, O_NONBLOCK);
			while (write(wp[1], fill, sizeof fill) > 0)
				;
			fcntl(wp[1], F_SETFL, 0);
		}
		t_handled = 0;
		pthread_t ts = t_later_signal(SIGUSR1, 10), tw = 0;
		if (flags)
			tw = k == 2 ? t_after_signal(drain_pipe, NULL, 50) :
				      t_after_signal_write(wp[1], "late", 4, 50);
		long r = k == 0 ? splice(wp[0], NULL, out, NULL, 100, 0) :
			 k == 1 ? tee(wp[0], wq[1], 100, 0) : vmsplice(wp[1], &v, 1, 0);
		t_res(k == 0 ? "splice" : k == 1 ? "tee" : "vmsplice", r);
		t_out("  handled=%d\n", (int)t_handled);
		pthread_join(ts, NULL);
		if (tw)
			pthread_join(tw, NULL);
		close(wp[0]), close(wp[1]), close(wq[0]), close(wq[1]);
	}
}

static void copy_eintr(void) { copy_signal(0); }
static void copy_restart(void) { copy_signal(SA_RESTART); }

/* Bytes already moved when the handler runs: the count, not EINTR, and
 * the file position moved by exactly that count. */
static void copy_signal_partial(void)
{
	start();
	t_handle(SIGUSR1, 0);
	int fd = open("big", O_RDWR | O_CREAT, 0644);
	ftruncate(fd, 1 << 20);
	pipe(wp);
	pthread_t ts = t_later_signal(SIGUSR1, 10);
	long r = sendfile(wp[1], fd, NULL, 1 << 20);
	pthread_join(ts, NULL);
	t_out("sendfile partial=%s pos-is-count=%s handled=%d\n", yes(r > 0 && r < (1 << 20)),
	      yes(pos(fd) == r), (int)t_handled);
	long fill = r;
	static char b[65536];
	long got = 0, n;
	fcntl(wp[0], F_SETFL, O_NONBLOCK);
	while ((n = read(wp[0], b, sizeof b)) > 0)
		got += n;
	t_out("pipe held the count: %s\n", yes(got == fill));
}

/* ==== SIGPIPE ============================================================ */

static pid_t main_tid;
static volatile sig_atomic_t pipes, pipes_same_thread;

static void on_pipe(int sig)
{
	(void)sig;
	pipes++;
	pipes_same_thread = t_gettid() == main_tid;
}

/* Each copy into a pipe nobody reads, or a socket shut down for
 * writing: EPIPE, and SIGPIPE to the calling thread (how: 0 default, the
 * process ends at the first; 1 ignored; 2 handled). */
static void copy_sigpipe(int how)
{
	int p[2], q[2], s[2];
	struct iovec v = { "vm", 2 };
	struct sigaction sa = { .sa_handler = on_pipe };
	start();
	main_tid = t_gettid();
	if (how == 1)
		signal(SIGPIPE, SIG_IGN);
	if (how == 2)
		sigaction(SIGPIPE, &sa, NULL);
	int in = open("src", O_RDONLY);
	pipe(p);
	pipe(q);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	close(p[0]);
	shutdown(s[0], SHUT_WR);
	write(q[1], "data", 4);
	for (int k = 0; k < 6; k++) {
		static const char *const name[] = { "sendfile-pipe", "splice-file-pipe", "vmsplice",
						    "tee", "splice-pipe-socket", "sendfile-socket" };
		long r = k == 0 ? sendfile(p[1], in, NULL, 4) :
			 k == 1 ? splice(in, &(loff_t){ 0 }, p[1], NULL, 4, 0) :
			 k == 2 ? vmsplice(p[1], &v, 1, 0) :
			 k == 3 ? tee(q[0], p[1], 4, 0) :
			 k == 4 ? splice(q[0], NULL, s[0], NULL, 4, 0) : sendfile(s[0], in, NULL, 4);
		t_res(name[k], r);
		t_out("  signals=%d same-thread=%s\n", (int)pipes, yes(pipes_same_thread));
	}
	t_out("pos=%ld\n", pos(in));
}

static void copy_sigpipe_default(void) { copy_sigpipe(0); }
static void copy_sigpipe_ignored(void) { copy_sigpipe(1); }
static void copy_sigpipe_handled(void) { copy_sigpipe(2); }

/* ==== the table ========================================================
 * T_NOCORO: a handler interrupts the call (README, blind spots). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(copy_sendfile_offsets, 0),
	C(copy_file_range_offsets, 0),
	C(copy_splice_counts, 0),
	C(copy_tee, 0),
	C(copy_vmsplice, 0),
	C(copy_waits, T_BACKEND),
	C(copy_sendfile_big_socket, T_BACKEND),
	C(copy_sigpipe_default, 0),
	C(copy_sigpipe_ignored, 0),
	C(copy_sigpipe_handled, 0),
	C(copy_eintr, T_NOCORO),
	C(copy_restart, T_NOCORO),
	C(copy_signal_partial, T_NOCORO),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	t_fs_helper_main(argc, argv);
	return t_cases_main(argc, argv, cases, "fs-copy", 150);
}
