/* dropcache — evict files from the page cache, so that the next read of
 * them must wait for the disk and cannot be answered by the shim's
 * non-blocking try (preadv2 RWF_NOWAIT).
 *
 *   dropcache FILE...
 *
 * Dirty pages cannot be dropped, so each file is written back first
 * (fdatasync), then POSIX_FADV_DONTNEED drops its clean pages.  Pages of a
 * file written moments ago may still sit in another CPU's LRU batch, where
 * DONTNEED cannot reach them, so mincore() checks what is still resident
 * and the drop is retried for up to a second.  Exit 0, or 1 when a file
 * could not be opened or still has pages cached. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Pages of fd still in the page cache, or -1. */
static long resident(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (st.st_size == 0)
		return 0;
	long pg = sysconf(_SC_PAGESIZE);
	size_t n = (size_t)((st.st_size + pg - 1) / pg);
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char *vec = malloc(n);
	long count = -1;
	if (m != MAP_FAILED && vec && mincore(m, (size_t)st.st_size, vec) == 0) {
		count = 0;
		for (size_t i = 0; i < n; i++)
			count += vec[i] & 1;
	}
	free(vec);
	if (m != MAP_FAILED)
		munmap(m, (size_t)st.st_size);
	return count;
}

static int drop(const char *path)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long left = -1;
	if (fd < 0 || fdatasync(fd) < 0) {
		perror(path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (int i = 0; i < 50; i++) {
		if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
			break;
		left = resident(fd);
		if (left <= 0)
			break;
		nanosleep(&ts, NULL);
	}
	close(fd);
	if (left > 0)
		fprintf(stderr, "dropcache: %s: %ld pages still cached\n", path, left);
	else if (left < 0)
		fprintf(stderr, "dropcache: %s: cannot drop or check its pages\n", path);
	return left == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		if (drop(argv[i]) < 0)
			rc = 1;
	}
	return rc;
}
