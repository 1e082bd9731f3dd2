#!/usr/bin/env bash
# fs-percall.sh LIB: what the shim adds to metadata-heavy programs, in
# numbers a busy machine does not move (bench-fs's wall times swing by
# ±20% on a shared VM): user-space instructions (valgrind --tool=callgrind)
# of `tar -x` of 3 000 small files, `stat` of each entry of that tree and
# `git status` in a repository of it, without the shim and under
# off/uring/threads, and the hooked calls each made (ASYNCIFY_SUMMARY).
# The start-up (the same count for /bin/true) is taken off before the
# figure per call.  Used by `make bench-fs-percall`.
set -euo pipefail
LIB=$1
HERE=$(cd "$(dirname "$0")" && pwd)
for tool in valgrind tar git stat python3; do
	command -v $tool > /dev/null || { echo "fs-percall: $tool is not installed; skipped"; exit 0; }
done
T=$(mktemp -d /var/tmp/asy-fspercall.XXXXXX)
trap 'rm -rf "$T"' EXIT
python3 "$HERE/../real/mkfstree.py" "$T" 3000
cp -a "$T/fstree" "$T/repo" && rm "$T/repo/fifo"
git -C "$T/repo" init -q -b main && git -C "$T/repo" add -A &&
	git -C "$T/repo" -c user.name=A -c user.email=a@b commit -q -m base &&
	git -C "$T/repo" status -s > /dev/null
cd "$T"

# ins VARIANT CMD...: user instructions of one run.
ins() {
	local v=$1 env=()
	shift
	[ "$v" = none ] || env=(LD_PRELOAD="$LIB" ASYNCIFY_BACKEND="$v")
	rm -rf out && mkdir out
	env "${env[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 > /dev/null |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
# hooked CMD...: the calls the summary counted (0 when it wrote no table).
hooked() {
	rm -rf out sum && mkdir out
	LD_PRELOAD="$LIB" ASYNCIFY_SUMMARY=$T/sum "$@" > /dev/null 2>&1
	awk '/^call / {on = 1; next} on && NF == 0 {exit} on {n += $3} END {print n + 0}' sum
}

declare -A start
for v in none off uring threads; do start[$v]=$(ins $v /bin/true); done
printf '| program | user instructions, no shim | hooked calls | off | uring | threads |\n'
printf '|---|---|---|---|---|---|\n'
printf '| start-up (/bin/true) | %d | 0 | +%d | +%d | +%d |\n' "${start[none]}" \
	$((start[off] - start[none])) $((start[uring] - start[none])) $((start[threads] - start[none]))
for w in tar stat git; do
	case $w in
	tar) cmd=(tar -xf fstree.tar -C out) name="tar -x, 3 000 files" ;;
	stat) cmd=(stat -c '%n %s %a %Y' $(find fstree ! -name '* *')) name="stat of 3 000 files" ;;
	git) cmd=(git -C repo status --porcelain -uall) name="git status, 3 000 files" ;;
	esac
	base=$(ins none "${cmd[@]}") n=$(hooked "${cmd[@]}") cells=
	for v in off uring threads; do
		extra=$(( $(ins $v "${cmd[@]}") - base ))
		per=$(( n > 0 ? (extra - (start[$v] - start[none])) / n : 0 ))
		cells="$cells | +$extra ($per per call)"
	done
	printf '| %s | %d | %d%s |\n' "$name" "$base" "$n" "$cells"
done
echo
echo "Each cell: instructions over the run without the shim (start-up included), and in brackets"
echo "per hooked call once the start-up is taken off."
