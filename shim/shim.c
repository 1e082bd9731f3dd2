/* The interposed symbols, generated from hooks.def and nothing else.
 *
 * Each hook describes its call to the engine.  The engine either answers
 * (>= 0 or -errno, turned into -1/errno here, errno untouched on success)
 * or says ASY_PASS, and the real libc function runs instead: before the
 * engine is ready, under ASYNCIFY_BACKEND=off, from inside the engine or a
 * signal handler that interrupted it, and in a vfork child. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "engine.h"
#include "sys.h"
#include "real.h"
#include "trace.h"
#include "coro.h"
#include "resolve.h"

_Static_assert(sizeof(off_t) == 8, "asyncify needs a 64-bit off_t ABI");

extern void __chk_fail(void) __attribute__((noreturn));

/* The real functions, resolved once per process by asy__shim_resolve(). */
#define ASY_UNPAREN(...) __VA_ARGS__
static struct {
#define HOOK(ret, name, params, args, sc, io) ret(*name) params;
#define VHOOK(ret, name, params, last, vt, va, need, args, sc, io) ret(*name)(ASY_UNPAREN params, ...);
#define VOIDHOOK(name, sc, io) void (*name)(void);
#define ALIAS(name, target)
#define CHK(ret, name, target, params, args, check)
#define RES(ret, name, params, args)
#include "hooks.def"
#undef HOOK
#undef VHOOK
#undef VOIDHOOK
#undef ALIAS
#undef CHK
#undef RES
} real;

/* Resolve every real symbol.  A missing one is not fatal: its hook keeps
 * using the raw system call. */
