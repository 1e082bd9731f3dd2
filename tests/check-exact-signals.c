/* Regression tests, one case per symptom seen, as in every check-exact-*
 * program: each runs without the shim, under off, uring and threads, and
 * inside a coroutine (uring-coro, threads-coro), and must print what plain
 * glibc prints and end the same way.  This program checks that signals and
 * cancellation: deferred and pending cancels, write and readv as
 * cancellation points, siglongjmp out of a blocked call, SA_RESTART
 * handlers that change errno or come 50 times in a row.
 *
 * Times are never compared, only buckets ("<50ms", "50ms..1s") or yes/no.
 * A case that could hang under a broken shim sets an alarm first, so that
 * a hang shows as "signal SIGALRM" next to plain glibc's clean exit. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "t-helpers.h"
#include "t-exact.h"

/* ---- helpers ---------------------------------------------------------- */

/* The same for cases that use ITIMER_REAL themselves: SIGKILL after secs. */
static void net_kill(int secs)
{
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGKILL };
	struct itimerspec its = { .it_value = { secs, 0 } };
	timer_t t;
	if (timer_create(CLOCK_MONOTONIC, &ev, &t) == 0)
		timer_settime(t, 0, &its, NULL);
}

/* Wait (bounded) until cond_var reaches want. */
static void wait_for(volatile sig_atomic_t *var, int want)
{
	for (int i = 0; i < 5000 && *var < want; i++)
		t_msleep(1);
}

/* ==== class 6: signals and cancellation ================================ */

static _Atomic int cancel_sent;
static _Atomic long loops_after_cancel;

static void *pread_loop(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char b[4096];
	while (!cancel_sent)
		sched_yield();
	for (long i = 0; i < 100000; i++) {
		pread(fd, b, sizeof b, 0);
		loops_after_cancel = i + 1;
	}
	return NULL;
}

/* Deferred cancel of a thread whose only cancellation point is a cached
 * pread: the next pread acts on it. */
static void c6_cancel_cached_pread_loop(void)
{
	int fd = record_file(41, 0);
	void *ret;
	net(6);
	pthread_t th = go(pread_loop, (void *)(intptr_t)fd);
	pthread_cancel(th);
	cancel_sent = 1;
	pthread_join(th, &ret);
	t_out("%s preads-after-cancel=%ld\n", ret == PTHREAD_CANCELED ? "cancelled" : "finished",
	      loops_after_cancel);
}

static _Atomic int ready, go_on;

struct at_entry {
	int fd, op;
	long r;
};

static void *call_after_cancel(void *arg)
{
	struct at_entry *a = arg;
	char b[8];
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	ready = 1;
	while (!go_on)
		sched_yield();
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	a->r = a->op ? readv(a->fd, &(struct iovec){ b, sizeof b }, 1) : write(a->fd, "x", 1);
	return NULL;
}

/* write and readv are cancellation points: a pending cancel acts on entry,
 * before anything moves. */
static void cancel_at_entry(int op)
{
	int p[2];
	char b[8];
	void *ret;
	net(4);
	pipe(p);
	if (op)
		write(p[1], "abc", 3);
	struct at_entry a = { .fd = op ? p[0] : p[1], .op = op, .r = -2 };
	ready = go_on = 0;
	pthread_t th = go(call_after_cancel, &a);
	while (!ready)
		sched_yield();
	pthread_cancel(th);
	go_on = 1;
	pthread_join(th, &ret);
	t_out("cancelled=%s returned=%s\n", yes(ret == PTHREAD_CANCELED), yes(a.r != -2));
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	show_buf("in-pipe", b, read(p[0], b, sizeof b));
}

static void c6_write_is_cancellation_point(void) { cancel_at_entry(0); }
static void c6_readv_is_cancellation_point(void) { cancel_at_entry(1); }

static _Atomic pid_t blocked_tid;

static void *writev_blocked(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static char b[1000];
	blocked_tid = t_gettid();
	writev(fd, &(struct iovec){ b, sizeof b }, 1);
	return NULL;
}

