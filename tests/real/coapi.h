/* coapi.h — the coroutine API of libasyncify.so for the real-program
 * cases' own programs (pqload, zload, curlload, sqlkill, corocat).
 *
 * The API is looked up with dlsym, so that one binary runs without the
 * shim too: then every pointer stays NULL and the program runs its work
 * on the main thread, the reference the shimmed runs are compared with.
 * co_api() fills the pointers and says whether ASYNCIFY_BACKEND=off is in
 * force: then every call is the program's own, and each program decides
 * what of its coroutine plan still makes sense.  nfds() counts the open
 * fds, for the "nothing left open" checks; co_secs() is CLOCK_MONOTONIC in
 * seconds, co_fnv() hashes n bytes into h (the answers both runs compare). */
#ifndef ASY_REAL_COAPI_H
#define ASY_REAL_COAPI_H

#include <dirent.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define CO_UNUSED __attribute__((unused))

static int (*co_go)(void (*)(void *), void *) CO_UNUSED;
static int (*co_run)(void) CO_UNUSED;
static int (*co_cancel)(int) CO_UNUSED;
static int (*co_io_deadline)(int64_t) CO_UNUSED;
static int (*co_sleep)(int64_t) CO_UNUSED;
static int64_t (*co_now)(void) CO_UNUSED;

/* 1: the library is loaded and its backend is `off`. */
static CO_UNUSED int co_api(void)
{
	co_go = (int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	co_run = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	co_cancel = (int (*)(int))dlsym(RTLD_DEFAULT, "asy_cancel");
	co_io_deadline = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_io_deadline");
	co_sleep = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_sleep");
	co_now = (int64_t (*)(void))dlsym(RTLD_DEFAULT, "asy_now");
	const char *(*backend)(void) =
		(const char *(*)(void))dlsym(RTLD_DEFAULT, "asy_backend_name");
	return backend && !strcmp(backend(), "off");
}

static CO_UNUSED int nfds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static CO_UNUSED double co_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static CO_UNUSED uint64_t co_fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

#endif
