/* coapi.h — the coroutine API of libasyncify.so for the real-program
 * cases' own programs (pqload, zload, curlload, sqlkill, corocat).
 *
 * The API is looked up with dlsym, so that one binary runs without the
 * shim too: then every pointer stays NULL and the program runs its work
 * on the main thread, the reference the shimmed runs are compared with.
 * co_api() fills the pointers and says whether ASYNCIFY_BACKEND=off is in
 * force: then every call is the program's own, and each program decides
 * what of its coroutine plan still makes sense.  nfds() counts the open
 * fds, for the "nothing left open" checks. */
#ifndef ASY_REAL_COAPI_H
#define ASY_REAL_COAPI_H

#include <dirent.h>
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

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

#endif
