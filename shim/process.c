/* The exec family and _exit, hooked only so that tracing can write out
 * what it holds before the process image is replaced or ends without
 * running atexit handlers (shells end with _exit): the records and the
 * summary of that image.  Nothing else changes: each hook calls the real
 * function with the same arguments.  vfork and clone, hooked so that a
 * child sharing the thread's memory makes its calls as its own (below).
 *
 * glibc's execl* and execvp* reach the kernel through internal entry points
 * that LD_PRELOAD cannot see, so every name a program may call is here.
 * The l-variants gather their arguments as glibc does and call execve /
 * execvpe: the same result as calling the real execl*. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <unistd.h>
#include <sys/mman.h>

#include "engine.h"
#include "trace.h"
#include "sys.h"

extern char **environ;

typedef int exec_fn(const char *, char *const[], char *const[]);

/* Not in a vfork child: it shares the parent's memory, and would write
 * (and empty) the parent's records and summary.  Before _exit the file is
 * ended as at exit (a chrome file's closing bracket). */
static void flush_as(int ending)
{
	if (asy__tracing && (pid_t)asy_sys_getpid() == asy__pid)
		ending ? asy__trace_end() : asy__trace_flush();
}

static void flush(void)
{
	flush_as(0);
}

static exec_fn *real_fn(const char *name)
{
	return (exec_fn *)dlsym(RTLD_NEXT, name);
}

ASY_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	static exec_fn *real;
	if (!real)
		real = real_fn("execve");
	flush();
	return real(path, argv, envp);
}

ASY_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	static exec_fn *real;
	if (!real)
		real = real_fn("execvpe");
	flush();
	return real(file, argv, envp);
}

ASY_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

ASY_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

ASY_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	static int (*real)(int, char *const[], char *const[]);
	if (!real)
		real = (int (*)(int, char *const[], char *const[]))dlsym(RTLD_NEXT, "fexecve");
	flush();
	return real(fd, argv, envp);
}

/* How many arguments follow arg0 up to the terminating NULL; -1 when
 * they reach INT_MAX (glibc's E2BIG). */
static long count_args(va_list ap)
{
	long n = 0;
	while (va_arg(ap, char *))
		if (++n >= INT_MAX)
			return -1;
	return n;
}

/* argv = arg0, the n arguments in *ap, NULL; *ap is left after the NULL. */
static void gather(char **argv, const char *arg0, size_t n, va_list *ap)
{
	argv[0] = (char *)arg0;
	for (size_t i = 1; i <= n + 1; i++)
		argv[i] = va_arg(*ap, char *);
}

#define STACK_ARGS 4096 /* more than these: the array is mapped (a coroutine's
			  * stack is smaller than a thread's) */

enum how { PATH_ENVIRON, SEARCH_ENVIRON, PATH_ENVP };

/* execl, execlp, execle: the argument list as an array, then the v-form. */
static int exec_list(enum how how, const char *file, const char *arg0, va_list *ap)
{
	va_list cnt;
	va_copy(cnt, *ap);
	long n = count_args(cnt);
	va_end(cnt);
	if (n < 0) {
		errno = E2BIG;
		return -1;
	}
	/* as many as glibc takes: the kernel says E2BIG for a list too long */
	size_t len = ((size_t)n + 2) * sizeof(char *);
	char *small[n <= STACK_ARGS ? n + 2 : 1];
	char **argv = small;
	if (n > STACK_ARGS) {
		/* mmap itself, not the engine's region: execl is async-signal-
		 * safe (a handler may call it while its thread holds the
		 * region's lock), and a vfork child's exec never gives back */
		argv = (char **)asy_sys(SYS_mmap, 0, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if ((unsigned long)argv > -4096UL) {
			errno = ENOMEM;
			return -1;
		}
	}
	gather(argv, arg0, (size_t)n, ap);
	char **envp = how == PATH_ENVP ? va_arg(*ap, char **) : environ;
	int r = how == SEARCH_ENVIRON ? execvpe(file, argv, envp) : execve(file, argv, envp);
	if (argv != small) {
		int e = errno;
		asy_sys(SYS_munmap, (long)argv, (long)len, 0, 0, 0, 0);
		errno = e;
	}
	return r;
}

ASY_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	int r = exec_list(PATH_ENVIRON, path, arg, &ap);
	va_end(ap);
	return r;
}

ASY_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	int r = exec_list(SEARCH_ENVIRON, file, arg, &ap);
	va_end(ap);
	return r;
}

ASY_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	int r = exec_list(PATH_ENVP, path, arg, &ap);
	va_end(ap);
	return r;
}

