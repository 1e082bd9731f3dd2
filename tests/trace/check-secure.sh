#!/bin/sh
# check-secure.sh LIB CC — in secure-execution mode (AT_SECURE) the shim
# writes no trace, summary or flame file.  LD_PRELOAD does not reach a setuid
# program, so the program here is linked with the library; it is made
# setuid to nobody, which needs root: otherwise the check says so and
# passes as skipped (exit 0, one line).
set -eu
lib=$1
cc=${2:-cc}
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
	echo "  SKIP    check-trace-secure: needs root to make a setuid program"
	exit 0
fi
d=$(mktemp -d /tmp/asyncify-secure.XXXXXX)
trap 'rm -rf "$d"' EXIT
chmod 755 "$d"
mkdir "$d/out"
chmod 1777 "$d/out"
# Under SANITIZE=address: a setuid process is not dumpable, LeakSanitizer
# cannot stop its threads (a fatal error at exit) and it cannot read its
# options from the environment either, so the program carries them.  The
# library's leaks are checked by every other test.
printf '%s\n' '#include <unistd.h>' \
	'const char *__asan_default_options(void) { return "detect_leaks=0"; }' \
	'int main(void) { return write(1, "x", 1) != 1; }' > "$d/p.c"
libdir=$(cd "$(dirname "$lib")" && pwd)
$cc -o "$d/p" "$d/p.c" -L"$libdir" -lasyncify -Wl,-rpath,"$libdir"
fail() { echo "check-trace-secure: $*" >&2; cat "$d/err" >&2; exit 1; }

# Control: the same program, not setuid, does write its trace.
out() { ASYNCIFY_TRACE="$d/out/t" ASYNCIFY_SUMMARY="$d/out/s" ASYNCIFY_FLAME="$d/out/f" "$@"; }
out "$d/p" >/dev/null 2>"$d/err" || fail "program failed"
[ -s "$d/out/t" ] && [ -s "$d/out/s" ] && [ -s "$d/out/f" ] ||
	fail "no trace without setuid: the check cannot work"
rm -f "$d/out/t" "$d/out/s" "$d/out/f"

chown nobody "$d/p"
chmod 4755 "$d/p"
out "$d/p" >/dev/null 2>"$d/err" || fail "setuid program failed"
[ -z "$(ls -A "$d/out")" ] || fail "files written in secure-execution mode: $(ls "$d/out")"
[ "$(grep -c 'secure-execution' "$d/err")" = 3 ] || fail "want three warnings"
# stderr stays allowed.
ASYNCIFY_TRACE=stderr "$d/p" >/dev/null 2>"$d/err" || fail "setuid program failed"
grep -q '^[0-9:.]* [0-9]* write(1' "$d/err" || fail "no trace on stderr in secure mode"
echo "  PASS    check-trace-secure"
