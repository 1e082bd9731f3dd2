"""asyncify-ab: the reports -- the text report on stdout, --export-markdown
and --export-json.
"""

import os
import shutil
import statistics

from .common import (MIN_VERDICT_RUNS, OUTLIER_Z, PROG, RESAMPLES, VERSION, human_size,
                     shell_quote)
from .runner import status_text
from .stats import label


# ---------------------------------------------------------------------------
# Formatting

def unit_for(seconds):
    if seconds >= 1:
        return 1.0, "s"
    if seconds >= 1e-3:
        return 1e-3, "ms"
    return 1e-6, "µs"


def fmt_time(x, unit):
    scale, name = unit
    v = x / scale
    return ("%#.3g" % v if v < 100 else "%.0f" % v) + " " + name


def fmt_ratio(rt):
    if rt is None:
        return "—"
    s = "%.2f×" % rt["ratio"]
    if rt["ci95"]:
        s += " [%.2f, %.2f]" % tuple(rt["ci95"])
    return s


def ratio_word(rt):
    if rt is None or not rt["ci95"]:
        return ""
    if rt["pairs"] < MIN_VERDICT_RUNS:
        return "too few runs to tell"
    lo, hi = rt["ci95"]
    if lo > 1:
        return "slower"
    if hi < 1:
        return "faster"
    return "no clear difference"


def verdict(exp, v):
    base = exp.baseline.name
    if v.stopped:
        what = "DIFFERENT: " + v.stopped
    elif v.differences:
        what = "DIFFERENT output (%s)" % ", ".join(a for a in v.first_diff)
    else:
        what = "identical output"
    if v.ratio:
        word = ratio_word(v.ratio)
        what += ", %s of %s%s" % (fmt_ratio(v.ratio), base, " (%s)" % word if word else "")
    return what


