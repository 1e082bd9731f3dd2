# kill-cases.sh — servers killed mid-load (sourced by run-real.sh): a
# server runs under the shim (and once without it, the reference), a
# client counts the writes it acknowledged, SIGKILL ends the server with
# writes in flight; then the data is checked by the same programs run
# without the shim: every acknowledged write is on disk and the files pass
# the program's own checker.
#
# Only verdicts are printed (how many writes were acknowledged before the
# kill depends on timing), so that every run prints the same lines.

# unshimmed CMD...: run CMD without the shim (the restart and the checks).
unshimmed() { env -u LD_PRELOAD -u ASYNCIFY_BACKEND "$@"; }

# redis-server with appendonly yes and appendfsync always, loaded with
# INCRs and SETs over a unix socket and killed after 3 000 replies; then
# redis-check-aof, and a restart without the shim that must hold every
# acknowledged SET and a counter at least the acknowledged INCRs.
case_rediskill() {
	mkdir srv
	local pid incrs n missing acks
	redis-server --port 0 --unixsocket "$PWD/srv/sock" --save '' --appendonly yes \
		--appendfsync always --dir "$PWD/srv" > srv/log 2>&1 &
	pid=$!
	wait_sock srv/sock || { stop_pid $pid; return 1; }
	# bash reports the killed job on its stderr when the next command ends.
	{ "$PYTHON" "$HERE/ackload.py" srv/sock $pid 3000 > srv/acked 2> srv/load.err; } 2> /dev/null ||
		{ cat srv/load.err >&2; stop_pid $pid; return 1; }
	{ wait $pid; } 2> /dev/null; echo "server: $?"
	rm srv/sock
	unshimmed redis-check-aof srv/appendonlydir/appendonly.aof.manifest > srv/check 2>&1
	echo "redis-check-aof: $?"
	# env itself, not a function: $! must be the server's pid.
	env -u LD_PRELOAD -u ASYNCIFY_BACKEND redis-server --port 0 --unixsocket "$PWD/srv/sock" \
		--save '' --appendonly yes --dir "$PWD/srv" > srv/log2 2>&1 &
	pid=$!
	wait_sock srv/sock || { stop_pid $pid; return 1; }
	incrs=$(sed -n 1p srv/acked)
	n=$(unshimmed redis-cli -s srv/sock GET n)
	acks=$((incrs + $(sed -n 2p srv/acked | wc -w)))
	echo "acknowledged before the kill: $([ $acks -ge 3000 ] && echo 'over 3000' || echo "only $acks")"
	echo "counter holds every acknowledged INCR: $([ "${n:-0}" -ge "$incrs" ] && echo yes || echo "no ($n < $incrs)")"
	missing=$(sed -n 2p srv/acked | tr ' ' '\n' | sed 's/^/EXISTS k:/' | unshimmed redis-cli -s srv/sock | grep -c '^0')
	echo "acknowledged SETs missing: $missing"
	stop_pid $pid; echo "server stopped"
}
meta_rediskill() { NEED="redis-server redis-cli redis-check-aof"; IGNORE='^srv/'; }

