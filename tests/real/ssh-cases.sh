# ssh-cases.sh — OpenSSH on loopback (sourced by run-real.sh): Debian's
# sshd, run as root with privilege separation on a port of its own, and
# ssh, scp and sftp talking to it, each run without the shim and under
# every backend, with outputs, files and exit statuses compared.
#
# sshd is a demanding program for the shim: a listener that re-executes
# itself per connection, a privilege-separated child in a chroot talking
# to its monitor over socketpairs (fds passed with SCM_RIGHTS), ptys,
# SIGCHLD, poll loops over non-blocking sockets.  The session's own
# programs (sh, sha256sum, cat, sftp-server, scp) get the shim too, through
# sshd's SetEnv: sshd gives them a fresh environment otherwise.
#
# The keys are random: they stay in keys/ and srv/, which are not
# compared (with sshd's log, which carries pids, ports and times); what is
# compared about them is deterministic (types, lengths, -y round trips).
# The ports change from run to run and are masked where a message names
# one.  A pty session makes sshd write utmp/wtmp like any login.

# ssh_conf: sshd's configuration, for port $1.
ssh_conf() {
	local v
	cat <<-EOF
	Port $1
	ListenAddress 127.0.0.1
	HostKey $PWD/srv/host_key
	AuthorizedKeysFile $PWD/srv/authorized_keys
	PidFile none
	StrictModes no
	UsePAM no
	PermitRootLogin prohibit-password
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	AllowTcpForwarding yes
	PrintMotd no
	PrintLastLog no
	Subsystem sftp /usr/lib/openssh/sftp-server
	EOF
	# The shim's settings (and coromain.so) for the session's programs, on
	# one line: sshd keeps the first SetEnv line only.  HOME is the case's
	# own (empty) one: root's shell, bash, reads ~/.bashrc when sshd starts
	# it, and what root's dotfiles run on this machine is no part of the case.
	local env=" HOME=\"$PWD/srv/home\""
	for v in LD_PRELOAD ASY_STATS_DIR ${!ASYNCIFY_*}; do
		[ -n "${!v:-}" ] && env="$env $v=\"${!v}\""
	done
	echo "SetEnv$env"
}

# fetch PORT/PATH: an http GET on loopback, the body to stdout (python3,
# not curl, which hangs with a sanitizer's runtime preloaded).
fetch() {
	"$PYTHON" -c 'import sys, urllib.request
sys.stdout.buffer.write(urllib.request.urlopen("http://127.0.0.1:" + sys.argv[1], timeout=20).read())' "$1"
}

