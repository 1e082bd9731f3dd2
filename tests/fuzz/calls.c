/* The fuzzer's data calls, with arguments from the edges
 * (tests/fuzz/fuzz.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "t-helpers.h"
#include "fuzz/fuzz.h"

/* ---- arguments from the edges ----------------------------------------- */

size_t fz_count(void)
{
	static const size_t huge[] = { BUF, BUF + 1, 0x7ffff000, 0x7ffff001, SSIZE_MAX, SIZE_MAX };
	long p = fz_below(100);
	if (p < 10)
		return 0;
	if (p < 35)
		return 1 + (size_t)fz_below(16);
	if (p < 65)
		return 17 + (size_t)fz_below(4096 - 16);
	if (p < 88 || fz_tame)
		return 4097 + (size_t)fz_below(70000);
	return huge[fz_below(sizeof huge / sizeof *huge)];
}

/* Where a transfer of n bytes starts: mostly inside the buffer, some NULL,
 * read-only, unmapped or running into the unmapped page. */
char *fz_where(size_t n)
{
	long p = fz_tame ? 100 : fz_below(100);
	if (p < 4)
		return NULL;
	if (p < 7)
		return fz_rdonly;
	if (p < 10)
		return fz_buf + BUF; /* the unmapped page */
	if (p < 15)
		return fz_buf + BUF - 1 - fz_below(5000);
	if (n >= (size_t)BUF)
		return fz_buf;
	return fz_buf + fz_below(BUF - (long)n + 1);
}

off_t fz_offset(void)
{
	static const off_t odd[] = { -1, -2, 1LL << 40, LLONG_MAX - 10, LLONG_MAX, 4096, 512 };
	long p = fz_below(100);
	if (p < 15)
		return odd[fz_below(sizeof odd / sizeof *odd)];
	if (p < 40)
		return 0;
	return fz_below(1 << 20);
}

static int rwf(void)
{
	static const int f[] = { RWF_NOWAIT, RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_APPEND, 0x80,
				  RWF_NOWAIT | RWF_APPEND };
	return fz_chance(50) ? 0 : f[fz_below(sizeof f / sizeof *f)];
}

static int recv_flags(void)
{
	static const int f[] = { MSG_PEEK, MSG_WAITALL, MSG_TRUNC, MSG_DONTWAIT, MSG_CMSG_CLOEXEC,
				 MSG_ERRQUEUE, MSG_OOB, MSG_PEEK | MSG_TRUNC, MSG_WAITALL | MSG_DONTWAIT };
	return fz_chance(50) ? 0 : f[fz_below(sizeof f / sizeof *f)];
}

static int send_flags(void)
{
	static const int f[] = { MSG_DONTWAIT, MSG_NOSIGNAL, MSG_MORE, MSG_EOR, MSG_OOB,
				 MSG_NOSIGNAL | MSG_DONTWAIT, MSG_CONFIRM };
	return fz_chance(50) ? 0 : f[fz_below(sizeof f / sizeof *f)];
}

/* Never on TCP MSG_MORE, which leaves the bytes in the sender until a
 * timer (when they arrive would decide what the next look sees); never on
 * a stream MSG_OOB, whose urgent byte FIONREAD counts and a receive skips
 * (it would wait where the look said it would not). */
static int send_flags_for(int s)
{
	int f = send_flags();
	if (fz_slot[s].k == K_TCP)
		f &= ~MSG_MORE;
	return fz_is_stream(fz_slot[s].k) ? f & ~MSG_OOB : f;
}

/* A vector of cnt entries (some odd), or NULL; its total in *total. */
static struct iovec *vector(int *cnt, size_t *total, int writing)
{
	static const int odd[] = { 0, 1024, 1025, -1, IOV_MAX };
	*cnt = fz_chance(15) ? odd[fz_below(sizeof odd / sizeof *odd)] : 1 + (int)fz_below(4);
	*total = 0;
	if (fz_chance(4))
		return NULL;
	int n = *cnt > 0 && *cnt < NIOV ? *cnt : 0;
	for (int i = 0; i < n; i++) {
		size_t len = fz_chance(20) ? 0 : fz_chance(85) ? 1 + (size_t)fz_below(3000) : fz_count();
		fz_iov[i].iov_len = len;
		fz_iov[i].iov_base = fz_chance(90) && len <= 3000 ? fz_buf + fz_below(BUF - 3000) : fz_where(len);
		*total += len;
	}
	return fz_iov;
}

