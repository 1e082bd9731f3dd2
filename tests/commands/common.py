"""Shared set-up for the command tests: paths, running the commands, and
small C programs built on demand with $CC."""

import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ASYNCIFY = os.path.join(ROOT, "scripts", "asyncify")
AB = os.path.join(ROOT, "scripts", "asyncify-ab")
LIB = os.environ.get("ASYNCIFY_LIB") or os.path.join(ROOT, "lib", "libasyncify.so")
VERSION = os.environ.get("ASY_VERSION")
CC = os.environ.get("CC") or "cc"


def _sanitizer_head():
    """A SANITIZE=address|thread library is preloaded behind its runtime."""
    with open(LIB, "rb") as f:
        data = f.read()
    if b"libasan.so" not in data and b"libtsan.so" not in data:
        return ""
    out = subprocess.run(["ldd", LIB], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(("libasan.so", "libtsan.so")):
            return parts[2] + ":"
    return ""


# What the commands put in LD_PRELOAD before anything that was there.
PRELOAD = _sanitizer_head() + LIB


class CommandTest(unittest.TestCase):
    """Each test gets its own directory, also used as TMPDIR, so that a test
    can assert the command left no temporary files behind."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="asyncify-test.")
        self.tmpdir = os.path.join(self.dir, "tmp")
        os.mkdir(self.tmpdir)
        self.addCleanup(shutil.rmtree, self.dir, True)

    def env(self, **extra):
        env = dict(os.environ)
        for k in [k for k in env if k.startswith("ASYNCIFY_")]:
            del env[k]
        env.pop("LD_PRELOAD", None)
        env["ASYNCIFY_LIB"] = LIB
        env["TMPDIR"] = self.tmpdir
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def run_cmd(self, argv, env=None, stdin=subprocess.DEVNULL, timeout=60, cwd=None):
        return subprocess.run(argv, env=env or self.env(), stdin=stdin, cwd=cwd or self.dir,
                              capture_output=True, text=True, timeout=timeout)

    def assertNoTempLeft(self):
        self.assertEqual(os.listdir(self.tmpdir), [], "temporary files left behind")

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text, mode=0o644):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def compile(self, name, source, *flags):
        """Build a C program; None when the compiler refuses the flags."""
        src = self.write(name + ".c", source)
        out = self.path(name)
        r = subprocess.run([CC, "-o", out, src] + list(flags), capture_output=True, text=True)
        return out if r.returncode == 0 else None
