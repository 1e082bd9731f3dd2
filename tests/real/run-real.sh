#!/bin/bash
# run-real.sh — real programs with and without the shim, on every backend.
#
#   run-real.sh LIB BIN [CASE...]
#
# LIB is the absolute path of libasyncify.so, BIN the directory holding the
# helpers built from tests/real/*.c (statsdump.so, dropcache, uring-probe,
# seccomp-run).  With CASE names, only those cases run (see `cases` below).
#
# Every case is a shell function run four times in a fresh directory:
# without the shim (the reference), then with LD_PRELOAD=LIB under
# ASYNCIFY_BACKEND=off, uring and threads.  Each shimmed run must give the
# reference's exit status, stdout, stderr (unless the case says its stderr
# is not deterministic) and the same bytes in every file it left behind.
# statsdump.so, preloaded after the shim, records each process's engine
# counters; a case that makes its input cold (dropcache) or feeds a pipe
# slowly must show calls really submitted to the backend it asked for.
#
# Environment: ASY_REAL_KEEP=1 keeps the work directory; ASY_SANITIZE=name
# preloads that sanitizer's runtime first (SANITIZE builds of the library).
# Exit status: 0 all passed, 1 something failed.
set -u
export LC_ALL=C TZ=UTC
if [ "${1:-}" = --case ]; then
	CASE_ONLY=$2 # internal: run one case here; its inputs come in the environment
else
	CASE_ONLY=
	# The runner sets these per run; other ASYNCIFY_* settings (tuning,
	# tracing to a file) are passed on, to run the suite under them.
	unset ASYNCIFY_BACKEND LD_PRELOAD
	LIB=${1:?usage: run-real.sh LIB BIN [CASE...]}
	BIN=${2:?usage: run-real.sh LIB BIN [CASE...]}
	shift 2
	HERE=$(cd "$(dirname "$0")" && pwd)
	SELF=$HERE/$(basename "$0")
fi
FAILS=0
BACKENDS="off uring threads"

if [ -z "$CASE_ONLY" ]; then
	T=$(mktemp -d /var/tmp/asy-real.XXXXXX) || exit 1
	cleanup() { [ "${ASY_REAL_KEEP:-0}" = 1 ] && echo "  kept $T" || rm -rf "$T"; }
	trap cleanup EXIT
	DATA=$T/data
	PRE="$LIB" REF_PRE=
	case ${ASY_SANITIZE:-} in
	address) rt=libasan.so ;;
	undefined) rt=libubsan.so ;;
	thread) rt=libtsan.so ;;
	*) rt= ;;
	esac
	# A sanitized library needs its runtime preloaded first.  The reference
	# runs then get the runtime alone: the sanitizer changes some programs'
	# behaviour (GCC 12's ASan rejects dd's aligned_alloc(4096, 1)), and the
	# comparison is about what the shim changes.
	if [ -n "$rt" ]; then
		REF_PRE=$(${CC:-cc} -print-file-name=$rt)
		PRE="$REF_PRE $LIB"
		# Leaks of the programs themselves are not ours; unsymbolized reports
		# come out at once, before a timeout in a case could cut them short.
		export ASAN_OPTIONS=detect_leaks=0:symbolize=0 UBSAN_OPTIONS=symbolize=0
	fi
	export DATA BIN HERE PRE
fi

