/* A preloaded library whose constructor does I/O before asyncify's own
 * constructor has run (check-shim's calls_before_init). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((constructor)) static void early(void)
{
	int p[2];
	char b[16] = "";
	if (pipe(p) < 0)
		return;
	errno = 0;
	write(p[1], "early", 5);
	long n = read(p[0], b, sizeof b);
	int e = errno;
	char line[64];
	int len = snprintf(line, sizeof line, "early: read %ld '%.*s' errno %d\n", n, (int)(n > 0 ? n : 0), b, e);
	write(1, line, (size_t)len);
	close(p[0]);
	close(p[1]);
}
