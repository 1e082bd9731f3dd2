/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks a blocking call
 * interrupted from outside: the process stopped and continued (job
 * control) during a wait, a thread cancelled while it waits or with a
 * cancel pending when it calls, and siglongjmp out of a SIGALRM handler
 * (the alarm() timeout of old code) during a wait.
 *
 * Cases marked "kept" showed no difference when they were probed; they
 * stay as regression cases for calls the other programs do not cover.
 *
 * Times are never compared, only what the call returned and what is left
 * afterwards.  A case that could hang sets an alarm first, so that a hang
 * shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ---- helpers ---------------------------------------------------------- */

/* A process that stops this one (SIGSTOP) after stop_ms and continues it
 * cont_ms later; reap it with unstopper_end(). */
static pid_t stopper(int stop_ms, int cont_ms)
{
	pid_t me = getpid(), c = fork();
	if (c == 0) {
		t_msleep(stop_ms);
		kill(me, SIGSTOP);
		t_msleep(cont_ms);
		kill(me, SIGCONT);
		_exit(0);
	}
	return c;
}

static void stopper_end(pid_t c)
{
	int st;
	waitpid(c, &st, 0);
}

/* A file to lock, in the case's scratch directory. */
static int lock_file(char *path, size_t n)
{
	snprintf(path, n, "%s/lock", t_fs_dir());
	return open(path, O_RDWR | O_CREAT, 0600);
}

/* Another process holds `kind` (0 flock, 1 a POSIX lock) on path until
 * release_holder(). */
static pid_t holder(const char *path, int kind)
{
	int p[2];
	char c;
	pipe(p);
	pid_t h = fork();
	if (h == 0) {
		int fd = open(path, O_RDWR);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (kind ? fcntl(fd, F_SETLK, &fl) : flock(fd, LOCK_EX))
			_exit(1);
		write(p[1], "k", 1);
		pause();
		_exit(0);
	}
	read(p[0], &c, 1);
	close(p[0]);
	close(p[1]);
	return h;
}

static void release_holder(pid_t h)
{
	t_kill_child(h);
}

/* Who could take the lock on path now: another process's flock and
 * F_SETLK. */
static void show_lock(const char *path)
{
	pid_t c = fork();
	if (c == 0) {
		int fd = open(path, O_RDWR);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int a = flock(fd, LOCK_EX | LOCK_NB), b = fcntl(fd, F_SETLK, &fl);
		printf("lock-free: flock=%s setlk=%s\n", yes(a == 0), yes(b == 0));
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
}

/* ==== job control: a wait the process is stopped and continued in ===== */

/* The process stops for 600 ms 100 ms into a poll of 800 ms, and the pipe
 * gets data at 1100 ms.  poll() ends at 800 ms with 0 (the kernel
 * restarts it with its old end: restart_block); a coroutine's wait polled
 * by its scheduler's own ppoll under threads was restarted with the time
 * left at the stop, so it was still waiting when the data came, and
 * answered 1.  (aarch64 has no poll system call: glibc's poll is a ppoll
 * there, which the kernel restarts with the time left, so the case says
 * only n/a.) */
static void ci_stop_poll_keeps_its_end(void)
{
#ifdef SYS_poll
	int p[2];
	char b[8];
	net(8);
	t_far_deadline(1); /* the wait goes to the backend */
	t_ticker_quiet(1500); /* and the scheduler sleeps until the poll's end */
	pipe(p);
	pthread_t w = later_str(p[1], "xy", 1100);
	pid_t s = stopper(100, 600);
	t_res("poll", poll(&(struct pollfd){ .fd = p[0], .events = POLLIN }, 1, 800));
	join(w);
	stopper_end(s);
	show_buf("read", b, read(p[0], b, sizeof b));
	t_far_deadline(0);
#else
	t_out("n/a\n");
#endif
}

/* Kept, on a plain thread only (inside a coroutine these are a known
 * limit: README, Job control inside coroutines): the calls that notice a
 * stop without a SIGCONT handler.  nanosleep writes the time left to
 * *rem and goes on; epoll_wait says EINTR; select restarts with the time
 * left at the stop, so data 300 ms after its first end still answers it. */
static void ci_stop_answers_of_the_kernel(void)
{
	int p[2];
	char b[8];
	net(10);
	pipe(p);
	struct timespec rem = { 7, 0 };
	pid_t s = stopper(100, 300);
	t_res("nanosleep", nanosleep(&(struct timespec){ 0, 800000000 }, &rem));
	t_out("rem written=%s\n", yes(rem.tv_sec != 7));
	stopper_end(s);
	int ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &(struct epoll_event){ .events = EPOLLIN });
	struct epoll_event ev;
	s = stopper(100, 300);
	t_res("epoll_wait", epoll_wait(ep, &ev, 1, 800));
	stopper_end(s);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	pthread_t w = later_str(p[1], "xy", 1100);
	s = stopper(100, 600);
	t_res("select", select(p[0] + 1, &rs, NULL, NULL, &(struct timeval){ 0, 800000 }));
	join(w);
	stopper_end(s);
	show_buf("read", b, read(p[0], b, sizeof b));
}

