/* What the scheduler does when nothing can run, until the engine provides
 * its own asy__engine_idle() (a strong definition there overrides this
 * weak one): there is no I/O to reap, so sleep until the next deadline. */
#include <errno.h>
#include <time.h>

#include "engine.h"
#include "sys.h"
#include "coro.h"

__attribute__((weak)) int asy__engine_idle(int64_t deadline)
{
	if (deadline <= 0)
		return 0; /* nothing to wait for, or told not to block */
	/* EINTR is fine: the scheduler looks at its timers again. */
	asy_sys_sleep_until(deadline);
	return 0;
}

__attribute__((weak)) void asy__engine_prepare(void)
{
}

/* Without the engine (spin.c, engine.c), no fork goes unseen: the
 * scheduler's look before each switch finds no page. */
__attribute__((weak)) _Atomic int *asy__fork_page;

__attribute__((weak)) void asy__fork_own(void)
{
}

#if defined(__SANITIZE_THREAD__)
/* Read by asy__mask_all() (spin.h, tsan.h); spin.c has the library's. */
__attribute__((weak)) _Atomic int asy__tsan_point;
#endif
