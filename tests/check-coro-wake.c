/* Wakes from other threads (shim/slots.c): a coroutine waiting for a
 * condition, a mutex or a semaphore another thread signals, unlocks or
 * posts holds a slot the waker finds, and the waker nudges the
 * coroutine's thread.  The same jobs run as coroutines under the shim
 * (uring, threads) and as plain threads without it, and must print the
 * same; the speed is `make bench-handoff`'s. */
#include <check.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "t-helpers.h"

/* A call that waits inside a coroutine: a sibling runs meanwhile. */
static void waits(void)
{
	struct stat st;
	stat("/", &st);
	usleep(2000);
}

/* Ten threads, each running a
 * waiter and a sibling as coroutines (plain threads without the shim):
 * the waiters wait for a broadcast of the case's thread (or for one of
 * its ten posts of a semaphore), then for a mutex it holds; each unlock
 * wakes those left.  A wake that reached no thread
 * still ends at the waiter's next look: what must not happen is a lost
 * waiter, a freed thread's state touched (ASan), or a race (TSan). */
#define NTH 10
static pthread_mutex_t mm = PTHREAD_MUTEX_INITIALIZER, held = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cm = PTHREAD_COND_INITIALIZER;
static sem_t msem;
static int ready_n, released, by_cond; /* 1: a condition, 2: a semaphore */
static _Atomic int locking_n;
static char many_out[NTH][64];
static _Atomic int many_done[NTH];

static void many_wait(void *arg)
{
	int k = (int)(intptr_t)arg, r = 0;
	if (by_cond == 2) {
		pthread_mutex_lock(&mm);
		ready_n++;
		pthread_mutex_unlock(&mm);
		r = sem_wait(&msem);
	} else if (by_cond) {
		pthread_mutex_lock(&mm);
		ready_n++;
		pthread_cond_broadcast(&cm); /* the case's thread counts them */
		while (!released && !r)
			r = pthread_cond_wait(&cm, &mm);
		pthread_mutex_unlock(&mm);
	}
	locking_n++;
	int l = pthread_mutex_lock(&held);
	pthread_mutex_unlock(&held);
	snprintf(many_out[k], sizeof many_out[k], "wait=%d lock=%d", r, l);
	many_done[k] = 1;
}

static void many_sibling(void *arg)
{
	while (!many_done[(intptr_t)arg])
		waits();
}

static void *many_thread(void *arg)
{
	if (t_api.go) {
		t_api.go(many_wait, arg);
		t_api.go(many_sibling, arg);
		t_api.run();
	} else {
		many_wait(arg);
	}
	return NULL;
}

static void many(int cond)
{
	alarm(20);
	t_jobs_threads_under_off();
	by_cond = cond;
	pthread_t th[NTH];
	sem_init(&msem, 0, 0);
	pthread_mutex_lock(&held);
	for (intptr_t k = 0; k < NTH; k++)
		pthread_create(&th[k], NULL, many_thread, (void *)k);
	if (cond == 2) {
		for (int n = 0; n < NTH;) {
			pthread_mutex_lock(&mm);
			n = ready_n;
			pthread_mutex_unlock(&mm);
			usleep(1000);
		}
		usleep(20000); /* in their wait */
		for (int k = 0; k < NTH; k++)
			sem_post(&msem);
	} else if (cond) {
		pthread_mutex_lock(&mm);
		while (ready_n < NTH)
			pthread_cond_wait(&cm, &mm);
		released = 1;
		pthread_cond_broadcast(&cm);
		pthread_mutex_unlock(&mm);
	}
	while (locking_n < NTH)
		usleep(1000);
	usleep(20000); /* in their lock's wait */
	pthread_mutex_unlock(&held);
	for (int k = 0; k < NTH; k++)
		pthread_join(th[k], NULL);
	for (int k = 0; k < NTH; k++)
		t_out("%d: %s\n", k, many_out[k]);
}

static void c_threads_cond(void)
{
	many(1);
}

static void c_threads_lock(void)
{
	many(0);
}

static void c_threads_sem(void)
{
	many(2);
}

/* A cancelled coroutine waits for an rwlock's write lock that a sibling
 * holds for reading, while a plain thread keeps taking and giving back
 * read locks: every unlock marks the writer's slot, and its looks must go
 * on yielding to the sibling, cancelled or not (a cancelled coroutine's
 * asy_yield says ECANCELED, and the wait fell back to libc's blocking
 * call: the thread slept for good on a lock its own sibling held). */
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static _Atomic int rw_stop;

static void *rw_reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000000 && !rw_stop; i++) {
		pthread_rwlock_rdlock(&rw);
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}

static void rw_holder(int i)
{
	t_jres(i, "rdlock", pthread_rwlock_rdlock(&rw));
	waits(); /* the writer runs meanwhile */
	usleep(200000);
	t_jres(i, "unlock", pthread_rwlock_unlock(&rw));
	t_jout(i, "\n");
}

static void rw_writer(int i)
{
	int r = pthread_rwlock_wrlock(&rw);
	t_jres(i, "wrlock", r);
	t_jout(i, "\n");
	if (!r)
		pthread_rwlock_unlock(&rw);
}