static void c6_cancel_blocked_writev(void)
{
	int p[2];
	char b[8];
	void *ret;
	net(4);
	pipe(p);
	long full = fill_up(p[1]);
	blocked_tid = 0;
	pthread_t th = go(writev_blocked, (void *)(intptr_t)p[1]);
	while (!blocked_tid)
		sched_yield();
	t_wait_blocked(blocked_tid);
	pthread_cancel(th);
	pthread_join(th, &ret);
	t_out("cancelled=%s\n", yes(ret == PTHREAD_CANCELED));
	t_out("in-pipe=full+%ld\n", drain_nb(p[0]) - full);
	write(p[1], "ok", 2);
	show_buf("after", b, read(p[0], b, sizeof b));
}

static sigjmp_buf jump_env;

static void on_jump(int sig)
{
	(void)sig;
	siglongjmp(jump_env, 1);
}

static void arm_jump(void)
{
	struct sigaction sa = { .sa_handler = on_jump };
	struct itimerval it = { { 0, 0 }, { 0, 100000 } };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* A handler siglongjmps out of a blocked read; the pipe then works as
 * before and nothing left over takes its data. */
static void c6_siglongjmp_out_of_read(void)
{
	int p[2];
	char b[16];
	net_kill(5);
	pipe(p);
	for (int round = 0; round < 2; round++) {
		arm_jump();
		if (sigsetjmp(jump_env, 1) == 0)
			t_res("read", read(p[0], b, sizeof b));
		else
			t_out("jumped\n");
		write(p[1], round ? "def" : "abc", 3);
		show_buf("read-after", b, read(p[0], b, sizeof b));
	}
}

static void c6_siglongjmp_out_of_write(void)
{
	int p[2];
	char b[16];
	static char big[1000];
	net_kill(5);
	pipe(p);
	long full = fill_up(p[1]);
	arm_jump();
	if (sigsetjmp(jump_env, 1) == 0)
		t_res("write", write(p[1], big, sizeof big));
	else
		t_out("jumped\n");
	t_out("in-pipe=full+%ld\n", drain_nb(p[0]) - full);
	write(p[1], "abc", 3);
	show_buf("read-after", b, read(p[0], b, sizeof b));
}

/* The same inside a coroutine: the handler runs on whatever stack the
 * thread waits on, and the jump is made when the read or write, ended
 * as by a cancel, is back in its hook (shim/jump.c).  Not under
 * ThreadSanitizer, which runs handlers from frames of its own. */
static void c6_siglongjmp_coro_out_of_read(void) { c6_siglongjmp_out_of_read(); }
static void c6_siglongjmp_coro_out_of_write(void) { c6_siglongjmp_out_of_write(); }

/* Job 0 waits in a read with a timer of its thread's own due in 50 ms,
 * whose handler jumps back out; job 1 computes meanwhile, yielding now
 * and then.  Inside coroutines the handler runs while the thread is in
 * job 1 or in the scheduler's wait (on an alternate stack when `alt`),
 * and the jump lands in job 0 all the same.  The jmp_buf keeps no mask:
 * SIGALRM stays blocked after the jump, as the handler left it. */
static sigjmp_buf job_env;
static _Atomic int job_done;
static int job_pipe[2], job_alt, job_sleep;

/* asy_sleep()'s deadline 5 s away (t-exact.h names another `now`) */
static int64_t asleep_until(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + 5000000000LL;
}

static void on_job_alarm(int sig)
{
	(void)sig;
	siglongjmp(job_env, 1);
}

static void j_jump(int i)
{
	char b[8];
	if (i == 1) {
		for (unsigned long n = 1; !job_done; n++)
			if (!(n & 0x3ffff) && t_api.yield)
				t_api.yield();
		t_jout(i, "computed until job 0 was done\n");
		return;
	}
	static char alt[65536];
	if (job_alt)
		sigaltstack(&(stack_t){ .ss_sp = alt, .ss_size = sizeof alt }, NULL);
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM };
	ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	timer_t tm;
	timer_create(CLOCK_MONOTONIC, &ev, &tm);
	timer_settime(tm, 0, &(struct itimerspec){ .it_value = { 0, 50000000 } }, NULL);
	if (sigsetjmp(job_env, 0) == 0 && job_sleep)
		t_jres(i, "sleep", t_api.sleep ? t_api.sleep(asleep_until()) : (int)sleep(5));
	else if (!job_sleep && sigsetjmp(job_env, 0) == 0)
		t_jres(i, "read", read(job_pipe[0], b, sizeof b));
	else
		t_jout(i, "jumped");
	sigset_t m;
	pthread_sigmask(SIG_BLOCK, NULL, &m);
	t_jout(i, " alrm-blocked=%d", sigismember(&m, SIGALRM));
	pthread_sigmask(SIG_UNBLOCK, &(sigset_t){ { 1UL << (SIGALRM - 1) } }, NULL);
	job_done = 1;
	timer_delete(tm);
	write(job_pipe[1], "ab", 2);
	t_jres(i, " read-after", read(job_pipe[0], b, sizeof b));
	t_jout(i, "\n");
	if (job_alt)
		sigaltstack(&(stack_t){ .ss_flags = SS_DISABLE }, NULL);
}

