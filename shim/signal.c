/* sigaction and the signal family: in a process that runs coroutines, a
 * handler the program installs runs through a trampoline that marks the
 * thread as inside a handler (asy__in_handler), so every hooked call the
 * handler makes is the program's own call, made by libc in the thread
 * (engine.c, asy__io).
 *
 * Why: a handler that interrupts a coroutine runs on that coroutine's
 * stack, in the middle of whatever it was doing — possibly holding
 * malloc's arena lock.  Were the handler's read or write that coroutine's
 * call, it could wait or take its fair share and let a sibling run, and
 * the sibling's malloc would wait for ever for the lock the interrupted
 * code holds (libuv's SIGCHLD handler writes a pipe).  Without the shim
 * the handler's call blocks the thread; with it, now, too.
 *
 * Until the process's first scheduler starts nothing is wrapped: the
 * kernel holds the program's handlers themselves (a program that never
 * runs coroutines meets no trampoline: not in a backtrace, not on its
 * alternate signal stack).  Then every handler the kernel holds is
 * wrapped, and every one installed later.
 *
 * What the program sees stays its own: the kernel holds the trampoline
 * with the program's flags and mask, this file holds the program's
 * handler, and every answer that names the old handler names the
 * program's.  Whatever the kernel holds that is not the trampoline — a
 * default, SIG_IGN, a handler set by a raw system call, the default a
 * SA_RESETHAND delivery left — is answered as the kernel holds it.
 * signal, bsd_signal, ssignal, sysv_signal and sigset are made here with
 * the flags and mask glibc gives them, through the one sigaction path
 * (siginterrupt is watched for signal's SA_RESTART), so that a
 * sanitizer's or any other interposer's sigaction sees them as it sees
 * the program's. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "engine.h"
#include "coro.h"
#include "spin.h"
#include "sys.h"

#define NSIGS 65 /* 1..64 */
#define LEVELS 16 /* nested handlers whose frames are recorded */
#define NO_ERRNO 4095 /* errno in a handler standing in no one call (run) */

typedef void (*handler_fn)(int, siginfo_t *, void *);
typedef void (*simple_fn)(int);

/* The program's handler for each signal whose kernel disposition is a
 * trampoline: [1] for one installed with SA_SIGINFO, [0] without.  The
 * kernel fills the siginfo by the flags of the disposition it delivers,
 * so each trampoline calls the handler installed with the same flag. */
static _Atomic(handler_fn) program[2][NSIGS];
/* Set once a scheduler ran in the process: handlers are wrapped. */
static _Atomic int wrapping;
/* The signals siginterrupt(sig, 1) made interrupting: signal() gives
 * them no SA_RESTART, as glibc's does. */
static _Atomic uint64_t interrupting;
/* Taken for each change (a handler may make one too); `holding` lets an
 * interposer's sigaction, called inside a change, come back in. */
static asy_spin changing = ASY_SPIN_INIT;
static ASY_TLS int holding;
static ASY_TLS uint64_t fork_was;

/* Where each running handler's trampoline frame is, innermost last: a
 * jump out of a handler (shim/jump.c) leaves the levels it jumps past.
 * And the kernel's signal frame each was called from, which a jump put
 * off returns through (x86-64: the ucontext the kernel passes, less the
 * handler's return address in front of it).  And errno as each found it:
 * a jump that leaves it so gives its coroutine the errno of its own; and
 * as the code it interrupted had it, which a jump put off gets back. */
static ASY_TLS const char *frames[LEVELS];
static ASY_TLS const char *sigframes[LEVELS];
static ASY_TLS int errs[LEVELS];
static ASY_TLS int outers[LEVELS]; /* ... and errno of the code each interrupted */

static struct {
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	int (*siginterrupt)(int, int);
	simple_fn (*sigset)(int, simple_fn);
} real;

static void resolve(void)
{
	real.sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
	real.siginterrupt = (int (*)(int, int))dlsym(RTLD_NEXT, "siginterrupt");
	real.sigset = (simple_fn(*)(int, simple_fn))dlsym(RTLD_NEXT, "sigset");
}

static void lock(uint64_t *was);
static void unlock(const uint64_t *was);

/* A fork while another thread changes a disposition: the child gets the
 * lock free and the record whole. */
static void fork_prepare(void)
{
	lock(&fork_was);
}

static void fork_after(void)
{
	unlock(&fork_was);
}

__attribute__((constructor)) static void start(void)
{
	resolve();
	pthread_atfork(fork_prepare, fork_after, fork_after);
}

/* A handler left by unwinding (a C++ exception thrown from a SIGSEGV
 * handler under -fnon-call-exceptions): this file is built with
 * -fexceptions, so the level is dropped on the way out. */
