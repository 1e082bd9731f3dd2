"""asyncify-ab: equivalence verdicts and statistics -- descriptive
statistics, outliers and the bootstrap confidence interval of each ratio.
"""

import math
import os
import random
import statistics

from .common import OUTLIER_Z, RESAMPLES
from .files import first_difference
from .runner import status_text


def label(name):
    return "the run without the shim (none)" if name == "none" else "variant " + name


# ---------------------------------------------------------------------------
# Equivalence verdicts

def equivalence(exp, v):
    """List of human-readable differences of variant V from the reference."""
    out = []
    total = len(v.runs)
    ref_name = exp.baseline.name
    for aspect, info in v.first_diff.items():
        n = v.diff_runs[aspect]
        run = info["run"]
        head = "%s: %s of %d runs differ from %s's first run" % (
            aspect, "all" if n == total else str(n), total, ref_name)
        if aspect == "exit status":
            out.append("%s (%s vs %s)" % (head, status_text(run["status"]),
                                         status_text(exp.ref["status"])))
            continue
        ref_path, ref_state, state = ref_copy(exp, aspect), None, None
        if aspect in ("stdout", "stderr"):
            ref_state, state = exp.ref[aspect], run[aspect]
        else:
            ref_state, state = exp.ref["files"][aspect], run["files"][aspect]
            if state is None:
                out.append("%s: absent after %d of %d runs" % (aspect, n, total))
                continue
            if ref_state and state["mode"] != ref_state["mode"]:
                head += "; mode %s vs %s" % (state["mode"], ref_state["mode"])
        d = first_difference(ref_path, info["copy"])
        if d is None:
            out.append(head)
            continue
        ref_label = "%s round %d:" % (ref_name, exp.ref["round"])
        v_label = "%s round %d:" % (v.name, run["round"])
        width = max(len(ref_label), len(v_label))
        out.append("%s; first difference at line %d (byte %d); sizes %d and %d bytes\n"
                   "      %-*s %s\n      %-*s %s" % (
                       head, d["line"], d["byte"], d["a_size"], d["b_size"],
                       width, ref_label, d["a"], width, v_label, d["b"]))
    return out


def ref_copy(exp, aspect):
    if aspect in ("stdout", "stderr"):
        return os.path.join(exp.ref_dir, aspect)
    for i, f in enumerate(exp.files):
        if f.path == aspect:
            return os.path.join(exp.ref_dir, "file-%d" % i)
    return None


# ---------------------------------------------------------------------------
# Statistics

def describe(xs):
    if not xs:
        return None
    return {"n": len(xs), "median": statistics.median(xs), "mean": statistics.fmean(xs),
            "stdev": statistics.stdev(xs) if len(xs) > 1 else 0.0,
            "min": min(xs), "max": max(xs)}


def outliers(xs):
    """Indices of runs whose modified z-score exceeds OUTLIER_Z."""
    if len(xs) < 5:
        return []
    med = statistics.median(xs)
    mad = statistics.median([abs(x - med) for x in xs])
    if mad == 0:
        return []
    return [i for i, x in enumerate(xs) if 0.6745 * abs(x - med) / mad > OUTLIER_Z]


def ratio_ci(base, other, seed):
    """Ratio of medians other/base with a 95% percentile-bootstrap interval.
    Runs are paired by round (interleaving makes round i of both variants
    share the machine's state), so whole rounds are resampled."""
    rounds = sorted(set(base) & set(other))
    if not rounds:
        return None
    a = [base[r] for r in rounds]
    b = [other[r] for r in rounds]
    point = statistics.median(b) / statistics.median(a)
    if len(rounds) < 2:
        return {"ratio": point, "ci95": None, "pairs": len(rounds)}
    rng = random.Random(seed)
    n = len(rounds)
    idx_range = range(n)
    samples = []
    for _ in range(RESAMPLES):
        idx = rng.choices(idx_range, k=n)
        samples.append(statistics.median([b[i] for i in idx]) /
                       statistics.median([a[i] for i in idx]))
    samples.sort()
    lo = samples[int(0.025 * (RESAMPLES - 1))]
    hi = samples[int(math.ceil(0.975 * (RESAMPLES - 1)))]
    return {"ratio": point, "ci95": [lo, hi], "pairs": n}


def analyse(exp):
    """Per-variant statistics and ratios; stored on each Variant."""
    base_walls = {r["round"]: r["wall_s"] for r in exp.baseline.timed()}
    for v in exp.variants:
        runs = v.timed()
        walls = [r["wall_s"] for r in runs]
        v.stats = {k: describe([r[k] for r in runs])
                   for k in ("wall_s", "user_s", "sys_s", "max_rss_kib")}
        v.outliers = [runs[i]["round"] for i in outliers(walls)]
        v.ratio = None
        if v is not exp.baseline and runs and base_walls:
            v.ratio = ratio_ci(base_walls, {r["round"]: r["wall_s"] for r in runs},
                               exp.args.seed)
        v.differences = equivalence(exp, v) if v is not exp.baseline else []
        v.equivalent = not v.differences and v.stopped is None
    exp.self_diffs = equivalence(exp, exp.baseline)
