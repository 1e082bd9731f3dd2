#!/usr/bin/env python3
"""fs-sqlite.py — bench-sqlite: SQLite called unchanged from 32
coroutines on one thread against 32 plain threads (tests/bench/sqlite-coro.c).

  fs-sqlite.py --lib LIB --bin DIR [--runs N] [--workers W] [--txns T]
               [--rows R] [--dir D] [--only delete-warm,wal-cold,...]
               [--timeout S]

Each worker has a database of its own (R rows of ~150 bytes) and commits
T transactions with synchronous=FULL (four SELECTs of random keys, an
UPDATE, an INSERT).  Journals: delete (the journal created, synced and
unlinked at every commit, the directory synced) and wal.  Cache: warm
(the databases read once before the clock starts) and cold (written back
and dropped from the page cache first).  Ways: `threads` (W threads, no
shim), `coro uring` and `coro threads` (W coroutines on the main thread
under the shim, with a ticker coroutine waking every 1 ms).  Before each
run the databases are copied afresh from a template made once per
journal.  A run that has not ended after S seconds (default 30) is
killed and reported as HUNG, and that (point, way) is not run again.  In every round each (point, way) runs once, the ways in an order
rotated round by round.  Reported: median wall time, the longest stall of
the coroutines' thread (how late the ticker woke: median (worst) over the
rounds), the CPU time of the coroutines' one thread (user + system; of
the whole process for threads: medians) and whether every run's answers
and final databases equal the threads'.  Goal (issue 11): stall <= 2 ms, wall no worse than the
threads', identical results.  Once per round a plain loop of 1 ms
nanosleeps (net-libs jitter, no shim) measures how late the machine
itself wakes a sleeper.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from netbench import env_for

STALL_GOAL_MS = 2.0
WAYS = [("threads", "threads", None), ("coro uring", "coro", "uring"),
        ("coro threads", "coro", "threads")]
POINTS = ["delete-warm", "delete-cold", "wal-warm", "wal-cold"]


def run(args, tmp, point, mode, backend):
    journal, cache = point.split("-")
    work = os.path.join(tmp, "run")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(os.path.join(tmp, "tpl-" + journal), work)
    argv = [os.path.join(args.bin, "sqlite-coro"), "run", work, mode, str(args.workers),
            str(args.txns), str(args.rows), "1" if cache == "cold" else "0"]
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, env=env_for(args.lib, backend),
                           timeout=args.timeout)
    except subprocess.TimeoutExpired:
        print("bench-sqlite: %s %s %s: no end after %d s (killed; not run again)"
              % (point, mode, backend, args.timeout))
        return "hung"
    if r.returncode != 0:
        print("bench-sqlite: %s %s %s: exit %d" % (point, mode, backend, r.returncode))
        return None
    res, wall, stall, cpu = r.stdout.split()
    return res.decode(), float(wall), float(stall), float(cpu)


def jitter(args):
    """How late the machine wakes a 1 ms sleeper (ms), or None."""
    netlibs = os.path.join(args.bin, "net-libs")
    if not os.access(netlibs, os.X_OK):
        return None
    r = subprocess.run([netlibs, "jitter", "loop", "1", "1000", "-"], stdout=subprocess.PIPE,
                       env=env_for(None, None))
    return float(r.stdout.split()[2]) if r.returncode == 0 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--txns", type=int, default=20)
    ap.add_argument("--rows", type=int, default=8000)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--only", default=",".join(POINTS))
    ap.add_argument("--timeout", type=int, default=30)
    args = ap.parse_args()
    points = [p for p in args.only.split(",") if p]
    tmp = tempfile.mkdtemp(prefix="asy-sqlite.", dir=args.dir)
    got = {(p, c): [] for p in points for c, _, _ in WAYS}
    got["jitter"] = []
    try:
        for journal in sorted({p.split("-")[0] for p in points}):
            tpl = os.path.join(tmp, "tpl-" + journal)
            os.mkdir(tpl)
            subprocess.run([os.path.join(args.bin, "sqlite-coro"), "prep", tpl,
                            str(args.workers), str(args.rows), journal],
                           env=env_for(None, None), check=True)
        for r in range(args.runs):
            got["jitter"].append(jitter(args))
            for p in points:
                for col, mode, backend in WAYS[r % 3:] + WAYS[:r % 3]:
                    if "hung" not in got[(p, col)]:
                        got[(p, col)].append(run(args, tmp, p, mode, backend))
            print("  round %d/%d done" % (r + 1, args.runs), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(args, points, got)


def report(args, points, got):
    print("\nbench-sqlite: %d databases, %d transactions each (synchronous=FULL), "
          "%d rows; wall time in ms (median of %d rounds); longest stall of the "
          "coroutines' thread in ms, median (worst)\n" % (args.workers, args.txns,
                                                          args.rows, args.runs))
    print("| journal, cache | " + " | ".join(c for c, _, _ in WAYS) +
          " | stall, coro uring | stall, coro threads | CPU: threads' process, "
          "coro uring's thread, coro threads' thread | results |")
    print("|---" * (len(WAYS) + 5) + "|")
    missed, failed = [], 0
    for p in points:
        runs = {c: [x for x in got[(p, c)] if x and x != "hung"] for c, _, _ in WAYS}
        hung = {c for c, _, _ in WAYS if "hung" in got[(p, c)]}
        failed += sum(1 for c, _, _ in WAYS for x in got[(p, c)] if x in (None, "hung"))
        wall = {c: statistics.median(x[1] for x in v) if v else None for c, v in runs.items()}
        worst = {c: max(x[2] for x in v) if v else None for c, v in runs.items()}
        smed = {c: statistics.median(x[2] for x in v) if v else None for c, v in runs.items()}
        results = {x[0] for v in runs.values() for x in v}
        cells = ["HUNG" if c in hung else "fail" if wall[c] is None else "%.0f" % wall[c]
                 for c, _, _ in WAYS]
        cells += ["–" if worst[c] is None else "%.1f (%.1f)" % (smed[c], worst[c])
                  for c in ("coro uring", "coro threads")]
        cpu = {c: statistics.median(x[3] for x in v) if v else None for c, v in runs.items()}
        cells.append(" / ".join("–" if cpu[c] is None else "%.0f" % cpu[c] for c, _, _ in WAYS))
        cells.append("identical" if len(results) == 1 else "DIFFER (%d kinds)" % len(results))
        print("| %s | %s |" % (p.replace("-", ", "), " | ".join(cells)))
        if len(results) != 1:
            missed.append("%s results differ" % p)
        for c in ("coro uring", "coro threads"):
            if c in hung:
                missed.append("%s %s hung (no end after %d s)" % (p, c, args.timeout))
                continue
            if worst[c] is None or worst[c] > STALL_GOAL_MS:
                missed.append("%s %s stall %s ms" % (p, c, worst[c]))
            if wall[c] is None or wall["threads"] is None or wall[c] > wall["threads"] * 1.05:
                missed.append("%s %s wall %s ms vs threads %s" % (p, c, wall[c], wall["threads"]))
    print("\nThe coroutines' wall time is at least their one thread's CPU time; 32 "
          "threads spread theirs over every core.")
    jit = [x for x in got["jitter"] if x is not None]
    if jit:
        print("\nThe machine's own lateness: a plain loop of 1 ms nanosleeps for 1 s, without "
              "the shim, once per round: worst %.1f ms, median %.1f ms" % (
                  max(jit), statistics.median(jit)))
    print("\nbench-sqlite: goal stall <= %.0f ms, wall <= threads' (+5%% noise), identical "
          "results: %s" % (STALL_GOAL_MS, "met" if not missed else "missed:\n  " + "\n  ".join(missed)))
    if failed:
        print("bench-sqlite: %d runs failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
