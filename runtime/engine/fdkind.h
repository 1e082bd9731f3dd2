/* Kinds of fd, as far as a coroutine's read or write goes: one row each
 * in asy__kinds[] (runtime/engine/fdkind.c), which runtime/engine/rw.c follows and the
 * README's "kind of fd × kind of call" table prints. */
#ifndef ASY_FDKIND_H
#define ASY_FDKIND_H

#include <sys/stat.h>

enum asy_kind {
	ASY_K_FILE,       /* regular file */
	ASY_K_BLOCK,      /* block device */
	ASY_K_DIR,        /* directory */
	ASY_K_KERNFS,     /* regular file of /proc, /sys, cgroupfs, … */
	ASY_K_FIFO,       /* pipe or FIFO */
	ASY_K_STREAM,     /* socket: SOCK_STREAM (TCP, AF_UNIX, vsock, …) */
	ASY_K_RECORD,     /* socket: SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW */
	ASY_K_TTY,        /* terminal: tty, pty master or slave, serial */
	ASY_K_MEM,        /* /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom */
	ASY_K_CHR,        /* other character device (/dev/kmsg, /dev/net/tun, input, …) */
	ASY_K_EVENT,      /* eventfd, timerfd, inotify, fanotify, pidfd, userfaultfd */
	ASY_K_SIGNALFD,   /* signalfd: reads the calling thread's signals */
	ASY_K_EPOLL,      /* epoll fd (read/write: EINVAL) */
	ASY_K_ANON,       /* other anonymous inode: perf_event, io_uring, bpf, … */
	ASY_K_COUNT
};

/* How the call is made without waiting. */
enum asy_try {
	ASY_TRY_LIBC,   /* the program's own call, in the calling thread */
	ASY_TRY_NOWAIT, /* preadv2/pwritev2 with RWF_NOWAIT: the same call, minus the wait */
	ASY_TRY_POLL,   /* poll(0) first; ready: the program's own call */
};

/* What a call that would wait waits with. */
enum asy_wait {
	ASY_WAIT_NONE,  /* it does not leave the thread */
	ASY_WAIT_OP,    /* the whole call is a backend op (files) */
	ASY_WAIT_READY, /* a POLL op, then the call again in the calling thread */
};

struct asy_kind_def {
	const char *name;
	unsigned char try, wait;
	unsigned char positional; /* has a file position; takes offsets */
	unsigned char record;     /* a write is one record: never continued */
	unsigned char nosignal;   /* a write continued after bytes moved raises no
				   * SIGPIPE (sockets; a pipe raises it) */
	unsigned char timeo;      /* SO_RCVTIMEO / SO_SNDTIMEO end the wait */
	unsigned char lowat;      /* SO_RCVLOWAT decides when a read may return */
	unsigned char vmin;       /* termios VMIN 0: a read never waits */
	unsigned char read_call;  /* a read poll(0) does not call ready is the
				   * call itself, on a worker of its own (poll
				   * cannot say how the kernel's waiting read
				   * ends: a FIFO's EOF, a terminal's hangup) */
	unsigned char topup;      /* a short try is not the answer: the
				   * device stops early under RWF_NOWAIT where
				   * its own call goes on (/dev/zero) */
	unsigned char write_op;   /* a write poll does not call ready is made
				   * whole by the backend (the device may
				   * never poll ready for writes: /dev/kmsg) */
	const char *why;          /* one line for the README table */
};

extern const struct asy_kind_def asy__kinds[ASY_K_COUNT];

/* The kind of fd (fstat into *st, and for sockets, character devices and
 * anonymous inodes one more look); -errno when fstat fails. */
int asy__fd_kind(int fd, struct stat *st);

/* Did asy__fd_kind() (or a short read's fstat, asy__fd_saw_socket) last
 * find a socket at this number?  A hint only:
 * the number may have been closed and reused since.  Its user makes a
 * call that any socket answers as the program's would and anything else
 * refuses before a byte moves (ENOTSOCK), and forgets the hint then. */
int asy__fd_was_socket(int fd);
/* An fstat of the caller's found a socket there (of a type not asked). */
void asy__fd_saw_socket(int fd);
void asy__fd_forget(int fd);
/* A close, dup2 or close_range of lo..hi: nothing is known there. */
void asy__fd_forget_range(unsigned lo, unsigned hi);
/* Did it last find an eventfd-like fd there (ASY_K_EVENT)?  Its user
 * makes only calls that are the program's own whatever the number holds
 * now (rw.c: a small write found ready). */
int asy__fd_was_event(int fd);
/* A small write there found ready by poll(0): the program's own call. */
int asy__event_write_ready(struct asy_io *io);

/* 1 when a terminal's read or write that poll does not call ready is the
 * program's own call, made at once: a read with VMIN 0 and VTIME 0 (it
 * never waits), a background process group's read, or write with TOSTOP,
 * of its controlling tty (job control acts on the calling thread). */
int asy__tty_own(int fd, int writing);
/* A background process group's read, or write with TOSTOP (tty.c). */
int asy__tty_background(int fd, int writing);
/* A terminal write that waited for room and whose process group was
 * moved to the background meanwhile: the kernel's answer (tty.c). */
long asy__tty_write_moved(struct asy_io *io);

/* 1 when a regular file is made up by the kernel (ASY_K_KERNFS). */
int asy__kernel_fs(int fd);
/* 1 when fd is a pipe made by pipe() (pipefs), not a FIFO opened by name. */
int asy__made_by_pipe(int fd);

#endif
