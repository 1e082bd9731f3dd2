/* redisload MODE HOST PORT: hiredis (Debian's, unchanged) from
 * coroutines, for the hiredis case of lib-cases.sh.  Under the shim every
 * job is a coroutine on the main thread (the API looked up with dlsym);
 * without it the jobs run one after the other.  Prints only what must be
 * the same both ways.
 *
 * MODE  work N      N connections, each 200 SET/GET/INCR/RPUSH/LRANGE
 *                   commands, half of them pipelined; one hash of every
 *                   reply
 *       timeout     a BLPOP the server holds for 5 s, on a connection
 *                   with redisSetTimeout 300 ms: the socket's
 *                   SO_RCVTIMEO ends the read in both runs (EAGAIN), the
 *                   same error text; then redisReconnect and a PING
 *       deadline    the same BLPOP without a socket timeout, ended after
 *                   300 ms by asy_io_deadline under the shim, by a
 *                   shutdown from a thread without it; then
 *                   redisReconnect and a PING; no fd left open
 *       cancel      the BLPOP ended by asy_cancel from another coroutine
 *                   (the thread's shutdown without the shim); no fd left
 *                   open
 *       full        redisConnect to a listener whose accept queue is
 *                   full: redisConnectWithTimeout's 300 ms in both runs
 *       blpop       a BLPOP answered by a push from another connection
 *                   100 ms later (under the shim two coroutines; without
 *                   it a thread) */
#include <hiredis/hiredis.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coapi.h"

#define MAXW 64

static const char *host;
static int port;
static uint64_t hashes[MAXW];

static uint64_t hash_reply(uint64_t h, const redisReply *r)
{
	if (!r)
		return co_fnv(h, "(null)", 6);
	h = co_fnv(h, &r->type, sizeof r->type);
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		return co_fnv(h, &r->integer, sizeof r->integer);
	case REDIS_REPLY_ARRAY:
		for (size_t i = 0; i < r->elements; i++)
			h = hash_reply(h, r->element[i]);
		return h;
	default:
		return r->str ? co_fnv(h, r->str, r->len) : h;
	}
}

static redisContext *connect_or_die(void)
{
	redisContext *c = redisConnect(host, port);
	if (!c || c->err) {
		printf("connect: %s\n", c ? c->errstr : "no context");
		exit(1);
	}
	return c;
}

static void work(void *arg)
{
	int w = (int)(long)arg;
	redisContext *c = connect_or_die();
	uint64_t h = 1469598103934665603ULL;
	char key[32];
	snprintf(key, sizeof key, "w%d", w);
	for (int k = 0; k < 50; k++) {
		redisReply *r = redisCommand(c, "SET %s:%d %d-%d-%d", key, k, w, k, k * 3);
		h = hash_reply(h, r);
		freeReplyObject(r);
		r = redisCommand(c, "GET %s:%d", key, k);
		h = hash_reply(h, r);
		freeReplyObject(r);
	}
	/* 100 commands in one pipeline: the replies come in many reads */
	for (int k = 0; k < 50; k++) {
		redisAppendCommand(c, "INCRBY %s:n %d", key, k);
		redisAppendCommand(c, "RPUSH %s:l %d", key, k * w);
	}
	for (int k = 0; k < 100; k++) {
		redisReply *r = NULL;
		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			printf("worker %d pipeline: %s\n", w, c->errstr);
			break;
		}
		h = hash_reply(h, r);
		freeReplyObject(r);
	}
	redisReply *r = redisCommand(c, "LRANGE %s:l 0 -1", key);
	h = hash_reply(h, r);
	freeReplyObject(r);
	r = redisCommand(c, "DEL %s:l %s:n", key, key);
	freeReplyObject(r);
	redisFree(c);
	hashes[w] = h;
}

/* The BLPOP's end, and the connection afterwards. */
static void blpop_fails(redisContext *c, double t0, int show_err)
{
	redisReply *r = redisCommand(c, "BLPOP nothing:here 5");
	printf("blpop failed: %s\n", !r && c->err ? "yes" : "no");
	if (show_err)
		printf("error: %s\n", c->errstr);
	printf("ended within 3 s: %s\n", co_secs() - t0 < 3 ? "yes" : "no");
	freeReplyObject(r);
}

static void ping_after_reconnect(redisContext *c)
{
	if (redisReconnect(c) != REDIS_OK) {
		printf("reconnect: %s\n", c->errstr);
		return;
	}
	redisReply *r = redisCommand(c, "PING");
	printf("after redisReconnect: %s\n", r && r->str ? r->str : c->errstr);
	freeReplyObject(r);
}

static void timeout(void *arg)
{
	(void)arg;
	redisContext *c = connect_or_die();
	struct timeval tv = { 0, 300000 };
	redisSetTimeout(c, tv);
	blpop_fails(c, co_secs(), 1);
	ping_after_reconnect(c);
	redisFree(c);
}

