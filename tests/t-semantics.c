/* Helpers shared by the check-semantics-* programs (see t-semantics.h):
 * threads that write, close or signal later, a counting SA_SIGINFO
 * handler, drains and shown buffers. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "t-helpers.h"
#include "t-semantics.h"

static void *later_main(void *arg)
{
	struct later *l = arg;
	t_msleep(l->ms);
	if (l->sig) {
		t_wait_blocked(l->target_tid);
		pthread_kill(l->target, l->sig);
	}
	if (l->data && write(l->fd, l->data, l->len) < 0)
		perror("later write");
	if (l->close_it)
		close(l->fd);
	return NULL;
}

/* After ms, write data to fd (or close it, or signal the caller). */
pthread_t later(struct later *l)
{
	pthread_t th;
	pthread_create(&th, NULL, later_main, l);
	return th;
}

pthread_t later_write(int fd, const char *s, int ms)
{
	static struct later l[8];
	static int n;
	struct later *p = &l[n++ % 8];
	*p = (struct later){ .fd = fd, .ms = ms, .data = s, .len = strlen(s) };
	return later(p);
}

pthread_t later_signal(int sig, int ms)
{
	static struct later l;
	l = (struct later){ .ms = ms, .sig = sig, .target = pthread_self(),
			    .target_tid = t_gettid() };
	return later(&l);
}

volatile sig_atomic_t handled;
volatile sig_atomic_t handled_code, handled_pid_ok, handled_tid_ok;
pid_t writer_tid;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	handled++;
	handled_code = si->si_code;
	handled_pid_ok = si->si_pid == getpid();
	handled_tid_ok = (pid_t)syscall(SYS_gettid) == writer_tid;
}

void handle(int sig, int flags)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | flags };
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	handled = 0;
}

void join(pthread_t th)
{
	pthread_join(th, NULL);
}

void show_buf(const char *what, const char *buf, long n)
{
	t_out("%s=%ld '%.*s'\n", what, n, n > 0 ? (int)n : 0, buf);
}