/* Kept: a read, an accept and a lock wait the process is stopped in go on
 * as if nothing happened (no handler for SIGCONT). */
static void ci_stop_read_goes_on(void)
{
	int p[2];
	char b[8];
	net(8);
	t_far_deadline(1);
	pipe(p);
	pthread_t w = later_str(p[1], "xy", 700);
	pid_t s = stopper(100, 300);
	show_buf("read", b, read(p[0], b, sizeof b));
	join(w);
	stopper_end(s);
	t_far_deadline(0);
}

static void accept_later(void *arg)
{
	struct sockaddr_un *a = arg;
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)a, sizeof *a);
}

static void ci_stop_accept_goes_on(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	net(8);
	t_far_deadline(1);
	snprintf(a.sun_path, sizeof a.sun_path, "%s/sock", t_fs_dir());
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(l, (struct sockaddr *)&a, sizeof a);
	listen(l, 4);
	pthread_t w = t_later(accept_later, &a, 700);
	pid_t s = stopper(100, 300);
	t_out("accept=%s\n", yes(accept(l, NULL, NULL) >= 0));
	join(w);
	stopper_end(s);
	t_far_deadline(0);
}

/* Kept: SIGTSTP at its default action stops the process too. */
static void ci_tstp_flock_goes_on(void)
{
	char path[256];
	net(8);
	int fd = lock_file(path, sizeof path);
	pid_t h = holder(path, 0), me = getpid();
	pid_t s = fork();
	if (s == 0) {
		t_msleep(100);
		kill(me, SIGTSTP);
		t_msleep(300);
		if (h > 0)
			kill(h, SIGKILL);
		t_msleep(100);
		kill(me, SIGCONT);
		_exit(0);
	}
	t_res("flock", flock(fd, LOCK_EX));
	stopper_end(s);
	waitpid(h, NULL, 0);
	show_lock(path);
}

/* ==== cancellation of a plain thread ================================== */

enum { W_FLOCK, W_OFD, W_LOCKF, W_ACCEPT4, W_RECVMMSG, W_EPOLL2, W_SPLICE, W_TEE,
       W_CLOCK, W_PSELECT, W_N };
static const char *const w_name[W_N] = { "flock", "F_OFD_SETLKW", "lockf", "accept4",
					  "recvmmsg", "epoll_pwait2", "splice", "tee",
					  "clock_nanosleep", "pselect" };

struct waiter {
	int what, entry;         /* which call; 1: a cancel is pending when it is made */
	int fd, fd2;             /* its fds */
	_Atomic int ready, go;
	int cleaned;
	long r;
};

static void cleanup(void *arg)
{
	((struct waiter *)arg)->cleaned = 1;
}

static long wait_call(struct waiter *w)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct timespec ts = { 5, 0 };
	char b[8];
	struct mmsghdr mm = { .msg_hdr = { .msg_iov = &(struct iovec){ b, sizeof b }, .msg_iovlen = 1 } };
	struct epoll_event ev;
	fd_set rs;
	switch (w->what) {
	case W_FLOCK: return flock(w->fd, LOCK_EX);
	case W_OFD: return fcntl(w->fd, F_OFD_SETLKW, &fl);
	case W_LOCKF: return lockf(w->fd, F_LOCK, 0);
	case W_ACCEPT4: return accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
	case W_RECVMMSG: return recvmmsg(w->fd, &mm, 1, 0, NULL);
	case W_EPOLL2: return epoll_pwait2(w->fd, &ev, 1, &ts, NULL);
	case W_SPLICE: return splice(w->fd, NULL, w->fd2, NULL, 4, 0);
	case W_TEE: return tee(w->fd, w->fd2, 4, 0);
	case W_CLOCK: return clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	default:
		FD_ZERO(&rs);
		FD_SET(w->fd, &rs);
		return pselect(w->fd + 1, &rs, NULL, NULL, &ts, NULL);
	}
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	pthread_cleanup_push(cleanup, w);
	if (w->entry)
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	w->ready = 1;
	while (w->entry && !w->go)
		t_msleep(1);
	if (w->entry)
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	w->r = wait_call(w);
	pthread_cleanup_pop(0);
	return NULL;
}

