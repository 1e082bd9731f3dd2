/* The context switch.  glibc's swapcontext() costs two sigprocmask system
 * calls per switch (≈ 2.1 µs a pair here, NOTES §5); the signal mask
 * belongs to the thread anyway, so on x86-64 we save only what the SysV
 * ABI makes callee-saved: rbx, rbp, r12–r15, the MXCSR control bits and
 * the x87 control word, and the stack pointer.  Other architectures use
 * swapcontext(): correct, only slower (build with -DASY_CORO_UCONTEXT to
 * run that path on x86-64 too; the tests pass on it). */
#include <stdint.h>
#include <string.h>

#include "engine.h"
#include "coro-int.h"

#if defined(__x86_64__) && !defined(ASY_CORO_UCONTEXT)

/* asy__ctx_switch(from = rdi, to = rsi).  The frame it leaves on the
 * suspended stack, from the saved sp up:
 *   [sp+0] MXCSR (4 bytes), x87 control word (2 bytes)
 *   [sp+8] r15, r14, r13, r12, rbx, rbp
 *   [sp+56] return address */
__asm__(
	".text\n"
	".globl asy__ctx_switch\n"
	".hidden asy__ctx_switch\n"
	".type asy__ctx_switch, @function\n"
	"asy__ctx_switch:\n"
	"	.cfi_startproc\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq (%rsi), %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size asy__ctx_switch, .-asy__ctx_switch\n"
	/* A new context starts here with entry in r12 and arg in r13; rsp
	 * is 16-byte aligned, as a call expects.  Backtraces stop here. */
	".globl asy__ctx_start\n"
	".hidden asy__ctx_start\n"
	".type asy__ctx_start, @function\n"
	"asy__ctx_start:\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined rip\n"
	"	xorl %ebp, %ebp\n"
	"	movq %r13, %rdi\n"
	"	call *%r12\n"
	"	ud2\n"
	"	.cfi_endproc\n"
	".size asy__ctx_start, .-asy__ctx_start\n");

void asy__ctx_start(void);

void asy__ctx_make(struct asy_ctx *c, void *lo, size_t size,
		   void (*entry)(void *), void *arg)
{
	uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)(top - 64 - 16);
	uint32_t mxcsr;
	uint16_t fcw;

	/* A new coroutine inherits the creator's floating-point control
	 * state, as a new thread does. */
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fcw));
	memset(sp, 0, 64 + 16);
	memcpy(&sp[0], &mxcsr, 4);
	memcpy((char *)&sp[0] + 4, &fcw, 2);
	sp[1] = 0;                       /* r15 */
	sp[2] = 0;                       /* r14 */
	sp[3] = (uint64_t)(uintptr_t)arg;   /* r13 */
	sp[4] = (uint64_t)(uintptr_t)entry; /* r12 */
	sp[5] = 0;                       /* rbx */
	sp[6] = 0;                       /* rbp */
	sp[7] = (uint64_t)(uintptr_t)asy__ctx_start;
	c->sp = sp;
}

#else /* portable fallback */

void asy__ctx_switch(struct asy_ctx *from, struct asy_ctx *to)
{
	swapcontext(&from->uc, &to->uc);
}

/* makecontext() passes only ints: the context's address travels in two. */
static void uc_start(unsigned lo, unsigned hi)
{
	struct asy_ctx *c = (struct asy_ctx *)(uintptr_t)(((uint64_t)hi << 32) | lo);
	c->entry(c->arg);
}

void asy__ctx_make(struct asy_ctx *c, void *lo, size_t size,
		   void (*entry)(void *), void *arg)
{
	uint64_t p = (uint64_t)(uintptr_t)c;

	getcontext(&c->uc);
	c->uc.uc_stack.ss_sp = lo;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = NULL;
	c->entry = entry;
	c->arg = arg;
	makecontext(&c->uc, (void (*)(void))uc_start, 2, (unsigned)(p & 0xffffffffu),
		    (unsigned)(p >> 32));
}

#endif
