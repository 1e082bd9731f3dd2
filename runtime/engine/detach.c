/* Ops a deadline can leave behind.
 *
 * A file's read, write or fsync that a backend has started cannot be
 * stopped: the disk ends it.  A coroutine's I/O deadline (or asy_cancel)
 * must still end the call on time, so such an op is made *detachable*:
 * its waiter, its vector and the bytes it moves live in a block the engine
 * owns, never in the program's memory.  A read lands in the block and is
 * copied to the program's buffers when it completes in time; a write is
 * copied into the block before it starts.  When the deadline comes first,
 * the coroutine gets ETIMEDOUT (ECANCELED) at once and the op is
 * abandoned: it goes on in the kernel or on a worker, writes only into
 * the block, and the thread frees the block when the op's completion
 * arrives (wait.c).  What the abandoned op did is unknown to the program,
 * as for any call that timed out: a write may or may not have reached
 * the file, a read at the file position may or may not have moved it.
 *
 * Which ops: an fsync or fdatasync always (it touches no memory, so the
 * block is only the waiter); a read or write when the coroutine has an
 * I/O deadline (the copy is the price of the bound); a metadata call on a
 * worker always (runtime/engine/fs.c lays out its arguments, paths and
 * result in the block: asy__detach_call).  Without a deadline a
 * read or write parks until its completion, as before: asy_cancel() then
 * ends it when the disk does.
 *
 * Blocks are mapped, never malloc'd (the hooks may run inside malloc's
 * callers); a thread keeps up to 16 MiB of them for reuse.  Copying costs
 * the calling thread about 0.1 ms per MiB of reused memory on the
 * development VM (ten times that for memory touched the first time).  A block of an op
 * still in flight when its thread exits is left mapped (the kernel may
 * still write into it). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "sys.h"
#include "coro.h"

#define PAGE 4096UL
#define KEEP_MAX 64                  /* blocks a thread keeps for reuse (one per
					 * coroutine with a call out, often) */
#define KEEP_BYTES (16UL * 1024 * 1024) /* … of this many bytes in all: memory
					 * touched before costs a tenth of
					 * fresh memory to copy into (a VM's
					 * host maps a page on first touch) */

struct block {
	struct asy_waiter w; /* first: the waiter is the block */
	size_t size;         /* the whole mapping */
	size_t bytes;        /* offset of the bounce bytes */
	struct block *next;  /* the thread's kept blocks */
	struct iovec v[];    /* the bounce vector */
};

static struct block *block_of(struct asy_waiter *w)
{
	return (struct block *)w;
}

static size_t round_page(size_t n)
{
	return (n + PAGE - 1) & ~(PAGE - 1);
}

/* Each bounce segment keeps its buffer's place within a page, so an
 * O_DIRECT call finds the alignment the program gave it (no better, no
 * worse); contiguous buffers stay contiguous. */
static size_t bounce_layout(const struct iovec *user, int cnt, struct iovec *v, char *base)
{
	size_t cur = 0;
	for (int i = 0; i < cnt; i++) {
		cur += ((uintptr_t)user[i].iov_base - cur) & (PAGE - 1);
		if (v) {
			v[i].iov_base = base + cur;
			v[i].iov_len = user[i].iov_len;
		}
		cur += user[i].iov_len;
	}
	return cur;
}

/* A kept block of at least `size` bytes, or a new one; a write's block is
 * populated at once (faulting its pages in one by one while copying costs
 * more), a read's pages are touched by whoever makes the read. */
static struct block *block_get(struct asy_thread *t, size_t size, int populate)
{
	for (struct block **pp = (struct block **)&t->detach_keep; *pp; pp = &(*pp)->next) {
		if ((*pp)->size >= size) {
			struct block *b = *pp;
			*pp = b->next;
			t->detach_kept--;
			t->detach_bytes -= b->size;
			return b;
		}
	}
	void *p = populate ? mmap(NULL, size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0) :
			     asy__map(size);
	if (p == MAP_FAILED)
		return NULL;
	struct block *b = p;
	b->size = size;
	return b;
}

/* Unmapping a large block at once holds the thread (64 MiB: 6 ms on the
 * development VM): it is given back TRIM_STEP at a time, one step per
 * later block freed and per scheduler pass that finds nothing to run. */
#define TRIM_STEP (4UL * 1024 * 1024)

void asy__detach_trim(struct asy_thread *t)
{
	struct block *b = t->detach_trim;
	if (!b)
		return;
	if (b->size > TRIM_STEP) {
		b->size -= TRIM_STEP;
		asy__unmap((char *)b + b->size, TRIM_STEP);
		return;
	}
	t->detach_trim = b->next;
	asy__unmap(b, b->size);
}

