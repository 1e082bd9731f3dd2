/* The kinds of fd and what a coroutine's read or write does on each.
 *
 * Every call is first made with RWF_NOWAIT (preadv2/pwritev2: the vector
 * whole, the program's own flags added).  A full transfer, or an error
 * other than EAGAIN / EOPNOTSUPP (the only ones RWF_NOWAIT adds), is what
 * the program's own call gives too, whatever the fd: that is the answer,
 * for one system call.  Only a short or "would wait" try makes the engine
 * look at the fd (fstat), and the row of its kind says what follows: a
 * regular file's short read is tried on (EOF, or where the cached part
 * ends), a pipe's or socket's short read is the answer, a device that
 * stops early under RWF_NOWAIT (/dev/zero) gets the rest from its own
 * call, and a kind whose wait another task cannot stand in for
 * (signalfd) is left to its own call. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <termios.h>

#include "engine.h"
#include "fdkind.h"
#include "sys.h"

#define ROW(n, t, w, ...) { .name = n, .try = ASY_TRY_##t, .wait = ASY_WAIT_##w, __VA_ARGS__ }

const struct asy_kind_def asy__kinds[ASY_K_COUNT] = {
	[ASY_K_FILE] = ROW("regular file", NOWAIT, OP, .positional = 1,
		.why = "page cache: RWF_NOWAIT, skipped where `cachestat` finds nothing after a miss (or a try as slow as the device) on the fd; a miss is one backend op (io_uring: its own worker, `IOSQE_ASYNC`), at the file position on a worker; a buffered write the file system cannot try (ext4) is its own call in this thread, unless one on that file took over 1 ms"),
	[ASY_K_BLOCK] = ROW("block device", NOWAIT, OP, .positional = 1,
		.why = "as a regular file"),
	[ASY_K_DIR] = ROW("directory", LIBC, NONE,
		.why = "read/write give EISDIR at once"),
	[ASY_K_KERNFS] = ROW("/proc, /sys, cgroupfs, mqueue file", LIBC, NONE,
		.why = "made up by the kernel: never waits for a device, refuses RWF_NOWAIT"),
	[ASY_K_FIFO] = ROW("pipe, FIFO", NOWAIT, READY, .read_call = 1,
		.why = "RWF_NOWAIT is the call minus the wait; a write continues as pipe_write() does; under uring the wait is the read or write op itself, which holds the pipe; a FIFO opened by name refuses RWF_NOWAIT: poll(0), and a read it does not call ready is the call itself on a worker (with no writer yet it reads EOF, yet never polls ready)"),
	[ASY_K_STREAM] = ROW("stream socket", NOWAIT, READY, .nosignal = 1, .timeo = 1, .lowat = 1,
		.why = "RWF_NOWAIT is MSG_DONTWAIT; the socket's timeouts and low-water mark hold; under uring the wait is a RECVMSG or SENDMSG op, which holds the socket, and a read where a socket was found before is that op from the start; "
			"once bytes moved, a call on a socket other than AF_UNIX goes on by POLL op and try, and stops where "
			"the socket hung up, its error left to the next call as the kernel's one call leaves it"),
	[ASY_K_RECORD] = ROW("datagram, seqpacket, raw socket", NOWAIT, READY, .record = 1,
		.nosignal = 1, .timeo = 1,
		.why = "one call is one record: never split, never continued"),
	[ASY_K_TTY] = ROW("terminal, pty", POLL, READY, .vmin = 1, .read_call = 1,
		.why = "no RWF_NOWAIT; VMIN 0 never waits; a read that would wait is the kernel's own read, on a worker: only a read already waiting sees its pty's master close (EIO, where a later read gets 0) or its line discipline change (EAGAIN); job control acts on the calling thread: a background group's call is the thread's own; a write that waited for room and whose group was moved to the background meanwhile (TOSTOP) finishes its first 2048-byte chunk on a worker, then takes the kernel's look at the next chunk — SIGTTOU to the group and the count, EIO's count where the group is orphaned, or the rest where SIGTTOU is ignored or blocked (`runtime/engine/tty.c`)"),
	[ASY_K_MEM] = ROW("/dev/null, zero, full, random, urandom", POLL, READY, .topup = 1,
		.why = "a stream of bytes that RWF_NOWAIT may stop early (/dev/zero): a short try gets the rest from the call itself"),
	[ASY_K_CHR] = ROW("other character device", POLL, READY, .write_op = 1,
		.why = "a short try is the answer (one packet or record: tun); poll, then the call itself; a write poll does not call ready is made whole by the backend (/dev/kmsg takes writes at once and never polls ready for them)"),
	[ASY_K_EVENT] = ROW("eventfd, timerfd, inotify, fanotify, pidfd, userfaultfd", POLL, READY,
		.why = "0-byte calls give EINVAL: poll, then the call itself; a write of up to 8 bytes where an eventfd was found last: that poll first, and ready, the call itself (no try, which an eventfd's write refuses)"),
	[ASY_K_SIGNALFD] = ROW("signalfd", LIBC, NONE,
		.why = "reads the calling thread's signals: only that thread can wait for them"),
	[ASY_K_EPOLL] = ROW("epoll fd", LIBC, NONE,
		.why = "read/write give EINVAL at once"),
	[ASY_K_ANON] = ROW("other anonymous fd (perf_event, io_uring, bpf, kvm, …)", LIBC, NONE,
		.why = "whether its read waits is not what poll says (a perf counter's never waits, yet polls ready only on a sample wake-up)"),
};

/* Files the kernel generates (/proc, /sys, cgroups, …).  Asked only when
 * a regular file refuses RWF_NOWAIT, so that a cached read pays no fstatfs. */
