#!/bin/sh
# check-deb.sh DEB SRCDIR — install the package and run the installed copy.
#
# As root (CI): `apt-get install DEB` for real, inside a private mount
# namespace whose /usr, /etc and /var are overlays on a temp dir, so the
# machine is left as it was when the namespace ends.  Otherwise: the
# package unpacked with dpkg -x into a temp root, which shows the files and
# the commands but not that apt accepts the package (said in one line).
#
# Then, with the installed files only: `asyncify -- cmd`, the demo under
# asyncify-ab (every variant equivalent), the coroutine demo built with
# `pkg-config --cflags --libs asyncify` and the installed header,
# `man asyncify`, `man 3 asy_go`, and `asyncify --doctor`.
set -eu

deb=$1
src=$2

fail() {
	echo "check-deb: $*" >&2
	exit 1
}

# installed_checks ROOT: everything a user does after installing; ROOT is
# empty for a real install.
installed_checks() {
	root=$1
	bin=$root/usr/bin
	export PATH="$bin:$PATH"
	[ "$(command -v asyncify)" = "$bin/asyncify" ] || fail "asyncify is not $bin/asyncify"

	out=$(asyncify -- sh -c 'printf %s "$LD_PRELOAD"')
	[ "$(readlink -f "$out")" = "$(readlink -f "$root/usr/lib/libasyncify.so")" ] ||
		fail "asyncify -- cmd preloads '$out'"

	cc -O2 -o "$work/kvstore" "$src/demo/kvstore.c" || fail "cannot build demo/kvstore.c"
	asyncify-ab --runs 1 --warmup 0 --compare-file "$work/kv.db" \
		-- "$work/kvstore" -n 2000 -l 2000 "$work/kv.db" >"$work/ab.txt" 2>&1 ||
		{ cat "$work/ab.txt" >&2; fail "the demo under the installed asyncify-ab differs"; }

	if [ -n "$root" ]; then	# the unpacked files: their paths under $root
		export PKG_CONFIG_PATH="$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig"
		export PKG_CONFIG_SYSROOT_DIR="$root" LD_LIBRARY_PATH="$root/usr/lib"
	fi
	flags=$(pkg-config --cflags --libs asyncify) || fail "pkg-config --libs asyncify fails"
	case " $flags " in *" -lasyncify "*) ;; *) fail "pkg-config --libs asyncify: '$flags'" ;; esac
	# shellcheck disable=SC2086 # the flags are words
	cc -O2 -o "$work/kvlookup-coro" "$src/demo/kvlookup-coro.c" $flags ||
		fail "cannot build the coroutine demo with pkg-config's flags"
	"$work/kvstore" -n 20000 -l 1 "$work/big.db" >/dev/null
	"$work/kvlookup-coro" "$work/big.db" 400 16 >"$work/coro.txt" ||
		{ cat "$work/coro.txt" >&2; fail "the coroutine demo fails"; }
	grep -q "checksums equal" "$work/coro.txt" || fail "the coroutine demo's checksums differ"

	if ! command -v man >/dev/null; then
		echo "  DEB     man is not installed here: man asyncify not tried"
	elif [ -n "$root" ]; then
		man -l "$root/usr/share/man/man1/asyncify.1.gz" >"$work/man.txt" 2>/dev/null
		man -l "$root/usr/share/man/man3/asy_go.3.gz" >"$work/man3.txt" 2>/dev/null
	else
		MANPAGER=cat man asyncify >"$work/man.txt" 2>/dev/null
		MANPAGER=cat man 3 asy_go >"$work/man3.txt" 2>/dev/null
	fi
	[ ! -f "$work/man.txt" ] || grep -q -- "--doctor" "$work/man.txt" ||
		fail "man asyncify does not show the page"
	[ ! -f "$work/man3.txt" ] || grep -q "asy_go_stack" "$work/man3.txt" ||
		fail "man 3 asy_go does not show asyncify(3)"

	asyncify --doctor >"$work/doctor.txt" 2>&1 ||
		{ cat "$work/doctor.txt" >&2; fail "the installed asyncify --doctor finds problems"; }
	echo "  DEB     installed copy: asyncify -- cmd, the demo (asyncify-ab, coroutines via pkg-config), man asyncify, man 3 asy_go, asyncify --doctor"
}

# in_namespace: the real install, run by unshare in a new mount namespace.
in_namespace() {
	for d in usr etc var; do
		mkdir -p "$work/ov/$d/up" "$work/ov/$d/wk"
		mount -t overlay overlay \
			-o "lowerdir=/$d,upperdir=$work/ov/$d/up,workdir=$work/ov/$d/wk" "/$d" ||
			exit 3	# no overlays here: the caller unpacks instead
	done
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o Dpkg::Use-Pty=0 "$deb" >"$work/apt.txt" 2>&1 ||
		{ cat "$work/apt.txt" >&2; fail "apt-get install $deb failed"; }
	dpkg-query -W -f='${Status}' asyncify | grep -q 'install ok installed' ||
		fail "dpkg does not list asyncify as installed"
	echo "  DEB     apt-get install $(basename "$deb"): ok (in a throw-away mount namespace)"
	installed_checks ""
}

case ${1-} in
--in-namespace)	# the caller's work directory, which the caller removes
	deb=$2 src=$3 work=$4
	in_namespace
	exit 0 ;;
esac

tmp=${TMPDIR:-/tmp}
case $tmp in /usr/*|/etc/*|/var/*) tmp=/tmp ;; esac	# not under the overlays
work=$(mktemp -d "$tmp/asyncify-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT

rc=3
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	unshare --mount --propagation private true 2>/dev/null; then
	rc=0
	unshare --mount --propagation private sh "$0" --in-namespace "$deb" "$src" "$work" || rc=$?
fi
case $rc in
0) ;;
3)
	echo "  DEB     not root, or no mount namespace with overlays: unpacked with dpkg -x, apt install not tried"
	dpkg -x "$deb" "$work/root"
	installed_checks "$work/root" ;;
*) exit "$rc" ;;
esac
