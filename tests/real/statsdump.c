/* statsdump.so — preloaded *after* libasyncify.so by the real-program
 * tests.  At exit it writes this process's engine counters (asy_stats) to
 * $ASY_STATS_DIR/<pid>, one line, so a shell test can prove that the calls
 * of an unmodified program (cat, dd, sqlite3, …) really went through the
 * chosen backend.  It links against nothing of ours: asy_stats is looked up
 * with dlsym, and when it is absent (no shim preloaded) nothing is written.
 * Output uses raw syscalls so that writing the counters does not itself
 * go through the shim it measures. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "asyncify.h"

__attribute__((destructor)) static void statsdump(void)
{
	int (*stats)(struct asy_stats *) = (int (*)(struct asy_stats *))dlsym(RTLD_DEFAULT, "asy_stats");
	const char *(*name)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "asy_backend_name");
	const char *dir = getenv("ASY_STATS_DIR");
	struct asy_stats st;
	char path[4096], line[512];

	if (!stats || !dir || stats(&st) != 0)
		return;
	long pid = syscall(SYS_getpid);
	snprintf(path, sizeof path, "%s/%ld", dir, pid);
	int n = snprintf(line, sizeof line,
			 "pid=%ld backend=%s inline=%lu submitted=%lu uring=%lu threads=%lu "
			 "interrupted=%lu passed=%lu fallbacks=%lu\n",
			 pid, name ? name() : "?", st.inline_done, st.submitted, st.uring,
			 st.threads, st.interrupted, st.passed, st.fallbacks);
	long fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	syscall(SYS_write, fd, line, n);
	syscall(SYS_close, fd);
}
