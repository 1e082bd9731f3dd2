/* The fuzzer's calls that wait: another thread makes the fd ready 3 ms
 * later, so that a coroutine's call goes through the engine's wait and
 * a plain thread's through the kernel's (tests/fuzz/fuzz.h).  What that
 * thread does is fixed before the call starts, so the answer is too. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include "t-helpers.h"
#include "fuzz/fuzz.h"

struct later {
	int fd;      /* where to write; -1: raise SIGUSR1 for the process */
	size_t n;    /* bytes (an eventfd: its 8-byte value) */
	int sock;
	long r;      /* what the write said */
};

static void *later_main(void *arg)
{
	struct later *l = arg;
	t_msleep(3);
	if (l->fd < 0) {
		l->r = kill(getpid(), SIGUSR1);
		return NULL;
	}
	l->r = l->sock ? send(l->fd, fz_pattern + 4096, l->n, MSG_NOSIGNAL) :
			 write(l->fd, fz_pattern + 4096, l->n);
	return NULL;
}

/* Does fd take n bytes at once (room, no hang-up or error)? */
static int takes(int fd, size_t n)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	return n <= 4096 && poll(&p, 1, 0) == 1 && p.revents == POLLOUT && !fz_was_shut_wr(fd);
}

/* A slot a read of which waits now, and what would make it ready: its
 * peer's write of some bytes, an eventfd's value, a signal.  -1: none. */
static int waiting_slot(struct later *l)
{
	for (int tries = 0; tries < 8; tries++) {
		int s = fz_any_slot();
		if (s < 0)
			return -1;
		enum kind k = fz_slot[s].k;
		int peer = fz_slot[s].peer;
		*l = (struct later){ .fd = -2, .n = 1 + (size_t)fz_below(4096) };
		if ((k == K_PIPE_R || (k >= K_USTREAM && k <= K_UDP)) && peer >= 0 &&
		    fz_slot[peer].fd >= 0) {
			l->fd = fz_slot[peer].fd;
			l->sock = k != K_PIPE_R;
		} else if (k == K_EVENTFD) {
			static uint64_t v;
			v = 1 + (uint64_t)fz_below(5);
			memcpy(fz_pattern + 4096, &v, 8); /* restored by the caller */
			l->fd = fz_slot[s].fd;
			l->n = 8;
		} else if (k == K_SIGNALFD) {
			l->fd = -1;
		} else {
			continue;
		}
		/* the write must make it readable: at least its low-water
		 * mark, and nothing that says "ready" already */
		int lowat = 1;
		socklen_t len = sizeof lowat;
		if (l->sock && fz_is_stream(k) &&
		    getsockopt(fz_slot[s].fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len) == 0 &&
		    (size_t)lowat > l->n)
			l->n = (size_t)lowat;
		if (fz_could_wait(s, 0, 1, 0, 0) && (l->fd < 0 || k == K_EVENTFD || takes(l->fd, l->n)))
			return s;
	}
	return -1;
}

