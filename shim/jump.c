/* longjmp, _longjmp, siglongjmp and __longjmp_chk: a signal handler's
 * jump into a coroutine that is inside a hooked call is put off until
 * that call is back in its hook (runtime/coro/jump.c says why).  The
 * handler is left by returning from it, through the signal frame the
 * kernel built (shim/signal.c's trampoline records it): the code it
 * interrupted (the scheduler's wait, another coroutine) goes on as after
 * any handler.
 *
 * Every other jump is glibc's, untouched: outside a scheduler run (one
 * TLS load), into a coroutine that is in no call (a jump within its own
 * code), within the handler's own frames, and wherever the signal frame
 * cannot be found.  x86-64 only:
 * the target's stack pointer is read from the jmp_buf (glibc mangles it
 * with the thread's pointer guard) and the frame is x86-64's rt_sigframe;
 * elsewhere every jump is glibc's (README, Known blind spots). */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "engine.h"
#include "sys.h"
#include "coro.h"
#include "pin.h"

/* Under AddressSanitizer (this library's build, or only the program's),
 * the frames a jump leaves behind must lose their poison, as its own
 * longjmp interceptor does; the put-off jump bypasses that interceptor. */
extern void __asan_handle_no_return(void) __attribute__((weak));
/* Nor may these functions' own frames keep poison: they never return. */
#define NOPOISON __attribute__((no_sanitize_address))

typedef void (*jump_fn)(void *, int);

enum { J_LONGJMP, J_UNDER, J_SIG, J_CHK, J_N };
static const char *const names[J_N] = { "longjmp", "_longjmp", "siglongjmp", "__longjmp_chk" };
static jump_fn real[J_N];

__attribute__((constructor)) static void resolve(void)
{
	for (int i = 0; i < J_N; i++)
		real[i] = (jump_fn)dlsym(RTLD_NEXT, names[i]);
}

#if defined(__x86_64__)
/* The kernel's rt_sigframe: the handler's return address (the
 * restorer), then struct ucontext (304 bytes): flags, link, stack_t,
 * then the sigcontext, whose pointer to the saved FPU state (filled in
 * for every handler, unlike the siginfo after the ucontext) lies 184
 * bytes into it and points past the frame, and the mask. */
#define UC_SIZE 304
#define FPSTATE_AT (8 /* restorer */ + 8 + 8 + 24 + 184)

/* Where the jump would put the stack pointer: JB_RSP, mangled as glibc's
 * PTR_MANGLE does (xor with the guard at %fs:0x30, rotate left 17). */
NOPOISON static const char *target_sp(const void *env)
{
	uintptr_t v = ((const uintptr_t *)env)[6], guard;
	__asm__("mov %%fs:0x30, %0" : "=r"(guard));
	return (const char *)(((v >> 17) | (v << 47)) ^ guard);
}

/* glibc's restorer, which the kernel keeps for every handler glibc set
 * (the same one for all: looked up once). */
NOPOISON static void *restorer(void)
{
	static void *found;
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} ka;
	for (long sig = 1; !found && sig <= 64; sig++)
		if (asy_sys(SYS_rt_sigaction, sig, 0, &ka, 8, 0, 0) == 0 &&
		    (ka.flags & 0x04000000 /* SA_RESTORER */) && ka.restorer)
			found = ka.restorer;
	return found;
}

/* How far above the jump's own frame its handler's signal frame may lie. */
#define MAX_SEARCH ((size_t)8 << 20)

/* Does p hold a signal frame: the restorer's address where a handler's
 * return address sits, a ucontext with known flags and no link, and its
 * FPU state's pointer past it, below top? */
NOPOISON /* it reads across frames */
static int is_frame(const char *p, const char *top, const void *rest)
{
	const unsigned long *uc = (const unsigned long *)(p + 8);
	const char *fp = *(const char *const *)(p + FPSTATE_AT);
	return *(void *const *)p == rest && uc[0] <= 15 && uc[1] == 0 && fp >= p + 8 + UC_SIZE &&
	       fp < top;
}

/* The innermost signal frame between sp and the top of its stack (a
 * return address sits 8 bytes past a 16-byte boundary).  Only for a
 * handler the trampoline did not run (a raw install): a frame an earlier
 * signal left deeper on the same stack may match first. */
NOPOISON static char *signal_frame(const char *sp, const char *top, const void *rest)
{
	const char *p = (const char *)(((uintptr_t)sp + 15) & ~(uintptr_t)15) + 8;
	for (; p + 8 + UC_SIZE <= top; p += 16)
		if (is_frame(p, top, rest))
			return (char *)p;
	return NULL;
}

/* The frame the jump's handlers return through: the one the kernel
 * called the outermost of them from (shim/signal.c records each), so
 * that a jump out of a nested handler leaves the handler it interrupted
 * too, as glibc's does, with errno as that handler found it in *err and
 * as the code it interrupted had it in *outer; else looked for on the
 * stack the jump is made on (both left alone). */
