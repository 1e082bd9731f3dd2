"""asyncify-ab: main -- sets up the experiment, runs it, prints the report,
writes the exports, cleans up on any exit, and returns the exit status.
"""

import json
import os
import shutil
import signal
import stat
import sys
import tempfile
import time

from .common import (EXIT_DIFFERS, EXIT_SAME, EXIT_USAGE, Interrupted, PROG,
                     UsageError, VERSION, human_size)
from .options import (base_environment, find_library, parse_args, resolve_command,
                      sanitizer_runtime, variant_env)
from .files import CompareFile
from .runner import Runner, signal_name
from .experiment import Experiment, Variant
from .stats import analyse
from .report import json_report, markdown_report, text_report
from .svg import svg_report


def write_export(path, lines_or_obj, is_json=False):
    """Write an export next to its final name, then rename it into place."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".asyncify-ab.", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if is_json:
                json.dump(lines_or_obj, f, indent=1, ensure_ascii=False)
                f.write("\n")
            else:
                f.write("\n".join(lines_or_obj) + "\n")
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------
# Main

def stdin_source(args, tmp):
    """(path given to every run as stdin, description)."""
    if args.input:
        if not os.path.isfile(args.input) and args.input != "/dev/null":
            raise UsageError("--input %s: no such file" % args.input)
        return os.path.abspath(args.input), args.input
    try:
        st = os.fstat(0)
    except OSError:
        return "/dev/null", "/dev/null (no stdin)"
    if stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        path = os.path.join(tmp, "stdin")
        with open(path, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f)
        return path, "this command's stdin (%s), replayed to every run" % (
            human_size(os.path.getsize(path)))
    return "/dev/null", "/dev/null (stdin is not a file or pipe)"


def on_signal(signum, frame):
    raise Interrupted(signum)


def main(argv):
    try:
        sys.stdout.reconfigure(errors="backslashreplace")
        sys.stderr.reconfigure(errors="backslashreplace")
    except AttributeError:
        pass
    try:
        args, command = parse_args(argv)
        if args.version:
            print("%s %s" % (PROG, VERSION))
            try:
                print("library: %s" % find_library(args))
            except UsageError as e:
                print("library: not found (%s)" % e)
            return EXIT_SAME
        path = resolve_command(command[0])
        lib = find_library(args)
    except UsageError as e:
        return usage_failure(e)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    tmp = tempfile.mkdtemp(prefix="asyncify-ab.")
    files = []
    try:
        return experiment(args, command, path, lib, tmp, files)
    except UsageError as e:
        return usage_failure(e)
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return EXIT_USAGE
    except Interrupted as e:
        sys.stderr.write("\n%s: interrupted by %s; cleaned up\n" % (PROG, signal_name(e.signum)))
        return 128 + e.signum
    finally:
        cleanup(files, tmp)


def usage_failure(e):
    msg = str(e)
    sys.stderr.write("%s: %s\n" % (PROG, msg))
    if "usage" not in msg and "--help" not in msg:
        sys.stderr.write("Try '%s --help'.\n" % PROG)
    return EXIT_USAGE


def cleanup(files, tmp):
    """Restore every compare-file and remove the temp dir, whatever happened."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    if Runner.current is not None:
        Runner.current.kill()
    for f in files:
        try:
            f.restore()
        except OSError as e:
            sys.stderr.write("%s: could not restore %s: %s (original copy lost)\n"
                             % (PROG, f.path, e))
    shutil.rmtree(tmp, ignore_errors=True)


Runner.current = None


def experiment(args, command, path, lib, tmp, files):
    base, kept, dropped = base_environment()
    if dropped:
        sys.stderr.write("%s: note: ignoring %s from the environment for the timed runs\n"
                         % (PROG, ", ".join(dropped)))
    san = sanitizer_runtime(lib)
    variants = [Variant(n, variant_env(n, base, lib, san)) for n in args.variant_names]
    seen = set()
    for i, p in enumerate(args.compare_file):
        real = os.path.realpath(p)
        if real in seen:
            raise UsageError("--compare-file %s is given twice" % p)
        seen.add(real)
        files.append(CompareFile(p, tmp, i, not args.no_restore))
    stdin_path, stdin_desc = stdin_source(args, tmp)
    exp = Experiment(args, command, path, lib, tmp, stdin_path, files, variants)
    Runner.current = exp.runner
    exp.kept_env = kept
    exp.stdin_desc = stdin_desc
    exp.started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    exp.run_all()
    if args.summary:
        exp.run_summaries()
    if args.flame:
        exp.run_flames()
    analyse(exp)
    differs = any(not v.equivalent for v in variants[1:]) or bool(exp.self_diffs)
    status = EXIT_DIFFERS if differs else EXIT_SAME
    print("\n".join(text_report(exp)))
    sys.stdout.flush()
    if args.export_json:
        write_export(args.export_json, json_report(exp, status), is_json=True)
    if args.export_markdown:
        write_export(args.export_markdown, markdown_report(exp))
    if args.export_svg:
        write_export(args.export_svg, svg_report(exp))
    return status