case_ssh() {
	mkdir srv srv/home keys rdir
	local pid p hp hpid mpid lp rp i
	unset SSH_AUTH_SOCK
	umask 077
	ssh-keygen -q -t ed25519 -N '' -C host -f srv/host_key &&
	ssh-keygen -q -t ed25519 -N '' -C user -f keys/id &&
	ssh-keygen -q -t ed25519 -N '' -C other -f keys/wrong || return 1
	umask 022
	ssh-keygen -l -f keys/id | awk '{ print $1, $3, $4 }'
	ssh-keygen -y -f keys/id | cut -d' ' -f1,2 | cmp - <(cut -d' ' -f1,2 keys/id.pub) && echo "-y: same key"
	cp keys/id.pub srv/authorized_keys
	# Privilege separation chroots sshd's pre-auth child to /run/sshd,
	# which Debian's ssh.service has systemd make (RuntimeDirectory=sshd)
	# when it starts the service; without systemd nothing makes it, and
	# sshd refuses to start without it.
	[ -d /run/sshd ] || mkdir -m 755 /run/sshd || return 1
	p=$(free_port)
	ssh_conf "$p" > srv/sshd_config
	/usr/sbin/sshd -D -e -f "$PWD/srv/sshd_config" 2> srv/log &
	pid=$!
	log_port srv/log 's/^Server listening on 127\.0\.0\.1 port \([0-9]*\)\..*/\1/p' > /dev/null ||
		{ stop_pid $pid; return 1; }
	local o=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile="$PWD/keys/known_hosts"
		-o BatchMode=yes -o IdentitiesOnly=yes -i keys/id)
	s() { ssh "${o[@]}" -p "$p" "$@"; }
	local h=root@127.0.0.1
	# The first connection adds the host key (its message names the port).
	s $h true 2>&1 | sed "s/]:$p'/]:PORT'/"; echo "first: ${PIPESTATUS[0]}"
	s $h "sh -c 'echo out; echo err >&2; exit 3'"; echo "command: $?"
	head -c 24M "$DATA/big" > up
	sha256sum < up
	s $h sha256sum < up; echo "to sha256sum: $?"
	s $h "cat $PWD/up" | sha256sum; echo "back: ${PIPESTATUS[0]}"
	scp "${o[@]}" -P "$p" -q "$DATA/small" root@127.0.0.1:"$PWD/rdir/s1" && cmp rdir/s1 "$DATA/small" && echo "scp to: same bytes"
	scp "${o[@]}" -P "$p" -q root@127.0.0.1:"$PWD/up" s2 && cmp s2 up && echo "scp from: same bytes"
	scp "${o[@]}" -P "$p" -q -O "$DATA/text" root@127.0.0.1:"$PWD/rdir/s3" && cmp rdir/s3 "$DATA/text" && echo "scp -O to: same bytes"
	scp "${o[@]}" -P "$p" -q -O root@127.0.0.1:"$PWD/rdir/s3" s4 && cmp s4 "$DATA/text" && echo "scp -O from: same bytes"
	rm s2 s4
	cat > srv/batch <<-EOF
	cd $PWD/rdir
	put $DATA/small a
	put $DATA/text b
	get a got-a
	ls -1
	rename a c
	rm b
	ls -1
	-rm missing
	EOF
	# Its messages name the work directory, which is not the same in each run.
	sftp "${o[@]}" -P "$p" -b srv/batch $h 2> srv/sftp.err | sed "s|$PWD|W|g; s|$DATA|D|g"
	echo "sftp: ${PIPESTATUS[0]}"
	sed "s|$PWD|W|g" srv/sftp.err >&2
	cmp got-a "$DATA/small" && cmp rdir/c "$DATA/small" && echo "sftp: same bytes"
	s -tt $h 'stty size; tty > /dev/null && echo tty; exit 5' < /dev/null; echo "pty: $?"
	# A local forward through a master connection (ControlMaster), to
	# python3's http.server; then the master is told to exit.
	"$PYTHON" -u -m http.server --bind 127.0.0.1 -d "$DATA" 0 > srv/http 2>&1 &
	hpid=$!
	hp=$(log_port srv/http 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p') || { stop_pid $hpid; stop_pid $pid; return 1; }
	ssh "${o[@]}" -p "$p" -N -o ControlMaster=yes -o ControlPath="$PWD/srv/ctl" $h &
	mpid=$!
	wait_sock srv/ctl || { stop_pid $mpid; stop_pid $hpid; stop_pid $pid; return 1; }
	s -o ControlPath="$PWD/srv/ctl" $h 'echo through the master'; echo "mux: $?"
	s -o ControlPath="$PWD/srv/ctl" -O check $h 2>&1 | sed 's/pid=[0-9]*/pid=N/'
	lp=$(free_port)
	s -o ControlPath="$PWD/srv/ctl" -O forward -L "$lp:127.0.0.1:$hp" $h; echo "forward: $?"
	for i in $(seq 100); do fetch "$lp/small" > /dev/null 2>&1 && break; sleep 0.05; done
	fetch "$lp/small" | cmp - "$DATA/small" && echo "through the tunnel: same bytes"
	fetch "$lp/big" | sha256sum
	# A remote forward: sshd's session listens on rp and connects back.
	rp=$(free_port)
	s -o ControlPath="$PWD/srv/ctl" -O forward -R "$rp:127.0.0.1:$hp" $h; echo "remote forward: $?"
	for i in $(seq 100); do fetch "$rp/small" > /dev/null 2>&1 && break; sleep 0.05; done
	fetch "$rp/text" | cmp - "$DATA/text" && echo "through sshd: same bytes"
	s -o ControlPath="$PWD/srv/ctl" -O exit $h; echo "exit request: $?"
	wait $mpid; echo "master: $?"
	stop_pid $hpid
	ssh "${o[@]/keys\/id/keys/wrong}" -p "$p" root@127.0.0.1 true; echo "wrong key: $?"
	# Each connection's child logs its end when it sees the client go: wait
	# (at most 10 s) for every one of them before the log is read.
	for i in $(seq 200); do
		grep -q 'Connection closed by authenticating user' srv/log &&
			[ "$(grep -c '^Accepted' srv/log)" = "$(grep -c '^Disconnected' srv/log)" ] && break
		sleep 0.05
	done
	kill $pid; wait $pid; echo "sshd: $?"
	# sshd's log, ports and key fingerprints masked; sorted, as a connection's
	# last lines may come after the next one's first.
	sed -E 's/port [0-9]+/port P/g; s/SHA256:[^ ]+/SHA256:K/' srv/log | sort | uniq -c
}
meta_ssh() {
	NEED="/usr/sbin/sshd ssh scp sftp ssh-keygen"; IGNORE='^(srv|keys)/'
	# sshd with privilege separation runs as root only; otherwise the
	# runner skips the case, saying "root is not installed".
	[ "$(id -u)" = 0 ] || NEED="$NEED root"
}

# The same with every program's main() in a coroutine (coromain.so, also
# for the session's programs through SetEnv): sshd's and ssh's loops then
# wait in the engine, and their calls must reach the backend.
case_sshcoro() {
	export LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$BIN/coromain.so"
	case_ssh
}
meta_sshcoro() { meta_ssh; NEED="$NEED $BIN/coromain.so"; CORO=1; }

SSH_CASES="ssh sshcoro"
