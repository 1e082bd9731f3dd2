#!/usr/bin/env python3
"""bench-trace: what tracing costs, side by side with strace (issue 4).

Workloads (as in NOTES §7): dd bs=4k of a page-cached 256 MiB file, the
same on 8 MiB (strace -k needs ~1.6 ms per call: 256 MiB would take
~200 s a run), sqlite3 running 50k INSERTs, `cat big | sha256sum`.

Variants: plain; the shim without tracing; summary only; full per-call
text trace with 8-frame stacks (to /dev/null, like strace -o /dev/null);
`strace -f -T -k`; `strace --seccomp-bpf -f -e trace=read,write,pread64`.
Runs are interleaved (one round = every variant once, in turn) and the
median of --runs rounds is reported, with the per-call cost over the shim
(ours) or over plain (strace).  Prints a Markdown table.
"""
import argparse
import glob
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

W = "/tmp/asyncify-bench-trace"


def prepare():
    os.makedirs(W, exist_ok=True)
    for name, mib in (("big", 256), ("small", 8)):
        p = os.path.join(W, name)
        if not os.path.exists(p) or os.path.getsize(p) != mib << 20:
            with open("/dev/urandom", "rb") as src, open(p, "wb") as dst:
                for _ in range(mib):
                    dst.write(src.read(1 << 20))
        subprocess.run(["cat", p], stdout=subprocess.DEVNULL, check=True)
    sql = os.path.join(W, "script.sql")
    if not os.path.exists(sql):
        with open(sql, "w") as f:
            f.write("PRAGMA journal_mode=DELETE;\n")
            f.write("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, val INTEGER);\nBEGIN;\n")
            for i in range(1, 50001):
                f.write(f"INSERT INTO t(name,val) VALUES('name{i}',{i * 7919 % 100003});\n")
            f.write("COMMIT;\nCREATE INDEX t_val ON t(val);\n")


WORKLOADS = {
    "dd 256M": f"dd if={W}/big of=/dev/null bs=4k status=none",
    "dd 8M": f"dd if={W}/small of=/dev/null bs=4k status=none",
    "sqlite3": f"rm -f {W}/db {W}/db-journal; sqlite3 {W}/db < {W}/script.sql",
    "cat|sha256sum": f"cat {W}/big | sha256sum > /dev/null",
}


def variants(lib):
    shim = {"LD_PRELOAD": lib}
    return [
        ("plain", [], {}),
        ("shim", [], shim),
        ("summary", [], dict(shim, ASYNCIFY_SUMMARY="/dev/null")),
        ("trace+stacks8", [], dict(shim, ASYNCIFY_TRACE="/dev/null", ASYNCIFY_STACKS="8")),
        ("strace -f -T -k", ["strace", "-f", "-T", "-k", "-o", "/dev/null"], {}),
        ("strace seccomp", ["strace", "--seccomp-bpf", "-f", "-e", "trace=read,write,pread64",
                            "-o", "/dev/null"], {}),
    ]


CPU = {}  # variant -> CPU seconds (user + system of the whole tree) per run


def run_once(prefix, env, cmd, name=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCIFY_")}
    e.pop("LD_PRELOAD", None)
    e.update(env)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(prefix + ["sh", "-c", cmd], env=e, check=True, stdout=subprocess.DEVNULL)
    t = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if name:
        CPU.setdefault(name, []).append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    return t


def count_calls(lib, cmd):
    """Hooked calls the workload makes, from our own summaries (%p)."""
    for p in glob.glob(os.path.join(W, "count.*")):
        os.unlink(p)
    run_once([], {"LD_PRELOAD": lib, "ASYNCIFY_SUMMARY": os.path.join(W, "count.%p")}, cmd)
    n = 0
    row = re.compile(r"^\w+\s+(?:libc|inline|timer|uring|threads)\s+(\d+)\s")
    for p in glob.glob(os.path.join(W, "count.*")):
        with open(p) as f:
            n += sum(int(m.group(1)) for m in map(row.match, f) if m)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", help="comma-separated workload names")
    a = ap.parse_args()
    if not shutil.which("strace") or not shutil.which("sqlite3"):
        sys.exit("bench-trace needs strace and sqlite3")
    prepare()
    vs = variants(a.lib)
    wls = [w for w in WORKLOADS if not a.only or w in a.only.split(",")]
    print(f"# bench-trace: {a.runs} interleaved rounds, medians; load {os.getloadavg()[0]:.2f}",
          flush=True)
    results, cpu_results = {}, {}
    for w in wls:
        cmd = WORKLOADS[w]
        calls = count_calls(a.lib, cmd)
        skip = {"strace -f -T -k"} if w == "dd 256M" else set()
        times = {v[0]: [] for v in vs if v[0] not in skip}
        CPU.clear()
        for _ in range(a.runs):
            for name, prefix, env in vs:
                if name not in skip:
                    times[name].append(run_once(prefix, env, cmd, name))
        med = {k: statistics.median(v) for k, v in times.items()}
        cpu = {k: statistics.median(v) for k, v in CPU.items()}
        results[w] = (calls, med)
        cpu_results[w] = (calls, cpu)
        print(f"# {w}: {calls} calls; wall " +
              ", ".join(f"{k} {v:.3f}s" for k, v in med.items()) + "; cpu " +
              ", ".join(f"{k} {v:.3f}s" for k, v in cpu.items()), flush=True)
    print("\n## Wall time (medians)")
    report(results, [v[0] for v in vs])
    print("\n## CPU time, user + system of the whole process tree (medians; steadier on a busy machine)")
    report(cpu_results, [v[0] for v in vs])


def report(results, names):
    print("\n| workload (calls) | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for w, (calls, med) in results.items():
        cells = []
        for n in names:
            if n not in med:
                cells.append("–")
                continue
            base = med["plain"] if n.startswith("strace") or n in ("plain", "shim") else med["shim"]
            per = (med[n] - base) / calls * 1e6 if calls and n != "plain" else None
            ratio = med[n] / base
            cell = f"{med[n]:.3f} s"
            if per is not None:
                cell += f" ×{ratio:.2f}, {per:+.2f} µs/call"
            cells.append(cell)
        print(f"| {w} ({calls}) | " + " | ".join(cells) + " |")
    print("\nOverhead per call (µs) and how many times cheaper our full trace is:")
    print("\n| workload | summary vs shim | trace+stacks8 vs shim | strace -T -k vs plain "
          "| strace seccomp vs plain | strace -k ÷ trace | seccomp ÷ trace |")
    print("|---|---|---|---|---|---|---|")
    for w, (calls, med) in results.items():
        def per(n, base):
            return (med[n] - med[base]) / calls * 1e6 if n in med and calls else None
        s, t = per("summary", "shim"), per("trace+stacks8", "shim")
        k, c = per("strace -f -T -k", "plain"), per("strace seccomp", "plain")
        summ_pct = (med["summary"] / med["shim"] - 1) * 100
        cells = [f"{summ_pct:+.1f}% ({s:+.2f})", f"{t:+.2f}",
                 f"{k:.1f}" if k is not None else "–", f"{c:.2f}",
                 f"{k / t:.0f}×" if k is not None and t and t > 0 else "–",
                 f"{c / t:.1f}×" if t and t > 0 else "–"]
        print(f"| {w} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
