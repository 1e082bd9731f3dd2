#!/usr/bin/env python3
"""net-echo.py — bench-echo: an echo server written as plain blocking code
in coroutines under the shim, against a hand-written epoll loop and one
thread per connection (tests/bench/echo-server.c), driven by an epoll load
generator in its own process (tests/bench/echo-load.c) on loopback.

  net-echo.py --lib LIB --bin DIR [--runs N] [--secs S] [--size B]
              [--conns 1,64,1024]

In every round each (connections, server) point runs once, the servers in
an order rotated round by round; reported: the median requests per second
over the rounds and its ratio to the epoll server's median.  Each point is
a fresh server process, stopped by its pid if it has not exited by itself
once the load generator closed its connections.  Goal (issue 10): the
coroutine servers reach >= 90% of the epoll server at every point, under
both backends.  Exit 0 when every run succeeded (the verdict does not
change it), 1 otherwise.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys

from netbench import env_for, reap

GOAL = 0.90
SERVERS = [  # (column, echo-server mode, ASYNCIFY_BACKEND or None = no shim)
    ("epoll", "epoll", None),
    ("thread/conn", "threads", None),
    ("coro rw uring", "coro-rw", "uring"),
    ("coro recv uring", "coro-recv", "uring"),
    ("coro rw threads", "coro-rw", "threads"),
    ("coro recv threads", "coro-recv", "threads"),
]




def point(args, mode, backend, conns):
    """One run: (requests/s, connections served, server CPU seconds per
    request), or None on failure."""
    srv = subprocess.Popen([os.path.join(args.bin, "echo-server"), mode, str(conns)],
                           stdout=subprocess.PIPE, env=env_for(args.lib, backend))
    try:
        port = srv.stdout.readline().strip()
        if not port:
            return None
        load = subprocess.run([os.path.join(args.bin, "echo-load"), port, str(conns),
                               str(args.secs), str(args.size)],
                              stdout=subprocess.PIPE, timeout=args.secs + 60)
        if load.returncode != 0:
            return None
        rate, _, served = load.stdout.split()
    except subprocess.TimeoutExpired:
        return None
    finally:
        srv.stdout.close()
        cpu = reap(srv, 10)
    # The server's CPU time covers the warm-up too: divided by the
    # requests of the whole run at the measured rate.
    if cpu is None or srv.returncode != 0 or float(rate) <= 0:
        return None
    return float(rate), int(served), cpu / (float(rate) * (args.secs + 0.2))


def fmt(x):
    return "fail" if x is None else "%.0f" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secs", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--conns", default="1,64,1024")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    conns = [int(c) for c in args.conns.split(",")]
    if max(conns) + 64 > hard:
        print("bench-echo: RLIMIT_NOFILE hard limit %d is below %d connections; skipped"
              % (hard, max(conns)))
        return 0
    got = {(c, s[0]): [] for c in conns for s in SERVERS}
    cpu = {k: [] for k in got}
    failed, starved = 0, {}
    for r in range(args.runs):
        for c in conns:
            order = SERVERS[r % len(SERVERS):] + SERVERS[:r % len(SERVERS)]
            for col, mode, backend in order:
                v = point(args, mode, backend, c)
                failed += v is None
                if v is not None:
                    got[(c, col)].append(v[0])
                    cpu[(c, col)].append(v[2])
                    starved[(c, col)] = min(starved.get((c, col), c), v[1])
        print("  round %d/%d done" % (r + 1, args.runs), file=sys.stderr)
    med = {k: statistics.median(v) if v else None for k, v in got.items()}
    cmed = {k: statistics.median(v) if v else None for k, v in cpu.items()}

    print("\nbench-echo: requests/s, %d-byte requests, one in flight per connection, "
          "medians of %d rounds of %.1f s\n" % (args.size, args.runs, args.secs))
    print("| connections | " + " | ".join(s[0] for s in SERVERS) + " |")
    print("|---" * (len(SERVERS) + 1) + "|")
    for c in conns:
        print("| %d | " % c + " | ".join(fmt(med[(c, s[0])]) + (
            " (%d served)" % starved[(c, s[0])] if starved.get((c, s[0]), c) < c else "")
            for s in SERVERS) + " |")
    print("\n(N served: in some round only N connections got an answer)")
    print("\nratio to the epoll server (goal >= %.2f for the coroutine servers)\n" % GOAL)
    print("| connections | " + " | ".join(s[0] for s in SERVERS[1:]) + " |")
    print("|---" * len(SERVERS) + "|")
    missed = []
    for c in conns:
        base, cells = med[(c, "epoll")], []
        for col, _, backend in SERVERS[1:]:
            v = med[(c, col)]
            ratio = v / base if v is not None and base else None
            cells.append("fail" if ratio is None else "%.2f" % ratio)
            if backend and (ratio is None or ratio < GOAL or starved.get((c, col), c) < c):
                missed.append("%s at %d (%s)" % (col, c, cells[-1]))
        print("| %d | " % c + " | ".join(cells) + " |")
    print("\nserver CPU time per request in µs (user + sys, all its threads; less moved "
          "by other load on the machine than requests/s), and its ratio to epoll's\n")
    print("| connections | " + " | ".join(s[0] for s in SERVERS) + " |")
    print("|---" * (len(SERVERS) + 1) + "|")
    for c in conns:
        base = cmed[(c, "epoll")]
        print("| %d | " % c + " | ".join(
            "fail" if cmed[(c, s[0])] is None else "%.1f" % (cmed[(c, s[0])] * 1e6) +
            ("" if s[0] == "epoll" or not base else " (%.2f)" % (cmed[(c, s[0])] / base))
            for s in SERVERS) + " |")
    print("\nbench-echo: goal >= %.0f%% of epoll at %s connections: %s" % (
        GOAL * 100, ", ".join(map(str, conns)),
        "met" if not missed else "missed: " + "; ".join(missed)))
    if failed:
        print("bench-echo: %d runs failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
