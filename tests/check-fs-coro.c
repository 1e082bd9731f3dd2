/* Files inside coroutines (issue 11, "Inside coroutines").
 *
 * The same jobs run as coroutines on one thread under the shim (uring,
 * threads) and as plain threads without it (t_spawn): each must print
 * the same lines both ways.  Most of them would deadlock if the call
 * blocked the thread — a FIFO open completed by another coroutine's open
 * of the other end, a flock or F_SETLKW released by another coroutine, a
 * splice fed by another coroutine — and an alarm turns that into
 * "signal 14".  Then the cases only the engine can answer, with exact
 * expected output: asy_io_deadline and asy_cancel end a FIFO open, a
 * lock wait and a copy with ETIMEDOUT / ECANCELED, soon, and leave
 * nothing behind: no fd opened, no lock taken, no byte moved, no file
 * position changed; the engine's counters show the call went through a
 * backend and was interrupted there. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "asyncify.h"
#include "t-helpers.h"

#define yes t_yes
#define MS 1000000L

/* ---- like threads ---------------------------------------------------- */

/* 16 jobs, each cycling through the metadata calls on files of its own. */
static void j_cycle(int i)
{
	char a[32], b[32], l[32], buf[32];
	struct stat st;
	snprintf(a, sizeof a, "a%d", i);
	snprintf(b, sizeof b, "b%d", i);
	snprintf(l, sizeof l, "l%d", i);
	int ok = 0;
	for (int r = 0; r < 8; r++) {
		int fd = open(a, O_RDWR | O_CREAT | O_EXCL, 0600);
		ok += fd >= 0;
		ok += pwrite(fd, a, strlen(a), 0) == (long)strlen(a);
		ok += fsync(fd) == 0;
		ok += fstat(fd, &st) == 0 && st.st_size == (long)strlen(a);
		ok += close(fd) == 0;
		ok += rename(a, b) == 0;
		ok += stat(b, &st) == 0 && access(a, F_OK) < 0 && errno == ENOENT;
		ok += symlink(b, l) == 0 && readlink(l, buf, sizeof buf) == (long)strlen(b);
		ok += truncate(b, 100) == 0 && lstat(b, &st) == 0 && st.st_size == 100;
		ok += unlink(l) == 0 && unlink(b) == 0;
	}
	t_jout(i, "ok=%d of 80, gone=%s\n", ok, yes(access(b, F_OK) < 0));
}

static void k_cycles(void)
{
	alarm(8);
	t_fs_dir();
	for (int i = 0; i < 16; i++)
		t_spawn(j_cycle, i);
	t_finish();
	t_out("fds left: %d\n", t_nfds());
}

/* Two jobs open the two ends of one FIFO, each waiting for the other;
 * the second comes 20 ms later.  Both directions. */