static void c_cancelled_writer(void)
{
	alarm(20);
	pthread_t th;
	pthread_create(&th, NULL, rw_reader, NULL);
	usleep(1000);
	t_spawn(rw_holder, 0);
	int w = t_spawn(rw_writer, 1);
	if (t_api.cancel)
		t_api.cancel(w); /* no call of the writer's can end by it */
	t_finish();
	rw_stop = 1;
	pthread_join(th, NULL);
}

/* A handler the library does not wrap (set by a raw rt_sigaction: none
 * of its own bookkeeping runs around it) posts a semaphore while it
 * interrupted its thread in a signal of a condition that had the table of
 * slots locked (a coroutine waits on it): the handler's post, which finds a
 * coroutine's slot on the semaphore, must not wait for that lock (it spun
 * for ever, and every thread after it). */
static sem_t hs;
static pthread_mutex_t hm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hc = PTHREAD_COND_INITIALIZER;
static _Atomic int h_stop, h_sig; /* h_sig: the handler is in */

static void h_post(int sig)
{
	(void)sig;
	sem_post(&hs);
}

/* Install h_post for SIGUSR1 past the library: the kernel's own
 * sigaction, with the restorer libc gave the one installed first. */
struct k_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void raw_handler(void)
{
	struct sigaction sa = { .sa_handler = h_post };
	sigaction(SIGUSR1, &sa, NULL);
	struct k_sigaction k;
	memset(&k, 0, sizeof k);
	syscall(SYS_rt_sigaction, SIGUSR1, NULL, &k, 8);
	k.handler = h_post;
	syscall(SYS_rt_sigaction, SIGUSR1, &k, NULL, 8);
}

static void *h_poster(void *arg)
{
	(void)arg;
	while (!h_stop)
		pthread_cond_signal(&hc);
	return NULL;
}

static void h_waiter(int i)
{
	if (!i) {
		raw_handler(); /* once the engine is up: it wraps what it finds */
		h_sig = 1;
	}
	waits();
	while (!h_stop) {
		if (i) {
			pthread_mutex_lock(&hm);
			if (!h_stop)
				pthread_cond_wait(&hc, &hm);
			pthread_mutex_unlock(&hm);
		} else {
			sem_wait(&hs);
		}
	}
	t_jout(i, "done\n");
}

/* Signals the poster 20000 times, then stops it and lets the waiter out
 * (a stuck poster is the case's timeout). */
static void *h_killer(void *arg)
{
	pthread_t t = *(pthread_t *)arg;
	while (!h_sig)
		usleep(1000);
	for (int i = 0; i < 20000; i++) {
		pthread_kill(t, SIGUSR1);
		usleep(50);
	}
	pthread_mutex_lock(&hm);
	h_stop = 1;
	pthread_cond_broadcast(&hc);
	pthread_mutex_unlock(&hm);
	pthread_join(t, NULL);
	sem_post(&hs);
	return NULL;
}

static void c_post_in_raw_handler(void)
{
	alarm(30);
	sem_init(&hs, 0, 0);
	pthread_t p, k;
	pthread_create(&p, NULL, h_poster, NULL);
	pthread_create(&k, NULL, h_killer, &p);
	t_spawn(h_waiter, 0);
	t_spawn(h_waiter, 1);
	t_finish();
	pthread_join(k, NULL);
}

/* A handler's siglongjmp out of a condition wait, landing wherever the
 * waiter is — in a park (the jump is put off to its end) or between two
 * (made at once) — leaves the wait's slot: a later signal must wake the
 * waiter after it (a slot left behind took the signal, and that waiter
 * slept for good).  As out of glibc's wait, the mutex is left unlocked
 * (an error-checking one: the waiter unlocks it after a jump, which says
 * EPERM when the jump left it so). */
static pthread_mutex_t jm;
static pthread_cond_t jc = PTHREAD_COND_INITIALIZER;
static sigjmp_buf jenv;
static volatile sig_atomic_t j_armed;
static _Atomic int j_stop, j_go, j_w2_in, j_w1_done, j_have_thread;
static pthread_t j_thread;

static void j_handler(int sig)
{
	(void)sig;
	if (j_armed) {
		j_armed = 0;
		siglongjmp(jenv, 1);
	}
}

static void j_waiter(int i)
{
	waits();
	if (i == 1) {
		pthread_mutex_lock(&jm);
		j_w2_in = 1;
		while (!j_go)
			pthread_cond_wait(&jc, &jm);
		pthread_mutex_unlock(&jm);
		t_jout(i, "woken\n");
		return;
	}
	j_thread = pthread_self();
	j_have_thread = 1;
	while (!j_stop) {
		if (sigsetjmp(jenv, 1)) {
			pthread_mutex_unlock(&jm); /* EPERM: the jump left it unlocked */
			continue;
		}
		pthread_mutex_lock(&jm);
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 2000000;
		if (t.tv_nsec >= 1000000000)
			t.tv_sec++, t.tv_nsec -= 1000000000;
		j_armed = 1;
		pthread_cond_timedwait(&jc, &jm, &t);
		j_armed = 0;
		pthread_mutex_unlock(&jm);
	}
	t_jout(i, "stopped\n");
	j_w1_done = 1;
}