# wait_lines FILE N: wait (at most 20 s) until FILE has N lines.
wait_lines() {
	local i
	for i in $(seq 400); do
		[ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "$1: fewer than $2 lines after 20 s" >&2
	return 1
}

# sqlkill (tests/real/sqlkill.c): 8 writers, each on its own database with
# synchronous=FULL, in journal_mode wal and delete, killed after 300
# acknowledged commits; then, without the shim: integrity_check, every
# acknowledged transaction there with its five rows, no transaction in
# part, none beyond the one a writer may have committed but not yet
# acknowledged.  Under the shim the writers are coroutines on one thread.
case_sqlitekill() {
	local mode pid w max
	for mode in wal delete; do
		mkdir $mode
		"$BIN/sqlkill" $mode $mode 8 &
		pid=$!
		wait_lines $mode/acked 300 || { stop_pid $pid; return 1; }
		kill -KILL $pid; { wait $pid; } 2> /dev/null; echo "$mode: writer: $?"
		for w in 0 1 2 3 4 5 6 7; do
			max=$(awk -v w=$w '$1 == w && $2 > m { m = $2 } END { print m + 0 }' $mode/acked)
			unshimmed sqlite3 $mode/w$w.db "PRAGMA integrity_check;
				SELECT 'acknowledged present: ' || (count(DISTINCT txn) = $max AND count(*) = 5 * $max)
				FROM t WHERE txn <= $max;
				SELECT 'in part: ' || count(*) FROM (SELECT txn FROM t GROUP BY txn HAVING count(*) != 5);
				SELECT 'beyond: ' || count(*) FROM t WHERE txn > $max + 1;" | sed "s/^/$mode w$w: /"
		done
	done
}
meta_sqlitekill() { NEED="sqlite3 $BIN/sqlkill"; IGNORE='.'; }

# as_pg DIR CMD...: run CMD as user postgres when root (the server refuses
# root), with the run's preload and backend, its counters written in DIR
# (the runner's own directory is root's alone; they are copied there).
# Only in the background (as_pg … &): the shell execs setpriv, which execs
# CMD, so that $! is CMD's pid (runuser would wait in a process of its
# own, and stop itself when CMD is stopped).
as_pg() {
	local d=$1
	shift
	set -- env ${LD_PRELOAD+"LD_PRELOAD=$LD_PRELOAD"} ${ASYNCIFY_BACKEND+"ASYNCIFY_BACKEND=$ASYNCIFY_BACKEND"} \
		ASY_STATS_DIR="$d" "$@"
	[ "$(id -u)" = 0 ] && set -- setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	exec "$@"
}

# gone PID...: wait (at most 10 s) until every one of the processes has
# ended (a zombie has); SIGKILL then, and say which were left.
gone() {
	local i p left
	for i in $(seq 200); do
		left=
		for p in "$@"; do ps -o stat= -p "$p" | grep -qv Z && left="$left $p"; done
		[ -z "$left" ] && return 0
		sleep 0.05
	done
	echo "still running after 10 s:$left" >&2
	kill -KILL $left 2> /dev/null
	return 1
}

# A PostgreSQL server (Debian's) under the shim with fsync and
# synchronous_commit on, its clients too: pgbench -i, then pgbench's
# TPC-B-like load (6 clients) beside 3 psql writers, each inserting
# numbered rows one transaction at a time and printing each number once
# its COMMIT returned.  Once 1 500 rows are in, the postmaster is stopped
# (SIGSTOP: it forks no more), then it and every backend get SIGKILL.
# Then, without the shim: crash recovery, pgbench's invariant (the sums
# of the accounts', tellers' and branches' balances and of the history's
# deltas agree), every acknowledged row there, at most one beyond per
# writer (the COMMIT the kill cut off before its reply), pg_amcheck
# clean.  The cluster lives in a directory of its own under /tmp (the
# server's user must reach it), removed after; pg and pg_stop are
# lib-cases.sh's, and pg_bin.
case_pgkill() {
	local bin pgd pm rc=0
	bin=$(pg_bin)
	pgd=$(mktemp -d /tmp/asy-pgkill.XXXXXX) || return 1
	chmod 755 "$pgd"
	mkdir "$pgd/stats"
	[ "$(id -u)" = 0 ] && chown postgres "$pgd" "$pgd/stats"
	export PGHOST=$pgd PGUSER=postgres PGDATABASE=postgres
	if pg "${bin}initdb" -D "$pgd/data" -A trust -U postgres --no-sync > "$pgd/initdb.log" 2>&1; then
		pgkill_run "$bin" "$pgd" || rc=1
	else
		cat "$pgd/initdb.log" >&2; rc=1
	fi
	pm=$(head -1 "$pgd/data/postmaster.pid" 2> /dev/null)
	[ -n "$pm" ] && pg_stop "$pgd" "$pm" && echo "server stopped"
	[ -n "${ASY_STATS_DIR:-}" ] && cp "$pgd"/stats/* "$ASY_STATS_DIR/" 2> /dev/null
	rm -rf "$pgd"
	return $rc
}
# With AddressSanitizer's or ThreadSanitizer's runtime preloaded the
# server does not come up (it hangs silently), even without the shim.
meta_pgkill() {
	NEED="runuser setpriv $(pg_bin)postgres $(pg_bin)pgbench $(pg_bin)pg_amcheck"; IGNORE='.'
	case ${ASY_SANITIZE:-} in
	address | thread) NOSAN="postgres does not start with the $ASY_SANITIZE sanitizer's runtime preloaded, even without the shim" ;;
	esac
}

# pgkill with main() of the server and of every client inside a
# coroutine (coromain.so, run-real.sh): the postmaster forks its backends
# from a coroutine, and every blocking call of theirs (WAL writes and
# fsyncs, the latch waits, the socket reads) goes through the engine.
case_pgcorokill() {
	export LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$BIN/coromain.so"
	case_pgkill
}
meta_pgcorokill() { meta_pgkill; NEED="$NEED $BIN/coromain.so"; CORO=1; }

# pgkill_run BIN DIR: the shimmed server loaded and killed, the checks on
# a restart without the shim (case_pgkill).
pgkill_run() {
	local bin=$1 pgd=$2 pm kids bp w wp i n max lib=0 have=0
	as_pg "$pgd/stats" "${bin}postgres" -D "$pgd/data" -k "$pgd" -c listen_addresses= \
		-c max_connections=30 -c fsync=on -c synchronous_commit=on > "$pgd/log" 2>&1 &
	# Still reaped by the shell, but no job of it: bash reports no kill.
	disown $!
	for i in $(seq 200); do unshimmed "${bin}pg_isready" -q && break; sleep 0.05; done
	pm=$(head -1 "$pgd/data/postmaster.pid" 2> /dev/null)
	[ -n "$pm" ] || { echo "the server did not start" >&2; cat "$pgd/log" >&2; return 1; }
	case ${LD_PRELOAD:-} in *libasyncify*) lib=1 ;; esac
	grep -q libasyncify "/proc/$pm/maps" && have=1
	echo "the server has the run's preload: $([ $lib = $have ] && echo yes || echo no)"
	"${bin}pgbench" -i -s 2 -q > "$pgd/init.log" 2>&1; echo "pgbench -i: $?"
	"${bin}psql" -X -q -c 'CREATE TABLE acks(w int, i int, PRIMARY KEY (w, i))'; echo "create: $?"
	"${bin}pgbench" -n -c 6 -j 2 -T 40 > "$pgd/bench.out" 2> "$pgd/bench.err" &
	bp=$!
	wp=
	for w in 1 2 3; do
		awk -v w=$w 'BEGIN { for (i = 1; i <= 20000; i++)
			printf "INSERT INTO acks VALUES (%d, %d);\n\\echo %d\n", w, i, i }' > "$pgd/w$w.sql"
		"${bin}psql" -X -q -v ON_ERROR_STOP=1 -f "$pgd/w$w.sql" > "$pgd/acked$w" 2> "$pgd/w$w.err" &
		wp="$wp $!"
	done
	for i in $(seq 600); do
		n=$(unshimmed "${bin}psql" -X -At -c 'SELECT count(*) FROM acks' 2> /dev/null)
		[ "${n:-0}" -ge 1500 ] && break
		sleep 0.05
	done
	echo "rows in before the kill: $([ "${n:-0}" -ge 1500 ] && echo 'over 1500' || echo "only $n")"
	kill -STOP "$pm"
	kids=$(ps -o pid= --ppid "$pm")
	kill -KILL "$pm" $kids
	gone "$pm" $kids $bp $wp
	wait $bp; echo "pgbench: $?"
	for w in 1 2 3; do
		wait "$(echo $wp | cut -d' ' -f$w)"; echo "writer $w: $?"
	done
	# The restart and every check without the shim.
	(unset LD_PRELOAD ASYNCIFY_BACKEND
	 as_pg "$pgd/stats" "${bin}postgres" -D "$pgd/data" -k "$pgd" -c listen_addresses=) > "$pgd/log2" 2>&1 &
	disown $!
	for i in $(seq 400); do unshimmed "${bin}pg_isready" -q && break; sleep 0.05; done
	echo "recovery: $(grep -q 'automatic recovery in progress' "$pgd/log2" &&
		grep -q 'ready to accept connections' "$pgd/log2" && echo done || echo "not done")"
	unshimmed "${bin}psql" -X -At -c 'SELECT count(DISTINCT s) FROM (SELECT sum(abalance) AS s FROM pgbench_accounts
		UNION ALL SELECT sum(bbalance) FROM pgbench_branches UNION ALL SELECT sum(tbalance) FROM pgbench_tellers
		UNION ALL SELECT sum(delta) FROM pgbench_history) x' | sed 's/^/distinct balance sums: /'
	for w in 1 2 3; do
		max=$(tail -1 "$pgd/acked$w")
		unshimmed "${bin}psql" -X -At -c "SELECT 'writer $w: acknowledged present: ' ||
			(count(*) FILTER (WHERE i <= ${max:-0}) = ${max:-0} AND ${max:-0} = $(wc -l < "$pgd/acked$w"))
			|| ', beyond: ' || (count(*) FILTER (WHERE i > ${max:-0}) <= 1) FROM acks WHERE w = $w"
	done
	unshimmed "${bin}psql" -X -q -c 'CREATE EXTENSION amcheck'
	unshimmed "${bin}pg_amcheck" --heapallindexed --parent-check -d postgres > "$pgd/amcheck" 2>&1
	echo "pg_amcheck: $?"
	[ -s "$pgd/amcheck" ] && cat "$pgd/amcheck" >&2
	return 0
}

KILL_CASES="rediskill sqlitekill pgkill pgcorokill"
