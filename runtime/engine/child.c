/* child.c — a coroutine's wait for a child (wait, waitpid, wait3, wait4,
 * waitid: the CHILD row of fs.c).
 *
 * With WNOHANG, or __WNOTHREAD (only the calling thread's children), the
 * call is the program's own.  Else the WNOHANG form in the calling thread
 * (a child's change already there, or an error, is the answer), and while
 * there is none a worker watches for one with WNOWAIT and takes it at
 * once, into the call's own pointers, as the kernel's wait takes it
 * before any handler of its SIGCHLD runs — so a daemon's SIGCHLD handler
 * reaping with WNOHANG finds nothing, and the program's wait has its
 * child.  Two exceptions keep the kernel's order where a handler runs:
 *
 *  - a handler already running in the calling thread when the change
 *    comes may be waiting for that very child (make's SIGINT handler
 *    reaps its children itself): the worker leaves it to the handler,
 *    and the calling thread's wait goes on as the kernel's restarted one
 *    would, or ends with ECHILD;
 *  - a SIGCHLD handler about to run in the calling thread first lets
 *    the thread's watches take their change (asy__children_settle, from
 *    shim/signal.c's trampoline), as the kernel's wait returns before
 *    the handler runs. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/wait.h>

#include "engine.h"
#include "sys.h"

/* A wait for a child that can wait at all, by its options. */
int asy__child_waits(const struct asy_io *io)
{
	long o = io->call == ASY_CALL_wait ? 0 : io->call == ASY_CALL_wait3 ? io->a[1] :
		 io->call == ASY_CALL_waitid ? io->a[3] : io->a[2]; /* waitpid, wait4 */
	return !(o & (WNOHANG | __WNOTHREAD));
}

/* waitid's WNOHANG form.  The kernel writes the siginfo also when no
 * child has changed, and the program's, if bad, would answer EFAULT before
 * any wait: so a look into one of the engine's that leaves the child
 * (WNOWAIT) comes first, and only a change found is taken into the
 * program's (EFAULT then, the child reaped, as the kernel's wait ends). */
static long waitid_now(const long *a, long type, long id)
{
	siginfo_t info;
	info.si_pid = 0;
	long r = asy_sys(SYS_waitid, type, id, (long)&info, a[3] | WNOHANG | WNOWAIT, 0, 0);
	if (r < 0 || !info.si_pid)
		return r < 0 ? r : 0;
	r = asy_sys(SYS_waitid, type, id, a[2], a[3] | WNOHANG, 0, 0);
	return r < 0 ? r : ((siginfo_t *)a[2])->si_pid ? 1 : 0;
}

/* The WNOHANG form in the calling thread, as the raw system call glibc's
 * functions make: a pid or -errno is the answer, 0 means no child has
 * changed yet (the call must wait).  waitid says that by a zero si_pid,
 * which needs its siginfo: without one it waits at once. */
static long child_try(const struct asy_io *io)
{
	const long *a = io->a;
	switch (io->call) {
	case ASY_CALL_waitid:
		return a[2] ? waitid_now(a, a[0], a[1]) : 0;
	case ASY_CALL_wait:
		return asy_sys(SYS_wait4, -1, a[0], WNOHANG, 0, 0, 0);
	case ASY_CALL_wait3:
		return asy_sys(SYS_wait4, -1, a[0], a[1] | WNOHANG, a[2], 0, 0);
	default: /* waitpid, wait4 */
		return asy_sys(SYS_wait4, a[0], a[1], a[2] | WNOHANG,
			       io->call == ASY_CALL_wait4 ? a[3] : 0, 0, 0);
	}
}

/* The change the watch saw, taken from child `pid` alone, into the
 * call's own pointers: as child_try. */
static long child_take(const struct asy_io *io, long pid)
{
	const long *a = io->a;
	long r;
	switch (io->call) {
	case ASY_CALL_waitid: /* without a siginfo: the change is there, so no wait */
		if (a[2])
			return waitid_now(a, P_PID, pid);
		r = asy_sys(SYS_waitid, P_PID, pid, 0, a[3], 0, 0);
		return r < 0 ? r : 1;
	case ASY_CALL_wait:
		return asy_sys(SYS_wait4, pid, a[0], WNOHANG, 0, 0, 0);
	case ASY_CALL_wait3:
		return asy_sys(SYS_wait4, pid, a[0], a[1] | WNOHANG, a[2], 0, 0);
	default: /* waitpid, wait4 */
		return asy_sys(SYS_wait4, pid, a[1], a[2] | WNOHANG, io->call == ASY_CALL_wait4 ? a[3] : 0, 0, 0);
	}
}

struct watch {
	const struct asy_io *io;
	const int *in_handler; /* the calling thread's asy__in_handler */
	long taken;            /* what child_take answered, or 0 */
	int done;              /* the worker is past its watch */
	long type, id, opt;    /* what it watches */
};