static void *j_killer(void *arg)
{
	(void)arg;
	while (!j_have_thread)
		usleep(1000);
	for (int k = 0; k < 5000; k++) {
		pthread_kill(j_thread, SIGUSR1);
		usleep(20);
	}
	j_stop = 1;
	while (!j_w1_done || !j_w2_in)
		usleep(1000);
	usleep(20000); /* the second waiter is in its wait */
	pthread_mutex_lock(&jm);
	j_go = 1;
	pthread_cond_signal(&jc);
	pthread_mutex_unlock(&jm);
	return NULL;
}

static void c_jump_out_of_cond(void)
{
	alarm(30);
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&jm, &a);
	struct sigaction sa = { .sa_handler = j_handler };
	sigaction(SIGUSR1, &sa, NULL);
	pthread_t k;
	pthread_create(&k, NULL, j_killer, NULL);
	t_spawn(j_waiter, 0);
	t_spawn(j_waiter, 1);
	t_finish();
	pthread_join(k, NULL);
}

/* A handler's siglongjmp out of a futex wait made through syscall() (a
 * lock of a library's own, GLib's) beside a sibling, thousands of times:
 * the wait's slot and count were left behind by a jump made from inside
 * its looks, and a later FUTEX_WAKE counted a dead slot as a waiter it
 * woke.  Then a checkpoint as LTP's: the waker wakes until the answer
 * says one was woken — the waiter must be the one — and a wake with no
 * waiter left wakes none. */
static _Atomic int fx_word, fx_stop, fx_have, fx_waiter_done;
static pthread_t fx_thread;

static long fx_wait(const struct timespec *t)
{
	return syscall(SYS_futex, &fx_word, FUTEX_WAIT_PRIVATE, 0, t, NULL, 0);
}

static long fx_wake(int n)
{
	return syscall(SYS_futex, &fx_word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static void fx_jumper(int i)
{
	if (i == 1) {
		while (!fx_stop)
			usleep(1000);
		t_jout(i, "sibling ran\n");
		return;
	}
	fx_thread = pthread_self();
	fx_have = 1;
	struct timespec t = { 0, 5000000 };
	while (!fx_stop) {
		if (sigsetjmp(jenv, 1))
			continue;
		j_armed = 1;
		fx_wait(&t);
		j_armed = 0;
	}
	t_jout(i, "stopped\n");
}

static void *fx_killer(void *arg)
{
	(void)arg;
	while (!fx_have)
		usleep(1000);
	double end = t_ms() + 1500;
	while (t_ms() < end) {
		pthread_kill(fx_thread, SIGUSR1);
		usleep(30);
	}
	fx_stop = 1;
	return NULL;
}

static void fx_checkpoint(int i)
{
	if (i == 0) {
		fx_wait(NULL);
		fx_waiter_done = 1;
		t_jout(i, "woken\n");
		return;
	}
	t_jobs_waits();
	long r;
	while ((r = fx_wake(1)) < 1)
		t_jobs_waits();
	for (int k = 0; !fx_waiter_done && k < 2000; k++)
		t_jobs_waits();
	t_jout(i, "wake=%ld the waiter ended=%s\n", r, fx_waiter_done ? "yes" : "no");
}

static void c_jump_out_of_futex(void)
{
	struct sigaction sa = { .sa_handler = j_handler };
	sigaction(SIGUSR1, &sa, NULL);
	pthread_t k;
	pthread_create(&k, NULL, fx_killer, NULL);
	t_jobs_all(fx_jumper, 2, 30);
	pthread_join(k, NULL);
	t_jobs_all(fx_checkpoint, 2, 10);
	t_out("a wake with no waiter: %ld\n", fx_wake(INT_MAX));
}

/* ---- the table ---------------------------------------------------------
 * T_NOTSAN: ThreadSanitizer's own pthread_cond_* look up glibc's by
 * version, past the library's (its conditions are glibc's waits: README);
 * and it runs the program's handler later, from its own frames, not from
 * the kernel's signal frame, where a jump out of a wait is put off
 * (check-exact-handlers). */
static const struct t_case cases[] = {
	{ "threads_cond", c_threads_cond, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "threads_lock", c_threads_lock, T_BACKEND | T_OWNCORO },
	{ "threads_sem", c_threads_sem, T_BACKEND | T_OWNCORO },
	{ "cancelled_writer", c_cancelled_writer, T_BACKEND | T_OWNCORO },
	{ "post_in_raw_handler", c_post_in_raw_handler, T_BACKEND | T_OWNCORO },
	{ "jump_out_of_cond", c_jump_out_of_cond, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "jump_out_of_futex", c_jump_out_of_futex, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ NULL, NULL, 0 },
};

int main(int argc, char **argv)
{
	return t_jobs_main(argc, argv, cases, "coro-wake", 90);
}
