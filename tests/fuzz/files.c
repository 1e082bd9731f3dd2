/* The fuzzer's changes of an fd, calls on names, locks and readiness
 * (tests/fuzz/fuzz.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "t-helpers.h"
#include "fuzz/fuzz.h"

/* The fd-level changes between calls. */
void fz_change(int i, int s)
{
	int fd = fz_slot[s].fd;
	long r = 0;
	char what[64];
	switch (fz_below(11)) {
	case 0: {
		int fl = fcntl(fd, F_GETFL);
		r = fcntl(fd, F_SETFL, fl ^ O_NONBLOCK);
		snprintf(what, sizeof what, "nonblock=%d", !(fl & O_NONBLOCK));
		break;
	}
	case 1: {
		int ms = fz_chance(50) ? 0 : 1 + (int)fz_below(5);
		struct timeval tv = { 0, ms * 1000 };
		int opt = fz_chance(50) ? SO_RCVTIMEO : SO_SNDTIMEO;
		r = setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
		snprintf(what, sizeof what, "%s=%dms", opt == SO_RCVTIMEO ? "rcvtimeo" : "sndtimeo", ms);
		break;
	}
	case 2: {
		int v = fz_chance(50) ? 1 : 1 + (int)fz_below(200);
		r = setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
		snprintf(what, sizeof what, "rcvlowat=%d", v);
		break;
	}
	case 3: {
		int how = (int)fz_below(3);
		r = shutdown(fd, how);
		if (r == 0 && how != SHUT_RD)
			fz_shut_wr(fd);
		snprintf(what, sizeof what, "shutdown=%d", how);
		break;
	}
	case 4: {
		r = dup(fd);
		int n = r >= 0 ? fz_add((int)r, fz_slot[s].k) : -1;
		if (n >= 0)
			fz_slot[n].peer = fz_slot[s].peer;
		snprintf(what, sizeof what, "dup");
		break;
	}
	case 5: {
		int t = fz_any_slot();
		if (t < 0 || t == s) {
			snprintf(what, sizeof what, "dup2 none");
			break;
		}
		r = dup2(fd, fz_slot[t].fd);
		if (r >= 0) {
			/* t's old file is gone: no one's other end any more */
			for (int k = 0; k < NSLOT; k++)
				if (fz_slot[k].peer == t)
					fz_slot[k].peer = -1;
			fz_slot[t].k = fz_slot[s].k;
			fz_slot[t].peer = fz_slot[s].peer;
		}
		snprintf(what, sizeof what, "dup2 over %d", fz_slot[t].fd);
		break;
	}
	case 6:
		r = close(fd);
		for (int k = 0; k < NSLOT; k++)
			if (fz_slot[k].peer == s)
				fz_slot[k].peer = -1;
		t_out("%d close %s:%d -> %ld\n", i, fz_kind_name[fz_slot[s].k], fd, r);
		fz_slot[s].fd = -1;
		return;
	case 7: {
		off_t len = fz_chance(30) ? -1 : fz_below(1 << 20);
		r = ftruncate(fd, len);
		snprintf(what, sizeof what, "ftruncate=%lld", (long long)len);
		break;
	}
	case 8:
		r = fz_chance(50) ? fsync(fd) : fdatasync(fd);
		snprintf(what, sizeof what, "sync");
		break;
	case 9: {
		off_t o = fz_offset();
		int wh = (int)fz_below(3);
		r = lseek(fd, o, wh);
		snprintf(what, sizeof what, "lseek %lld %d", (long long)o, wh);
		break;
	}
	default: {
		int v = fz_chance(50) ? 4096 : 65536;
		r = fcntl(fd, F_SETPIPE_SZ, v);
		snprintf(what, sizeof what, "pipe_sz=%d", v);
		break;
	}
	}
	fz_result(i, "change", s, what, r, NULL, 0);
}

void fz_poll(int i, int s)
{
	struct pollfd p = { fz_slot[s].fd, POLLIN | POLLOUT | POLLPRI | POLLRDHUP, 0 };
	long r = poll(&p, 1, 0);
	char args[32];
	snprintf(args, sizeof args, "revents=%x q=%ld", r > 0 ? p.revents : 0,
		 fz_queued(fz_slot[s].fd));
	fz_result(i, "poll", s, args, r, NULL, 0);
}