pass() { printf '  ok    %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*"; FAILS=$((FAILS + 1)); }
skip() { printf '  skip  %s\n' "$*"; }

# cold FILE...: evict from the page cache, without the shim (its own
# fdatasync would otherwise count as a submission of the case).
cold() { env -u LD_PRELOAD "$BIN/dropcache" "$@"; }
# slowly CMD...: run CMD with its output arriving after the reader blocked.
slowly() { sleep 0.2; "$@"; }

# ---- the cases -----------------------------------------------------------
# Each runs in its work directory; $DATA holds the inputs (read-only).
# Every case: no call of a plain program may reach a backend (check_submitted).
# NOERR=1: stderr is not compared (not deterministic).
# IGNORE: extended regex of paths (relative) whose bytes are not compared.
# NEED: programs the case needs; it is skipped when one is not installed.
# NOSAN: why the case cannot run with a sanitizer's runtime preloaded (it
# is skipped then with that reason).
# CORO=1: the case runs a program of coroutines, whose calls must reach
# the backend under uring and threads instead (check_submitted).

case_cat() {
	cold "$DATA/big"
	cat "$DATA/big" > out1 &&
	cat "$DATA/small" - "$DATA/text" < "$DATA/small" > out2 &&
	slowly cat "$DATA/small" | cat > out3 &&
	cat missing-file
}
meta_cat() { :; }

case_dd() {
	cold "$DATA/big"
	dd if="$DATA/big" of=out1 bs=4k status=noxfer &&
	dd if="$DATA/big" of=/dev/null bs=4k status=noxfer &&
	dd if="$DATA/big" of=out2 bs=64k conv=fsync status=noxfer &&
	dd if="$DATA/big" of=out3 bs=1M count=5 skip=3 seek=1 status=noxfer &&
	dd if="$DATA/big" of=out4 ibs=1000 obs=3000 count=777 status=noxfer &&
	dd if="$DATA/small" of=out5 bs=512 conv=fdatasync,notrunc status=noxfer &&
	slowly cat "$DATA/small" | dd of=out6 bs=4k iflag=fullblock status=noxfer
}
meta_dd() { :; }

case_cp() {
	cold "$DATA/big"
	cp "$DATA/big" out1 &&
	cp --sparse=never "$DATA/small" out2 &&
	slowly cat "$DATA/small" | cp /dev/stdin out3 &&
	cp -r "$DATA/tree" tree
}
meta_cp() { :; }

case_sha256sum() {
	cold "$DATA/big"
	sha256sum "$DATA/big" "$DATA/small" "$DATA/text" | sed "s|$DATA/||" &&
	slowly cat "$DATA/big" | sha256sum &&
	sha256sum missing-file
}
meta_sha256sum() { :; }

case_sort() {
	sort "$DATA/text" > sorted &&
	sort -k2,2n -k1,1 "$DATA/text" | tail -5 &&
	sort -u -k1,1 "$DATA/text" &&
	mkdir tmp && sort -S 256K -T tmp -r "$DATA/text" > sorted-r &&
	slowly head -c 50000 "$DATA/text" | sort | sha256sum
}
meta_sort() { :; }

case_tar() {
	cold "$DATA/tree/a/b/c/five-mib"
	tar --sort=name -cf a.tar -C "$DATA" tree &&
	mkdir x && tar -xf a.tar -C x && diff -r "$DATA/tree" x/tree &&
	tar -tvf a.tar &&
	tar --sort=name -c -C "$DATA" tree | gzip -n | gunzip | tar -t
}
meta_tar() { :; }

case_gzip() {
	head -c 8M "$DATA/big" > in && cat "$DATA/text" >> in && cold in &&
	gzip -n -c in > in.gz &&
	gunzip -c in.gz | cmp - in &&
	cp in.gz again.gz && gunzip again.gz && cmp again in &&
	gzip -n -1 < "$DATA/text" > text1.gz && gzip -t text1.gz &&
	slowly cat "$DATA/small" | gzip -n | gunzip | sha256sum &&
	gzip -d < "$DATA/small"
}
meta_gzip() { NOERR=0; }

case_sqlite3() {
	sh "$HERE/sqlite-script.sh" delete 20000 > script-delete.sql &&
	sh "$HERE/sqlite-script.sh" wal 20000 > script-wal.sql &&
	sqlite3 delete.db < script-delete.sql &&
	sqlite3 wal.db < script-wal.sql &&
	cold delete.db wal.db &&
	sqlite3 delete.db .dump > delete.dump &&
	sqlite3 wal.db 'SELECT count(*), sum(k) FROM t; PRAGMA journal_mode;' &&
	sqlite3 wal.db .dump > wal.dump &&
	sqlite3_writers
}

# Three sqlite3 processes writing one WAL database at once, 300 small
# transactions each (locks through fcntl, data through pwrite, the WAL's
# shared memory through mmap): every row must land, and the db stay whole.
sqlite3_writers() {
	sqlite3 conc.db 'PRAGMA journal_mode=wal; CREATE TABLE t(w, i, b);' &&
	for w in 1 2 3; do
		awk -v w=$w 'BEGIN { print "PRAGMA busy_timeout=30000;"
			for (i = 1; i <= 300; i++)
				printf "BEGIN IMMEDIATE; INSERT INTO t VALUES(%d, %d, zeroblob(300)); COMMIT;\n", w, i }' > w$w.sql
	done &&
	{ sqlite3 conc.db < w1.sql & sqlite3 conc.db < w2.sql & sqlite3 conc.db < w3.sql; wait; } &&
	sqlite3 conc.db 'SELECT count(*), count(DISTINCT w || "-" || i) FROM t; PRAGMA integrity_check;' &&
	rm conc.db
}
meta_sqlite3() { :; }

