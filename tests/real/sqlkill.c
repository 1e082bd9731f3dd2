/* sqlkill DIR MODE N: a transaction loop for the rediskill-like sqlite
 * case of kill-cases.sh, to be killed in the middle.  N writers, each on
 * its own database DIR/wI.db (journal_mode MODE: wal or delete,
 * synchronous=FULL), commit transaction after transaction of five rows
 * (txn, row, 2 KiB blob); after each COMMIT returns, the writer appends
 * "I TXN" to DIR/acked (one write, O_APPEND).  Under the shim the writers
 * are coroutines on one thread (the API looked up with dlsym), without it
 * they take turns on the main thread, a transaction each.  Runs until
 * killed, or 100 000 transactions. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coapi.h"

#define MAXW 64
#define ROWS 5
#define TXNS 100000

static sqlite3 *db[MAXW];
static int acked = -1;

static void die(int w, const char *what)
{
	fprintf(stderr, "sqlkill: writer %d: %s: %s\n", w, what, db[w] ? sqlite3_errmsg(db[w]) : "open");
	exit(1);
}

static void exec(int w, const char *sql)
{
	if (sqlite3_exec(db[w], sql, NULL, NULL, NULL) != SQLITE_OK)
		die(w, sql);
}

static void open_db(const char *dir, const char *mode, int w)
{
	char path[4096], sql[128];
	snprintf(path, sizeof path, "%s/w%d.db", dir, w);
	if (sqlite3_open(path, &db[w]) != SQLITE_OK)
		die(w, "open");
	sqlite3_busy_timeout(db[w], 10000);
	snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s; PRAGMA synchronous=FULL;", mode);
	exec(w, sql);
	exec(w, "CREATE TABLE IF NOT EXISTS t(txn INTEGER, row INTEGER, b BLOB)");
}

/* One transaction of writer w; then its acknowledgement. */
static void commit_one(int w, int txn)
{
	char sql[160], ack[32];
	exec(w, "BEGIN");
	for (int r = 0; r < ROWS; r++) {
		snprintf(sql, sizeof sql, "INSERT INTO t VALUES(%d, %d, randomblob(2048))", txn, r);
		exec(w, sql);
	}
	exec(w, "COMMIT");
	int n = snprintf(ack, sizeof ack, "%d %d\n", w, txn);
	if (write(acked, ack, (size_t)n) != n)
		die(w, "ack");
}

static void writer(void *arg)
{
	int w = (int)(long)arg;
	for (int txn = 1; txn <= TXNS; txn++)
		commit_one(w, txn);
}

int main(int argc, char **argv)
{
	if (argc != 4 || atoi(argv[3]) < 1 || atoi(argv[3]) > MAXW) {
		fprintf(stderr, "usage: sqlkill DIR wal|delete N (1..%d)\n", MAXW);
		return 2;
	}
	int n = atoi(argv[3]);
	char path[4096];
	snprintf(path, sizeof path, "%s/acked", argv[1]);
	acked = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (acked < 0) {
		perror(path);
		return 1;
	}
	for (int w = 0; w < n; w++)
		open_db(argv[1], argv[2], w);
	co_api();
	if (co_go && co_run) {
		for (int w = 0; w < n; w++)
			if (co_go(writer, (void *)(long)w) < 0)
				return 1;
		return co_run() < 0;
	}
	for (int txn = 1; txn <= TXNS; txn++)
		for (int w = 0; w < n; w++)
			commit_one(w, txn);
	return 0;
}
