/* sqlite-coro — SQLite (Debian's libsqlite3) from N workers, one database
 * each, for bench-sqlite (tests/bench/fs-sqlite.py).
 *
 *   sqlite-coro prep DIR N ROWS JOURNAL   make DIR/db0 … DIR/dbN-1: ROWS
 *                                         rows of ~150 bytes, journal_mode
 *                                         JOURNAL (delete or wal)
 *   sqlite-coro run DIR MODE N TXNS ROWS COLD
 *                                         each worker opens DIR/dbW and
 *                                         commits TXNS transactions with
 *                                         synchronous=FULL: four SELECTs of
 *                                         random keys of the ROWS, an
 *                                         UPDATE, an INSERT
 *
 * MODE     threads  one thread per worker
 *          coro     one coroutine per worker on the main thread, and a
 *                   ticker coroutine waking every 1 ms (needs the library
 *                   preloaded: the API is looked up with dlsym)
 * COLD     1: the database files are written back and dropped from the
 *          page cache before the clock starts (fdatasync and
 *          POSIX_FADV_DONTNEED, as tests/real/dropcache.c does); 0: they
 *          are read once instead, so that they are cached
 *
 * Prints "RESULT WALL_MS STALL_MS CPU_MS": RESULT sums a hash of everything
 * read and each database's final contents (equal in every mode when the
 * answers are), STALL_MS the longest the ticker woke past its 1 ms (how
 * long the thread stalled; -1 outside coroutines), CPU_MS the CPU time
 * (user + system) of the coroutines' one thread, or of the whole process
 * for threads.  Exit 1 when a statement failed. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int nwork, ntxn, rows, done, failed;
static const char *dir;
static uint64_t result;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int (*co_go)(void (*)(void *), void *);
static int (*co_run)(void);
static int (*co_sleep)(int64_t);
static int64_t (*co_now)(void);

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
	return h;
}

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* fill - n deterministic bytes of the worker's stream. */
static void fill(uint64_t *s, unsigned char *b, int n)
{
	for (int i = 0; i < n; i++)
		b[i] = (unsigned char)('a' + next(s) % 26);
}

static void db_path(char *buf, size_t n, int w)
{
	snprintf(buf, n, "%s/db%d", dir, w);
}

/* exec - run SQL without results; 0 or -1 (the error printed). */
static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	fprintf(stderr, "sqlite-coro: %s: %s\n", sql, err ? err : "?");
	sqlite3_free(err);
	return -1;
}

/* ---- one transaction ---------------------------------------------------- */

struct conn {
	sqlite3 *db;
	sqlite3_stmt *get, *put, *add;
	uint64_t seed, hash;
};

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int txn(struct conn *c)
{
	unsigned char v[150];
	if (exec(c->db, "BEGIN IMMEDIATE"))
		return -1;
	for (int i = 0; i < 4; i++) {
		sqlite3_bind_int64(c->get, 1, (sqlite3_int64)(next(&c->seed) % (uint64_t)rows) + 1);
		if (sqlite3_step(c->get) == SQLITE_ROW)
			c->hash = fnv(c->hash, sqlite3_column_blob(c->get, 0),
				      (size_t)sqlite3_column_bytes(c->get, 0));
		sqlite3_reset(c->get);
	}
	fill(&c->seed, v, sizeof v);
	sqlite3_bind_blob(c->put, 1, v, sizeof v, SQLITE_TRANSIENT);
	sqlite3_bind_int64(c->put, 2, (sqlite3_int64)(next(&c->seed) % (uint64_t)rows) + 1);
	fill(&c->seed, v, sizeof v);
	sqlite3_bind_blob(c->add, 1, v, sizeof v, SQLITE_TRANSIENT);
	if (step_done(c->put) || step_done(c->add))
		return exec(c->db, "ROLLBACK"), -1;
	return exec(c->db, "COMMIT");
}

/* contents - a hash of the database's final rows. */
static uint64_t contents(sqlite3 *db)
{
	sqlite3_stmt *st;
	uint64_t h = 14695981039346656037ULL;
	if (sqlite3_prepare_v2(db, "SELECT k, v FROM t ORDER BY k", -1, &st, NULL) != SQLITE_OK)
		return 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_int64 k = sqlite3_column_int64(st, 0);
		h = fnv(h, &k, sizeof k);
		h = fnv(h, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
	}
	sqlite3_finalize(st);
	return h;
}

