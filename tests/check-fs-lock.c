/* Files, part 4: locks and FIFO opens, the calls of issue 11 that wait
 * for someone else.  Same variants and rules as check-fs.c: flock,
 * fcntl/fcntl64 with F_SETLKW and F_OFD_SETLKW (every other command
 * passes through untouched: F_GETLK, F_SETLK, F_DUPFD …), lockf/lockf64;
 * each wait ended by the holder letting go, and — on plain threads — by
 * a handler: EINTR without SA_RESTART, a restart with it (signal(7):
 * flock, F_SETLKW and a FIFO open are restarted).
 *
 * POSIX locks belong to the process, so their holder is another process
 * (t_hold); flock and OFD locks belong to the open file description, so
 * a second open() of the same file in this process conflicts too.
 * Times are printed as yes/no against a bound; an alarm turns a hang
 * into "signal 14". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "t-helpers.h"

#define yes t_yes

static void start(void)
{
	alarm(10);
	t_fs_dir();
	t_put("f", "lock me");
	mkfifo("fifo", 0600);
}

static void show_wait(double t0, int ms)
{
	double el = t_ms() - t0;
	t_out("  waited>=%dms: %s, <2s: %s\n", ms, yes(el >= ms - 1), yes(el < 2000));
}

static struct flock whole(short type)
{
	return (struct flock){ .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
}

/* ==== the waiting calls, by kind ======================================= */

enum { K_FLOCK, K_SETLKW, K_SETLKW64, K_OFD, K_LOCKF, K_LOCKF64, K_N };
static const char *const kname[K_N] = {
	"flock", "fcntl-F_SETLKW", "fcntl64-F_SETLKW", "fcntl-F_OFD_SETLKW", "lockf-F_LOCK",
	"lockf64-F_LOCK",
};
/* What holds the lock for kind k (t_hold's kinds). */
static const char *const holder_kind[K_N] = { "flock", "posix", "posix", "ofd", "posix", "posix" };

/* The blocking call of kind k on fd (opened O_RDWR). */
static long lock_wait(int k, int fd)
{
	struct flock fl = whole(F_WRLCK);
	switch (k) {
	case K_FLOCK: return flock(fd, LOCK_EX);
	case K_SETLKW: return fcntl(fd, F_SETLKW, &fl);
	case K_SETLKW64: return fcntl64(fd, F_SETLKW, &fl);
	case K_OFD: return fcntl(fd, F_OFD_SETLKW, &fl);
	case K_LOCKF: return lockf(fd, F_LOCK, 0);
	default: return lockf64(fd, F_LOCK, 0);
	}
}

/* Whether another process can take a lock of kind "flock", "posix" or
 * "ofd" on f now: "yes", or why not ("EAGAIN"). */
static const char *free_now(const char *kind)
{
	struct t_holder h;
	char nb[16];
	snprintf(nb, sizeof nb, "%s-nb", kind);
	if (t_hold(&h, nb, "f") < 0)
		return t_errname(errno);
	t_release(&h);
	return "yes";
}

static struct t_holder holder;

static void release_holder(void *arg)
{
	(void)arg;
	t_release(&holder);
}

/* Another process holds the lock and lets go 50 ms later: the call waits
 * for it and then holds the lock. */
static void lock_waits_for_holder(void)
{
	start();
	for (int k = 0; k < K_N; k++) {
		int fd = open("f", O_RDWR);
		t_out("%s: held by another: %s\n", kname[k],
		      yes(t_hold(&holder, holder_kind[k], "f") == 0));
		double t0 = t_ms();
		pthread_t th = t_later(release_holder, NULL, 50);
		t_res("  wait", lock_wait(k, fd));
		show_wait(t0, 50);
		pthread_join(th, NULL);
		t_out("  another process can take it: %s\n", free_now(holder_kind[k]));
		close(fd);
		t_out("  after close: %s\n", free_now(holder_kind[k]));
	}
}

/* flock and OFD locks of two open file descriptions of one process
 * conflict; another thread holds one and lets go 50 ms later. */
static int thread_fd;

static void thread_unlock(void *arg)
{
	if (arg)
		flock(thread_fd, LOCK_UN);
	else
		fcntl(thread_fd, F_OFD_SETLK, &(struct flock){ .l_type = F_UNLCK });
}