def table(rows, align):
    """Plain text table: rows of strings, align a string of '<'/'>' per column."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [(c.ljust(w) if al == "<" else c.rjust(w)) for c, w, al in zip(r, widths, align)]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def short(state):
    """Short description of a stdout/stderr/file state for the table."""
    if state is None:
        return "absent"
    s = "%s %s" % (state["sha256"][:8] if state["sha256"] else "-", human_size(state["size"]))
    if "mode" in state:
        s += " " + state["mode"]
    return s


def file_columns(exp):
    """Column names for the compare-files: base names when those are unique."""
    names = [os.path.basename(f.path) or f.path for f in exp.files]
    return names if len(set(names)) == len(names) else [f.path for f in exp.files]


def equivalence_rows(exp):
    cols = ["variant", "stdout", "stderr", "status"] + file_columns(exp)
    rows = [cols]
    ref = exp.ref
    for v in exp.variants:
        if v is exp.baseline:
            cells = [short(ref["stdout"]), short(ref["stderr"]), status_text(ref["status"])]
            cells += [short(ref["files"][f.path]) for f in exp.files]
        else:
            cells = ["DIFFERS" if a in v.first_diff else "same"
                     for a in ["stdout", "stderr", "exit status"] + [f.path for f in exp.files]]
        rows.append([v.name] + cells)
    return rows


def timing_rows(exp, unit):
    rows = [["variant", "runs", "median", "mean ± σ", "min", "max", "user", "sys",
             "max RSS", "ratio to %s [95%% CI]" % exp.baseline.name]]
    for v in exp.variants:
        w = v.stats["wall_s"]
        if w is None:
            rows.append([v.name, "0"] + ["—"] * 8)
            continue
        rss = human_size(v.stats["max_rss_kib"]["median"] * 1024)
        if all(r["max_rss_floor"] for r in v.timed()):
            rss = "≤ " + rss
        rows.append([v.name, str(w["n"]), fmt_time(w["median"], unit),
                     "%s ± %s" % (fmt_time(w["mean"], unit), fmt_time(w["stdev"], unit)),
                     fmt_time(w["min"], unit), fmt_time(w["max"], unit),
                     fmt_time(v.stats["user_s"]["median"], unit),
                     fmt_time(v.stats["sys_s"]["median"], unit),
                     rss, "1 (baseline)" if v is exp.baseline else fmt_ratio(v.ratio)])
    return rows


def warnings_for(exp, unit):
    out = []
    ref_status = exp.ref["status"]
    if "signal" in ref_status:
        out.append("the command is killed by %s in %s too: it crashes by itself, so the "
                   "timings measure a crash" % (ref_status["name"], label(exp.baseline.name)))
    elif ref_status.get("exit"):
        out.append("the command exits with status %d in %s too" % (
            ref_status["exit"], label(exp.baseline.name)))
    if exp.self_diffs:
        out.append("%s is not deterministic: its own runs differ, so differences in other "
                   "variants need not be the shim's doing:" % exp.baseline.name)
        out.extend("  " + d for d in exp.self_diffs)
    for v in exp.variants:
        if v.outliers:
            w = v.stats["wall_s"]
            out.append("%s: %d of %d runs are outliers (modified z-score > %g; min %s, "
                       "median %s, max %s): something else may have run meanwhile; medians "
                       "and the bootstrap interval are robust to a few" % (
                           v.name, len(v.outliers), w["n"], OUTLIER_Z, fmt_time(w["min"], unit),
                           fmt_time(w["median"], unit), fmt_time(w["max"], unit)))
    return out


def header_lines(exp):
    a = exp.args
    runs = ("%d timed runs" % exp.rounds if a.runs else
            "%d timed runs (until %g s per variant, %d..%d runs)" % (
                exp.rounds, a.min_time, a.min_runs, a.max_runs))
    lines = ["command   %s" % " ".join(shell_quote(c) for c in exp.command),
             "library   %s" % exp.lib,
             "spawn     %s" % (("%s (exact peak RSS)" % exp.runner.helper) if exp.runner.helper
                               else "posix_spawn (peak RSS only above asyncify-ab's own)"),
             "variants  %s; baseline %s" % (", ".join(v.name for v in exp.variants),
                                            exp.baseline.name),
             "runs      %d warmup + %s per variant, interleaved" % (a.warmup, runs),
             "stdin     %s" % exp.stdin_desc]
    if a.prepare:
        lines.append("prepare   %s (before every run)" % a.prepare)
    if a.timeout:
        lines.append("timeout   %g s per run" % a.timeout)
    if exp.kept_env:
        lines.append("env       %s (shim variants)" % " ".join(
            "%s=%s" % kv for kv in exp.kept_env.items()))
    for f in exp.files:
        lines.append("file      %s: %s" % (f.path, f.describe()))
    return lines


def text_report(exp):
    base = exp.baseline.name
    all_walls = [r["wall_s"] for v in exp.variants for r in v.timed()]
    unit = unit_for(statistics.median(all_walls) if all_walls else 1.0)
    out = ["%s %s" % (PROG, VERSION)] + header_lines(exp) + [""]
    out.append("Equivalence with %s (%d runs per variant, warmup included)" % (
        base, len(exp.baseline.runs)))
    out += table(equivalence_rows(exp), "<" * (4 + len(exp.files)))
    for v in exp.variants[1:]:
        for d in v.differences:
            out.append("  %s %s" % (v.name, d))
        if v.stopped:
            out.append("  %s %s" % (v.name, v.stopped))
    out += ["", "Timing (wall clock per run; user, sys and max RSS are medians)"]
    out += table(timing_rows(exp, unit), "<>>>>>>>><")
    w = warnings_for(exp, unit)
    if w:
        out += [""] + ["warning: " + x for x in w]
    out += ["", "Verdict"]
    width = max(len(v.name) for v in exp.variants) + 1
    for v in exp.variants[1:]:
        out.append("  %-*s %s" % (width, v.name + ":", verdict(exp, v)))
    if len(exp.variants) == 1:
        out.append("  only one variant: nothing to compare")
    if exp.args.summary:
        out += [""] + summary_section(exp)
    if exp.args.flame:
        out += ["", "Where it blocked, as flame graphs (ASYNCIFY_FLAME; one extra untimed run "
                    "per shim variant)"]
        for v in exp.variants:
            if v.flame:
                f = v.flame
                out.append("  %-8s %s  (%s blocked, %d process%s)" % (
                    v.name, f["svg"], fmt_us(f["blocked_us"]), f["processes"],
                    "" if f["processes"] == 1 else "es"))
                out += ["  %8s %5.1f%%  %s" % ("", 100.0 * t["us"] / max(f["blocked_us"], 1),
                                              tail(t["stack"], 100)) for t in f["top"]]
    return out


def tail(s, n):
    return s if len(s) <= n else "…" + s[len(s) - n + 1:]


def fmt_us(us):
    return fmt_time(us / 1e6, unit_for(us / 1e6))


def summary_section(exp):
    out = ["Where it blocked (ASYNCIFY_SUMMARY; one extra untimed run per shim variant)"]
    cols = []
    for v in exp.variants:
        if v.name == "none":
            continue
        body = v.summary.splitlines() if v.summary else [
            "(no summary written: this library", " may not support ASYNCIFY_SUMMARY)"]
        cols.append([v.name, "-" * len(v.name)] + body)
    if not cols:
        return out + ["  (no shim variant selected)"]
    widths = [max(len(x) for x in c) for c in cols]
    term = shutil.get_terminal_size((160, 24)).columns
    if sum(widths) + 3 * len(cols) + 2 > term:
        for c in cols:
            out += ["  " + x for x in c] + [""]
        return out
    for i in range(max(len(c) for c in cols)):
        cells = [(c[i] if i < len(c) else "").ljust(w) for c, w in zip(cols, widths)]
        out.append(("  " + " │ ".join(cells)).rstrip())
    return out


def markdown_report(exp):
    base = exp.baseline.name
    all_walls = [r["wall_s"] for v in exp.variants for r in v.timed()]
    unit = unit_for(statistics.median(all_walls) if all_walls else 1.0)
    out = ["# asyncify-ab: `%s`" % " ".join(shell_quote(c) for c in exp.command), ""]
    out += ["- " + h.split(None, 1)[0] + ": " + md_escape(h.split(None, 1)[1])
            for h in header_lines(exp)]
    out += ["", "## Equivalence with %s" % base, ""]
    out += md_table(equivalence_rows(exp))
    details = [(v.name, d) for v in exp.variants[1:] for d in v.differences]
    if details:
        out.append("")
        for name, d in details:
            first, *rest = d.split("\n")
            out.append("- **%s** %s" % (name, md_escape(first)))
            out += ["  `%s`" % r.strip() for r in rest]
    out += ["", "## Timing (wall clock)", ""]
    out += md_table(timing_rows(exp, unit))
    w = warnings_for(exp, unit)
    if w:
        out += [""] + ["> warning: " + md_escape(x) for x in w]
    out += ["", "## Verdict", ""]
    out += ["- **%s**: %s" % (v.name, md_escape(verdict(exp, v))) for v in exp.variants[1:]]
    if exp.args.summary:
        out += ["", "## Where it blocked", ""]
        for v in exp.variants:
            if v.name != "none":
                out += ["### %s" % v.name, "", "```", v.summary or "(no summary written)",
                        "```", ""]
    if exp.args.flame:
        out += ["", "## Where it blocked, as flame graphs", ""]
        for v in exp.variants:
            if v.flame:
                f = v.flame
                base = os.path.dirname(os.path.abspath(exp.args.export_markdown or "."))
                out += ["### %s: %s blocked" % (v.name, fmt_us(f["blocked_us"])), "",
                        "![%s](%s)" % (v.name, os.path.relpath(os.path.abspath(f["svg"]), base)),
                        ""]
                out += ["- %.1f%% `%s`" % (100.0 * t["us"] / max(f["blocked_us"], 1), t["stack"])
                        for t in f["top"]] + [""]
    return out


def md_escape(s):
    return s.replace("|", "\\|").replace("*", "\\*")


def md_table(rows):
    out = ["| " + " | ".join(md_escape(c) for c in rows[0]) + " |",
           "|" + "|".join("---" for _ in rows[0]) + "|"]
    out += ["| " + " | ".join(md_escape(c) for c in r) + " |" for r in rows[1:]]
    return out


def json_report(exp, status):
    variants = []
    for v in exp.variants:
        variants.append({
            "name": v.name,
            "baseline": v is exp.baseline,
            "env": {k: v.env[k] for k in ("LD_PRELOAD", "ASYNCIFY_BACKEND") if k in v.env},
            "runs": v.runs,
            "stats": v.stats,
            "outlier_rounds": v.outliers,
            "ratio": dict(v.ratio, method="percentile bootstrap, ratio of medians, "
                          "rounds resampled in pairs", resamples=RESAMPLES,
                          seed=exp.args.seed) if v.ratio else None,
            "equivalent": v.equivalent if v is not exp.baseline else None,
            "differences": v.differences,
            "stopped": v.stopped,
            "summary": v.summary,
            "flame": v.flame,
        })
    return {
        "schema": "asyncify-ab/1",
        "version": VERSION,
        "command": exp.command,
        "library": exp.lib,
        "spawn_helper": exp.runner.helper,
        "started": exp.started,
        "host": {"kernel": " ".join(os.uname()[2:4]), "cpus": os.cpu_count()},
        "warmup": exp.args.warmup,
        "rounds": exp.rounds,
        "timeout_s": exp.args.timeout,
        "prepare": exp.args.prepare,
        "stdin": exp.stdin_desc,
        "environment": exp.kept_env,
        "compare_files": [{"path": f.path, "handling": f.describe()} for f in exp.files],
        "baseline_deterministic": not exp.self_diffs,
        "variants": variants,
        "exit_status": status,
    }
