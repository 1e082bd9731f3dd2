/* The files a coroutine's wait by fd number holds.
 *
 * A read or write of a pipe or socket that waits in the kernel holds its
 * file: if another thread closes the number meanwhile, and perhaps the
 * next open takes it, the call goes on with the old file (a pipe keeps
 * its reader, the bytes that come are the call's).  On the uring backend
 * the call's own op holds it (rw.c, net-ring.c).  The threads backend, and
 * accept on both, wait by polling the number, which holds nothing, so
 * while such a wait lasts its number is on the list here, and a close,
 * close_range, dup2 or dup3 over that number made through the shim, from
 * any thread, first copies it for the waiter
 * (F_DUPFD_CLOEXEC near the top of the fd table, where the program's
 * next open does not look).  The waiter goes on with the copy and closes
 * it when its call ends; its POLL op polls the copy from the moment it is
 * made (asy__poll_fd, read at every look of the scheduler, a worker or
 * the ring's submit), so the wait never goes on with the file a dup2 put
 * at the number — one that never becomes ready held it until its
 * timeout, and the bytes of its own file were missed.
 *
 * A waiting accept's new number, taken when the call starts as the
 * kernel's is (net-conn.c), is on the list too, as a copy with no number
 * of the program's behind it: the program's close of it says EBADF, a
 * dup2 or dup3 onto it EBUSY, and a close_range goes around it, as of a
 * number the kernel has taken but not yet filled.
 *
 * The list is empty unless such a wait is on, and a close looks at it
 * only then (asy__keeps, read on the shim's fast path).  While a copy
 * lives it is an fd of the process like any other: /proc/self/fd lists
 * it (README, Known blind spots).  A fork child closes every copy and
 * taken number at once: no wait of theirs runs in it, and in the
 * kernel's child a closed file an in-flight call holds is not there, nor
 * a number an accept took (it is free again) — a copy of a pipe's reader
 * left in a child kept the parent's writer from its EPIPE. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <signal.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "engine.h"
#include "spin.h"
#include "fdkind.h"
#include "sys.h"

_Atomic int asy__keeps; /* waits on the list */

static asy_spin lock = ASY_SPIN_INIT;
static struct asy_keep *list;
static ASY_TLS int holding; /* this thread holds the lock */
static ASY_TLS int forking; /* this thread's fork took the lock */

/* Under the lock no signal handler of this thread enters the engine
 * (asy__depth), so none can wait for the lock this thread holds.  The
 * lock is also told to ThreadSanitizer: a coroutine's call runs inside its
 * interceptor for that call, which records no atomics (engine.h). */
static void take(void)
{
	asy__depth++;
	asy__spin_take(&lock);
	asy_tsan_acquire(&lock);
	holding = 1;
}

static void give(void)
{
	holding = 0;
	asy_tsan_release(&lock);
	asy__spin_give(&lock);
	asy__depth--;
}

/* The lock for the walks that make system calls under it (a close's
 * copies, close_range around them), held the whole walk with every
 * signal blocked: a signal lands at any instruction (most often as one
 * of those calls returns), and a handler's siglongjmp out of the
 * program's close() from inside the walk left the lock taken — the next
 * wait's end on any thread spun for ever.  Under ThreadSanitizer a
 * handler it held back runs before the lock is taken (tsan.h): run inside
 * take(), its jump left the thread's asy__depth raised, and every later
 * close of that thread went by the waits' numbers as if none waited. */
static void take_masked(uint64_t *old)
{
	asy__mask_all(old);
	take();
}

static void give_masked(const uint64_t *old)
{
	give();
	asy__unmask(old);
}

static void link_on(struct asy_keep *k, int fd, int held)
{
	if (k->on)
		return;
	k->fd = fd;
	atomic_store_explicit(&k->held, held, memory_order_relaxed);
	take();
	k->prev = NULL;
	k->next = list;
	if (list)
		list->prev = k;
	list = k;
	k->on = 1;
	atomic_fetch_add_explicit(&asy__keeps, 1, memory_order_seq_cst);
	give();
}

void asy__keep_begin(struct asy_keep *k, int fd)
{
	link_on(k, fd, -1);
}

/* A call that waits on a worker (opdef.c: asy__call_waits) is made on a
 * copy taken now, as the kernel's call takes its file when it starts: a
 * close or dup2 of the number by a sibling coroutine before the worker
 * has started leaves it its file (it read the new one, or got EBADF).
 * No room for a copy: by number, as before. */
void asy__keep_now(struct asy_keep *k, int fd)
{
	int copy = asy__copy_high(fd, 1, 0);
	if (copy >= 0)
		link_on(k, fd, copy);
}