static void lock_waits_for_thread(void)
{
	start();
	for (int ofd = 0; ofd < 2; ofd++) {
		struct flock fl = whole(F_WRLCK);
		thread_fd = open("f", O_RDWR);
		int fd = open("f", O_RDWR);
		t_res(ofd ? "ofd-held" : "flock-held",
		      ofd ? fcntl(thread_fd, F_OFD_SETLK, &fl) : flock(thread_fd, LOCK_EX));
		t_res("  try", ofd ? fcntl(fd, F_OFD_SETLK, &fl) : flock(fd, LOCK_EX | LOCK_NB));
		double t0 = t_ms();
		pthread_t th = t_later(thread_unlock, ofd ? NULL : (void *)1, 50);
		t_res("  wait", ofd ? fcntl(fd, F_OFD_SETLKW, &fl) : flock(fd, LOCK_SH));
		show_wait(t0, 50);
		pthread_join(th, NULL);
		t_res("  other now", ofd ? fcntl(thread_fd, F_OFD_SETLK, &fl) :
					   flock(thread_fd, LOCK_EX | LOCK_NB));
		close(fd);
		close(thread_fd);
	}
}

/* ==== what never waits ================================================ */

static void lock_flock_calls(void)
{
	int p[2];
	start();
	int a = open("f", O_RDWR), b = open("f", O_RDONLY), c = dup(a);
	t_res("ex", flock(a, LOCK_EX));
	t_res("other-ex-nb", flock(b, LOCK_EX | LOCK_NB));
	t_res("other-sh-nb", flock(b, LOCK_SH | LOCK_NB));
	t_res("dup-ex-nb", flock(c, LOCK_EX | LOCK_NB));
	t_res("downgrade", flock(a, LOCK_SH));
	t_res("other-sh-nb", flock(b, LOCK_SH | LOCK_NB));
	t_res("upgrade-nb", flock(a, LOCK_EX | LOCK_NB));
	t_res("other-un", flock(b, LOCK_UN));
	t_res("upgrade-nb", flock(a, LOCK_EX | LOCK_NB));
	t_res("dup-un", flock(c, LOCK_UN));
	t_res("other-ex-nb", flock(b, LOCK_EX | LOCK_NB));
	t_res("un-not-held", flock(a, LOCK_UN));
	t_res("bad-op", flock(a, 0));
	t_res("bad-op-nb", flock(a, LOCK_NB));
	t_res("ebadf", flock(999, LOCK_EX));
	pipe(p);
	t_res("pipe", flock(p[0], LOCK_EX | LOCK_NB));
	t_res("dir", flock(open(".", O_RDONLY), LOCK_EX | LOCK_NB));
	close(b);
	t_res("after-close", flock(a, LOCK_EX | LOCK_NB));
	t_out("another process can take it: %s\n", free_now("flock"));
	close(a);
	t_out("after close(a): %s\n", free_now("flock"));
	close(c);
	t_out("after close(dup): %s\n", free_now("flock"));
}

/* Every fcntl command other than the two waiting ones is the program's
 * own, arguments and results untouched. */
