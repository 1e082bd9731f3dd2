/* asyncify — public C interface.
 *
 * The library works unchanged under LD_PRELOAD (nothing to call); this
 * header is for programs that want to ask it things or, later, to run
 * coroutines.  Every function returns >= 0 on success and -1 with errno on
 * failure unless it says otherwise. */
#ifndef ASYNCIFY_H
#define ASYNCIFY_H

#ifdef __cplusplus
extern "C" {
#endif

/* What the engine has done in this process so far.  Counts are totals over
 * all threads since start-up (or since fork, in a child). */
struct asy_stats {
	unsigned long inline_done; /* calls that could not block, done at once */
	unsigned long submitted;   /* calls handed to a backend */
	unsigned long uring;       /*   … of which io_uring ran */
	unsigned long threads;     /*   … of which the worker pool ran */
	unsigned long interrupted; /* backend calls ended by a signal */
	unsigned long passed;      /* calls passed straight to libc */
	unsigned long fallbacks;   /* backend could not run a call: fell back */
};

/* asy_stats - fill *st with the engine's counters.  Returns 0. */
int asy_stats(struct asy_stats *st);

/* asy_backend_name - the backend calls go to now: "uring", "threads" or
 * "off" (after a fallback this is the backend actually used). */
const char *asy_backend_name(void);

/* asy_version - the library's version string, e.g. "0.1.0". */
const char *asy_version(void);

#ifdef __cplusplus
}
#endif
#endif
