"""asyncify-ab: running one command -- spawning it (through
asyncify-ab-spawn when built), timeouts, measuring time and peak RSS, and
decoding its exit status.
"""

import os
import resource
import signal
import time

from .common import KILL_GRACE, UsageError


# ---------------------------------------------------------------------------
# Running one command

class Runner:
    """Spawns the command, measures it and enforces --timeout by signalling
    the run's process group.  With the helper asyncify-ab-spawn (built by
    make) the helper forks the command and reports its wait4 rusage, which
    makes the peak RSS exact; without it, posix_spawn and wait4 from here."""

    def __init__(self, path, argv, tmp, stdin_path, timeout, helper):
        self.path, self.argv, self.tmp = path, argv, tmp
        self.stdin_path, self.timeout = stdin_path, timeout
        self.helper = helper
        self.out = os.path.join(tmp, "stdout")
        self.err = os.path.join(tmp, "stderr")
        self.result = os.path.join(tmp, "result")
        self.pid = None
        self.kills = 0

    def _alarm(self, signum, frame):
        # First expiry: SIGTERM to the whole group; KILL_GRACE later, SIGKILL.
        self.kills += 1
        sig = signal.SIGTERM if self.kills == 1 else signal.SIGKILL
        self._signal_group(sig)
        if self.kills == 1:
            signal.setitimer(signal.ITIMER_REAL, KILL_GRACE)

    def _signal_group(self, sig):
        if self.pid is not None:
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def kill(self):
        """Called on interruption: end the current run and reap it."""
        if self.pid is not None:
            self._signal_group(signal.SIGKILL)
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = None

    def run(self, env):
        """One run; returns a dict with wall/user/sys/max_rss and status."""
        if self.helper:
            return self.run_helper(env)
        return self.run_direct(env, self.path, self.argv)

    def run_helper(self, env):
        if os.path.exists(self.result):
            os.unlink(self.result)
        env = dict(env)
        preload = env.pop("LD_PRELOAD", "")
        argv = [self.helper, self.result, preload, self.path] + self.argv
        r = self.run_direct(env, self.helper, argv)
        try:
            with open(self.result) as f:
                fields = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            fields = None
        if fields is None or len(fields) != 6:
            # The helper died (SIGKILL after a timeout): keep what wait4 saw.
            return r
        status, wall_ns, user_us, sys_us, rss, exec_errno = fields
        if exec_errno:
            raise UsageError("cannot run %s: %s" % (self.path, os.strerror(exec_errno)))
        r.update(wall_s=wall_ns / 1e9, user_s=user_us / 1e6, sys_s=sys_us / 1e6,
                 max_rss_kib=rss, max_rss_floor=False,
                 status=decode_status(status, self.kills > 0))
        return r

    def run_direct(self, env, path, argv):
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        actions = [(os.POSIX_SPAWN_OPEN, 0, self.stdin_path, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, self.out, flags, 0o600),
                   (os.POSIX_SPAWN_OPEN, 2, self.err, flags, 0o600)]
        self.kills = 0
        if self.timeout:
            signal.signal(signal.SIGALRM, self._alarm)
        # posix_spawn's child shares this process's memory until it execs,
        # and exec records that memory's peak as the child's ru_maxrss; so
        # a value at or below our own peak only means "at most that much".
        floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter_ns()
        self.pid = os.posix_spawn(path, argv, env, file_actions=actions, setpgroup=0)
        if self.timeout:
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
        _, status, ru = os.wait4(self.pid, 0)
        t1 = time.perf_counter_ns()
        if self.timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.pid = None
        return {"wall_s": (t1 - t0) / 1e9, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
                "max_rss_kib": ru.ru_maxrss, "max_rss_floor": ru.ru_maxrss <= floor,
                "status": decode_status(status, self.kills > 0)}


def decode_status(status, timed_out):
    if timed_out:
        return {"timeout": True}
    if os.WIFSIGNALED(status):
        n = os.WTERMSIG(status)
        return {"signal": n, "name": signal_name(n)}
    return {"exit": os.WEXITSTATUS(status)}


def signal_name(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return "signal %d" % n


def status_text(st):
    if st.get("timeout"):
        return "timed out"
    if "signal" in st:
        return "killed by %s" % st["name"]
    return "exit %d" % st["exit"]


def run_prepare(cmd, tmp):
    """--prepare: a shell command before each run; raises UsageError on failure."""
    import subprocess
    log = os.path.join(tmp, "prepare.log")
    with open(log, "wb") as f:
        rc = subprocess.run(["/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL,
                            stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        with open(log, "rb") as f:
            tail = f.read().decode("utf-8", "replace").strip().splitlines()[-5:]
        raise UsageError("--prepare command failed (%s): %s%s" % (
            "exit %d" % rc if rc > 0 else "killed by " + signal_name(-rc), cmd,
            "".join("\n  | " + t for t in tail)))