static void jump_between_jobs(int on_alt, int in_sleep)
{
	net_kill(5);
	t_load_api();
	job_alt = on_alt;
	job_sleep = in_sleep;
	pipe(job_pipe);
	struct sigaction sa = { .sa_handler = on_job_alarm, .sa_flags = on_alt ? SA_ONSTACK : 0 };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	t_spawn(j_jump, 0);
	t_spawn(j_jump, 1);
	t_finish();
}

static void c6_siglongjmp_between_jobs(void) { jump_between_jobs(0, 0); }
static void c6_siglongjmp_between_jobs_altstack(void) { jump_between_jobs(1, 0); }
/* The same out of the library's own asy_sleep() (plain sleep() without
 * the library). */
static void c6_siglongjmp_between_jobs_asy_sleep(void) { jump_between_jobs(0, 1); }

/* A handler that jumps within its own frames (a library's error
 * handling) while a read waits: that jump stays the handler's, which
 * returns, and the read goes on to its data (SA_RESTART). */
static volatile sig_atomic_t inner_jumps;

static void on_inner_jump(int sig)
{
	(void)sig;
	sigjmp_buf here;
	if (sigsetjmp(here, 0) == 0)
		siglongjmp(here, 1);
	inner_jumps++;
}

static void *write_later(void *arg)
{
	t_msleep(150);
	write((int)(intptr_t)arg, "abc", 3);
	return NULL;
}

