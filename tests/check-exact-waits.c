/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks that a wait ends
 * when the kernel's would: SO_RCVTIMEO and SO_SNDTIMEO, SO_RCVLOWAT, a
 * pty's VMIN and VTIME (also across a stop), a pty's wait across a change
 * of its settings, its master's close or its line discipline's change, a
 * datagram socket after SHUT_RD.
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
#include <linux/tty.h>
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

/* How long a wait took, coarse enough to be the same on a loaded machine. */
static const char *bucket(double secs)
{
	return secs < 0.05 ? "<50ms" : secs < 1.0 ? "50ms..1s" : ">=1s";
}

static void set_timeo(int fd, int opt, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

/* ==== class 3: the wait ends when the kernel's would =================== */

static void rcvtimeo(int fd)
{
	char b[16];
	net(4);
	set_timeo(fd, SO_RCVTIMEO, 100);
	double t0 = now();
	t_res("read", read(fd, b, sizeof b));
	t_out("waited=%s\n", bucket(now() - t0));
	t0 = now();
	t_res("readv", readv(fd, &(struct iovec){ b, sizeof b }, 1));
	t_out("waited=%s\n", bucket(now() - t0));
}

static void c3_rcvtimeo_unix_stream(void)
{
	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	rcvtimeo(s[0]);
}

static void c3_rcvtimeo_unix_dgram(void)
{
	int s[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
	rcvtimeo(s[0]);
}

static void c3_rcvtimeo_tcp(void)
{
	int c, s;
	if (tcp_pair(&c, &s, 0) < 0) {
		t_out("no loopback TCP here\n");
		return;
	}
	rcvtimeo(s);
}

static void c3_sndtimeo_full_unix_stream(void)
{
	static char big[MiB];
	int s[2];
	net(4);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	t_out("filled=%s\n", yes(fill_up(s[0]) > 0));
	set_timeo(s[0], SO_SNDTIMEO, 100);
	double t0 = now();
	t_res("write", write(s[0], big, sizeof big));
	t_out("waited=%s\n", bucket(now() - t0));
	t0 = now();
	t_res("writev", writev(s[0], &(struct iovec){ big, 1000 }, 1));
	t_out("waited=%s\n", bucket(now() - t0));
}

struct chunks {
	int fd;
	const char *s[3];
};

/* Write each string 100 ms after the one before. */
static void *write_chunks(void *arg)
{
	struct chunks *c = arg;
	for (int i = 0; i < 3 && c->s[i]; i++) {
		t_msleep(100);
		if (write(c->fd, c->s[i], strlen(c->s[i])) < 0)
			perror("write");
	}
	return NULL;
}

/* SO_RCVLOWAT 8: 5 bytes are not enough, the read waits for more.  (TCP
 * wakes the reader only when 8 bytes beyond what it has taken are there,
 * so plain glibc returns 18 there and 10 on a unix socket.) */
static void rcvlowat(int rd, int wr)
{
	static struct chunks c;
	char b[100];
	int lowat = 8;
	net(4);
	setsockopt(rd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
	write(wr, "12345", 5);
	c = (struct chunks){ wr, { "67890", "abcdefgh", NULL } };
	pthread_t th = go(write_chunks, &c);
	show_buf("read", b, read(rd, b, sizeof b));
	join(th);
	t_res("rest", recv(rd, b, sizeof b, MSG_DONTWAIT));
}

static void c3_rcvlowat_tcp(void)
{
	int c, s;
	if (tcp_pair(&c, &s, 0) < 0) {
		t_out("no loopback TCP here\n");
		return;
	}
	rcvlowat(s, c);
}

static void c3_rcvlowat_unix_stream(void)
{
	int s[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	rcvlowat(s[0], s[1]);
}

/* A raw pty slave with the given VMIN and VTIME; its master in *master. */
static int raw_pty(int *master, int vmin, int vtime)
{
	struct termios t;
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		return -1;
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	tcgetattr(s, &t);
	cfmakeraw(&t);
	t.c_cc[VMIN] = (cc_t)vmin;
	t.c_cc[VTIME] = (cc_t)vtime;
	tcsetattr(s, TCSANOW, &t);
	*master = m;
	return s;
}

static void c3_pty_vmin0_vtime0(void)
{
	char b[16];
	int m, s = raw_pty(&m, 0, 0);
	net(4);
	double t0 = now();
	t_res("read", read(s, b, sizeof b));
	t_out("at-once=%s\n", yes(now() - t0 < 1.0));
	write(m, "xy", 2);
	poll(&(struct pollfd){ s, POLLIN, 0 }, 1, 2000);
	show_buf("read-data", b, read(s, b, sizeof b));
}

static void c3_pty_vmin0_vtime2(void)
{
	char b[16];
	int m, s = raw_pty(&m, 0, 2);
	net(4);
	double t0 = now();
	t_res("read", read(s, b, sizeof b));
	double dt = now() - t0;
	t_out("waited=%s at-least-150ms=%s\n", bucket(dt), yes(dt >= 0.15));
	write(m, "xy", 2);
	poll(&(struct pollfd){ s, POLLIN, 0 }, 1, 2000);
	show_buf("read-data", b, read(s, b, sizeof b));
}

static void c3_pty_vmin3(void)
{
	char b[16];
	int m, s = raw_pty(&m, 3, 0);
	net(4);
	write(m, "a", 1);
	pthread_t th = later_str(m, "bc", 50);
	show_buf("read", b, read(s, b, sizeof b));
	join(th);
}

/* Another thread sets a terminal's settings again, as they were, twice
 * (bash's fg restores a job's settings so): each wakes the terminal's
 * waiters with nothing to read.  Then the bytes come. */
static int re_slave, re_master;

static void *resettings_main(void *arg)
{
	struct termios t;
	(void)arg;
	for (int i = 0; i < 2; i++) {
		usleep(30000);
		tcgetattr(re_slave, &t);
		tcsetattr(re_slave, TCSANOW, &t);
	}
	usleep(30000);
	write(re_master, "bc", 2);
	return NULL;
}

static void c3_pty_read_across_settings_change(void)
{
	char b[16];
	re_slave = raw_pty(&re_master, 1, 0);
	net(5);
	pthread_t th = go(resettings_main, NULL);
	show_buf("read", b, read(re_slave, b, sizeof b));
	join(th);
}

static void c3_pty_poll_across_settings_change(void)
{
	int p[2];
	char b[16];
	re_slave = raw_pty(&re_master, 1, 0);
	pipe(p);
	net(5);
	pthread_t th = go(resettings_main, NULL);
	struct pollfd one = { re_slave, POLLIN, 0 };
	t_res("poll", poll(&one, 1, -1));
	t_out("revents=%#x\n", one.revents);
	show_buf("read", b, read(re_slave, b, sizeof b));
	join(th);
	th = go(resettings_main, NULL);
	struct pollfd two[2] = { { p[0], POLLIN, 0 }, { re_slave, POLLIN, 0 } };
	t_res("poll-with-pipe", poll(two, 2, -1));
	t_out("revents=%#x,%#x\n", two[0].revents, two[1].revents);
	show_buf("read", b, read(re_slave, b, sizeof b));
	join(th);
	th = go(resettings_main, NULL);
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(re_slave, &rd);
	t_res("select", select(re_slave + 1, &rd, NULL, NULL, NULL));
	t_out("set=%s\n", yes(FD_ISSET(re_slave, &rd)));
	join(th);
}

/* The pty's master closes under a waiting read of its slave: that read
 * says EIO (the other side closed), a read after it 0 (hung up).  A
 * read made after the wake-up would say 0 at once. */
static void *close_master_main(void *arg)
{
	(void)arg;
	usleep(50000);
	close(re_master);
	return NULL;
}

static void c3_pty_read_master_closes(void)
{
	char b[16];
	re_slave = raw_pty(&re_master, 1, 0);
	net(5);
	pthread_t th = go(close_master_main, NULL);
	t_res("read", read(re_slave, b, sizeof b));
	join(th);
	t_res("read-after", read(re_slave, b, sizeof b));
}

/* The line discipline changes under a waiting read (TIOCSETD, as
 * ldattach does): the waiting read says EAGAIN.  Under N_NULL, which has
 * no ioctls and never polls ready, a read says EOPNOTSUPP at once. */
static void *setd_main(void *arg)
{
	int null = N_NULL, tty = N_TTY;
	(void)arg;
	usleep(50000);
	ioctl(re_slave, TIOCSETD, &null);
	usleep(50000);
	ioctl(re_slave, TIOCSETD, &tty);
	usleep(50000);
	write(re_master, "x", 1);
	return NULL;
}

static void c3_pty_read_line_discipline_changes(void)
{
	char b[16];
	int null = N_NULL;
	re_slave = raw_pty(&re_master, 1, 0);
	net(5);
	pthread_t th = go(setd_main, NULL);
	t_res("read", read(re_slave, b, sizeof b));
	join(th);
	show_buf("read-after", b, read(re_slave, b, sizeof b));
	t_res("setd-null", ioctl(re_slave, TIOCSETD, &null));
	write(re_master, "y", 1);
	t_res("read-null", read(re_slave, b, sizeof b));
}

/* A stop and continue under a read with VMIN 0 and VTIME 5: the
 * kernel's read is made again after the continue, its VTIME from the
 * start (about 1 s in all, where a wait that kept its end took 0.5 s). */
static void c3_pty_vtime_again_after_stop(void)
{
	char b[16];
	int m, s = raw_pty(&m, 0, 5);
	pid_t me = getpid(), kid;
	net(5);
	if ((kid = fork()) == 0) {
		usleep(200000);
		kill(me, SIGSTOP);
		usleep(300000);
		kill(me, SIGCONT);
		_exit(0);
	}
	double t0 = now();
	t_res("read", read(s, b, sizeof b));
	t_out("vtime-again=%s\n", yes(now() - t0 >= 0.85));
	waitpid(kid, NULL, 0);
}

/* After SHUT_RD a datagram socket reads 0 at once. */
static void c3_dgram_shutdown_rd(void)
{
	int s[2];
	char b[16];
	net(3);
	handle(SIGPIPE, 0);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
	t_res("shutdown", shutdown(s[0], SHUT_RD));
	t_res("read", read(s[0], b, sizeof b));
	t_res("readv", readv(s[0], &(struct iovec){ b, sizeof b }, 1));
	t_res("peer-write", write(s[1], "x", 1));
	t_res("read-again", read(s[0], b, sizeof b));
	t_out("sigpipes=%d\n", (int)handled);
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c3_rcvtimeo_unix_stream, T_BACKEND),
	C(c3_rcvtimeo_unix_dgram, T_BACKEND),
	C(c3_rcvtimeo_tcp, T_BACKEND),
	C(c3_sndtimeo_full_unix_stream, T_BACKEND),
	C(c3_rcvlowat_tcp, T_BACKEND),
	C(c3_rcvlowat_unix_stream, T_BACKEND),
	C(c3_pty_vmin0_vtime0, 0),
	C(c3_pty_vmin0_vtime2, T_BACKEND),
	C(c3_pty_vmin3, T_BACKEND),
	C(c3_pty_read_across_settings_change, T_BACKEND),
	C(c3_pty_poll_across_settings_change, T_BACKEND),
	C(c3_pty_read_master_closes, T_BACKEND),
	C(c3_pty_read_line_discipline_changes, T_BACKEND),
	C(c3_pty_vtime_again_after_stop, T_BACKEND),
	C(c3_dgram_shutdown_rd, 0),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-waits", 150);
}
