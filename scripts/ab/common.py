"""asyncify-ab: what every part shares -- the version, the variants, the
tuning constants, the exit statuses, the two exceptions, and the small
text helpers (sizes, shell quoting) used by several modules.
"""

VERSION = "0.1.0"
PROG = "asyncify-ab"
ALL_VARIANTS = ("none", "off", "uring", "threads")
RESAMPLES = 2000          # bootstrap resamples for each ratio's CI
OUTLIER_Z = 3.5           # modified z-score (Iglewicz & Hoaglin) marking an outlier
MIN_VERDICT_RUNS = 5      # fewer paired rounds: no "slower"/"faster" verdict
KILL_GRACE = 2.0          # seconds between SIGTERM and SIGKILL on a timeout
# Variables of ours that must not leak into the timed runs: tracing makes
# the shim variants slower and, to stderr, different.
STRIPPED_VARS = ("ASYNCIFY_TRACE", "ASYNCIFY_SUMMARY", "ASYNCIFY_FLAME", "ASYNCIFY_BACKEND",
                 "ASYNCIFY_LIB")

EXIT_SAME, EXIT_DIFFERS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived: clean up and exit."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def human_size(n):
    for u in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or u == "GiB":
            return ("%d %s" % (n, u)) if u == "B" else ("%.1f %s" % (n, u))
        n /= 1024.0


def shell_quote(s):
    if s and all(c.isalnum() or c in "_./:=%+,@-" for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"
