/* pool-intr.c — interrupting a worker's waiting call.
 *
 * A worker's waiting call (a FIFO's open, a lock, a copy through a pipe)
 * that a coroutine's deadline or cancel ends is interrupted by
 * ASYNCIFY_SIGNAL (backend-threads.c sends it to the worker's thread).
 *
 * The handler is there only while a cancel needs it: installed by the
 * first cancel of a waiting call (when the program has none of its own
 * there), put back to SIG_DFL when the last such call has returned.  So
 * outside that moment the program sees the disposition it set, and a
 * raise() of the signal does what it would without the shim.  A worker
 * lets the signal in only for a waiting call's length; a cancelled call's
 * worker takes any kick still pending before the handler is removed, so
 * none can reach SIG_DFL later.  The pool's lock serialises all of it. */
#include <signal.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "pool-intr.h"
#include "sys.h"

static void intr_handler(int sig)
{
	(void)sig;
}

static unsigned intr_armed; /* cancelled waiting calls not returned yet (pool lock) */

/* With pool.lock held: make the handler ours for one more cancelled
 * call; 0 when the program handles the signal itself (no interrupt). */
int asy__intr_arm(void)
{
	int sig = asy__cfg.intr_signal;
	struct sigaction cur;
	if (sig <= 0 || asy__sigaction_real(sig, NULL, &cur) < 0)
		return 0;
	if (!intr_armed) {
		if (cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_SIGINFO))
			return 0;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = intr_handler;
		sigemptyset(&sa.sa_mask);
		if (asy__sigaction_real(sig, &sa, NULL) < 0)
			return 0;
	} else if (cur.sa_handler != intr_handler || (cur.sa_flags & SA_SIGINFO)) {
		return 0; /* the program took it meanwhile */
	}
	intr_armed++;
	return sig;
}

/* With pool.lock held, on the worker of a cancelled call that returned. */
void asy__intr_disarm(void)
{
	int sig = asy__cfg.intr_signal;
	sigset_t set;
	struct timespec zero = { 0, 0 };
	sigemptyset(&set);
	sigaddset(&set, sig);
	while (asy_sys(SYS_rt_sigtimedwait, &set, NULL, &zero, 8, 0, 0) == sig)
		; /* a kick that came after the call: taken here */
	if (--intr_armed)
		return;
	struct sigaction cur, dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	if (asy__sigaction_real(sig, NULL, &cur) == 0 && cur.sa_handler == intr_handler &&
	    !(cur.sa_flags & SA_SIGINFO))
		asy__sigaction_real(sig, &dfl, NULL);
}

void asy__intr_mask(int how)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, asy__cfg.intr_signal);
	asy_sys(SYS_rt_sigprocmask, how, &set, NULL, 8, 0, 0);
}
