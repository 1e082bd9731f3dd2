# net-cases.sh — the socket cases of run-real.sh (sourced by it): clients
# and servers talking over loopback, each run without the shim and under
# every backend, with outputs, files and exit statuses compared.
#
# Both ends of each conversation run in the case, so under the shim both
# are shimmed.  Every server listens on an ephemeral port (port 0, read
# back from its own log) or on a unix socket in the work directory, and is
# stopped by its pid; server logs go to srv/, which is not compared
# (they carry pids, ports and times).  NEED lists the programs a case
# cannot run without: the runner skips it when one is missing.

# log_port FILE SED-EXPR: wait (at most 10 s) until a server's log FILE
# names its port; print it.
log_port() {
	local i p
	for i in $(seq 200); do
		p=$(sed -n "$2" "$1" | head -1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	echo "no port in $1: $(head -3 "$1")" >&2
	return 1
}

# wait_sock PATH: wait (at most 10 s) until the unix socket PATH exists.
wait_sock() {
	local i
	for i in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done
	echo "no socket $1" >&2
	return 1
}

# stop_pid PID: end a server started by the case and reap it.
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# A port nobody listens on now (for servers that cannot report port 0).
free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# curl against python3's http.server: a 32 MiB download, two files over
# one connection, a listing, a 404 with and without -f, headers, and a
# refused connection once the server is gone.
case_http() {
	mkdir srv
	"$PYTHON" -u -m http.server --bind 127.0.0.1 -d "$DATA" 0 > srv/out 2> srv/err &
	local pid=$! p u
	p=$(log_port srv/out 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p') || { stop_pid $pid; return 1; }
	u=http://127.0.0.1:$p
	curl -sS -o big "$u/big" && cmp big "$DATA/big" && echo "big: same bytes"
	curl -sS "$u/small" "$u/text" | sha256sum
	curl -sS "$u/tree/"
	curl -sS -o /dev/null -w '%{http_code} %{size_download}\n' "$u/missing"
	curl -sS -f "$u/missing"; echo "curl -f: $?"
	curl -sS -I "$u/text" | grep -Eiv '^(date|last-modified|server):'
	stop_pid $pid
	curl -sS "$u/small" 2>&1 | sed -E 's/port [0-9]+/port P/; s/after [0-9]+ ms/after N ms/'
	echo "refused: ${PIPESTATUS[0]}"
}
# Debian's curl 7.88 hangs with GCC 12's ASan runtime preloaded, shim or no shim.
CURL_NOSAN="curl hangs with a sanitizer's runtime preloaded, even without the shim"
meta_http() { NEED="curl"; IGNORE='^srv/'; NOSAN=$CURL_NOSAN; }

# OpenBSD nc: a file each way over TCP, and a slow writer.
case_nc() {
	mkdir srv
	local pid p
	nc -v -l 127.0.0.1 0 > got1 2> srv/l1 &
	pid=$!
	p=$(log_port srv/l1 's/^Listening on .* \([0-9]*\)$/\1/p') || { stop_pid $pid; return 1; }
	nc -N 127.0.0.1 "$p" < "$DATA/big"; echo "client: $?"
	wait $pid; echo "server: $?"
	cmp got1 "$DATA/big" && echo "to the server: same bytes"
	nc -v -N -l 127.0.0.1 0 < "$DATA/text" 2> srv/l2 &
	pid=$!
	p=$(log_port srv/l2 's/^Listening on .* \([0-9]*\)$/\1/p') || { stop_pid $pid; return 1; }
	nc -d 127.0.0.1 "$p" > got2; echo "client: $?"
	wait $pid; echo "server: $?"
	cmp got2 "$DATA/text" && echo "from the server: same bytes"
	nc -v -l 127.0.0.1 0 2> srv/l3 | sha256sum &
	pid=$!
	p=$(log_port srv/l3 's/^Listening on .* \([0-9]*\)$/\1/p') || { stop_pid $pid; return 1; }
	{ echo one; sleep 0.2; head -c 100000 "$DATA/big"; sleep 0.2; echo two; } | nc -N 127.0.0.1 "$p"
	wait $pid; echo "slow writer: $?"
}
meta_nc() { NEED="nc"; IGNORE='^srv/'; }

# socat: a file to a TCP server, a unix-socket server running sha256sum
# per connection (forking), and a TCP relay in front of it.
case_socat() {
	mkdir srv
	local pid p relay
	socat -d -d TCP-LISTEN:0,bind=127.0.0.1 OPEN:got1,creat,trunc 2> srv/s1 &
	pid=$!
	p=$(log_port srv/s1 's/.* listening on AF=2 127\.0\.0\.1:\([0-9]*\)$/\1/p') || { stop_pid $pid; return 1; }
	socat -u OPEN:"$DATA/big" TCP:127.0.0.1:"$p"; echo "client: $?"
	wait $pid; echo "server: $?"
	cmp got1 "$DATA/big" && echo "tcp: same bytes"
	socat UNIX-LISTEN:srv/sock,fork EXEC:sha256sum 2> srv/s2 &
	pid=$!
	wait_sock srv/sock || { stop_pid $pid; return 1; }
	socat -t 10 - UNIX-CONNECT:srv/sock < "$DATA/big"; echo "unix: $?"
	socat -d -d TCP-LISTEN:0,bind=127.0.0.1,fork UNIX-CONNECT:srv/sock 2> srv/s3 &
	relay=$!
	p=$(log_port srv/s3 's/.* listening on AF=2 127\.0\.0\.1:\([0-9]*\)$/\1/p') || { stop_pid $relay; stop_pid $pid; return 1; }
	cat "$DATA/text" | socat -t 10 - TCP:127.0.0.1:"$p" | cat; echo "relay: ${PIPESTATUS[*]}"
	stop_pid $relay
	stop_pid $pid
	echo "servers stopped"
}
meta_socat() { NEED="socat"; IGNORE='^srv/'; }

# redis-server with redis-cli over a unix socket and TCP: commands, a
# 100 KB value, mass insertion (--pipe), redis-benchmark (exit status).
case_redis() {
	mkdir srv
	local pid p i
	p=$(free_port)
	redis-server --port "$p" --bind 127.0.0.1 --unixsocket "$PWD/srv/sock" \
		--save '' --appendonly no --dir "$PWD/srv" > srv/log 2>&1 &
	pid=$!
	wait_sock srv/sock || { stop_pid $pid; return 1; }
	r() { redis-cli -s srv/sock "$@"; }
	r PING; r SET k v; r GET k; r INCR n; r INCRBY n 41
	r RPUSH l a b c; r LRANGE l 0 -1
	r SET big "$(head -c 100000 "$DATA/text")"; r STRLEN big; r GET big | sha256sum
	for i in $(seq 2000); do echo "SET key:$i value:$i"; done | r --pipe
	redis-cli -h 127.0.0.1 -p "$p" DBSIZE
	redis-cli -h 127.0.0.1 -p "$p" GET key:1234
	redis-benchmark -s srv/sock -n 2000 -c 8 -q -t set,get > /dev/null; echo "benchmark: $?"
	stop_pid $pid; echo "server stopped"
}
meta_redis() { NEED="redis-server redis-cli redis-benchmark"; IGNORE='^srv/'; }

# openssl s_server -WWW with s_client and curl over TLS (a fresh EC key
# per run: only what went through the tunnel is compared).
case_tls() {
	mkdir srv
	local pid p
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout srv/key.pem -out srv/cert.pem -subj /CN=localhost -days 1 2> /dev/null ||
		return 1
	(cd "$DATA" && exec openssl s_server -accept 127.0.0.1:0 -cert "$OLDPWD/srv/cert.pem" \
		-key "$OLDPWD/srv/key.pem" -WWW -naccept 2) > srv/out 2>&1 &
	pid=$!
	p=$(log_port srv/out 's/^ACCEPT .*:\([0-9]*\)$/\1/p') || { stop_pid $pid; return 1; }
	printf 'GET /small HTTP/1.0\r\n\r\n' | openssl s_client -quiet -connect 127.0.0.1:"$p" 2> /dev/null |
		sha256sum; echo "s_client: ${PIPESTATUS[1]}"
	curl -sS -k "https://127.0.0.1:$p/text" | sha256sum
	wait $pid; echo "s_server: $?"
}
meta_tls() { NEED="openssl curl"; IGNORE='^srv/'; NOSAN=$CURL_NOSAN; }

NET_CASES="http nc socat redis tls"