/* read, readv, recv or recvmsg of an fd that is not ready yet. */
void fz_wait_read(int i)
{
	struct later l;
	int s = waiting_slot(&l);
	if (s < 0)
		return;
	static const char *const name[] = { "read", "readv", "recv", "recvmsg" };
	int which = (int)fz_below(fz_slot[s].k == K_EVENTFD || fz_slot[s].k == K_SIGNALFD ||
					   fz_slot[s].k == K_PIPE_R ? 2 : 4);
	size_t n = fz_chance(70) ? 1 + (size_t)fz_below(5000) : 128;
	int f = 0;
	if (which >= 2) {
		static const int fl[] = { 0, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, MSG_CMSG_CLOEXEC };
		f = fl[fz_below(5)];
		if ((f & MSG_WAITALL) && n > l.n)
			f = 0; /* it would wait for more than comes */
	}
	char *p = fz_buf + fz_below(BUF - 8192);
	pthread_t th;
	uint64_t saved;
	memcpy(&saved, fz_pattern + 4096, 8);
	if (pthread_create(&th, NULL, later_main, &l) != 0)
		return;
	struct iovec v[2] = { { p, n / 2 }, { p + n / 2 + 7, n - n / 2 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	long r;
	int fd = fz_slot[s].fd;
	switch (which) {
	case 0: r = read(fd, p, n); break;
	case 1: r = readv(fd, v, 2); break;
	case 2: r = recv(fd, p, n, f); break;
	default: r = recvmsg(fd, &m, f); break;
	}
	int e = errno;
	pthread_join(th, NULL);
	memcpy(fz_pattern + 4096, &saved, 8);
	char args[96];
	snprintf(args, sizeof args, "n=%zu f=%x later=%zu:%ld", n, f, l.n, l.r);
	uint32_t h = which == 1 || which == 3 ? fz_hash(v[0].iov_base, r < (long)v[0].iov_len ? r : (long)v[0].iov_len) : fz_hash(p, r);
	errno = e;
	fz_result(i, which == 0 ? "wait-read" : name[which], s, args, r, &h, sizeof h);
	if (which == 1)
		fz_scrub(s, v, 2, r);
	else
		fz_scrub(s, &(struct iovec){ p, n }, 1, r);
	if (which == 3)
		t_out("  flags=%x\n", m.msg_flags);
}

/* Another number of the same file: the one write wakes both, and the
 * kernel's epoll_wait may return between the two (a race of its own). */
static int same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* poll, select or epoll_wait of fds none of which is ready, one made
 * ready 3 ms later. */
void fz_wait_ready(int i)
{
	struct later l;
	int s = waiting_slot(&l);
	if (s < 0)
		return;
	struct pollfd p[4] = { { fz_slot[s].fd, POLLIN, 0 } };
	int n = 1;
	for (int k = 0; k < 3; k++) {
		int o = fz_any_slot();
		/* not readable now, and nothing will make it (no one writes to
		 * it; a TCP socket's room could come with a late ACK) */
		struct pollfd q = { o >= 0 ? fz_slot[o].fd : -1, POLLIN, 0 };
		if (o >= 0 && o != s && poll(&q, 1, 0) == 0 && !same_file(q.fd, p[0].fd))
			p[n++] = q;
	}
	uint64_t saved;
	memcpy(&saved, fz_pattern + 4096, 8);
	pthread_t th;
	if (pthread_create(&th, NULL, later_main, &l) != 0)
		return;
	int how = (int)fz_below(3);
	long r;
	char what[96];
	int len = 0;
	if (how == 0) {
		r = poll(p, (nfds_t)n, 2000);
		for (int k = 0; k < n; k++)
			len += snprintf(what + len, sizeof what - (size_t)len, "%x ", (unsigned)p[k].revents);
	} else if (how == 1) {
		fd_set rd;
		FD_ZERO(&rd);
		int top = 0;
		for (int k = 0; k < n; k++) {
			FD_SET(p[k].fd, &rd);
			top = p[k].fd >= top ? p[k].fd + 1 : top;
		}
		struct timeval tv = { 2, 0 };
		r = select(top, &rd, NULL, NULL, &tv);
		for (int k = 0; k < n; k++)
			len += snprintf(what + len, sizeof what - (size_t)len, "%d ",
					FD_ISSET(p[k].fd, &rd));
	} else {
		int ep = epoll_create1(0);
		for (int k = 0; k < n; k++) {
			struct epoll_event ev = { .events = (uint32_t)p[k].events, .data.u32 = (uint32_t)k };
			epoll_ctl(ep, EPOLL_CTL_ADD, p[k].fd, &ev);
		}
		struct epoll_event out[4];
		r = epoll_wait(ep, out, 4, 2000);
		for (long k = 0; k < r; k++)
			len += snprintf(what + len, sizeof what - (size_t)len, "%u:%x ", out[k].data.u32,
					out[k].events);
		close(ep);
	}
	int e = errno;
	pthread_join(th, NULL);
	memcpy(fz_pattern + 4096, &saved, 8);
	errno = e;
	fz_result(i, how == 0 ? "wait-poll" : how == 1 ? "wait-select" : "wait-epoll", s, what, r,
		  NULL, 0);
}

/* ---- a write that waits for room ---------------------------------------- */

struct drain {
	int fd;
	_Atomic int done; /* the write returned */
	long got;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	t_msleep(3);
	for (;;) {
		int last = d->done;
		struct pollfd p = { d->fd, POLLIN, 0 };
		while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
			long r = recv(d->fd, fz_buf + BUF - 65536, 65536, MSG_DONTWAIT);
			if (r < 0 && errno == ENOTSOCK)
				r = read(d->fd, fz_buf + BUF - 65536, 65536);
			if (r <= 0)
				break;
			d->got += r;
		}
		if (last)
			return NULL;
		t_msleep(1);
	}
}

/* Fill fd without waiting: the bytes that went. */
static long fill(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	long total = 0, r;
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while ((r = write(fd, fz_pattern, 4096)) > 0)
		total += r;
	fcntl(fd, F_SETFL, fl);
	return total;
}

/* write, writev, send or sendmsg of a pipe or socket that is full, drained
 * by another thread from 3 ms on: a blocking stream write moves
 * everything before it returns, a datagram goes whole. */
void fz_wait_write(int i)
{
	int s = fz_any_slot();
	if (s < 0)
		return;
	enum kind k = fz_slot[s].k;
	int peer = fz_slot[s].peer;
	if (!(k == K_PIPE_W || k == K_USTREAM || k == K_UDGRAM || k == K_USEQ) || peer < 0 ||
	    fz_slot[peer].fd < 0 || fz_was_shut_wr(fz_slot[s].fd) || fz_could_wait(peer, 0, 1, 0, 0) == 0)
		return; /* a reader with data queued already, or none */
	int fl = fcntl(fz_slot[s].fd, F_GETFL);
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof tv;
	getsockopt(fz_slot[s].fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len);
	if (fl < 0 || (fl & O_NONBLOCK) || tv.tv_sec || tv.tv_usec)
		return;
	size_t n = k == K_PIPE_W || k == K_USTREAM ? 1 + (size_t)fz_below(100000) : 1 + (size_t)fz_below(2000);
	static const char *const name[] = { "write", "writev", "send", "sendmsg" };
	int which = (int)fz_below(k == K_PIPE_W ? 2 : 4);
	long filled = fill(fz_slot[s].fd);
	struct drain d = { .fd = fz_slot[peer].fd };
	pthread_t th;
	if (pthread_create(&th, NULL, drain_main, &d) != 0)
		return;
	char *p = fz_pattern + fz_below(BUF - 100000);
	struct iovec v[2] = { { p, n / 3 }, { p + n / 3, n - n / 3 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	long r;
	int fd = fz_slot[s].fd;
	switch (which) {
	case 0: r = write(fd, p, n); break;
	case 1: r = writev(fd, v, 2); break;
	case 2: r = send(fd, p, n, 0); break;
	default: r = sendmsg(fd, &m, MSG_NOSIGNAL); break;
	}
	int e = errno;
	d.done = 1;
	pthread_join(th, NULL);
	int dgram = k == K_UDGRAM || k == K_USEQ;
	char args[96];
	snprintf(args, sizeof args, "n=%zu all-drained=%s", n,
		 dgram ? "-" : t_yes(filled > 0 && d.got == filled + (r > 0 ? r : 0)));
	errno = e;
	fz_result(i, which == 0 ? "wait-write" : name[which], s, args, r, NULL, 0);
}