int asy__kernel_fs(int fd)
{
	static const long magic[] = {
		0x9fa0,     /* proc */      0x62656572, /* sysfs */
		0x27e0eb,   /* cgroup */    0x63677270, /* cgroup2 */
		0x64626720, /* debugfs */   0x74726163, /* tracefs */
		0x73636673, /* securityfs */ 0x62656570, /* configfs */
		0xcafe4a11, /* bpf */       0xde5e81e4, /* efivarfs */
		0x19800202, /* mqueue (a read is the queue's status line) */
	};
	struct statfs sf;
	if (asy_sys(SYS_fstatfs, fd, &sf, 0, 0, 0, 0) < 0)
		return 0;
	for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++)
		if ((long)sf.f_type == magic[i])
			return 1;
	return 0;
}

int asy__made_by_pipe(int fd)
{
	struct statfs sf;
	return asy_sys(SYS_fstatfs, fd, &sf, 0, 0, 0, 0) == 0 && sf.f_type == 0x50495045;
}

static int socket_kind(int fd)
{
	int type = 0;
	socklen_t len = sizeof type;
	if (asy_sys(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &len, 0) < 0)
		return ASY_K_RECORD;
	return type == SOCK_STREAM ? ASY_K_STREAM : ASY_K_RECORD;
}

/* The memory devices that are streams of bytes (drivers/char/mem.c:
 * null 3, zero 5, full 7, random 8, urandom 9; not kmsg, whose reads are
 * records), a terminal, or another character device.  A terminal is one
 * that answers for its line discipline: TCGETS is the discipline's own
 * and fails under one without ioctls (N_NULL, whose reads fail at once
 * yet never poll ready). */
static int chr_kind(int fd, const struct stat *st)
{
	int ldisc;
	unsigned mi = minor(st->st_rdev);
	if (major(st->st_rdev) == 1 && (mi == 3 || mi == 5 || mi == 7 || mi == 8 || mi == 9))
		return ASY_K_MEM;
	return asy_sys(SYS_ioctl, fd, TIOCGETD, &ldisc, 0, 0, 0) == 0 ? ASY_K_TTY : ASY_K_CHR;
}

/* An anonymous inode (no file type bits): which one, by its name in
 * /proc/self/fd.  Only those whose read waits exactly until poll says
 * POLLIN are polled; any other (a perf counter's read never waits, yet
 * polls ready only when samples wake it; io_uring, bpf, kvm, …) is its
 * own call.  Without /proc: polled as an event fd. */