static void c6_handler_jumps_within_itself(void)
{
	int p[2];
	char b[16];
	net_kill(5);
	pipe(p);
	struct sigaction sa = { .sa_handler = on_inner_jump, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	pthread_t th = go(write_later, (void *)(intptr_t)p[1]);
	setitimer(ITIMER_REAL, &(struct itimerval){ { 0, 0 }, { 0, 40000 } }, NULL);
	show_buf("read", b, read(p[0], b, sizeof b));
	join(th);
	t_out("handler's own jumps=%d\n", (int)inner_jumps);
}

static void on_set_errno(int sig)
{
	(void)sig;
	errno = 1234;
	handled++;
}

static void *signal_then_write(void *arg)
{
	int fd = (int)(intptr_t)arg;
	t_wait_blocked(main_tid);
	pthread_kill(main_thread, SIGUSR1);
	wait_for(&handled, 1);
	t_wait_blocked(main_tid);
	write(fd, "data", 4);
	return NULL;
}

/* An SA_RESTART handler that changes errno during a read that then
 * succeeds: glibc leaves errno alone on success, so the handler's value
 * shows. */
static void c6_restart_handler_sets_errno(void)
{
	int p[2];
	char b[16];
	struct sigaction sa = { .sa_handler = on_set_errno, .sa_flags = SA_RESTART };
	mark_main();
	net(4);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	handled = 0;
	pipe(p);
	pthread_t th = go(signal_then_write, (void *)(intptr_t)p[1]);
	errno = 0;
	long r = read(p[0], b, sizeof b);
	int e = errno;
	show_buf("read", b, r);
	t_out("handled=%d errno-after=%d\n", (int)handled, e);
	join(th);
}

static int idle_pipe[2];

static void *idle_reader(void *arg)
{
	char b[4];
	(void)arg;
	read(idle_pipe[0], b, sizeof b);
	return NULL;
}

static void *signal_50(void *arg)
{
	int fd = (int)(intptr_t)arg;
	t_wait_blocked(main_tid);
	for (int k = 0; k < 50; k++) {
		wait_for(&handled, k);
		t_msleep(2);
		pthread_kill(main_thread, SIGUSR1);
	}
	wait_for(&handled, 50);
	write(fd, "end", 3);
	return NULL;
}

/* 50 SA_RESTART signals, 2 ms apart (each after the last was handled),
 * to a thread blocked in read in a process of 4 threads. */
static void c6_50_signals_restart_read(void)
{
	int p[2];
	char b[16];
	mark_main();
	net(6);
	handle(SIGUSR1, SA_RESTART);
	pipe(p);
	pipe(idle_pipe);
	pthread_t i1 = go(idle_reader, NULL), i2 = go(idle_reader, NULL);
	pthread_t th = go(signal_50, (void *)(intptr_t)p[1]);
	show_buf("read", b, read(p[0], b, sizeof b));
	t_out("handled=%d\n", (int)handled);
	join(th);
	close(idle_pipe[1]);
	join(i1);
	join(i2);
}

/* A blocking stream send, or a MSG_WAITALL receive, that moved part when
 * a handler runs returns that count, with SA_RESTART or without — also
 * in a coroutine, whose call otherwise goes on through a handler.  The
 * signal comes every 20 ms until the call returns, as CPython's
 * test_socketserver sends it (a coroutine's thread notices a handler
 * that ended its wait); the peer drains (or sends the rest) only 1.5 s
 * later: a call that went on waited for it (full count) or hung. */
static int cut_fd;
static _Atomic int cut_over;
static pthread_t cut_target;

static void cut_drain(void *arg)
{
	(void)arg;
	fcntl(cut_fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 400; i++) {
		t_drain(cut_fd);
		t_msleep(5);
	}
}

static void cut_rest(void *arg)
{
	(void)arg;
	static const char rest[90];
	write(cut_fd, rest, sizeof rest);
}

static void cut_signals(void *arg)
{
	/* arg: signals for 400 ms only, all during the call's first wait */
	for (int i = 0; i < (arg ? 20 : 70) && !cut_over; i++) {
		pthread_kill(cut_target, SIGUSR1);
		t_msleep(20);
	}
}

/* The signals stop; did a handler run?  Then the peer ends. */
static void cut_end(pthread_t sig, pthread_t peer, int sv[2])
{
	cut_over = 1;
	pthread_join(sig, NULL);
	t_out("handled=%s\n", t_yes(t_handled > 0));
	pthread_join(peer, NULL);
	close(sv[0]);
	close(sv[1]);
}

/* family 0: a pipe, written with write(); early: signals only until
 * 500 ms, long before the peer drains. */
static void rest_cut_by(int family, int flags, int receive, int early)
{
	int sv[2];
	static char big[16 << 20];
	alarm(10);
	net(8);
	if (!family && pipe(sv) == 0) {
		int r = sv[0];
		sv[0] = sv[1], sv[1] = r; /* sv[0] writes, as a pair's */
	} else if (!family || t_sock_pair(family, SOCK_STREAM, sv) < 0) {
		return;
	}
	cut_fd = sv[1];
	cut_over = 0;
	cut_target = pthread_self();
	t_handle(SIGUSR1, flags);
	pthread_t sig = t_later(cut_signals, early ? &cut_fd : NULL, 100);
	pthread_t peer = t_later(receive ? cut_rest : cut_drain, NULL, 1500);
	if (receive) {
		write(sv[1], big, 10);
		t_res("recv", recv(sv[0], big, 100, MSG_WAITALL));
	} else {
		size_t len = family ? sizeof big : 1 << 20;
		long n = family ? send(sv[0], big, len, 0) : write(sv[0], big, len);
		t_out("send=%s\n", n <= 0 ? "none" : (size_t)n < len ? "short" : "full");
	}
	cut_end(sig, peer, sv);
}

static void c6_unix_send_cut_by_restart_handler(void) { rest_cut_by(AF_UNIX, SA_RESTART, 0, 0); }
static void c6_tcp_send_cut_by_handler(void) { rest_cut_by(AF_INET, 0, 0, 0); }
static void c6_tcp_send_cut_by_restart_handler(void) { rest_cut_by(AF_INET, SA_RESTART, 0, 0); }
static void c6_recv_waitall_cut_by_restart_handler(void) { rest_cut_by(AF_UNIX, SA_RESTART, 1, 0); }
/* Handlers during the first wait of a write that moved part (the pipe
 * took 64 KiB at once): the write's count; it went on before. */
static void c6_pipe_write_cut_in_first_wait(void) { rest_cut_by(0, SA_RESTART, 0, 1); }
static void c6_unix_send_cut_in_first_wait(void) { rest_cut_by(AF_UNIX, SA_RESTART, 0, 1); }

/* One handler, landing while a sibling coroutine runs: job 0's blocking
 * send to a unix socket nobody reads moved part and waits (parked); job 1
 * spins for 400 ms, with no call, and the signal comes at 100 ms — in
 * job 1, not in the thread's wait.  The kernel's send returns its count
 * (job 0's thread, without the shim); a coroutine's went on and hung
 * until the peer drained at 1.5 s (full: 3 runs in 20 of CPython's
 * test_sendall_interrupted).  Job 1 says it spun. */
static pthread_t sibling_target;
static _Atomic int spinning;
static int sibling_send_fd;

static void sibling_signal(void *arg)
{
	(void)arg;
	while (!spinning)
		t_msleep(1);
	t_msleep(100);
	pthread_kill(sibling_target, SIGUSR1);
}

static void j_cut_in_sibling(int i)
{
	static char big[16 << 20];
	if (i == 1) {
		spinning = 1;
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do
			clock_gettime(CLOCK_MONOTONIC, &t);
		while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 400);
		t_jout(i, "spun\n");
		return;
	}
	sibling_target = pthread_self();
	pthread_t sig = t_later(sibling_signal, NULL, 0);
	pthread_t peer = t_later(cut_drain, NULL, 1500);
	long n = send(sibling_send_fd, big, sizeof big, 0);
	t_jout(i, "send=%s handled=%s\n", n <= 0 ? "none" : (size_t)n < sizeof big ? "short" : "full",
	       t_yes(t_handled > 0));
	pthread_join(sig, NULL);
	pthread_join(peer, NULL);
}

