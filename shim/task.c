/* Calls that give the calling thread a state of its own that no worker
 * and no other thread shares: its filesystem ids (setfsuid, setfsgid —
 * glibc changes them in the calling thread only), its capabilities
 * (capset, prctl's bounding and ambient sets, securebits), its seccomp
 * filter, Landlock domain and no_new_privs bit, a namespace (setns), a personality with
 * STICKY_TIMEOUTS (the kernel's select then leaves the timeout alone,
 * where a coroutine's select writes back the time left), and any
 * credential a raw system call changes (syscall(SYS_setresuid, …)
 * changes one thread, where glibc's setresuid changes all of them).  A worker making such a
 * thread's open or stat would make it with the process's credentials:
 * root's EACCES would become a success.  So each of them marks the
 * thread (asy__own_calls): from then on its calls are its own, whatever
 * the state turns back to, as after an unshare.
 *
 * Nothing else changes: each calls the real function with the same
 * arguments and returns what it returns.  A thread that got such a state
 * from the thread that created it is found when it starts a scheduler
 * (engine.c, task_unshared). */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/fsuid.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include "engine.h"
#include "sys.h"
#include "coro.h"
#include "trace.h"

typedef long syscall_fn(long, ...);
typedef int prctl_fn(int, ...);

static struct {
	syscall_fn *syscall;
	prctl_fn *prctl;
	int (*setfsuid)(uid_t);
	int (*setfsgid)(gid_t);
	int (*capset)(void *, const void *);
	int (*setns)(int, int);
	int (*personality)(unsigned long);
} real;

void asy__task_resolve(void)
{
	real.syscall = (syscall_fn *)dlsym(RTLD_NEXT, "syscall");
	real.prctl = (prctl_fn *)dlsym(RTLD_NEXT, "prctl");
	real.setfsuid = (int (*)(uid_t))dlsym(RTLD_NEXT, "setfsuid");
	real.setfsgid = (int (*)(gid_t))dlsym(RTLD_NEXT, "setfsgid");
	real.capset = (int (*)(void *, const void *))dlsym(RTLD_NEXT, "capset");
	real.setns = (int (*)(int, int))dlsym(RTLD_NEXT, "setns");
	real.personality = (int (*)(unsigned long))dlsym(RTLD_NEXT, "personality");
}

/* Before resolution (another library's constructor): the system call
 * itself, with libc's convention. */