static void left(int *level)
{
	asy__in_handler = *level;
}

static inline __attribute__((always_inline)) void run(int info, int sig, siginfo_t *si, void *uc)
{
	handler_fn h = atomic_load_explicit(&program[info][sig], memory_order_acquire);
	if (sig == SIGCHLD && !asy__in_handler)
		asy__children_settle(); /* a coroutine's wait takes its child first */
	int level __attribute__((cleanup(left))) = asy__in_handler++;
	/* in a coroutine's call: the call's errno (coro/jump.c); in one of
	 * several, none: NO_ERRNO, which no call sets, so that a jump into
	 * one of them tells an errno the handler set from one it left */
	int several = 0;
	struct asy_coro *in = level ? NULL : asy__coro_handler_for(&several);
	int thread_errno = errno;
	if (in)
		errno = asy__coro_handler_errno(in);
	else if (several)
		errno = NO_ERRNO;
	if (level < LEVELS) { /* the level's place: between the handler and its signal frame */
		frames[level] = (const char *)__builtin_frame_address(0);
		sigframes[level] = uc ? (const char *)uc - sizeof(void *) : NULL;
		errs[level] = errno;
		outers[level] = thread_errno;
	}
	unsigned gen = atomic_load_explicit(&asy__fork_gen, memory_order_relaxed);
	if ((uintptr_t)h > (uintptr_t)SIG_HOLD) { /* none: a raw install of a trampoline */
		asy__coro_handler_ran(); /* calls that moved part end (coro/jump.c) */
		asy__wake_handler();     /* a sleep about to start does not (wait.c) */
		/* Taken in the engine's masked sleep: the context shows the
		 * mask the sleep gives back, not the all-blocked one, and a
		 * change made there is given back (a nested handler's
		 * context is its own: the sleep's is taken meanwhile). */
		uint64_t *back = asy__sleep_old_take();
		sigset_t *um = uc ? &((ucontext_t *)uc)->uc_sigmask : NULL;
		if (back && um)
			memcpy(um, back, sizeof *back);
		h(sig, si, uc);
		if (back && um)
			memcpy(back, um, sizeof *back);
		asy__sleep_old_put(back);
	}
	if (asy__fork_unseen() || atomic_load_explicit(&asy__fork_gen, memory_order_relaxed) != gen)
		asy__fork_in_handler(); /* the handler forked: this is the child */
	if (in)
		asy__coro_handler_left(in, errno);
	if (in || several)
		errno = thread_errno;
}

static void tramp_plain(int sig, siginfo_t *si, void *uc)
{
	run(0, sig, si, uc);
}

static void tramp_info(int sig, siginfo_t *si, void *uc)
{
	run(1, sig, si, uc);
}

static int is_tramp(uintptr_t h)
{
	return h == (uintptr_t)tramp_plain || h == (uintptr_t)tramp_info;
}

/* The level a jump to `to`, made at `here`, leaves the thread at: each
 * handler whose frames do not hold `to` is left. */
static int level_after(const char *to, const char *here)
{
	int level = asy__in_handler;
	while (level > 0) {
		const char *f = level - 1 < LEVELS ? frames[level - 1] : NULL;
		if (to && f && to > here && to < f)
			break; /* a jump within this handler's own frames */
		level--;
	}
	return level;
}

/* A jump (shim/jump.c) to the stack address `to`, made at `here`: each
 * handler whose frames do not hold `to` is left.  Where the target is
 * not known (to == NULL), every handler is. */
void asy__handlers_left(const char *to, const char *here)
{
	int level = level_after(to, here);
	/* out of the scheduler's wait, not into a call: errno as the handler
	 * left it, or as the interrupted code had it */
	if (level < asy__in_handler && level < LEVELS && errs[level] == NO_ERRNO &&
	    errno == NO_ERRNO)
		errno = outers[level];
	asy__in_handler = level;
}

const char *asy__handler_sigframe(const char *to, const char *here, int *err, int *outer)
{
#if defined(__x86_64__)
	int level = level_after(to, here);
	if (level >= asy__in_handler || level >= LEVELS)
		return NULL;
	*err = errs[level];
	*outer = outers[level];
	return sigframes[level];
#else
	(void)to;
	(void)here;
	(void)err;
	(void)outer;
	return NULL;
#endif
}

/* A handler of the program's (not SIG_DFL, SIG_IGN, SIG_HOLD or an
 * error) for a signal that has one. */
