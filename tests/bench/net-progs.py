#!/usr/bin/env python3
"""net-progs.py — bench-progs: unmodified socket-heavy programs with and
without the shim, side by side.

  net-progs.py --lib LIB [--runs N] [--fetches F]

  curl           one curl process fetching 256 KiB F times (default 500)
                 from tests/bench/http-server.py on loopback; the curl
                 process runs under each variant, the server never does
  redis-server   redis-server run under each variant, loaded by
                 redis-benchmark (without the shim): 50 clients, 100 000
                 SET and 100 000 GET; timed: the benchmark's wall time
                 (the inverse of its requests per second) and the
                 server's CPU time

Variants: none (no LD_PRELOAD), off, uring, threads.  In every round each
variant runs once, in an order rotated round by round; reported: the median
over the rounds and its ratio to none, of the wall time and of the CPU
time (user + sys) of the shimmed program.  Goal (issue 10): <= 1.03 under
uring, <= 1.10 under threads; the verdict reads the CPU time, which the
load of a shared machine moves much less than the wall time.  A program that is not installed is skipped
with a message.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

from netbench import env_for, free_port, reap, stop, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ("none", "off", "uring", "threads")
GOAL = {"uring": 1.03, "threads": 1.10}


def curl_run(args, variant, url):
    """(wall, CPU) seconds of one curl process making args.fetches transfers."""
    argv = ["curl", "-sS", "-f", "-o", "/dev/null", "%s?n=[1-%d]" % (url, args.fetches)]
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         env=env_for(args.lib, variant if variant != "none" else None))
    cpu = reap(p, 300)
    return (time.perf_counter() - t, cpu) if p.returncode == 0 else None


def redis_run(args, variant):
    """(wall seconds of redis-benchmark, CPU seconds of the redis-server
    under variant)."""
    port = free_port()
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                            "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                           env=env_for(args.lib, variant if variant != "none" else None))
    try:
        if not wait_port(port, srv):
            return None
        t = time.perf_counter()
        r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q",
                            "-c", "50", "-n", "100000", "-t", "set,get"],
                           stdout=subprocess.DEVNULL, env=env_for(None, None), timeout=300)
        wall = time.perf_counter() - t
    except subprocess.TimeoutExpired:
        r = None
    finally:
        cpu = reap(srv, 0, signal.SIGTERM)  # redis-server exits 0 on SIGTERM
    return (wall, cpu) if r and r.returncode == 0 and cpu is not None else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--fetches", type=int, default=500)
    args = ap.parse_args()
    http = subprocess.Popen([sys.executable, os.path.join(HERE, "http-server.py")],
                            stdout=subprocess.PIPE)
    url = "http://127.0.0.1:%s/bytes/262144" % http.stdout.readline().decode().strip()
    work = {}
    if shutil.which("curl"):
        work["curl, %d x 256 KiB" % args.fetches] = lambda v: curl_run(args, v, url)
    else:
        print("bench-progs: curl is not installed (apt-get install curl); skipped")
    if shutil.which("redis-server") and shutil.which("redis-benchmark"):
        work["redis-server, redis-benchmark"] = lambda v: redis_run(args, v)
    else:
        print("bench-progs: redis-server or redis-benchmark is not installed "
              "(apt-get install redis-server redis-tools); skipped")
    if not work:
        stop(http)
        print("bench-progs: nothing to measure; skipped")
        return 0
    got = {(w, v): [] for w in work for v in VARIANTS}
    failed = 0
    try:
        for r in range(args.runs):
            for w, fn in work.items():
                for v in VARIANTS[r % 4:] + VARIANTS[:r % 4]:
                    x = fn(v)
                    failed += x is None
                    if x is not None:
                        got[(w, v)].append(x)
            print("  round %d/%d done" % (r + 1, args.runs), file=sys.stderr)
    finally:
        stop(http)
    return report(args, work, got, failed)


def report(args, work, got, failed):
    print("\nbench-progs: median of %d rounds; ratio to the run without the shim, "
          "of the wall time and [of the CPU time]\n" % args.runs)
    print("| program | none: wall, CPU | off | uring | threads | goal (uring / threads) |")
    print("|---|---|---|---|---|---|")
    missed = []
    for w in work:
        med = {v: (statistics.median(x[0] for x in got[(w, v)]),
                   statistics.median(x[1] for x in got[(w, v)])) if got[(w, v)] else None
               for v in VARIANTS}
        base = med["none"]
        cells = ["%.3f s, %.3f s" % base if base else "fail"]
        for v in VARIANTS[1:]:
            ok = med[v] and base
            cells.append("%.3f [%.3f]" % (med[v][0] / base[0], med[v][1] / base[1]) if ok else "fail")
            if v in GOAL and (not ok or med[v][1] / base[1] > GOAL[v]):
                missed.append("%s %s %s" % (w, v, cells[-1]))
        print("| %s | %s | <= %.2f / <= %.2f |" % (w, " | ".join(cells), GOAL["uring"],
                                                  GOAL["threads"]))
    print("\nbench-progs: goal (CPU time) <= %.2f under uring, <= %.2f under threads: %s" % (
        GOAL["uring"], GOAL["threads"], "met" if not missed else "missed: " + "; ".join(missed)))
    if failed:
        print("bench-progs: %d runs failed" % failed)
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
