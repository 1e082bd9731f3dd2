#!/usr/bin/env python3
"""breakdown.py — what one call costs over plain libc, counted by perf stat.

  breakdown.py --lib LIB --bin DIR [--repeat N] [--scale F] [--dir D]
               [--only OPS] [--out FILE]

For each kind of call (tests/bench/breakdown.c: cached 4 KiB read, cached
4 KiB pread, 4 KiB write to a file, pwrite + fdatasync, a 64-byte pipe
read answered at once, stat, an eventfd write) and each way of making it:

  plain            (a) a plain thread, no shim: the reference
  plain uring      (b) a plain thread under the shim, ASYNCIFY_BACKEND=uring
  plain threads    (b) the same, threads
  coro uring       (c) inside a coroutine, beside a second one asleep (the
  coro threads         engine's path), under each backend
  alone uring      (c) inside a coroutine alone on its thread (the engine
  alone threads        makes a lone coroutine's file calls its own)

`perf stat -e task-clock,user_time,system_time,raw_syscalls:sys_enter`
counts a run of N calls and a run of none (the same set-up); the
difference over N is the figure per call: CPU time (task-clock: exact),
user and system time (the kernel's tick-sampled split at CONFIG_HZ: read
it to ±20-50 ns here) and system calls (every thread of the process,
workers included).  Runs are interleaved round by round (each round runs
every way once, in a rotated order).  Reported for (a): the median over
the rounds; for every other way: the median over the rounds of its
difference to (a) in the same round (paired: the machine's slow drift
cancels); the user/sys split takes means instead, which use every tick's
sample.
Without the syscall tracepoint (not root, kernel.perf_event_paranoid > -1)
the system calls come from `strace -f -c` instead, and the report says so.

--scale F multiplies every op's number of calls (0.1: a quick look).

Output: a Markdown table of (a)'s own cost and of every other way's extra
cost over it, per call, on stdout (and in FILE with --out).  Exit 1 when a
run failed, else 0 — also when perf cannot count at all: then one line
says what to do and nothing runs (as `make bench-percall` without valgrind).
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from netbench import env_for

OPS = {  # name: (N calls per run, label)
    "read": (200000, "cached 4 KiB `read`"),
    "pread": (200000, "cached 4 KiB `pread`"),
    "write": (50000, "4 KiB `write` to a file"),
    "fdatasync": (2000, "`pwrite` 4 KiB + `fdatasync` (per pair)"),
    "pipe": (200000, "pipe `read` answered at once (64 B)"),
    "stat": (50000, "`stat` of a file"),
    "eventfd": (200000, "eventfd `write` of 8 bytes (a wake-up)"),
}
WAYS = [  # name, program, backend (None: no shim), mode
    ("plain", "breakdown", None, None),
    ("plain uring", "breakdown", "uring", None),
    ("plain threads", "breakdown", "threads", None),
    ("coro uring", "breakdown-coro", "uring", "coro"),
    ("coro threads", "breakdown-coro", "threads", "coro"),
    ("alone uring", "breakdown-coro", "uring", "coro-alone"),
    ("alone threads", "breakdown-coro", "threads", "coro-alone"),
]
EVENTS = "task-clock,user_time,system_time"
SYSCALLS = "raw_syscalls:sys_enter"


def perf_works(events):
    r = subprocess.run(["perf", "stat", "-x,", "-e", events, "--", "true"],
                       capture_output=True, text=True)
    return r.returncode == 0 and "<not supported>" not in r.stderr


def argv_for(a, way, op, n, f):
    _, prog, _, mode = way
    return [os.path.join(a.bin, prog), op, str(n), f] + ([mode] if mode else [])


def perf_run(a, way, op, n, f, events):
    """{event: value} for one run: ns for the times, a count for syscalls."""
    out = tempfile.NamedTemporaryFile(prefix="asy-breakdown.", suffix=".csv")
    cmd = ["perf", "stat", "-x,", "-o", out.name, "-e", events, "--"] + argv_for(a, way, op, n, f)
    r = subprocess.run(cmd, env=env_for(a.lib, way[2]), capture_output=True, text=True)
    if r.returncode != 0 or r.stdout.strip() != "calls %d" % n:
        raise RuntimeError("%s %s: exit %d: %s" % (way[0], op, r.returncode, r.stderr.strip()))
    vals = {}
    for line in open(out.name):
        cols = line.strip().split(",")
        if len(cols) > 2 and cols[2] in ("task-clock", "user_time", "system_time", SYSCALLS):
            # perf says "<not counted>" for a time of 0 (the rusage events)
            x = float(cols[0]) if cols[0][:1].isdigit() else 0.0
            vals[cols[2]] = x * 1e6 if cols[1] == "msec" else x
    out.close()
    return vals


def strace_syscalls(a, way, op, n, f):
    """System calls of one run (all threads), counted by strace -f -c."""
    with tempfile.NamedTemporaryFile(prefix="asy-breakdown.") as out:
        cmd = ["strace", "-f", "-c", "-o", out.name] + argv_for(a, way, op, n, f)
        subprocess.run(cmd, env=env_for(a.lib, way[2]), capture_output=True, check=True)
        for line in open(out.name):
            if line.split()[-1:] == ["total"]:
                cols = line.split()
                return float(cols[3] if len(cols) == 6 else cols[2])
    return float("nan")


def measure(a, ops, f, tracepoint):
    """{(op, way): {event: [per-call figure of each round]}}, a figure being
    (run of N - run of none) / N."""
    events = EVENTS + ("," + SYSCALLS if tracepoint else "")
    per = {(op, w[0]): {} for op in ops for w in WAYS}
    for r in range(a.repeat):
        for op in ops:
            n = OPS[op][0]
            for w in WAYS[r % len(WAYS):] + WAYS[:r % len(WAYS)]:
                full, empty = perf_run(a, w, op, n, f, events), perf_run(a, w, op, 0, f, events)
                for k in full:
                    per[(op, w[0])].setdefault(k, []).append((full[k] - empty[k]) / n)
        print("  round %d/%d done" % (r + 1, a.repeat), file=sys.stderr)
    if not tracepoint:
        for op in ops:
            n = OPS[op][0]
            for w in WAYS:
                per[(op, w[0])][SYSCALLS] = [(strace_syscalls(a, w, op, n, f) -
                                              strace_syscalls(a, w, op, 0, f)) / n]
    return per


def summary(xs, ys, event):
    """A way's figure against (a)'s, paired round by round (which cancels
    the machine's slow drift): the median of the differences, or their mean
    for the user/sys split, which is sampled at each tick (the mean uses
    every sample)."""
    d = [x - y for x, y in zip(xs, ys)]
    return (statistics.mean if event in ("user_time", "system_time") else statistics.median)(d)


def cell(per, op, way, events):
    d = {k: summary(per[(op, way)][k], per[(op, "plain")][k] if way != "plain" else
                    [0.0] * len(per[(op, way)][k]), k) for k in events}
    sign = "%+.0f" if way != "plain" else "%.0f"
    return ((sign + " (" + sign + " / " + sign + ") ns, " + sign.replace("0f", "2f")) %
            (d["task-clock"], d["user_time"], d["system_time"], d[SYSCALLS]))


def table(ops, per):
    events = ("task-clock", "user_time", "system_time", SYSCALLS)
    lines = ["| call | (a) plain thread, no shim: CPU (user / sys) ns, syscalls | " +
             " | ".join("%s (%s)" % (w[0], "b" if w[0].startswith("plain") else "c")
                        for w in WAYS[1:]) + " |",
             "|---" * (len(WAYS) + 1) + "|"]
    for op in ops:
        lines.append("| %s | %s |" % (OPS[op][1], " | ".join(
            cell(per, op, w[0], events) for w in WAYS)))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--only", default="")
    ap.add_argument("--out")
    a = ap.parse_args()
    ops = [op for op in OPS if not a.only or op in a.only.split(",")]
    for op in OPS:
        OPS[op] = (max(1, int(OPS[op][0] * a.scale)), OPS[op][1])
    if not shutil.which("perf") or not perf_works(EVENTS):
        print("breakdown: `perf stat -e %s` does not work here: install perf (Debian: "
              "linux-perf), or as root lower the limit: sysctl kernel.perf_event_paranoid=1; "
              "skipped" % EVENTS, file=sys.stderr)
        return 0
    tracepoint = perf_works(SYSCALLS)
    if not tracepoint:
        print("breakdown: perf cannot read the %s tracepoint here (root, or "
              "kernel.perf_event_paranoid=-1, is needed): counting system calls with "
              "strace -f -c instead" % SYSCALLS, file=sys.stderr)
    fd, f = tempfile.mkstemp(prefix="asy-breakdown.", dir=a.dir)
    try:
        with os.fdopen(fd, "wb") as g:
            g.write(os.urandom(16 << 20))
        res = measure(a, ops, f, tracepoint)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        print("breakdown: run failed: %s" % e, file=sys.stderr)
        return 1
    finally:
        os.unlink(f)
    load = os.getloadavg()
    head = ["Per-call cost, medians of %d interleaved rounds; %s, %d CPUs, kernel %s, "
            "load %.2f %.2f %.2f at the end." % (a.repeat, time.strftime("%Y-%m-%d %H:%M UTC",
                                                  time.gmtime()), os.cpu_count(),
                                                  platform.release(), *load),
            "(a): what the call costs a plain thread without the shim; every other column: "
            "the extra per call over (a).",
            "CPU = task-clock (all threads), median of the paired differences; user / sys: the kernel's "
            "tick-sampled split, mean; "
            "last: system calls per call (%s)." % ("perf, " + SYSCALLS if tracepoint
                                                   else "strace -f -c"),
            "", "Command: `%s`" % " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]), ""]
    text = "\n".join(head + table(ops, res)) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as g:
            g.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