static int ours(int sig, uintptr_t h)
{
	return sig > 0 && sig < NSIGS && h > (uintptr_t)SIG_HOLD && h != (uintptr_t)SIG_ERR &&
	       !is_tramp(h);
}

/* One change at a time, with every signal blocked. */
static void lock(uint64_t *was)
{
	asy__mask_all(was);
	if (holding++)
		return;
	asy__spin_take(&changing);
}

static void unlock(const uint64_t *was)
{
	if (!--holding)
		asy__spin_give(&changing);
	asy__unmask(was);
}

/* The program's struct copied byte by byte, unchecked by the sanitizers:
 * a bad pointer faults here as in glibc's own copy. */
__attribute__((no_sanitize("address", "undefined"))) static void copy(void *to, const void *from, size_t n)
{
	volatile unsigned char *d = to;
	const volatile unsigned char *p = from;
	while (n--)
		*d++ = *p++;
}

/* The one path of every change: sigaction's.  The program's structs are
 * read before the lock and written after it, with its signals as they
 * were: a bad pointer faults as it does in glibc's, where the program's
 * SIGSEGV handler can see it. */
static int change(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!real.sigaction)
		resolve();
	struct sigaction in, out;
	if (act) /* a copy, as glibc's: any pointer the kernel would take */
		copy(&in, act, sizeof in);
	uintptr_t h = act ? (uintptr_t)in.sa_handler : 0;
	int info = act && (in.sa_flags & SA_SIGINFO);
	uint64_t was;
	int e = errno;
	lock(&was);
	/* a vfork child (or a clone sharing memory) shares this file's
	 * record with its parent, not its dispositions: its own are set as
	 * they are */
	int wrap = act && ours(sig, h) && atomic_load(&wrapping) && !asy__in_child();
	int valid = sig > 0 && sig < NSIGS;
	handler_fn prev[2] = { valid ? atomic_load(&program[0][sig]) : NULL,
			       valid ? atomic_load(&program[1][sig]) : NULL };
	if (wrap) {
		atomic_store_explicit(&program[info][sig], (handler_fn)h, memory_order_release);
		in.sa_sigaction = info ? tramp_info : tramp_plain;
	}
	int r = real.sigaction(sig, act ? &in : NULL, old ? &out : NULL);
	if (r < 0) {
		e = errno;
		if (wrap)
			atomic_store_explicit(&program[info][sig], prev[info], memory_order_release);
	} else if (old && is_tramp((uintptr_t)out.sa_handler)) {
		out.sa_sigaction = prev[out.sa_sigaction == tramp_info];
	}
	unlock(&was);
	if (r == 0 && old)
		copy(old, &out, sizeof out);
	errno = e;
	return r;
}

/* The kernel's struct, for the wrapping below: a handler installed by a
 * raw system call keeps its own restorer, flags and mask. */
struct ksigaction {
	uintptr_t handler;
	unsigned long flags;
	uintptr_t restorer;
	uint64_t mask;
};

/* When the process's first scheduler starts (engine.c): every handler the
 * kernel holds is wrapped, each as it is (glibc's own, for its thread
 * cancellation and set*id broadcasts, aside). */
void asy__handlers_wrap(void)
{
	if (atomic_load_explicit(&wrapping, memory_order_acquire))
		return;
	uint64_t was;
	lock(&was);
	if (!atomic_load(&wrapping)) {
		for (int sig = 1; sig < NSIGS; sig++) {
			struct ksigaction k;
			if (sig == 32 || sig == 33 ||
			    asy_sys(SYS_rt_sigaction, sig, 0, &k, 8, 0, 0) < 0 || !ours(sig, k.handler))
				continue;
			int info = !!(k.flags & SA_SIGINFO);
			atomic_store(&program[info][sig], (handler_fn)k.handler);
			k.handler = (uintptr_t)(info ? tramp_info : tramp_plain);
			asy_sys(SYS_rt_sigaction, sig, &k, 0, 8, 0, 0);
		}
		atomic_store(&wrapping, 1);
	}
	unlock(&was);
}

int asy__handlers_wrapped(void)
{
	return atomic_load_explicit(&wrapping, memory_order_acquire);
}

ASY_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return change(sig, act, old);
}
extern __typeof(sigaction) __sigaction __attribute__((alias("sigaction"), copy(sigaction), visibility("default")));

/* signal and sysv_signal as glibc makes them: EINVAL for SIG_ERR or a
 * signal out of range; BSD's with the signal itself masked and
 * SA_RESTART unless siginterrupt said otherwise; System V's reset and
 * not masked. */
