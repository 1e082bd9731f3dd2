/* What the socket calls of coroutines share across their files: net.c
 * (the recv and send families, waiting with POLL ops), net-ring.c (RECV
 * and SEND ops on the thread's ring, and rw.c's reads and writes of
 * sockets), net-conn.c (accept, connect), net-mmsg.c (recvmmsg,
 * sendmmsg) and net-ends.c (where a call that waited ends, as the
 * kernel's does).  net-xfer.h has a call's arguments. */
#ifndef ASY_NET_H
#define ASY_NET_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* read() of a number that last held a socket, as the kernel's
 * recvmsg(fd, {iov}, 0) on the thread's ring (net-ring.c); -ENOTSOCK before
 * anything moved when the number holds something else now; ASY_PASS when
 * the ring took nothing (no ring, a coroutine alone). */
long asy__sock_read(struct asy_io *io);
/* The wait and the rest of a read, readv, write or writev of a socket
 * whose try found it would wait (*done bytes moved so far: a stream's
 * write may have moved part), as recv/send with flags 0 on the thread's
 * ring: the op holds the socket while it waits.  ASY_PASS: the ring
 * took nothing more (*done says what moved). */
long asy__sock_stream(struct asy_io *io, size_t *done);
/* Whether a receive or send on stream socket fd that has moved `done`
 * bytes and waited ends now, without another try, as the kernel's one
 * call would end there (net-ends.c).  *unix_sock: fd is AF_UNIX (-1:
 * not asked yet). */
int asy__rest_stops(int fd, int reading, size_t done, int *unix_sock);
/* The thread's ring, when this coroutine's call of a pipe or socket may
 * wait there (net-ring.c); NULL: its wait is a POLL op on the fd number. */
struct asy_thread *asy__ring_thread(void);

/* accept/accept4 and connect of a coroutine (net-conn.c). */
long asy__accept(struct asy_io *io, int fd);
long asy__connect(struct asy_io *io, int fd);
struct msghdr;
struct mmsghdr;
struct timespec;
/* recvmmsg, sendmmsg of a coroutine (net-mmsg.c): a message that would
 * wait is one blocking recvmsg / sendmsg (asy__sock_msg, net.c), which a
 * handler ends with EINTR once `before` messages moved. */
long asy__recv_mmsg(struct asy_io *io, int fd, struct mmsghdr *vec, unsigned vlen, int flags,
		    struct timespec *tmo);
long asy__send_mmsg(struct asy_io *io, int fd, struct mmsghdr *vec, unsigned vlen, int flags);
long asy__sock_msg(struct asy_io *io, int fd, struct msghdr *m, int flags, int reading,
		   unsigned before);

/* net-ends.c.  A unix socket's send waits in slices of 50 ms: no poll bit
 * says the peer shut its reading side, which ends the kernel's wait
 * (EPIPE); the call after each slice does.  asy__slice_end: the end of
 * the next slice, or `deadline` when sooner.  asy__send_ended: a blocking
 * send on socket fd (the program's flags) that waited, then made with
 * MSG_NOSIGNAL, returned r after `done` bytes — its answer as the
 * kernel's waiting sender gives it, SIGPIPE raised where that one does.
 * asy__sockopt_int: an int option of level SOL_SOCKET, or -1.
 * asy__recv_timed_out: a receive's answer at SO_RCVTIMEO, `last` one more try.
 * asy__control_len: msg_controllen of a msghdr the kernel has not read (0:
 * unreadable).  asy__counted_send: the message's control data asks for a
 * transmit timestamp report per call (or cannot be read). */
int asy__unix_socket(int fd);
int64_t asy__slice_end(int64_t deadline);
long asy__send_ended(int fd, int flags, long r, size_t done);
int asy__sockopt_int(int fd, int opt);
size_t asy__rest_control(struct msghdr *m, char *b, size_t cap);
long asy__recv_timed_out(int fd, long last, size_t done, int empty);
size_t asy__control_len(const struct msghdr *m);
int asy__counted_send(const struct msghdr *m);

#endif
