/* A coroutine's read or write: what the row of its kind of fd says
 * (runtime/engine/fdkind.c).  Three shapes:
 *
 *  - files (regular, block device): the non-blocking try, and what it
 *    could not do (a cache miss, a buffered write the file system cannot
 *    try, O_DIRECT) as one backend op for the rest;
 *  - pipes and sockets: the non-blocking try; when it would wait, a POLL
 *    op, then the try again — in the calling thread, so the data, SIGPIPE
 *    and every error come from the kernel to the calling thread.  A read
 *    is one transfer; a write goes on until everything moved, as the
 *    kernel's blocking write does, except a record (datagram, seqpacket),
 *    which is one call or none;
 *  - ttys, character devices, event fds: poll(0) says whether the call
 *    would wait; it is made as the program's own call once it would not
 *    (rw-polled.c).
 *
 * The program's vector is never cut into pieces: the kernel sees it whole,
 * validates it, and takes the lock and the atomicity that go with it. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "engine.h"
#include "net.h"
#include "fdkind.h"
#include "order.h"
#include "rw.h"
#include "sys.h"
#include "asyncify.h"
#include "coro.h"

/* The call minus the wait.  A socket write continued after bytes moved
 * says MSG_NOSIGNAL: the kernel's one write would not raise SIGPIPE then. */
static long nowait(const struct asy_io *io, const struct iovec *v, int cnt, off_t off,
		   int nosignal)
{
	if (io->op == ASY_OP_READ)
		return asy_sys_preadv2(io->fd, v, cnt, off, io->rwflags | RWF_NOWAIT);
	if (nosignal) {
		struct msghdr m = { .msg_iov = (struct iovec *)v, .msg_iovlen = (size_t)cnt };
		return asy_sys(SYS_sendmsg, io->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL, 0, 0, 0);
	}
	return asy_sys_pwritev2(io->fd, v, cnt, off, io->rwflags | RWF_NOWAIT);
}

/* One op on the backend for what is left after `done` bytes (rw.h). */
long asy__rw_op_rest(struct asy_io *io, long done, enum asy_op op, short events, int64_t deadline)
{
	struct asy_thread *t = asy__thread();
	if (!t)
		return ASY_PASS; /* no memory for the thread's state */
	struct asy_rest rest;
	struct asy_waiter w = { .io = *io };
	if (op != ASY_OP_POLL) {
		int e = asy__rest_of(&rest, io->iov, io->iovcnt, (size_t)done);
		if (e < 0)
			return e;
		w.io.iov = rest.v;
		w.io.iovcnt = rest.cnt;
		w.io.off = io->off >= 0 ? io->off + done : -1;
	}
	w.io.op = (unsigned char)op;
	w.io.events = events;
	/* A file op a deadline may have to leave behind: in a block of the
	 * engine's own (detach.c). */
	struct asy_waiter *d = op != ASY_OP_POLL && asy__detach_wanted(&w.io) ?
				       asy__detach_new(t, &w.io) : NULL;
	asy__changing += op == ASY_OP_WRITE;
	long r = asy__op(t, d ? d : &w, deadline);
	asy__changing -= op == ASY_OP_WRITE;
	io->via = (d ? d : &w)->io.via;
	if (d)
		r = asy__detach_end(t, d, r, rest.v, rest.cnt);
	if (op != ASY_OP_POLL)
		asy__rest_free(&rest);
	return r;
}

/* A cold read of at least this much runs on a ring's own workers (32
 * coroutines' cold 4 KiB preads sent there ran at 30 000/s, not 47 000:
 * tests/iops, buffered, a dropped 1 GiB file). */
#define COLD_ASYNC_MIN (128 * 1024)

/* The try has not been made (a known O_DIRECT file). */
#define NOT_TRIED LONG_MIN

/* The rest of a call after `done` bytes moved, as the program's own call
 * in this thread (it may wait); what it adds, 0 on an error (the bytes
 * that moved are the answer then, as for the kernel's own call). */
static long pass_rest(const struct asy_io *io, long done)
{
	struct asy_rest rest;
	if (asy__rest_of(&rest, io->iov, io->iovcnt, (size_t)done) < 0)
		return 0;
	off_t off = io->off >= 0 ? io->off + done : -1;
	long r = io->op == ASY_OP_READ ?
			 asy_sys_preadv2(io->fd, rest.v, rest.cnt, off, io->rwflags) :
			 asy_sys_pwritev2(io->fd, rest.v, rest.cnt, off, io->rwflags);
	asy__rest_free(&rest);
	return r > 0 ? r : 0;
}