void asy__detach_free(struct asy_thread *t, struct asy_waiter *w)
{
	struct block *b = block_of(w);
	asy__detach_trim(t);
	if (t->detach_kept < KEEP_MAX && t->detach_bytes + b->size <= KEEP_BYTES) {
		b->next = t->detach_keep;
		t->detach_keep = b;
		t->detach_kept++;
		t->detach_bytes += b->size;
		return;
	}
	if (b->size > TRIM_STEP) {
		b->next = t->detach_trim;
		t->detach_trim = b;
		return;
	}
	asy__unmap(b, b->size);
}

void asy__detach_reap(struct asy_thread *t, struct asy_waiter *w)
{
	/* An open left behind that succeeded after all: the program never
	 * learnt its fd, so nobody else will close it. */
	if (w->io.op == ASY_OP_CALL && w->res >= 0 &&
	    (w->io.call == ASY_CALL_open || w->io.call == ASY_CALL_openat ||
	     w->io.call == ASY_CALL_creat))
		asy_sys(SYS_close, w->res, 0, 0, 0, 0, 0);
	if (w->io.op == ASY_OP_CALL)
		asy__fs_reaped(w);
	asy__detach_free(t, w);
}

void asy__detach_drop_kept(struct asy_thread *t)
{
	while (t->detach_keep) {
		struct block *b = t->detach_keep;
		t->detach_keep = b->next;
		asy__unmap(b, b->size);
	}
	t->detach_kept = 0;
	t->detach_bytes = 0;
	while (t->detach_trim) {
		struct block *b = t->detach_trim;
		t->detach_trim = b->next;
		asy__unmap(b, b->size);
	}
}

int asy__detach_wanted(const struct asy_io *io)
{
	if (io->op == ASY_OP_FSYNC || io->op == ASY_OP_FDATASYNC)
		return 1;
	return (io->op == ASY_OP_READ || io->op == ASY_OP_WRITE) && asy__coro_io_deadline() >= 0;
}

static struct block *block_new(struct asy_thread *t, const struct asy_io *io, int cnt,
				size_t bytes)
{
	size_t head = round_page(sizeof(struct block) + (size_t)cnt * sizeof(struct iovec));
	struct block *b = block_get(t, round_page(head + bytes), io->op == ASY_OP_WRITE);
	if (!b)
		return NULL;
	size_t size = b->size;
	memset(b, 0, sizeof *b);
	b->size = size;
	b->bytes = head;
	b->w.io = *io;
	b->w.detached = 1;
	return b;
}

struct asy_waiter *asy__detach_new(struct asy_thread *t, const struct asy_io *io)
{
	int rw = io->op == ASY_OP_READ || io->op == ASY_OP_WRITE;
	int cnt = rw ? io->iovcnt : 0;
	struct block *b = block_new(t, io, cnt, rw ? bounce_layout(io->iov, cnt, NULL, NULL) : 0);
	if (!b || !rw)
		return b ? &b->w : NULL;
	bounce_layout(io->iov, cnt, b->v, (char *)b + b->bytes);
	b->w.io.iov = b->v;
	if (io->op == ASY_OP_WRITE &&
	    asy_sys(SYS_process_vm_readv, asy__pid, b->v, cnt, io->iov, cnt, 0) !=
		    (long)asy__iov_total(b->v, cnt)) {
		/* A buffer the kernel would fault on: the program's own
		 * vector gets the kernel's answer. */
		asy__detach_free(t, &b->w);
		return NULL;
	}
	return &b->w;
}

struct asy_waiter *asy__detach_call(struct asy_thread *t, const struct asy_io *io, size_t bytes,
				    void **mem)
{
	struct block *b = block_new(t, io, 0, bytes);
	if (!b)
		return NULL;
	*mem = (char *)b + b->bytes;
	return &b->w;
}

long asy__detach_end(struct asy_thread *t, struct asy_waiter *w, long res,
		     const struct iovec *user, int cnt)
{
	if (w->abandoned)
		return res; /* the completion frees it (wait.c) */
	struct block *b = block_of(w);
	if (w->io.op == ASY_OP_READ && res > 0) {
		/* Only the bytes the read brought, into the program's buffers
		 * as the kernel would copy them: a bad buffer gives what was
		 * copied before it, or EFAULT. */
		size_t left = (size_t)res;
		int n = 0;
		for (; n < cnt && left; n++) {
			if (b->v[n].iov_len > left)
				b->v[n].iov_len = left;
			left -= b->v[n].iov_len;
		}
		long c = asy__vm_write(b->v, (unsigned)n, user, (unsigned)cnt);
		/* At the file position, the kernel's read moves it by what it
		 * copied: the rest goes back. */
		if (w->io.off < 0 && (c > 0 ? c : 0) < res)
			asy_sys(SYS_lseek, w->io.fd, -(res - (c > 0 ? c : 0)), SEEK_CUR, 0, 0, 0);
		res = c > 0 ? c : -EFAULT;
	}
	asy__detach_free(t, w);
	return res;
}
