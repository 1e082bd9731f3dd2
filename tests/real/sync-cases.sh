# sync-cases.sh — rsync and script, the multi-process cases of run-real.sh
# (sourced by it; uses tree_list of fs-cases.sh and the server helpers of
# net-cases.sh).  rsync is a pipeline of three processes (sender, receiver,
# generator) talking over socketpairs (local copies) or a TCP socket, each
# in a poll loop on non-blocking fds (rsync 3.5; older ones select); its
# daemon forks per connection.  script runs a program on a pseudo-terminal
# and copies between it and its own stdin and stdout in a poll loop that
# also reads SIGCHLD from a signalfd.

# Every time a case sets: edits made by the shell take the clock's time,
# which would differ between runs.
SYNC_T=1720000000.123456789

# sync_src DIR: $DATA/fstree (2 000 small files, modes, symlinks, hard
# links, a FIFO, nanosecond times) plus a 16 MiB sparse file with 4 bytes
# of data and a file of an odd size, 3 000 001 bytes.
sync_src() {
	cp -a "$DATA/fstree" "$1" &&
	truncate -s 16M "$1/sparse" &&
	printf data | dd of="$1/sparse" bs=1 seek=9M conv=notrunc status=none &&
	head -c 3000001 "$DATA/big" > "$1/odd" &&
	touch -d @1700000000.5 "$1/sparse" "$1/odd" "$1"
}

# sync_edit DIR: an append, a truncation, a removal, a new file and
# directory, a mode change, an append to a hard-linked file, a retargeted
# symlink, a rename, 4 bytes changed in the middle of odd; then every time
# the edits moved set to $SYNC_T.
sync_edit() {
	echo appended >> "$1/d000/f00001" &&
	: > "$1/d000/f00002" &&
	rm "$1/d000/d001/f00041" &&
	mkdir "$1/newdir" && echo new > "$1/newdir/new" &&
	chmod 0600 "$1/d000/d001/d002/f00081" &&
	echo linked >> "$1/d000/d001/f00053" &&
	ln -sfn d004 "$1/to-d000" &&
	mv "$1/d000/d001/d003/f00121" "$1/d000/d001/d003/renamed" &&
	printf EDIT | dd of="$1/odd" bs=1 seek=1500000 conv=notrunc status=none &&
	find "$1" -newermt @1715000000 -exec touch -h -d @$SYNC_T {} +
}

# rsync -a of a tree, local and through the daemon.  Locally: -aHS with
# the FIFO (root: --specials, -a's -D), the copy equal to the source to
# the nanosecond; an incremental run after edits with --delete, --backup
# --suffix and --itemize-changes (the backups in a --backup-dir: made in
# the copy, they would move its directories' times, which rsync does not
# set again); the delta algorithm (--no-whole-file) --inplace (the same
# inode) with its --stats; a change of content that keeps size and time,
# missed without --checksum and found with it.  The daemon (its own
# config, a module in the work dir, on a free loopback port, stopped by
# its pid): the module list, a push with -z and --bwlimit (waits),
# --list-only, a pull compared with the source (absolute symlinks lose
# their leading slash: a daemon without chroot sanitizes them, its manual
# says), a pull with --partial cut by SIGTERM and finished by a second
# run, a missing module (exit 5); locally a missing source (exit 23).
# Also a "remote" rsync started through a remote shell of two lines (the
# host dropped), and --files-from read from a slow pipe.  The daemon
# counts its connections with fcntl locks (max connections, lock file).
case_rsync() {
	mkdir srv
	local p pid
	sync_src src &&
	rsync -aHS src/ dst/ && diff <(tree_list src) <(tree_list dst) && echo "rsync -aHS: same" &&
	stat -c '%n %s %b' dst/sparse &&
	sync_edit src &&
	rsync -aHS --delete --backup --backup-dir="$PWD/bak" --suffix=.old -i src/ dst/ &&
	diff <(tree_list src) <(tree_list dst) && echo "incremental: same" && tree_list bak notime &&
	printf EDIT | dd of=src/odd bs=1 seek=2500000 conv=notrunc status=none &&
	touch -d @1720000100 src/odd && stat -c %i dst/odd > srv/ino &&
	rsync -a --inplace --no-whole-file -i --stats src/odd dst/odd |
		grep -E '^(>|Number of|Total file size|Literal data|Matched data)' &&
	[ "$(stat -c %i dst/odd)" = "$(cat srv/ino)" ] && cmp src/odd dst/odd && echo "inplace: same inode" &&
	printf ZZ | dd of=src/d004/f00161 bs=1 seek=3 conv=notrunc status=none &&
	touch -d @$SYNC_T src/d004/f00161 &&
	rsync -a -i src/ dst/ && echo "without -c: nothing" &&
	rsync -a -c -i src/ dst/ && cmp src/d004/f00161 dst/d004/f00161 &&
	printf '#!/bin/sh\nshift\nexec "$@"\n' > srv/rsh && chmod +x srv/rsh &&
	rsync -aHS --timeout=30 -e srv/rsh src/ "host:$PWD/viarsh/" &&
	diff <(tree_list src) <(tree_list viarsh) && echo "remote shell: same" &&
	{ sleep 0.2; printf 'd000/f00000\nd004/f00161\n'; sleep 0.2; echo fifo; } |
		rsync -a -i --files-from=- src/ listed/ || return 1

	p=$(free_port)
	# The log exists before the daemon starts: log_port reads it at once.
	mkdir mod && : > srv/log && cat > srv/rsyncd.conf <<-EOF
	use chroot = no
	uid = 0
	gid = 0
	numeric ids = yes
	munge symlinks = no
	log file = $PWD/srv/log
	lock file = $PWD/srv/lock
	max connections = 4
	[mod]
	path = $PWD/mod
	comment = the case's module
	read only = no
	EOF
	rsync --daemon --no-detach --config=srv/rsyncd.conf --port="$p" --address=127.0.0.1 \
		> srv/out 2>&1 &
	pid=$!
	log_port srv/log 's/.* listening on port \([0-9]*\)$/\1/p' > /dev/null || { stop_pid $pid; return 1; }
	local u=rsync://127.0.0.1:$p
	rsync "$u/"
	rsync -aHSz --bwlimit=4000 src/ "$u/mod/push/"; echo "push: $?"
	rsync --list-only "$u/mod/push/d000/" | head -5
	rsync -aHS "$u/mod/push/" pull/; echo "pull: $?"
	diff <(tree_list src) <(tree_list pull); echo "daemon round trip: $?"
	cp src/odd mod/slow && touch -d @$SYNC_T mod/slow
	timeout 1 rsync -a --partial --bwlimit=500 "$u/mod/slow" part/ 2> srv/cut
	echo "cut: $? generator: $(grep -c 'code 20) at rsync\.c([0-9]*) \[generator=' srv/cut)"
	rsync -a --partial "$u/mod/slow" part/; echo "resumed: $?"
	cmp part/slow src/odd && echo "partial then whole: same"
	rsync "$u/nomod/"; echo "missing module: $?"
	stop_pid $pid
	rsync -a no-such-source dst/ 2> srv/miss
	p=$?
	sed "s|$PWD/|WORK/|" srv/miss >&2
	echo "missing source: $p"
}
# The daemon's log and output carry pids and times.  The rsync cut by
# SIGTERM says so on stderr, in lines that depend on which of its
# processes notices first (receiver and sender report SIGTERM, SIGUSR1 or
# EPIPE, in any order, without the shim too): kept in srv/, only its exit
# status and its generator's line compared.
# The pulled slow file is compared with cmp (its bytes are also in src).
meta_rsync() { NEED="rsync"; IGNORE='^srv/'; }