static void lock_fcntl_passthrough(void)
{
	struct t_holder h;
	int p[2];
	start();
	int fd = open("f", O_RDWR), ro = open("f", O_RDONLY);
	t_out("holder: %s\n", yes(t_hold(&h, "posix", "f") == 0));
	struct flock fl = whole(F_RDLCK);
	t_res("getlk", fcntl(fd, F_GETLK, &fl));
	t_out("  type=%s pid-is-holder=%s start=%ld len=%ld\n", fl.l_type == F_WRLCK ? "wr" : "?",
	      yes(fl.l_pid == h.pid), (long)fl.l_start, (long)fl.l_len);
	fl = whole(F_WRLCK);
	t_res("getlk64", fcntl64(fd, F_GETLK, &fl));
	t_out("  pid-is-holder=%s\n", yes(fl.l_pid == h.pid));
	fl = whole(F_WRLCK);
	t_res("setlk", fcntl(fd, F_SETLK, &fl));
	t_res("ofd-setlk", fcntl(fd, F_OFD_SETLK, &fl));
	fl = whole(F_WRLCK);
	t_res("ofd-getlk", fcntl(fd, F_OFD_GETLK, &fl));
	t_out("  type=%s pid-is-holder=%s\n", fl.l_type == F_WRLCK ? "wr" : "?", yes(fl.l_pid == h.pid));
	t_release(&h);
	fl = whole(F_WRLCK);
	t_res("setlk-free", fcntl(fd, F_SETLK, &fl));
	fl = whole(F_WRLCK);
	fl.l_pid = 1;
	t_res("ofd-with-pid", fcntl(fd, F_OFD_SETLK, &fl));
	fl = whole(F_WRLCK);
	t_res("setlkw-rdonly-wrlck", fcntl(ro, F_SETLKW, &fl));
	fl = whole(77);
	t_res("setlkw-bad-type", fcntl(fd, F_SETLKW, &fl));
	t_res("setlkw-efault", fcntl(fd, F_SETLKW, (struct flock *)8));
	t_res("ofd-setlkw-efault", fcntl(fd, F_OFD_SETLKW, (struct flock *)8));
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = -5, .l_len = 1 };
	t_res("setlkw-negative-start", fcntl(fd, F_SETLKW, &fl));
	fl = whole(F_UNLCK);
	t_res("setlkw-unlock", fcntl(fd, F_SETLKW, &fl));
	fl = whole(F_WRLCK);
	t_res("setlkw-ebadf", fcntl(999, F_SETLKW, &fl));
	int low = t_lowest_free();
	t_out("dupfd-10: %s\n", yes(fcntl(fd, F_DUPFD, low + 10) == low + 10));
	t_out("dupfd-0: %s\n", yes(fcntl(fd, F_DUPFD, 0) == low));
	int dc = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	t_out("dupfd-cloexec: %s\n", t_fdflags(dc));
	t_res("setfl", fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
	t_out("getfl: %s\n", t_fdflags(fd));
	pipe(p);
	t_res("setpipe-sz", fcntl(p[0], F_SETPIPE_SZ, 8192));
	t_res("getpipe-sz", fcntl(p[1], F_GETPIPE_SZ));
	t_res("bad-cmd", fcntl(fd, 9999, 0));
	t_res("fcntl64-getfd", fcntl64(dc, F_GETFD));
	t_res("getlease", fcntl(ro, F_GETLEASE));
}

static void lock_lockf_calls(void)
{
	struct t_holder h;
	start();
	int fd = open("f", O_RDWR), ro = open("f", O_RDONLY);
	t_out("holder: %s\n", yes(t_hold(&h, "posix", "f") == 0));
	t_res("tlock-held", lockf(fd, F_TLOCK, 0));
	t_res("test-held", lockf(fd, F_TEST, 0));
	t_res("tlock64-held", lockf64(fd, F_TLOCK, 0));
	t_release(&h);
	t_res("test-free", lockf(fd, F_TEST, 0));
	t_res("tlock", lockf(fd, F_TLOCK, 3));
	t_res("lock-again", lockf(fd, F_LOCK, 3));
	t_res("ulock", lockf(fd, F_ULOCK, 3));
	t_res("rdonly", lockf(ro, F_LOCK, 0));
	t_res("bad-cmd", lockf(fd, 42, 0));
	t_res("ebadf", lockf(999, F_LOCK, 0));
	t_res("negative-len", lockf64(fd, F_LOCK, -100));
	t_out("another process: %s\n", free_now("posix"));
	lseek(fd, 2, SEEK_SET);
	t_res("lock-from-pos", lockf(fd, F_LOCK, 2));
	t_out("another process: %s\n", free_now("posix"));
	close(ro);
	t_out("after closing another fd: %s\n", free_now("posix"));
}

/* ==== FIFO opens ======================================================== */

static int peer_flags;

static void open_peer(void *arg)
{
	(void)arg;
	int fd = open("fifo", peer_flags);
	if (fd < 0)
		perror("peer open");
	else if (peer_flags == O_WRONLY)
		write(fd, "hi", 2);
}

