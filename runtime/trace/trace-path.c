/* What a file system call names, for traces and the summary: the path
 * it was given, copied at the hook without trusting the pointer, and the
 * classes of calls (which move bytes, which are metadata).
 *
 * A path is read with process_vm_readv on our own pid, split at the page
 * boundary, so a pointer into unmapped memory gives EFAULT and never a
 * fault, and a string that ends just before an unmapped page is still
 * read whole.  At most ASY_TPATH bytes are read: a longer path is shown
 * by its first bytes (cut at a UTF-8 character) and marked.  An *at call
 * given a relative path and a directory fd is shown as the directory's
 * name (its file-table entry, trace-files.c), "/", and the path; "fd N/"
 * when the fd cannot be named.  Nothing here allocates, locks or blocks. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/close_range.h>

#include "trace-int.h"
#include "sys.h"

static const unsigned char fam[ASY_CALL_COUNT] = {
#define X(n, family, rd) [ASY_CALL_##n] = ASY_FAM_##family,
	ASY_CALLS(X)
#undef X
};

/* The copies: bytes move between two fds, the result counts them. */
static int is_copy(int call)
{
	return call == ASY_CALL_sendfile || call == ASY_CALL_splice || call == ASY_CALL_tee ||
	       call == ASY_CALL_vmsplice || call == ASY_CALL_copy_file_range;
}

int asy__call_class(int call)
{
	switch (fam[call]) {
	case ASY_FAM_rw:
	case ASY_FAM_sync:
		return ASY_TC_DATA;
	case ASY_FAM_net: /* accept, connect and the mmsg calls count no bytes */
		return call == ASY_CALL_recv || call == ASY_CALL_recvfrom ||
		       call == ASY_CALL_recvmsg || call == ASY_CALL_send ||
		       call == ASY_CALL_sendto || call == ASY_CALL_sendmsg ? ASY_TC_DATA : ASY_TC_OTHER;
	case ASY_FAM_fs:
		return is_copy(call) ? ASY_TC_DATA : ASY_TC_META;
	default:
		return ASY_TC_OTHER;
	}
}

/* The *at calls: the argument before the path is a directory fd. */
static int has_dirfd(int call)
{
	switch (call) {
	case ASY_CALL_openat: case ASY_CALL_fstatat: case ASY_CALL_statx:
	case ASY_CALL_faccessat: case ASY_CALL_unlinkat: case ASY_CALL_renameat:
	case ASY_CALL_renameat2: case ASY_CALL_mkdirat: case ASY_CALL_linkat:
	case ASY_CALL_symlinkat: case ASY_CALL_readlinkat:
		return 1;
	default:
		return 0;
	}
}

/* Up to n (< 4096) bytes of the program's memory at p, stopping at the
 * first page that cannot be read: bytes read, or -errno. */
static long read_mem(const char *p, char *out, size_t n)
{
	size_t first = 4096 - ((uintptr_t)p & 4095);
	struct iovec l = { out, n }, r[2] = { { (void *)p, n } };
	int cnt = 1;
	if (first < n) {
		r[0].iov_len = first;
		r[1].iov_base = (void *)(p + first);
		r[1].iov_len = n - first;
		cnt = 2;
	}
	return asy_sys(SYS_process_vm_readv, asy__pid, &l, 1, r, cnt, 0);
}

static size_t put_str(char *out, size_t o, size_t n, const char *s)
{
	while (*s && o < n)
		out[o++] = *s++;
	return o;
}

static size_t put_num(char *out, size_t o, size_t n, unsigned long v, unsigned base)
{
	char t[24];
	int l = 0;
	do
		t[l++] = "0123456789abcdef"[v % base];
	while (v /= base);
	while (l && o < n)
		out[o++] = t[--l];
	return o;
}

