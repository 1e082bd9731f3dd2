/* Coroutines inside the runtime: the coroutine record, the per-thread
 * scheduler, stacks and the raw context switch.  Private to
 * runtime/coro*.c, sched*.c and stack.c; the engine sees only coro.h. */
#ifndef ASY_CORO_INT_H
#define ASY_CORO_INT_H

#include <stddef.h>
#include <stdint.h>
#if !defined(__x86_64__) || defined(ASY_CORO_UCONTEXT)
#include <ucontext.h>
#endif

#include "coro.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASY_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define ASY_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ASY_TSAN 1
#endif
#endif

/* A saved execution context.  On x86-64 everything but the stack pointer
 * lives on the suspended stack itself (see coro-switch.c). */
struct asy_ctx {
	void *sp;
#if !defined(__x86_64__) || defined(ASY_CORO_UCONTEXT)
	ucontext_t uc;
	void (*entry)(void *);
	void *arg;
#endif
};

/* Save the running context in *from and resume *to.  Returns when
 * something switches back to *from.  Never touches the signal mask on
 * x86-64; preserves callee-saved registers, MXCSR and the x87 control word. */
void asy__ctx_switch(struct asy_ctx *from, struct asy_ctx *to);

/* Prepare *c so that switching to it calls entry(arg) on the stack
 * [lo, lo + size).  entry must never return. */
void asy__ctx_make(struct asy_ctx *c, void *lo, size_t size,
		   void (*entry)(void *), void *arg);

/* A coroutine stack: `map` is the whole mapping, the lowest page of which
 * is the PROT_NONE guard; [lo, lo + size) is usable. */
struct asy_stack {
	void *map;
	size_t map_len;
	void *lo;
	size_t size;
	unsigned vg_id; /* valgrind's name for it (stack.c), 0 outside valgrind */
#ifdef ASY_TSAN
	/* TSan's fiber for code on this stack: creating one costs ≈ 5 ms, so
	 * it is kept with the stack and reused along with it. */
	void *tsan_fiber;
#endif
};

enum coro_state { CO_FREE, CO_READY, CO_RUNNING, CO_PARKED, CO_DONE };

struct sched;

struct asy_coro {
	struct asy_ctx ctx;
	struct sched *s;
	struct asy_coro *next; /* run queue, or the free-handle list */
	void (*fn)(void *);
	void *arg;
	struct asy_stack stk;
	uint64_t id;            /* process-wide creation order, for traces */
	int handle;             /* index in the thread's table; 0 = the root */
	unsigned char state;    /* enum coro_state */
	unsigned char cancelled;
	unsigned char cancellable; /* the current park may end with ECANCELED */
	unsigned char jump;     /* a handler's longjmp waits for its call (jump.c) */
	unsigned short in_call; /* inside a hooked call's engine part */
	unsigned char in_api;   /* ... or in a wait of the API (coro.c: with_sched) */
	unsigned char hooked;   /* in_call counts on s->hooked: a hooked call's */
	unsigned char errno_given; /* a handler left call_errno as the call's (jump.c) */
	unsigned char moved;    /* its stream call moved part and waits for the rest */
	unsigned char sig_hit;  /* ... and a handler ran on the thread since (jump.c) */
	unsigned moved_at;      /* s->handlers when it first said it moved part */
	int jump_val;
	void *jump_env;
	uint64_t jump_mask;     /* the handler's signal mask */
	int jump_errno;         /* errno when the handler jumped */
	unsigned char jump_own; /* ... as the handlers found it: call_errno */
	int call_errno;         /* errno when its call began (in_call 0 to 1) */
	unsigned char jump_ctx; /* the jump is a setcontext(jump_env) */
	int err;                /* errno while switched out */
	int wake;               /* how the last park ended: 0 or -errno */
	int heap_idx;           /* position in the timer heap, -1 if none */
	int64_t wake_at;        /* absolute deadline of the current park */
	int64_t io_deadline;    /* asy_io_deadline(), -1 none */
	struct asy_coro *joiner;
#ifdef ASY_ASAN
	void *asan_fake;
	const void *asan_lo;
	size_t asan_size;
#endif
#ifdef ASY_TSAN
	void *tsan_fiber;       /* stk.tsan_fiber; the root's: the thread's */
#endif
};

