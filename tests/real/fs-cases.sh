# fs-cases.sh — the file-metadata cases of run-real.sh (sourced by it):
# programs that open, name, sync, lock and copy files in numbers (issue
# 11), each run without the shim and under every backend, with outputs,
# files and exit statuses compared.
#
# $DATA/fstree (tests/real/mkfstree.py: ~2 000 small files, modes,
# symlinks, hard links, a FIFO, nanosecond times) and $DATA/fstree.tar
# (that tree in pax format) are the inputs.  A tree a case makes is shown
# on stdout by tree_list, which says more than the runner's manifest of
# file bytes: type, mode, owner, link count, size, the link target, the
# time where the program sets it.

# tree_list DIR [notime]: one line per entry below DIR, sorted by path —
# type, mode, uid:gid, links, size (files and symlinks), mtime to the
# nanosecond (unless notime), path, link target — then the SHA-256 of
# every regular file.  Directory sizes are left out (the file system's
# business, not the program's).
tree_list() {
	local t='%T@ '
	[ "${2:-}" = notime ] && t=
	(cd "$1" && { find . -mindepth 1 -type d -printf "%P|%y %m %U:%G %n - $t\n"
		find . -mindepth 1 ! -type d -printf "%P|%y %m %U:%G %n %s $t-> %l\n"; } | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# wait_http URL: wait (at most 10 s) until a server answers URL.
wait_http() {
	local i
	for i in $(seq 200); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.05
	done
	echo "no answer from $1" >&2
	return 1
}

# git status on 3 000 files: clean after a commit, clean again after
# touching files (git re-reads them), then edits, a removal, a rename,
# a mode change, a new symlink and untracked files, in every format.
case_gitstatus() {
	export HOME=$PWD/home GIT_CONFIG_NOSYSTEM=1
	export GIT_AUTHOR_NAME=Ann GIT_AUTHOR_EMAIL=ann@example.org
	export GIT_COMMITTER_NAME=Ann GIT_COMMITTER_EMAIL=ann@example.org
	export GIT_AUTHOR_DATE='2026-01-02T03:04:05Z' GIT_COMMITTER_DATE='2026-01-02T03:04:05Z'
	local d f
	mkdir home repo && cd repo && git init -q -b main . || return 1
	for d in $(seq -w 0 29); do
		mkdir d$d || return 1
		# One content per directory: git stores 30 blobs, not 3 000 (seconds).
		for f in $(seq -w 0 99); do printf 'file %s\n' $d > d$d/f$f.txt; done
	done
	git add . && git commit -q -m base && git status --porcelain && echo "clean: $?" &&
	touch d0*/f0*.txt && git status --porcelain && echo "touched: $?" &&
	echo more >> d05/f07.txt && rm d07/f10.txt && mv d08/f11.txt d08/renamed.txt &&
	chmod +x d10/f01.txt && ln -s f01.txt d11/link && echo new > d09/untracked.txt &&
	mkdir -p new/deeper && echo x > new/deeper/a && touch d12/f0*.txt &&
	git status --porcelain &&
	git -c color.status=never status &&
	git -c core.preloadIndex=false status --porcelain -uall &&
	git -c core.untrackedCache=true status --porcelain -uall &&
	git diff --stat && git add -A && git status --porcelain && git commit -q -m second &&
	git status --porcelain && git ls-files | wc -l && git status --porcelain missing-path &&
	git rm -q -r d20 && git status --short | head -3
}
# The index holds inode numbers and times (compared through git status).
meta_gitstatus() { IGNORE='^repo/\.git/index$'; }

# tar x of ~2 000 entries (files, dirs, symlinks, hard links, a FIFO,
# nanosecond times) as root: the tree it makes, tar --compare, again over
# the existing tree, -k over it (errors), --no-same-permissions, through
# gzip and a pipe, a missing archive.
case_tarx() {
	mkdir a b c &&
	tar -xf "$DATA/fstree.tar" -C a && tree_list a &&
	tar -df "$DATA/fstree.tar" -C a && echo "compare: same" &&
	tar -xf "$DATA/fstree.tar" -C a && tree_list a | sha256sum &&
	{ tar -xkf "$DATA/fstree.tar" -C a fstree/d004 fstree/fifo fstree/devnull; echo "keep-old: $?"; } &&
	(umask 027 && tar -xf "$DATA/fstree.tar" --no-same-permissions -C b) && tree_list b | sha256sum &&
	tar -czf - -C a fstree | tar -xzf - -C c && diff <(tree_list a) <(tree_list c) && echo "pipe: same" &&
	tar -xf missing.tar; echo "missing: $?"
}
meta_tarx() { :; }

# cp -r and cp -a of the tree (cp -a keeps modes, times, hard links,
# symlinks, the FIFO), cp -r over an existing copy, cp -u; a cold 32 MiB
# file with --reflink=never (copy_file_range) and a sparse file (holes
# found with SEEK_DATA/SEEK_HOLE); errors.
case_cptree() {
	cold "$DATA/big"
	cp -r "$DATA/fstree" r && tree_list r notime &&
	cp -a "$DATA/fstree" a && diff <(tree_list "$DATA/fstree") <(tree_list a) && echo "cp -a: same" &&
	cp -r "$DATA/fstree" r && tree_list r notime | sha256sum &&
	cp -ru "$DATA/fstree/." r && echo "cp -u: $?" &&
	cp --reflink=never "$DATA/big" big1 && cmp big1 "$DATA/big" && echo "big: same" &&
	truncate -s 64M sparse && printf data | dd of=sparse bs=1 seek=40M conv=notrunc status=none &&
	cp --reflink=never sparse sparse2 && cmp sparse sparse2 && stat -c '%n %s %b' sparse2 &&
	cp -r "$DATA/fstree" big1; echo "dir onto file: $?"
	cp missing x; echo "missing: $?"
}
meta_cptree() { :; }

# find and stat over the tree: stat of every entry (-exec +), per file
# (-exec \;), symlinks and what they point to, time and permission tests,
# ls -lR; then find -delete on a copy (unlink and rmdir).
case_findstat() {
	(cd "$DATA" &&
	find fstree | LC_ALL=C sort | sha256sum &&
	find fstree -exec stat -c '%n|%s|%a|%F|%h|%U|%Y|%N' {} + | LC_ALL=C sort &&
	find fstree -name 'f0001*' -exec stat -c '%n %s %y' {} \; | LC_ALL=C sort &&
	find fstree -type l -printf '%p -> %l\n' | LC_ALL=C sort &&
	find -L fstree -type l | LC_ALL=C sort &&
	find fstree -newermt @1705000000 -type f | wc -l &&
	find fstree -perm -u+x -type f | wc -l &&
	find fstree -empty | LC_ALL=C sort &&
	find fstree -links +1 -type f | LC_ALL=C sort | head -20 &&
	stat -L -c '%n %F %s' fstree/devnull fstree/to-d000 &&
	ls -laRn --time-style=+%s.%N fstree | sha256sum) &&
	cp -a "$DATA/fstree" del && find del -name '*.sym' -delete &&
	find del -depth -name 'd00[0-4]' -exec rm -r {} + && find del -depth -type d -empty -delete &&
	tree_list del notime && stat -c %n missing; echo "missing: $?"
}
meta_findstat() { :; }

# make -j2 of a small generated C project (tests/real/mkproject.sh): a
# full build, make -q, a touched header, a changed config (everything
# rebuilt), clean, a missing target.
case_make() {
	# Under `make check-real` the outer make's settings would reach this
	# make (its jobserver, -w printing the work directory): not the case's.
	unset MAKEFLAGS MFLAGS MAKELEVEL
	sh "$HERE/mkproject.sh" p 8 && cd p &&
	make -j2 -s && ./prog &&
	{ make -q; echo "up to date: $?"; } &&
	touch include/m3.h && { make -q; echo "after touch: $?"; } &&
	make -j2 -s && ./prog &&
	sed -i 's/ROUNDS=1000/ROUNDS=7/' config.in && make -j2 -s && ./prog &&
	make -j2 -s clean && ls &&
	make -j2 no-such-target; echo "missing target: $?"
}
meta_make() { NEED="make cc"; }

# sqlite3 committing 100 small transactions each in journal_mode delete
# (the journal created, synced and unlinked per commit, the directory
# synced), truncate, persist and wal with synchronous=FULL; VACUUM,
# VACUUM INTO, .backup; every copy checked.
case_sqlitefs() {
	local m
	for m in delete truncate persist wal; do
		awk -v m=$m 'BEGIN { printf "PRAGMA journal_mode=%s; PRAGMA synchronous=FULL;\n", m
			print "CREATE TABLE t(i INTEGER PRIMARY KEY, v TEXT);"
			for (i = 1; i <= 100; i++)
				printf "BEGIN; INSERT INTO t(v) VALUES(%c%s-%d%c); COMMIT;\n", 39, m, i * 7, 39
			print "DELETE FROM t WHERE i % 3 = 0; SELECT count(*), max(v) FROM t;" }' > $m.sql &&
		sqlite3 $m.db < $m.sql || return 1
	done
	sqlite3 wal.db 'PRAGMA wal_checkpoint(TRUNCATE);' &&
	sqlite3 delete.db 'VACUUM; PRAGMA integrity_check;' &&
	sqlite3 wal.db "VACUUM INTO 'into.db';" && sqlite3 persist.db '.backup back.db' &&
	for m in delete truncate persist wal into back; do
		sqlite3 $m.db 'PRAGMA integrity_check; SELECT count(*) FROM t;' && sqlite3 $m.db .dump | sha256sum
	done && ls
}
# A persisted journal's header keeps the random nonce of its last
# transaction (sqlite's own journal checksum salt).
meta_sqlitefs() { NEED="sqlite3"; IGNORE='^persist\.db-journal$'; }

# Locks that wait: flock(1) (flock) and python3's fcntl.lockf (fcntl
# F_SETLKW) against a holder that another process started, and the
# non-blocking and timed tries while it holds.
case_locks() {
	flock x.lock sh -c 'touch held; sleep 0.4; echo "first done"' &
	local i pid=$!
	for i in $(seq 200); do [ -e held ] && break; sleep 0.02; done
	flock -n x.lock true; echo "flock -n while held: $?"
	flock -w 0.05 x.lock true; echo "flock -w while held: $?"
	flock x.lock echo "second, after the first"
	wait $pid; echo "holder: $?"
	"$PYTHON" -c 'import fcntl, os, sys, time
fd = os.open("y.lock", os.O_RDWR | os.O_CREAT, 0o644)
if os.fork() == 0:
    fcntl.lockf(fd, fcntl.LOCK_EX); open("held2", "w").close(); time.sleep(0.4)
    print("child done", flush=True); os._exit(0)
while not os.path.exists("held2"): time.sleep(0.01)
fd2 = os.open("y.lock", os.O_RDWR)
try:
    fcntl.lockf(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError as e: print("F_SETLK while held:", e.errno)
fcntl.lockf(fd2, fcntl.LOCK_EX); print("F_SETLKW: got it", flush=True)
os.wait()'
}
meta_locks() { NEED="flock"; }

# lighttpd serving files with sendfile(2) over loopback (its config in
# the work directory, the document root $DATA), fetched with curl: a cold
# 32 MiB file, 300 small files over one connection, ranges, a slow
# client, four parallel downloads, headers, a 404 and a 403.
case_sendfile() {
	mkdir srv
	local p pid u files
	p=$(free_port)
	cat > srv/conf <<-EOF
	server.document-root = "$DATA"
	server.bind = "127.0.0.1"
	server.port = $p
	server.errorlog = "$PWD/srv/error.log"
	server.network-backend = "sendfile"
	server.max-keep-alive-requests = 1000
	mimetype.assign = ( "" => "application/octet-stream" )
	EOF
	# Pages a previous run's sendfile lent to loopback sockets can outlive
	# it for a moment: dropcache's complaint then goes to srv/, not stderr.
	cold "$DATA/big" 2>> srv/cold.log
	lighttpd -D -f srv/conf > srv/out 2>&1 &
	pid=$!
	u=http://127.0.0.1:$p
	wait_http "$u/small" || { stop_pid $pid; return 1; }
	curl -sS -o big "$u/big" && cmp big "$DATA/big" && echo "big: same bytes"
	files=$(cd "$DATA" && find fstree -type f -name 'f*' ! -name '* *' | LC_ALL=C sort | head -300)
	curl -sS $(printf "$u/%s " $files) | sha256sum
	(cd "$DATA" && cat $files) | sha256sum
	curl -sS -r 1000-2000999 "$u/big" | sha256sum
	curl -sS -r 30000000- "$u/big" | sha256sum
	curl -sS --limit-rate 4M -r 0-1999999 "$u/big" | sha256sum
	# (-Z draws its progress meter even with -s: stderr is left out here)
	curl -sS -Z -o p1 "$u/big" -o p2 "$u/big" -o p3 "$u/text" -o p4 "$u/small" 2> /dev/null
	echo "parallel: $?"
	cmp p1 "$DATA/big" && cmp p2 "$DATA/big" && cmp p3 "$DATA/text" && cmp p4 "$DATA/small" &&
		echo "parallel: same bytes" && rm p1 p2 big
	curl -sS -I "$u/text" | grep -Eiv '^(date|last-modified|etag|server):'
	curl -sS -o /dev/null -w '%{http_code}\n' "$u/missing" "$u/fstree/"
	stop_pid $pid; echo "server stopped"
}
meta_sendfile() { NEED="lighttpd curl"; IGNORE='^srv/'; NOSAN=$CURL_NOSAN; }

FS_CASES="gitstatus tarx cptree findstat make sqlitefs locks sendfile"