static void c6_unix_send_cut_in_a_sibling(void)
{
	int sv[2];
	alarm(10);
	t_jobs_threads_under_off(); /* off: the send would hold the thread */
	if (t_sock_pair(AF_UNIX, SOCK_STREAM, sv) < 0)
		return;
	sibling_send_fd = sv[0];
	cut_fd = sv[1];
	spinning = 0;
	t_handle(SIGUSR1, SA_RESTART);
	t_spawn(j_cut_in_sibling, 0);
	t_spawn(j_cut_in_sibling, 1);
	t_finish();
	close(sv[0]);
	close(sv[1]);
}

/* sendmmsg and recvmmsg that moved some messages end at a handler with
 * their count, with SA_RESTART too (the kernel's loop stops at the
 * message whose wait the signal ended): a seqpacket sendmmsg of 100
 * messages into a full buffer, a recvmmsg of 10 after one datagram came;
 * the peer drains (or sends the rest) only at 1.5 s. */
static void cut_rest9(void *arg)
{
	(void)arg;
	for (int i = 0; i < 9; i++)
		send(cut_fd, "b", 1, 0);
}

static void mmsg_cut_by_signal(int receive)
{
	int sv[2], size = 8192;
	static char b[1000];
	static struct iovec v[100];
	static struct mmsghdr m[100];
	alarm(10);
	if (socketpair(AF_UNIX, receive ? SOCK_DGRAM : SOCK_SEQPACKET, 0, sv) < 0)
		return;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	for (int i = 0; i < 100; i++) {
		v[i] = (struct iovec){ b, sizeof b };
		m[i].msg_hdr = (struct msghdr){ .msg_iov = &v[i], .msg_iovlen = 1 };
	}
	cut_fd = sv[1];
	cut_over = 0;
	cut_target = pthread_self();
	t_handle(SIGUSR1, SA_RESTART);
	if (receive)
		send(sv[1], "a", 1, 0);
	pthread_t sig = t_later(cut_signals, &cut_fd, 100);
	pthread_t peer = t_later(receive ? cut_rest9 : cut_drain, NULL, 1500);
	int n = receive ? recvmmsg(sv[0], m, 10, 0, NULL) : sendmmsg(sv[0], m, 100, 0);
	t_out("%s=%s\n", receive ? "recvmmsg" : "sendmmsg",
	      n <= 0 ? "none" : n < (receive ? 10 : 100) ? "some" : "all");
	cut_end(sig, peer, sv);
}

