/* The fuzzer's fds and its looks before a call (tests/fuzz/fuzz.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include "t-helpers.h"
#include "fuzz/fuzz.h"

const char *const fz_kind_name[K_NKINDS] = {
	"pipe-r", "pipe-w", "ustream", "udgram", "useq", "tcp", "udp", "eventfd",
	"timerfd", "signalfd", "file", "append", "direct", "memfd", "null", "zero",
	"full", "dir", "path", "epoll", "listen",
};

struct slot fz_slot[NSLOT];
char *fz_buf, *fz_rdonly, *fz_pattern;
struct iovec fz_iov[NIOV];
const char *fz_dir;
int fz_sigpipes, fz_sigxfszs;
int fz_tame;

/* ---- the random source (xorshift64*) ------------------------------------ */

static uint64_t rs;

void fz_seed(uint64_t seed)
{
	rs = seed * 0x9E3779B97F4A7C15ULL + 1;
	for (int k = 0; k < 8; k++)
		fz_rnd();
}

uint64_t fz_rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 2685821657736338717ULL;
}

long fz_below(long n)
{
	return n > 0 ? (long)(fz_rnd() % (uint64_t)n) : 0;
}

int fz_chance(int pct)
{
	return fz_below(100) < pct;
}

/* ---- the fds ----------------------------------------------------------- */

int fz_is_stream(enum kind k)
{
	return k == K_USTREAM || k == K_TCP;
}

int fz_add(int fd, enum kind k)
{
	int i = 0;
	while (i < NSLOT && fz_slot[i].fd >= 0)
		i++;
	if (fd < 0 || i == NSLOT) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fz_slot[i] = (struct slot){ fd, k, -1 };
	return i;
}

static int nfile;

static int file_fd(int flags)
{
	char path[512];
	snprintf(path, sizeof path, "%s/fuzz-%d", fz_dir, nfile++);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | flags, 0600);
	unlink(path);
	return fd;
}

static int sock_pair(enum kind k, int fds[2])
{
	static const int tk[] = { [K_USTREAM] = T_UNIX_STREAM, [K_UDGRAM] = T_UNIX_DGRAM,
				  [K_USEQ] = T_UNIX_SEQPACKET, [K_TCP] = T_TCP, [K_UDP] = T_UDP };
	return t_sock_pair(t_kinds[tk[k]].family, t_kinds[tk[k]].type, fds);
}

/* Open one of kind k (a pair for pipes and sockets); print the numbers. */
void fz_make(enum kind k)
{
	int fds[2] = { -1, -1 }, a = -1, b = -1;
	struct itimerspec once = { .it_value = { 0, 1000 } }; /* one expiry, at once */
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	switch (k) {
	case K_PIPE_R:
	case K_PIPE_W:
		if (pipe(fds) == 0)
			a = fz_add(fds[0], K_PIPE_R), b = fz_add(fds[1], K_PIPE_W);
		break;
	case K_USTREAM:
	case K_UDGRAM:
	case K_USEQ:
	case K_TCP:
	case K_UDP:
		if (sock_pair(k, fds) == 0)
			a = fz_add(fds[0], k), b = fz_add(fds[1], k);
		break;
	case K_EVENTFD:
		a = fz_add(eventfd((unsigned)fz_below(3), fz_chance(30) ? EFD_SEMAPHORE : 0), k);
		break;
	case K_TIMERFD:
		a = fz_add(timerfd_create(CLOCK_MONOTONIC, 0), k);
		if (a >= 0)
			timerfd_settime(fz_slot[a].fd, 0, &once, NULL);
		break;
	case K_SIGNALFD:
		a = fz_add(signalfd(-1, &usr1, 0), k);
		break;
	case K_FILE:
		a = fz_add(file_fd(0), k);
		break;
	case K_APPEND:
		a = fz_add(file_fd(O_APPEND), k);
		break;
	case K_DIRECT: {
		int fd = file_fd(O_DIRECT);
		a = fz_add(fd >= 0 ? fd : file_fd(0), k); /* no O_DIRECT here: a file */
		break;
	}
	case K_MEMFD:
		a = fz_add(memfd_create("fuzz", MFD_ALLOW_SEALING), k);
		break;
	case K_NULL:
		a = fz_add(open("/dev/null", O_RDWR), k);
		break;
	case K_ZERO:
		a = fz_add(open("/dev/zero", O_RDWR), k);
		break;
	case K_FULL:
		a = fz_add(open("/dev/full", O_RDWR), k);
		break;
	case K_DIR:
		a = fz_add(open(fz_dir, O_RDONLY | O_DIRECTORY), k);
		break;
	case K_PATH:
		a = fz_add(open(fz_dir, O_PATH), k);
		break;
	case K_EPOLL:
		a = fz_add(epoll_create1(0), k);
		break;
	case K_LISTEN: {
		struct sockaddr_storage sa;
		socklen_t len;
		int tcp = fz_chance(50);
		a = fz_add(t_bound(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 4, &sa, &len), k);
		break;
	}
	default:
		break;
	}
	if (a >= 0 && b >= 0) {
		fz_slot[a].peer = b;
		fz_slot[b].peer = a;
	}
	t_out("open %s fd=%d", fz_kind_name[k], a >= 0 ? fz_slot[a].fd : -1);
	if (b >= 0)
		t_out(",%d", fz_slot[b].fd);
	t_out("\n");
}