case_python3() {
	cold "$DATA/big"
	"$PYTHON" "$HERE/pyio.py" "$DATA/big"
}
meta_python3() { :; }

case_git() {
	export HOME=$PWD/home GIT_CONFIG_NOSYSTEM=1
	export GIT_AUTHOR_NAME=Ann GIT_AUTHOR_EMAIL=ann@example.org
	export GIT_COMMITTER_NAME=Ann GIT_COMMITTER_EMAIL=ann@example.org
	export GIT_AUTHOR_DATE='2026-01-02T03:04:05Z' GIT_COMMITTER_DATE='2026-01-02T03:04:05Z'
	mkdir home repo && cd repo &&
	git init -q -b main . &&
	cp -r "$DATA/tree" tree && cp "$DATA/small" small &&
	git add . && git commit -q -m 'first' &&
	echo more >> small && git commit -q -a -m 'second' &&
	git log --format='%H %an %ad %s' --date=iso &&
	git fsck --strict --no-progress &&
	git cat-file -p HEAD: &&
	git gc -q && git fsck --no-progress && git count-objects -v | grep -v size &&
	git show --stat HEAD | tail -3 &&
	cd .. && git clone -q --no-local repo clone &&
	git -C clone log --format='%H %s' && git -C clone fsck --no-progress &&
	cmp clone/tree/a/b/c/five-mib "$DATA/tree/a/b/c/five-mib"
}
# The index records inode numbers and times, the clone's config the
# absolute path of its origin; packs (made by gc, or sent through the pack
# protocol's pipes by clone --no-local) are compared through fsck,
# count-objects and the checked-out files instead.
meta_git() {
	IGNORE='^(repo|clone)/\.git/(index|gc\.log|objects/pack/|packed-refs|logs/|config$|FETCH_HEAD)'
}

case_pipelines() {
	cold "$DATA/big"
	cat "$DATA/big" | sha256sum &&
	tar --sort=name -c -C "$DATA" tree | gzip -n | gunzip | tar -t &&
	cat "$DATA/text" | sort | uniq -c | sort -rn | head -3 &&
	dd if="$DATA/big" bs=4k status=none | gzip -1 -n | gunzip | cmp - "$DATA/big"
}
meta_pipelines() { :; }

# Signals as real programs meet them: SIGPIPE when the reader goes away
# while the writer is blocked on a full pipe (exit 141 in PIPESTATUS),
# EPIPE where SIGPIPE is ignored, a timer signal every 50 ms while python3
# is blocked reading a pipe (with and without SA_RESTART), and a signal
# ending a blocked read.
case_signals() {
	yes | head -c 1000000 | sha256sum; echo "yes|head: ${PIPESTATUS[*]}"
	cat "$DATA/big" | head -c 10 | od -An -tx1; echo "cat|head: ${PIPESTATUS[*]}"
	dd if=/dev/zero bs=64k count=1000 status=none | (sleep 0.2; head -c 1 > /dev/null)
	echo "dd|head: ${PIPESTATUS[*]}"
	(trap '' PIPE; exec yes) | head -c 5; echo "ignored: ${PIPESTATUS[*]}"
	"$PYTHON" -c 'import os, time
time.sleep(0.2)
try:
    while True: os.write(1, b"x" * 65536)
except BrokenPipeError as e: os.write(2, b"EPIPE %d\n" % e.errno)' | head -c 3; echo " python: ${PIPESTATUS[*]}"
	(sleep 0.5; head -c 100000 "$DATA/big"; sleep 0.5; echo x) | "$PYTHON" "$HERE/pysignal.py"
	(sleep 0.5; head -c 100000 "$DATA/big"; sleep 0.5; echo x) | "$PYTHON" "$HERE/pysignal.py" restart
	(sleep 1; echo late) | timeout -s INT 0.3 cat; echo "timeout INT: $?"
	(sleep 1; echo late) | timeout -s TERM 0.3 dd bs=1 status=none; echo "timeout TERM: $?"
	return 0
}
meta_signals() { :; }

