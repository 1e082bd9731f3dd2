/* Vectors: what one call of a vector moves at most, what is left of it
 * after `done` bytes (a call continued after a partial transfer), and
 * whether the kernel would take a vector it has not seen yet; and the
 * program's memory read and written as the kernel would. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "engine.h"
#include "sys.h"

#if __has_include(<valgrind/memcheck.h>) /* Debian's valgrind package (make deps) */
#include <valgrind/memcheck.h>
#define VG_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define VG_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#define PART 8 /* entries read at a time */

size_t asy__iov_total(const struct iovec *iov, int cnt)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len >= MAX_RW_COUNT - n)
			return MAX_RW_COUNT; /* never wraps, whatever a length says */
		n += iov[i].iov_len;
	}
	return n;
}

int asy__rest_of(struct asy_rest *r, const struct iovec *v, int cnt, size_t done)
{
	size_t total = asy__iov_total(v, cnt);
	size_t limit = total > done ? total - done : 0;
	while (cnt > 0 && done >= v->iov_len)
		done -= v->iov_len, v++, cnt--;
	r->v = r->small;
	r->mapped = 0;
	if (cnt > ASY_REST_SMALL) {
		r->mapped = (size_t)cnt * sizeof *v;
		r->v = asy__map(r->mapped);
		if (r->v == MAP_FAILED)
			return -ENOMEM;
	}
	memcpy(r->v, v, (size_t)cnt * sizeof *v);
	if (cnt) {
		r->v[0].iov_base = (char *)r->v[0].iov_base + done;
		r->v[0].iov_len -= done;
	}
	/* Never past what the program's one call could move. */
	size_t left = limit;
	int n = 0;
	for (; n < cnt && left; n++) {
		if (r->v[n].iov_len > left)
			r->v[n].iov_len = left;
		left -= r->v[n].iov_len;
	}
	r->cnt = n;
	return 0;
}

void asy__rest_free(struct asy_rest *r)
{
	if (r->mapped)
		asy__unmap(r->v, r->mapped);
}

/* The lowest top of user memory of the architectures (47 bits): a range
 * past it may be one the kernel refuses (access_ok). */
#define USER_TOP (1ULL << 47)

/* The total length of a vector the kernel has not seen yet, read without
 * trusting the pointer (process_vm_readv reports EFAULT); below 0 when
 * the kernel could refuse it before a byte moves — a length that is
 * negative as a ssize_t (EINVAL), a range that wraps or leaves user
 * memory (EFAULT) — so that the program's own call, which then never
 * waits, gives the kernel's answer in the kernel's order.  Never a vector
 * the backend would take where the program's call is refused. */
long asy__vec_total_safe(const struct asy_io *io)
{
	if (!io->iov || io->iov == &io->one)
		return (long)io->one.iov_len;
	size_t total = 0;
	for (int i = 0; i < io->iovcnt; i += PART) {
		struct iovec part[PART];
		int n = io->iovcnt - i < PART ? io->iovcnt - i : PART;
		struct iovec l = { part, (size_t)n * sizeof *part };
		struct iovec rm = { (void *)(io->iov + i), l.iov_len };
		if (asy_sys(SYS_process_vm_readv, asy__pid, &l, 1, &rm, 1, 0) != (long)l.iov_len)
			return -EFAULT;
		for (int k = 0; k < n; k++) {
			uintptr_t base = (uintptr_t)part[k].iov_base;
			size_t len = part[k].iov_len;
			if ((ssize_t)len < 0)
				return -EINVAL;
			if (len && (base + len < base || base + len > USER_TOP))
				return -EFAULT;
		}
		total += asy__iov_total(part, n);
		if (total > MAX_RW_COUNT)
			total = MAX_RW_COUNT;
	}
	return (long)total;
}

/* ---- the program's memory --------------------------------------------- */

int asy__copy_in(void *dst, const void *src, size_t n)
{
	if (!src)
		return -EFAULT;
	struct iovec l = { dst, n }, r = { (void *)src, n };
	return asy_sys(SYS_process_vm_readv, asy__pid, &l, 1, &r, 1, 0) == (long)n ? 0 : -EFAULT;
}

/* The program's memory written as the kernel would (a bad page: what
 * went before it, or EFAULT; a store would crash).  valgrind's memcheck
 * does not take process_vm_writev's remote side as written: the bytes
 * are told defined (a few no-op instructions outside valgrind), or cp
 * under valgrind, `main()` in a coroutine, saw its stat results as
 * uninitialised (coreutils' tests/cp/copy-FMR.sh). */
long asy__vm_write(const struct iovec *l, unsigned nl, const struct iovec *r, unsigned nr)
{
	long c = asy_sys(SYS_process_vm_writev, asy__pid, l, nl, r, nr, 0);
	for (size_t left = c > 0 ? (size_t)c : 0, i = 0; left && i < nr; i++) {
		size_t n = r[i].iov_len < left ? r[i].iov_len : left;
		VG_DEFINED(r[i].iov_base, n);
		left -= n;
	}
	return c;
}

int asy__copy_out(void *dst, const void *src, size_t n)
{
	struct iovec l = { (void *)src, n }, r = { dst, n };
	return asy__vm_write(&l, 1, &r, 1) == (long)n ? 0 : -EFAULT;
}