static long raw(long n, long a, long b, long c, long d, long e, long f)
{
	long r = asy_sys(n, a, b, c, d, e, f);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* Calls the kernel refuses to a process of more than one thread (EINVAL;
 * EUSERS for a time namespace): unshare of a user namespace, the thread
 * group, the signal handlers or the memory; setns into a user, mount or
 * time namespace — or into whatever an fd names when nstype leaves its
 * kind unsaid.  The shim's own threads must not be why: the trace's
 * writer is away for the call, the pool's workers are ended before it
 * (threads the kernel keeps for a ring, io-wq's, are not: README, Known
 * blind spots). */
static int alone_call(long n, long a, long b)
{
	if (n == SYS_unshare)
		return (a & (CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)) != 0;
	if (n == SYS_setns)
		return !b || (b & (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWTIME));
	return 0;
}

/* Only for the program's only thread: with another of the program's the
 * kernel refuses the call anyway, or (a setns into a network namespace,
 * nstype 0) allows it, and ending the shim's threads would only cost.
 * Not in a vfork child (the threads are its parent's) nor in a handler
 * or the engine (starting a thread again is not async-signal-safe). */
int asy__alone_begin(long n, long a, long b)
{
	if (!alone_call(n, a, b) || asy__in_child() || asy__in_handler || asy__depth ||
	    asy__program_threads() > 1)
		return 0;
	if (asy_sys_getpid() == asy__pid)
		asy__pool_retire();
	if (asy__tracing)
		asy__trace_writer_leave();
	return 1;
}

void asy__alone_end(int began)
{
	int saved = errno;
	if (began && asy__tracing)
		asy__trace_writer_back();
	errno = saved;
}

/* prctl options that change what the thread's calls may do. */
static int prctl_own(long option, long arg2)
{
	switch (option) {
	case PR_CAPBSET_DROP:
	case PR_SET_SECUREBITS:
	case PR_SET_NO_NEW_PRIVS:
	case PR_SET_SECCOMP:
		return 1;
	case PR_CAP_AMBIENT:
		return arg2 != PR_CAP_AMBIENT_IS_SET;
	default:
		return 0;
	}
}

/* A persona whose timeouts the engine's calls would not treat as the
 * kernel does (0xffffffff only asks). */
static int persona_own(unsigned long persona)
{
	return persona != 0xffffffff && (persona & STICKY_TIMEOUTS);
}

/* System calls that change the calling thread's credentials, filter or
 * namespaces when made raw. */
static int syscall_own(long n, long a1, long a2)
{
	switch (n) {
	case SYS_setuid: case SYS_setgid: case SYS_setreuid: case SYS_setregid:
	case SYS_setresuid: case SYS_setresgid: case SYS_setgroups: case SYS_capset:
	case SYS_setns: case SYS_unshare: case SYS_seccomp:
#ifdef SYS_landlock_restrict_self
	case SYS_landlock_restrict_self:
#endif
		return 1;
	case SYS_setfsuid: case SYS_setfsgid:
		return (int)a1 != -1; /* -1 asks, changes nothing */
	case SYS_prctl:
		return prctl_own(a1, a2);
	case SYS_personality:
		return persona_own((unsigned long)a1);
	default:
		return 0;
	}
}

/* Six arguments are read whatever the caller passed, as glibc's own
 * syscall() loads six registers and a stack slot: AddressSanitizer would
 * call the reads past a shorter caller's arguments an underflow. */
#define ALL_ARGS __attribute__((no_sanitize_address))

ALL_ARGS ASY_EXPORT long syscall(long n, ...)
{
	va_list ap;
	va_start(ap, n);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
	long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	if (__builtin_expect(syscall_own(n, a, b), 0))
		asy__own_calls();
	if ((n == SYS_unshare && (a & CLONE_FILES)) ||
	    (n == SYS_close_range && (c & CLOSE_RANGE_UNSHARE)))
		asy__own_table();
	if (n == SYS_futex && __builtin_expect(asy__sched_running ||
						   atomic_load_explicit(&asy__futex_waiting,
									memory_order_relaxed), 0)) {
		long r = asy__pin_futex(a, b, c, d, e, f); /* a lock's wait (pin.c) */
		if (r != ASY_PASS) {
			if (r < 0)
				errno = (int)-r;
			return r < 0 ? -1 : r;
		}
	}
	int alone = n == SYS_unshare || n == SYS_setns ? asy__alone_begin(n, a, b) : 0;
	long r = real.syscall ? real.syscall(n, a, b, c, d, e, f) : raw(n, a, b, c, d, e, f);
	if (alone)
		asy__alone_end(alone);
	return r;
}

ALL_ARGS ASY_EXPORT int prctl(int option, ...)
{
	va_list ap;
	va_start(ap, option);
	unsigned long b = va_arg(ap, unsigned long), c = va_arg(ap, unsigned long);
	unsigned long d = va_arg(ap, unsigned long), e = va_arg(ap, unsigned long);
	va_end(ap);
	if (prctl_own(option, (long)b))
		asy__own_calls();
	return real.prctl ? real.prctl(option, b, c, d, e)
			  : (int)raw(SYS_prctl, option, (long)b, (long)c, (long)d, (long)e, 0);
}

ASY_EXPORT int setfsuid(uid_t uid)
{
	if (uid != (uid_t)-1)
		asy__own_calls();
	return real.setfsuid ? real.setfsuid(uid) : (int)asy_sys(SYS_setfsuid, uid, 0, 0, 0, 0, 0);
}

ASY_EXPORT int setfsgid(gid_t gid)
{
	if (gid != (gid_t)-1)
		asy__own_calls();
	return real.setfsgid ? real.setfsgid(gid) : (int)asy_sys(SYS_setfsgid, gid, 0, 0, 0, 0, 0);
}

ASY_EXPORT int capset(void *hdr, const void *data)
{
	asy__own_calls();
	return real.capset ? real.capset(hdr, data)
			   : (int)raw(SYS_capset, (long)hdr, (long)data, 0, 0, 0, 0);
}

ASY_EXPORT int setns(int fd, int nstype)
{
	asy__own_calls();
	int alone = asy__alone_begin(SYS_setns, fd, nstype);
	int r = real.setns ? real.setns(fd, nstype) : (int)raw(SYS_setns, fd, nstype, 0, 0, 0, 0);
	asy__alone_end(alone);
	return r;
}

ASY_EXPORT int personality(unsigned long persona)
{
	if (persona_own(persona))
		asy__own_calls();
	return real.personality ? real.personality(persona)
				: (int)raw(SYS_personality, (long)persona, 0, 0, 0, 0, 0);
}