# bash reading its script from a slow pipe that its children share: bash
# reads a pipe byte by byte and `read`/`head -c` must leave the rest for
# the next reader, so one extra byte taken by any read shows.
case_stdin() {
	{ echo 'read x; echo "got $x"'; echo 'line-one'
	  echo 'head -c 4; echo; read y; echo "then $y"'; sleep 0.3
	  echo 'ABCDEFG'; echo 'no-such-command-here'; echo 'cat'; echo 'rest1'; sleep 0.2; echo 'rest2'
	} | bash
	echo "rc=$?"
	printf 'one\ntwo\nthree\n' | { slowly head -n 1; read a; echo "read: $a"; cat; }
}
meta_stdin() { :; }

# More programs with their own I/O loops: multi-threaded xz and zstd,
# bzip2, perl sysread/syswrite, split, openssl, parallel xargs (its output
# sorted: -P2 finishes in any order).  A tool that is not installed fails
# the same way in every run.
case_tools() {
	cold "$DATA/big" "$DATA/text"
	xz -T2 -1 -c "$DATA/text" | xz -d | sha256sum
	zstd -q -T2 -c "$DATA/big" | zstd -q -d | sha256sum
	bzip2 -1 -c "$DATA/small" | bzip2 -d | sha256sum
	perl -e 'open(my $f, "<", $ARGV[0]) or die; my $n = 0;
		while (my $r = sysread($f, my $b, 65536)) { $n += $r } print "$n\n";
		open(my $o, ">", "p.out") or die; syswrite($o, "x" x 100000); close $o;
		print -s "p.out", "\n"' "$DATA/big"
	split -b 7M "$DATA/big" part. && cat part.* | cmp - "$DATA/big" && echo split-ok && rm part.*
	openssl dgst -sha256 < "$DATA/big"
	find "$DATA/tree" -type f -print0 | xargs -0 -P2 -n1 md5sum | sed "s|$DATA/||" | sort
}
meta_tools() { :; }

# A daemon closes every fd it did not open (close_range) and reuses the
# numbers for its own files: the shim must neither hang nor touch them.
case_closefds() {
	"$PYTHON" "$HERE/pyclosefds.py"
}
meta_closefds() { :; }