void asy__keep_end(struct asy_keep *k)
{
	if (!k->on)
		return;
	take();
	if (k->prev)
		k->prev->next = k->next;
	else
		list = k->next;
	if (k->next)
		k->next->prev = k->prev;
	k->on = 0;
	atomic_fetch_sub_explicit(&asy__keeps, 1, memory_order_relaxed);
	give();
	int held = atomic_load_explicit(&k->held, memory_order_acquire);
	if (held >= 0)
		asy_sys(SYS_close, held, 0, 0, 0, 0, 0);
}

int asy__keep_fd(struct asy_keep *k, int fd)
{
	if (!k->on)
		return fd;
	int held = atomic_load_explicit(&k->held, memory_order_acquire);
	return held >= 0 ? held : fd;
}

int asy__keep_after(struct asy_keep *k, int fd, const struct stat *id)
{
	if (asy__same_file(fd, id))
		return fd;
	int held = asy__keep_fd(k, fd);
	return held != fd ? held : -1;
}

int asy__poll_fd(const struct asy_io *io)
{
	int held = io->held ? atomic_load_explicit(io->held, memory_order_acquire) : -1;
	return held >= 0 ? held : io->fd;
}

/* A copy of fd at one of the 16 top numbers the fd table may hold (at
 * most 4096: a table grown to a million entries for it would cost
 * megabytes), none of lo..hi (the numbers a call is about to close; lo >
 * hi: none).  Under a limit below 64 there is none: a copy would take a
 * number the program's next open may want, and a wait ends with EBADF as
 * before.  The trace's outputs live there too (runtime/trace/trace-out.c). */
int asy__copy_high(int fd, unsigned lo, unsigned hi)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	long top = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 4096 ? 4096 : (long)rl.rlim_cur;
	if (top < 64)
		return -1;
	for (long base = top - 16; base < top;) {
		long r = asy_sys_fcntl(fd, F_DUPFD_CLOEXEC, base);
		if (r < 0)
			return -1;
		if (r < top && (r < lo || r > hi))
			return (int)r;
		/* Above the 4096 cap (a higher limit): not there.  In lo..hi
		 * (so hi >= base): the call would close it; look above. */
		asy_sys(SYS_close, r, 0, 0, 0, 0, 0);
		if (r >= top)
			return -1;
		base = (long)hi + 1;
	}
	return -1;
}

static int in(int fd, unsigned lo, unsigned hi)
{
	return fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi;
}

/* A close_range to the top of the table (the closefrom idiom) or a close
 * loop reaching the top numbers meets the copies themselves.  The program
 * has no such number: its close of one is EBADF, and a close_range is
 * made around the copies that cannot leave its range (asy__keep_close),
 * so that the waits go on with their files as the kernel's calls do. */
int asy__keep_closing(unsigned lo, unsigned hi, int call)
{
	int around = 0;
	uint64_t old;
	take_masked(&old);
	for (struct asy_keep *k = list; k; k = k->next) {
		int held = atomic_load_explicit(&k->held, memory_order_relaxed);
		if (held >= 0) {
			if (!in(held, lo, hi))
				continue;
			if (call == ASY_CALL_close || k->taken) {
				around = 1; /* EBADF, EBUSY, or closed around */
				continue;
			}
			int to = asy__copy_high(held, lo, hi);
			if (to >= 0) { /* its poll sees the new one at its next look */
				atomic_store_explicit(&k->held, to, memory_order_release);
				asy_sys(SYS_close, held, 0, 0, 0, 0, 0);
			} else {
				around |= call == ASY_CALL_close_range;
			}
		} else if (in(k->fd, lo, hi)) {
			int to = asy__copy_high(k->fd, lo, hi);
			if (to < 0 && call == ASY_CALL_close_range && (to = asy__copy_high(k->fd, 1, 0)) >= 0)
				around = 1; /* inside the range: closed around */
			atomic_store_explicit(&k->held, to, memory_order_release);
		}
	}
	give_masked(&old);
	return around;
}

