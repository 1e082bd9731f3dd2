#!/bin/sh
# sqlite-script.sh MODE ROWS — print a deterministic sqlite3 script: a table,
# ROWS inserts in one transaction, an index, an update and a delete in a
# second transaction, queries.  MODE is the journal mode (delete or wal).
mode=$1 rows=$2
echo "PRAGMA journal_mode=$mode;"
echo "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);"
echo "BEGIN;"
awk -v n="$rows" 'BEGIN {
	for (i = 1; i <= n; i++)
		printf "INSERT INTO t(k, v) VALUES(%d, %c%s-%d%c);\n", (i * 7919) % 100003, 39, "value", i * 31, 39
}'
echo "COMMIT;"
echo "CREATE INDEX t_k ON t(k);"
echo "BEGIN; UPDATE t SET v = v || '-u' WHERE k % 10 = 3; DELETE FROM t WHERE k % 97 = 0; COMMIT;"
echo "SELECT count(*), sum(k), max(length(v)) FROM t;"
echo "SELECT id, k, v FROM t WHERE k BETWEEN 5000 AND 5100 ORDER BY k, id;"
echo "PRAGMA integrity_check;"
