/* first-wait: what the first call that waits costs a process, against a
 * later one.  Run under LD_PRELOAD with each backend (make bench-first-wait).
 *
 * Each of ROUNDS child processes starts 3 idle threads (a multi-threaded
 * process: growing its fd table would wait for an RCU grace period), then
 * in a coroutine reads an empty pipe with an I/O deadline of 2 ms, 16
 * times: every read ends with ETIMEDOUT at the deadline, so whatever the
 * first one takes beyond the later ones is the engine's set-up.  Printed:
 * the medians over the processes of the first read and of the later
 * reads' median, in µs, and their ratio. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define ROUNDS 15
#define READS 16
#define DEADLINE_NS 2000000

static int (*go)(void (*)(void *), void *);
static int (*run)(void);
static int (*io_deadline)(int64_t);
static int64_t (*now)(void);
static double took[READS];

static void *idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return v[n / 2];
}

static void reader(void *arg)
{
	int fd = *(int *)arg;
	char b[8];
	for (int i = 0; i < READS; i++) {
		io_deadline(now() + DEADLINE_NS);
		int64_t t0 = now();
		if (read(fd, b, sizeof b) != -1)
			exit(3);
		took[i] = (double)(now() - t0) / 1000.0;
	}
}

static void child(int out)
{
	pthread_t th;
	for (int i = 0; i < 3; i++)
		pthread_create(&th, NULL, idle, NULL);
	int p[2];
	if (pipe(p) < 0)
		exit(2);
	go(reader, &p[0]);
	run();
	double r[2] = { took[0], median(took + 1, READS - 1) };
	if (write(out, r, sizeof r) != sizeof r)
		exit(2);
	exit(0);
}

int main(void)
{
	go = (int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	run = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	io_deadline = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_io_deadline");
	now = (int64_t(*)(void))dlsym(RTLD_DEFAULT, "asy_now");
	if (!go || !run || !io_deadline || !now) {
		fprintf(stderr, "first-wait: run it under LD_PRELOAD=libasyncify.so\n");
		return 2;
	}
	double first[ROUNDS], later[ROUNDS];
	for (int i = 0; i < ROUNDS; i++) {
		int p[2];
		if (pipe(p) < 0)
			return 2;
		pid_t pid = fork();
		if (pid == 0)
			child(p[1]);
		double r[2];
		int st;
		if (read(p[0], r, sizeof r) != sizeof r || waitpid(pid, &st, 0) < 0 || st) {
			fprintf(stderr, "first-wait: child failed (status %#x)\n", st);
			return 1;
		}
		close(p[0]);
		close(p[1]);
		first[i] = r[0], later[i] = r[1];
	}
	double f = median(first, ROUNDS), l = median(later, ROUNDS);
	printf("first wait %.0f us, later waits %.0f us (deadline %d us): first/later %.3f\n", f, l,
	       DEADLINE_NS / 1000, f / l);
	return 0;
}
