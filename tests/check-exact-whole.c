/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks that one call is
 * never split: a datagram or a record of up to IOV_MAX iovecs moves whole
 * in one call, atomic pipe writes stay atomic, O_DIRECT and IOV_MAX limits
 * are refused as the kernel refuses them, and a stream send the kernel
 * counts call by call (MSG_ZEROCOPY, transmit timestamps asked for in its
 * control data) is one call however long it waits.
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
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ==== class 2: one call is never split ================================= */

/* A datagram sent 50 ms later arrives whole in one readv of 100 iovecs. */
static void readv_100_later(int type)
{
	static unsigned char out[1000], in[1000];
	static struct iovec v[100];
	int s[2];
	net(4);
	socketpair(AF_UNIX, type, 0, s);
	fill(out, sizeof out, 3);
	memset(in, 0, sizeof in);
	for (int i = 0; i < 100; i++)
		v[i] = (struct iovec){ in + 10 * i, 10 };
	pthread_t th = later_write(s[1], out, sizeof out, 50);
	t_res("readv", readv(s[0], v, 100));
	t_out("same=%s\n", yes(!memcmp(in, out, sizeof in)));
	join(th);
	t_res("left", recv(s[0], in, sizeof in, MSG_DONTWAIT));
}

static void c2_readv_100iov_unix_dgram(void) { readv_100_later(SOCK_DGRAM); }
static void c2_readv_100iov_unix_seqpacket(void) { readv_100_later(SOCK_SEQPACKET); }

static void writev_n_one_record(int type, int n, int len)
{
	static unsigned char out[4096], in[8192];
	static struct iovec v[1024];
	int s[2];
	net(4);
	socketpair(AF_UNIX, type, 0, s);
	fill(out, n * len, 5);
	for (int i = 0; i < n; i++)
		v[i] = (struct iovec){ out + len * i, (size_t)len };
	t_res("writev", writev(s[0], v, n));
	long r = read(s[1], in, sizeof in);
	t_res("read", r);
	t_out("same=%s\n", yes(r == n * len && !memcmp(in, out, (size_t)r)));
	t_res("left", recv(s[1], in, sizeof in, MSG_DONTWAIT));
}

static void c2_writev_100iov_unix_dgram(void) { writev_n_one_record(SOCK_DGRAM, 100, 10); }
static void c2_writev_300iov_unix_seqpacket(void) { writev_n_one_record(SOCK_SEQPACKET, 300, 3); }

/* Records of 4000 bytes (< PIPE_BUF) in 100 iovecs from 4 threads: each
 * writev is atomic, so the reader sees whole records only. */
enum { REC_THREADS = 4, REC_PER = 200, REC_LEN = 4000, REC_IOV = 100 };
static int rec_pipe[2];
static long rec_short;

static void rec_fill(unsigned char *b, int id)
{
	for (int k = 0; k < REC_LEN; k++)
		b[k] = (unsigned char)(id * 13 + k * (1 + id % 7));
	memcpy(b, &id, sizeof id);
}

static void *rec_writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned char *b = malloc(REC_LEN);
	struct iovec v[REC_IOV];
	for (int i = 0; i < REC_IOV; i++)
		v[i] = (struct iovec){ b + i * (REC_LEN / REC_IOV), REC_LEN / REC_IOV };
	for (int s = 0; s < REC_PER; s++) {
		rec_fill(b, t * REC_PER + s);
		if (writev(rec_pipe[1], v, REC_IOV) != REC_LEN)
			__atomic_fetch_add(&rec_short, 1, __ATOMIC_RELAXED);
	}
	free(b);
	return NULL;
}

static void c2_writev_records_4threads_pipe(void)
{
	enum { TOTAL = REC_THREADS * REC_PER * REC_LEN };
	static unsigned char all[TOTAL], want[REC_LEN];
	static unsigned char seen[REC_THREADS * REC_PER];
	pthread_t th[REC_THREADS];
	net(8);
	pipe(rec_pipe);
	for (int t = 0; t < REC_THREADS; t++)
		th[t] = go(rec_writer, (void *)(intptr_t)t);
	long got = 0, n;
	while (got < TOTAL && (n = read(rec_pipe[0], all + got, TOTAL - got)) > 0)
		got += n;
	for (int t = 0; t < REC_THREADS; t++)
		join(th[t]);
	int torn = 0, distinct = 0;
	for (long off = 0; off + REC_LEN <= got; off += REC_LEN) {
		int id;
		memcpy(&id, all + off, sizeof id);
		if (id < 0 || id >= REC_THREADS * REC_PER) {
			torn++;
			continue;
		}
		rec_fill(want, id);
		if (memcmp(all + off, want, REC_LEN))
			torn++;
		else if (!seen[id]++)
			distinct++;
	}
	t_out("bytes=%ld short-writes=%ld torn=%d distinct=%d\n", got, rec_short, torn, distinct);
}

/* IOV_MAX+1 and negative counts on an O_DIRECT fd, before and after the
 * fd has been read O_DIRECT (the engine then skips its non-blocking try). */
