"""asyncify-ab: the experiment -- warmup, interleaved rounds of every
variant, equivalence checks of each run, the --summary and --flame runs.
"""

import importlib.machinery
import importlib.util
import os
import shutil
import sys

from .common import PROG, UsageError, shell_quote
from .options import find_helper
from .files import digest
from .runner import Runner, run_prepare
from .stats import label


# ---------------------------------------------------------------------------
# The experiment: warmup, interleaved rounds, equivalence

class Variant:
    def __init__(self, name, env):
        self.name, self.env = name, env
        self.runs = []            # every run, warmup included
        self.stopped = None       # why runs of this variant were stopped
        self.first_diff = {}      # aspect -> saved copy of the first differing output
        self.diff_runs = {}       # aspect -> number of runs that differed
        self.summary = None
        self.flame = None         # --flame: the SVG and what it shows

    def timed(self):
        return [r for r in self.runs if not r["warmup"] and not r["status"].get("timeout")]


class Experiment:
    def __init__(self, args, command, path, lib, tmp, stdin_path, files, variants):
        self.args, self.command, self.lib, self.tmp = args, command, lib, tmp
        self.stdin_path, self.files, self.variants = stdin_path, files, variants
        self.runner = Runner(path, command, tmp, stdin_path, args.timeout, find_helper())
        self.ref = None           # the baseline's first run: the reference
        self.ref_dir = os.path.join(tmp, "ref")
        os.mkdir(self.ref_dir)
        self.rounds = 0
        self.progress = not args.quiet and sys.stderr.isatty()

    @property
    def baseline(self):
        return self.variants[0]

    def one_run(self, v, rnd, warmup):
        for f in self.files:
            f.restore()
        if self.args.prepare:
            run_prepare(self.args.prepare, self.tmp)
        for f in self.files:
            f.mark()
        r = self.runner.run(v.env)
        r.update({"round": rnd, "warmup": warmup})
        r["stdout"] = dict(zip(("sha256", "size"), digest(self.runner.out)))
        r["stderr"] = dict(zip(("sha256", "size"), digest(self.runner.err)))
        r["files"] = {f.path: f.record() for f in self.files}
        v.runs.append(r)
        if self.ref is None:
            self.set_reference(v, r)
        else:
            self.compare(v, r)
        if r["status"].get("timeout"):
            self.timed_out(v, r)

    def set_reference(self, v, r):
        """The first run of the baseline: keep its outputs for diffs and check
        that every compare-file was written."""
        self.ref = r
        shutil.copyfile(self.runner.out, os.path.join(self.ref_dir, "stdout"))
        shutil.copyfile(self.runner.err, os.path.join(self.ref_dir, "stderr"))
        if r["status"].get("timeout"):
            self.timed_out(v, r)
        for i, f in enumerate(self.files):
            st = r["files"][f.path]
            if st is None:
                raise UsageError("--compare-file %s was never written: it does not exist "
                                 "after the first run of %s (paths are relative to %s)"
                                 % (f.path, v.name, os.getcwd()))
            if not st["written"]:
                raise UsageError("--compare-file %s was never written: the first run of %s "
                                 "left it unchanged" % (f.path, v.name))
            if os.path.isfile(f.real):
                shutil.copyfile(f.real, os.path.join(self.ref_dir, "file-%d" % i))

    def timed_out(self, v, r):
        if v is self.baseline:
            raise UsageError("the command did not finish within --timeout %g s in %s "
                             "(round %d): it hangs by itself or needs a longer --timeout"
                             % (self.args.timeout, label(v.name), r["round"]))
        v.stopped = "timed out in round %d (--timeout %g s); no further runs" % (
            r["round"], self.args.timeout)

    def compare(self, v, r):
        """Compare one run with the reference; keep the first differing copy."""
        ref = self.ref
        aspects = [("stdout", r["stdout"] != ref["stdout"], self.runner.out),
                   ("stderr", r["stderr"] != ref["stderr"], self.runner.err),
                   ("exit status", r["status"] != ref["status"], None)]
        for i, f in enumerate(self.files):
            a, b = r["files"][f.path], ref["files"][f.path]
            same = (a is not None and b is not None and a["sha256"] == b["sha256"]
                    and a["mode"] == b["mode"])
            aspects.append((f.path, not same, f.real if os.path.isfile(f.real) else None))
        for name, differs, src in aspects:
            if not differs:
                continue
            v.diff_runs[name] = v.diff_runs.get(name, 0) + 1
            if name not in v.first_diff:
                copy = None
                if src is not None:
                    copy = os.path.join(self.tmp, "diff-%s-%d" % (v.name, len(v.first_diff)))
                    shutil.copyfile(src, copy)
                v.first_diff[name] = {"copy": copy, "run": r}

    def order(self, rnd):
        """Round r runs the variants rotated by r-1, so that no variant always
        follows the same one (cache and drift effects spread evenly); round 1
        starts with the baseline, whose first run is the reference."""
        live = [v for v in self.variants if v.stopped is None]
        k = (rnd - 1) % len(live) if live else 0
        return live[k:] + live[:k]

    def round(self, rnd, warmup, total):
        for v in self.order(rnd):
            if self.progress:
                sys.stderr.write("\r\033[K%s round %d%s: %s" % (
                    PROG, rnd, "/%d" % total if total else "", v.name))
                sys.stderr.flush()
            self.one_run(v, rnd, warmup)

    def enough(self, timed_rounds):
        a = self.args
        if a.runs is not None:
            return timed_rounds >= a.runs
        if timed_rounds >= a.max_runs:
            return True
        if timed_rounds < a.min_runs:
            return False
        live = [v for v in self.variants if v.stopped is None]
        return all(sum(r["wall_s"] for r in v.timed()) >= a.min_time for v in live)

    def run_all(self):
        rnd = 0
        for _ in range(self.args.warmup):
            rnd += 1
            self.round(rnd, True, None)
        timed = 0
        while not self.enough(timed):
            rnd += 1
            timed += 1
            self.round(rnd, False, self.args.runs and self.args.runs + self.args.warmup)
        self.rounds = timed
        if self.progress:
            sys.stderr.write("\r\033[K")

    def untimed_run(self, v, **extra):
        """One more run of variant v with extra environment (--summary, --flame)."""
        env = dict(v.env, **extra)
        if self.args.stacks is not None:
            env["ASYNCIFY_STACKS"] = str(self.args.stacks)
        for f in self.files:
            f.restore()
        if self.args.prepare:
            run_prepare(self.args.prepare, self.tmp)
        self.runner.run(env)

    def run_summaries(self):
        """--summary: one more untimed run per shim variant, summary to a file."""
        for v in self.variants:
            if v.name == "none":
                continue
            path = os.path.join(self.tmp, "summary-" + v.name)
            self.untimed_run(v, ASYNCIFY_SUMMARY=path)
            text = None
            if os.path.isfile(path):
                with open(path, "rb") as fh:
                    text = fh.read().decode("utf-8", "replace").rstrip("\n")
            v.summary = text or None

    def run_flames(self):
        """--flame: one more untimed run per shim variant, every process's
        folded stacks rendered into PREFIX-VARIANT.svg by asyncify-flame."""
        flame = load_flame()
        title = "asyncify-ab --flame: %s" % " ".join(shell_quote(c) for c in self.command)
        for v in self.variants:
            if v.name == "none":
                continue
            d = os.path.join(self.tmp, "flame-" + v.name)
            os.mkdir(d)
            self.untimed_run(v, ASYNCIFY_FLAME=os.path.join(d, "%p.folded"))
            root, procs = flame.read_files(
                sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".folded")))
            svg = "%s-%s.svg" % (self.args.flame, v.name)
            flame.write_file(svg, flame.render_svg(root, title, "%s: %s blocked, %d process%s" % (
                v.name, flame.fmt_us(root.value), procs, "" if procs == 1 else "es")))
            v.flame = {"svg": svg, "blocked_us": root.value, "processes": procs,
                       "top": [{"stack": s, "us": us} for s, us in flame.top_stacks(root, 3)]}


def load_flame():
    """The renderer, asyncify-flame, next to the asyncify-ab script (scripts/ in the
    tree, bin/ when installed), loaded as a module."""
    here = os.path.dirname(os.path.abspath(sys.argv[0]))
    path = os.path.join(here, "asyncify-flame")
    if not os.path.isfile(path):
        path = os.path.join(os.path.dirname(os.path.realpath(sys.argv[0])), "asyncify-flame")
    loader = importlib.machinery.SourceFileLoader("asyncify_flame", path)
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.dont_write_bytecode = True
    loader.exec_module(mod)
    return mod
