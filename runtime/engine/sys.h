/* Raw system calls for the engine: they return >= 0 or -errno and never
 * touch errno (liburing's __sys_* helpers do the same).  The engine uses
 * them where calling libc would re-enter our own hooks, and before the real
 * symbols are resolved. */
#ifndef ASY_SYS_H
#define ASY_SYS_H

#include <stddef.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
static inline long asy_sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static inline long asy_sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
#else
#error "asyncify: raw system calls are written for x86-64 and aarch64 only"

#endif

#define asy_sys(n, a, b, c, d, e, f) \
	asy_sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static inline long asy_sys_read(int fd, void *buf, size_t n)
{
	return asy_sys(SYS_read, fd, buf, n, 0, 0, 0);
}
static inline long asy_sys_write(int fd, const void *buf, size_t n)
{
	return asy_sys(SYS_write, fd, buf, n, 0, 0, 0);
}
static inline long asy_sys_close(int fd)
{
	return asy_sys(SYS_close, fd, 0, 0, 0, 0, 0);
}
static inline long asy_sys_fcntl(int fd, int cmd, long arg)
{
	return asy_sys(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
}
static inline long asy_sys_gettid(void)
{
	return asy_sys(SYS_gettid, 0, 0, 0, 0, 0, 0);
}
static inline long asy_sys_getpid(void)
{
	return asy_sys(SYS_getpid, 0, 0, 0, 0, 0, 0);
}
/* preadv2/pwritev2 take the offset split in two longs (low, high). */
static inline long asy_sys_preadv2(int fd, const void *iov, int cnt, long off, int flags)
{
	return asy_sys(SYS_preadv2, fd, iov, cnt, off, 0, flags);
}
static inline long asy_sys_pwritev2(int fd, const void *iov, int cnt, long off, int flags)
{
	return asy_sys(SYS_pwritev2, fd, iov, cnt, off, 0, flags);
}
/* poll() with a timeout in ms (-1 forever), made with ppoll: aarch64 has
 * no poll system call. */
static inline long asy_sys_poll(void *fds, unsigned long n, int ms)
{
	struct { long s, ns; } ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	return asy_sys(SYS_ppoll, fds, n, ms < 0 ? NULL : &ts, NULL, 8, 0);
}
/* Sleep without the hooks (the library's own waits must never become a
 * coroutine's sleep): until an absolute CLOCK_MONOTONIC time, or for ns. */
static inline long asy_sys_sleep_until(long long mono_ns)
{
	struct { long s, ns; } ts = { (long)(mono_ns / 1000000000), (long)(mono_ns % 1000000000) };
	return asy_sys(SYS_clock_nanosleep, 1 /* CLOCK_MONOTONIC */, 1 /* TIMER_ABSTIME */, &ts,
		       NULL, 0, 0);
}
static inline long asy_sys_nanosleep(long long ns)
{
	struct { long s, ns; } ts = { (long)(ns / 1000000000), (long)(ns % 1000000000) };
	return asy_sys(SYS_nanosleep, &ts, NULL, 0, 0, 0, 0);
}
/* A stand-in for hooks.def rows whose call has no system call of its own
 * (it is only used before the real symbols are resolved). */
#define ASY_NOSYS (-1L)
#ifdef SYS_poll
#define ASY_SYS_POLL SYS_poll
#else
#define ASY_SYS_POLL ASY_NOSYS
#endif
#ifdef SYS_dup2
#define ASY_SYS_DUP2 SYS_dup2
#else
#define ASY_SYS_DUP2 SYS_dup3
#endif

#endif
