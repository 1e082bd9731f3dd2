/* Vectors: what one call of a vector moves at most, and what is left of
 * it after `done` bytes (a call continued after a partial transfer). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "engine.h"

size_t asy__iov_total(const struct iovec *iov, int cnt)
{
	size_t n = 0;
	for (int i = 0; i < cnt && n < MAX_RW_COUNT; i++)
		n += iov[i].iov_len;
	return n < MAX_RW_COUNT ? n : MAX_RW_COUNT;
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
		r->v = mmap(NULL, r->mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
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
		munmap(r->v, r->mapped);
}