/* The fds of a call that waits (entry 0) or does not (entry 1). */
static pid_t set_up(struct waiter *w, const char *path, int entry)
{
	int p[2], s[2];
	pid_t h = 0;
	*w = (struct waiter){ .what = w->what, .entry = entry, .r = -2 };
	switch (w->what) {
	case W_FLOCK: case W_OFD: case W_LOCKF:
		w->fd = open(path, O_RDWR);
		if (!entry)
			h = holder(path, w->what == W_LOCKF);
		if (!entry && w->what == W_OFD)
			release_holder(h), h = holder(path, 1);
		break;
	case W_ACCEPT4: {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		snprintf(a.sun_path, sizeof a.sun_path, "%s/acc", t_fs_dir());
		unlink(a.sun_path);
		w->fd = socket(AF_UNIX, SOCK_STREAM, 0);
		bind(w->fd, (struct sockaddr *)&a, sizeof a);
		listen(w->fd, 4);
		if (entry)
			w->fd2 = socket(AF_UNIX, SOCK_STREAM, 0),
			connect(w->fd2, (struct sockaddr *)&a, sizeof a);
		break;
	}
	case W_RECVMMSG:
		socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
		w->fd = s[0], w->fd2 = s[1];
		if (entry)
			send(s[1], "ab", 2, 0);
		break;
	case W_EPOLL2:
		pipe(p);
		w->fd = epoll_create1(0);
		epoll_ctl(w->fd, EPOLL_CTL_ADD, p[0], &(struct epoll_event){ .events = EPOLLIN });
		if (entry)
			write(p[1], "ab", 2);
		break;
	case W_SPLICE: case W_TEE: case W_PSELECT:
		pipe(p);
		pipe(s);
		w->fd = p[0], w->fd2 = s[1];
		if (entry)
			write(p[1], "ab", 2);
		break;
	default:
		break;
	}
	return h;
}

/* After a waiter's call ended: let its lock holder go, and for a lock
 * call show that the lock is free again. */
static void wind_down(struct waiter *w, pid_t h, const char *path)
{
	if (h)
		release_holder(h);
	if (w->what <= W_LOCKF) {
		close(w->fd);
		show_lock(path);
	}
}

/* Cancel a plain thread waiting in each call (or calling it with a cancel
 * pending): a cancellation point ends the thread in the call with its
 * cleanup run; flock is none (glibc makes it a plain system call), so
 * that thread goes on until the lock comes.  Kept. */
static void cancel_each(int entry)
{
	char path[256];
	net(15);
	int fd = lock_file(path, sizeof path);
	for (int i = 0; i < W_N; i++) {
		struct waiter w = { .what = i };
		void *ret;
		pid_t h = set_up(&w, path, entry);
		pthread_t th = go(waiter_main, &w);
		while (!w.ready)
			t_msleep(1);
		t_msleep(entry ? 0 : 100);
		pthread_cancel(th);
		w.go = 1;
		struct timespec d;
		clock_gettime(CLOCK_REALTIME, &d);
		d.tv_sec += 1;
		int late = pthread_timedjoin_np(th, &ret, &d) != 0;
		if (late) {
			if (h)
				release_holder(h), h = 0;
			pthread_join(th, &ret);
		}
		t_out("%s: cancelled=%s cleanup=%s ended-in-call=%s returned=%s\n", w_name[i],
		      yes(ret == PTHREAD_CANCELED), yes(w.cleaned), yes(!late), yes(w.r != -2));
		wind_down(&w, h, path);
	}
	close(fd);
}

static void ci_cancel_in_each_wait(void) { cancel_each(0); }
static void ci_cancel_pending_at_each_call(void) { cancel_each(1); }

/* ==== siglongjmp out of a SIGALRM handler ============================= */

static sigjmp_buf jump_env;

static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(jump_env, 1);
}

/* Jump out of each wait after 100 ms; afterwards the data is still there,
 * the lock is free, the fd works.  Kept. */
static void ci_siglongjmp_out_of_each_wait(void)
{
	char path[256];
	struct sigaction sa = { .sa_handler = on_alarm };
	net(15);
	sigemptyset(&sa.sa_mask);
	int fd = lock_file(path, sizeof path);
	for (int i = 0; i < W_N; i++) {
		struct waiter w = { .what = i };
		pid_t h = set_up(&w, path, 0);
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &(struct itimerval){ { 0, 0 }, { 0, 100000 } }, NULL);
		if (sigsetjmp(jump_env, 1) == 0)
			t_res(w_name[i], wait_call(&w));
		else
			t_out("%s: jumped\n", w_name[i]);
		wind_down(&w, h, path);
	}
	close(fd);
	net(15);
}

/* The same inside a coroutine (shim/jump.c): each call ends as a cancel
 * ends it, then the jump is made from its hook.  Not under
 * ThreadSanitizer, which runs handlers from frames of its own. */
static void ci_siglongjmp_coro_out_of_each_wait(void)
{
	ci_siglongjmp_out_of_each_wait();
}

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case cancels or jumps out of a call (inside coroutines
 * neither acts on a hooked call: README, Known blind spots), or stops the
 * process in a call whose answer inside a coroutine is a known limit
 * (README).  T_BACKEND: the coroutine really waits in a hooked call. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(ci_stop_poll_keeps_its_end, T_BACKEND),
	C(ci_stop_answers_of_the_kernel, T_NOCORO),
	C(ci_stop_read_goes_on, T_BACKEND),
	C(ci_stop_accept_goes_on, T_BACKEND),
	C(ci_tstp_flock_goes_on, 0),
	C(ci_cancel_in_each_wait, T_NOCORO),
	C(ci_cancel_pending_at_each_call, T_NOCORO),
	C(ci_siglongjmp_out_of_each_wait, T_NOCORO),
	C(ci_siglongjmp_coro_out_of_each_wait, T_BACKEND | T_NOTSAN),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-interrupt", 150);
}
