/* What an fd is, for traces and the summary: a table of files keyed by
 * (device, inode), filled on the hot path without allocating — the first
 * call on a file does one fstat and one readlink of /proc/self/fd/N (raw
 * system calls) — and a per-fd cache of the table index.
 *
 * The program may close an fd and open another file under the same
 * number through calls we do not see (dup2, socket, stdio's own), so the
 * cache is re-checked with an fstat: on every call when per-call records
 * are written, every 64th call for the summary alone.  The calls we do
 * see forget the number at once: close and close_range, and those that
 * return a new fd (open, accept, F_DUPFD: trace-path.c).
 *
 * The same table holds one entry per path that path calls (stat, open,
 * rename, …) named, keyed by the path as shown, for the summary.
 *
 * A socket is named by its family and its peer (`tcp 127.0.0.1:5432`,
 * `udp [::1]:53`, `unix /run/x.sock`), or its own address while it has
 * no peer (a listening socket, or one not connected yet: looked at again
 * on later calls until it has one). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "trace-int.h"
#include "sys.h"

#define FDMAP ASY_FDMAP
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

const char *const asy__kind_names[ASY_KINDS] = { "regular", "pipe", "socket", "chardev",
						 "other", "path" };

const char *asy__kind_name(uint32_t mode)
{
	return asy__kind_names[asy__kind_index(mode)];
}

int asy__file_kind(const struct asy_file *f)
{
	return f->is_path ? ASY_KIND_PATH : asy__kind_index(f->mode);
}

const char *asy__file_kind_name(const struct asy_file *f)
{
	return asy__kind_names[asy__file_kind(f)];
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

/* ---- socket names, formatted by hand: this runs in signal handlers ---- */

struct buf {
	char *p;
	size_t n, len;
};

static void b_str(struct buf *b, const char *s)
{
	while (*s && b->len + 1 < b->n)
		b->p[b->len++] = *s++;
	b->p[b->len] = 0;
}

static void b_num(struct buf *b, unsigned long v, unsigned base)
{
	char t[24];
	int l = 0;
	do
		t[l++] = "0123456789abcdef"[v % base];
	while (v /= base);
	char s[24];
	for (int i = 0; i < l; i++)
		s[i] = t[l - 1 - i];
	s[l] = 0;
	b_str(b, s);
}

static void b_ip6(struct buf *b, const unsigned char *a)
{
	int best = -1, blen = 1;
	for (int i = 0; i < 8;) { /* the longest run of zero groups, as :: */
		int j = i;
		while (j < 8 && !a[2 * j] && !a[2 * j + 1])
			j++;
		if (j - i > blen)
			best = i, blen = j - i;
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			b_str(b, "::");
			i += blen - 1;
			continue;
		}
		if (i && i != best + blen)
			b_str(b, ":");
		b_num(b, (unsigned long)(a[2 * i] << 8 | a[2 * i + 1]), 16);
	}
}