/* O_DIRECT.  RWF_NOWAIT does not keep a direct read or write from waiting
 * for the device: the try would do the whole I/O on the coroutines'
 * thread.  A try that took long is looked at (F_GETFL), and an fd found to
 * be O_DIRECT is remembered here by number with the file it named; its
 * next calls skip the try when fstat (the one look the kind of fd needs
 * anyway) still finds that file there, and go to the backend whole.  A
 * number closed and reused for another file is seen by fstat; the same
 * file opened again without O_DIRECT only sends its calls to the backend,
 * which answers them as the kernel does. */
#define DIRECT_FDS 1024
#define SLOW_TRY_CYCLES 50000 /* ~20 us */
/* A buffered try of n bytes slower than this waited for the device (a
 * copy from the page cache moves ~4 bytes a cycle): slow_read. */
#define DEVICE_CYCLES(n) (SLOW_TRY_CYCLES + (uint64_t)(n) / 4)
static struct {
	_Atomic unsigned long dev, ino; /* ino 0: not known to be direct */
	_Atomic int no_probe;           /* RWF_DONTCACHE refused: fstat instead */
} direct_fd[DIRECT_FDS];

static inline uint64_t cycles(void)
{
#if defined(__x86_64__)
	return __builtin_ia32_rdtsc();
#else
	uint64_t v;
	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
	return v << 6; /* a 1-100 MHz counter: scale to about cycles */
#endif
}

static int direct_known(int fd)
{
	return fd >= 0 && fd < DIRECT_FDS &&
	       atomic_load_explicit(&direct_fd[fd].ino, memory_order_relaxed);
}

static int direct_still(int fd, const struct stat *st)
{
	return atomic_load_explicit(&direct_fd[fd].ino, memory_order_relaxed) == st->st_ino &&
	       atomic_load_explicit(&direct_fd[fd].dev, memory_order_relaxed) == st->st_dev;
}

static void direct_forget(int fd)
{
	atomic_store_explicit(&direct_fd[fd].ino, 0, memory_order_relaxed);
}

