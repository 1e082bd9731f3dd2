/* The differential fuzzer of tests/check-exact-fuzz.c: the fds it holds,
 * its random arguments from the edges, and its calls.  One line per call
 * (t_out), the same in every variant when the shim is exact. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define BUF (2L << 20) /* the data buffer; an unmapped page follows */
#define NSLOT 48
#define NIOV 1026

enum kind {
	K_PIPE_R, K_PIPE_W, K_USTREAM, K_UDGRAM, K_USEQ, K_TCP, K_UDP, K_EVENTFD,
	K_TIMERFD, K_SIGNALFD, K_FILE, K_APPEND, K_DIRECT, K_MEMFD, K_NULL, K_ZERO,
	K_FULL, K_DIR, K_PATH, K_EPOLL, K_LISTEN, K_NKINDS
};
extern const char *const fz_kind_name[K_NKINDS];

struct slot {
	int fd; /* -1: free */
	enum kind k;
	int peer; /* the slot of the other end, or -1 */
};
extern struct slot fz_slot[NSLOT];
/* The data buffer (an unmapped page after it, then a read-only one and
 * another unmapped one), a copy of its first contents, and vectors. */
extern char *fz_buf, *fz_rdonly, *fz_pattern;
extern struct iovec fz_iov[NIOV];
extern const char *fz_dir; /* where files and names go */
extern int fz_sigpipes, fz_sigxfszs;
/* Under a sanitizer: buffers and counts inside the buffer only.  Its
 * interceptors check a call's range against their own idea of memory and
 * report where the kernel says EFAULT, or where a device (/dev/null) takes
 * bytes without reading them: the case would test the sanitizer. */
extern int fz_tame;

/* fds.c: the random source, the fds, would-it-wait, printing */
void fz_seed(uint64_t seed);
uint64_t fz_rnd(void);
long fz_below(long n);
int fz_chance(int pct);
void fz_make(enum kind k);
int fz_add(int fd, enum kind k);
int fz_any_slot(void);
int fz_is_stream(enum kind k);
long fz_queued(int fd);
int fz_could_wait(int s, int writing, size_t n, int dontwait, int all);
void fz_result(int i, const char *op, int s, const char *args, long r, const void *data,
	       long hn);
void fz_settle(int s);
uint32_t fz_hash(const void *p, long n);
/* The sockets whose sending side was shut, by inode: a datagram socket's
 * reader cannot tell, and a write there says EPIPE. */
void fz_shut_wr(int fd);
/* After a read of slot s into v: a signalfd's records carry the sender's
 * pid, which differs run by run; put the buffer's first bytes back, so
 * that no later write sends them. */
void fz_scrub(int s, const struct iovec *v, int cnt, long r);
int fz_was_shut_wr(int fd);

/* calls.c: arguments from the edges and the data calls */
size_t fz_count(void);
char *fz_where(size_t n);
off_t fz_offset(void);
void fz_rw(int i, int s, int which);
void fz_rwv(int i, int s, int which);
void fz_recv(int i, int s, int which);
void fz_send(int i, int s, int which);
void fz_mmsg(int i, int s, int sending);
void fz_copy(int i, int s);

/* files.c: changes of an fd, names, readiness */
void fz_change(int i, int s);
void fz_names(int i);
void fz_file(int i, int s);
void fz_ready(int i);
void fz_poll(int i, int s);

/* waits.c: calls that wait for another thread */
void fz_wait_read(int i);
void fz_wait_ready(int i);
void fz_wait_write(int i);

#endif