NOPOISON static char *handler_frame(const char *to, const char *here, void *rest, int *err,
				   int *outer)
{
	int e, o;
	const char *f = asy__handler_sigframe(to, here, &e, &o);
	if (f && f > here && (size_t)(f - here) <= MAX_SEARCH &&
	    is_frame(f, f + 8 + UC_SIZE + MAX_SEARCH, rest)) {
		*err = e;
		*outer = o;
		return (char *)f;
	}
	const char *top;
	stack_t ss;
	if (asy_sys(SYS_sigaltstack, 0, &ss, 0, 0, 0, 0) == 0 && (ss.ss_flags & SS_ONSTACK))
		top = (const char *)ss.ss_sp + ss.ss_size;
	else
		top = asy__coro_stack_top(here);
	/* Not on that stack (a stack of the program's own, as makecontext's:
	 * the root's top lies far off): no signal frame is looked for. */
	if (top && (top < here || (size_t)(top - here) > MAX_SEARCH))
		top = NULL;
	return top ? signal_frame(here, top, rest) : NULL;
}

/* Return from the handler whose frame is at f: as its `ret` would. */
NOPOISON static _Noreturn void leave_handler(char *f, void *rest)
{
	if (__asan_handle_no_return)
		__asan_handle_no_return();
	__asm__ volatile("mov %0, %%rsp\n\tjmp *%1" : : "r"(f + 8), "r"(rest) : "memory");
	__builtin_unreachable();
}

/* Put the jump to stack pointer `to` off if it goes into a coroutine
 * inside a hooked call; returns only when it does not.  errno is the
 * handlers' at the jump, and stays so until the jump is made; where they
 * left it as they found it (the scheduler's, another coroutine's), the
 * coroutine gets its own from before its call, as a handler that ran in
 * that call would have left it. */
NOPOISON static void defer_at(const char *to, struct asy_jump *j)
{
	char here;
	struct asy_coro *c = asy__coro_calling_at(to);
	if (!c)
		return; /* the common jump: within a coroutine's own code */
	void *rest = restorer();
	int now = errno, found = ~now, outer = now; /* not known: unlike errno now */
	char *f = rest ? handler_frame(to, &here, rest, &found, &outer) : NULL;
	/* not from a handler, or within the handler's own frames (below its
	 * signal frame on the same stack): the jump as it is */
	if (!f || (to > &here && to < f) ||
	    asy_sys(SYS_rt_sigprocmask, SIG_BLOCK, 0, &j->mask, 8, 0, 0) < 0)
		return;
	j->err = now;
	j->own = now == found;
	asy__coro_jump_defer(c, j);
	if (asy__in_handler)
		asy__handlers_left(f, &here); /* the handlers inside that frame */
	errno = outer; /* the interrupted code's, as a returning handler leaves it */
	leave_handler(f, rest);
}
NOPOISON static void maybe_defer(void *env, int val)
{
	struct asy_jump j = { .env = env, .val = val };
	defer_at(target_sp(env), &j);
	asy__slot_unwind(target_sp(env)); /* made now: waits it leaves */
}

/* setcontext out of a handler (shim/signal.c): the same, into the
 * context's own stack. */
NOPOISON void asy__context_defer(const void *uc, const char *sp)
{
	struct asy_jump j = { .env = (void *)uc, .ctx = 1 };
	if (sp) {
		defer_at(sp, &j);
		asy__slot_unwind(sp);
	}
}

/* The program's handlers the jump leaves (shim/signal.c). */
NOPOISON static void leave_handlers(void *env)
{
	char here;
	asy__handlers_left(target_sp(env), &here);
}
#else
static void maybe_defer(void *env, int val)
{
	(void)env;
	(void)val;
}

void asy__context_defer(const void *uc, const char *sp)
{
	(void)uc;
	(void)sp;
}

/* Where the jmp_buf is not read, a jump made in a handler leaves them
 * all: the common jump, out of the handler to the program's setjmp. */
static void leave_handlers(void *env)
{
	(void)env;
	asy__handlers_left(NULL, NULL);
}
#endif

NOPOISON static _Noreturn void jump(int which, void *env, int val)
{
	if (asy__sched_running)
		maybe_defer(env, val);
	if (__builtin_expect(asy__in_handler, 0))
		leave_handlers(env);
	if (!real[which])
		resolve();
	real[which](env, val);
	__builtin_unreachable();
}

NOPOISON ASY_EXPORT void longjmp(void *env, int val) { jump(J_LONGJMP, env, val); }
NOPOISON ASY_EXPORT void _longjmp(void *env, int val) { jump(J_UNDER, env, val); }
NOPOISON ASY_EXPORT void siglongjmp(void *env, int val) { jump(J_SIG, env, val); }
NOPOISON ASY_EXPORT void __longjmp_chk(void *env, int val) { jump(J_CHK, env, val); }

/* At a hooked call's end (shim.c): the running coroutine's jump, if a
 * handler left one, with the handler's signal mask (the jmp_buf's own
 * mask, if it saved one, then wins as it does in glibc's jump) and its
 * errno, or errno when the call began where the handlers left errno as
 * they found it (runtime/coro/jump.c). */
NOPOISON void asy__jump_due(void)
{
	struct asy_jump j;
	if (!asy__coro_jump_take(&j))
		return;
	asy_sys(SYS_rt_sigprocmask, SIG_SETMASK, &j.mask, 0, 8, 0, 0);
	if (__asan_handle_no_return)
		__asan_handle_no_return();
	errno = j.err;
	if (j.ctx) { /* its own mask, as glibc's setcontext sets it */
		static int (*set)(const void *);
		if (!set)
			set = (int (*)(const void *))dlsym(RTLD_NEXT, "setcontext");
		set(j.env);
		return; /* refused (its mask): the call ends as cancelled */
	}
	if (!real[J_SIG])
		resolve();
	real[J_SIG](j.env, j.val);
}