/* ---- the calls --------------------------------------------------------- */

/* A stream socket's send that runs into an unmapped page moves what its
 * copies of whole chunks took before the fault: how much depends on where
 * its chunks start, which an engine's try before the call moves.  There
 * the bytes stop where the memory does. */
static size_t within(int s, const char *p, size_t n)
{
	if (!fz_is_stream(fz_slot[s].k) || !p)
		return n;
	const char *end = p >= fz_buf && p < fz_buf + BUF ? fz_buf + BUF :
			  p >= fz_rdonly && p < fz_rdonly + 4096 ? fz_rdonly + 4096 : NULL;
	return end && (size_t)(end - p) < n ? (size_t)(end - p) : n; /* else EFAULT at once */
}

static void eventfd_value(char *p, size_t n)
{
	/* a small value: a big one would wait for the counter to drop */
	if (p && p != fz_rdonly && (p < fz_buf + BUF - 8) && n >= 8 && p >= fz_buf) {
		uint64_t v = 1 + (uint64_t)fz_below(1000);
		memcpy(p, &v, 8);
	}
}

void fz_rw(int i, int s, int which)
{
	static const char *const name[] = { "read", "write", "pread", "pwrite" };
	int writing = which & 1, positioned = which >= 2;
	size_t n = fz_count();
	char *p = fz_where(n);
	off_t off = fz_offset();
	if (writing)
		n = within(s, p, n);
	if (writing && fz_slot[s].k == K_EVENTFD)
		eventfd_value(p, n);
	char args[96];
	snprintf(args, sizeof args, "n=%zu off=%lld", n, positioned ? (long long)off : 0LL);
	if (fz_could_wait(s, writing, n, 0, 0)) {
		t_out("%d %s skip\n", i, name[which]);
		return;
	}
	long r = which == 0 ? read(fz_slot[s].fd, p, n) :
		 which == 1 ? write(fz_slot[s].fd, p, n) :
		 which == 2 ? pread(fz_slot[s].fd, p, n, off) :
			      pwrite(fz_slot[s].fd, p, n, off);
	fz_result(i, name[which], s, args, r, writing ? NULL : p, r);
	if (!writing)
		fz_scrub(s, &(struct iovec){ p, n }, 1, r);
}

void fz_rwv(int i, int s, int which)
{
	static const char *const name[] = { "readv", "writev", "preadv", "pwritev", "preadv2",
					    "pwritev2" };
	int writing = which & 1;
	int cnt;
	size_t total;
	struct iovec *v = vector(&cnt, &total, writing);
	off_t off = which >= 2 ? fz_offset() : 0;
	int f = which >= 4 ? rwf() : 0;
	/* /dev/zero and /dev/full stop a RWF_NOWAIT read at any page where
	 * the scheduler wants the CPU (read_iter_zero): a count no run can
	 * repeat, with or without the shim. */
	if (!writing && (fz_slot[s].k == K_ZERO || fz_slot[s].k == K_FULL))
		f &= ~RWF_NOWAIT;
	if (writing && v && cnt > 0 && cnt < NIOV)
		for (int k = 0; k < cnt; k++) {
			size_t kept = within(s, v[k].iov_base, v[k].iov_len);
			total -= v[k].iov_len - kept;
			v[k].iov_len = kept;
		}
	if (writing && fz_slot[s].k == K_EVENTFD && v && cnt > 0 && cnt < NIOV)
		eventfd_value(v[0].iov_base, v[0].iov_len);
	char args[96];
	snprintf(args, sizeof args, "cnt=%d total=%zu off=%lld f=%x", cnt, total, (long long)off, f);
	if (fz_could_wait(s, writing, total, (f & RWF_NOWAIT), 0)) {
		t_out("%d %s skip\n", i, name[which]);
		return;
	}
	int fd = fz_slot[s].fd;
	long r;
	switch (which) {
	case 0: r = readv(fd, v, cnt); break;
	case 1: r = writev(fd, v, cnt); break;
	case 2: r = preadv(fd, v, cnt, off); break;
	case 3: r = pwritev(fd, v, cnt, off); break;
	case 4: r = preadv2(fd, v, cnt, off, f); break;
	default: r = pwritev2(fd, v, cnt, off, f); break;
	}
	uint32_t h = 0;
	if (!writing && r > 0) {
		long left = r;
		for (int k = 0; k < cnt && left > 0; k++) {
			long take = (long)fz_iov[k].iov_len < left ? (long)fz_iov[k].iov_len : left;
			h = h * 31 + fz_hash(fz_iov[k].iov_base, take);
			left -= take;
		}
	}
	fz_result(i, name[which], s, args, r, &h, writing ? 0 : sizeof h);
	if (!writing && cnt > 0 && cnt < NIOV)
		fz_scrub(s, fz_iov, cnt, r);
}

