#!/usr/bin/env python3
"""fs-progs.py — bench-fs: unmodified metadata-heavy programs with and
without the shim, side by side (issue 11).

  fs-progs.py --lib LIB [--runs N] [--files F] [--git-files G]
              [--modules M] [--dir D] [--only git,tar,cp,find,make]

  git    git status --porcelain -uall in a committed tree of G files
         (default 20 000: lstat of every file, readdir of every directory)
  tar    tar -xf of a pax archive of F files (default 3 000;
         tests/real/mkfstree.py: small files, symlinks, hard links, modes,
         nanosecond times) into an empty directory
  cp     cp -r of that tree into an empty directory
  find   find TREE -exec stat -c '%n %s %a %h %Y %N' {} +
  make   make -j2 -s of a generated C project of M modules (default 24,
         tests/real/mkproject.sh), made clean before each run

Variants: none (no LD_PRELOAD), off, uring, threads.  In every round each
workload runs once under every variant, in an order rotated round by
round; what a run leaves behind is removed before the next, untimed and
without the shim.  The inputs are read once beforehand (warm page cache).
Reported: the median over the rounds of the wall time and of the CPU time
(user + sys of the program and the children it waited for, from wait4),
their ratios to none, and the paired ratio (the median over the rounds of
the variant's wall time / none's in the same round, which cancels the
drift of a shared machine's load).  Every run's output must equal none's: stdout,
exit status and, for tar, cp and make, a listing of what they made (type,
mode, size, link target, time where the program sets it, the bytes).
Goal (issue 11): <= 1.03 under uring, <= 1.10 under threads (the paired
wall-time ratio), identical output.
"""
import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from netbench import env_for, reap

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(os.path.dirname(HERE), "real")
VARIANTS = ("none", "off", "uring", "threads")
GOAL = {"uring": 1.03, "threads": 1.10}


def sh(cmd, **kw):
    env = env_for(None, None)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    subprocess.run(cmd, shell=True, check=True, env=env, **kw)


def listing(path, times=True):
    """SHA-256 of a tree's listing (as tree_list in tests/real/fs-cases.sh)."""
    fmt = "%P|%y %m %n %s " + ("%T@ " if times else "") + "%l\\n"
    out = subprocess.run("cd '%s' && find . -mindepth 1 ! -type d -printf '%s' | LC_ALL=C sort && "
                         "find . -mindepth 1 -type d -printf '%%P|%%y %%m %%n\\n' | LC_ALL=C sort && "
                         "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum"
                         % (path, fmt), shell=True, stdout=subprocess.PIPE, check=True,
                         env=env_for(None, None)).stdout
    return hashlib.sha256(out).hexdigest()[:16]


class Work:
    """A program to time: argv, its directory, what to undo between runs
    (clean), what it made (made)."""

    def __init__(self, name, argv, cwd, clean=None, made=None):
        self.name, self.argv, self.cwd, self.clean, self.made = name, argv, cwd, clean, made


def setup(args, tmp):
    """Make the inputs; return the workloads, keyed by short name."""
    sh("python3 '%s' '%s' %d" % (os.path.join(REAL, "mkfstree.py"), tmp, args.files))
    tree, tarball = os.path.join(tmp, "fstree"), os.path.join(tmp, "fstree.tar")
    only = args.only.split(",")
    big = os.path.join(tmp, "big")
    repo = os.path.join(big, "fstree")
    if "git" in only:
        sh("python3 '%s' '%s' %d" % (os.path.join(REAL, "mkfstree.py"), big, args.git_files))
        sh("cd '%s' && rm -f fifo && git init -q -b main . && git add -A && "
           "git -c user.name=A -c user.email=a@b commit -q -m base && git status -s && "
           "git update-index --refresh" % repo, stdout=subprocess.DEVNULL)
    proj = os.path.join(tmp, "project")
    if "make" in only:
        sh("sh '%s' '%s' %d" % (os.path.join(REAL, "mkproject.sh"), proj, args.modules))
    sh("cat '%s' > /dev/null && find '%s' %s -type f -print0 | xargs -0 cat > /dev/null"
       % (tarball, tree, "'%s'" % repo if "git" in only else ""))
    out = os.path.join(tmp, "out")
    rm_out = lambda: shutil.rmtree(out, ignore_errors=True)
    work = {
        "git": Work("git status, %d files" % args.git_files,
                    ["git", "status", "--porcelain", "-uall"], repo),
        "tar": Work("tar x, %d files" % args.files, ["tar", "-xf", tarball, "-C", out], tmp,
                    clean=lambda: (rm_out(), os.mkdir(out)), made=lambda: listing(out)),
        "cp": Work("cp -r, %d files" % args.files, ["cp", "-r", tree, out], tmp,
                   clean=rm_out, made=lambda: listing(out, times=False)),
        "find": Work("find -exec stat, %d files" % args.files,
                     ["find", "fstree", "-exec", "stat", "-c", "%n %s %a %h %Y %N", "{}", "+"], tmp),
        "make": Work("make -j2, %d modules" % args.modules, ["make", "-j2", "-s"], proj,
                     clean=lambda: sh("make -s -C '%s' clean" % proj),
                     made=lambda: listing(os.path.join(proj, "obj"), times=False)),
    }
    return {k: work[k] for k in only if k in work}