static simple_fn simple(int sig, simple_fn fn, int sysv)
{
	if (fn == SIG_ERR || sig < 1 || sig >= NSIGS) {
		errno = EINVAL;
		return SIG_ERR;
	}
	struct sigaction act = { .sa_handler = fn }, old;
	sigemptyset(&act.sa_mask);
	if (sysv) {
		act.sa_flags = SA_RESETHAND | SA_NODEFER | SA_INTERRUPT;
	} else {
		sigaddset(&act.sa_mask, sig);
		if (!(atomic_load(&interrupting) & (1ULL << (sig - 1))))
			act.sa_flags = SA_RESTART;
	}
	if (change(sig, &act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

ASY_EXPORT simple_fn signal(int sig, simple_fn fn)
{
	return simple(sig, fn, 0);
}
extern __typeof(signal) bsd_signal __attribute__((alias("signal"), copy(signal), visibility("default")));
extern __typeof(signal) ssignal __attribute__((alias("signal"), copy(signal), visibility("default")));

ASY_EXPORT simple_fn sysv_signal(int sig, simple_fn fn)
{
	return simple(sig, fn, 1);
}
extern __typeof(sysv_signal) __sysv_signal __attribute__((alias("sysv_signal"), copy(sysv_signal), visibility("default")));

ASY_EXPORT int siginterrupt(int sig, int flag)
{
	if (!real.siginterrupt)
		resolve();
	int r = real.siginterrupt(sig, flag);
	if (r == 0 && sig > 0 && sig < NSIGS) {
		if (flag)
			atomic_fetch_or(&interrupting, 1ULL << (sig - 1));
		else
			atomic_fetch_and(&interrupting, ~(1ULL << (sig - 1)));
	}
	return r;
}

/* sigset changes the signal mask too: its SIG_HOLD is glibc's own (the
 * answer made the program's); a handler is set as glibc sets it — no
 * flags, an empty mask, then the signal unblocked; SIG_HOLD if it was
 * blocked. */
ASY_EXPORT simple_fn sigset(int sig, simple_fn fn)
{
	if (!real.sigset)
		resolve();
	if (fn == SIG_HOLD) {
		simple_fn r = real.sigset(sig, fn);
		if (is_tramp((uintptr_t)r)) /* glibc's sigset names no SA_SIGINFO handler */
			r = (simple_fn)(void *)atomic_load(&program[r == (simple_fn)(void *)tramp_info][sig]);
		return r;
	}
	struct sigaction act = { .sa_handler = fn }, old;
	sigset_t one, was;
	sigemptyset(&act.sa_mask);
	sigemptyset(&one);
	if (sigaddset(&one, sig) < 0 || change(sig, &act, &old) < 0 ||
	    sigprocmask(SIG_UNBLOCK, &one, &was) < 0)
		return SIG_ERR;
	return sigismember(&was, sig) ? SIG_HOLD : old.sa_handler;
}

/* The engine's own disposition (pool-intr.c), set as it is. */
int asy__sigaction_real(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!real.sigaction)
		resolve();
	return real.sigaction(sig, act, old);
}

/* setcontext and swapcontext out of a handler (a green-thread library's
 * preemption) leave the handlers whose frames the new context is not
 * in, as a jump does.  A handler's setcontext into a coroutine inside a
 * hooked call is put off as its longjmp is (shim/jump.c): made on the
 * coroutine's own stack once its call is back in the hook.  A
 * swapcontext cannot be: the context it saves is the handler's (README,
 * Known blind spots). */
static const char *context_sp(const ucontext_t *uc)
{
#if defined(__x86_64__)
	return (const char *)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	return (const char *)uc->uc_mcontext.sp;
#else
	(void)uc;
	return NULL;
#endif
}

ASY_EXPORT int setcontext(const ucontext_t *uc)
{
	static int (*real_set)(const ucontext_t *);
	if (!real_set)
		real_set = (int (*)(const ucontext_t *))dlsym(RTLD_NEXT, "setcontext");
	char here;
	if (asy__sched_running && uc)
		asy__context_defer(uc, context_sp(uc));
	if (asy__in_handler && uc)
		asy__handlers_left(context_sp(uc), &here);
	return real_set(uc);
}

ASY_EXPORT int swapcontext(ucontext_t *from, const ucontext_t *to)
{
	static int (*real_swap)(ucontext_t *, const ucontext_t *);
	if (!real_swap)
		real_swap = (int (*)(ucontext_t *, const ucontext_t *))dlsym(RTLD_NEXT, "swapcontext");
	char here;
	int level = asy__in_handler;
	if (level && to)
		asy__handlers_left(context_sp(to), &here);
	int r = real_swap(from, to);
	asy__in_handler = level; /* back in this context: its handlers again */
	return r;
}
