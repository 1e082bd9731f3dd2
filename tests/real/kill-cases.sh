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

KILL_CASES="rediskill sqlitekill"
