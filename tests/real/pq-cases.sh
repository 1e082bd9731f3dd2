# pq-cases.sh — libpq called from coroutines (sourced by run-real.sh):
# tests/real/pqload.c against a throw-away PostgreSQL cluster of the
# case's own, run without the shim (the server is not what is tested).
# Under the shim the client's connections are coroutines on one thread;
# the reference runs them one after the other.

# pg CMD...: a PostgreSQL program without the shim, as user postgres when
# root (the server refuses to run as root).
pg() {
	if [ "$(id -u)" = 0 ]; then
		env -u LD_PRELOAD -u ASYNCIFY_BACKEND runuser -u postgres -- "$@"
	else
		env -u LD_PRELOAD -u ASYNCIFY_BACKEND "$@"
	fi
}

# pg_stop DIR PID: fast shutdown of the server by its pid; wait (at most
# 10 s) until it is gone.
pg_stop() {
	local i
	kill -INT "$2" 2> /dev/null
	for i in $(seq 200); do kill -0 "$2" 2> /dev/null || return 0; sleep 0.05; done
	kill -KILL "$2" 2> /dev/null
}

# 64 connections of 20 queries each (one hash of every value), a query
# ended by asy_io_deadline (PQcancel without the shim) then PQreset, and
# a backend terminated mid-query.  The cluster lives in a directory of
# its own under /tmp (the server's user must reach it), removed after.
case_libpq() {
	local bin pgd pid ci m rc=0
	bin=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
	[ -x "$bin/initdb" ] || { echo "no PostgreSQL server programs" >&2; return 1; }
	pgd=$(mktemp -d /tmp/asy-pg.XXXXXX) || return 1
	chmod 755 "$pgd"
	[ "$(id -u)" = 0 ] && chown postgres "$pgd"
	if pg "$bin/initdb" -D "$pgd/data" -A trust -U postgres --no-sync > "$pgd/initdb.log" 2>&1 &&
	   pg "$bin/pg_ctl" -D "$pgd/data" -l "$pgd/log" -w -t 20 -o "-k $pgd -c listen_addresses= \
		-c fsync=off -c max_connections=80" start > /dev/null 2>&1; then
		pid=$(head -1 "$pgd/data/postmaster.pid")
		ci="host=$pgd user=postgres dbname=postgres"
		"$BIN/pqload" work 64 "$ci" || rc=1
		for m in deadline terminate; do "$BIN/pqload" $m "$ci" || rc=1; done
		pg_stop "$pgd" "$pid"
	else
		echo "the cluster did not start:" >&2; cat "$pgd/initdb.log" "$pgd/log" >&2; rc=1
	fi
	rm -rf "$pgd"
	return $rc
}
meta_libpq() { NEED="$BIN/pqload runuser"; CORO=1; }

PQ_CASES="libpq"
