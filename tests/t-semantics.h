/* Helpers shared by the check-semantics-* programs (tests/t-semantics.c).
 *
 * The cases call them by short names (later(), join(), handle() ...);
 * their external names carry the t_sem_ prefix, since every tests/t-*.c
 * is linked into every test program.  Include this header after the
 * system headers. */
#ifndef T_SEMANTICS_H
#define T_SEMANTICS_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#define later          t_sem_later
#define later_write    t_sem_later_write
#define later_signal   t_sem_later_signal
#define handled        t_sem_handled
#define handled_code   t_sem_handled_code
#define handled_pid_ok t_sem_handled_pid_ok
#define handled_tid_ok t_sem_handled_tid_ok
#define writer_tid     t_sem_writer_tid
#define handle         t_sem_handle
#define join           t_sem_join
#define drain_fd       t_ex_drain_nb /* t-exact.c: one for both */
#define show_buf       t_sem_show_buf

struct later {
	int fd, ms;
	const void *data;
	size_t len;
	int close_it;
	pthread_t target;
	pid_t target_tid;
	int sig;
};

/* After l->ms, write l->data to l->fd (or close it, or signal the caller):
 * the thread doing it. */
pthread_t later(struct later *l);
pthread_t later_write(int fd, const char *s, int ms);
pthread_t later_signal(int sig, int ms);

/* handle(sig, flags) installs an SA_SIGINFO handler that counts in
 * `handled` and records the si_code, whether si_pid is this process and
 * whether it ran on writer_tid. */
extern volatile sig_atomic_t handled;
extern volatile sig_atomic_t handled_code, handled_pid_ok, handled_tid_ok;
extern pid_t writer_tid;
void handle(int sig, int flags);

void join(pthread_t th);
/* Bytes readable from fd now, without waiting. */
long drain_fd(int fd); /* bytes readable from fd now, without waiting */
/* "what=n 'bytes'". */
void show_buf(const char *what, const char *buf, long n);

#endif