# Unmodified programs with main() inside a coroutine (coromain.so, beside
# a 1 ms ticker): every blocking call of theirs goes through the engine
# and yields, and what they write is what they write without the shim.
# Without the shim coromain.so runs main() as it is.
in_coro() { LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$BIN/coromain.so" "$@"; }
case_coromain() {
	cold "$DATA/big"
	in_coro sort -k2,2n -k1,1 "$DATA/text" > sorted &&
	in_coro sh "$HERE/sqlite-script.sh" wal 5000 > script.sql &&
	in_coro sqlite3 wal.db < script.sql &&
	in_coro sqlite3 wal.db 'PRAGMA integrity_check; SELECT count(*) FROM t;' &&
	in_coro "$PYTHON" "$HERE/pyio.py" "$DATA/big" &&
	in_coro gzip -c "$DATA/big" | in_coro gzip -dc | in_coro sha256sum &&
	slowly in_coro cat "$DATA/small" | in_coro cat > small &&
	in_coro "$BIN/execstack" &&
	in_coro "$PYTHON" -c 'import os
pid = os.fork()
if pid == 0:
    raise ValueError("a child whose main() returns 1")
print("child exit status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))' 2>/dev/null
}
meta_coromain() { NEED="sqlite3 gzip"; CORO=1; }

# Programs with main() in a coroutine under valgrind's memcheck (as
# coreutils' own tests run cp and sort): its exit status says whether it
# reported anything, so each coroutine stack must be known to it as one,
# and what the engine writes into the program's memory (cp's stat
# results) as written; a cold file's reads make no system call valgrind
# does not know (it says so on stderr: cachestat).
case_valgrind() {
	in_coro valgrind -q --error-exitcode=3 cat "$DATA/small" > small &&
	in_coro valgrind -q --error-exitcode=3 sort -k2,2n "$DATA/text" | head -c 65536 > sorted &&
	in_coro valgrind -q --error-exitcode=3 cp --reflink=never "$DATA/small" copied &&
	cold "$DATA/big" &&
	in_coro valgrind -q --error-exitcode=3 head -c 2097152 "$DATA/big" > head2m
}
meta_valgrind() {
	NEED="valgrind"; CORO=1
	[ -z "${ASY_SANITIZE:-}" ] || NOSAN="a sanitizer's runtime does not run under valgrind"
}

# Node.js, a large program on libuv: an epoll loop, a thread pool making
# the file calls, child processes with pipes and IPC over socketpairs that
# pass a server and a socket (SCM_RIGHTS), inotify, a signal's self-pipe,
# TCP, unix and UDP sockets, http (also against python3's http.server,
# stopped by pid), worker threads waiting in Atomics.wait, zlib.
case_node() {
	node "$HERE/nodeio.js" "$DATA"
}
# With ThreadSanitizer's runtime preloaded node dies of SIGSEGV without the
# shim, and reports races of its own (V8's platform threads) with it.
meta_node() {
	NEED="node"; IGNORE='^srv/'
	[ "${ASY_SANITIZE:-}" != thread ] || NOSAN="node crashes with ThreadSanitizer's runtime preloaded, even without the shim"
}

. "$HERE/net-cases.sh"
. "$HERE/fs-cases.sh"
. "$HERE/kill-cases.sh"
. "$HERE/lib-cases.sh"
. "$HERE/ssh-cases.sh"
. "$HERE/sync-cases.sh"

ALL_CASES="cat dd cp sha256sum sort tar gzip sqlite3 python3 git pipelines signals stdin tools closefds coromain valgrind node $NET_CASES $FS_CASES $KILL_CASES $LIB_CASES $SSH_CASES $SYNC_CASES"

if [ -n "$CASE_ONLY" ]; then
	"case_$CASE_ONLY"
	exit
fi

# ---- the runner ----------------------------------------------------------

# run_variant CASE VARIANT: run the case, leave stdout, stderr, rc, the
# file manifest and the engine counters in $T/CASE/VARIANT.
run_variant() {
	local c=$1 v=$2 d=$T/$1/$2 t0=${EPOCHREALTIME/./}
	mkdir -p "$d/work" "$d/stats"
	# The case runs in a new shell (this script again, --case) under
	# timeout, which kills the case's whole process group if it hangs.
	(
		cd "$d/work" || exit 1
		if [ "$v" != none ]; then
			export LD_PRELOAD="$PRE $BIN/statsdump.so" ASYNCIFY_BACKEND=$v ASY_STATS_DIR=$d/stats
		elif [ -n "$REF_PRE" ]; then
			export LD_PRELOAD="$REF_PRE"
		fi
		exec timeout -s KILL 90 bash "$SELF" --case "$c"
	) > "$d/stdout" 2> "$d/stderr"
	local rc=$?
	echo $rc > "$d/rc"
	echo "$(( (${EPOCHREALTIME/./} - t0) / 100000 ))" | sed 's/.$/.&/; s/^\./0./' > "$d/secs"
	[ $rc = 137 ] && echo "  (killed after 90 s: hung?)" >> "$d/stderr"
	# Where io_uring is unavailable, every process told to use it says so
	# once on stderr (CONTRACT §5): expected, and not part of the comparison
	# (git relays its server side's stderr as "remote: …", space-padded).
	if [ "$v" = uring ] && [ "$URING_OK" != 1 ]; then
		grep -Ev '^(remote: )?asyncify: io_uring is not available \(.*\); using the threads backend *$' \
			"$d/stderr" > "$d/stderr.cmp"
	else
		cp "$d/stderr" "$d/stderr.cmp"
	fi
	# Sanitizer reports (same in both runs) carry pids and addresses.
	[ -z "$REF_PRE" ] || sed -i -E 's/==[0-9]+==/==PID==/g; s/0x[0-9a-f]+/0xADDR/g' "$d/stderr.cmp"
	(cd "$d/work" && find . -type f -printf '%P\n' | LC_ALL=C sort |
		{ if [ -n "$IGNORE" ]; then grep -Ev "$IGNORE"; else cat; fi; } |
		tr '\n' '\0' | xargs -0 -r sha256sum --) > "$d/files"
	cat "$d"/stats/* 2>/dev/null | awk '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[2] ~ /^[0-9]+$/) s[kv[1]] += kv[2] } }
		END { printf "procs=%d submitted=%d uring=%d threads=%d inline=%d fallbacks=%d\n",
		      NR, s["submitted"], s["uring"], s["threads"], s["inline"], s["fallbacks"] }' > "$d/counters"
}

# same CASE VARIANT WHAT: compare one output of VARIANT with the reference.
same() {
	local ref=$T/$1/none/$3 got=$T/$1/$2/$3
	cmp -s "$ref" "$got" && return 0
	fail "$1 [$2]: $3 differs from the run without the shim"
	diff "$ref" "$got" | head -8 | sed 's/^/        /'
	return 1
}

counter() { sed -n "s/.*\<$2=\([0-9]*\).*/\1/p" "$1"; }

# Real programs make their calls on plain threads: under every backend
# each call must be the program's own (README, How a call runs), so no
# call may have been handed to a backend.
check_submitted() {
	local c=$1 v=$2 f=$T/$1/$2/counters sub
	sub=$(counter "$f" submitted)
	if [ "$CORO" = 1 ]; then
		[ "$v" = off ] || [ "${sub:-0}" -gt 0 ] ||
			{ fail "$c [$v]: the coroutines' calls never reached the backend"; return 1; }
		return 0
	fi
	[ "${sub:-0}" = 0 ] || { fail "$c [$v]: $sub calls of a plain program were handed to a backend"; return 1; }
	return 0
}

run_case() {
	local c=$1 v ok t
	NOERR=0 IGNORE= NEED= NOSAN= CORO=0
	"meta_$c"
	if [ -n "$NOSAN" ] && [ -n "$REF_PRE" ]; then skip "$c: $NOSAN"; return; fi
	for t in $NEED; do
		command -v "$t" > /dev/null || { skip "$c: $t is not installed"; return; }
	done
	run_variant "$c" none
	for v in $BACKENDS; do
		run_variant "$c" "$v"
		ok=1
		same "$c" "$v" rc || ok=0
		same "$c" "$v" stdout || ok=0
		[ "$NOERR" = 1 ] || same "$c" "$v" stderr.cmp || ok=0
		same "$c" "$v" files || ok=0
		check_submitted "$c" "$v" || ok=0
		[ $ok = 1 ] && pass "$c [$v] rc=$(cat "$T/$c/$v/rc") $(cat "$T/$c/$v/counters")" \
			"$(cat "$T/$c/$v/secs") s (none $(cat "$T/$c/none/secs") s)"
	done
}

# ---- the mechanism, seen from outside (strace) ---------------------------

mech_plain_strace() {
	local d=$T/mech-plain v main
	mkdir -p "$d"
	for v in uring threads; do
		cold "$DATA/big"
		slowly cat "$DATA/small" | strace -f -qq -o "$d/$v.log" \
			-e trace=io_uring_setup,io_uring_enter,read,clone,clone3 \
			env LD_PRELOAD="$PRE" ASYNCIFY_BACKEND=$v cat "$DATA/big" - > "$d/out" 2> "$d/err"
		main=$(awk '/execve|read\(/ {print $1; exit}' "$d/$v.log")
		if ! cat "$DATA/big" "$DATA/small" | cmp -s - "$d/out"; then
			fail "strace $v: cat of a cold file and a slow pipe gave other bytes"
		elif grep -q 'io_uring_setup\|clone' "$d/$v.log"; then
			fail "strace $v: a plain program set up a ring or a thread: $(grep -m1 'io_uring_setup\|clone' "$d/$v.log")"
		elif awk -v m="$main" '/read\(/ && $1 != m {bad=1} END {exit !bad}' "$d/$v.log"; then
			fail "strace $v: a read of the plain program ran on another thread"
		else
			pass "strace $v: a plain program's reads are its own (main tid, no ring, no worker)"
		fi
	done
}

mech_uring_strace() {
	if [ "$URING_OK" != 1 ]; then skip "strace io_uring_enter: io_uring unavailable here"; return; fi
	local d=$T/mech-uring
	mkdir -p "$d"
	cold "$DATA/big"
	strace -f -qq -o "$d/file.log" -e trace=io_uring_setup,io_uring_enter \
		env LD_PRELOAD="$PRE" ASYNCIFY_BACKEND=uring "$BIN/corocat" "$DATA/big" 2> "$d/err" |
		cmp -s - "$DATA/big" || fail "strace uring: corocat of a cold file gave other bytes"
	if grep -q 'io_uring_enter(' "$d/file.log"; then
		pass "strace uring: coroutines reading a cold file call io_uring_enter ($(grep -c 'io_uring_enter(' "$d/file.log") times)"
	else
		fail "strace uring: coroutines reading a cold file never called io_uring_enter"
	fi
	slowly echo fed-slowly | strace -f -qq -o "$d/pipe.log" -e trace=io_uring_enter \
		env LD_PRELOAD="$PRE" ASYNCIFY_BACKEND=uring "$BIN/corocat" - > "$d/out2" 2>> "$d/err"
	if [ "$(cat "$d/out2")" = fed-slowly ] && grep -q 'io_uring_enter(' "$d/pipe.log"; then
		pass "strace uring: a coroutine reading a slow pipe waits in io_uring_enter"
	else
		fail "strace uring: corocat of a slow pipe: output '$(cat "$d/out2")', io_uring_enter calls: $(grep -c 'io_uring_enter(' "$d/pipe.log")"
	fi
}

# Under threads the coroutine's own thread waits for the pipe — its
# scheduler's ppoll with a timeout, in place of its futex sleep
# (runtime/engine/ready.c) — and reads it; no other thread polls it.
mech_threads_strace() {
	local d=$T/mech-threads
	mkdir -p "$d"
	slowly echo fed-slowly | strace -f -qq -o "$d/pipe.log" -e trace=read,readv,preadv,preadv2,poll,ppoll \
		env LD_PRELOAD="$PRE" ASYNCIFY_BACKEND=threads "$BIN/corocat" - > "$d/out" 2> "$d/err"
	local main waits others readers
	main=$(awk '{print $1; exit}' "$d/pipe.log")
	waits=$(awk -v m="$main" '$1 == m && /ppoll\(\[\{fd=0/ && !/tv_sec=0, tv_nsec=0\}, NULL/' "$d/pipe.log" | wc -l)
	others=$(awk -v m="$main" '$1 != m && /p?poll\(\[\{fd=0/ {print $1}' "$d/pipe.log" | sort -u)
	readers=$(awk '/(read|readv|preadv2?)\(0,/ && /fed-slowly/ {print $1}' "$d/pipe.log" | sort -u)
	if [ "$(cat "$d/out")" = fed-slowly ] && [ "$waits" -gt 0 ] && [ -z "$others" ] &&
	   [ "$readers" = "$main" ]; then
		pass "strace threads: main tid $main waited for the pipe in its own ppoll ($waits times) and read it; no worker polled it"
	else
		fail "strace threads: output '$(cat "$d/out")', waits in main $waits, other pollers '$others', readers '$readers', main $main"
	fi
}

# ---- io_uring blocked by seccomp: silent fallback, one warning if asked ---

seccomp_case() {
	local mode=$1 be=$2 d=$T/seccomp-$1-${2:-unset}
	mkdir -p "$d/stats"
	cold "$DATA/big"
	(
		export LD_PRELOAD="$PRE $BIN/statsdump.so" ASY_STATS_DIR=$d/stats
		if [ -n "$be" ]; then export ASYNCIFY_BACKEND=$be; else unset ASYNCIFY_BACKEND; fi
		"$BIN/seccomp-run" "$mode" "$BIN/corocat" "$DATA/big" > "$d/out"
	) 2> "$d/err"
	local rc=$? st thr uri lines
	st=$(cat "$d"/stats/* 2>/dev/null)
	thr=$(counter <(echo "$st") threads) uri=$(counter <(echo "$st") uring)
	lines=$(wc -l < "$d/err")
	local what="seccomp $mode, ASYNCIFY_BACKEND=${be:-unset}"
	if [ $rc != 0 ] || ! cmp -s "$d/out" "$DATA/big"; then
		fail "$what: corocat rc=$rc or its output differs"; sed 's/^/        /' "$d/err"; return
	fi
	if [ "${thr:-0}" -le 0 ] || [ "${uri:-1}" != 0 ]; then
		fail "$what: the threads backend did not do the work ($st)"; return
	fi
	if [ -z "$be" ] && [ "$lines" != 0 ]; then
		fail "$what: the fallback was not silent:"; sed 's/^/        /' "$d/err"; return
	fi
	if [ -n "$be" ] && { [ "$lines" != 1 ] || ! grep -q '^asyncify: .*io_uring' "$d/err"; }; then
		fail "$what: expected exactly one warning line, got $lines:"; sed 's/^/        /' "$d/err"; return
	fi
	pass "$what: correct, $( [ -n "$be" ] && echo "one warning: $(cat "$d/err")" || echo silent), threads=$thr uring=$uri"
}

seccomp_pipeline() {
	local mode=$1 d=$T/seccomp-pipe-$1
	mkdir -p "$d/stats"
	cold "$DATA/big"
	local want got
	want=$(sha256sum < "$DATA/big" | cut -c1-64)
	got=$(LD_PRELOAD="$PRE $BIN/statsdump.so" ASY_STATS_DIR=$d/stats \
		"$BIN/seccomp-run" "$mode" sh -c "cat '$DATA/big' | '$PYTHON' -c 'import sys,hashlib; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'" 2> "$d/err")
	local st
	st=$(cat "$d"/stats/* | awk '{for(i=1;i<=NF;i++){split($i,kv,"="); if(kv[1]=="threads")t+=kv[2]; if(kv[1]=="uring")u+=kv[2]}} END{print "threads=" t+0 " uring=" u+0}')
	if [ "$got" = "$want" ] && [ ! -s "$d/err" ] && [ "$(counter <(echo "$st") uring)" = 0 ] &&
		[ "$(counter <(echo "$st") threads)" = 0 ]; then
		pass "seccomp $mode: cat | python3 pipeline (plain threads, their own calls) correct and silent ($st)"
	else
		fail "seccomp $mode: pipeline got '$got' want '$want', stderr $(wc -l < "$d/err") lines, $st"
	fi
}

# ---- main ----------------------------------------------------------------

PYTHON=$(command -v python3)
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
export PYTHON
mkdir -p "$DATA" && "$PYTHON" "$HERE/mkdata.py" "$DATA" 32 && "$PYTHON" "$HERE/mkfstree.py" "$DATA" 2000 ||
	{ echo "run-real: cannot make data"; exit 1; }

PROBE=$("$BIN/uring-probe")
URING_OK=$([ $? = 0 ] && echo 1 || echo 0)
echo "  probe $PROBE"
[ "$URING_OK" = 1 ] || echo "  note  io_uring is unavailable: 'uring' runs test the fallback to threads"

CASES=${*:-$ALL_CASES}
for c in $CASES; do
	case " $ALL_CASES mech seccomp " in
	*" $c "*) ;;
	*) echo "run-real: no case '$c' (have: $ALL_CASES mech seccomp)"; exit 1 ;;
	esac
	[ "$c" = mech ] || [ "$c" = seccomp ] || run_case "$c"
done

if [ $# = 0 ] || [[ " $* " == *" mech "* ]]; then
	if command -v strace > /dev/null; then
		mech_plain_strace
		mech_uring_strace
		mech_threads_strace
	else
		skip "strace not installed: the io_uring_enter and worker-tid checks did not run"
	fi
fi
if [ $# = 0 ] || [[ " $* " == *" seccomp "* ]]; then
	for mode in setup-eperm setup-enosys enter-eperm; do
		seccomp_case "$mode" ""
		seccomp_case "$mode" uring
	done
	seccomp_pipeline setup-eperm
fi

if [ $FAILS != 0 ]; then
	echo "  REAL  $FAILS failed"
	exit 1
fi
echo "  REAL  all passed"
