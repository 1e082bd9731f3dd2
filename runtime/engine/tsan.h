/* Hand-overs between threads, told to ThreadSanitizer in words of its
 * own besides the lock or atomic that orders them.  A hooked call made
 * inside one of TSan's interceptors of a blocking call (poll, ppoll,
 * select, epoll_wait, nanosleep, usleep, sleep, …) runs with TSan
 * recording neither the locks nor the atomics used within it; without
 * these, a worker's look at a waiter, the trace writer's read of a
 * record (or the next use of memory another thread was done with) would
 * race, for TSan, with what was written there before.  Nothing in other
 * builds. */
#ifndef ASY_TSAN_H
#define ASY_TSAN_H

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define asy_tsan_acquire(p) __tsan_acquire((void *)(p))
#define asy_tsan_release(p) __tsan_release((void *)(p))
#else
#define asy_tsan_acquire(p) ((void)(p))
#define asy_tsan_release(p) ((void)(p))
#endif

#endif