/* 1 when the name is final (a peer, or a kind that never gets one). */
static int sock_name(int fd, char *out, size_t n)
{
	struct buf b = { out, n, 0 };
	int type = 0;
	socklen_t tl = sizeof type;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int peer = asy_sys(SYS_getpeername, fd, &ss, &sl, 0, 0, 0) == 0;
	if (!peer) {
		sl = sizeof ss;
		if (asy_sys(SYS_getsockname, fd, &ss, &sl, 0, 0, 0) < 0)
			return 0;
	}
	asy_sys(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &tl, 0);
	const char *t = type == SOCK_STREAM ? "tcp" : type == SOCK_DGRAM ? "udp" :
			type == SOCK_SEQPACKET ? "seqpacket" : "raw";
	out[0] = 0;
	switch (ss.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)&ss;
		const unsigned char *a = (const void *)&in->sin_addr;
		b_str(&b, t);
		b_str(&b, " ");
		for (int i = 0; i < 4; i++) {
			b_num(&b, a[i], 10);
			b_str(&b, i < 3 ? "." : ":");
		}
		b_num(&b, ntohs(in->sin_port), 10);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)&ss;
		b_str(&b, t);
		b_str(&b, " [");
		b_ip6(&b, in6->sin6_addr.s6_addr);
		b_str(&b, "]:");
		b_num(&b, ntohs(in6->sin6_port), 10);
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)&ss;
		size_t plen = sl > offsetof(struct sockaddr_un, sun_path) ?
				      sl - offsetof(struct sockaddr_un, sun_path) : 0;
		b_str(&b, type == SOCK_STREAM ? "unix" : type == SOCK_DGRAM ? "unix-dgram" :
										"unix-seqpacket");
		if (plen && un->sun_path[0]) {
			char p[sizeof un->sun_path + 1];
			memcpy(p, un->sun_path, plen < sizeof un->sun_path ? plen : sizeof un->sun_path);
			p[plen < sizeof un->sun_path ? plen : sizeof un->sun_path] = 0;
			b_str(&b, " ");
			b_str(&b, p);
		} else if (plen > 1) { /* abstract: @name */
			char p[sizeof un->sun_path];
			size_t k = plen - 1 < sizeof p - 1 ? plen - 1 : sizeof p - 1;
			memcpy(p, un->sun_path + 1, k);
			p[k] = 0;
			for (size_t i = 0; i < k; i++)
				p[i] = p[i] ? p[i] : '@';
			b_str(&b, " @");
			b_str(&b, p);
		}
		return peer || type != SOCK_STREAM;
	}
	default:
		return 1; /* netlink, packet, vsock, …: the kernel's socket:[ino] */
	}
	return peer || type != SOCK_STREAM;
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
	if (S_ISSOCK(st->st_mode)) {
		char name[sizeof f->path];
		f->renew = !sock_name(fd, name, sizeof name);
		if (name[0])
			memcpy(f->path, name, sizeof name);
	}
	asy_tsan_release(&f->ready);
	atomic_store_explicit(&f->ready, 1, memory_order_release);
}

/* A stream socket first seen without a peer: has it one now?  Taken
 * once (the first caller that sees the peer writes the name). */
static void sock_renew(struct asy_file *f, int fd)
{
	char name[sizeof f->path];
	if (!sock_name(fd, name, sizeof name))
		return;
	unsigned char one = 1;
	if (atomic_compare_exchange_strong(&f->renew, &one, 0))
		memcpy(f->path, name, sizeof name);
}

/* Find or add the file of fd; index, 0 when the table is full. */
static uint32_t file_find(int fd, const struct stat *st)
{
	uint64_t k = file_key(st->st_dev, st->st_ino);
	for (uint32_t i = 0; i < PROBES; i++) {
		uint32_t idx = 1 + (uint32_t)((k + i) % (ASY_FILES - 1));
		struct asy_file *f = &asy__files[idx];
		uint64_t cur = atomic_load_explicit(&f->key, memory_order_acquire);
		if (cur == k) {
			if (f->renew && atomic_load_explicit(&f->ready, memory_order_acquire))
				sock_renew(f, fd);
			return idx;
		}
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

/* ---- path entries: the summary's "top files" counts the time of the
 * calls that name a path (stat, open, rename, …) against that path ---- */

static uint64_t path_key(const char *s)
{
	uint64_t k = 0xcbf29ce484222325ull; /* FNV-1a, then mixed */
	for (; *s; s++)
		k = (k ^ (unsigned char)*s) * 0x100000001b3ull;
	k ^= k >> 31;
	k *= 0x94d049bb133111ebull;
	k ^= k >> 29;
	return k ? k : 2;
}

uint32_t asy__path_file(const char *shown)
{
	uint64_t k = path_key(shown);
	for (uint32_t i = 0; i < PROBES; i++) {
		uint32_t idx = 1 + (uint32_t)((k + i) % (ASY_FILES - 1));
		struct asy_file *f = &asy__files[idx];
		uint64_t cur = atomic_load_explicit(&f->key, memory_order_acquire);
		if (cur == 0) {
			uint64_t zero = 0;
			if (atomic_compare_exchange_strong(&f->key, &zero, k)) {
				atomic_fetch_or(&asy__files_used[idx / 64], 1ull << (idx % 64));
				size_t l = strlen(shown);
				l = l < sizeof f->path - 1 ? l : sizeof f->path - 1;
				memcpy(f->path, shown, l);
				f->path[l] = 0;
				f->is_path = 1;
				asy_tsan_release(&f->ready);
				atomic_store_explicit(&f->ready, 1, memory_order_release);
				return idx;
			}
			cur = zero;
		}
		if (cur == k)
			return idx;
	}
	return 0;
}

void asy__file_forget(int fd)
{
	if (fd >= 0 && fd < FDMAP)
		atomic_store_explicit(&fdmap[fd], 0, memory_order_relaxed);
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