static void odirect_bad_counts(int fd, struct iovec *v)
{
	t_res("preadv-iovmax+1", preadv(fd, v, IOV_MAX + 1, 0));
	t_res("readv-iovmax+1", readv(fd, v, IOV_MAX + 1));
	t_res("preadv2-iovmax+1", preadv2(fd, v, IOV_MAX + 1, 4096, 0));
	t_res("readv-neg", readv(fd, v, minus_one));
	t_res("preadv-neg", preadv(fd, v, minus_one, 0));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
}

/* An O_DIRECT fd read often enough for the engine to know it (slow reads
 * of a cold file), then its number reused for a pipe and a socket: pread
 * gives ESPIPE and takes nothing, read gets the data.  Inside a coroutine
 * the engine skips its try for a known direct fd: the number must be
 * checked on every call. */
static void direct_reads_at(int at, void *b)
{
	const char *path = t_tmpfile(4 << 20, 1);
	int fd = tmp_open(path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		return;
	dup2(fd, at);
	close(fd);
	long got = 0;
	for (int k = 0; k < 16; k++)
		got += pread(at, b, 4096, (off_t)k * 262144);
	t_res("direct-preads", got);
}

static void c2_odirect_number_reused(void)
{
	void *b;
	int at = open("/dev/null", O_RDONLY);
	if (posix_memalign(&b, 4096, 4096))
		return;
	direct_reads_at(at, b);
	int p[2], s[2];
	pipe(p);
	dup2(p[0], at);
	write(p[1], "abc", 3);
	t_res("pipe-pread", pread(at, b, 8, 0));
	t_res("pipe-read", read(at, b, 8));
	direct_reads_at(at, b);
	socketpair(AF_UNIX, SOCK_STREAM, 0, s);
	dup2(s[0], at);
	write(s[1], "xyz", 3);
	t_res("socket-pread", pread(at, b, 8, 4096));
	t_res("socket-read", read(at, b, 8));
	direct_reads_at(at, b);
	int n = open("/dev/zero", O_RDONLY);
	dup2(n, at);
	t_res("zero-pread", pread(at, b, 4096, 0));
	t_out("zeros=%s\n", ((char *)b)[0] == 0 && ((char *)b)[4095] == 0 ? "yes" : "no");
	free(b);
}

static void c2_odirect_iov_max_einval(void)
{
	static struct iovec v[IOV_MAX + 1];
	void *b;
	const char *path = t_tmpfile(MiB, 1);
	int fd = tmp_open(path, O_RDWR | O_DIRECT);
	net(4);
	if (fd < 0 || posix_memalign(&b, 4096, 4096)) {
		t_out("no O_DIRECT here\n");
		return;
	}
	for (int i = 0; i <= IOV_MAX; i++)
		v[i] = (struct iovec){ b, 4096 };
	odirect_bad_counts(fd, v);
	for (int i = 0; i < 4; i++)
		t_res("read", read(fd, b, 4096));
	t_out("sum=%lx\n", sum(b, 4096, 0));
	for (int i = 0; i < 4; i++)
		t_res("pread", pread(fd, b, 4096, 65536 * i));
	odirect_bad_counts(fd, v);
	t_res("pwritev-iovmax+1", pwritev(fd, v, IOV_MAX + 1, 0));
	t_res("writev-iovmax+1", writev(fd, v, IOV_MAX + 1));
	t_res("pwritev2-iovmax+1", pwritev2(fd, v, IOV_MAX + 1, 8192, 0));
	struct stat st;
	fstat(fd, &st);
	t_out("size=%ld pos=%ld\n", (long)st.st_size, (long)lseek(fd, 0, SEEK_CUR));
	free(b);
}

/* 1025 iovecs are EINVAL at once, even on a pipe that would wait; 1024 of
 * 4 bytes take a 4096-byte write in one call. */
static void c2_readv_1025_iov_pipe_wait(void)
{
	static struct iovec v[IOV_MAX + 1];
	static unsigned char in[4 * (IOV_MAX + 1)], out[4096];
	int p[2];
	net(4);
	pipe(p);
	for (int i = 0; i <= IOV_MAX; i++)
		v[i] = (struct iovec){ in + 4 * i, 4 };
	double t0 = now();
	t_res("readv-1025", readv(p[0], v, IOV_MAX + 1));
	t_out("at-once=%s\n", yes(now() - t0 < 1.0));
	t_res("writev-1025", writev(p[1], v, IOV_MAX + 1));
	t_res("in-pipe", drain_nb(p[0]));
	fill(out, sizeof out, 9);
	pthread_t th = later_write(p[1], out, sizeof out, 50);
	t_res("readv-1024", readv(p[0], v, IOV_MAX));
	t_out("same=%s\n", yes(!memcmp(in, out, sizeof out)));
	join(th);
}

static void c2_preadv2_100iov_cold(void)
{
	static unsigned char b[100 * 1000];
	static struct iovec v[100];
	const char *path = t_tmpfile(MiB, 1);
	int fd = tmp_open(path, O_RDONLY);
	for (int i = 0; i < 100; i++)
		v[i] = (struct iovec){ b + 1000 * i, 1000 };
	t_res("preadv2", preadv2(fd, v, 100, 12345, 0));
	t_out("sum=%lx\n", sum(b, sizeof b, 0));
	t_res("preadv2-eof", preadv2(fd, v, 100, MiB - 54321, 0));
	t_out("sum=%lx\n", sum(b, 54321, 0));
	t_evict(fd);
	lseek(fd, 777, SEEK_SET);
	t_res("readv", readv(fd, v, 100));
	t_out("sum=%lx\n", sum(b, sizeof b, 0));
	t_res("pos", lseek(fd, 0, SEEK_CUR));
}

/* ---- a send the kernel counts call by call is one call ------------------ */

static void *slow_reader(void *arg)
{
	static char b[65536];
	usleep(100000);
	while (read(*(int *)arg, b, sizeof b) > 0)
		usleep(1000);
	return NULL;
}

/* What the error queue of fd reports: one line per notification. */
static void show_errqueue(int fd)
{
	struct pollfd p = { fd, 0, 0 };
	poll(&p, 1, 1000);
	for (int n = 0; n < 64; n++) {
		char cb[256];
		struct msghdr m = { .msg_control = cb, .msg_controllen = sizeof cb };
		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			break;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			struct sock_extended_err *e = (void *)CMSG_DATA(h);
			if ((h->cmsg_level == SOL_IP && h->cmsg_type == IP_RECVERR) ||
			    (h->cmsg_level == SOL_IPV6 && h->cmsg_type == IPV6_RECVERR))
				t_out("origin=%u info=%u data=%u\n", e->ee_origin,
				      e->ee_origin == SO_EE_ORIGIN_ZEROCOPY ? e->ee_info : 0, e->ee_data);
		}
	}
}