int fz_any_slot(void)
{
	for (int tries = 0; tries < 64; tries++) {
		int i = (int)fz_below(NSLOT);
		if (fz_slot[i].fd >= 0)
			return i;
	}
	for (int i = 0; i < NSLOT; i++)
		if (fz_slot[i].fd >= 0)
			return i;
	return -1;
}

/* ---- would it wait? --------------------------------------------------- */

long fz_queued(int fd)
{
	int n = 0;
	return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

/* 1 when a blocking call of slot s that wants n bytes (or, writing,
 * moves n) could wait for ever; `all`: a receive that waits for all n.
 * Decided by looks (fstat, F_GETFL, getsockopt, poll, FIONREAD) that give
 * the same answers in every variant when the calls before did. */
int fz_could_wait(int s, int writing, size_t n, int dontwait, int all)
{
	int fd = fz_slot[s].fd;
	struct stat st;
	if (dontwait || fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
	    S_ISCHR(st.st_mode))
		return 0;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK) || (fl & O_PATH))
		return 0;
	if (S_ISSOCK(st.st_mode)) {
		struct timeval tv = { 0, 0 };
		socklen_t len = sizeof tv;
		getsockopt(fd, SOL_SOCKET, writing ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, &len);
		if (tv.tv_sec || tv.tv_usec)
			return 0; /* it ends by the timeout */
	}
	struct pollfd p = { fd, writing ? POLLOUT : POLLIN | POLLRDHUP, 0 };
	if (poll(&p, 1, 0) != 1)
		return 1;
	if (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP))
		return 0;
	if (writing)
		return n > 4096; /* a page fits wherever poll says there is room */
	if (S_ISSOCK(st.st_mode) && fz_is_stream(fz_slot[s].k)) {
		int lowat = 1;
		socklen_t len = sizeof lowat;
		getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len);
		size_t want = all ? n : (size_t)lowat < n ? (size_t)lowat : n;
		return (size_t)fz_queued(fd) < want;
	}
	return 0;
}

/* On loopback TCP the bytes usually reach the peer within the send; wait
 * until the sender has nothing unacknowledged (SIOCOUTQ), so that the
 * next look at the peer sees the same in every run. */
static void settle_one(int fd)
{
	for (int tries = 0; tries < 100; tries++) {
		int out = 0;
		if (ioctl(fd, SIOCOUTQ, &out) < 0 || out == 0)
			return;
		t_msleep(1);
	}
}

/* Both ways: a read makes room for what the peer still holds. */
void fz_settle(int s)
{
	if (s < 0 || fz_slot[s].k != K_TCP)
		return;
	settle_one(fz_slot[s].fd);
	int peer = fz_slot[s].peer;
	if (peer >= 0 && fz_slot[peer].fd >= 0 && fz_slot[peer].k == K_TCP)
		settle_one(fz_slot[peer].fd);
}

void fz_scrub(int s, const struct iovec *v, int cnt, long r)
{
	if (fz_slot[s].k != K_SIGNALFD)
		return;
	for (int k = 0; k < cnt && r > 0; k++) {
		char *b = v[k].iov_base;
		long n = (long)v[k].iov_len < r ? (long)v[k].iov_len : r;
		if (b >= fz_buf && b + n <= fz_buf + BUF)
			memcpy(b, fz_pattern + (b - fz_buf), (size_t)n);
		r -= n;
	}
}

static ino_t shut[NSLOT * 2];
static int nshut;

void fz_shut_wr(int fd)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && nshut < NSLOT * 2)
		shut[nshut++] = st.st_ino;
}

int fz_was_shut_wr(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return 1;
	for (int k = 0; k < nshut; k++)
		if (shut[k] == st.st_ino)
			return 1;
	return 0;
}

/* ---- printing ---------------------------------------------------------- */

uint32_t fz_hash(const void *p, long n)
{
	uint32_t h = 2166136261u;
	if (!p || n <= 0)
		return 0;
	for (long i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 16777619u;
	return h;
}

static int seen_pipe, seen_xfsz;

/* "i op kind:fd args -> result [errno] h=hash [pos=position]", and the
 * signals counted since the last line. */
void fz_result(int i, const char *op, int s, const char *args, long r, const void *data, long hn)
{
	int e = errno;
	char tail[64] = "";
	off_t pos = s >= 0 ? lseek(fz_slot[s].fd, 0, SEEK_CUR) : -1;
	if (pos >= 0)
		snprintf(tail, sizeof tail, " pos=%lld", (long long)pos);
	/* a signalfd's records carry the sender's pid and uid: the count only */
	uint32_t h = s >= 0 && fz_slot[s].k == K_SIGNALFD ? 0 : fz_hash(data, r > 0 ? hn : 0);
	t_out("%d %s %s:%d %s -> %ld%s%s h=%x%s", i, op, s >= 0 ? fz_kind_name[fz_slot[s].k] : "-",
	      s >= 0 ? fz_slot[s].fd : -1, args, r, r < 0 ? " " : "", r < 0 ? t_errname(e) : "", h,
	      tail);
	if (fz_sigpipes != seen_pipe || fz_sigxfszs != seen_xfsz)
		t_out(" sigpipe=%d sigxfsz=%d", seen_pipe = fz_sigpipes, seen_xfsz = fz_sigxfszs);
	t_out("\n");
	fz_settle(s); /* after every call on TCP, whichever way it went */
}