/* Each end waits for the other, opened 50 ms later by another thread. */
static void fifo_open_waits(void)
{
	char b[8];
	start();
	for (int wr = 0; wr < 2; wr++) {
		peer_flags = wr ? O_RDONLY : O_WRONLY;
		double t0 = t_ms();
		pthread_t th = t_later(open_peer, NULL, 50);
		int fd = wr ? open("fifo", O_WRONLY) : openat(AT_FDCWD, "fifo", O_RDONLY);
		t_out("%s: %s\n", wr ? "open-wronly" : "openat-rdonly", fd >= 0 ? "fd" : t_errname(errno));
		show_wait(t0, 50);
		pthread_join(th, NULL);
		if (!wr)
			t_res("  read", read(fd, b, sizeof b));
		close(fd);
	}
	t_res("nonblock-rdonly", open("fifo", O_RDONLY | O_NONBLOCK) >= 0);
	t_res("rdwr", open("fifo", O_RDWR) >= 0);
}

/* ==== signals: EINTR, or a restart under SA_RESTART ====================== */

/* A FIFO open interrupted: EINTR without SA_RESTART; with it the open
 * restarts and ends when the peer comes (50 ms after the signal). */
static void fifo_signal(int flags)
{
	start();
	t_handle(SIGUSR1, flags);
	for (int wr = 0; wr < 2; wr++) {
		t_handled = 0;
		peer_flags = wr ? O_RDONLY | O_NONBLOCK : O_WRONLY;
		pthread_t ts = t_later_signal(SIGUSR1, 10), tp = 0;
		if (flags)
			tp = t_after_signal(open_peer, NULL, 50);
		int fd = wr ? open64("fifo", O_WRONLY) : open("fifo", O_RDONLY);
		t_out("%s: %s handled=%d\n", wr ? "wronly" : "rdonly", fd >= 0 ? "fd" : t_errname(errno),
		      (int)t_handled);
		pthread_join(ts, NULL);
		if (tp)
			pthread_join(tp, NULL);
		if (fd >= 0)
			close(fd);
	}
}

static void fifo_open_eintr(void) { fifo_signal(0); }
static void fifo_open_restart(void) { fifo_signal(SA_RESTART); }

/* Each waiting lock call interrupted while another process holds the
 * lock: EINTR and the lock still the holder's; with SA_RESTART the call
 * restarts and gets the lock when the holder lets go after the signal. */
static void lock_signal(int flags)
{
	start();
	t_handle(SIGUSR1, flags);
	for (int k = 0; k < K_N; k++) {
		int fd = open("f", O_RDWR);
		t_handled = 0;
		t_out("%s: held: %s\n", kname[k], yes(t_hold(&holder, holder_kind[k], "f") == 0));
		pthread_t ts = t_later_signal(SIGUSR1, 10), tr = 0;
		if (flags)
			tr = t_after_signal(release_holder, NULL, 50);
		long r = lock_wait(k, fd);
		t_out("  %s handled=%d\n", r < 0 ? t_errname(errno) : "locked", (int)t_handled);
		pthread_join(ts, NULL);
		if (tr) {
			pthread_join(tr, NULL);
		} else {
			t_out("  another process: %s\n", free_now(holder_kind[k]));
			t_release(&holder);
		}
		close(fd);
	}
}

static void lock_eintr(void) { lock_signal(0); }
static void lock_restart(void) { lock_signal(SA_RESTART); }

/* ==== the table ========================================================
 * T_NOCORO: a handler interrupts the call (inside coroutines a signal
 * does not interrupt hooked calls: README).  T_BACKEND: the coroutine
 * waits in a hooked call. */
#define C(name, flags) { #name, name, flags }
static const struct t_case cases[] = {
	C(lock_waits_for_holder, T_BACKEND),
	C(lock_waits_for_thread, T_BACKEND),
	C(lock_flock_calls, 0),
	C(lock_fcntl_passthrough, 0),
	C(lock_lockf_calls, 0),
	C(fifo_open_waits, T_BACKEND),
	C(fifo_open_eintr, T_NOCORO),
	C(fifo_open_restart, T_NOCORO),
	C(lock_eintr, T_NOCORO),
	C(lock_restart, T_NOCORO),
	{ NULL, NULL, 0 },
};
#undef C

int main(int argc, char **argv)
{
	t_fs_helper_main(argc, argv);
	return t_cases_main(argc, argv, cases, "fs-lock", 150);
}
