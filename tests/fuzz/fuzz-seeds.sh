#!/bin/bash
# fuzz-seeds.sh — search for differences with check-exact-fuzz by hand:
# run seeds FIRST..LAST without the shim and under off, uring, threads,
# uring-coro and threads-coro, and print every seed whose output differs
# from plain glibc's (with the first lines of the difference).
#
#   tests/fuzz/fuzz-seeds.sh [--ops N] [--lib LIB] [--bin PROG] FIRST LAST
#
# Defaults: 220 calls per seed (as the cases), lib/libasyncify.so,
# tests/bin/check-exact-fuzz.  A seed whose plain run does not end within
# 20 s is reported as a fuzzer gap (a call it let wait for ever).  Exit 0
# when no seed differed, 1 otherwise.  Runs in the current directory.
set -u
ops=220 lib=$PWD/lib/libasyncify.so bin=$PWD/tests/bin/check-exact-fuzz
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--ops) ops=$2; shift 2 ;;
	--lib) lib=$(realpath "$2"); shift 2 ;;
	--bin) bin=$(realpath "$2"); shift 2 ;;
	-h|--help) usage 0 ;;
	-*) echo "fuzz-seeds.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || usage
[ -x "$bin" ] || { echo "fuzz-seeds.sh: no $bin (make tests)" >&2; exit 2; }
[ -f "$lib" ] || { echo "fuzz-seeds.sh: no $lib (make)" >&2; exit 2; }
work=$(mktemp -d /tmp/asy-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT

# one run: its stdout without the '#' lines, and how it ended
run() { # seed variant
	local tmp; tmp=$(mktemp -d "$work/t-XXXXXX")
	local env=(ASY_T_FUZZ_SEED="$1" ASY_T_FUZZ_OPS="$ops" ASY_T_TMP="$tmp")
	case $2 in
	none) env "${env[@]}" timeout 20 "$bin" --case fz_1 ;;
	*-coro) env "${env[@]}" LD_PRELOAD="$lib" ASYNCIFY_BACKEND="${2%-coro}" ASY_T_CORO=1 \
		timeout 20 "$bin" --case fz_1 ;;
	*) env "${env[@]}" LD_PRELOAD="$lib" ASYNCIFY_BACKEND="$2" timeout 20 "$bin" --case fz_1 ;;
	esac 2>/dev/null | grep -v '^#'
	echo "end=${PIPESTATUS[0]}"
	rm -rf "$tmp"
}

bad=0
for ((seed = $1; seed <= $2; seed++)); do
	run "$seed" none > "$work/none"
	if grep -q '^end=124' "$work/none"; then
		echo "seed $seed: the plain run did not end (a fuzzer gap)"
		bad=1
		continue
	fi
	for v in off uring threads uring-coro threads-coro; do
		run "$seed" "$v" > "$work/$v"
		if ! cmp -s "$work/none" "$work/$v"; then
			echo "seed $seed under $v differs:"
			diff "$work/none" "$work/$v" | head -6
			bad=1
		fi
	done
done
exit $bad