static int anon_kind(int fd)
{
	static const struct {
		const char *name;
		int kind;
	} anon[] = {
		{ "anon_inode:[eventfd]", ASY_K_EVENT },   { "anon_inode:[timerfd]", ASY_K_EVENT },
		{ "anon_inode:inotify", ASY_K_EVENT },     { "anon_inode:[fanotify]", ASY_K_EVENT },
		{ "anon_inode:[pidfd]", ASY_K_EVENT },     { "anon_inode:[userfaultfd]", ASY_K_EVENT },
		{ "anon_inode:[signalfd]", ASY_K_SIGNALFD }, { "anon_inode:[eventpoll]", ASY_K_EPOLL },
	};
	char path[32], name[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	long n = asy_sys(SYS_readlink, path, name, sizeof name - 1, 0, 0, 0);
	if (n <= 0)
		return ASY_K_EVENT;
	name[n] = 0;
	for (size_t i = 0; i < sizeof anon / sizeof anon[0]; i++)
		if (!strcmp(name, anon[i].name))
			return anon[i].kind;
	return ASY_K_ANON;
}

/* The kind asy__fd_kind() last found at each number, plus 1 (0: none):
 * hints (fdkind.h). */
#define HINT_FDS 4096
static _Atomic unsigned char was_kind[HINT_FDS];

static int hint(int fd)
{
	return fd >= 0 && fd < HINT_FDS ? atomic_load_explicit(&was_kind[fd], memory_order_relaxed) - 1
					: -1;
}

int asy__fd_was_socket(int fd)
{
	int k = hint(fd);
	return k == ASY_K_STREAM || k == ASY_K_RECORD;
}

int asy__fd_was_event(int fd)
{
	return hint(fd) == ASY_K_EVENT;
}

void asy__fd_saw_socket(int fd)
{
	if (fd >= 0 && fd < HINT_FDS && !asy__fd_was_socket(fd))
		atomic_store_explicit(&was_kind[fd], ASY_K_STREAM + 1, memory_order_relaxed);
}

void asy__fd_forget(int fd)
{
	if (fd >= 0 && fd < HINT_FDS)
		atomic_store_explicit(&was_kind[fd], 0, memory_order_relaxed);
}

void asy__fd_forget_range(unsigned lo, unsigned hi)
{
	for (unsigned fd = lo; fd <= hi && fd < HINT_FDS; fd++)
		atomic_store_explicit(&was_kind[fd], 0, memory_order_relaxed);
}

static int classify(int fd, struct stat *st)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		return ASY_K_FILE; /* ASY_K_KERNFS: see asy__kernel_fs() */
	case S_IFBLK:
		return ASY_K_BLOCK;
	case S_IFDIR:
		return ASY_K_DIR;
	case S_IFIFO:
		return ASY_K_FIFO;
	case S_IFSOCK:
		return socket_kind(fd);
	case S_IFCHR:
		return chr_kind(fd, st);
	case 0:
		return anon_kind(fd);
	default:
		return ASY_K_CHR;
	}
}

int asy__fd_kind(int fd, struct stat *st)
{
	long r = asy_sys(SYS_fstat, fd, st, 0, 0, 0, 0);
	if (r < 0)
		return (int)r;
	int kind = classify(fd, st);
	if (fd >= 0 && fd < HINT_FDS)
		atomic_store_explicit(&was_kind[fd], (unsigned char)(kind + 1), memory_order_relaxed);
	return kind;
}

int64_t asy__sock_deadline(int fd, int reading, int64_t start)
{
	struct timeval tv;
	socklen_t len = sizeof tv;
	int opt = reading ? SO_RCVTIMEO : SO_SNDTIMEO;
	if (asy_sys(SYS_getsockopt, fd, SOL_SOCKET, opt, &tv, &len, 0) < 0)
		return -1;
	return asy__timeo_end(start, tv.tv_sec, tv.tv_usec);
}

int64_t asy__timeo_end(int64_t start, int64_t sec, int64_t usec)
{
	if (sec == 0 && usec == 0)
		return -1;
	if (sec < 0 || sec >= INT64_MAX / 1000000000 / 2) /* centuries: none */
		return -1;
	return start + sec * 1000000000 + usec * 1000;
}

int asy__same_file(int fd, const struct stat *was)
{
	struct stat st;
	return asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) == 0 && st.st_dev == was->st_dev &&
	       st.st_ino == was->st_ino;
}

int asy__nonblocking(int fd)
{
	long fl = asy_sys_fcntl(fd, F_GETFL, 0);
	return fl < 0 || (fl & O_NONBLOCK);
}