# The rsync case with main() of every program inside a coroutine
# (coromain.so, run-real.sh): sender, receiver and generator (forked from
# a coroutine) wait in their poll loops through the engine, and so does
# the daemon, forking per connection.
case_rsynccoro() {
	export LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$BIN/coromain.so"
	case_rsync
}
meta_rsynccoro() { meta_rsync; NEED="$NEED $BIN/coromain.so"; CORO=1; }

# util-linux script: programs on a pseudo-terminal.  script copies its
# stdin to the pty's master and the master to its stdout (and the
# typescript) in a poll loop, ends when SIGCHLD (its signalfd) says the
# program is gone and, with -e, exits with its status.  Every script here
# has its stdin given (/dev/null or a pipe fed slowly: the pty echoes each
# line before cat writes it back); stdout as bytes (od -c: the pty's
# \r\n).  The typescript's first and last lines carry the date: masked.
#
# The programs' stderr is on the pty too: where io_uring is unavailable
# (the probe, run without the shim, says so) the one line each process
# told to use it prints then (CONTRACT §5), which the runner drops from
# stderr, is dropped from the pty's bytes by script_note: the line, with
# its end, wherever it falls (after printf abc it starts mid-line).
case_script() {
	local note=
	[ "${ASYNCIFY_BACKEND:-}" != uring ] || env -u LD_PRELOAD "$BIN/uring-probe" > /dev/null 2>&1 ||
		note='asyncify: io_uring is not available \([^)]*\); using the threads backend\r?\n'
	script_note() { if [ -n "$note" ]; then perl -0777 -pe "s/$note//g"; else cat; fi; }
	script -q -c 'echo hi; ls /nonexistent; exit 3' /dev/null < /dev/null | script_note | od -c
	echo "without -e: ${PIPESTATUS[0]}"
	script -q -e -c 'echo hi; exit 3' /dev/null < /dev/null | script_note
	echo "with -e: ${PIPESTATUS[0]}"
	{ sleep 0.2; echo line1; sleep 0.2; echo line2; } |
		script -q -e -c 'stty size; tty >/dev/null && echo tty; printf abc; cat' typescript |
		script_note | od -c
	echo "slow pipe: ${PIPESTATUS[1]}"
	sed -i -E 's/^(Script (started|done) on )[0-9: +-]+ /\1DATE /' typescript
	[ -z "$note" ] || perl -0777 -pi -e "s/$note//g" typescript
	{ sleep 0.3; echo late; } | script -q -e -c 'exit 7' /dev/null | script_note | od -c
	echo "program gone first: ${PIPESTATUS[1]}"
	script -q -c "head -c 300000 '$DATA/text'" /dev/null < /dev/null | script_note | sha256sum
	script -q -e -c 'kill -TERM $$' /dev/null < /dev/null | script_note
	echo "killed: ${PIPESTATUS[0]}"
}
meta_script() { NEED="script"; }

# script with main() of every program inside a coroutine (coromain.so):
# script's poll loop over the pty, its stdin and its signalfd, and the
# programs on the pty, wait through the engine.
case_scriptcoro() {
	export LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$BIN/coromain.so"
	case_script
}
meta_scriptcoro() { meta_script; NEED="$NEED $BIN/coromain.so"; CORO=1; }

SYNC_CASES="rsync rsynccoro script scriptcoro"