ASY_EXPORT void _exit(int status)
{
	static void (*real)(int);
	if (!real)
		real = (void (*)(int))dlsym(RTLD_NEXT, "_exit");
	flush_as(1);
	if (real)
		real(status);
	for (;;)
		asy_sys(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

ASY_EXPORT void _Exit(int status)
{
	_exit(status);
}

/* ---- vfork and clone: a child that shares the thread's memory ----------
 *
 * A vfork child runs on its parent's stack, with its parent's thread-local
 * state, until it calls exec or _exit, while the parent's thread waits.
 * Inside a coroutine its hooked calls reached the engine: a ring op
 * submitted to the parent's ring and waited on by a scheduler whose
 * thread is stopped (an fsync, a read of an uncached page, a poll with a
 * timeout: the child spun and the parent never came back from vfork).  So
 * the thread is marked before the child exists, and every call of a
 * process other than the engine's own passes to libc (engine.c,
 * asy__in_child): the child's calls are its own, as without the shim.
 *
 * vfork cannot be wrapped by a C function: the child returns through the
 * wrapper's frame and its next calls overwrite it, so the parent, once it
 * runs again, would return through a frame that is gone.  Its hook marks
 * the thread in a call made and returned from before vfork, then jumps to
 * libc's vfork, which returns straight to the program in both.  On other
 * architectures vfork is not hooked. */
__attribute__((visibility("hidden"))) void *asy__vfork_mark(void);

/* The thread's mark for a child about to share its memory; one that
 * outlives its parent's wait (ASY_MM_CLONE) stays. */
static void mark_shared(int mark)
{
	if (asy__shares_mm != ASY_MM_CLONE)
		asy__shares_mm = mark;
}

void *asy__vfork_mark(void)
{
	static void *_Atomic real;
	void *fn = atomic_load_explicit(&real, memory_order_relaxed);
	if (!fn) {
		fn = dlsym(RTLD_NEXT, "vfork");
		if (!fn) /* no libc vfork to jump to: a fork is a correct one */
			fn = dlsym(RTLD_NEXT, "fork");
		atomic_store_explicit(&real, fn, memory_order_relaxed);
	}
	mark_shared(ASY_MM_VFORK);
	return fn;
}

#if defined(__x86_64__)
__asm__(".text\n"
	".globl vfork\n.type vfork, @function\n"
	".globl __vfork\n.type __vfork, @function\n"
	"vfork:\n__vfork:\n"
	"	endbr64\n"
	"	sub $8, %rsp\n" /* the call below on a 16-byte boundary */
	"	call asy__vfork_mark\n"
	"	add $8, %rsp\n"
	"	jmp *%rax\n"
	".size vfork, .-vfork\n.size __vfork, .-__vfork\n");
#elif defined(__aarch64__)
__asm__(".text\n"
	".globl vfork\n.type vfork, %function\n"
	".globl __vfork\n.type __vfork, %function\n"
	".p2align 2\n"
	"vfork:\n__vfork:\n"
	"	hint 34\n" /* bti c */
	"	stp x29, x30, [sp, #-16]!\n"
	"	mov x29, sp\n"
	"	bl asy__vfork_mark\n"
	"	ldp x29, x30, [sp], #16\n"
	"	mov x16, x0\n" /* x16: a branch a BTI landing pad accepts */
	"	br x16\n"
	".size vfork, .-vfork\n.size __vfork, .-__vfork\n");
#endif

/* clone with CLONE_VM and without CLONE_SETTLS: the child runs on a stack
 * of its own but with the thread's thread-local state.  With CLONE_VFORK
 * the parent waits as for vfork, and the mark goes when clone returns;
 * without it the two run side by side, so the mark stays.  The three
 * optional arguments are passed on whatever the caller gave, as glibc's
 * clone loads them by its flags. */
typedef int clone_fn(int (*)(void *), void *, int, void *, ...);

__attribute__((no_sanitize_address)) ASY_EXPORT int clone(int (*fn)(void *), void *stack,
							     int flags, void *arg, ...)
{
	static clone_fn *_Atomic real;
	clone_fn *r = atomic_load_explicit(&real, memory_order_relaxed);
	if (!r) {
		r = (clone_fn *)dlsym(RTLD_NEXT, "clone");
		atomic_store_explicit(&real, r, memory_order_relaxed);
	}
	va_list ap;
	va_start(ap, arg);
	void *ptid = va_arg(ap, void *), *tls = va_arg(ap, void *), *ctid = va_arg(ap, void *);
	va_end(ap);
	int was = asy__shares_mm;
	int shared = (flags & CLONE_VM) && !(flags & (CLONE_THREAD | CLONE_SETTLS));
	if (shared)
		mark_shared(flags & CLONE_VFORK ? ASY_MM_VFORK : ASY_MM_CLONE);
	int pid = r(fn, stack, flags, arg, ptid, tls, ctid);
	if (shared && (flags & CLONE_VFORK))
		mark_shared(was); /* the child is gone: as before */
	return pid;
}
/* glibc exports it as __clone too (libc's header says `leaf` and `nothrow`
 * of clone; the alias is of this definition, which is neither). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
extern __typeof(clone) __clone __attribute__((alias("clone"), visibility("default")));
#pragma GCC diagnostic pop