static void *shut_later(void *arg)
{
	usleep(300000);
	shutdown(((redisContext *)arg)->fd, SHUT_RDWR);
	return NULL;
}

/* deadline (arg 0) or cancel (arg 1): a BLPOP ended from outside. */
static int blocked_job = -1;
static void ended(void *arg)
{
	int before = nfds();
	redisContext *c = connect_or_die();
	pthread_t th;
	double t0 = co_secs();
	if (!co_go)
		pthread_create(&th, NULL, shut_later, c);
	else if (!arg)
		co_io_deadline(co_now() + 300000000);
	blpop_fails(c, t0, 0);
	if (!co_go)
		pthread_join(th, NULL);
	else if (!arg)
		co_io_deadline(-1);
	/* A cancelled coroutine's later calls fail too (asyncify.h): it
	 * reconnects only after a deadline. */
	if (!arg)
		ping_after_reconnect(c);
	redisFree(c);
	printf("fds left open: %d\n", nfds() - before);
}

static void canceller(void *arg)
{
	(void)arg;
	co_sleep(co_now() + 300000000);
	if (co_cancel(blocked_job) != 0)
		printf("asy_cancel failed\n");
}

static void full(void *arg)
{
	(void)arg;
	/* A listener with backlog 0 and one connection nobody accepts: the
	 * next connect's SYNs are dropped, so it waits. */
	int l = socket(AF_INET, SOCK_STREAM, 0), q = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 0) ||
	    getsockname(l, (struct sockaddr *)&a, &al) || connect(q, (struct sockaddr *)&a, al)) {
		printf("listener: failed\n");
		return;
	}
	int before = nfds();
	struct timeval tv = { 0, 300000 };
	double t0 = co_secs();
	redisContext *c = redisConnectWithTimeout("127.0.0.1", ntohs(a.sin_port), tv);
	printf("connect failed: %s\n", !c || c->err ? "yes" : "no");
	if (c)
		printf("error: %s\n", c->errstr);
	printf("ended within 3 s: %s\n", co_secs() - t0 < 3 ? "yes" : "no");
	redisFree(c);
	printf("fds left open: %d\n", nfds() - before);
	close(q);
	close(l);
}

static long long pushed = -1;
static void pusher(void *arg)
{
	(void)arg;
	redisContext *c = connect_or_die();
	if (co_sleep)
		co_sleep(co_now() + 100000000);
	else
		usleep(100000);
	redisReply *r = redisCommand(c, "RPUSH q:one hello");
	pushed = r ? r->integer : -1LL; /* printed once both are done */
	freeReplyObject(r);
	redisFree(c);
}

static void *pusher_thread(void *arg)
{
	pusher(arg);
	return NULL;
}

static void waiter(void *arg)
{
	(void)arg;
	redisContext *c = connect_or_die();
	redisReply *r = redisCommand(c, "BLPOP q:one 5");
	printf("blpop: %s\n", r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ?
	       r->element[1]->str : c->errstr);
	freeReplyObject(r);
	redisFree(c);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4) {
		fprintf(stderr, "usage: redisload work N|timeout|deadline|cancel|full|blpop "
				"HOST PORT\n");
		return 2;
	}
	/* ASYNCIFY_BACKEND=off makes the program's own calls: the jobs run
	 * as without the shim. */
	if (co_api())
		co_go = NULL, co_sleep = NULL;
	host = argv[argc - 2];
	port = atoi(argv[argc - 1]);
	if (!strcmp(argv[1], "work") && argc == 5) {
		int n = atoi(argv[2]);
		if (n < 1 || n > MAXW)
			return 2;
		for (int i = 0; i < n; i++)
			if (co_go)
				co_go(work, (void *)(long)i);
			else
				work((void *)(long)i);
		if (co_go)
			co_run();
		uint64_t h = 0;
		for (int i = 0; i < n; i++)
			h ^= hashes[i] * (uint64_t)(2 * i + 1);
		printf("%d connections, result %016llx\n", n, (unsigned long long)h);
	} else if (!strcmp(argv[1], "timeout") || !strcmp(argv[1], "full")) {
		void (*fn)(void *) = argv[1][0] == 't' ? timeout : full;
		if (co_go) {
			co_go(fn, NULL);
			co_run();
		} else {
			fn(NULL);
		}
	} else if (!strcmp(argv[1], "deadline") || !strcmp(argv[1], "cancel")) {
		void *how = (void *)(long)(argv[1][0] == 'c');
		if (co_go) {
			blocked_job = co_go(ended, how);
			if (how)
				co_go(canceller, NULL);
			co_run();
		} else {
			ended(how);
		}
	} else if (!strcmp(argv[1], "blpop")) {
		if (co_go) {
			co_go(waiter, NULL);
			co_go(pusher, NULL);
			co_run();
		} else {
			pthread_t th;
			pthread_create(&th, NULL, pusher_thread, NULL);
			waiter(NULL);
			pthread_join(th, NULL);
		}
		printf("pushed: %lld\n", pushed);
	} else {
		return 2;
	}
	return 0;
}
