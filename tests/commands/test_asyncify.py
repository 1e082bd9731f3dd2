"""Tests for scripts/asyncify: options, exit status, LD_PRELOAD, warnings."""

import os
import shutil
import signal
import subprocess
import unittest

from common import ASYNCIFY, CC, LIB, PRELOAD, ROOT, VERSION, CommandTest

SHOW_PRELOAD = ["sh", "-c", 'printf "%s\\n" "$LD_PRELOAD"; grep -c libasyncify /proc/$$/maps']


class Usage(CommandTest):
    def test_help(self):
        r = self.run_cmd([ASYNCIFY, "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("Usage: asyncify [options] -- command", r.stdout)
        for opt in ("--backend", "--trace", "--trace-format", "--stacks", "--trace-min-us",
                    "--summary", "--queue-depth", "--workers", "--sqpoll", "--stack-size"):
            self.assertIn(opt, r.stdout)

    def test_version(self):
        r = self.run_cmd([ASYNCIFY, "--version"])
        self.assertEqual(r.returncode, 0)
        first = r.stdout.splitlines()[0]
        self.assertTrue(first.startswith("asyncify "), first)
        if VERSION:
            self.assertEqual(first, "asyncify " + VERSION, "scripts/asyncify VERSION != Makefile")
        self.assertIn("library: " + LIB, r.stdout)

    def check_usage_error(self, argv, message):
        r = self.run_cmd([ASYNCIFY] + argv)
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn(message, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_unknown_option(self):
        self.check_usage_error(["--frobnicate", "--", "true"], "unknown option '--frobnicate'")

    def test_missing_dashdash(self):
        self.check_usage_error(["true"], "missing '--' before the command 'true'")
        self.check_usage_error([], "missing '--'")

    def test_no_command(self):
        self.check_usage_error(["--"], "no command after '--'")

    def test_bad_values(self):
        self.check_usage_error(["--backend", "fast", "--", "true"], "not one of uring, threads, off")
        self.check_usage_error(["--trace-format=xml", "--", "true"], "not one of text, json, chrome")
        self.check_usage_error(["--workers", "-3", "--", "true"], "not a non-negative integer")
        self.check_usage_error(["--sqpoll", "2", "--", "true"], "not 0 or 1")
        self.check_usage_error(["--stack-size", "12X", "--", "true"], "not a size")
        self.check_usage_error(["--workers"], "needs a value")

    def test_command_not_found(self):
        r = self.run_cmd([ASYNCIFY, "--", "no-such-command-xyz"])
        self.assertEqual(r.returncode, 127)
        self.assertIn("no-such-command-xyz: command not found", r.stderr)
        r = self.run_cmd([ASYNCIFY, "--", "./missing"])
        self.assertEqual(r.returncode, 127)

    def test_not_executable(self):
        p = self.write("data.txt", "x\n")
        r = self.run_cmd([ASYNCIFY, "--", p])
        self.assertEqual(r.returncode, 126)
        self.assertIn("permission denied", r.stderr)
        r = self.run_cmd([ASYNCIFY, "--", self.dir])
        self.assertEqual(r.returncode, 126)
        self.assertIn("is a directory", r.stderr)

    def test_missing_library(self):
        r = self.run_cmd([ASYNCIFY, "--", "true"], env=self.env(ASYNCIFY_LIB=self.path("nope.so")))
        self.assertEqual(r.returncode, 125)
        self.assertIn("does not exist", r.stderr)


class ExitStatus(CommandTest):
    def test_exit_code(self):
        for code in (0, 1, 7, 255):
            r = self.run_cmd([ASYNCIFY, "--", "sh", "-c", "exit %d" % code])
            self.assertEqual(r.returncode, code)

    def test_signal(self):
        # The wrapper execs: the program's death by a signal is the wrapper's.
        r = self.run_cmd([ASYNCIFY, "--", "sh", "-c", "kill -TERM $$"])
        self.assertEqual(r.returncode, -signal.SIGTERM)
        # ... which a shell reports as 128+N.
        r = self.run_cmd(["sh", "-c", '"$0" -- sh -c "kill -USR1 \\$\\$"; echo "status $?"', ASYNCIFY])
        self.assertEqual(r.stdout.strip(), "status %d" % (128 + signal.SIGUSR1))


class Environment(CommandTest):
    def test_preload_alone(self):
        r = self.run_cmd([ASYNCIFY, "--"] + SHOW_PRELOAD)
        self.assertEqual(r.returncode, 0, r.stderr)
        preload, maps = r.stdout.split()
        self.assertEqual(preload, PRELOAD)
        self.assertGreater(int(maps), 0, "libasyncify.so is not mapped in the program")

    def dummy_lib(self):
        out = self.path("libdummy.so")
        src = self.write("dummy.c", "int asyncify_test_dummy(void) { return 1; }\n")
        r = subprocess.run([CC, "-shared", "-fPIC", "-o", out, src], capture_output=True)
        if r.returncode:
            self.skipTest("cannot build a shared library with cc")
        return out

    def test_preload_prepended(self):
        dummy = self.dummy_lib()
        r = self.run_cmd([ASYNCIFY, "--"] + SHOW_PRELOAD, env=self.env(LD_PRELOAD=dummy))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split()[0], PRELOAD + ":" + dummy)

    def test_no_second_copy(self):
        # A libasyncify.so already in LD_PRELOAD (nested asyncify, or another
        # copy) is dropped; other entries keep their order.
        dummy = self.dummy_lib()
        other = os.path.join(self.dir, "old", "libasyncify.so")
        env = self.env(LD_PRELOAD="%s %s" % (other, dummy))
        r = self.run_cmd([ASYNCIFY, "-n", "--", "true"], env=env)
        self.assertEqual(r.stdout.splitlines()[0], "LD_PRELOAD=%s:%s" % (PRELOAD, dummy))

    def test_options_set_variables(self):
        r = self.run_cmd([ASYNCIFY, "-n", "--backend", "threads", "--trace", "stderr",
                          "--trace-format=json", "--stacks", "8", "--trace-min-us", "50",
                          "--summary", "/tmp/s.txt", "--queue-depth", "32", "--workers=4",
                          "--sqpoll", "1", "--stack-size", "64K", "--", "true", "a b"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[1:], [
            "ASYNCIFY_BACKEND=threads", "ASYNCIFY_TRACE=stderr", "ASYNCIFY_TRACE_FORMAT=json",
            "ASYNCIFY_STACKS=8", "ASYNCIFY_TRACE_MIN_US=50", "ASYNCIFY_SUMMARY=/tmp/s.txt",
            "ASYNCIFY_QUEUE_DEPTH=32", "ASYNCIFY_WORKERS=4", "ASYNCIFY_SQPOLL=1",
            "ASYNCIFY_STACK_SIZE=64K", "true 'a b'"])

    def test_backend_reaches_program(self):
        r = self.run_cmd([ASYNCIFY, "-b", "off", "--", "sh", "-c", 'echo "$ASYNCIFY_BACKEND"'])
        self.assertEqual(r.stdout, "off\n")


class Location(CommandTest):
    def layout(self):
        """A copy of the installed layout: bin/asyncify and lib/libasyncify.so."""
        os.makedirs(self.path("inst/bin"))
        os.makedirs(self.path("inst/lib"))
        shutil.copy(ASYNCIFY, self.path("inst/bin/asyncify"))
        shutil.copy(LIB, self.path("inst/lib/libasyncify.so"))
        return self.path("inst/bin/asyncify")

    def test_next_to_itself(self):
        wrapper = self.layout()
        r = self.run_cmd([wrapper, "-n", "--", "true"], env=self.env(ASYNCIFY_LIB=None))
        self.assertEqual(os.path.realpath(r.stdout.split()[0].split(":")[-1].split("=")[-1]),
                         os.path.realpath(self.path("inst/lib/libasyncify.so")))

    def test_through_symlink(self):
        wrapper = self.layout()
        os.symlink(wrapper, self.path("link"))
        r = self.run_cmd([self.path("link"), "-n", "--", "true"], env=self.env(ASYNCIFY_LIB=None))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.path.realpath(r.stdout.split()[0].split(":")[-1].split("=")[-1]),
                         os.path.realpath(self.path("inst/lib/libasyncify.so")))

    def test_lib_option(self):
        r = self.run_cmd([ASYNCIFY, "--lib", LIB, "-n", "--", "true"],
                         env=self.env(ASYNCIFY_LIB="/nonexistent.so"))
        self.assertEqual(r.stdout.splitlines()[0], "LD_PRELOAD=" + PRELOAD)

    def test_make_install(self):
        # A plain build whatever the outer make's SANITIZE: this checks the
        # install layout, not the library.
        prefix = self.path("prefix")
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
        r = subprocess.run(["make", "-s", "-C", ROOT, "install", "SANITIZE=", "PREFIX=" + prefix],
                           capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        for f in ("bin/asyncify", "bin/asyncify-ab", "share/man/man1/asyncify.1",
                  "share/man/man1/asyncify-ab.1", "lib/libasyncify.so",
                  "lib/asyncify/asyncify-ab-spawn"):
            self.assertTrue(os.path.isfile(os.path.join(prefix, f)), f)
        self.assertTrue(os.access(os.path.join(prefix, "bin/asyncify-ab"), os.X_OK))
        r = self.run_cmd([os.path.join(prefix, "bin/asyncify"), "--"] + SHOW_PRELOAD,
                         env=self.env(ASYNCIFY_LIB=None))
        self.assertEqual(r.stdout.split()[0], os.path.join(prefix, "bin/../lib/libasyncify.so"))


class Warnings(CommandTest):
    def test_dynamic_is_quiet(self):
        r = self.run_cmd([ASYNCIFY, "--", "true"])
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_static(self):
        prog = self.compile("static", "int main(void) { return 3; }\n", "-static")
        if prog is None:
            self.skipTest("cc -static does not work here (no static libc): static warning untested")
        r = self.run_cmd([ASYNCIFY, "--", prog])
        self.assertEqual(r.returncode, 3)
        self.assertIn("is statically linked: LD_PRELOAD cannot reach it", r.stderr)
        r = self.run_cmd([ASYNCIFY, "-q", "--", prog])
        self.assertEqual((r.returncode, r.stderr), (3, ""))

    def test_setuid(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to make a setuid file owned by someone else")
        prog = self.path("sutrue")
        shutil.copy("/bin/true", prog)
        os.chown(prog, 65534, -1)
        os.chmod(prog, 0o4755)
        r = self.run_cmd([ASYNCIFY, "--", prog])
        self.assertIn("is setuid: the loader ignores LD_PRELOAD", r.stderr)


if __name__ == "__main__":
    unittest.main()