ASY_HIDDEN void asy__shim_resolve(void)
{
#define HOOK(ret, name, params, args, sc, io) \
	real.name = (ret(*) params)dlsym(RTLD_NEXT, #name);
#define VHOOK(ret, name, params, last, vt, va, need, args, sc, io) \
	real.name = (ret(*)(ASY_UNPAREN params, ...))dlsym(RTLD_NEXT, #name);
#define VOIDHOOK(name, sc, io) real.name = (void (*)(void))dlsym(RTLD_NEXT, #name);
#define ALIAS(name, target)
#define CHK(ret, name, target, params, args, check)
#define RES(ret, name, params, args) \
	asy__res_real.name = (ret(*) params)dlsym(RTLD_NEXT, #name);
#include "hooks.def"
#undef HOOK
#undef VHOOK
#undef VOIDHOOK
#undef ALIAS
#undef CHK
#undef RES
}

static inline long edge(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* What the trace records of a result: -errno for -1. */
static inline long traced(long v)
{
	return v < 0 ? -errno : v;
}

/* A file system call: how the engine sees it (runtime/engine/fs.c) — the
 * libc function a worker calls for it, the width of its result, and which
 * argument is its path. */
#define ASY_IO_FS(ret, call_, fn, fd_, path_, ...)                                  \
	{ .op = ASY_OP_NONE, .call = ASY_CALL_##call_, .fd = (fd_), .path = (path_), \
	  .rwflags = (int)sizeof(ret), .arg = (void *)real.fn, .a = { __VA_ARGS__ } }

/* The body of every hook: the engine answers, or libc — its symbol looked
 * up here when a library's constructor calls before ours has resolved
 * them all (ld.so runs a preloaded object's constructor after those of
 * the program's other libraries), the raw system call only where libc
 * has none: the raw calls' conventions are not libc's (sleep, usleep,
 * select and posix_fallocate have no call of their own; ppoll and
 * pselect write their timeout back, fcntl(F_GETOWN) reads a group as an
 * error), and such a constructor saw ENOSYS, -1 or a timeout changed. */
#define ASY_HOOK_BODY(ret, name, libc, sc, ...)                              \
	struct asy_io asy_x_ = __VA_ARGS__;                                 \
	uint64_t asy_t0_ = asy__tracing ? asy__trace_now() : 0;             \
	long asy_r_ = ASY_PASS;                                             \
	ret asy_v_;                                                         \
	unsigned asy_c_ = ASY_CLOSES(#name) ? asy__closing(&asy_x_) : 0;   \
	if (asy_t0_ && asy_x_.call == ASY_CALL_close)                       \
		asy__trace_before(&asy_x_);                                 \
	if (__builtin_expect(asy_c_ & ASY_CLOSE_AROUND, 0))                 \
		asy_r_ = asy__close_around(&asy_x_);                        \
	else if (atomic_load_explicit(&asy__ready, memory_order_relaxed))   \
		asy_r_ = asy__io(&asy_x_);                                  \
	if (asy_r_ != ASY_PASS) {                                           \
		asy_v_ = (ret)edge(asy_r_);                                 \
		if (asy_r_ >= 0 && asy_x_.errnum)                           \
			errno = asy_x_.errnum;                              \
	} else {                                                            \
		asy_x_.via = ASY_VIA_LIBC;                                  \
		int asy_a_ = !__builtin_strcmp(#name, "unshare") ?          \
			asy__alone_begin(SYS_unshare, asy_x_.a[0], 0) : 0;  \
		if (__builtin_expect(!real.name, 0))                        \
			__atomic_store_n(&real.name, (__typeof__(real.name))dlsym(RTLD_NEXT, #name), \
					 __ATOMIC_RELAXED);                 \
		asy_v_ = real.name ? (libc) : (ret)edge(asy_sys sc);        \
		if (asy_a_)                                                 \
			asy__alone_end(asy_a_);                             \
	}                                                                   \
	if (asy_c_ & ASY_TRACE_LOST)                                        \
		asy__trace_closed(asy_c_ & ASY_TRACE_LOST);                 \
	if (asy_t0_)                                                        \
		asy__trace_call(&asy_x_, traced(asy_v_), asy_t0_);          \
	if (__builtin_expect(asy__jump_pending, 0))                         \
		asy__jump_due();

/* A plain thread's call with tracing off is the program's own call and
 * nothing else (engine.h) — two loads, then a jump to libc.  unshare and
 * close_range always reach the engine: they may mark the thread
 * (asy__own_calls, asy__own_table). */
#define ASY_FAST(name)                                                            \
	__builtin_expect(!asy__tracing && !asy__sched_running && real.name != NULL &&  \
			 __builtin_strcmp(#name, "unshare") &&                           \
			 __builtin_strcmp(#name, "close_range") &&                       \
			 !(ASY_CLOSES(#name) && atomic_load_explicit(&asy__keeps,        \
								    memory_order_seq_cst)), 1)
/* close, close_range, dup2 and dup3 also look whether a coroutine's wait holds the
 * number they close (runtime/engine/keep.c) or the trace writes to it
 * (asy__closing); the test folds away. */
#define ASY_CLOSES(s)                                                              \
	(!__builtin_strcmp(s, "close") || !__builtin_strcmp(s, "close_range") ||   \
	 !__builtin_strcmp(s, "dup2") || !__builtin_strcmp(s, "dup3"))

/* hook_NAME is the whole hook; NAME, the exported symbol, is its fast
 * path. */
#define HOOK(ret, name, params, args, sc, io)                               \
	static __attribute__((noinline)) ret hook_##name params             \
	{                                                                   \
		ASY_HOOK_BODY(ret, name, real.name args, sc, io)                      \
		return asy_v_;                                              \
	}                                                                   \
	ASY_EXPORT ret name params                                          \
	{                                                                   \
		if (ASY_FAST(name))                                         \
			return real.name args;                              \
		return hook_##name args;                                    \
	}
/* A variadic call (open, fcntl): its last argument is read only when the
 * call needs it, as libc reads it. */
#define VHOOK(ret, name, params, last, vt, va, need, args, sc, io)          \
	static __attribute__((noinline)) ret hook_##name(ASY_UNPAREN params, vt va) \
	{                                                                   \
		ASY_HOOK_BODY(ret, name, real.name args, sc, io)                      \
		return asy_v_;                                              \
	}                                                                   \
	ASY_EXPORT ret name(ASY_UNPAREN params, ...)                        \
	{                                                                   \
		vt va = 0;                                                  \
		if (need) {                                                 \
			va_list ap;                                         \
			va_start(ap, last);                                 \
			va = va_arg(ap, vt);                                \
			va_end(ap);                                         \
		}                                                           \
		if (ASY_FAST(name))                                         \
			return real.name args;                              \
		return hook_##name args;                                    \
	}
#define VOIDHOOK(name, sc, io)                                              \
	static __attribute__((noinline)) void hook_##name(void)             \
	{                                                                   \
		ASY_HOOK_BODY(int, name, (real.name(), 0), sc, io)                        \
		(void)asy_v_;                                               \
	}                                                                   \
	ASY_EXPORT void name(void)                                          \
	{                                                                   \
		if (ASY_FAST(name))                                         \
			real.name();                                        \
		else                                                        \
			hook_##name();                                      \
	}
#define ALIAS(name, target) \
	extern __typeof(target) name __attribute__((alias(#target), copy(target), visibility("default")));
#define CHK(ret, name, target, params, args, check) \
	ASY_EXPORT ret name params                  \
	{                                           \
		if (!(check))                       \
			__chk_fail();               \
		return target args;                 \
	}
/* A name lookup: the same fast path; otherwise resolve.c runs it (on a
 * worker inside a coroutine), traced like the others. */
#define RES(ret, name, params, args)                                        \
	ASY_EXPORT ret name params                                          \
	{                                                                   \
		if (__builtin_expect(asy__res_real.name == NULL, 0)) /* before our constructor */ \
			__atomic_store_n(&asy__res_real.name,               \
					 (__typeof__(asy__res_real.name))dlsym(RTLD_NEXT, #name), \
					 __ATOMIC_RELAXED);                 \
		if (__builtin_expect(!asy__tracing && !asy__sched_running && \
				     asy__res_real.name != NULL, 1))        \
			return asy__res_real.name args;                     \
		struct asy_io x = { .op = ASY_OP_NONE, .call = ASY_CALL_##name, .fd = -1 }; \
		uint64_t t0 = asy__tracing ? asy__trace_now() : 0;          \
		ret v = asy__res_##name args;                               \
		if (t0) {                                                   \
			x.via = asy__res_via();                             \
			asy__trace_call(&x, 0, t0);                         \
		}                                                           \
		if (__builtin_expect(asy__jump_pending, 0))                 \
			asy__jump_due();                                    \
		return v;                                                   \
	}
#include "hooks.def"
#undef HOOK
#undef VHOOK
#undef VOIDHOOK
#undef ALIAS
#undef CHK
#undef RES

/* glibc's closefrom() closes inside glibc (its close_range, or a walk of
 * /proc/self/fd where the kernel has none), where the close hooks never
 * see it, and would close a waiting call's copy (keep.c).  It is made as
 * what it is, close_range(lo, ~0U, 0), through the hook above — traced as
 * that call; only where that fails does glibc's own walk run. */
ASY_EXPORT void closefrom(int lo)
{
	static void (*real_closefrom)(int);
	int e = errno;
	if (close_range(lo < 0 ? 0 : (unsigned)lo, ~0U, 0) == 0) {
		errno = e;
		return;
	}
	errno = e;
	if (!real_closefrom)
		real_closefrom = (void (*)(int))dlsym(RTLD_NEXT, "closefrom");
	real_closefrom(lo);
}

/* fclose, freopen and pclose close the FILE's fd inside glibc, where the
 * close hooks never see it: a coroutine waiting on that number by poll
 * (threads backend, or accept) lost its file — a pipe's writer then met
 * EPIPE and SIGPIPE where the kernel's waiting read still held the
 * reader.  So a number a wait holds is handed to the wait first, as a
 * hooked close hands it (runtime/engine/keep.c); then glibc's own call. */
static void file_closing(FILE *f)
{
	if (!f || asy__depth || !atomic_load_explicit(&asy__keeps, memory_order_seq_cst))
		return;
	int e = errno, fd = fileno(f);
	if (fd >= 0 && (pid_t)asy_sys_getpid() == asy__pid)
		asy__keep_closing((unsigned)fd, (unsigned)fd, ASY_CALL_close);
	errno = e;
}

typedef int (*file_fn)(FILE *);
typedef FILE *(*reopen_fn)(const char *, const char *, FILE *);
REAL(fclose, file_fn)
REAL(pclose, file_fn)
REAL(freopen, reopen_fn)
REAL(freopen64, reopen_fn)

ASY_EXPORT int fclose(FILE *f)
{
	file_closing(f);
	return get_fclose()(f);
}

/* glibc's own name for it, exported beside it */
ASY_EXPORT int _IO_fclose(FILE *f)
{
	return fclose(f);
}

ASY_EXPORT int pclose(FILE *f)
{
	file_closing(f);
	return get_pclose()(f);
}

ASY_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	file_closing(f);
	return get_freopen()(path, mode, f);
}

ASY_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	file_closing(f);
	return get_freopen64()(path, mode, f);
}