static void work(int w)
{
	char path[4096];
	struct conn c = { .seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(w + 1),
			  .hash = 14695981039346656037ULL };
	int ok = 0;
	db_path(path, sizeof path, w);
	if (sqlite3_open_v2(path, &c.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    exec(c.db, "PRAGMA synchronous=FULL") ||
	    sqlite3_prepare_v2(c.db, "SELECT v FROM t WHERE k = ?", -1, &c.get, NULL) ||
	    sqlite3_prepare_v2(c.db, "UPDATE t SET v = ? WHERE k = ?", -1, &c.put, NULL) ||
	    sqlite3_prepare_v2(c.db, "INSERT INTO t(v) VALUES(?)", -1, &c.add, NULL))
		goto out;
	for (int i = 0; i < ntxn; i++)
		if (txn(&c))
			goto out;
	ok = 1;
out:
	sqlite3_finalize(c.get);
	sqlite3_finalize(c.put);
	sqlite3_finalize(c.add);
	uint64_t h = ok ? c.hash + contents(c.db) : 0;
	if (sqlite3_close(c.db) != SQLITE_OK)
		ok = 0;
	pthread_mutex_lock(&lock);
	result += h;
	failed += !ok;
	pthread_mutex_unlock(&lock);
}

/* ---- preparing and the page cache --------------------------------------- */

static int prep(const char *journal)
{
	char path[4096], sql[128];
	uint64_t seed = 42;
	unsigned char v[150];
	for (int w = 0; w < nwork; w++) {
		sqlite3 *db;
		sqlite3_stmt *st;
		db_path(path, sizeof path, w);
		unlink(path);
		snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", journal);
		if (sqlite3_open(path, &db) != SQLITE_OK || exec(db, sql) ||
		    exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB); BEGIN") ||
		    sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES(?)", -1, &st, NULL))
			return -1;
		for (int i = 0; i < rows; i++) {
			fill(&seed, v, sizeof v);
			sqlite3_bind_blob(st, 1, v, sizeof v, SQLITE_TRANSIENT);
			if (step_done(st))
				return -1;
		}
		sqlite3_finalize(st);
		if (exec(db, "COMMIT") || sqlite3_close(db) != SQLITE_OK)
			return -1;
	}
	return 0;
}

/* cache - drop (cold) or read (warm) every database file before the run. */
static void cache(int cold)
{
	static char buf[1 << 16];
	char path[4096];
	for (int w = 0; w < nwork; w++) {
		db_path(path, sizeof path, w);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (cold) {
			fdatasync(fd);
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		} else {
			while (read(fd, buf, sizeof buf) > 0)
				;
		}
		close(fd);
	}
}

/* ---- the two ways to run N workers --------------------------------------- */

static int64_t stall_ns = -1;

static void *thread_main(void *arg)
{
	work((int)(intptr_t)arg);
	return NULL;
}

static void co_main(void *arg)
{
	work((int)(intptr_t)arg);
	done++;
}

/* ticker - wake every 1 ms until every worker is done; record how late. */
static void ticker(void *arg)
{
	(void)arg;
	stall_ns = 0;
	while (done < nwork) {
		int64_t due = co_now() + 1000000;
		co_sleep(due);
		if (co_now() - due > stall_ns)
			stall_ns = co_now() - due;
	}
}

static int run_coro(void)
{
	co_go = (int (*)(void (*)(void *), void *))dlsym(RTLD_DEFAULT, "asy_go");
	co_run = (int (*)(void))dlsym(RTLD_DEFAULT, "asy_run");
	co_sleep = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "asy_sleep");
	co_now = (int64_t (*)(void))dlsym(RTLD_DEFAULT, "asy_now");
	if (!co_go || !co_run || !co_sleep || !co_now) {
		fprintf(stderr, "sqlite-coro: coro needs LD_PRELOAD=libasyncify.so\n");
		return -1;
	}
	co_go(ticker, NULL);
	for (int w = 0; w < nwork; w++)
		co_go(co_main, (void *)(intptr_t)w);
	return co_run();
}

static int run_threads(void)
{
	pthread_t t[nwork];
	for (int w = 0; w < nwork; w++)
		if (pthread_create(&t[w], NULL, thread_main, (void *)(intptr_t)w))
			return -1;
	for (int w = 0; w < nwork; w++)
		pthread_join(t[w], NULL);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "prep") && (nwork = atoi(argv[3])) > 0 &&
	    (rows = atoi(argv[4])) > 0) {
		dir = argv[2];
		return prep(argv[5]) ? (fprintf(stderr, "sqlite-coro: prep failed\n"), 1) : 0;
	}
	if (argc != 8 || strcmp(argv[1], "run") || (nwork = atoi(argv[4])) <= 0 ||
	    (ntxn = atoi(argv[5])) <= 0 || (rows = atoi(argv[6])) <= 0) {
		fprintf(stderr, "usage: sqlite-coro prep DIR N ROWS JOURNAL\n"
				"       sqlite-coro run DIR threads|coro N TXNS ROWS COLD\n");
		return 2;
	}
	dir = argv[2];
	cache(atoi(argv[7]));
	int64_t t0 = now_ns();
	int rc = !strcmp(argv[3], "coro") ? run_coro() : !strcmp(argv[3], "threads") ? run_threads() : -1;
	if (rc != 0)
		return fprintf(stderr, "sqlite-coro: mode '%s' failed\n", argv[3]), 2;
	double wall = (double)(now_ns() - t0) / 1e6;
	/* CPU time: of the thread that ran every coroutine (it ran main),
	 * or of the whole process for threads — the wall time of coroutines
	 * on one thread is at least the first. */
	struct rusage ru;
	getrusage(!strcmp(argv[3], "coro") ? RUSAGE_THREAD : RUSAGE_SELF, &ru);
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	printf("%016llx %.1f %.2f %.1f\n", (unsigned long long)result, wall,
	       stall_ns < 0 ? -1.0 : (double)stall_ns / 1e6, cpu);
	if (failed)
		fprintf(stderr, "sqlite-coro: %d workers failed\n", failed);
	return failed ? 1 : 0;
}
