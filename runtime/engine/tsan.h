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

/* ThreadSanitizer also holds a signal back from the handler until the
 * thread's next interceptor or atomic operation, and runs it there even
 * where the thread has blocked the signal since.  A section that blocks
 * every signal so that no handler can jump out of it (asy__mask_all,
 * spin.h) lets the ones held back run first, at a point where nothing is
 * taken: an atomic load is such a point.  Once the mask is up the kernel
 * hands TSan nothing more to hold back. */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define asy_tsan_acquire(p) __tsan_acquire((void *)(p))
#define asy_tsan_release(p) __tsan_release((void *)(p))
extern _Atomic int asy__tsan_point;
#define asy_tsan_held_signals() ((void)__atomic_load_n(&asy__tsan_point, __ATOMIC_SEQ_CST))
#else
#define asy_tsan_acquire(p) ((void)(p))
#define asy_tsan_release(p) ((void)(p))
#define asy_tsan_held_signals() ((void)0)
#endif

#endif
