/* Helpers shared by the check-exact-* programs (tests/t-exact.c).
 *
 * The cases call them by short names (now(), go(), join() ...); their
 * external names carry the t_ex_ prefix, since every tests/t-*.c is linked
 * into every test program.  Include this header after the system headers. */
#ifndef T_EXACT_H
#define T_EXACT_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#define KiB 1024L
#define MiB (1024L * 1024)

#define main_tid            t_ex_main_tid
#define main_thread         t_ex_main_thread
#define minus_one           t_ex_minus_one
#define mark_main           t_ex_mark_main
#define now                 t_ex_now
#define yes                 t_ex_yes
#define net                 t_ex_net
#define go                  t_ex_go
#define join                t_ex_join
#define later_write         t_ex_later_write
#define later_str           t_ex_later_str
#define show_buf            t_ex_show_buf
#define show_status         t_ex_show_status
#define sum                 t_ex_sum
#define fill                t_ex_fill
#define drain_nb            t_ex_drain_nb
#define fill_up             t_ex_fill_up
#define read_n              t_ex_read_n
#define tmp_open            t_ex_tmp_open
#define empty_tmp           t_ex_empty_tmp
#define record_file         t_ex_record_file
#define tcp_pair            t_ex_tcp_pair
#define handled             t_ex_handled
#define handled_same_thread t_ex_handled_same_thread
#define handle              t_ex_handle
#define pending             t_ex_pending
#define child_line          t_ex_child_line

/* The case's own thread, set by mark_main(), for helpers that signal or
 * wait for it. */
extern pid_t main_tid;
extern pthread_t main_thread;
void mark_main(void);
/* -1, hidden from the compiler's checks. */
extern volatile int minus_one;

/* CLOCK_MONOTONIC in seconds. */
double now(void);
/* "yes" or "no". */
const char *yes(int cond);
/* A safety net: a call that hangs ends the process with SIGALRM. */
void net(unsigned secs);
pthread_t go(void *(*fn)(void *), void *arg);
void join(pthread_t th);
/* After ms, write len bytes of data (or the string s) to fd from another
 * thread. */
pthread_t later_write(int fd, const void *data, size_t len, int ms);
pthread_t later_str(int fd, const char *s, int ms);
/* "what=n 'bytes'", or the result as t_res() prints it when n < 0. */
void show_buf(const char *what, const char *buf, long n);
/* A wait status as "what: exit N" / "killed by SIGX" / "stopped by SIGX". */
void show_status(const char *what, int st);
unsigned long sum(const unsigned char *b, long n, unsigned long s);
void fill(unsigned char *b, long n, unsigned seed);
/* Bytes readable from fd now, without waiting. */
long drain_nb(int fd);
/* Fill a blocking pipe or socket until a write would block; the count. */
long fill_up(int fd);
/* Read exactly n bytes (or up to EOF/error); the count. */
long read_n(int fd, long n);
/* A temporary file's fd (already unlinked), opened with flags; an empty
 * one. */
int tmp_open(const char *path, int flags);
int empty_tmp(int flags);
/* A file of n 100-byte records, record i starting with i; unlinked. */
int record_file(int n, int evict);
/* A connected loopback TCP pair (buffer sizes bufsize when not 0); 0 or
 * -1. */
int tcp_pair(int *client, int *server, int bufsize);
/* handle(sig, flags) installs a handler that counts in `handled` and sets
 * `handled_same_thread` when it ran on main_tid. */
extern volatile sig_atomic_t handled, handled_same_thread;
void handle(int sig, int flags);
int pending(int sig);
/* What a child wrote to fd, up to EOF, as one line of output. */
void child_line(int fd);

#endif
