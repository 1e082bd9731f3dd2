/* Wakes from other threads (shim/slots.c): a coroutine waiting for a
 * condition, a mutex or a semaphore another thread signals, unlocks or
 * posts holds a slot the waker finds, and the waker nudges the
 * coroutine's thread.  The same jobs run as coroutines under the shim
 * (uring, threads) and as plain threads without it, and must print the
 * same; the speed is `make bench-handoff`'s. */
#include <check.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

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

/* ---- the table ---------------------------------------------------------
 * T_NOTSAN: ThreadSanitizer's own pthread_cond_* look up glibc's by
 * version, past the library's (its conditions are glibc's waits: README). */
static const struct t_case cases[] = {
	{ "threads_cond", c_threads_cond, T_BACKEND | T_OWNCORO | T_NOTSAN },
	{ "threads_lock", c_threads_lock, T_BACKEND | T_OWNCORO },
	{ "threads_sem", c_threads_sem, T_BACKEND | T_OWNCORO },
	{ NULL, NULL, 0 },
};

int main(int argc, char **argv)
{
	return t_jobs_main(argc, argv, cases, "coro-wake", 90);
}
