/* seccomp-run — run a command with io_uring blocked by a seccomp filter,
 * the way container runtimes block it (Docker >= 25 default profile).
 *
 *   seccomp-run MODE cmd [args...]
 *
 * MODE:
 *   setup-eperm   io_uring_setup fails with EPERM
 *   setup-enosys  io_uring_setup fails with ENOSYS (kernel without io_uring)
 *   enter-eperm   io_uring_setup works, io_uring_enter fails with EPERM
 *                 (the ring is made, and refused at the first submit)
 *
 * Every other system call is allowed.  The filter is inherited by the
 * command (exec keeps it; PR_SET_NO_NEW_PRIVS lets an unprivileged user
 * install it).  Exit status: the command's, or 125 when the filter could
 * not be installed, 126/127 when the command could not be run. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH_NR AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH_NR AUDIT_ARCH_AARCH64
#else
#error "seccomp-run: add this architecture's AUDIT_ARCH_* value"
#endif

#define RET_ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

/* Refuse system call `nr` with errno `err`.  A call made with another
 * audit architecture (e.g. i386 from a 32-bit program) is not ours to
 * judge, and its numbers mean other calls: allow it.  On x86-64 the x32
 * ABI uses the same architecture with bit 30 set in the number, so that
 * spelling of the call is refused too. */
static int install(int nr, int err)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr | 0x40000000u, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, RET_ERRNO(err)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = { .len = sizeof prog / sizeof prog[0], .filter = prog };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0)
		return -errno;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: seccomp-run setup-eperm|setup-enosys|enter-eperm cmd [args...]\n");
}

int main(int argc, char **argv)
{
	int nr, err;

	if (argc < 3) {
		usage();
		return 125;
	}
	if (!strcmp(argv[1], "setup-eperm")) {
		nr = __NR_io_uring_setup, err = EPERM;
	} else if (!strcmp(argv[1], "setup-enosys")) {
		nr = __NR_io_uring_setup, err = ENOSYS;
	} else if (!strcmp(argv[1], "enter-eperm")) {
		nr = __NR_io_uring_enter, err = EPERM;
	} else {
		usage();
		return 125;
	}
	int r = install(nr, err);
	if (r < 0) {
		fprintf(stderr, "seccomp-run: cannot install the filter: %s\n", strerror(-r));
		return 125;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "seccomp-run: %s: %s\n", argv[2], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
