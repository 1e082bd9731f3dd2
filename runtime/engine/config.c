/* Configuration: the ASYNCIFY_* environment, read once at start-up into
 * asy__cfg, which nothing writes afterwards.  A bad value gets one warning
 * line on stderr and the default; nothing else is ever printed. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "sys.h"

struct asy_config asy__cfg = {
	.backend = ASY_BE_URING,
	.queue_depth = 64,
	.workers = 16,
	.sqpoll = 0,
	.stack_size = 256 * 1024,
	.intr_signal = -1, /* SIGRTMAX, known at run time */
};

/* fd 2 as the process started with it (st_ino 0: none).  A warning goes
 * there only while fd 2 is still that file: a program that closed it and
 * put a file of its own at 2 (a daemon's log; a raw close_range that the
 * trace's "stderr" output cannot follow) never finds the shim's line in
 * it. */
static struct stat err_file;

static int err_still_ours(void)
{
	struct stat st;
	return err_file.st_ino && asy_sys(SYS_fstat, 2, &st, 0, 0, 0, 0) == 0 &&
	       st.st_dev == err_file.st_dev && st.st_ino == err_file.st_ino;
}

/* Print one line on stderr with a raw write: no stdio, no locks, errno
 * untouched, so it is safe from any context. */
ASY_HIDDEN void asy__warn(const char *fmt, ...)
{
	if (!err_still_ours())
		return;
	char line[256];
	va_list ap;
	int n = snprintf(line, sizeof line, "asyncify: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	asy_sys_write(2, line, (size_t)n);
}

/* Parse an unsigned number with optional K/M/G suffix into [lo, hi];
 * 0 on success, -1 when the text is not one. */
static int parse_size(const char *s, unsigned long long lo, unsigned long long hi,
		      unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || (shift && v > (~0ULL >> shift)))
		return -1;
	v <<= shift;
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void read_number(const char *name, unsigned long long lo, unsigned long long hi,
			unsigned long long *out)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return;
	if (parse_size(s, lo, hi, out) < 0)
		asy__warn("%s=%s is not a number in [%llu, %llu]; using %llu", name, s,
			  lo, hi, *out);
}

static void read_backend(void)
{
	static const char *const names[] = { "uring", "threads", "off" };
	const char *s = getenv("ASYNCIFY_BACKEND");
	if (!s || !*s)
		return;
	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, names[i])) {
			asy__cfg.backend = i;
			asy__cfg.backend_explicit = 1;
			return;
		}
	}
	asy__warn("ASYNCIFY_BACKEND=%s is not one of uring, threads, off; using uring", s);
}

void asy__config_read(void)
{
	unsigned long long v;

	if (asy_sys(SYS_fstat, 2, &err_file, 0, 0, 0, 0) < 0)
		err_file.st_ino = 0;

	read_backend();
	v = asy__cfg.queue_depth;
	read_number("ASYNCIFY_QUEUE_DEPTH", 1, 4096, &v);
	asy__cfg.queue_depth = (unsigned)v;
	v = asy__cfg.workers;
	read_number("ASYNCIFY_WORKERS", 1, 1024, &v);
	asy__cfg.workers = (unsigned)v;
	v = (unsigned long long)asy__cfg.sqpoll;
	read_number("ASYNCIFY_SQPOLL", 0, 1, &v);
	asy__cfg.sqpoll = (int)v;
	v = asy__cfg.stack_size;
	read_number("ASYNCIFY_STACK_SIZE", 16384, 1ULL << 30, &v);
	asy__cfg.stack_size = (size_t)v;
	v = (unsigned long long)SIGRTMAX;
	read_number("ASYNCIFY_SIGNAL", 0, (unsigned long long)SIGRTMAX, &v);
	if (v && (v < (unsigned long long)SIGRTMIN && v != SIGURG && v != SIGUSR1 && v != SIGUSR2)) {
		asy__warn("ASYNCIFY_SIGNAL=%llu is not SIGUSR1, SIGUSR2, SIGURG or a real-time signal; "
			  "using %d", v, SIGRTMAX);
		v = (unsigned long long)SIGRTMAX;
	}
	asy__cfg.intr_signal = (int)v;
}
