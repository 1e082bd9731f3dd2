/* corocat FILE|- ...: copy each input to stdout, in order, reading it with
 * plain pread()/read() from inside a coroutine while a second coroutine ticks
 * every millisecond (so the reader is never alone on its thread and its
 * calls that wait go through the engine).  The coroutine API is looked up
 * with dlsym: without the library the same reads run on the main thread.
 * Used by run-real.sh to show the engine's mechanism from outside
 * (strace) and the io_uring fallback under seccomp. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coapi.h"

static char **files;
static int nfiles, status, finished;

static void copy(const char *path)
{
	static char buf[65536];
	int fd = strcmp(path, "-") ? open(path, O_RDONLY) : 0;
	if (fd < 0) {
		perror(path);
		status = 1;
		return;
	}
	/* A regular file is read at explicit offsets (pread, as a legacy
	 * library would), anything else with read(). */
	off_t pos = lseek(fd, 0, SEEK_CUR);
	ssize_t n;
	while ((n = pos >= 0 ? pread(fd, buf, sizeof buf, pos) : read(fd, buf, sizeof buf)) > 0 &&
	       (pos < 0 || (pos += n)))
		for (ssize_t off = 0, w; off < n; off += w)
			if ((w = write(1, buf + off, (size_t)(n - off))) < 0) {
				perror("write");
				status = 1;
				return;
			}
	if (n < 0) {
		perror(path);
		status = 1;
	}
	if (fd)
		close(fd);
}

static void reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < nfiles; i++)
		copy(files[i]);
	finished = 1;
}

static void ticker(void *arg)
{
	(void)arg;
	while (!finished)
		co_sleep(co_now() + 1000000);
}

int main(int argc, char **argv)
{
	files = argv + 1;
	nfiles = argc - 1;
	co_api();
	if (!co_go || !co_run || !co_sleep || !co_now) {
		reader(NULL);
		return status;
	}
	co_go(reader, NULL);
	co_go(ticker, NULL);
	co_run();
	return status;
}
