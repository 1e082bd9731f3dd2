/* A preloaded library whose constructor does I/O before asyncify's own
 * constructor has run (check-shim's calls_before_init): a pipe's write
 * and read, and the calls whose raw system call is not libc's — sleep,
 * usleep, select and posix_fallocate have none, ppoll and pselect write
 * their timeout back where glibc's leave the caller's alone, and a raw
 * fcntl(F_GETOWN) reads a process group as an error; and a name lookup
 * (its libc function not looked up yet: it crashed).  Each line says
 * what glibc says. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static void say(const char *fmt, long a, long b)
{
	char line[128];
	int len = snprintf(line, sizeof line, fmt, a, b);
	write(1, line, (size_t)len);
}

static void conventions(void)
{
	struct timeval tv = { 0, 1000 };
	struct timespec pt = { 0, 2000000 };
	long a = select(0, NULL, NULL, NULL, &tv), b = usleep(1000);
	say("early: select %ld usleep %ld ", a, b);
	errno = 0;
	a = sleep(0);
	say("sleep(0) %ld errno %ld ", a, errno);
	int fd = memfd_create("early", MFD_CLOEXEC);
	a = posix_fallocate(fd, 0, 4096);
	b = lockf(fd, F_TLOCK, 0);
	say("posix_fallocate %ld lockf %ld ", a, b);
	close(fd);
	a = ppoll(NULL, 0, &pt, NULL);
	say("ppoll %ld timeout kept %ld ", a, pt.tv_nsec == 2000000);
	int sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fcntl(sk, F_SETOWN, -getpgrp());
	errno = 0;
	a = fcntl(sk, F_GETOWN) == -getpgrp();
	say("F_GETOWN is -pgrp %ld errno %ld ", a, errno);
	close(sk);
	struct addrinfo *ai = NULL, hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	a = getaddrinfo("localhost", "80", &hints, &ai);
	say("getaddrinfo %ld found %ld\n", a, ai != NULL);
	if (ai)
		freeaddrinfo(ai);
}

__attribute__((constructor)) static void early(void)
{
	int p[2];
	char b[16] = "";
	if (pipe(p) < 0)
		return;
	errno = 0;
	write(p[1], "early", 5);
	long n = read(p[0], b, sizeof b);
	int e = errno;
	char line[64];
	int len = snprintf(line, sizeof line, "early: read %ld '%.*s' errno %d\n", n, (int)(n > 0 ? n : 0), b, e);
	write(1, line, (size_t)len);
	close(p[0]);
	close(p[1]);
	conventions();
}
