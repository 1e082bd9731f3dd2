#!/bin/sh
# fresh-root.sh DEB SRCDIR — `apt install ./DEB` on a fresh, minimal
# Debian 12 (debootstrap --variant=minbase, what a container starts from)
# and the installed copy run there.  Root, debootstrap and the Debian
# mirror needed; about 3 minutes, so not part of `make check`
# (`make check-deb-fresh`).  Everything happens in a temp dir, inside a
# private mount namespace, and is removed at the end.
set -eu

deb=$1
src=$2
root=$(mktemp -d /tmp/asyncify-fresh.XXXXXX)
chmod 755 "$root"	# apt's _apt user reads its lists under it
trap 'rm -rf "$root"' EXIT

echo "  DEB     debootstrap --variant=minbase bookworm (a few minutes)"
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 ||
	{ tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
cp "$deb" "$src/demo/kvstore.c" "$root/tmp/"
cp /etc/resolv.conf "$root/etc/"

cat >"$root/tmp/inside.sh" <<EOF
set -eu
export DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin
fail() { echo "check-deb-fresh: \$*" >&2; exit 1; }
apt-get update -qq
apt-get install -y -q /tmp/$(basename "$deb") >/tmp/apt.log 2>&1 ||
	{ tail -20 /tmp/apt.log >&2; fail "apt install failed"; }
out=\$(asyncify -- sh -c 'printf %s "\$LD_PRELOAD"')
[ "\$(readlink -f "\$out")" = /usr/lib/libasyncify.so ] || fail "asyncify -- cmd preloads '\$out'"
asyncify --summary stderr -- dd if=/tmp/kvstore.c of=/dev/null 2>/tmp/summary.txt
grep -q kvstore.c /tmp/summary.txt || fail "no summary from asyncify --summary"
case " \$(pkg-config --libs asyncify) " in *" -lasyncify "*) ;; *) fail "pkg-config --libs asyncify" ;; esac
MANPAGER=cat man asyncify 2>/dev/null | grep -q -- --doctor || fail "man asyncify"
MANPAGER=cat man asy_go 2>/dev/null | grep -q asy_go_stack || fail "man asy_go"
asyncify --doctor >/tmp/doctor.txt || { cat /tmp/doctor.txt >&2; fail "asyncify --doctor"; }
echo "  DEB     fresh Debian \$(cat /etc/debian_version): apt install, asyncify -- cmd, --summary, pkg-config, man asyncify, man asy_go, asyncify --doctor: ok"
EOF

unshare --mount --propagation private sh -c '
	mount -t proc proc "$1/proc" && mount --bind /dev "$1/dev" &&
	chroot "$1" sh /tmp/inside.sh' sh "$root"
