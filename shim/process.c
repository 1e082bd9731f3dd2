/* The exec family and _exit, hooked only so that tracing can write out
 * what it holds before the process image is replaced or ends without
 * running atexit handlers (shells end with _exit): the records and the
 * summary of that image.  Nothing else changes: each hook calls the real
 * function with the same arguments.
 *
 * glibc's execl* and execvp* reach the kernel through internal entry points
 * that LD_PRELOAD cannot see, so every name a program may call is here.
 * The l-variants gather their arguments as glibc does and call execve /
 * execvpe: the same result as calling the real execl*. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <unistd.h>

#include "engine.h"
#include "trace.h"
#include "sys.h"

extern char **environ;

typedef int exec_fn(const char *, char *const[], char *const[]);

/* Not in a vfork child: it shares the parent's memory, and would write
 * (and empty) the parent's records and summary. */
static void flush(void)
{
	if (asy__tracing && (pid_t)asy_sys_getpid() == asy__pid)
		asy__trace_flush();
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

/* How many arguments follow arg0 up to the terminating NULL. */
static size_t count_args(va_list ap)
{
	size_t n = 0;
	while (va_arg(ap, char *))
		n++;
	return n;
}

/* argv = arg0, the n arguments in *ap, NULL; *ap is left after the NULL. */
static void gather(char **argv, const char *arg0, size_t n, va_list *ap)
{
	argv[0] = (char *)arg0;
	for (size_t i = 1; i <= n + 1; i++)
		argv[i] = va_arg(*ap, char *);
}

#define MAX_ARGS 65536 /* a bound for the stack array; E2BIG beyond */

enum how { PATH_ENVIRON, SEARCH_ENVIRON, PATH_ENVP };

/* execl, execlp, execle: the argument list as an array, then the v-form. */
static int exec_list(enum how how, const char *file, const char *arg0, va_list *ap)
{
	va_list cnt;
	va_copy(cnt, *ap);
	size_t n = count_args(cnt);
	va_end(cnt);
	if (n > MAX_ARGS) {
		errno = E2BIG;
		return -1;
	}
	char *argv[n + 2];
	gather(argv, arg0, n, ap);
	char **envp = how == PATH_ENVP ? va_arg(*ap, char **) : environ;
	return how == SEARCH_ENVIRON ? execvpe(file, argv, envp) : execve(file, argv, envp);
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
	flush();
	if (real)
		real(status);
	for (;;)
		asy_sys(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

ASY_EXPORT void _Exit(int status)
{
	_exit(status);
}
