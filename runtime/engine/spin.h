/* The library's spin locks (signal.c's dispositions, keep.c's kept
 * files, arena.c's pages, trace-out.c's outputs): each is held for a few
 * instructions, and a child of any fork finds it free.
 *
 * pthread_atfork's handlers free them in a fork's child, but `_Fork`,
 * glibc's `clone` and a raw fork system call run no handler, and their
 * child may call what is async-signal-safe — `sigaction`, `close` —
 * which a held lock would spin on for ever (its holder, another thread
 * of the parent, is not in the child).  So a lock holds the generation
 * it was taken in, and the generation changes in every child: a page
 * the kernel wipes in a fork's child (MADV_WIPEONFORK) says that this
 * process has not yet counted itself; the first wait for a lock in the
 * child counts it, and a lock taken in an older generation — by the
 * parent — is taken over.  The fast path is one load and one
 * compare-and-swap, as before. */
#ifndef ASY_SPIN_H
#define ASY_SPIN_H

#include <stdatomic.h>

typedef struct {
	_Atomic unsigned word; /* 0: free; else the generation of its holder */
} asy_spin;

#define ASY_SPIN_INIT { 0 }

extern _Atomic unsigned asy__spin_gen;
void asy__spin_wait(asy_spin *l); /* spin.c */

static inline void asy__spin_take(asy_spin *l)
{
	unsigned free_word = 0;
	unsigned gen = atomic_load_explicit(&asy__spin_gen, memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&l->word, &free_word, gen,
						     memory_order_acquire, memory_order_relaxed))
		asy__spin_wait(l);
}

static inline void asy__spin_give(asy_spin *l)
{
	atomic_store_explicit(&l->word, 0, memory_order_release);
}

#endif