def run_one(args, w, variant):
    """(wall s, CPU s, output digest) of one run, or None when it failed."""
    if w.clean:
        w.clean()
    t = time.perf_counter()
    env = env_for(args.lib, variant if variant != "none" else None)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # the outer make's, not the program's
        env.pop(k, None)
    p = subprocess.Popen(w.argv, cwd=w.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env)
    out = p.stdout.read()
    cpu = reap(p, 300)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        print("bench-fs: %s [%s]: exit %s: %s" % (w.name, variant, p.returncode, out[:200]))
        return None
    digest = hashlib.sha256(out).hexdigest()[:16] + (w.made() if w.made else "")
    return wall, cpu, digest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--git-files", type=int, default=20000)
    ap.add_argument("--modules", type=int, default=24)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--only", default="git,tar,cp,find,make")
    args = ap.parse_args()
    for prog in ("git", "tar", "make", "cc"):
        if not shutil.which(prog):
            print("bench-fs: %s is not installed; skipped" % prog)
            return 0
    tmp = tempfile.mkdtemp(prefix="asy-fs.", dir=args.dir)
    try:
        work = setup(args, tmp)
        got = {(k, v): [] for k in work for v in VARIANTS}
        failed = 0
        for r in range(args.runs):
            for k, w in work.items():
                for v in VARIANTS[r % 4:] + VARIANTS[:r % 4]:
                    x = run_one(args, w, v)
                    failed += x is None
                    got[(k, v)].append(x)
            print("  round %d/%d done" % (r + 1, args.runs), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(args, work, got, failed)


def paired(a, b):
    """Median over the rounds of a's wall time / b's in the same round."""
    r = [x[0] / y[0] for x, y in zip(a, b) if x and y]
    return statistics.median(r) if r else None


def report(args, work, got, failed):
    print("\nbench-fs: median of %d rounds; ratio to the run without the shim of the wall "
          "time, (paired: the median of the ratios within a round) and [of the CPU time]\n"
          % args.runs)
    print("| program | none: wall, CPU | off | uring | threads | output | goal (uring / threads) |")
    print("|---|---|---|---|---|---|---|")
    missed = []
    for k, w in work.items():
        ok = {v: [x for x in got[(k, v)] if x] for v in VARIANTS}
        med = {v: (statistics.median(x[0] for x in ok[v]),
                   statistics.median(x[1] for x in ok[v])) if ok[v] else None for v in VARIANTS}
        base = med["none"]
        cells = ["%.3f s, %.3f s" % base if base else "fail"]
        for v in VARIANTS[1:]:
            pr = paired(got[(k, v)], got[(k, "none")])
            if not (med[v] and base and pr):
                cells.append("fail")
                missed.append("%s %s failed" % (k, v))
                continue
            cells.append("%.3f (%.3f) [%.3f]" % (med[v][0] / base[0], pr, med[v][1] / base[1]))
            if v in GOAL and pr > GOAL[v]:
                missed.append("%s %s %s" % (k, v, cells[-1]))
        outs = {x[2] for v in VARIANTS for x in ok[v]}
        cells.append("identical" if len(outs) == 1 else "DIFFER (%d kinds)" % len(outs))
        if len(outs) != 1:
            missed.append("%s output differs" % k)
        print("| %s | %s | <= %.2f / <= %.2f |" % (w.name, " | ".join(cells), GOAL["uring"],
                                                  GOAL["threads"]))
    print("\n`off` runs the same path as uring and threads for a plain program (each call is "
          "its own): its distance from 1 is this machine's noise.")
    print("\nbench-fs: goal (paired wall ratio) <= %.2f under uring, <= %.2f under threads, "
          "identical output: %s" % (GOAL["uring"], GOAL["threads"],
                                    "met" if not missed else "missed:\n  " + "\n  ".join(missed)))
    if failed:
        print("bench-fs: %d runs failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
