#!/usr/bin/env bash
# percall.sh LIB: the shim's cost per call on a plain thread, in numbers
# that do not depend on how busy the machine is: user-space instructions
# (valgrind --tool=callgrind) and system calls (strace -c -f), for
# `dd bs=4k` of a 16 MiB file (4 096 reads and 4 096 writes), without the
# shim and under off/uring/threads.  A start-up run (count=0) is taken off
# so that the figure is per call.  Used by `make bench-percall`.
set -euo pipefail
LIB=$1
for tool in valgrind strace dd; do
	command -v $tool > /dev/null || { echo "percall: $tool is not installed; skipped"; exit 0; }
done
T=$(mktemp -d /tmp/asy-percall.XXXXXX)
trap 'rm -rf "$T"' EXIT
head -c $((16 << 20)) /dev/urandom > "$T/big"
CALLS=$((2 * 4096))

run() { # VARIANT COUNT -> instructions
	local v=$1 count=$2 env=()
	[ "$v" = none ] || env=(LD_PRELOAD="$LIB" ASYNCIFY_BACKEND="$v")
	env "${env[@]}" valgrind --tool=callgrind --callgrind-out-file="$T/cg" \
		dd if="$T/big" of=/dev/null bs=4k $count status=none 2>&1 |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
syscalls() {
	local v=$1 env=()
	[ "$v" = none ] || env=(LD_PRELOAD="$LIB" ASYNCIFY_BACKEND="$v")
	env "${env[@]}" strace -f -c -o "$T/sc" dd if="$T/big" of=/dev/null bs=4k status=none
	awk '/total/ {print $(NF-1) == "" ? $3 : $4}' "$T/sc"
}

printf '| variant | user instructions per call over plain libc | start-up instructions over plain | system calls (dd, total) |\n'
printf '|---|---|---|---|\n'
base_all=$(run none "") base_start=$(run none count=0)
for v in none off uring threads; do
	all=$(run "$v" "") start=$(run "$v" count=0)
	per=$(( ((all - start) - (base_all - base_start)) / CALLS ))
	printf '| %s | %d | %d | %s |\n' "$v" "$per" $((start - base_start)) "$(syscalls "$v")"
done