/* The watches this thread's coroutines have out, for a SIGCHLD handler
 * to let them take their change first (asy__children_settle). */
#define WATCHES 8
static ASY_TLS struct watch *watching[WATCHES];

/* On the worker: the watch, waitid(..., WNOWAIT) of the same children and
 * changes as the call's (WUNTRACED is WSTOPPED; wait4's pid as waitid's
 * id type: 0 is the caller's group).  A change seen is taken at once, as
 * the kernel's wait takes it before any handler for its SIGCHLD runs (a
 * daemon's handler reaping with WNOHANG finds nothing) — unless a handler
 * already runs in the calling thread, which may be waiting for that very
 * child: the calling thread takes it after (make's SIGINT handler). */
static long child_watch(long type, long id, long info, long opt, long wp, long u5)
{
	(void)u5;
	long r = asy_sys(SYS_waitid, type, id, info, opt, 0, 0);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	struct watch *w = (struct watch *)wp;
	long pid = ((siginfo_t *)info)->si_pid;
	if (pid && !__atomic_load_n(w->in_handler, __ATOMIC_ACQUIRE))
		__atomic_store_n(&w->taken, child_take(w->io, pid), __ATOMIC_RELEASE);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* In the trampoline of a SIGCHLD handler (shim/signal.c), before the
 * handler runs, in a thread in no handler: each watch of this thread that
 * has a change to take is given up to 5 ms to take it, as the kernel's
 * wait takes it before the handler runs.  Async-signal-safe: raw calls. */
void asy__children_settle(void)
{
	for (int i = 0; i < WATCHES; i++) {
		struct watch *w = watching[i];
		for (int n = 0; w && n < 100; n++) {
			siginfo_t si;
			si.si_pid = 0;
			if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE) ||
			    asy_sys(SYS_waitid, w->type, w->id, &si, w->opt | WNOHANG, 0, 0) < 0 || !si.si_pid)
				break; /* taken, given up, or nothing there for it */
			struct timespec ts = { 0, 50000 };
			asy_sys(SYS_nanosleep, &ts, 0, 0, 0, 0, 0);
		}
	}
}

static void watch_args(const struct asy_io *io, long *w, siginfo_t *info, struct watch *wp)
{
	const long *a = io->a;
	long pid = io->call == ASY_CALL_waitpid || io->call == ASY_CALL_wait4 ? a[0] : -1;
	long opt = io->call == ASY_CALL_waitid ? a[3] :
		   io->call == ASY_CALL_wait ? WEXITED :
		   (io->call == ASY_CALL_wait3 ? a[1] : a[2]) | WEXITED;
	if (io->call == ASY_CALL_waitid)
		w[0] = a[0], w[1] = a[1];
	else if (pid > 0)
		w[0] = P_PID, w[1] = pid;
	else if (pid == -1)
		w[0] = P_ALL, w[1] = 0;
	else
		w[0] = P_PGID, w[1] = pid == 0 ? 0 : -pid;
	info->si_pid = 0;
	w[2] = (long)info;
	w[3] = (opt & ~WNOHANG) | WNOWAIT;
	w[4] = (long)wp;
	w[5] = 0;
	wp->type = w[0], wp->id = w[1], wp->opt = w[3];
}

/* A coroutine's wait for a child (CHILD above).  Should the watch keep
 * seeing a change neither it nor the WNOHANG form takes, the call itself
 * goes to the worker, as it once did. */
long asy__child_wait(struct asy_io *io)
{
	for (int rounds = 0;; rounds++) {
		long r = child_try(io);
		if (r != 0)
			return asy__inline(io, io->call == ASY_CALL_waitid && r > 0 ? 0 : r);
		if (rounds == 100)
			return asy__fs_offload(io, io->a, 1);
		long w[6];
		siginfo_t info;
		struct watch wp = { .io = io, .in_handler = &asy__in_handler };
		watch_args(io, w, &info, &wp);
		struct asy_io watch = { .op = ASY_OP_NONE, .call = io->call, .fd = -1,
					.rwflags = (int)sizeof(int), .arg = (void *)child_watch };
		int slot = 0;
		while (slot < WATCHES && watching[slot])
			slot++;
		if (slot < WATCHES)
			watching[slot] = &wp; /* one store: a handler sees it whole */
		atomic_signal_fence(memory_order_seq_cst);
		r = asy__fs_offload(&watch, w, 1);
		atomic_signal_fence(memory_order_seq_cst);
		if (slot < WATCHES)
			watching[slot] = NULL;
		io->via = watch.via;
		if (r < 0)
			return r; /* ECHILD, EINVAL, a deadline, a cancel */
		if (wp.taken)
			return io->call == ASY_CALL_waitid && wp.taken > 0 ? 0 : wp.taken;
	}
}

