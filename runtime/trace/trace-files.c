/* What an fd is, for traces and the summary: a table of files keyed by
 * (device, inode), filled on the hot path without allocating — the first
 * call on a file does one fstat and one readlink of /proc/self/fd/N (raw
 * system calls) — and a per-fd cache of the table index.
 *
 * Nothing tells us when the program closes an fd and opens another file
 * under the same number, so the cache is re-checked with an fstat: on
 * every call when per-call records are written, every 64th call for the
 * summary alone. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "trace-int.h"
#include "sys.h"

#define FDMAP 4096 /* fds cached; larger numbers re-check every call */
#define PROBES 32
#define RECHECK_EVERY 64

struct asy_file *asy__files;
_Atomic uint64_t asy__files_used[ASY_FILES / 64];
/* Per fd: the file index + 1 in the low 16 bits, a call counter above. */
static _Atomic uint32_t *fdmap;

int asy__files_init(void)
{
	size_t n = sizeof(struct asy_file) * ASY_FILES + sizeof(*fdmap) * FDMAP;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	asy__files = p;
	fdmap = (void *)(asy__files + ASY_FILES);
	strcpy(asy__files[0].path, "?");
	atomic_store(&asy__files[0].ready, 1);
	return 0;
}

const char *asy__kind_name(uint32_t mode)
{
	static const char *const names[ASY_KINDS] = { "regular", "pipe", "socket", "chardev",
						      "other" };
	return names[asy__kind_index(mode)];
}

int asy__kind_index(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return 0;
	case S_IFIFO: return 1;
	case S_IFSOCK: return 2;
	case S_IFCHR: return 3;
	default: return 4;
	}
}

int asy__size_bucket(uint64_t n)
{
	int b = n ? 64 - __builtin_clzll(n) : 0; /* 0, 1, [2,4) -> 2, … */
	return b < ASY_SIZE_BUCKETS ? b : ASY_SIZE_BUCKETS - 1;
}

static uint64_t file_key(uint64_t dev, uint64_t ino)
{
	uint64_t k = (dev * 0x9e3779b97f4a7c15ull) ^ (ino * 0xc2b2ae3d27d4eb4full);
	k ^= k >> 29;
	return k ? k : 1;
}

static void file_fill(struct asy_file *f, int fd, const struct stat *st)
{
	char link[40];
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->mode = st->st_mode;
	/* "/proc/self/fd/N" without snprintf: this runs in signal handlers. */
	char num[12];
	int l = 0;
	unsigned u = (unsigned)fd;
	do
		num[l++] = (char)('0' + u % 10);
	while (u /= 10);
	memcpy(link, "/proc/self/fd/", 14);
	for (int i = 0; i < l; i++)
		link[14 + i] = num[l - 1 - i];
	link[14 + l] = 0;
	long n = asy_sys(SYS_readlinkat, AT_FDCWD, link, f->path, sizeof f->path - 1, 0, 0);
	if (n < 0)
		n = 0;
	f->path[n] = 0;
	atomic_store_explicit(&f->ready, 1, memory_order_release);
}

/* Find or add the file of fd; index, 0 when the table is full. */
static uint32_t file_find(int fd, const struct stat *st)
{
	uint64_t k = file_key(st->st_dev, st->st_ino);
	for (uint32_t i = 0; i < PROBES; i++) {
		uint32_t idx = 1 + (uint32_t)((k + i) % (ASY_FILES - 1));
		struct asy_file *f = &asy__files[idx];
		uint64_t cur = atomic_load_explicit(&f->key, memory_order_acquire);
		if (cur == k)
			return idx;
		if (cur == 0) {
			uint64_t zero = 0;
			if (atomic_compare_exchange_strong(&f->key, &zero, k)) {
				atomic_fetch_or(&asy__files_used[idx / 64], 1ull << (idx % 64));
				file_fill(f, fd, st);
				return idx;
			}
			if (zero == k)
				return idx;
		}
	}
	return 0;
}

uint32_t asy__file_of(int fd, int recheck)
{
	struct stat st;
	_Atomic uint32_t *slot = fd >= 0 && fd < FDMAP ? &fdmap[fd] : NULL;
	uint32_t v = slot ? atomic_load_explicit(slot, memory_order_relaxed) : 0;
	if (v & 0xffff && !recheck && (v >> 16) % RECHECK_EVERY) {
		atomic_store_explicit(slot, v + 0x10000, memory_order_relaxed);
		return (v & 0xffff) - 1;
	}
	if (asy_sys(SYS_fstat, fd, &st, 0, 0, 0, 0) < 0)
		return 0;
	uint32_t idx = file_find(fd, &st);
	if (slot)
		atomic_store_explicit(slot, (idx + 1) | ((v & 0xffff0000u) + 0x10000), memory_order_relaxed);
	return idx;
}
