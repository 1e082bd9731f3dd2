/* handoff: how long a coroutine takes to answer a plain thread's wake.
 *
 *   handoff [ROUNDTRIPS [WORK_US]]
 *
 * A plain thread B and a coroutine A (beside a ticker coroutine that
 * sleeps 1 ms at a time, so that A is never alone on its thread) hand a
 * turn back and forth: through a mutex and a condition (A waits in
 * pthread_cond_wait for B's pthread_cond_signal, then takes the mutex B
 * just released), then through two semaphores (sem_wait, sem_post).
 * B works WORK_US µs (a busy loop; 0 by default) before each answer.
 * Without the library (asy_go not found) A is a plain thread, and the
 * figures are glibc's own.  Printed, per way: the median and the 90th
 * percentile of a round trip, in µs:
 *   cond median 14.2 p90 31.0
 *   sem median 9.1 p90 20.3
 * (make bench-handoff runs it without the library and under each backend,
 * interleaved, and prints the ratios.) */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t s1, s2;
static int turn, n = 4000, way; /* way 0: condition, 1: semaphores */
static double work;
static volatile int done;
static double *lat;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void busy(void)
{
	for (double until = now() + work; now() < until;)
		;
}

static void *b_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < n; i++) {
		if (way) {
			sem_wait(&s1);
			busy();
			sem_post(&s2);
			continue;
		}
		pthread_mutex_lock(&m);
		while (turn != 1)
			pthread_cond_wait(&c, &m);
		busy();
		turn = 0;
		pthread_cond_signal(&c);
		pthread_mutex_unlock(&m);
	}
	return NULL;
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static void a_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < n; i++) {
		double t0 = now();
		if (way) {
			sem_post(&s1);
			sem_wait(&s2);
		} else {
			pthread_mutex_lock(&m);
			turn = 1;
			pthread_cond_signal(&c);
			while (turn != 0)
				pthread_cond_wait(&c, &m);
			pthread_mutex_unlock(&m);
		}
		lat[i] = now() - t0;
	}
	done = 1;
}

static void ticker(void *arg)
{
	int (*sleep_until)(int64_t) = (int (*)(int64_t))arg;
	int64_t (*ns)(void) = (int64_t(*)(void))dlsym(RTLD_DEFAULT, "asy_now");
	while (!done)
		sleep_until(ns() + 1000000);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		n = atoi(argv[1]);
	if (argc > 2)
		work = atoi(argv[2]) * 1e-6;
	if (n < 10 || work < 0) {
		fprintf(stderr, "usage: handoff [ROUNDTRIPS >= 10 [WORK_US >= 0]]\n");
		return 2;
	}
	lat = malloc(n * sizeof *lat);
	int (*go)(void (*)(void *), void *) =
		(int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	int (*run)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	void *sleep_until = dlsym(RTLD_DEFAULT, "asy_sleep");
	for (way = 0; way < 2; way++) {
		sem_init(&s1, 0, 0);
		sem_init(&s2, 0, 0);
		turn = 0;
		done = 0;
		pthread_t b;
		pthread_create(&b, NULL, b_main, NULL);
		if (go && run && sleep_until) {
			go(a_main, NULL);
			go(ticker, sleep_until);
			if (run()) {
				perror("asy_run");
				return 1;
			}
		} else {
			a_main(NULL);
		}
		pthread_join(b, NULL);
		qsort(lat, n, sizeof *lat, cmp);
		printf("%s median %.1f p90 %.1f\n", way ? "sem" : "cond", lat[n / 2] * 1e6,
		       lat[n * 9 / 10] * 1e6);
	}
	return 0;
}