void fz_recv(int i, int s, int which)
{
	static const char *const name[] = { "recv", "recvfrom", "recvmsg" };
	size_t n = fz_chance(80) ? 1 + (size_t)fz_below(5000) : fz_count();
	char *p = fz_where(n);
	int f = recv_flags();
	struct sockaddr_storage from;
	socklen_t flen = fz_chance(20) ? 3 : sizeof from;
	char args[96];
	snprintf(args, sizeof args, "n=%zu f=%x", n, f);
	if (fz_could_wait(s, 0, n, f & MSG_DONTWAIT, f & MSG_WAITALL)) {
		t_out("%d %s skip\n", i, name[which]);
		return;
	}
	long r;
	int fd = fz_slot[s].fd;
	if (which == 0) {
		r = recv(fd, p, n, f);
		fz_result(i, name[which], s, args, r, p, r);
		return;
	}
	if (which == 1) {
		r = recvfrom(fd, p, n, f, fz_chance(50) ? (struct sockaddr *)&from : NULL, &flen);
		fz_result(i, name[which], s, args, r, p, r);
		t_out("  flen=%u\n", (unsigned)flen);
		return;
	}
	char cbuf[256];
	struct iovec one = { p, n };
	struct msghdr m = { .msg_name = fz_chance(50) ? &from : NULL, .msg_namelen = flen,
			    .msg_iov = &one, .msg_iovlen = 1,
			    .msg_control = fz_chance(50) ? cbuf : NULL,
			    .msg_controllen = fz_chance(50) ? sizeof cbuf : 8 };
	if (!m.msg_control)
		m.msg_controllen = 0;
	r = recvmsg(fd, fz_chance(3) ? NULL : &m, f);
	fz_result(i, name[which], s, args, r, p, r);
	t_out("  namelen=%u controllen=%zu flags=%x\n", (unsigned)m.msg_namelen, m.msg_controllen,
	      m.msg_flags);
}

void fz_send(int i, int s, int which)
{
	static const char *const name[] = { "send", "sendto", "sendmsg" };
	size_t n = fz_chance(80) ? (size_t)fz_below(5000) : fz_count();
	char *p = fz_where(n);
	n = within(s, p, n);
	int f = send_flags_for(s);
	char args[96];
	snprintf(args, sizeof args, "n=%zu f=%x", n, f);
	if (fz_could_wait(s, 1, n, f & MSG_DONTWAIT, 0)) {
		t_out("%d %s skip\n", i, name[which]);
		return;
	}
	long r;
	int fd = fz_slot[s].fd;
	if (which == 0) {
		r = send(fd, p, n, f);
	} else if (which == 1) {
		r = sendto(fd, p, n, f, NULL, 0);
	} else {
		struct iovec one = { p, n };
		struct msghdr m = { .msg_iov = &one, .msg_iovlen = 1 };
		r = sendmsg(fd, &m, f);
	}
	fz_result(i, name[which], s, args, r, NULL, 0);
}