static void j_fifo_first(int i)
{
	char b[16];
	int fd = i == 0 ? open("fifo", O_RDONLY) : open("fifo2", O_WRONLY);
	t_jout(i, "open=%s ", fd >= 0 ? "fd" : t_errname(errno));
	if (i == 0) {
		long n = read(fd, b, sizeof b);
		t_jout(i, "read=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
	} else {
		t_jres(i, "write", write(fd, "second", 6));
		t_jout(i, "\n");
	}
	close(fd);
}

static void j_fifo_second(int i)
{
	char b[16];
	usleep(20000);
	int fd = i == 2 ? open("fifo", O_WRONLY) : open("fifo2", O_RDONLY);
	t_jout(i, "open=%s ", fd >= 0 ? "fd" : t_errname(errno));
	if (i == 2) {
		t_jres(i, "write", write(fd, "first", 5));
		t_jout(i, "\n");
	} else {
		long n = read(fd, b, sizeof b);
		t_jout(i, "read=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
	}
	close(fd);
}

static void k_fifo_peer(void)
{
	alarm(8);
	t_fs_dir();
	mkfifo("fifo", 0600);
	mkfifo("fifo2", 0600);
	t_spawn(j_fifo_first, 0);
	t_spawn(j_fifo_first, 1);
	t_spawn(j_fifo_second, 2);
	t_spawn(j_fifo_second, 3);
	t_finish();
}

/* After waits the engine interrupts with ASYNCIFY_SIGNAL (SIGRTMAX by
 * default), the program still sees its own disposition of that signal:
 * SIG_DFL, which ends the process when the signal comes. */
static void k_rtmax_after_waits(void)
{
	struct sigaction old;
	k_fifo_peer();
	sigaction(SIGRTMAX, NULL, &old);
	t_out("SIGRTMAX: %s\n", old.sa_handler == SIG_DFL ? "default" :
			       old.sa_handler == SIG_IGN ? "ignored" : "a handler");
	raise(SIGRTMAX);
	t_out("still alive after raise(SIGRTMAX)\n");
}

/* Job 0 holds a lock on its own open file description for 30 ms; job 1
 * asks for it on another (flock, then an OFD lock) and gets it once job 0
 * lets go.  Job 1 starts asking only once job 0 holds it. */
static _Atomic int held;
static _Atomic long released_at; /* t_ms() when job 0 let go, 0 before */

static int ofd_lock(int fd, short type, int wait)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
	return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
}

static void j_holder(int i)
{
	int fd = open("f", O_RDWR);
	for (int ofd = 0; ofd < 2; ofd++) {
		t_jres(i, ofd ? "ofd" : "flock", ofd ? ofd_lock(fd, F_WRLCK, 1) : flock(fd, LOCK_EX));
		held = 1;
		usleep(30000);
		released_at = (long)t_ms();
		t_jres(i, "unlock", ofd ? ofd_lock(fd, F_UNLCK, 0) : flock(fd, LOCK_UN));
		while (held)
			usleep(1000);
	}
	t_jout(i, "\n");
	close(fd);
}

static void j_waiter(int i)
{
	int fd = open("f", O_RDWR);
	for (int ofd = 0; ofd < 2; ofd++) {
		while (!held)
			usleep(1000);
		long r = ofd ? ofd_lock(fd, F_WRLCK, 1) : flock(fd, LOCK_EX);
		t_jres(i, ofd ? "ofd" : "flock", r);
		t_jout(i, "after-release=%s ", yes(released_at > 0 && (long)t_ms() >= released_at));
		ofd ? ofd_lock(fd, F_UNLCK, 0) : flock(fd, LOCK_UN);
		released_at = 0;
		held = 0;
	}
	t_jout(i, "\n");
	close(fd);
}

static void k_lock_contention(void)
{
	alarm(8);
	t_fs_dir();
	t_put("f", "x");
	t_spawn(j_holder, 0);
	t_spawn(j_waiter, 1);
	t_finish();
}

/* A POSIX lock held by another process: job 0 waits in F_SETLKW, job 1
 * lets the holder go 30 ms later; job 0 unlocks, job 1 has it taken
 * again, and job 0 waits in lockf(F_LOCK) for the next release. */
static struct t_holder posix_holder;
static _Atomic int posix_unlocked, posix_reheld;

static void j_posix_waiter(int i)
{
	int fd = open("f", O_RDWR);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	t_jres(i, "setlkw", fcntl(fd, F_SETLKW, &fl));
	fl.l_type = F_UNLCK;
	fcntl(fd, F_SETLK, &fl);
	posix_unlocked = 1;
	while (!posix_reheld)
		usleep(1000);
	t_jres(i, "lockf", lockf(fd, F_LOCK, 0));
	t_jout(i, "\n");
	close(fd);
}

static void j_posix_releaser(int i)
{
	usleep(30000);
	t_release(&posix_holder);
	t_jout(i, "released ");
	while (!posix_unlocked)
		usleep(1000);
	t_jout(i, "held-again=%s ", yes(t_hold(&posix_holder, "posix", "f") == 0));
	posix_reheld = 1;
	usleep(30000);
	t_release(&posix_holder);
	t_jout(i, "released\n");
}

static void k_posix_lock_released(void)
{
	alarm(8);
	t_fs_dir();
	t_put("f", "x");
	t_out("held: %s\n", yes(t_hold(&posix_holder, "posix", "f") == 0));
	t_spawn(j_posix_waiter, 0);
	t_spawn(j_posix_releaser, 1);
	t_finish();
}

/* Copies fed by another job: splice and tee from an empty pipe, sendfile
 * into a full one. */
static int cp_in[2], cp_out[2], cp_full[2];

static void j_copier(int i)
{
	int f = open("f", O_RDONLY);
	t_jres(i, "tee", tee(cp_in[0], cp_out[1], 100, 0));
	t_jres(i, "splice", splice(cp_in[0], NULL, cp_out[1], NULL, 100, 0));
	t_jres(i, "sendfile", sendfile(cp_full[1], f, NULL, 1));
	t_jout(i, "pos=%ld\n", (long)lseek(f, 0, SEEK_CUR));
}

static void j_feeder(int i)
{
	static char b[65536];
	char got[32];
	usleep(20000);
	write(cp_in[1], "fed", 3);
	usleep(20000);
	long n = read(cp_full[0], b, sizeof b);
	t_jout(i, "drained=%s ", yes(n > 0));
	n = read(cp_out[0], got, sizeof got);
	t_jout(i, "out=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), got);
}

static void k_copy_peer(void)
{
	static char fill[65536];
	alarm(8);
	t_fs_dir();
	t_put("f", "x");
	pipe(cp_in);
	pipe(cp_out);
	pipe2(cp_full, O_NONBLOCK);
	while (write(cp_full[1], fill, sizeof fill) > 0)
		;
	fcntl(cp_full[1], F_SETFL, 0);
	t_spawn(j_copier, 0);
	t_spawn(j_feeder, 1);
	t_finish();
}

/* ---- engine only: deadlines and cancel ------------------------------- */

/* "backend=yes interrupted=yes" from the counters since *before. */
static void j_via(int i, const struct asy_stats *before)
{
	struct asy_stats now = t_stats();
	t_jout(i, "backend=%s interrupted=%s ", yes(now.submitted > before->submitted),
	       yes(now.interrupted > before->interrupted));
}

/* Ended at the deadline t0 + 50 ms, and at most 20 ms after a witness
 * due at the same time woke. */
static void j_soon(int i, int64_t t0, struct t_witness *w)
{
	int64_t end = t_api.now(), woke = t_witness_end(w);
	int ok = end - t0 >= 49 * MS && end <= woke + 20 * MS;
	t_jout(i, "on-time=%s ", yes(ok));
	if (!ok)
		t_jout(i, "(%.1f ms, witness %.1f ms) ", (double)(end - t0) / MS,
		       (double)(woke - t0) / MS);
}

/* Ended by a cancel at `at`: at most 80 ms after a witness due 20 ms
 * after the cancel woke. */
static void j_cancel_soon(int i, int64_t at, struct t_witness *w)
{
	int64_t end = t_api.now(), woke = t_witness_end(w);
	int ok = end <= woke + 80 * MS;
	t_jout(i, "soon=%s ", yes(ok));
	if (!ok)
		t_jout(i, "(%.1f ms, witness %.1f ms) ", (double)(end - at) / MS,
		       (double)(woke - at) / MS);
}

/* A FIFO open nobody completes, each direction: ETIMEDOUT at the
 * deadline; the fd table is as before (the next open gets the number
 * the failed one would have), and no end was left open (a non-blocking
 * open of the other end finds nobody, now and 30 ms later). */
static void j_fifo_deadline(int i)
{
	for (int wr = 0; wr < 2; wr++) {
		int lowest = t_lowest_free();
		struct asy_stats before = t_stats();
		int64_t t0 = t_api.now();
		struct t_witness wit;
		t_witness_start(&wit, t0 + 50 * MS);
		t_api.io_deadline(t0 + 50 * MS);
		int fd = wr ? open("fifo", O_WRONLY) : openat(AT_FDCWD, "fifo", O_RDONLY);
		t_api.io_deadline(-1);
		t_jres(i, wr ? "open-wronly" : "openat-rdonly", fd);
		j_soon(i, t0, &wit);
		j_via(i, &before);
		t_jout(i, "same-fd-next=%s ", yes(t_lowest_free() == lowest));
		for (int k = 0; k < 2; k++) {
			/* a reader left open would let a non-blocking writer in;
			 * a writer left open would keep a reader from seeing EOF */
			int probe = open("fifo", wr ? O_RDONLY | O_NONBLOCK : O_WRONLY | O_NONBLOCK);
			char c;
			const char *left = wr ? (read(probe, &c, 1) == 0 ? "none" : "writer") :
					   (probe < 0 && errno == ENXIO ? "none" : "reader");
			t_jout(i, "left-open=%s ", left);
			if (probe >= 0)
				close(probe);
			usleep(30000);
		}
		t_jout(i, "\n");
	}
}

static void k_fifo_deadline(void)
{
	alarm(8);
	t_fs_dir();
	mkfifo("fifo", 0600);
	t_spawn(j_fifo_deadline, 0);
	t_finish();
}

/* Cancel: job 1 waits in a FIFO open, job 0 cancels it 30 ms after it
 * began: ECANCELED soon after; no fd was opened and no reader is left. */
static int fifo_victim, fifo_lowest;
static _Atomic int fifo_ready, fifo_done;
static _Atomic int64_t fifo_cancel_at;
static struct t_witness fifo_wit;

static void j_fifo_victim(int i)
{
	struct asy_stats before = t_stats();
	fifo_lowest = t_lowest_free();
	fifo_ready = 1;
	t_jres(i, "open", open("fifo", O_RDONLY));
	j_cancel_soon(i, fifo_cancel_at, &fifo_wit);
	j_via(i, &before);
	t_jout(i, "\n");
	fifo_done = 1;
}

static void j_fifo_canceller(int i)
{
	while (!fifo_ready)
		t_api.sleep(t_api.now() + 1 * MS);
	t_api.sleep(t_api.now() + 30 * MS);
	fifo_cancel_at = t_api.now();
	t_witness_start(&fifo_wit, fifo_cancel_at + 20 * MS);
	t_jres(i, "cancel", t_api.cancel(fifo_victim));
	while (!fifo_done)
		t_api.sleep(t_api.now() + 1 * MS);
	t_jout(i, "same-fd-next=%s ", yes(t_lowest_free() == fifo_lowest));
	for (int k = 0; k < 2; k++) {
		int probe = open("fifo", O_WRONLY | O_NONBLOCK);
		t_jout(i, "left-open=%s ", probe < 0 && errno == ENXIO ? "none" : "reader");
		if (probe >= 0)
			close(probe);
		t_api.sleep(t_api.now() + 30 * MS);
	}
	t_jout(i, "\n");
}

static void k_fifo_cancel(void)
{
	alarm(8);
	t_fs_dir();
	mkfifo("fifo", 0600);
	t_spawn(j_fifo_canceller, 0);
	fifo_victim = t_spawn(j_fifo_victim, 1);
	t_finish();
}

/* Whether another open file description (or another process, for POSIX
 * locks) can take the lock now: "free" or "taken". */
static const char *lock_state(int kind)
{
	struct t_holder h;
	if (kind == 2) {
		if (t_hold(&h, "posix-nb", "f") < 0)
			return "taken";
		t_release(&h);
		return "free";
	}
	int fd = open("f", O_RDWR);
	int r = kind ? ofd_lock(fd, F_WRLCK, 0) : flock(fd, LOCK_EX | LOCK_NB);
	close(fd);
	return r == 0 ? "free" : "taken";
}

/* The lock waits of job `victim` for kind 0 flock, 1 F_OFD_SETLKW,
 * 2 F_SETLKW (held by another process); the holder is job 0's or the
 * helper process. */
static int victim, lock_fd_held;
static const char *const lname[3] = { "flock", "ofd", "setlkw" };

static long lock_wait(int kind, int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	return kind == 0 ? flock(fd, LOCK_EX) : fcntl(fd, kind == 1 ? F_OFD_SETLKW : F_SETLKW, &fl);
}

static void take_lock(int kind)
{
	lock_fd_held = open("f", O_RDWR);
	if (kind == 2)
		t_hold(&posix_holder, "posix", "f");
	else if (kind == 1)
		ofd_lock(lock_fd_held, F_WRLCK, 0);
	else
		flock(lock_fd_held, LOCK_EX);
}

static void drop_lock(int kind)
{
	if (kind == 2)
		t_release(&posix_holder);
	close(lock_fd_held);
}

/* Deadline: ETIMEDOUT at 50 ms; once the holder lets go, the lock is
 * free (the interrupted call did not take it later), also 30 ms on; the
 * fd stays usable and a new wait gets the lock. */
static void j_lock_deadline(int i)
{
	for (int kind = 0; kind < 3; kind++) {
		take_lock(kind);
		int fd = open("f", O_RDWR);
		struct asy_stats before = t_stats();
		int64_t t0 = t_api.now();
		struct t_witness wit;
		t_witness_start(&wit, t0 + 50 * MS);
		t_api.io_deadline(t0 + 50 * MS);
		t_jres(i, lname[kind], lock_wait(kind, fd));
		t_api.io_deadline(-1);
		j_soon(i, t0, &wit);
		j_via(i, &before);
		drop_lock(kind);
		t_jout(i, "then=%s ", lock_state(kind));
		usleep(30000);
		t_jout(i, "later=%s ", lock_state(kind));
		t_jres(i, "again", lock_wait(kind, fd));
		close(fd);
		t_jout(i, "\n");
	}
}

static void k_lock_deadline(void)
{
	alarm(8);
	t_fs_dir();
	t_put("f", "x");
	t_spawn(j_lock_deadline, 0);
	t_finish();
}

/* Cancel: job 1 waits for the lock that the setup holds, job 0 cancels
 * it 30 ms after job 1 began to wait: ECANCELED soon after, through the backend; once job 1
 * has returned and the holder lets go, the lock is free (job 1 keeps its
 * fd open: a lock taken late would stay with it), also 30 ms later. */
static int cancel_kind;
static _Atomic int victim_ready, victim_done;
static _Atomic int64_t cancel_at;
static struct t_witness cancel_wit;

static void j_lock_victim(int i)
{
	int fd = open("f", O_RDWR);
	if (fd < 0)
		t_jres(i, "open", fd);
	struct asy_stats before = t_stats();
	victim_ready = 1;
	t_jres(i, lname[cancel_kind], lock_wait(cancel_kind, fd));
	j_cancel_soon(i, cancel_at, &cancel_wit);
	j_via(i, &before);
	t_jout(i, "\n");
	victim_done = 1;
}

static void j_lock_canceller(int i)
{
	while (!victim_ready)
		t_api.sleep(t_api.now() + 1 * MS);
	t_api.sleep(t_api.now() + 30 * MS);
	cancel_at = t_api.now();
	t_witness_start(&cancel_wit, cancel_at + 20 * MS);
	t_jres(i, "cancel", t_api.cancel(victim));
	while (!victim_done)
		t_api.sleep(t_api.now() + 1 * MS);
	drop_lock(cancel_kind);
	t_jout(i, "then=%s ", lock_state(cancel_kind));
	t_api.sleep(t_api.now() + 30 * MS);
	t_jout(i, "later=%s\n", lock_state(cancel_kind));
}

static void k_lock_cancel(void)
{
	alarm(8);
	t_fs_dir();
	t_put("f", "x");
	for (cancel_kind = 0; cancel_kind < 3; cancel_kind++) {
		victim_ready = victim_done = 0;
		take_lock(cancel_kind);
		t_spawn(j_lock_canceller, 0);
		victim = t_spawn(j_lock_victim, 1);
		t_finish();
	}
}

/* Copies ended by a deadline move nothing: a splice or tee from an empty
 * pipe, a sendfile (NULL offset: the position stays) and a vmsplice into
 * a full pipe; what comes afterwards is all there for the next call. */
static void j_copy_deadline(int i)
{
	static char fill[65536], b[65536];
	int p[2], q[2], full[2];
	struct iovec v = { "vm", 2 };
	pipe(p);
	pipe(q);
	pipe2(full, O_NONBLOCK);
	long filled = 0, n;
	while ((n = write(full[1], fill, sizeof fill)) > 0)
		filled += n;
	fcntl(full[1], F_SETFL, 0);
	int f = open("f", O_RDONLY);
	for (int k = 0; k < 4; k++) {
		static const char *const name[] = { "splice", "tee", "sendfile", "vmsplice" };
		struct asy_stats before = t_stats();
		int64_t t0 = t_api.now();
		struct t_witness wit;
		t_witness_start(&wit, t0 + 50 * MS);
		t_api.io_deadline(t0 + 50 * MS);
		long r = k == 0 ? splice(p[0], NULL, q[1], NULL, 100, 0) :
			 k == 1 ? tee(p[0], q[1], 100, 0) :
			 k == 2 ? sendfile(full[1], f, NULL, 1) : vmsplice(full[1], &v, 1, 0);
		t_api.io_deadline(-1);
		t_jres(i, name[k], r);
		j_soon(i, t0, &wit);
		j_via(i, &before);
		t_jout(i, "\n");
	}
	t_jout(i, "pos=%ld ", (long)lseek(f, 0, SEEK_CUR));
	fcntl(full[0], F_SETFL, O_NONBLOCK);
	long drained = 0;
	while ((n = read(full[0], b, sizeof b)) > 0)
		drained += n;
	t_jout(i, "full pipe unchanged=%s ", yes(drained == filled));
	write(p[1], "abc", 3);
	t_jres(i, "splice-then", splice(p[0], NULL, q[1], NULL, 100, 0));
	n = read(q[0], b, sizeof b);
	t_jout(i, "got=%ld '%.*s'\n", n, (int)(n > 0 ? n : 0), b);
}

static void k_copy_deadline(void)
{
	alarm(8);
	t_fs_dir();
	t_put("f", "x");
	t_spawn(j_copy_deadline, 0);
	t_finish();
}

static const struct t_case cases[] = {
	{ "k_cycles", k_cycles, T_BACKEND | T_OWNCORO },
	{ "k_fifo_peer", k_fifo_peer, T_BACKEND | T_OWNCORO },
	{ "k_lock_contention", k_lock_contention, T_BACKEND | T_OWNCORO },
	/* killed by the raise: no counters to read, so no T_BACKEND */
	{ "k_rtmax_after_waits", k_rtmax_after_waits, T_OWNCORO },
	{ "k_posix_lock_released", k_posix_lock_released, T_BACKEND | T_OWNCORO },
	{ "k_copy_peer", k_copy_peer, T_BACKEND | T_OWNCORO },
	/* engine only: */
	{ "k_fifo_deadline", k_fifo_deadline, T_OWNCORO },
	{ "k_fifo_cancel", k_fifo_cancel, T_OWNCORO },
	{ "k_lock_deadline", k_lock_deadline, T_OWNCORO },
	{ "k_lock_cancel", k_lock_cancel, T_OWNCORO },
	{ "k_copy_deadline", k_copy_deadline, T_OWNCORO },
	{ NULL, NULL, 0 },
};
#define NLIKE 6
#define NENGINE 5
static const struct t_case *const engine_cases = cases + NLIKE;

/* What the engine-only cases must print, exactly. */
static const char *const engine_want[NENGINE] = {
	"0: openat-rdonly=-1 ETIMEDOUT on-time=yes backend=yes interrupted=yes same-fd-next=yes "
	"left-open=none left-open=none \n"
	"open-wronly=-1 ETIMEDOUT on-time=yes backend=yes interrupted=yes same-fd-next=yes "
	"left-open=none left-open=none \n",
	"0: cancel=0 same-fd-next=yes left-open=none left-open=none \n"
	"1: open=-1 ECANCELED soon=yes backend=yes interrupted=yes \n",
	"0: flock=-1 ETIMEDOUT on-time=yes backend=yes interrupted=yes then=free later=free again=0 \n"
	"ofd=-1 ETIMEDOUT on-time=yes backend=yes interrupted=yes then=free later=free again=0 \n"
	"setlkw=-1 ETIMEDOUT on-time=yes backend=yes interrupted=yes then=free later=free again=0 \n",
	"0: cancel=0 then=free later=free\n"
	"1: flock=-1 ECANCELED soon=yes backend=yes interrupted=yes \n"
	"0: cancel=0 then=free later=free\n"
	"1: ofd=-1 ECANCELED soon=yes backend=yes interrupted=yes \n"
	"0: cancel=0 then=free later=free\n"
	"1: setlkw=-1 ECANCELED soon=yes backend=yes interrupted=yes \n",
	"0: splice=-1 ETIMEDOUT on-time=yes backend=yes interrupted=yes \n"
	"tee=-1 ETIMEDOUT on-time=yes backend=yes interrupted=yes \n"
	"sendfile=-1 ETIMEDOUT on-time=yes backend=yes interrupted=yes \n"
	"vmsplice=-1 ETIMEDOUT on-time=yes backend=yes interrupted=yes \n"
	"pos=0 full pipe unchanged=yes splice-then=3 got=3 'abc'\n",
};

static enum t_variant variants[2];
static int nvariants;

START_TEST(like_threads)
{
	t_compare_all(&cases[_i], variants, nvariants);
}
END_TEST

START_TEST(deadline_and_cancel)
{
	static struct t_result r;
	for (int v = 0; v < nvariants; v++) {
		ck_assert_int_eq(t_run(engine_cases[_i].name, variants[v], &r, 20), 0);
		ck_assert_msg(!strcmp(r.out, engine_want[_i]),
			      "%s under %s:\n--- want:\n%s--- got:\n%s\n%.300s",
			      engine_cases[_i].name, t_variant_name[variants[v]], engine_want[_i],
			      r.out, r.err);
	}
}
END_TEST

int main(int argc, char **argv)
{
	t_fs_helper_main(argc, argv);
	t_load_api();
	if (t_case_main(argc, argv, cases) >= 0)
		return 0;
	nvariants = t_engine_variants(variants, "check-fs-coro");
	Suite *s = suite_create("fs-coro");
	TCase *tc = tcase_create("fs-coro");
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, like_threads, 0, NLIKE);
	tcase_add_loop_test(tc, deadline_and_cancel, 0, NENGINE);
	suite_add_tcase(s, tc);
	return t_run_suite(s);
}
