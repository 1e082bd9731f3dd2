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

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "sys.h"
#include "tsan.h"

typedef struct {
	_Atomic unsigned word; /* 0: free; else the generation of its holder */
} asy_spin;

#define ASY_SPIN_INIT { 0 }

extern _Atomic unsigned asy__spin_gen;
void asy__spin_wait(asy_spin *l); /* spin.c */
/* This process's generation: a fork's child, of any fork, has its own
 * from its first look (what a parent's thread left in a table is then
 * told apart: shim/sync.c). */
unsigned asy__spin_gen_now(void);

/* The engine's word on the same page: 1, and 0 in a fork's child until
 * the engine has made it its own (engine.c) — at once by the fork's
 * pthread_atfork handler, or at the child's first call into the engine
 * where the fork ran none.  asy__fork_seen(): sets it; 1 when it was 0
 * (or no page: the handlers alone), i.e. the caller does the work. */
extern _Atomic int *asy__fork_page;
int asy__fork_seen(void);

static inline int asy__fork_unseen(void)
{
	_Atomic int *w = asy__fork_page;
	return w && !atomic_load_explicit(w, memory_order_relaxed);
}

/* One pause of a spin loop. */
static inline void asy__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

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

/* Every signal blocked, for a section no handler may interrupt (it would
 * spin on a lock its thread holds) or jump out of (it would leave the
 * lock held, or a count raised): keep.c's walks, signal.c's table,
 * slots.c's table, a scheduler's masked sleep (wait.c).  *old gets the
 * mask to give back; ~0 where the kernel refused (never a mask the kernel
 * reports: SIGKILL and SIGSTOP are never blocked), and asy__unmask gives
 * nothing back then.  Under ThreadSanitizer, the handlers it held back
 * run before this returns, while nothing is taken yet (tsan.h).  Inline:
 * a file built without TSan's instrumentation (shim/signal.c, which TSan
 * calls before it is set up) gets none of it here either, and TSan runs
 * no handler inside such a file. */
static inline void asy__mask_all(uint64_t *old)
{
	uint64_t all = ~0ULL;
	if (asy_sys(SYS_rt_sigprocmask, SIG_BLOCK, &all, old, 8, 0, 0) < 0)
		*old = ~0ULL;
	asy_tsan_held_signals();
}

static inline void asy__unmask(const uint64_t *old)
{
	if (*old != ~0ULL)
		asy_sys(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, 8, 0, 0);
}

#endif