/* ---- names ------------------------------------------------------------- */

/* A name of the fuzzer's small namespace, relative to its directory (for
 * the *at calls) or absolute; sometimes NULL, empty or too long. */
static const char *name(char *out, size_t cap, int relative)
{
	static const char *const names[] = { "a", "b", "c", "d/e", "d", "f", "l", "q" };
	long p = fz_below(100);
	if (p < 3 && !fz_tame) /* UBSan reports a NULL for libc's nonnull paths */
		return NULL;
	if (p < 6)
		return "";
	if (p < 8) {
		memset(out, 'x', cap - 1); /* ENAMETOOLONG */
		out[cap - 1] = 0;
		return out;
	}
	const char *n = names[fz_below(sizeof names / sizeof *names)];
	if (relative)
		snprintf(out, cap, "%s", n);
	else
		snprintf(out, cap, "%s/%s", fz_dir, n);
	return out;
}

static int dirfd_of_names(void)
{
	static int dfd = -1;
	if (dfd < 0)
		dfd = open(fz_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long p = fz_below(100);
	return p < 5 ? -1 : p < 8 ? 0 /* stdin: not a directory */ : p < 40 ? AT_FDCWD : dfd;
}

static void show_stat(int i, const char *op, long r, const struct stat *st)
{
	int e = errno;
	if (r < 0)
		t_out("%d %s -> -1 %s\n", i, op, t_errname(e));
	else
		t_out("%d %s -> %ld mode=%o size=%lld nlink=%lu\n", i, op, r, (unsigned)st->st_mode,
		      (long long)(S_ISDIR(st->st_mode) ? 0 : st->st_size), (unsigned long)st->st_nlink);
}

/* One call on names: open, create, look, link, rename, remove. */
void fz_names(int i)
{
	static const int oflags[] = { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC,
				      O_APPEND, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_CLOEXEC,
				      O_NONBLOCK, O_TMPFILE };
	char a[4200], b[4200];
	/* rel: an *at call; its names are relative to its own directory fd
	 * (or a bad one), absolute with AT_FDCWD: never the current
	 * directory, which every run shares */
	int dfd = dirfd_of_names(), rel = dfd != AT_FDCWD || fz_chance(30);
	int relative = dfd != AT_FDCWD;
	/* volatile: libc declares the paths nonnull, and the compiler would
	 * drop the checks of a NULL one after the call */
	const char *volatile n1 = name(a, sizeof a, relative);
	const char *volatile n2 = name(b, sizeof b, relative);
	struct stat st;
	long r;
	int f = 0;
	for (int k = 0; k < 3; k++)
		f |= oflags[fz_below(sizeof oflags / sizeof *oflags)];
	if ((f & O_TMPFILE) == O_TMPFILE)
		f = (f & ~(O_CREAT | O_EXCL)) | O_RDWR; /* on the directory: n1 is replaced */
	char args[96];
	switch (fz_below(16)) {
	case 0:
	case 1: {
		if ((f & O_TMPFILE) == O_TMPFILE)
			n1 = relative ? "." : fz_dir;
		/* a FIFO is opened only where the open does not wait */
		if (n1 && fstatat(rel ? dfd : AT_FDCWD, n1, &st, 0) == 0 && S_ISFIFO(st.st_mode) &&
		    (f & O_ACCMODE) != O_RDWR && !(f & O_PATH))
			f |= O_NONBLOCK;
		r = rel ? openat(dfd, n1, f, 0640) : open(n1, f, 0640);
		int e = errno;
		int s = r >= 0 ? fz_add((int)r, (f & O_PATH) ? K_PATH : (f & O_DIRECTORY) ? K_DIR : K_FILE) : -1;
		errno = e;
		size_t dl = strlen(fz_dir);
		const char *shown = !n1 ? "NULL" : strlen(n1) > 64 ? "long" :
				    !strncmp(n1, fz_dir, dl) ? n1 + dl : n1; /* the same in every run */
		snprintf(args, sizeof args, "%s f=%o", shown, f);
		fz_result(i, rel ? "openat" : "open", s, args, r, NULL, 0);
		return;
	}
	case 2:
		if (!n1 || rel)
			return;
		if (stat(n1, &st) == 0 && S_ISFIFO(st.st_mode)) { /* it waits for a reader */
			t_out("%d creat skip\n", i);
			return;
		}
		r = creat(n1, 0600);
		fz_result(i, "creat", r >= 0 ? fz_add((int)r, K_FILE) : -1, "", r, NULL, 0);
		return;
	case 3:
		r = rel ? fstatat(dfd, n1, &st, fz_chance(30) ? AT_SYMLINK_NOFOLLOW : fz_chance(20) ? AT_EMPTY_PATH : 0)
			: fz_chance(50) ? stat(n1, &st) : lstat(n1, &st);
		show_stat(i, rel ? "fstatat" : "stat", r, &st);
		return;
	case 4: {
		struct statx sx;
		r = statx(rel ? dfd : AT_FDCWD, n1, fz_chance(20) ? AT_SYMLINK_NOFOLLOW : 0,
			  fz_chance(20) ? 0xffffffffu : STATX_BASIC_STATS, &sx);
		st.st_mode = sx.stx_mode, st.st_size = (off_t)sx.stx_size, st.st_nlink = sx.stx_nlink;
		show_stat(i, "statx", r, &st);
		return;
	}
	case 5:
		r = rel ? faccessat(dfd, n1, (int)fz_below(8), fz_chance(20) ? AT_EACCESS : 0)
			: access(n1, (int)fz_below(9));
		break;
	case 6:
		r = rel ? unlinkat(dfd, n1, fz_chance(30) ? AT_REMOVEDIR : 0) : unlink(n1);
		break;
	case 7:
		r = rel ? mkdirat(dfd, n1, 0750) : mkdir(n1, 0750);
		break;
	case 8:
		r = rel ? unlinkat(dfd, n1, AT_REMOVEDIR) : rmdir(n1);
		break;
	case 9: {
		static const unsigned rf[] = { 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE, 0x80 };
		r = rel ? renameat2(dfd, n1, dfd, n2, rf[fz_below(5)]) : rename(n1, n2);
		break;
	}
	case 10:
		r = rel ? linkat(dfd, n1, dfd, n2, fz_chance(30) ? AT_SYMLINK_FOLLOW : 0) : link(n1, n2);
		break;
	case 11:
		/* the target relative: the directory's name differs run by run */
		r = rel ? symlinkat(fz_chance(50) ? "a" : "d/e", dfd, n2) : symlink("f", n2);
		break;
	case 12: {
		char out[64];
		size_t cap = (size_t)fz_below(3) * 20;
		r = rel ? readlinkat(dfd, n1, out, cap) : readlink(n1, out, cap);
		t_out("%d readlink cap=%zu -> %ld%s h=%x\n", i, cap, r, r < 0 ? t_errname(errno) : "",
		      fz_hash(out, r));
		return;
	}
	case 13:
		r = n1 && !rel ? truncate(n1, fz_chance(20) ? -1 : fz_below(100000)) : -2;
		if (r == -2)
			return;
		break;
	case 14:
		r = rel ? mknodat(dfd, n1, S_IFIFO | 0600, 0) : mkfifo(n1, 0600);
		break;
	default:
		r = rel ? fchmodat(dfd, n1, 0600 | (mode_t)fz_below(0100), 0) : chmod(n1, 0644);
		break;
	}
	t_out("%d names -> %ld%s%s\n", i, r, r < 0 ? " " : "", r < 0 ? t_errname(errno) : "");
}

/* ---- sizes, locks, durability ------------------------------------------ */

void fz_file(int i, int s)
{
	int fd = fz_slot[s].fd;
	long r;
	char what[64];
	int op = (int)fz_below(8);
	struct stat st;
	/* Locks only on the run's own files: eventfd, timerfd, epoll and
	 * signalfd share one inode (their locks meet), and /dev/null is every
	 * process's. */
	if (op >= 3 && op <= 5 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		t_out("%d lock skip\n", i);
		return;
	}
	switch (op) {
	case 0: {
		static const int modes[] = { 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					     FALLOC_FL_ZERO_RANGE, 0x40 };
		int m = modes[fz_below(5)];
		off_t off = fz_below(1 << 20), len = fz_chance(10) ? 0 : fz_below(1 << 18);
		r = fallocate(fd, m, off, len);
		snprintf(what, sizeof what, "fallocate m=%x %lld+%lld", m, (long long)off, (long long)len);
		break;
	}
	case 1: {
		off_t off = fz_chance(10) ? -1 : fz_below(1 << 20), len = fz_chance(10) ? 0 : fz_below(1 << 18);
		int e = posix_fallocate(fd, off, len);
		snprintf(what, sizeof what, "posix_fallocate=%d", e);
		r = e;
		break;
	}
	case 2: {
		unsigned f = (unsigned)fz_below(8) | (fz_chance(5) ? 0x100u : 0);
		r = sync_file_range(fd, fz_below(1 << 20), fz_below(1 << 16), f);
		snprintf(what, sizeof what, "sync_file_range f=%x", f);
		break;
	}
	case 3: {
		static const int ops[] = { LOCK_SH, LOCK_EX, LOCK_UN, 0, LOCK_SH | LOCK_EX };
		int op = ops[fz_below(5)] | LOCK_NB; /* two open files of one name would wait */
		r = flock(fd, op);
		snprintf(what, sizeof what, "flock %d", op);
		break;
	}
	case 4: {
		/* A blocking lock only where the matching GETLK says it
		 * would not wait: OFD locks of other open files of the process
		 * stop both kinds */
		static const int cmds[] = { F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW, F_GETLK };
		int cmd = cmds[fz_below(5)];
		struct flock fl = { .l_type = (short)(fz_chance(50) ? F_WRLCK : fz_chance(50) ? F_RDLCK : F_UNLCK),
				    .l_whence = SEEK_SET, .l_start = fz_below(100), .l_len = fz_below(100) };
		if (cmd == F_SETLKW || cmd == F_OFD_SETLKW) {
			struct flock probe = fl;
			if (fcntl(fd, cmd == F_SETLKW ? F_GETLK : F_OFD_GETLK, &probe) < 0 ||
			    probe.l_type != F_UNLCK)
				cmd = cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK;
		}
		r = fcntl(fd, cmd, &fl);
		snprintf(what, sizeof what, "lock cmd=%d type=%d", cmd, fl.l_type);
		break;
	}
	case 5: {
		static const int cmds[] = { F_LOCK, F_TLOCK, F_ULOCK, F_TEST };
		int cmd = cmds[fz_below(4)];
		off_t len = fz_below(100);
		struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_CUR, .l_len = len };
		if (cmd == F_LOCK && (fcntl(fd, F_GETLK, &probe) < 0 || probe.l_type != F_UNLCK))
			cmd = F_TLOCK; /* it would wait */
		r = lockf(fd, cmd, len);
		snprintf(what, sizeof what, "lockf %d", cmd);
		break;
	}
	case 6: {
		struct stat st;
		void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			r = -1;
		} else {
			if (fstat(fd, &st) == 0 && st.st_size > 0) /* a page past the end: SIGBUS */
				((volatile char *)m)[0] = ((volatile char *)m)[0];
			r = msync(m, 8192, fz_chance(50) ? MS_SYNC : fz_chance(50) ? MS_ASYNC : MS_INVALIDATE);
			munmap(m, 8192);
		}
		snprintf(what, sizeof what, "msync");
		break;
	}
	default:
		r = fz_chance(10) ? syncfs(fd) : fdatasync(fd);
		snprintf(what, sizeof what, "syncfs/fdatasync");
		break;
	}
	fz_result(i, "file", s, what, r, NULL, 0);
}

