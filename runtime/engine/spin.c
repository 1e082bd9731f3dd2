/* The spin locks' wait, how a fork's child is told, and the sections
 * made with every signal blocked (spin.h). */
#include <sys/mman.h>

#include "engine.h"
#include "spin.h"
#include "sys.h"

_Atomic unsigned asy__spin_gen = 1;

/* counted[0]: 1 in the process that set it; the kernel hands a fork's
 * child a page of zeros.  NULL where MADV_WIPEONFORK is refused (Linux <
 * 4.14): then only the pthread_atfork handlers free the locks, as
 * before.  counted[1] is the engine's (asy__fork_unseen). */
static _Atomic int *counted;
_Atomic int *asy__fork_page;

__attribute__((constructor)) static void mark_page(void)
{
	long p = asy_sys(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (p < 0 && p > -4096)
		return; /* counted stays NULL */
	if (asy_sys(SYS_madvise, p, 4096, MADV_WIPEONFORK, 0, 0, 0) < 0) {
		asy_sys(SYS_munmap, p, 4096, 0, 0, 0, 0);
		return;
	}
	counted = (_Atomic int *)p;
	atomic_store(counted, 1);
	atomic_store(&counted[1], 1);
	asy__fork_page = &counted[1];
}

int asy__fork_seen(void)
{
	return !asy__fork_page || !atomic_exchange(asy__fork_page, 1);
}

unsigned asy__spin_gen_now(void)
{
	if (counted && !atomic_load_explicit(counted, memory_order_relaxed) &&
	    !atomic_exchange(counted, 1))
		atomic_fetch_add(&asy__spin_gen, 1);
	return atomic_load_explicit(&asy__spin_gen, memory_order_relaxed);
}

void asy__spin_wait(asy_spin *l)
{
	for (unsigned spins = 0;; spins++) {
		/* The first wait in a fork's child starts its generation
		 * (one thread there: the one that forked). */
		unsigned gen = asy__spin_gen_now();
		unsigned w = atomic_load_explicit(&l->word, memory_order_relaxed);
		/* free, or held by the parent: this thread's */
		if ((w == 0 || w != gen) &&
		    atomic_compare_exchange_weak_explicit(&l->word, &w, gen, memory_order_acquire,
							  memory_order_relaxed))
			return;
		/* a holder that reopens a trace file takes longer */
		if (spins >= 64)
			asy_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		else
			asy__cpu_relax();
	}
}

#if defined(__SANITIZE_THREAD__)
_Atomic int asy__tsan_point; /* tsan.h */
#endif

