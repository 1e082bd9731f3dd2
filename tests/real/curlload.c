/* curlload: libcurl (Debian's, unchanged) from a coroutine, for the curl
 * case of lib-cases.sh.  A thread of the program serves a 64 MiB body
 * slowly on loopback; one transfer is ended after 4 MiB came — by
 * asy_cancel (then asy_io_deadline, second run) under the shim, by its
 * progress callback without it — and then a transfer on a new handle
 * must get the whole body, with no fd left open.  Prints only what must
 * be the same both ways. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coapi.h"

#define BODY (64L << 20)

static int port, listener, victim, by_deadline;
static long got;

/* The server: each connection gets the body in 64 KiB pieces. */
static void *serve(void *arg)
{
	(void)arg;
	static char piece[65536];
	memset(piece, 'x', sizeof piece);
	for (;;) {
		int c = accept(listener, NULL, NULL);
		if (c < 0)
			return NULL;
		char req[4096], head[128];
		if (recv(c, req, sizeof req, 0) > 0) {
			int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n"
				"Connection: close\r\n\r\n", BODY);
			send(c, head, (size_t)n, MSG_NOSIGNAL);
			for (long left = BODY; left > 0;) {
				long w = send(c, piece, left < (long)sizeof piece ? (size_t)left : sizeof piece,
					      MSG_NOSIGNAL);
				if (w <= 0)
					break;
				left -= w;
				usleep(1000);
			}
		}
		close(c);
	}
}

static size_t take(char *p, size_t size, size_t n, void *count)
{
	(void)p;
	*(long *)count += (long)(size * n);
	return size * n;
}

/* Without the shim: end the first transfer from its progress callback. */
static int progress(void *count, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return count == &got && !co_go && got >= (4L << 20);
}

static void transfer(void *count)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, count);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, count);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (co_go && by_deadline && count == &got)
		co_io_deadline(co_now() + 300000000);
	CURLcode r = curl_easy_perform(h);
	long n = *(long *)count;
	printf("%s transfer: %s, %s\n", count == &got ? "first" : "second", r ? "failed" : "done",
	       n == BODY ? "whole body" : n >= (4L << 20) && n < BODY ? "part" : "too little");
	curl_easy_cleanup(h);
}

/* Under the shim: cancel the first transfer once 4 MiB came. */
static void canceller(void *arg)
{
	(void)arg;
	while (got < (4L << 20))
		co_sleep(co_now() + 1000000);
	co_cancel(victim);
}

static void run_first(void)
{
	got = 0;
	if (!co_go) {
		transfer(&got);
		return;
	}
	victim = co_go(transfer, &got);
	if (!by_deadline)
		co_go(canceller, NULL);
	co_run();
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (co_api()) /* every call the program's own */
		co_go = NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(listener, (struct sockaddr *)&a, len) < 0 || listen(listener, 8) < 0 ||
	    getsockname(listener, (struct sockaddr *)&a, &len) < 0)
		return 1;
	port = ntohs(a.sin_port);
	pthread_t th;
	pthread_create(&th, NULL, serve, NULL);
	for (by_deadline = 0; by_deadline < 2; by_deadline++) {
		int before = nfds();
		run_first();
		static long again;
		again = 0;
		if (co_go) {
			co_go(transfer, &again);
			co_run();
		} else {
			transfer(&again);
		}
		usleep(200000); /* the server's side of the closed transfers */
		printf("fds left open: %d\n", nfds() - before);
	}
	return 0;
}