/* A try that took long: is the fd O_DIRECT?  Remember it if so. */
static void direct_learn(int fd)
{
	struct stat st;
	long fl = asy_sys_fcntl(fd, F_GETFL, 0);
	if (fd < 0 || fd >= DIRECT_FDS || fl < 0 || !(fl & O_DIRECT) ||
	    asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return;
	atomic_store_explicit(&direct_fd[fd].dev, st.st_dev, memory_order_relaxed);
	atomic_store_explicit(&direct_fd[fd].no_probe, 0, memory_order_relaxed);
	atomic_store_explicit(&direct_fd[fd].ino, st.st_ino, memory_order_relaxed);
}

/* A buffered read whose try answered, slowly: the kernel may finish the
 * read it starts for a missing page before it looks again (a virtual
 * disk whose host completes the request inside the submission, ~80 us a
 * page here), and then the try waited for the device on the coroutines'
 * thread.  The fd is taken as cold (cold.c): its next read asks the page
 * cache first, and a miss goes to the backend whole.  A try slow for
 * another reason (preempted, a large copy) costs one cachestat later,
 * and the first read found cached forgets it.  Alone on its thread a
 * coroutine's read is its own anyway (rw_file). */
static void slow_read(struct asy_io *io)
{
	struct stat st;
	if (asy__coro_alone() || asy_sys(SYS_fstat, io->fd, &st, 0, 0, 0, 0) < 0 ||
	    !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return;
	asy__cold_learn(io->fd, &st);
}

#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif

static long direct_probe(struct asy_io *io)
{
	io->rwflags = RWF_DONTCACHE;
	long r = asy__rw_op_rest(io, 0, ASY_OP_READ, 0, -1);
	io->rwflags = 0;
	return r;
}

/* ---- files ----------------------------------------------------------- */

/* A buffered write the file system cannot try (ext4 refuses RWF_NOWAIT
 * for them) waits for the page cache, hardly ever for the disk: it is
 * made in the calling thread, as the program's own call, where a handoff
 * to a backend costs ~35 µs on the development VM.  The exceptions —
 * dirty-page throttling, a journal commit — show as a write that took
 * longer than SLOW_WRITE_NS: its file's writes (by number, with the file
 * it named) go to the backend for the next SLOW_HOLD_NS.  A coroutine
 * with an I/O deadline always hands them over (the backend's op is
 * bounded by it, the calling thread's own call is not). */
#define SLOW_FDS 256
#define SLOW_WRITE_NS 1000000LL
#define SLOW_HOLD_NS 1000000000LL
static struct {
	_Atomic int fd;
	_Atomic unsigned long ino;
	_Atomic int64_t until;
} slow_write[SLOW_FDS];

static long own_write(struct asy_io *io, const struct stat *id)
{
	unsigned h = (unsigned)io->fd % SLOW_FDS;
	if (asy__coro_io_deadline() >= 0)
		return NOT_TRIED;
	if (atomic_load_explicit(&slow_write[h].fd, memory_order_relaxed) == io->fd &&
	    atomic_load_explicit(&slow_write[h].ino, memory_order_relaxed) == id->st_ino &&
	    asy_now() < atomic_load_explicit(&slow_write[h].until, memory_order_relaxed))
		return NOT_TRIED;
	int64_t t0 = asy_now();
	long r = asy_sys_pwritev2(io->fd, io->iov, io->iovcnt, io->off, io->rwflags);
	int64_t t1 = asy_now();
	asy__inline_ns += t1 - t0; /* the others get their turn after 1 ms of these */
	if (t1 - t0 > SLOW_WRITE_NS) {
		atomic_store_explicit(&slow_write[h].fd, io->fd, memory_order_relaxed);
		atomic_store_explicit(&slow_write[h].ino, id->st_ino, memory_order_relaxed);
		atomic_store_explicit(&slow_write[h].until, t1 + SLOW_HOLD_NS, memory_order_relaxed);
	}
	return asy__inline(io, r);
}

/* A write to a regular file that stopped short at RLIMIT_FSIZE is the answer: the
 * kernel's one call writes up to it, a continuation would raise SIGXFSZ. */
static int at_fsize_limit(const struct asy_io *io, long done)
{
	struct rlimit rl;
	if (done <= 0 || getrlimit(RLIMIT_FSIZE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	long end = asy__write_end(io, done);
	return end >= 0 && (unsigned long)end >= rl.rlim_cur;
}

/* A regular file or block device; `first` is the try's result, or
 * NOT_TRIED (a known O_DIRECT file); `id` its fstat. */
static long rw_file(struct asy_io *io, long first, const struct stat *id)
{
	long r = first, done = 0;
	if (r == -EOPNOTSUPP && io->op == ASY_OP_WRITE && S_ISREG(id->st_mode)) {
		long w = own_write(io, id); /* /proc and /sys files too: never wait */
		if (w != NOT_TRIED)
			return w;
	}
	if (r == -EOPNOTSUPP && asy__kernel_fs(io->fd))
		return ASY_PASS; /* /proc, /sys: never waits for a device */
	/* A coroutine alone on its thread: nothing else could run while its
	 * file call waits, so the call is the program's own (as on a plain
	 * thread) — a handoff would only add wake-ups. */
	if (asy__coro_alone())
		return r > 0 ? r + pass_rest(io, r) : ASY_PASS;
	if (r >= 0) {
		size_t total = asy__iov_total(io->iov, io->iovcnt);
		done = r;
		/* A read that stopped short: at EOF, or where the cached part
		 * ends.  Another try says which, without a backend. */
		while (io->op == ASY_OP_READ && r > 0 && (size_t)done < total) {
			/* Readahead that keeps finishing keeps the tries short
			 * but never ending: the I/O deadline ends them too. */
			int64_t until = asy__wait_deadline(-1);
			if (until >= 0 && asy_now() >= until)
				return asy__inline(io, done);
			struct asy_rest rest;
			if (asy__rest_of(&rest, io->iov, io->iovcnt, (size_t)done) < 0)
				return done;
			uint64_t c0 = cycles();
			r = nowait(io, rest.v, rest.cnt, io->off >= 0 ? io->off + done : -1, 0);
			asy__rest_free(&rest);
			done += r > 0 ? r : 0;
			/* A try as slow as the device (slow_read): the rest
			 * goes to the backend, as after a miss. */
			if (r > 0 && (size_t)done < total && cycles() - c0 > DEVICE_CYCLES(r))
				r = -EAGAIN;
		}
		if ((size_t)done == total || r == 0 || (r < 0 && r != -EAGAIN) ||
		    (io->op == ASY_OP_WRITE && S_ISREG(id->st_mode) && at_fsize_limit(io, done)))
			return asy__inline(io, done);
	}
	/* A buffered read that missed the page cache: the fd's next read
	 * looks at the page cache before it tries (cold.c), and on a ring a
	 * large one is read by the ring's own workers: finished by task work
	 * it would be copied in this thread, inside its io_uring_enter (a
	 * small one costs less there than a worker's wake-up). */
	if (io->op == ASY_OP_READ && first != NOT_TRIED) {
		long fl = asy_sys_fcntl(io->fd, F_GETFL, 0);
		if (fl >= 0 && !(fl & O_DIRECT)) {
			asy__cold_learn(io->fd, id);
			if (asy__iov_total(io->iov, io->iovcnt) - (size_t)done >= COLD_ASYNC_MIN)
				io->flags |= ASY_F_COLD;
		}
	}
	/* One call at the position of this open file at a time (position.c). */
	struct asy_thread *t = asy__thread();
	int span = asy__pos_begin(t, io, id);
	if (span < -1)
		return done ? done : span + 2;
	long more = asy__rw_op_rest(io, done, (enum asy_op)io->op, 0, -1);
	if (span >= 0)
		asy__pos_end(t, span);
	if (more == ASY_PASS)
		return done ? done + pass_rest(io, done) : ASY_PASS;
	return more < 0 ? (done ? done : more) : done + more;
}

/* ---- pipes and sockets ------------------------------------------------ */

/* How many bytes a blocking read waits for before it returns: 1, or on a
 * stream socket min(SO_RCVLOWAT, count).  The kernel's read takes what
 * is there and waits for more until it has that many (tcp_recvmsg,
 * unix_stream_read_generic); the engine does the same, a POLL op
 * standing in for the kernel's wait (TCP's poll counts the mark). */
static size_t read_target(const struct asy_io *io, const struct asy_kind_def *k)
{
	int lowat = 1;
	socklen_t len = sizeof lowat;
	if (!k->lowat ||
	    asy_sys(SYS_getsockopt, io->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len, 0) < 0 ||
	    lowat <= 1)
		return 1;
	long total = asy__vec_total_safe(io);
	if (total <= 0)
		return 1;
	return (size_t)total < (size_t)lowat ? (size_t)total : (size_t)lowat;
}

/* The program's call itself, on io->fd (a kept copy, where a wait's
 * number was closed meanwhile), at `off` (-1: the file position; rw.h). */
long asy__rw_call_itself(const struct asy_io *io, off_t off)
{
	return io->op == ASY_OP_READ ? asy_sys_preadv2(io->fd, io->iov, io->iovcnt, off, io->rwflags) :
				       asy_sys_pwritev2(io->fd, io->iov, io->iovcnt, off, io->rwflags);
}

/* The loop of rw_stream() below. */
static long stream_loop(struct asy_io *io, const struct asy_kind_def *k, const struct stat *id,
			long first, struct asy_keep *keep)
{
	int reading = io->op == ASY_OP_READ;
	size_t want = reading ? read_target(io, k) : 0;
	int64_t start = asy_now(), deadline = -1;
	long done = 0, fl = -1;
	int waited = 0, hup = 0, ring = 0, unix_send = -1, unix_sock = -1, timed_out = 0;
	struct asy_again again = { 0, 0 };
	for (;;) {
		long r, paused;
		if (asy__rest_interrupted(done))
			return done; /* a handler ran: the count, as the kernel's */
		io->fd = asy__keep_fd(keep, io->fd); /* closed meanwhile: its copy */
		int64_t tried = k->timeo ? asy_now() : 0; /* a socket's timeout counts waits */
		if (first != NOT_TRIED) {
			r = first;
			first = NOT_TRIED;
		} else if (ring) {
			r = asy__rw_op_rest(io, done, reading ? ASY_OP_PIPE_READ : ASY_OP_PIPE_WRITE, 0, -1);
		} else if (done == 0) {
			/* After a wait, a socket's SIGPIPE is raised where the
			 * kernel's waiting sender raises it (asy__send_ended). */
			int quiet = waited && !reading && k->nosignal;
			r = nowait(io, io->iov, io->iovcnt, io->off, quiet);
			if (quiet)
				r = asy__send_ended(io->fd, 0, r, 0);
		} else {
			struct asy_rest rest;
			if (asy__rest_of(&rest, io->iov, io->iovcnt, (size_t)done) < 0)
				return done;
			r = nowait(io, rest.v, rest.cnt, -1, !reading && k->nosignal);
			asy__rest_free(&rest);
		}
		if (timed_out && (reading || r <= 0)) /* its timeout passed: that try says */
			return reading ? asy__recv_timed_out(io->fd, r, (size_t)done, 0) : done ? done : r;
		timed_out = 0; /* a unix send moved more: it goes on (net-ends.c) */
		/* A FIFO opened by name takes no RWF_NOWAIT, whatever the
		 * program's flags: poll it instead.  (A pipe made by pipe()
		 * takes it: the program's flags were refused.) */
		if (r == -EOPNOTSUPP && !done && !waited && !k->timeo &&
		    (!io->rwflags || !asy__made_by_pipe(io->fd)))
			return asy__rw_polled(io, k, id);
		if (r >= 0) {
			if (!reading && !want)
				want = asy__iov_total(io->iov, io->iovcnt);
			done += r;
			if ((reading && r == 0) || (size_t)done >= want || k->record)
				return waited ? done : asy__inline(io, done);
			if (unix_send > 0)
				start = asy_now(), deadline = -1;
			else if (!ring && k->timeo && (tried = asy_now() - tried) > 0)
				start += tried, deadline += deadline >= 0 ? tried : 0; /* time moving bytes */
		} else if (r != -EAGAIN) {
			return done ? done : r;
		} else if (hup) {
			/* poll() says hung up, the try says "would wait": the
			 * program's own call answers (it will not wait). */
			return done ? done : ASY_PASS;
		} else if (waited && !ring && (paused = asy__pause_again(&again, deadline, done)) != 0) {
			return paused; /* ready by poll, yet it would wait, again */
		}
		/* It would wait (or moved part): a non-blocking fd answers now,
		 * as the kernel would. */
		if (fl < 0)
			fl = asy__nonblocking(io->fd);
		if (fl)
			return done ? done : r;
		/* Nothing else could run meanwhile: the program's own call
		 * waits, as on a plain thread (a POLL op would only add to it). */
		if (!done && !waited && asy__coro_alone())
			return ASY_PASS;
		/* On the ring the call itself waits, and its op holds the file
		 * as the kernel's call does: a number closed and reused once
		 * the op is in is never read or written.  The op after a part
		 * goes by number again: kept, it finds the file a close left. */
		if (!waited && !io->rwflags && asy__ring_thread()) {
			if (k->timeo) {
				size_t moved = (size_t)done;
				r = asy__sock_stream(io, &moved);
				if (r != ASY_PASS)
					return r;
				done = (long)moved;
			} else {
				if (!reading || want > 1)
					asy__keep_begin(keep, io->fd);
				ring = waited = 1;
				continue;
			}
		}
		if (asy__rest_interrupted(done))
			return done; /* and the wait sees a handler from its start */
		if (k->timeo && deadline < 0)
			deadline = asy__sock_deadline(io->fd, reading, start);
		keep->id = id;
		asy__keep_begin(keep, io->fd); /* a unix write waits in slices (net.c) */
		if (unix_send < 0)
			unix_send = !reading && k->timeo && asy__unix_socket(io->fd);
		int64_t until = unix_send ? asy__slice_end(deadline) : deadline;
		r = asy__wait_ready(io, io->fd, reading ? POLLIN | POLLRDHUP : POLLOUT, until,
				     keep);
		if (r == -ETIME && until != deadline)
			r = POLLOUT; /* the slice's end: the call again says */
		else if (r == -ETIME && !reading && !unix_send)
			return done ? done : -EAGAIN;
		else if (r == -ETIME) {
			timed_out = 1;
			continue;
		}
		if (r == ASY_PASS || r < 0)
			return done ? done : r;
		/* POLLERR alone: the error queue (an error is the call's answer) */
		hup = (r & (POLLHUP | POLLRDHUP | POLLNVAL)) != 0;
		waited = 1;
		/* Closed meanwhile: the close left a copy of the file, or
		 * the call ends (keep.c). */
		int fd = asy__keep_after(keep, io->fd, id);
		if (fd < 0)
			return done ? done : -EBADF;
		if (fd != io->fd)
			io->fd = fd, hup = 0;
		if (k->timeo && asy__rest_stops(io->fd, reading, (size_t)done, &unix_sock))
			return done;
	}
}

/* A pipe or socket; `first` is the try's result.  While it waits by
 * number (not on a ring), the number is kept (keep.c): another thread's
 * close leaves the call a copy of the file to go on with. */
static long rw_stream(struct asy_io *io, const struct asy_kind_def *k, const struct stat *id,
		      long first)
{
	struct asy_keep keep = { .fd = -1, .held = -1 };
	int fd = io->fd;
	long r = stream_loop(io, k, id, first, &keep);
	if (r == ASY_PASS && io->fd != fd) /* hung up: the call itself, on the copy */
		r = asy__rw_call_itself(io, -1);
	io->fd = fd;
	asy__keep_end(&keep);
	return r;
}

/* A short read of a pipe, or of a socket with no low-water mark, is the
 * answer (the usual case of a stream: one look instead of the whole kind
 * of fd).  A short write is never final: a blocking stream writes on.
 * A number that held a socket (fdkind.h) is asked SO_RCVLOWAT first: its
 * answer also says "a socket now", with no fstat (ENOTSOCK: as before). */
static int short_is_final(const struct asy_io *io)
{
	struct stat st;
	int lowat = 1;
	socklen_t len = sizeof lowat;
	if (io->op != ASY_OP_READ)
		return 0;
	if (asy__fd_was_socket(io->fd)) {
		long r = asy_sys(SYS_getsockopt, io->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len, 0);
		if (r != -ENOTSOCK)
			return r == 0 && lowat <= 1;
	}
	if (asy_sys(SYS_fstat, io->fd, &st, 0, 0, 0, 0) < 0)
		return 0;
	if (S_ISFIFO(st.st_mode))
		return 1;
	if (!S_ISSOCK(st.st_mode))
		return 0;
	asy__fd_saw_socket(io->fd); /* the next short read asks SO_RCVLOWAT at once */
	return asy_sys(SYS_getsockopt, io->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len, 0) == 0 &&
	       lowat <= 1;
}

/* Is r the whole call's answer, whatever the fd is?  A full transfer, or
 * an error other than "would wait" / "cannot try", is what the
 * program's own call gives too. */
static int final_answer(const struct asy_io *io, long r)
{
	if (r < 0)
		return r != -EAGAIN && r != -EOPNOTSUPP;
	return (size_t)r == asy__iov_total(io->iov, io->iovcnt);
}

long asy__rw(struct asy_io *io)
{
	/* Calls that never wait, or that the kernel refuses before looking
	 * at the fd, get libc's own answer: an offset below 0 — below -1
	 * for preadv2/pwritev2, where -1 is the file position — is EINVAL
	 * (never "the position", where the try would be skipped: a cold or
	 * O_DIRECT file). */
	if ((io->rwflags & RWF_NOWAIT) || io->off < ((io->flags & ASY_F_EXPLICIT) ? 0 : -1))
		return ASY_PASS;
	if (io->iov == NULL && io->iovcnt == 1 && !(io->flags & ASY_F_VEC)) {
		/* 0 bytes: read()/write() reach the file (a socket sends an
		 * empty datagram, an eventfd says EINVAL) where the vector calls
		 * stop at once.  Above MAX_RW_COUNT: read()/write() check the
		 * whole range (EFAULT) and then move at most MAX_RW_COUNT bytes,
		 * which an iovec does not reproduce. */
		if (io->one.iov_len == 0 || io->one.iov_len > MAX_RW_COUNT)
			return ASY_PASS;
		io->iov = &io->one;
	}
	if (!io->iov || io->iovcnt <= 0 || io->iovcnt > IOV_MAX)
		return ASY_PASS;
	/* After what other coroutines of the thread sent out first to
	 * change the same file (order.h). */
	if (io->op == ASY_OP_WRITE && asy__changing)
		asy__ops_first(io, asy__vec_total_safe(io));
	if (io->op == ASY_OP_READ && io->iov == &io->one && io->off < 0 && !io->rwflags &&
	    asy__fd_was_socket(io->fd)) {
		/* A socket, last time: read on the ring as recv (net-ring.c).  One
		 * buffer, of at least a byte (above): a vector of 0 bytes reads
		 * nothing where recvmsg would take a datagram. */
		long r = asy__sock_read(io);
		if (r != ASY_PASS && r != -ENOTSOCK)
			return r;
		if (r == -ENOTSOCK)
			asy__fd_forget(io->fd); /* another kind of fd now: the try */
	}
	struct stat id;
	int kind = -1;
	long first = NOT_TRIED;
	/* Where the try is skipped (a known O_DIRECT fd, below), the kernel
	 * has not looked at the vector yet: a bad one is the program's own
	 * call's EFAULT, never read here. */
	if (direct_known(io->fd) && asy__vec_total_safe(io) < 0)
		return ASY_PASS;
	if (direct_known(io->fd) && io->op == ASY_OP_READ && io->off >= 0 && !io->rwflags &&
	    !atomic_load_explicit(&direct_fd[io->fd].no_probe, memory_order_relaxed) &&
	    !asy__coro_alone()) {
		/* A direct read at an offset: the backend op itself checks the
		 * number still names a file that takes RWF_DONTCACHE (regular
		 * files and block devices of file systems with it; anything
		 * else says EOPNOTSUPP before a byte moves, 6.14+), so no fstat
		 * is needed.  The flag changes nothing for a direct read. */
		long r = direct_probe(io);
		if (r != -EOPNOTSUPP)
			return r;
		/* tmpfs, kernels before 6.14, or another kind of fd now. */
		atomic_store_explicit(&direct_fd[io->fd].no_probe, 1, memory_order_relaxed);
	}
	if (io->off < 0) {
		long w = asy__pos_wait(io);
		if (w)
			return w;
	}
	if (direct_known(io->fd)) {
		kind = asy__fd_kind(io->fd, &id);
		if (kind < 0)
			return ASY_PASS;
		if (!asy__kinds[kind].positional || !direct_still(io->fd, &id)) {
			direct_forget(io->fd);
			kind = -1;
		}
	}
	/* A file whose last try missed the page cache, read where the
	 * cache still has nothing: the try would only start readahead in
	 * this thread; the backend op reads it (cold.c). */
	int cold = io->op == ASY_OP_READ && asy__cold_known(io->fd);
	if (cold && kind < 0 && !io->rwflags && !asy__coro_alone()) {
		kind = asy__cold_skip(io, asy__vec_total_safe(io), &id);
		if (kind >= 0)
			first = -EAGAIN; /* what the try would have said */
	}
	if (kind < 0 && asy__event_write_ready(io)) /* fdkind.c */
		return ASY_PASS;
	if (kind < 0) {
		/* The try first: when it is the whole answer, the kind of fd
		 * does not matter and the call cost one system call. */
		uint64_t c0 = cycles();
		first = nowait(io, io->iov, io->iovcnt, io->off, 0);
		uint64_t took = first > 0 ? cycles() - c0 : 0;
		/* A direct transfer moves whole blocks: a slow try of another
		 * size (a socket's loopback write) is not looked at. */
		if (took > SLOW_TRY_CYCLES && (first & 511) == 0)
			direct_learn(io->fd);
		int slow = took > DEVICE_CYCLES(first);
		if (final_answer(io, first) || (first > 0 && short_is_final(io))) {
			if (slow && io->op == ASY_OP_READ && !direct_known(io->fd))
				slow_read(io); /* it read the device in this thread */
			else if (cold && first > 0)
				asy__cold_forget(io->fd); /* cached (again) */
			return first < 0 ? first : asy__inline(io, first);
		}
		kind = asy__fd_kind(io->fd, &id);
		if (kind < 0)
			return first > 0 ? first : ASY_PASS;
	}
	const struct asy_kind_def *k = &asy__kinds[kind];
	switch (k->try) {
	case ASY_TRY_NOWAIT:
		return k->wait == ASY_WAIT_OP ? rw_file(io, first, &id) : rw_stream(io, k, &id, first);
	case ASY_TRY_POLL:
		/* Bytes moved: the answer (one value of an eventfd, one
		 * packet of tun) — but for a stream of bytes that stopped
		 * early under RWF_NOWAIT (/dev/zero): its own call takes the
		 * rest. */
		if (first > 0)
			return k->topup ? first + pass_rest(io, first) : asy__inline(io, first);
		return asy__rw_polled(io, k, &id);
	default:
		return first >= 0 ? first : ASY_PASS;
	}
}
