#!/usr/bin/env python3
"""bench-handoff: a plain thread's wake of a coroutine, without the library
and under each backend, interleaved (tests/bench/handoff.c).

    handoff.py --lib lib/libasyncify.so --bin tests/bin/bench/handoff [--runs 7]
               [--old OLD.so]

Prints, per way (cond, sem; the thread answering at once or after 300 µs
of work) and variant, the median over the runs of each run's median and
90th-percentile round trip, and the median's ratio to glibc's own (no
library).  With --old, another build of the library (the one before a
change) runs as two more variants, old-uring and old-threads, in the same
rounds."""
import argparse
import os
import statistics
import subprocess
import sys

VARIANTS = ("none", "uring", "threads")
# (round trips, the work before each answer in µs, its label)
WAYS = (["4000", "0", ""], ["1000", "300", "+300us"])


def run(binary, lib, old, variant, args):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if variant != "none":
        env["LD_PRELOAD"] = old if variant.startswith("old-") else lib
        env["ASYNCIFY_BACKEND"] = variant.removeprefix("old-")
    out = subprocess.run([binary] + args[:2], env=env, capture_output=True, text=True, timeout=300)
    if out.returncode:
        sys.exit(f"handoff under {variant}: exit {out.returncode}\n{out.stderr}")
    got = {}
    for line in out.stdout.splitlines():
        way, _, med, _, p90 = line.split()
        got[way + args[2]] = (float(med), float(p90))
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--old", help="another build of the library, run beside")
    a = ap.parse_args()
    if a.runs < 3:
        sys.exit("--runs: at least 3")
    variants = VARIANTS + (("old-uring", "old-threads") if a.old else ())
    res = {}
    for _ in range(a.runs):
        for v in variants:
            for args in WAYS:
                for way, fig in run(a.bin, a.lib, a.old, v, args).items():
                    res.setdefault((way, v), []).append(fig)
    print(f"  {'round trip':<24} {'median µs':>10} {'p90 µs':>8} {'ratio':>6}")
    for way in [w + args[2] for args in WAYS for w in ("cond", "sem")]:
        base = statistics.median(f[0] for f in res[(way, "none")])
        for v in variants:
            med = statistics.median(f[0] for f in res[(way, v)])
            p90 = statistics.median(f[1] for f in res[(way, v)])
            print(f"  {v + ' ' + way:<24} {med:>10.1f} {p90:>8.1f} {med / base:>6.2f}")


if __name__ == "__main__":
    main()
