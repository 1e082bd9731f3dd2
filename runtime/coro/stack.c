/* Coroutine stacks: one private anonymous mapping each, its lowest page
 * PROT_NONE so that an overflow faults (SIGSEGV) instead of silently
 * writing into a neighbour.  MAP_NORESERVE: only the pages a coroutine
 * touches cost memory.  Freed stacks of the default size go to a small
 * per-thread cache, so a program spawning short coroutines in a loop does
 * not pay mmap + mprotect + munmap (and the page faults) for each. */
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "coro-int.h"

#ifdef ASY_ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef ASY_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Under valgrind each stack is registered as one: memcheck took a switch
 * between two stacks less than its --max-stackframe apart for the stack
 * growing, and reported the other stack's frames as uninitialised (a
 * coroutine's open, from coreutils' tests of cp and sort under valgrind).
 * The client requests are a few no-op instructions outside valgrind;
 * the header comes with Debian's valgrind package (make deps). */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define VG_REGISTER(lo, size) VALGRIND_STACK_REGISTER((lo), (char *)(lo) + (size))
#define VG_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
#else
#define VG_REGISTER(lo, size) 0u
#define VG_DEREGISTER(id) ((void)(id))
#endif

#define STACK_MIN (16u * 1024)

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE); /* from the aux vector: cheap */
}

static size_t round_page(size_t n)
{
	size_t p = page_size();
	return (n + p - 1) & ~(p - 1);
}

/* The ASYNCIFY_STACK_SIZE value, rounded to whole pages. */
size_t asy__stack_default(void)
{
	size_t n = asy__cfg.stack_size ? asy__cfg.stack_size : 256 * 1024;
	return round_page(n < STACK_MIN ? STACK_MIN : n);
}

/* Whether the program needs executable stacks, as glibc decides for the
 * threads it makes: an object loaded with PT_GNU_STACK asking for PF_X,
 * or with no PT_GNU_STACK at all (the old default; not the vDSO, which
 * has none).  A nested function whose address is taken runs a
 * trampoline on the stack.  Read once, when the library is loaded (no
 * loader lock taken later, in asy_go() from a signal handler). */
static int stack_exec;

static int object_needs_exec(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	if (vdso && (uintptr_t)info->dlpi_phdr - vdso < 4096)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_STACK)
			return (*(int *)arg = (info->dlpi_phdr[i].p_flags & PF_X) != 0);
	return (*(int *)arg = 1);
}

__attribute__((constructor)) static void stack_exec_init(void)
{
	int exec = 0;
	dl_iterate_phdr(object_needs_exec, &exec);
	stack_exec = exec;
}

static int stack_map(struct asy_stack *st, size_t size)
{
	size_t guard = page_size();
	if (size > SIZE_MAX / 2)
		return -ENOMEM;
	void *m = mmap(NULL, size + guard, PROT_READ | PROT_WRITE | (stack_exec ? PROT_EXEC : 0),
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	if (mprotect(m, guard, PROT_NONE) < 0) {
		munmap(m, size + guard);
		return -ENOMEM;
	}
	*st = (struct asy_stack){ 0 };
	st->map = m;
	st->map_len = size + guard;
	st->lo = (char *)m + guard;
	st->size = size;
	st->vg_id = VG_REGISTER(st->lo, size);
	return 0;
}

/* A stack of at least `size` bytes (0: the default), or -ENOMEM /
 * -EINVAL (below 16 KiB). */
int asy__stack_get(struct sched *s, struct asy_stack *st, size_t size)
{
	if (size == 0)
		size = asy__stack_default();
	else if (size < STACK_MIN)
		return -EINVAL;
	size = round_page(size);
	for (unsigned i = s->ncache; i-- > 0;) {
		if (s->cache[i].size == size) {
			*st = s->cache[i];
			s->cache[i] = s->cache[--s->ncache];
			return 0;
		}
	}
	return stack_map(st, size);
}

static void stack_unmap(struct asy_stack *st)
{
#ifdef ASY_TSAN
	if (st->tsan_fiber) /* never the running one: we are not on st */
		__tsan_destroy_fiber(st->tsan_fiber);
	st->tsan_fiber = NULL;
#endif
	VG_DEREGISTER(st->vg_id);
	munmap(st->map, st->map_len);
	st->map = NULL;
}

/* Give a stack back: cached when there is room, else unmapped. */
void asy__stack_put(struct sched *s, struct asy_stack *st)
{
	if (!st->map)
		return;
#ifdef ASY_ASAN
	/* The dead coroutine's frames may have left redzones poisoned;
	 * the next user of these pages must start clean. */
	ASAN_UNPOISON_MEMORY_REGION(st->lo, st->size);
#endif
	if (s->ncache < ASY_STACK_CACHE) {
		s->cache[s->ncache++] = *st;
		*st = (struct asy_stack){ 0 };
	} else {
		stack_unmap(st);
	}
}

/* Unmap every cached stack (thread exit). */
void asy__stack_drain(struct sched *s)
{
	while (s->ncache > 0)
		stack_unmap(&s->cache[--s->ncache]);
}
