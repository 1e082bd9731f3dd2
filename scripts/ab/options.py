"""asyncify-ab: the command line (options, --help text, checks of bad input),
finding the command, the library and the measuring helper, and the
environment each variant runs with.
"""

import argparse
import os
import shutil
import sys

from .common import ALL_VARIANTS, PROG, STRIPPED_VARS, UsageError


# ---------------------------------------------------------------------------
# Command line

def parse_args(argv):
    """Split argv at the first '--' and parse the options before it."""
    if "--" in argv:
        cut = argv.index("--")
        opts, command = argv[:cut], argv[cut + 1:]
    else:
        opts, command = argv, None
    parser = build_parser()
    args, extra = parser.parse_known_args(opts)
    if extra:
        if extra[0].startswith("-") and extra[0] != "-":
            raise UsageError("unknown option '%s'" % extra[0])
        if command is None:
            raise UsageError("missing '--' before the command '%s' "
                             "(usage: asyncify-ab [options] -- command [args...])" % extra[0])
        raise UsageError("unexpected argument '%s' before '--'" % extra[0])
    if args.version:
        return args, None
    if command is None:
        raise UsageError("missing '--' before the command "
                         "(usage: asyncify-ab [options] -- command [args...])")
    if not command:
        raise UsageError("no command after '--'")
    check_args(args)
    return args, command


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser():
    p = Parser(prog=PROG, add_help=True, allow_abbrev=False,
               usage="%(prog)s [options] -- command [args...]",
               description="Run COMMAND with and without libasyncify.so, interleaved, "
                           "and report equivalence and timing.",
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog="Compare-files that exist at the start are put back to their original\n"
                      "content and mode before every run and at the end; absent ones are\n"
                      "removed before every run and at the end (see asyncify-ab(1)).\n\n"
                      "Exit status: 0 every variant behaves like the baseline, 1 one differs,\n"
                      "2 usage error or no comparison possible, 128+N interrupted by signal N.")
    a = p.add_argument
    a("--variants", default=",".join(ALL_VARIANTS), metavar="LIST",
      help="comma-separated subset of none,off,uring,threads; the first is the "
           "baseline (default: %(default)s)")
    a("-r", "--runs", type=int, metavar="N", help="exactly N timed runs per variant")
    a("--min-time", type=float, metavar="SEC",
      help="without --runs: run until each variant took SEC seconds (default 3)")
    a("--min-runs", type=int, metavar="N", help="without --runs: at least N runs (default 10)")
    a("--max-runs", type=int, metavar="N", help="without --runs: at most N runs (default 500)")
    a("-w", "--warmup", type=int, default=1, metavar="N",
      help="untimed rounds before timing (default: %(default)s)")
    a("-p", "--prepare", metavar="CMD", help="shell command run before every run (untimed)")
    a("--timeout", type=float, metavar="SEC", help="kill a run after SEC seconds")
    a("-c", "--compare-file", action="append", default=[], metavar="PATH",
      help="a file the command writes: compare its content and mode (repeatable)")
    a("--no-restore", action="store_true",
      help="do not put compare-files back to their original state before each "
           "run and at the end")
    a("--input", metavar="FILE",
      help="stdin for every run (default: stdin if it is a file or pipe, else /dev/null)")
    a("--summary", action="store_true",
      help="afterwards, one untimed run per shim variant with ASYNCIFY_SUMMARY, "
           "shown side by side (where it blocked)")
    a("--flame", metavar="PREFIX",
      help="afterwards, one untimed run per shim variant with ASYNCIFY_FLAME, rendered "
           "as an interactive flame graph of where it blocked: PREFIX-VARIANT.svg")
    a("--stacks", type=int, metavar="N", help="with --summary or --flame: ASYNCIFY_STACKS=N")
    a("--export-json", metavar="FILE", help="write every run and statistic as JSON")
    a("--export-markdown", metavar="FILE", help="write the report as Markdown")
    a("--export-svg", metavar="FILE", help="write a box/strip plot of the run times")
    a("--lib", metavar="PATH", help="library to preload (default: $ASYNCIFY_LIB, else "
                                    "../lib/libasyncify.so next to this script)")
    a("--seed", type=int, default=1, help="bootstrap random seed (default: %(default)s)")
    a("-q", "--quiet", action="store_true", help="no progress line on stderr")
    a("-V", "--version", action="store_true", help="print the version and exit")
    return p


def check_args(args):
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not names:
        raise UsageError("--variants: empty list")
    for v in names:
        if v not in ALL_VARIANTS:
            raise UsageError("--variants: unknown variant '%s' (choose from %s)"
                             % (v, ", ".join(ALL_VARIANTS)))
    if len(set(names)) != len(names):
        raise UsageError("--variants: a variant is named twice")
    args.variant_names = names
    if args.runs is not None:
        if args.runs < 1:
            raise UsageError("--runs must be at least 1")
        if args.min_time is not None or args.min_runs is not None or args.max_runs is not None:
            raise UsageError("--runs fixes the count; it cannot be combined with "
                             "--min-time, --min-runs or --max-runs")
    else:
        args.min_time = 3.0 if args.min_time is None else args.min_time
        args.min_runs = 10 if args.min_runs is None else args.min_runs
        args.max_runs = 500 if args.max_runs is None else args.max_runs
        if args.min_time < 0 or args.min_runs < 1 or args.max_runs < args.min_runs:
            raise UsageError("need --min-time >= 0 and 1 <= --min-runs <= --max-runs")
    if args.warmup < 0:
        raise UsageError("--warmup must be 0 or more")
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if args.stacks is not None and args.stacks < 0:
        raise UsageError("--stacks must be 0 or more")
    if args.flame is not None:
        parent = os.path.dirname(os.path.abspath(args.flame + "-x.svg"))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            raise UsageError("--flame %s: directory %s does not exist or is not writable"
                             % (args.flame, parent))
    check_exports(args)


