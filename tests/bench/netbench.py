"""netbench.py — what the socket benchmarks (net-*.py) share: the
environment of a run with or without the shim, loopback ports, and
stopping a server by its pid."""
import os
import signal
import socket
import subprocess
import time


def env_for(lib, backend):
    """The environment for a run: the shim under backend, or none (None)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ASYNCIFY_") and k != "LD_PRELOAD"}
    env["LC_ALL"] = "C"
    if backend:
        env["LD_PRELOAD"] = lib
        env["ASYNCIFY_BACKEND"] = backend
    return env


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, secs=10):
    """Wait until 127.0.0.1:port accepts; False if proc died or time ran out."""
    end = time.monotonic() + secs
    while time.monotonic() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc, grace=0):
    """Let proc exit for up to grace seconds, then kill it by its pid."""
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def reap(proc, grace=0, sig=signal.SIGKILL):
    """Let proc exit for up to grace seconds, then send it sig (by its
    pid) and wait; return its CPU seconds (user + sys, its threads
    included), or None when it had to be sent a signal it does not
    exit cleanly on (sig SIGKILL)."""
    end = time.monotonic() + grace
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() >= end:
            os.kill(proc.pid, sig)
            pid, status, ru = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if os.WIFSIGNALED(status):
        return None
    return ru.ru_utime + ru.ru_stime
