/* The interposed symbols, generated from hooks.def and nothing else.
 *
 * Each hook describes its call to the engine.  The engine either answers
 * (>= 0 or -errno, turned into -1/errno here, errno untouched on success)
 * or says ASY_PASS, and the real libc function runs instead: before the
 * engine is ready, under ASYNCIFY_BACKEND=off, from inside the engine or a
 * signal handler that interrupted it, and in a vfork child. */
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>
#include <sys/uio.h>

#include "engine.h"
#include "sys.h"
#include "trace.h"
#include "coro.h"

_Static_assert(sizeof(off_t) == 8, "asyncify needs a 64-bit off_t ABI");

extern void __chk_fail(void) __attribute__((noreturn));

/* The real functions, resolved once per process by asy__shim_resolve(). */
static struct {
#define HOOK(ret, name, params, args, sc, io) ret(*name) params;
#define ALIAS(name, target)
#define CHK(name, target, params, args, check)
#include "hooks.def"
#undef HOOK
#undef ALIAS
#undef CHK
} real;

/* Resolve every real symbol.  A missing one is not fatal: its hook keeps
 * using the raw system call. */
ASY_HIDDEN void asy__shim_resolve(void)
{
#define HOOK(ret, name, params, args, sc, io) \
	real.name = (ret(*) params)dlsym(RTLD_NEXT, #name);
#define ALIAS(name, target)
#define CHK(name, target, params, args, check)
#include "hooks.def"
#undef HOOK
#undef ALIAS
#undef CHK
}

static inline long edge(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* hook_NAME is the whole hook; NAME, the exported symbol, is its fast
 * path: a plain thread's call with tracing off is the program's own call
 * and nothing else (engine.h) — two loads, then a jump to libc. */
#define HOOK(ret, name, params, args, sc, io)                               \
	static __attribute__((noinline)) ret hook_##name params             \
	{                                                                   \
		struct asy_io x = io;                                       \
		uint64_t t0 = asy__tracing ? asy__trace_now() : 0;          \
		long r = ASY_PASS;                                          \
		ret v;                                                      \
		if (atomic_load_explicit(&asy__ready, memory_order_relaxed)) \
			r = asy__io(&x);                                    \
		if (r != ASY_PASS)                                          \
			v = (ret)edge(r);                                   \
		else if (real.name)                                         \
			v = real.name args, x.via = ASY_VIA_LIBC;           \
		else                                                        \
			v = (ret)edge(asy_sys sc), x.via = ASY_VIA_LIBC;    \
		if (t0)                                                     \
			asy__trace_call(&x, v < 0 ? -errno : (long)v, t0);  \
		return v;                                                   \
	}                                                                   \
	ASY_EXPORT ret name params                                          \
	{                                                                   \
		if (__builtin_expect(!asy__tracing && !asy__sched_running && \
				     real.name != NULL, 1))                 \
			return real.name args;                              \
		return hook_##name args;                                    \
	}
#define ALIAS(name, target) \
	extern __typeof(target) name __attribute__((alias(#target), visibility("default")));
#define CHK(name, target, params, args, check)   \
	ASY_EXPORT ssize_t name params            \
	{                                         \
		if (!(check))                     \
			__chk_fail();             \
		return target args;               \
	}
#include "hooks.def"
#undef HOOK
#undef ALIAS
#undef CHK
