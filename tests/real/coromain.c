/* coromain.so — preloaded *after* libasyncify.so: runs the program's
 * main() inside a coroutine (8 MiB stack) beside a ticker coroutine that
 * sleeps 1 ms at a time, so that every blocking call of an unmodified
 * program goes through the engine and yields to the ticker.  Used by
 * check-real's coromain case, and to run other projects' test suites
 * with their main() in a coroutine:
 *
 *   LD_PRELOAD="lib/libasyncify.so tests/bin/real/coromain.so" \
 *       ASYNCIFY_BACKEND=uring ./test-program
 *
 * CORO_NOTICK=1 leaves the ticker out (then a lone coroutine's waits are
 * the thread's own).  Without the library preloaded (asy_go_stack not
 * found) main() runs as it would, silently. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

typedef int main_fn(int, char **, char **);

static main_fn *real_main;
static int g_argc, g_rc;
static char **g_argv, **g_envp;
static volatile int done;
static int64_t (*now_fn)(void);
static int (*sleep_fn)(int64_t);

static pid_t main_pid;

static void body(void *arg)
{
	(void)arg;
	g_rc = real_main(g_argc, g_argv, g_envp);
	/* In a child forked from main()'s coroutine, that coroutine's return
	 * ends the child with status 0 (the library's rule: the last thread
	 * returned); main()'s return value is the child's status, as when
	 * main() returns without the shim. */
	if (getpid() != main_pid)
		exit(g_rc);
	done = 1;
}

static void tick(void *arg)
{
	(void)arg;
	while (!done)
		sleep_fn(now_fn() + 1000000);
}

static int wrap(int argc, char **argv, char **envp)
{
	int (*go_stack)(void (*)(void *), void *, size_t) =
		(int (*)(void (*)(void *), void *, size_t))dlsym(RTLD_DEFAULT, "asy_go_stack");
	int (*go)(void (*)(void *), void *) = (int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	int (*run)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	now_fn = (int64_t(*)(void))dlsym(RTLD_DEFAULT, "asy_now");
	sleep_fn = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_sleep");
	if (!go_stack || !go || !run || !now_fn || !sleep_fn)
		return real_main(argc, argv, envp);
	main_pid = getpid();
	g_argc = argc;
	g_argv = argv;
	g_envp = envp;
	if (go_stack(body, NULL, 8 << 20) < 0)
		return real_main(argc, argv, envp);
	if (!getenv("CORO_NOTICK"))
		go(tick, NULL);
	run();
	return g_rc;
}

typedef int start_fn(main_fn *, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

int __libc_start_main(main_fn *m, int argc, char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end)
{
	start_fn *real = (start_fn *)dlsym(RTLD_NEXT, "__libc_start_main");
	real_main = m;
	return real(wrap, argc, argv, init, fini, rtld_fini, stack_end);
}
