/* Cold files: reads whose non-blocking try would only start readahead.
 *
 * A coroutine's read of a regular file or block device is first tried
 * with RWF_NOWAIT (runtime/engine/rw.c).  On a page-cache miss that try
 * does not simply say EAGAIN: the kernel starts the readahead first
 * (filemap_get_pages → page_cache_sync_ra: page allocation, the file
 * system's block mapping, bio submission; only IOCB_NOIO, which user space
 * cannot ask for, skips it), in the thread that runs the coroutines.  Then
 * the backend op reads the same range again.
 *
 * So an fd whose try missed (or answered as slowly as a device: rw.c,
 * slow_read) is remembered here by number, with the file it named (dev,
 * ino).  Its next read asks cachestat() (Linux 6.5) first
 * whether the range is in the page cache: if it is, the try runs as usual
 * (and a full answer forgets the fd); if not, and fstat still finds the
 * same file there, the try is skipped and the read is one backend op, as
 * after a try that said EAGAIN.  Only whether the try is made changes;
 * what the call reads, and where, is the backend op's as before.  A fd
 * never seen cold pays nothing: one load of this table.  A number reused
 * for another file costs one cachestat (and an fstat) once, and is then
 * tried as usual: a /proc file there, which has no page cache, must get
 * its answer from the kernel in the calling thread. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "engine.h"
#include "fdkind.h"
#include "sys.h"

#ifndef SYS_cachestat
#define SYS_cachestat 451 /* the same on x86-64 and aarch64 */
#endif

/* The ino is read on every coroutine's file read (engine.h); the dev
 * only when the fd is known cold. */
ASY_HIDDEN _Atomic unsigned long asy__cold_ino[ASY_COLD_FDS];
static _Atomic unsigned long cold_dev[ASY_COLD_FDS];

static _Atomic int no_cachestat; /* the kernel (or a seccomp filter) refuses it */

void asy__cold_forget(int fd)
{
	if (asy__cold_known(fd))
		atomic_store_explicit(&asy__cold_ino[fd], 0, memory_order_relaxed);
}

void asy__cold_learn(int fd, const struct stat *st)
{
	if (fd < 0 || fd >= ASY_COLD_FDS || no_cachestat)
		return;
	atomic_store_explicit(&cold_dev[fd], st->st_dev, memory_order_relaxed);
	atomic_store_explicit(&asy__cold_ino[fd], st->st_ino, memory_order_relaxed);
}

/* Are all pages of [off, off + len) in the page cache (1), not all (0),
 * or cannot the kernel say (-1)?  Pages being read count as present: a
 * try then finds them and starts no readahead for them. */
static int range_cached(int fd, off_t off, uint64_t len)
{
	struct { uint64_t off, len; } range = { (uint64_t)off, len };
	struct {
		uint64_t cache, dirty, writeback, evicted, recently_evicted;
	} cs;
	/* valgrind (3.19) does not know the system call: it would say so on
	 * the program's stderr, once (valgrind cp, a cold file's second read) */
	if (no_cachestat || RUNNING_ON_VALGRIND)
		return -1;
	long r = asy_sys(SYS_cachestat, fd, &range, &cs, 0, 0, 0);
	if (r == -ENOSYS || r == -EPERM) {
		no_cachestat = 1;
		return -1;
	}
	if (r < 0)
		return -1;
	uint64_t pg = (uint64_t)getpagesize();
	uint64_t pages = ((uint64_t)off + len - 1) / pg - (uint64_t)off / pg + 1;
	return cs.cache >= pages;
}

int asy__cold_skip(const struct asy_io *io, long total, struct stat *id)
{
	int fd = io->fd;
	if (total <= 0)
		return -1;
	off_t off = io->off >= 0 ? io->off : (off_t)asy_sys(SYS_lseek, fd, 0, SEEK_CUR, 0, 0, 0);
	if (off < 0) {
		asy__cold_forget(fd); /* no position: a pipe or socket now */
		return -1;
	}
	if (range_cached(fd, off, (uint64_t)total) != 0)
		return -1;
	int kind = asy__fd_kind(fd, id);
	if ((kind != ASY_K_FILE && kind != ASY_K_BLOCK) ||
	    atomic_load_explicit(&asy__cold_ino[fd], memory_order_relaxed) != id->st_ino ||
	    atomic_load_explicit(&cold_dev[fd], memory_order_relaxed) != id->st_dev) {
		asy__cold_forget(fd);
		return -1;
	}
	if (kind == ASY_K_FILE) {
		/* At or past EOF the try answers at once; the last part of a
		 * file is asked again without the pages past its end. */
		if (off >= id->st_size)
			return -1;
		if (off + total > id->st_size &&
		    range_cached(fd, off, (uint64_t)(id->st_size - off)) != 0)
			return -1;
	}
	return kind;
}