/* The directory fd's name, "fd N" when it has none we know. */
static size_t dir_name(int dfd, int recheck, char *out, size_t n)
{
	uint32_t idx = asy__file_of(dfd, recheck);
	const struct asy_file *f = &asy__files[idx];
	int ready = idx && atomic_load_explicit(&f->ready, memory_order_acquire);
	if (ready)
		asy_tsan_acquire(&f->ready);
	if (ready && !f->is_path && f->path[0] == '/')
		return put_str(out, 0, n, f->path);
	return put_num(out, put_str(out, 0, n, "fd "), n, (unsigned)dfd, 10);
}

int asy__trace_path(const struct asy_io *io, int recheck, char *out)
{
	if (fam[io->call] != ASY_FAM_fs || io->path < 0 || io->path > 5)
		return ASY_TP_NONE;
	const char *p = (const char *)io->a[io->path];
	char raw[ASY_TPATH], tmp[2 * ASY_TPATH + 1];
	long n = read_mem(p, raw, sizeof raw);
	size_t len = n > 0 ? strnlen(raw, (size_t)n) : 0;
	if (n <= 0 || (len == (size_t)n && len < sizeof raw)) {
		/* Unreadable, or the string runs into memory that is. */
		size_t o = 0;
		if (n == -EPERM || n == -ENOSYS) /* process_vm_readv not allowed here */
			o = put_str(out, 0, ASY_TPATH, "?");
		else
			o = put_num(out, put_str(out, 0, ASY_TPATH, "0x"), ASY_TPATH,
				    (unsigned long)p, 16);
		out[o] = 0;
		return ASY_TP_BAD;
	}
	size_t o = 0;
	if (has_dirfd(io->call) && raw[0] != '/' && io->a[io->path - 1] != AT_FDCWD) {
		o = dir_name((int)io->a[io->path - 1], recheck, tmp, ASY_TPATH);
		if (len)
			tmp[o++] = '/';
	}
	memcpy(tmp + o, raw, len);
	o += len;
	int cut = len == sizeof raw || o > ASY_TPATH - 1;
	if (cut) { /* room for "…" (3 bytes), before a whole UTF-8 character */
		o = ASY_TPATH - 4;
		while (o && ((unsigned char)tmp[o] & 0xc0) == 0x80)
			o--;
	}
	memcpy(out, tmp, o);
	out[o] = 0;
	return cut ? ASY_TP_CUT : ASY_TP_FULL;
}

uint64_t asy__fs_size(const struct asy_io *io)
{
	switch (io->call) {
	case ASY_CALL_sendfile: return (uint64_t)io->a[3];
	case ASY_CALL_splice: return (uint64_t)io->a[4];
	case ASY_CALL_tee: return (uint64_t)io->a[2];
	case ASY_CALL_copy_file_range: return (uint64_t)io->a[4];
	default: return 0; /* vmsplice: its vector is the program's, unread */
	}
}

long asy__fs_result(const struct asy_io *io, long res)
{
	return io->call == ASY_CALL_posix_fallocate && res > 0 ? -res : res;
}

void asy__fs_fds(const struct asy_io *io, long res)
{
	switch (io->call) {
	case ASY_CALL_close:
		asy__file_forget(io->fd); /* even on error: EINTR closed it too */
		break;
	case ASY_CALL_close_range:
		if (res == 0 && !(io->a[2] & CLOSE_RANGE_CLOEXEC))
			for (unsigned long f = (unsigned)io->a[0]; f <= (unsigned)io->a[1] &&
								    f < ASY_FDMAP; f++)
				asy__file_forget((int)f);
		break;
	case ASY_CALL_fcntl:
		if (io->a[1] != F_DUPFD && io->a[1] != F_DUPFD_CLOEXEC)
			break;
		/* fall through */
	case ASY_CALL_open: case ASY_CALL_openat: case ASY_CALL_creat:
	case ASY_CALL_accept: case ASY_CALL_accept4: case ASY_CALL_dup2: case ASY_CALL_dup3:
		if (res >= 0)
			asy__file_forget((int)res);
		break;
	default:
		break;
	}
}