/* Whether sp lies on c's stack.  The address decides, never the state:
 * a signal handler may look while c is on its way in or out. */
static inline int asy__coro_holds_sp(const struct asy_coro *c, const void *sp)
{
	return c->stk.map && (const char *)sp >= (const char *)c->stk.lo &&
	       (const char *)sp < (const char *)c->stk.lo + c->stk.size;
}

/* Whether c's waits are being ended: asy_cancel(), or a handler's jump
 * into its call (jump.c); both end a cancellable park with ECANCELED. */
static inline int asy__coro_ending(const struct asy_coro *c)
{
	return c->cancelled || c->jump;
}

/* Stacks kept for reuse per thread (libdill keeps 64 too).  A fresh
 * stack costs a mmap, a page fault and a munmap: ≈ 60 µs on this machine,
 * against ≈ 1 µs for a cached one; a cached stack holds only the pages
 * it touched (usually one) and 256 KiB of address space. */
#define ASY_STACK_CACHE 64

/* One per thread, mmap'd on first use (creating it never calls malloc,
 * so asy_go() stays usable from a signal handler). */
struct sched {
	struct asy_coro root;       /* the asy_run() caller's own context */
	struct asy_coro *cur;       /* running coroutine; NULL outside */
	struct asy_coro *rq_head, *rq_tail;
	struct asy_coro **heap;     /* timers: min-heap on wake_at */
	unsigned heap_len, heap_cap;
	struct asy_coro **chunks;   /* handle table, in fixed chunks */
	unsigned nchunks;
	unsigned nslots;            /* handles given out so far, + 1 */
	struct asy_coro *free_head, *free_tail; /* released handles, FIFO */
	unsigned live;              /* spawned and not finished */
	unsigned hooked;            /* coroutines inside a hooked call (jump.c) */
	uintptr_t hooked_xor;       /* their addresses, xor'ed */
	unsigned engine_parked;     /* parked through asy__coro_park() */
	unsigned tick;              /* switches since the last engine poll */
	unsigned switches;          /* every switch: a coroutine's run begins */
	int running;                /* scheduler mode: inside asy_run() & co */
	int run_all;                /* asy_run() is waiting for live == 0 */
	volatile int crit;          /* > 0 while the structures are changing */
	volatile int idling;        /* in the engine's wait for the whole thread */
	volatile unsigned handlers; /* the program's handlers run on the thread (jump.c) */
	unsigned handlers_seen;     /* ... as the engine last looked */
	struct asy_coro *dead;      /* finished; stack to free once off it */
	struct asy_coro *prev;      /* the context we last switched from */
	struct asy_coro *forker;    /* in a child forked by a coroutine: it */
	struct asy_coro *jump_to;   /* a longjmp's coroutine to end the wait of */
	const char *root_top;       /* above the root's frames in a run (jump.c) */
	struct asy_stack cache[ASY_STACK_CACHE];
	unsigned ncache;
};

#define CHUNK_SHIFT 6
#define CHUNK_LEN   (1u << CHUNK_SHIFT)
#define MAX_CHUNKS  16384u /* 1 Mi coroutines per thread */

/* sched.c */
struct sched *asy__sched(int create);
int asy__sched_enter(struct sched *s);
void asy__sched_leave(struct sched *s);
int asy__sched_suspend(struct sched *s);
int asy__sched_heap_reserve(struct sched *s, unsigned n);
void asy__sched_ready(struct sched *s, struct asy_coro *c, int wake);
int asy__sched_park(struct sched *s, int64_t deadline, int cancellable);
/* jump.c: a longjmp's coroutine whose wait the scheduler is to end */
void asy__sched_jumps(struct sched *s);
void asy__sched_after_switch(struct sched *s);
void asy__sched_crit_enter(struct sched *s);
void asy__sched_crit_leave(struct sched *s);

/* coro.c */
struct asy_coro *asy__coro_lookup(struct sched *s, int h);

/* stack.c: 0 or -errno */
int asy__stack_get(struct sched *s, struct asy_stack *st, size_t size);
void asy__stack_put(struct sched *s, struct asy_stack *st);
void asy__stack_drain(struct sched *s);
size_t asy__stack_default(void);

#endif