long asy__keep_close(const struct asy_io *io, unsigned lo, unsigned hi)
{
	int fl = (int)io->a[2];
	if (io->call == ASY_CALL_close)
		return -EBADF;
	if (io->call == ASY_CALL_dup2 || io->call == ASY_CALL_dup3) {
		/* the kernel's checks before it finds the number taken */
		struct rlimit rl;
		if (io->call == ASY_CALL_dup3 && (fl & ~O_CLOEXEC))
			return -EINVAL;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && hi >= rl.rlim_cur)
			return -EBADF;
		if (asy_sys_fcntl((int)io->a[0], F_GETFD, 0) < 0)
			return -EBADF;
		return -EBUSY;
	}
	if (fl & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC))
		return -EINVAL; /* as the kernel's, which closes nothing then */
	/* The copies in lo..hi, ascending (at most the 16 top numbers). */
	unsigned skip[17];
	int n = 0;
	uint64_t old;
	take_masked(&old);
	for (struct asy_keep *k = list; k && n < 17; k = k->next) {
		int held = atomic_load_explicit(&k->held, memory_order_relaxed);
		if (!in(held, lo, hi))
			continue;
		int i = n++;
		for (; i > 0 && skip[i - 1] > (unsigned)held; i--)
			skip[i] = skip[i - 1];
		skip[i] = (unsigned)held;
	}
	long r = 0;
	unsigned from = lo;
	for (int i = 0; i <= n && r == 0; i++) {
		unsigned to = i < n ? skip[i] - 1 : hi;
		if ((i == n || skip[i] > from) && from <= to)
			r = asy_sys(SYS_close_range, from, to, fl, 0, 0, 0);
		if (i < n)
			from = skip[i] + 1;
		if (i < n && skip[i] == hi)
			break;
	}
	give_masked(&old);
	return r;
}

void asy__keep_take(struct asy_keep *k, int n)
{
	k->taken = 1;
	link_on(k, -1, n);
}

void asy__keep_given(struct asy_keep *k)
{
	atomic_store_explicit(&k->held, -1, memory_order_release);
	asy__keep_end(k);
}

/* The lock is taken across fork, so the child's list is whole — unless a
 * handler forks while its thread holds it (then the list is left alone).
 * Where there are copies, the parent's fork returns only once the child
 * has closed them (a word on a shared page, its futex; at most 1 s):
 * until then the child's copy held the file, and a pipe closed by the
 * parent right after the fork still had a reader, a listener still took
 * connections.  A failed fork is seen by errno, cleared for the moment
 * (glibc sets the error after the parent's handlers run). */
static _Atomic int *fork_word;
static int fork_errno, fork_waits;

void asy__keep_fork_prepare(void)
{
	forking = !holding;
	if (!forking)
		return;
	take();
	fork_waits = 0;
	for (struct asy_keep *k = list; k && !fork_waits; k = k->next)
		fork_waits = atomic_load_explicit(&k->held, memory_order_relaxed) >= 0;
	if (fork_waits && !fork_word) {
		void *m = (void *)asy_sys(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		fork_word = (unsigned long)m > -4096UL ? NULL : m;
	}
	fork_waits = fork_waits && fork_word;
	if (fork_waits) {
		atomic_store(fork_word, 0);
		fork_errno = errno;
		errno = 0;
	}
}

void asy__keep_fork_parent(void)
{
	if (!forking)
		return;
	if (fork_waits && errno == 0) {
		errno = fork_errno;
		struct timespec end; /* FUTEX_WAIT_BITSET's timeout is this end */
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += 1;
		while (!atomic_load(fork_word) &&
		       asy_sys(SYS_futex, fork_word, FUTEX_WAIT_BITSET, 0, &end, 0,
			       FUTEX_BITSET_MATCH_ANY) != -ETIMEDOUT)
			;
	}
	give();
}

void asy__keep_fork_child(int prepared)
{
	if (!prepared) { /* a fork that ran no handler: as if it had */
		if (holding)
			return; /* made inside the list's change: left alone */
		take();
		forking = 1;
		fork_waits = 0;
	}
	/* The waiters were other threads' or the forking thread's other
	 * coroutines: none runs in the child. */
	for (struct asy_keep *k = forking ? list : NULL; k; k = k->next) {
		int held = atomic_load_explicit(&k->held, memory_order_relaxed);
		if (held >= 0)
			asy_sys(SYS_close, held, 0, 0, 0, 0, 0);
		/* off the list: a call the child makes again goes by number,
		 * and its end closes nothing and unlinks nothing */
		atomic_store_explicit(&k->held, -1, memory_order_relaxed);
		k->on = 0;
	}
	list = NULL;
	atomic_store(&asy__keeps, 0);
	if (forking && fork_waits) {
		/* The page is shared with the parent: the child's own forks get one of their own. */
		atomic_store(fork_word, 1);
		asy_sys(SYS_futex, fork_word, FUTEX_WAKE, 1, 0, 0, 0);
		asy_sys(SYS_munmap, fork_word, 4096, 0, 0, 0, 0);
		fork_word = NULL;
	}
	if (forking)
		give();
	else
		asy__spin_give(&lock);
}
