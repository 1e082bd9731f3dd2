/* net-libs WORK MODE N K TARGET: Debian's libraries called unchanged by
 * N workers, for bench-libs (tests/bench/net-libs.py).
 *
 * WORK    curl   K GETs of TARGET/w/j with libcurl (one easy handle each)
 *         redis  K SET + GET pairs with hiredis; TARGET is HOST:PORT
 *         sleep  usleep, nanosleep, clock_nanosleep, poll(NULL, 0, ms),
 *                select, each K ms; worker 0 also sleep(1)
 *         jitter (MODE loop, N 1) no library: a plain loop of 1 ms
 *                nanosleeps for K ms, the ticker without coroutines: how
 *                late the machine itself wakes a sleeper (its STALL_MS)
 * MODE    loop     the N workers one after the other on the main thread
 *         threads  one thread each
 *         coro     one coroutine each, on the main thread, with a ticker
 *                  coroutine waking every 1 ms (needs the library
 *                  preloaded: the API is looked up with dlsym)
 *
 * Prints "RESULT WALL_MS STALL_MS": RESULT sums a hash of every answer
 * (equal in every mode when the answers are), STALL_MS is the longest the
 * ticker waited past its 1 ms (how long the thread stalled; -1 outside
 * coroutines).  Exit 1 when a request failed. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static int nwork, per, failed, done;
static const char *target;
static uint64_t result;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void (*work)(int w);

static int (*co_go)(void (*)(void *), void *);
static int (*co_run)(void);
static int (*co_sleep)(int64_t);
static int64_t (*co_now)(void);

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
	return h;
}

/* tally - add one answer's hash (or a failure) to the result. */
static void tally(uint64_t h, int ok)
{
	pthread_mutex_lock(&lock);
	result += h;
	failed += !ok;
	pthread_mutex_unlock(&lock);
}

/* ---- libcurl ----------------------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *h)
{
	*(uint64_t *)h = fnv(*(uint64_t *)h, p, sz * n);
	return sz * n;
}

static void curl_work(int w)
{
	CURL *c = curl_easy_init();
	char url[512];
	for (int j = 0; j < per; j++) {
		uint64_t h = 14695981039346656037ULL;
		long code = 0;
		snprintf(url, sizeof url, "%s/%d/%d", target, w, j);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
		int ok = curl_easy_perform(c) == CURLE_OK &&
			 curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200;
		tally(h, ok);
	}
	curl_easy_cleanup(c);
}

/* ---- hiredis ----------------------------------------------------------- */

static void redis_work(int w)
{
	char host[256];
	snprintf(host, sizeof host, "%s", target);
	char *colon = strrchr(host, ':');
	if (!colon)
		return tally(0, 0);
	*colon = 0;
	redisContext *c = redisConnect(host, atoi(colon + 1));
	if (!c || c->err)
		return tally(0, 0);
	for (int j = 0; j < per; j++) {
		redisReply *r = redisCommand(c, "SET k:%d:%d v-%d-%d", w, j, w * 7919 + j, j);
		int ok = r && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		r = redisCommand(c, "GET k:%d:%d", w, j);
		ok = ok && r && r->type == REDIS_REPLY_STRING;
		tally(ok ? fnv(14695981039346656037ULL, r->str, r->len) : 0, ok);
		freeReplyObject(r);
	}
	redisFree(c);
}

/* ---- sleeps -------------------------------------------------------------- */

static void sleep_work(int w)
{
	long ms = per;
	struct timespec ts = { 0, ms * 1000000 };
	struct timeval tv = { 0, ms * 1000 };
	int ok = usleep((useconds_t)(ms * 1000)) == 0 && nanosleep(&ts, NULL) == 0 &&
		 clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) == 0 && poll(NULL, 0, (int)ms) == 0 &&
		 select(0, NULL, NULL, NULL, &tv) == 0 && (w || sleep(1) == 0);
	tally(1, ok);
}

static int64_t stall_ns = -1;

/* jitter_work - the ticker's measure on a plain thread, without the shim. */
static void jitter_work(int w)
{
	(void)w;
	int64_t end = now_ns() + per * 1000000LL;
	stall_ns = 0;
	while (now_ns() < end) {
		struct timespec ts = { 0, 1000000 };
		int64_t due = now_ns() + 1000000;
		nanosleep(&ts, NULL);
		if (now_ns() - due > stall_ns)
			stall_ns = now_ns() - due;
	}
	tally(1, 1);
}

/* ---- the three ways to run N workers ---------------------------------- */

static void *thread_main(void *arg)
{
	work((int)(intptr_t)arg);
	return NULL;
}

static void co_main(void *arg)
{
	work((int)(intptr_t)arg);
	done++;
}

/* ticker - wake every 1 ms until every worker is done; record how late. */
static void ticker(void *arg)
{
	(void)arg;
	stall_ns = 0;
	while (done < nwork) {
		int64_t due = co_now() + 1000000;
		co_sleep(due);
		if (co_now() - due > stall_ns)
			stall_ns = co_now() - due;
	}
}

static int run_coro(void)
{
	co_go = (int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	co_run = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	co_sleep = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_sleep");
	co_now = (int64_t (*)(void))dlsym(RTLD_DEFAULT, "asy_now");
	if (!co_go || !co_run || !co_sleep || !co_now) {
		fprintf(stderr, "net-libs: coro needs LD_PRELOAD=libasyncify.so\n");
		return -1;
	}
	co_go(ticker, NULL);
	for (int w = 0; w < nwork; w++)
		co_go(co_main, (void *)(intptr_t)w);
	return co_run();
}

static int run_mode(const char *mode)
{
	if (!strcmp(mode, "loop")) {
		for (int w = 0; w < nwork; w++)
			work(w);
		return 0;
	}
	if (!strcmp(mode, "coro"))
		return run_coro();
	if (strcmp(mode, "threads"))
		return -1;
	pthread_t t[nwork];
	for (int w = 0; w < nwork; w++)
		if (pthread_create(&t[w], NULL, thread_main, (void *)(intptr_t)w))
			return -1;
	for (int w = 0; w < nwork; w++)
		pthread_join(t[w], NULL);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 6 || (nwork = atoi(argv[3])) <= 0 || (per = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: net-libs curl|redis|sleep|jitter loop|threads|coro N K TARGET\n");
		return 2;
	}
	target = argv[5];
	work = !strcmp(argv[1], "curl") ? curl_work : !strcmp(argv[1], "redis") ? redis_work :
	       !strcmp(argv[1], "sleep") ? sleep_work : !strcmp(argv[1], "jitter") ? jitter_work : NULL;
	if (!work)
		return fprintf(stderr, "net-libs: no workload '%s'\n", argv[1]), 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int64_t t0 = now_ns();
	if (run_mode(argv[2]) != 0)
		return fprintf(stderr, "net-libs: mode '%s' failed\n", argv[2]), 2;
	double wall = (double)(now_ns() - t0) / 1e6;
	printf("%016llx %.1f %.2f\n", (unsigned long long)result, wall,
	       stall_ns < 0 ? -1.0 : (double)stall_ns / 1e6);
	if (failed)
		fprintf(stderr, "net-libs: %d requests failed\n", failed);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
