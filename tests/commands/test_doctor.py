"""Tests for `asyncify --doctor` (scripts/asyncify-doctor and its probe)."""

import json
import os
import subprocess
import unittest

from common import ASYNCIFY, CC, LIB, ROOT, CommandTest

VARIANTS = ("uring, plain thread", "uring, in a coroutine",
            "threads, plain thread", "threads, in a coroutine")

# A preload of the user's that breaks one result only while the shim is
# loaded beside it: lseek() (not hooked) adds 100 to a position of 5, the
# one the write-offsets case prints.  Without the shim it is harmless, so
# the baseline stays plain libc's and each shim variant must differ.
BREAK_SRC = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/types.h>
off_t lseek(int fd, off_t off, int whence)
{
	off_t (*real)(int, off_t, int) = (off_t (*)(int, off_t, int))dlsym(RTLD_NEXT, "lseek");
	off_t r = real(fd, off, whence);
	return r == 5 && dlsym(RTLD_DEFAULT, "asy_go") ? r + 100 : r;
}
"""


class Doctor(CommandTest):
    def doctor(self, *args, env=None, prefix=()):
        return self.run_cmd(list(prefix) + [ASYNCIFY, "--doctor"] + list(args), env=env)

    def test_passes_here(self):
        r = self.doctor()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("No problems", r.stdout)
        self.assertNotIn("problem:", r.stdout)
        for v in VARIANTS:
            self.assertRegex(r.stdout, r"\n  %s +same" % v)
        self.assertIn("Backend ", r.stdout)
        self.assertIn("RWF_NOWAIT", r.stdout)
        self.assertIn("/tmp", r.stdout)
        self.assertNoTempLeft()

    def test_json(self):
        r = self.doctor("--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)
        self.assertEqual(d["problems"], [])
        self.assertEqual(d["library"], os.path.abspath(LIB))
        self.assertTrue(d["system"]["kernel"])
        self.assertIn(d["backend"]["picked"], ("uring", "threads"))
        # The pick follows the probes: uring exactly when every step works.
        self.assertEqual(d["backend"]["picked"] == "uring", d["io_uring"]["usable"])
        self.assertEqual([f["dir"] for f in d["files"]], [self.dir, "/tmp"])
        self.assertTrue(d["stacks"]["works"], d["stacks"])
        sc = d["selfcheck"]
        self.assertGreaterEqual(len(sc["cases"]), 10)
        self.assertEqual([v["name"] for v in sc["variants"]], list(VARIANTS))
        for v in sc["variants"]:
            self.assertEqual(v["differs"], [], v["name"])
            self.assertEqual(v["sigpipe"], "killed by SIGPIPE", v["name"])
            if v["coroutine"]:
                # the coroutine variants really went through a backend
                self.assertGreater(v["ops"]["submitted"], 0, v["name"])
                self.assertIn("signal-eintr", v["skipped"])
            else:
                self.assertEqual(v["skipped"], {})
        if d["io_uring"]["usable"]:
            self.assertGreater(sc["variants"][1]["ops"]["uring"], 0)
        self.assertEqual(sc["variants"][3]["ops"]["uring"], 0)

    def test_seccomp_blocked_uring_falls_back(self):
        """io_uring refused as container runtimes refuse it: the doctor
        says why the pool runs the calls, and finds no problem."""
        with open(os.path.join(ROOT, "tests", "real", "seccomp-run.c")) as f:
            runner = self.compile("seccomp-run", f.read())
        self.assertIsNotNone(runner)
        r = self.doctor("--json", prefix=(runner, "setup-eperm"))
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)
        self.assertEqual(d["io_uring"]["setup"], "EPERM")
        self.assertEqual(d["system"]["seccomp"]["mode"], "2")
        self.assertEqual(d["backend"]["picked"], "threads")
        self.assertEqual(d["selfcheck"]["variants"][1]["ran_on"], "threads")
        r = self.doctor(prefix=(runner, "enter-eperm"))
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("io_uring cannot be used here (io_uring_enter: EPERM)", r.stdout)

    def test_difference_gives_one_line_each(self):
        lib = self.compile("libbreak.so", BREAK_SRC, "-shared", "-fPIC", "-ldl")
        self.assertIsNotNone(lib)
        r = self.doctor(env=self.env(LD_PRELOAD=lib))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        problems = [l for l in r.stdout.splitlines() if l.startswith("problem:")]
        self.assertEqual(len(problems), len(VARIANTS), r.stdout)
        for v, line in zip(VARIANTS, problems):
            self.assertEqual(line, "problem: %s: write-offsets: 2 2 off=105, "
                                   "plain libc: 2 2 off=5" % v)
        d = json.loads(self.doctor("--json", env=self.env(LD_PRELOAD=lib)).stdout)
        self.assertEqual([v["differs"] for v in d["selfcheck"]["variants"]],
                         [["write-offsets"]] * 4)

    def test_make_install(self):
        """The installed asyncify finds the doctor and its probe in
        lib/asyncify/ and examines the installed library."""
        prefix = self.path("prefix")
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
        r = subprocess.run(["make", "-s", "-C", ROOT, "install", "SANITIZE=", "PREFIX=" + prefix],
                           capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        for f in ("asyncify-doctor", "asyncify-doctor-probe"):
            self.assertTrue(os.access(os.path.join(prefix, "lib/asyncify", f), os.X_OK), f)
        # the API's man page comes along, one .so page per function
        with open(os.path.join(prefix, "share/man/man3/asy_run.3")) as f:
            self.assertEqual(f.read(), ".so man3/asyncify.3\n")
        self.assertTrue(os.path.isfile(os.path.join(prefix, "share/man/man3/asyncify.3")))
        r = self.run_cmd([os.path.join(prefix, "bin/asyncify"), "--doctor", "--json"],
                         env=self.env(ASYNCIFY_LIB=None))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        d = json.loads(r.stdout)
        self.assertEqual(d["library"], os.path.join(prefix, "lib/libasyncify.so"))
        self.assertEqual(d["problems"], [])

    def test_help_and_usage(self):
        r = self.run_cmd([ASYNCIFY, "--help"])
        self.assertIn("--doctor", r.stdout)
        r = self.doctor("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Usage: asyncify --doctor [--json]", r.stdout)
        self.assertIn("Exit status", r.stdout)
        r = self.doctor("--frobnicate")
        self.assertEqual(r.returncode, 125)
        self.assertIn("unknown option '--frobnicate'", r.stderr)
        self.assertEqual(r.stdout, "")
        r = self.doctor(env=self.env(ASYNCIFY_LIB=self.path("nope.so")))
        self.assertEqual(r.returncode, 125)
        self.assertIn("does not exist", r.stderr)


if __name__ == "__main__":
    unittest.main()
