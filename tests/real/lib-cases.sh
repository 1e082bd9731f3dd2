# lib-cases.sh — real libraries called unchanged from coroutines
# (sourced by run-real.sh): libpq, zlib, libcurl and hiredis, each driven by a
# small program of tests/real/ that runs its jobs as coroutines on one
# thread under the shim and one after the other without it, ends calls
# with asy_io_deadline or asy_cancel, and prints only what must be the
# same both ways (the reference ends them by the library's own means).

# pg CMD...: a PostgreSQL program without the shim, as user postgres when
# root (the server refuses to run as root).
pg() {
	if [ "$(id -u)" = 0 ]; then
		env -u LD_PRELOAD -u ASYNCIFY_BACKEND runuser -u postgres -- "$@"
	else
		env -u LD_PRELOAD -u ASYNCIFY_BACKEND "$@"
	fi
}

# pg_bin: the directory of the newest PostgreSQL server's programs, with
# a slash ("" when there is none).
pg_bin() {
	local b
	b=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
	[ -n "$b" ] && echo "$b/"
}

# pg_stop DIR PID: fast shutdown of the server by its pid; wait (at most
# 10 s) until it is gone.
pg_stop() {
	local i
	kill -INT "$2" 2> /dev/null
	for i in $(seq 200); do kill -0 "$2" 2> /dev/null || return 0; sleep 0.05; done
	kill -KILL "$2" 2> /dev/null
}

# libpq: tests/real/pqload.c against a throw-away PostgreSQL cluster of
# the case's own, run without the shim (the server is not what is tested).
# 64 connections of 20 queries each (one hash of every value), a query
# ended by asy_io_deadline (PQcancel without the shim) then PQreset, and
# a backend terminated mid-query.  The cluster lives in a directory of
# its own under /tmp (the server's user must reach it), removed after.
case_libpq() {
	local bin pgd pid ci m rc=0
	bin=$(pg_bin)
	[ -x "${bin}initdb" ] || { echo "no PostgreSQL server programs" >&2; return 1; }
	pgd=$(mktemp -d /tmp/asy-pg.XXXXXX) || return 1
	chmod 755 "$pgd"
	[ "$(id -u)" = 0 ] && chown postgres "$pgd"
	if pg "${bin}initdb" -D "$pgd/data" -A trust -U postgres --no-sync > "$pgd/initdb.log" 2>&1 &&
	   pg "${bin}pg_ctl" -D "$pgd/data" -l "$pgd/log" -w -t 20 -o "-k $pgd -c listen_addresses= \
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

# zlib: tests/real/zload.c — 32 gzip files written at once (compared
# byte for byte by the runner), a gzip stream through a pipe in odd
# pieces, gzopen of a FIFO with no writer ended after 200 ms.
case_zlib() {
	"$BIN/zload" .
}
meta_zlib() { NEED="$BIN/zload"; CORO=1; }

# libcurl: tests/real/curlload.c — a transfer of a 64 MiB body from a
# loopback server ended after 4 MiB (asy_cancel, then asy_io_deadline),
# the next on a new handle whole, no fd left open.
case_curl() {
	"$BIN/curlload"
}
meta_curl() { NEED="$BIN/curlload"; CORO=1; }

# hiredis: tests/real/redisload.c against a redis-server of the case's own
# on a free loopback port, run without the shim (the server is not what is
# tested): 64 connections of 200 commands, half of them pipelined (one
# hash of every reply); a BLPOP ended by redisSetTimeout's SO_RCVTIMEO
# (the same error text both ways), by asy_io_deadline and by asy_cancel
# (a shutdown from a thread without the shim), then redisReconnect; a
# connect to a listener whose accept queue is full, ended by
# redisConnectWithTimeout; a BLPOP answered by another connection's push.
case_hiredis() {
	mkdir srv
	local pid p m rc=0
	p=$(free_port)
	env -u LD_PRELOAD -u ASYNCIFY_BACKEND redis-server --port "$p" --bind 127.0.0.1 \
		--save '' --appendonly no --dir "$PWD/srv" > srv/log 2>&1 &
	pid=$!
	log_port srv/log "s/.*Ready to accept connections.*/$p/p" > /dev/null ||
		{ stop_pid $pid; return 1; }
	"$BIN/redisload" work 64 127.0.0.1 "$p" || rc=1
	for m in timeout deadline cancel full blpop; do
		echo "== $m"
		"$BIN/redisload" $m 127.0.0.1 "$p" || rc=1
	done
	stop_pid $pid
	return $rc
}
meta_hiredis() { NEED="$BIN/redisload redis-server"; IGNORE='^srv/'; CORO=1; }

LIB_CASES="libpq zlib curl hiredis"
