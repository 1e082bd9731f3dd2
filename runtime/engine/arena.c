/* Memory the engine needs while a coroutine's call runs: the threads
 * backend's poll array, copies of long vectors, poll and select sets,
 * blocks of detached reads.
 *
 * A mapping made in the middle of a program's call lands wherever the
 * kernel puts it — often in a range the program has just unmapped, the
 * highest free one.  A program that unmaps a page and then expects
 * EFAULT from a call whose buffer runs into it found the page mapped
 * again by the engine, and its read succeeding into the engine's memory.
 * So these come from one region reserved when the library is loaded,
 * before main() could unmap anything: ARENA_BYTES of address space
 * (MAP_NORESERVE: a page costs memory once touched), handed out in whole
 * pages, first fit, under a lock no signal handler of the holding thread
 * can wait for (asy__depth, as keep.c).  A page given back is mapped
 * afresh in place (zero again, as a fresh mapping; private again where
 * the caller had put a mapping of its own over it with MAP_FIXED).
 * What does not fit, or anything under ThreadSanitizer (whose shadow of
 * a page reused by another thread would keep the first thread's
 * accesses), is mmap'd as before. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "spin.h"

#define ARENA_PAGES 1024 /* 4 MiB of 4 KiB pages */
#define WORD_BITS 64

static char *arena;
static size_t page;
static uint64_t used[ARENA_PAGES / WORD_BITS];
static asy_spin lock = ASY_SPIN_INIT;

void asy__arena_init(void)
{
#ifndef __SANITIZE_THREAD__
	page = (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, ARENA_PAGES * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	arena = p == MAP_FAILED ? NULL : p;
#endif
}

static void take(void)
{
	asy__depth++;
	asy__spin_take(&lock);
}

static void give(void)
{
	asy__spin_give(&lock);
	asy__depth--;
}

static int is_used(size_t i)
{
	return (used[i / WORD_BITS] >> (i % WORD_BITS)) & 1;
}

static void mark(size_t first, size_t n, int on)
{
	for (size_t i = first; i < first + n; i++) {
		uint64_t bit = (uint64_t)1 << (i % WORD_BITS);
		used[i / WORD_BITS] = on ? used[i / WORD_BITS] | bit : used[i / WORD_BITS] & ~bit;
	}
}

/* The first run of n free pages, or ARENA_PAGES. */
static size_t find(size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < ARENA_PAGES; i++) {
		if (used[i / WORD_BITS] == UINT64_MAX && i % WORD_BITS == 0) {
			run = 0;
			i += WORD_BITS - 1;
			continue;
		}
		run = is_used(i) ? 0 : run + 1;
		if (run == n)
			return i + 1 - n;
	}
	return ARENA_PAGES;
}

void *asy__map(size_t len)
{
	if (arena && len) {
		size_t n = (len + page - 1) / page;
		take();
		size_t first = n <= ARENA_PAGES ? find(n) : ARENA_PAGES;
		if (first < ARENA_PAGES)
			mark(first, n, 1);
		give();
		if (first < ARENA_PAGES)
			return arena + first * page;
	}
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

void asy__unmap(void *p, size_t len)
{
	char *c = p;
	if (!asy__in_arena(c)) {
		munmap(p, len);
		return;
	}
	size_t first = (size_t)(c - arena) / page, n = (len + page - 1) / page;
	/* Zero again, and private again if the caller put a mapping of its
	 * own there (asy__in_arena). */
	mmap(c, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
	     -1, 0);
	take();
	mark(first, n, 0);
	give();
}

int asy__in_arena(const void *p)
{
	const char *c = p;
	return arena && c >= arena && c < arena + ARENA_PAGES * page;
}

void asy__arena_fork_child(void)
{
	asy__spin_give(&lock); /* another thread may have held it */
}