static void c6_sendmmsg_cut_after_some(void) { mmsg_cut_by_signal(0); }
static void c6_recvmmsg_cut_after_some(void) { mmsg_cut_by_signal(1); }

/* ---- the table ---------------------------------------------------------
 * T_NOCORO: the case forks, spawns, cancels, jumps out of a call or has a
 * signal interrupt one (inside coroutines signals do not interrupt hooked
 * calls: README).  T_BACKEND: the coroutine really waits in a hooked call
 * (for a peer thread, a timeout, the disk or room in a pipe). */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(c6_cancel_cached_pread_loop, T_NOCORO),
	C(c6_write_is_cancellation_point, T_NOCORO),
	C(c6_readv_is_cancellation_point, T_NOCORO),
	C(c6_cancel_blocked_writev, T_NOCORO),
	C(c6_siglongjmp_out_of_read, T_NOCORO),
	C(c6_siglongjmp_out_of_write, T_NOCORO),
	C(c6_siglongjmp_coro_out_of_read, T_BACKEND | T_NOTSAN),
	C(c6_siglongjmp_coro_out_of_write, T_BACKEND | T_NOTSAN),
	C(c6_siglongjmp_between_jobs, T_OWNCORO | T_NOTSAN),
	C(c6_siglongjmp_between_jobs_altstack, T_OWNCORO | T_NOTSAN),
	C(c6_siglongjmp_between_jobs_asy_sleep, T_OWNCORO | T_NOTSAN),
	C(c6_handler_jumps_within_itself, T_BACKEND),
	C(c6_restart_handler_sets_errno, T_NOCORO),
	C(c6_50_signals_restart_read, T_NOCORO),
	C(c6_unix_send_cut_by_restart_handler, T_BACKEND),
	C(c6_tcp_send_cut_by_handler, T_BACKEND),
	C(c6_tcp_send_cut_by_restart_handler, T_BACKEND),
	C(c6_recv_waitall_cut_by_restart_handler, T_BACKEND),
	C(c6_pipe_write_cut_in_first_wait, T_BACKEND),
	C(c6_unix_send_cut_in_first_wait, T_BACKEND),
	C(c6_unix_send_cut_in_a_sibling, T_BACKEND | T_OWNCORO),
	C(c6_sendmmsg_cut_after_some, T_BACKEND),
	C(c6_recvmmsg_cut_after_some, T_BACKEND),
	{ NULL, NULL, 0 },
};
#undef C

/* ---- the Check side --------------------------------------------------- */

int main(int argc, char **argv)
{
	/* Up to six runs of a case, each bounded by t_run()'s 20 s. */
	return t_cases_main(argc, argv, cases, "exact-signals", 150);
}