def check_exports(args):
    """Export paths must be writable and must not be a compare-file."""
    targets = {os.path.realpath(p) for p in args.compare_file}
    for opt in ("export_json", "export_markdown", "export_svg"):
        path = getattr(args, opt)
        if path is None:
            continue
        name = "--" + opt.replace("_", "-")
        if os.path.realpath(path) in targets:
            raise UsageError("%s %s is also a --compare-file" % (name, path))
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise UsageError("%s %s: directory %s does not exist" % (name, path, parent))
        if os.path.isdir(path):
            raise UsageError("%s %s is a directory" % (name, path))
        if not os.access(parent, os.W_OK):
            raise UsageError("%s %s: directory %s is not writable" % (name, path, parent))


def resolve_command(name):
    """The file execve will run for NAME, as execvp finds it."""
    if "/" in name:
        path = name
    else:
        path = shutil.which(name)
        if path is None:
            raise UsageError("command not found: %s" % name)
    if not os.path.exists(path):
        raise UsageError("command not found: %s (no such file)" % name)
    if os.path.isdir(path):
        raise UsageError("cannot run %s: it is a directory" % name)
    if not os.access(path, os.X_OK):
        raise UsageError("cannot run %s: permission denied" % name)
    return path


def find_library(args):
    if args.lib:
        lib = args.lib
    elif os.environ.get("ASYNCIFY_LIB"):
        lib = os.environ["ASYNCIFY_LIB"]
    else:
        here = os.path.dirname(os.path.abspath(sys.argv[0]))
        lib = None
        for d in (here, os.path.dirname(os.path.realpath(sys.argv[0]))):
            cand = os.path.join(d, "..", "lib", "libasyncify.so")
            if os.path.isfile(cand):
                lib = cand
                break
        if lib is None:
            raise UsageError("cannot find libasyncify.so in %s/../lib; build it with "
                             "'make' or set ASYNCIFY_LIB or --lib" % here)
    if not os.path.isfile(lib):
        raise UsageError("library %s does not exist" % lib)
    return os.path.normpath(os.path.abspath(lib))


def find_helper():
    """asyncify-ab-spawn in ../lib/asyncify next to this script (tree and
    installed layout alike); $ASYNCIFY_AB_SPAWN overrides, empty = none."""
    if "ASYNCIFY_AB_SPAWN" in os.environ:
        return os.environ["ASYNCIFY_AB_SPAWN"] or None
    for d in (os.path.dirname(os.path.abspath(sys.argv[0])),
              os.path.dirname(os.path.realpath(sys.argv[0]))):
        cand = os.path.join(d, "..", "lib", "asyncify", "asyncify-ab-spawn")
        if os.access(cand, os.X_OK):
            return os.path.normpath(cand)
    return None


def sanitizer_runtime(lib):
    """A SANITIZE=address|thread build needs its runtime first in LD_PRELOAD."""
    with open(lib, "rb") as f:
        data = f.read()
    if b"libasan.so" not in data and b"libtsan.so" not in data:
        return None
    import subprocess
    try:
        out = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
    except OSError:
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(("libasan.so", "libtsan.so")):
            return parts[2]
    return None


# ---------------------------------------------------------------------------
# Variants: the environment each one runs with

def base_environment():
    """The user's environment minus any libasyncify.so in LD_PRELOAD and the
    variables that would trace or pick a backend; returns (env, kept, dropped)."""
    env = dict(os.environ)
    pre = [e for e in env.get("LD_PRELOAD", "").replace(" ", ":").split(":")
           if e and os.path.basename(e) != "libasyncify.so"]
    if pre:
        env["LD_PRELOAD"] = ":".join(pre)
    else:
        env.pop("LD_PRELOAD", None)
    dropped = [k for k in STRIPPED_VARS if k in env]
    for k in dropped:
        del env[k]
    kept = {k: v for k, v in sorted(env.items()) if k.startswith("ASYNCIFY_")}
    return env, kept, dropped


def variant_env(name, base, lib, san):
    env = dict(base)
    if name == "none":
        for k in [k for k in env if k.startswith("ASYNCIFY_")]:
            del env[k]
        return env
    pre = ([san] if san else []) + [lib]
    if env.get("LD_PRELOAD"):
        pre.append(env["LD_PRELOAD"])
    env["LD_PRELOAD"] = ":".join(pre)
    env["ASYNCIFY_BACKEND"] = name
    return env