/* A blocking 1 MB send into a 64 KiB buffer a slow reader drains, made
 * with flags and control data ctl (or none): one call, however long it
 * waits — one zerocopy id (MSG_ZEROCOPY), one transmit timestamp report
 * keyed by its last byte (a SO_TIMESTAMPING control message). */
static void counted_send(int flags, int stamp)
{
	static char big[1000000];
	int c, s, one = 1;
	net(8);
	if (tcp_pair(&c, &s, 65536) < 0)
		return;
	setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one);
	int report = SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
		     SOF_TIMESTAMPING_OPT_TSONLY;
	if (stamp)
		setsockopt(c, SOL_SOCKET, SO_TIMESTAMPING, &report, sizeof report);
	union { struct cmsghdr align; char b[CMSG_SPACE(sizeof(int))]; } ctl;
	struct iovec v = { big, sizeof big };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	if (stamp) {
		m.msg_control = ctl.b;
		m.msg_controllen = sizeof ctl.b;
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		*h = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(int)), .cmsg_level = SOL_SOCKET,
				       .cmsg_type = SO_TIMESTAMPING };
		int rec = SOF_TIMESTAMPING_TX_SOFTWARE;
		memcpy(CMSG_DATA(h), &rec, sizeof rec);
	}
	memset(big, 'z', sizeof big);
	pthread_t th = go(slow_reader, &s);
	t_res("sendmsg", sendmsg(c, &m, flags));
	shutdown(c, SHUT_WR);
	join(th);
	show_errqueue(c);
	close(c);
	close(s);
}

static void c2_send_zerocopy_one_id(void) { counted_send(MSG_ZEROCOPY, 0); }
static void c2_send_tx_stamp_cmsg_one_report(void) { counted_send(0, 1); }

/* Such a send on a socket shut for writing: EPIPE, and SIGPIPE in the
 * calling thread (with MSG_NOSIGNAL none). */
static void c2_send_zerocopy_shut_sigpipe(void)
{
	int c, s, one = 1;
	net(4);
	mark_main();
	if (tcp_pair(&c, &s, 0) < 0)
		return;
	setsockopt(c, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one);
	handle(SIGPIPE, 0);
	shutdown(c, SHUT_WR);
	t_res("send", send(c, "x", 1, MSG_ZEROCOPY));
	t_out("handled=%d same_thread=%s\n", (int)handled, yes(handled_same_thread));
	t_res("send-nosignal", send(c, "x", 1, MSG_ZEROCOPY | MSG_NOSIGNAL));
	t_out("handled=%d\n", (int)handled);
	close(c);
	close(s);
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c2_readv_100iov_unix_dgram, T_BACKEND),
	C(c2_readv_100iov_unix_seqpacket, T_BACKEND),
	C(c2_writev_100iov_unix_dgram, 0),
	C(c2_writev_300iov_unix_seqpacket, 0),
	C(c2_writev_records_4threads_pipe, T_BACKEND),
	C(c2_odirect_iov_max_einval, T_BACKEND),
	C(c2_odirect_number_reused, T_BACKEND),
	C(c2_readv_1025_iov_pipe_wait, T_BACKEND),
	C(c2_preadv2_100iov_cold, T_BACKEND),
	C(c2_send_zerocopy_one_id, T_BACKEND),
	C(c2_send_tx_stamp_cmsg_one_report, T_BACKEND),
	C(c2_send_zerocopy_shut_sigpipe, T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-whole", 150);
}