void fz_mmsg(int i, int s, int sending)
{
	struct mmsghdr mm[4];
	struct iovec v[4];
	unsigned vlen = (unsigned)fz_below(5);
	int f = sending ? send_flags_for(s) : recv_flags() | (fz_chance(50) ? MSG_WAITFORONE : 0);
	size_t total = 0;
	memset(mm, 0, sizeof mm);
	for (unsigned k = 0; k < vlen; k++) {
		v[k].iov_len = (size_t)fz_below(1500);
		v[k].iov_base = fz_buf + k * 4096;
		mm[k].msg_hdr.msg_iov = &v[k];
		mm[k].msg_hdr.msg_iovlen = 1;
		total += v[k].iov_len;
	}
	char args[64];
	snprintf(args, sizeof args, "vlen=%u f=%x", vlen, f);
	int dontwait = (f & MSG_DONTWAIT) || (!sending && vlen > 1 && !(f & MSG_WAITFORONE));
	/* a blocking recvmmsg waits for every message: only one at a time */
	if ((!sending && vlen > 1 && !(f & MSG_WAITFORONE) && !(f & MSG_DONTWAIT) &&
	     fz_could_wait(s, 0, 1, 0, 0) == 0 && !(fcntl(fz_slot[s].fd, F_GETFL) & O_NONBLOCK)) ||
	    fz_could_wait(s, sending, total, dontwait && (f & MSG_DONTWAIT), f & MSG_WAITALL)) {
		t_out("%d %smmsg skip\n", i, sending ? "send" : "recv");
		return;
	}
	long r = sending ? sendmmsg(fz_slot[s].fd, mm, vlen, f) :
			   recvmmsg(fz_slot[s].fd, mm, vlen, f, NULL);
	uint32_t h = 0;
	for (long k = 0; k < r; k++)
		h = h * 31 + (sending ? mm[k].msg_len : fz_hash(v[k].iov_base, mm[k].msg_len)) +
		    mm[k].msg_hdr.msg_flags;
	fz_result(i, sending ? "sendmmsg" : "recvmmsg", s, args, r, &h, sizeof h);
}

/* The copying calls between two fds. */
void fz_copy(int i, int s)
{
	int t = fz_any_slot();
	if (t < 0)
		return;
	int in = fz_slot[s].fd, out = fz_slot[t].fd;
	size_t n = fz_chance(85) ? (size_t)fz_below(9000) : fz_count();
	loff_t oin = fz_offset(), oout = fz_offset();
	int use_in = fz_chance(50), use_out = fz_chance(50);
	int which = (int)fz_below(4);
	static const char *const name[] = { "sendfile", "copy_file_range", "splice", "tee" };
	char args[96];
	snprintf(args, sizeof args, "to %s:%d n=%zu offs=%d%d", fz_kind_name[fz_slot[t].k], out, n, use_in,
		 use_out);
	/* Only what never waits: out of a file or device into anything that
	 * takes a page at once, or non-blocking. */
	struct stat si;
	if (fstat(in, &si) < 0 || !(S_ISREG(si.st_mode) || S_ISCHR(si.st_mode)) ||
	    fz_could_wait(t, 1, n, which == 2 && fz_chance(50), 0) || n > 4096 ||
	    (which == 3 && fz_could_wait(s, 0, 1, 0, 0))) {
		t_out("%d %s skip\n", i, name[which]);
		return;
	}
	long r;
	switch (which) {
	case 0: r = sendfile(out, in, use_in ? &oin : NULL, n); break;
	case 1: r = copy_file_range(in, use_in ? &oin : NULL, out, use_out ? &oout : NULL, n, 0); break;
	case 2: r = splice(in, use_in ? &oin : NULL, out, use_out ? &oout : NULL, n, 0); break;
	default: r = tee(in, out, n, 0); break;
	}
	fz_result(i, name[which], s, args, r, NULL, 0);
	t_out("  offs=%lld,%lld\n", (long long)oin, (long long)oout);
	fz_settle(t);
}

