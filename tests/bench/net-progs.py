#!/usr/bin/env python3
"""net-progs.py — bench-progs: unmodified socket-heavy programs with and
without the shim, side by side.

  net-progs.py --lib LIB [--runs N] [--fetches F]

  curl           one curl process fetching 256 KiB F times (default 200)
                 from tests/bench/http-server.py on loopback; the curl
                 process runs under each variant, the server never does
  redis-server   redis-server run under each variant, loaded by
                 redis-benchmark (without the shim): 50 clients, 100 000
                 SET and 100 000 GET; the figure is the wall time of the
                 benchmark (the inverse of its requests per second)

Variants: none (no LD_PRELOAD), off, uring, threads.  In every round each
variant runs once, in an order rotated round by round; reported: the median
over the rounds and its ratio to none.  Goal (issue 10): <= 1.03 under
uring, <= 1.10 under threads.  A program that is not installed is skipped
with a message.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from netbench import env_for, free_port, stop, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ("none", "off", "uring", "threads")
GOAL = {"uring": 1.03, "threads": 1.10}


def curl_run(args, variant, url):
    """Wall seconds of one curl process making args.fetches transfers."""
    argv = ["curl", "-sS", "-f", "-o", "/dev/null", "%s?n=[1-%d]" % (url, args.fetches)]
    t = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL,
                       env=env_for(args.lib, variant if variant != "none" else None))
    return time.perf_counter() - t if r.returncode == 0 else None


def redis_run(args, variant):
    """Wall seconds of redis-benchmark against a redis-server under variant."""
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
        return time.perf_counter() - t if r.returncode == 0 else None
    finally:
        stop(srv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--fetches", type=int, default=200)
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
    print("\nbench-progs: wall time, median of %d rounds, and its ratio to the run "
          "without the shim\n" % args.runs)
    print("| program | none | off | uring | threads | goal (uring / threads) |")
    print("|---|---|---|---|---|---|")
    missed = []
    for w in work:
        med = {v: statistics.median(got[(w, v)]) if got[(w, v)] else None for v in VARIANTS}
        cells = ["%.3f s" % med["none"] if med["none"] else "fail"]
        for v in VARIANTS[1:]:
            ok = med[v] and med["none"]
            cells.append("%.3f" % (med[v] / med["none"]) if ok else "fail")
            if v in GOAL and (not ok or med[v] / med["none"] > GOAL[v]):
                missed.append("%s %s %s" % (w, v, cells[-1]))
        print("| %s | %s | <= %.2f / <= %.2f |" % (w, " | ".join(cells), GOAL["uring"],
                                                  GOAL["threads"]))
    print("\nbench-progs: goal <= %.2f under uring, <= %.2f under threads: %s" % (
        GOAL["uring"], GOAL["threads"], "met" if not missed else "missed: " + "; ".join(missed)))
    if failed:
        print("bench-progs: %d runs failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