/* ---- readiness and connections ----------------------------------------- */

/* poll, ppoll, select or epoll_wait over a few fds, never waiting more
 * than 2 ms; accept and connect on a listener without waiting. */
void fz_ready(int i)
{
	struct pollfd p[6];
	int n = 1 + (int)fz_below(6), ms = fz_chance(80) ? 0 : (int)fz_below(3);
	for (int k = 0; k < n; k++) {
		int s = fz_any_slot();
		p[k] = (struct pollfd){ s >= 0 ? fz_slot[s].fd : -1,
					(short)(fz_chance(70) ? POLLIN | POLLOUT : fz_below(0x2000)), 0 };
	}
	char what[160];
	int len = 0;
	long r;
	switch (fz_below(5)) {
	case 0:
		r = poll(p, (nfds_t)n, ms);
		break;
	case 1: {
		struct timespec ts = { 0, ms * 1000000L };
		r = ppoll(p, (nfds_t)n, &ts, NULL);
		break;
	}
	case 2: {
		fd_set rd, wr;
		FD_ZERO(&rd);
		FD_ZERO(&wr);
		int top = 0;
		for (int k = 0; k < n; k++) {
			if (p[k].fd < 0)
				continue;
			FD_SET(p[k].fd, (p[k].events & POLLIN) ? &rd : &wr);
			top = p[k].fd + 1 > top ? p[k].fd + 1 : top;
		}
		struct timeval tv = { 0, ms * 1000 };
		r = select(top, &rd, &wr, NULL, &tv);
		for (int k = 0; k < n; k++)
			p[k].revents = (short)(p[k].fd >= 0 && (FD_ISSET(p[k].fd, &rd) || FD_ISSET(p[k].fd, &wr)));
		len = snprintf(what, sizeof what, "select left=%d ", tv.tv_usec > 0);
		break;
	}
	case 3: {
		int ep = epoll_create1(0);
		for (int k = 0; k < n; k++) {
			struct epoll_event ev = { .events = (uint32_t)p[k].events, .data.u32 = (uint32_t)k };
			p[k].revents = (short)epoll_ctl(ep, EPOLL_CTL_ADD, p[k].fd, &ev);
		}
		struct epoll_event out[6];
		int max = fz_chance(5) ? 0 : 6;
		r = epoll_wait(ep, out, max, ms);
		for (long k = 0; k < r; k++)
			len += snprintf(what + len, sizeof what - (size_t)len, "%u:%x ", out[k].data.u32,
					out[k].events);
		close(ep);
		break;
	}
	default: {
		int s = fz_any_slot();
		if (s < 0 || fz_slot[s].k != K_LISTEN) {
			struct timespec ts = { 0, ms * 1000000L };
			r = nanosleep(&ts, NULL);
			snprintf(what, sizeof what, "nanosleep");
			fz_result(i, "sleep", -1, what, r, NULL, 0);
			return;
		}
		struct sockaddr_storage sa;
		socklen_t sl = sizeof sa;
		getsockname(fz_slot[s].fd, (struct sockaddr *)&sa, &sl);
		if (fz_chance(50)) {
			int c = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
			r = connect(c, (struct sockaddr *)&sa, sl);
			int e = errno;
			struct pollfd w = { c, POLLOUT, 0 };
			poll(&w, 1, 50); /* a loopback connect ends at once */
			fz_add(c, sa.ss_family == AF_UNIX ? K_USTREAM : K_TCP);
			errno = e;
			snprintf(what, sizeof what, "connect fd=%d", c);
		} else {
			if (fz_could_wait(s, 0, 1, 0, 0)) {
				t_out("%d accept skip\n", i);
				return;
			}
			int fl = fz_chance(30) ? SOCK_NONBLOCK | SOCK_CLOEXEC : 0;
			r = accept4(fz_slot[s].fd, fz_chance(50) ? (struct sockaddr *)&sa : NULL,
				    fz_chance(50) ? &sl : NULL, fl);
			int e = errno;
			if (r >= 0)
				fz_add((int)r, sa.ss_family == AF_UNIX ? K_USTREAM : K_TCP);
			errno = e;
			snprintf(what, sizeof what, "accept");
		}
		fz_result(i, "conn", s, what, r, NULL, 0);
		return;
	}
	}
	int e = errno;
	for (int k = 0; k < n && len < (int)sizeof what - 8; k++)
		len += snprintf(what + len, sizeof what - (size_t)len, "%x", (unsigned)p[k].revents & 0xffff);
	errno = e;
	fz_result(i, "ready", -1, what, r, NULL, 0);
}
