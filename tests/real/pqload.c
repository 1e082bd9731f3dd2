/* pqload MODE CONNINFO: libpq (Debian's, unchanged) from coroutines, for
 * the libpq case of lib-cases.sh.  Under the shim every connection is a
 * coroutine on the main thread (the API looked up with dlsym); without it
 * they run one after the other.  Prints only what must be the same both
 * ways.
 *
 * MODE  work N      N connections, each 20 queries of a few hundred rows;
 *                   one hash of every value received
 *       deadline    a 5 s query ended after 300 ms — by asy_io_deadline
 *                   under the shim, by PQcancel from a thread without it —
 *                   then PQreset and a query; no fd left open
 *       terminate   a query whose backend another connection terminates
 *                   (pg_terminate_backend): the errors libpq reports */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coapi.h"

#define MAXW 64

static const char *conninfo;
static uint64_t hashes[MAXW];

static PGconn *connect_or_die(void)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		printf("connect: %s", PQerrorMessage(c));
		exit(1);
	}
	return c;
}

static void work(void *arg)
{
	int w = (int)(long)arg;
	PGconn *c = connect_or_die();
	uint64_t h = 1469598103934665603ULL;
	for (int k = 0; k < 20; k++) {
		char q[200];
		snprintf(q, sizeof q, "SELECT g, md5('%d-%d-' || g), repeat('x', g %% 97) "
			 "FROM generate_series(1, %d) g", w, k, 100 + w * 10 + k);
		PGresult *r = PQexec(c, q);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			printf("worker %d query %d: %s", w, k, PQerrorMessage(c));
		for (int i = 0; i < PQntuples(r); i++)
			for (int j = 0; j < PQnfields(r); j++) {
				const char *v = PQgetvalue(r, i, j);
				h = co_fnv(h, v, strlen(v));
			}
		PQclear(r);
	}
	PQfinish(c);
	hashes[w] = h;
}

static void *cancel_later(void *arg)
{
	usleep(300000);
	char err[256];
	PGcancel *cancel = PQgetCancel(arg);
	PQcancel(cancel, err, sizeof err);
	PQfreeCancel(cancel);
	return NULL;
}

static void deadline(void *arg)
{
	(void)arg;
	int before = nfds();
	PGconn *c = connect_or_die();
	pthread_t th;
	double t0 = co_secs();
	if (co_io_deadline)
		co_io_deadline(co_now() + 300000000);
	else
		pthread_create(&th, NULL, cancel_later, c);
	PGresult *r = PQexec(c, "SELECT pg_sleep(5)");
	printf("long query failed: %s\n", PQresultStatus(r) == PGRES_FATAL_ERROR ? "yes" : "no");
	printf("ended within 3 s: %s\n", co_secs() - t0 < 3 ? "yes" : "no");
	PQclear(r);
	if (co_io_deadline)
		co_io_deadline(-1);
	else
		pthread_join(th, NULL);
	PQreset(c);
	r = PQexec(c, "SELECT 41 + 1");
	printf("after PQreset: %s\n", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	printf("fds left open: %d\n", nfds() - before);
}

static void terminate(void *arg)
{
	(void)arg;
	PGconn *c = connect_or_die(), *k = connect_or_die();
	char q[64];
	snprintf(q, sizeof q, "SELECT pg_terminate_backend(%d)", PQbackendPID(c));
	PQsendQuery(c, "SELECT pg_sleep(5)");
	PQclear(PQexec(k, q));
	PGresult *r;
	while ((r = PQgetResult(c))) {
		printf("result %s: %s", PQresStatus(PQresultStatus(r)), PQresultErrorMessage(r));
		PQclear(r);
	}
	printf("status %s\n", PQstatus(c) == CONNECTION_BAD ? "bad" : "ok");
	r = PQexec(c, "SELECT 1");
	printf("next: %s, %.*s\n", r ? PQresStatus(PQresultStatus(r)) : "no result",
	       (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	PQfinish(k);
}

/* Run fn(arg) for i = 0..n-1: coroutines under the shim, else in turn. */
static void each(void (*fn)(void *), int n)
{
	for (int i = 0; i < n; i++)
		if (co_go)
			co_go(fn, (void *)(long)i);
		else
			fn((void *)(long)i);
	if (co_go)
		co_run();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: pqload work N|deadline|terminate CONNINFO\n");
		return 2;
	}
	/* ASYNCIFY_BACKEND=off makes the program's own calls, deadline or
	 * not: the query is cancelled as without the shim. */
	if (co_api())
		co_io_deadline = NULL;
	conninfo = argv[argc - 1];
	if (!strcmp(argv[1], "work") && argc == 4) {
		int n = atoi(argv[2]);
		if (n < 1 || n > MAXW)
			return 2;
		each(work, n);
		uint64_t h = 0;
		for (int i = 0; i < n; i++)
			h ^= hashes[i] * (uint64_t)(2 * i + 1);
		printf("%d connections, result %016llx\n", n, (unsigned long long)h);
	} else if (!strcmp(argv[1], "deadline")) {
		each(deadline, 1);
	} else if (!strcmp(argv[1], "terminate")) {
		each(terminate, 1);
	} else {
		return 2;
	}
	return 0;
}
