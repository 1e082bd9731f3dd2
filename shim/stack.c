/* The stack a coroutine's code asks for.
 *
 * Code that looks at its own stack — a garbage collector scanning it for
 * pointers (V8, Boehm), a runtime placing its stack-overflow limit or
 * guard (Rust, the JVM), a sanitizer — asks glibc for the calling
 * thread's stack with pthread_getattr_np(pthread_self()).  In a coroutine
 * glibc describes the thread's own stack, which the code is not on: a
 * scan from the coroutine's stack pointer up to the thread stack's top
 * walks through unmapped memory (node, with main() in a coroutine, died
 * of SIGSEGV in a garbage collection that scanned its stack).  So
 * for the calling thread, on a coroutine's stack, the answer describes
 * that stack: its usable bytes and the guard page below them.  Everything
 * else in the attributes, and every other thread's, is glibc's. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#include "engine.h"
#include "coro.h"

typedef int getattr_fn(pthread_t, pthread_attr_t *);
static getattr_fn *_Atomic real_getattr;

/* A sanitizer's runtime asks too, for a thread it is starting, before
 * the thread can run instrumented code: nothing here is instrumented, and
 * a thread without a scheduler returns before calling what is. */
ASY_EXPORT __attribute__((no_sanitize("address", "thread", "undefined")))
int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
	getattr_fn *f = atomic_load_explicit(&real_getattr, memory_order_relaxed);
	if (!f) { /* a library's constructor may ask before ours runs */
		f = (getattr_fn *)dlsym(RTLD_NEXT, "pthread_getattr_np");
		atomic_store_explicit(&real_getattr, f, memory_order_relaxed);
	}
	int r = f(th, attr);
	void *lo;
	size_t size, guard;
	if (r || !asy__sched_running || !pthread_equal(th, pthread_self()) ||
	    !asy__coro_stack(__builtin_frame_address(0), &lo, &size, &guard))
		return r;
	pthread_attr_setstack(attr, lo, size);
	pthread_attr_setguardsize(attr, guard);
	return 0;
}
