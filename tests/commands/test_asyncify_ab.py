"""Tests for scripts/asyncify-ab: bad input, equivalence verdicts, files,
timeouts, signals, exports and clean-up.  Few runs each: these check the
tool's logic, not timing."""

import json
import os
import signal
import subprocess
import time
import unittest
import xml.etree.ElementTree as ET

from common import AB, LIB, PRELOAD, VERSION, CommandTest

FAST = ["--runs", "2", "--warmup", "1", "-q"]


class AbTest(CommandTest):
    def ab(self, options, command, expect=None, **kw):
        r = self.run_cmd([AB] + options + ["--"] + command, **kw)
        if expect is not None:
            self.assertEqual(r.returncode, expect, r.stdout + r.stderr)
        self.assertNoTempLeft()
        return r

    def usage_error(self, argv, message):
        r = self.run_cmd([AB] + argv)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(message, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertNoTempLeft()


class Usage(AbTest):
    def test_help(self):
        r = self.run_cmd([AB, "--help"])
        self.assertEqual(r.returncode, 0)
        for opt in ("--variants", "--runs", "--min-time", "--warmup", "--prepare", "--timeout",
                    "--compare-file", "--export-json", "--export-markdown", "--export-svg"):
            self.assertIn(opt, r.stdout)

    def test_version(self):
        r = self.run_cmd([AB, "--version"])
        self.assertEqual(r.returncode, 0)
        first = r.stdout.splitlines()[0]
        if VERSION:
            self.assertEqual(first, "asyncify-ab " + VERSION, "asyncify-ab VERSION != Makefile")
        self.assertIn("library: " + LIB, r.stdout)

    def test_unknown_option(self):
        self.usage_error(["--frobnicate", "--", "true"], "unknown option '--frobnicate'")

    def test_missing_dashdash(self):
        self.usage_error(["true"], "missing '--' before the command")
        self.usage_error([], "missing '--'")

    def test_no_command(self):
        self.usage_error(["--"], "no command after '--'")

    def test_bad_values(self):
        self.usage_error(["--variants", "none,fast", "--", "true"], "unknown variant 'fast'")
        self.usage_error(["--variants", "none,none", "--", "true"], "named twice")
        self.usage_error(["--runs", "0", "--", "true"], "--runs must be at least 1")
        self.usage_error(["--runs", "x", "--", "true"], "invalid int value")
        self.usage_error(["--runs", "3", "--min-time", "1", "--", "true"], "cannot be combined")
        self.usage_error(["--timeout", "0", "--", "true"], "--timeout must be a positive")
        self.usage_error(["--export-json", self.path("no/dir/x.json"), "--", "true"],
                         "does not exist")
        self.usage_error(["--compare-file", self.dir, "--", "true"], "not a regular file")
        self.usage_error(["--input", self.path("absent"), "--", "true"], "no such file")

    def test_command_not_found(self):
        self.usage_error(["--", "no-such-command-xyz"], "command not found: no-such-command-xyz")
        p = self.write("data.txt", "x\n")
        self.usage_error(["--", p], "permission denied")


class Equivalence(AbTest):
    def test_identical(self):
        r = self.ab(FAST, ["sh", "-c", "echo hello; echo warn >&2"], expect=0)
        self.assertIn("(too few runs to tell)", r.stdout)
        for v in ("off", "uring", "threads"):
            self.assertRegex(r.stdout, r"\n  %s: +identical output, [0-9.]+×" % v)
        self.assertIn("Equivalence with none (3 runs per variant", r.stdout)
        self.assertIn("ratio to none [95% CI]", r.stdout)

    def test_preload_differs(self):
        # The program prints its LD_PRELOAD: every shim variant must differ.
        r = self.ab(FAST, ["sh", "-c", 'echo "preload=$LD_PRELOAD"'], expect=1)
        for v in ("off", "uring", "threads"):
            self.assertRegex(r.stdout, r"\n  %s: +DIFFERENT output \(stdout\)" % v)
        self.assertIn("first difference at line 1 (byte 8)", r.stdout)
        self.assertIn('"preload=%s"' % PRELOAD, r.stdout)

    def test_backend_differs(self):
        r = self.ab(FAST + ["--variants", "off,uring,threads"],
                    ["sh", "-c", 'echo "$ASYNCIFY_BACKEND"'], expect=1)
        self.assertIn("baseline off", r.stdout)
        self.assertIn('off round 1:   "off"', r.stdout)
        self.assertIn('uring round 1: "uring"', r.stdout)

    def test_exit_status_differs(self):
        r = self.ab(FAST, ["sh", "-c", '[ "$ASYNCIFY_BACKEND" = uring ] && exit 3; exit 0'],
                    expect=1)
        self.assertIn("uring exit status: all of 3 runs differ from none's first run "
                      "(exit 3 vs exit 0)", r.stdout)
        self.assertRegex(r.stdout, r"\n  threads: +identical output")

    def test_same_failure_is_equivalent(self):
        r = self.ab(FAST, ["sh", "-c", "exit 4"], expect=0)
        self.assertIn("warning: the command exits with status 4 in the run without the shim "
                      "(none) too",
                      r.stdout)

    def test_killed_by_signal(self):
        # SIGUSR1 rather than SIGSEGV: a sanitizer runtime would catch SEGV.
        r = self.ab(FAST, ["sh", "-c", "kill -USR1 $$"], expect=0)
        self.assertIn("killed by SIGUSR1", r.stdout)
        self.assertIn("warning: the command is killed by SIGUSR1 in the run without the shim "
                      "(none) too", r.stdout)
        r = self.ab(FAST, ["sh", "-c", '[ "$ASYNCIFY_BACKEND" = threads ] && kill -KILL $$; :'],
                    expect=1)
        self.assertIn("(killed by SIGKILL vs exit 0)", r.stdout)

    def test_stdin_replayed(self):
        data = "".join("line %d\n" % i for i in range(1000))
        src = self.write("input.txt", data)
        with open(src) as f:
            r = self.ab(FAST, ["wc", "-l"], expect=0, stdin=f)
        self.assertIn("replayed to every run", r.stdout)
        self.assertIn("| none ", "| " + r.stdout.split("Equivalence")[1].split("\n")[2][2:])
        self.assertRegex(r.stdout, r"none +[0-9a-f]{8} 5 B")  # "1000\n" every run

    def test_nondeterministic_baseline(self):
        r = self.ab(FAST + ["--variants", "none,off"], ["sh", "-c", "echo $$"], expect=1)
        self.assertIn("none is not deterministic", r.stdout)


class CompareFiles(AbTest):
    def test_never_written(self):
        r = self.ab(FAST + ["--compare-file", "out.txt"], ["true"], expect=2)
        self.assertIn("--compare-file out.txt was never written: it does not exist", r.stderr)
        self.write("in.txt", "input\n")
        r = self.ab(FAST + ["--compare-file", "in.txt"], ["cat", "in.txt"], expect=2)
        self.assertIn("--compare-file in.txt was never written: the first run of none left it "
                      "unchanged", r.stderr)

    def test_created_file_removed_at_end(self):
        r = self.ab(FAST + ["--compare-file", "out.txt"],
                    ["sh", "-c", "seq 100 > out.txt"], expect=0)
        self.assertIn("out.txt: absent before; removed before every run and at the end", r.stdout)
        self.assertFalse(os.path.exists(self.path("out.txt")))

    def test_appending_program_sees_original(self):
        # Restored before every run: each run appends to the user's original
        # content, so all runs agree; the original is back afterwards.
        self.write("log.txt", "original\n", 0o640)
        before = os.stat(self.path("log.txt"))
        r = self.ab(FAST + ["--compare-file", "log.txt"],
                    ["sh", "-c", "echo appended >> log.txt"], expect=0)
        self.assertIn("restored to that content and mode before every run", r.stdout)
        with open(self.path("log.txt")) as f:
            self.assertEqual(f.read(), "original\n")
        after = os.stat(self.path("log.txt"))
        self.assertEqual((after.st_mode, after.st_mtime_ns), (before.st_mode, before.st_mtime_ns))
        self.assertRegex(r.stdout, r"none .* 18 B 0640")

    def test_content_differs(self):
        r = self.ab(FAST + ["--compare-file", "out.txt"],
                    ["sh", "-c", 'printf "a\\nb\\n%s\\n" "$ASYNCIFY_BACKEND" > out.txt'], expect=1)
        self.assertIn("out.txt: all of 3 runs differ from none's first run; "
                      "first difference at line 3 (byte 4)", r.stdout)
        self.assertIn('none round 1:  ""', r.stdout)
        self.assertIn('uring round 1: "uring"', r.stdout)

    def test_mode_differs(self):
        r = self.ab(FAST + ["--compare-file", "out.txt"],
                    ["sh", "-c", 'echo x > out.txt; chmod 644 out.txt; '
                                 '[ "$ASYNCIFY_BACKEND" = off ] && chmod 600 out.txt; :'],
                    expect=1)
        self.assertIn("mode 0600 vs 0644", r.stdout)
        self.assertRegex(r.stdout, r"\n  off: +DIFFERENT output \(out.txt\)")

    def test_binary_difference(self):
        r = self.ab(FAST + ["--variants", "none,uring", "--compare-file", "b.bin"],
                    ["sh", "-c", 'printf "\\000\\001\\002%s" "${ASYNCIFY_BACKEND:-x}" > b.bin'],
                    expect=1)
        self.assertIn("first difference at line 1 (byte 3)", r.stdout)
        self.assertIn("bytes 78", r.stdout)      # 'x' in hex, where none wrote it

    def test_prepare(self):
        r = self.ab(FAST + ["--prepare", "echo prepared > state.txt"], ["cat", "state.txt"],
                    expect=0)
        self.assertIn("prepare   echo prepared > state.txt", r.stdout)
        r = self.ab(FAST + ["--prepare", "echo broken >&2; exit 5"], ["true"], expect=2)
        self.assertIn("--prepare command failed (exit 5)", r.stderr)
        self.assertIn("| broken", r.stderr)


class Summary(AbTest):
    def test_summary_runs(self):
        # The program writes where ASYNCIFY_SUMMARY points; the library
        # appends its own summary of the shell at exit (the shell ends with
        # _exit, which the shim hooks for that), so the fake line comes
        # first and the library's table may follow.
        j = self.path("ab.json")
        r = self.ab(FAST + ["--summary", "--stacks", "6", "--variants", "none,uring,threads",
                            "--export-json", j],
                    ["sh", "-c", 'echo "fake $ASYNCIFY_BACKEND stacks=$ASYNCIFY_STACKS" '
                                 '> "$ASYNCIFY_SUMMARY"; echo done'], expect=0)
        self.assertIn("Where it blocked (ASYNCIFY_SUMMARY; one extra untimed run", r.stdout)
        with open(j) as f:
            doc = json.load(f)
        self.assertIsNone(doc["variants"][0]["summary"])          # none: no shim, no summary
        for v in doc["variants"][1:]:
            self.assertIsNotNone(v["summary"])
            first, _, rest = v["summary"].partition("\n")
            self.assertEqual(first, "fake %s stacks=6" % v["name"])
            self.assertIn(first, r.stdout)
            if rest:
                self.assertTrue(rest.startswith("asyncify summary: pid "), rest)
        self.assertEqual(len(doc["variants"][1]["runs"]), 3)      # summary runs are not runs


class Timeouts(AbTest):
    def test_baseline_hangs(self):
        t0 = time.monotonic()
        r = self.ab(FAST + ["--timeout", "0.5"], ["sh", "-c", "sleep 37.25"], expect=2)
        self.assertLess(time.monotonic() - t0, 20)
        self.assertIn("did not finish within --timeout 0.5 s in the run without the shim", r.stderr)
        self.assertNoSleeper("37.25")

    def test_one_variant_hangs(self):
        r = self.ab(FAST + ["--timeout", "1"],
                    ["sh", "-c", '[ "$ASYNCIFY_BACKEND" = threads ] && sleep 37.5; echo ok'],
                    expect=1)
        self.assertIn("threads: DIFFERENT: timed out in round 1 (--timeout 1 s)", r.stdout)
        self.assertRegex(r.stdout, r"\n  uring: +identical output")
        self.assertNoSleeper("37.5")

    def assertNoSleeper(self, arg):
        time.sleep(0.2)
        r = subprocess.run(["pgrep", "-f", "sleep " + arg], capture_output=True)
        self.assertNotEqual(r.returncode, 0, "the timed-out run's children are still alive")

    def test_interrupted(self):
        p = subprocess.Popen([AB] + FAST + ["--", "sh", "-c", "sleep 38.75"], env=self.env(),
                             cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 130)
        self.assertIn("interrupted by SIGINT; cleaned up", err)
        self.assertNoTempLeft()
        time.sleep(0.2)
        r = subprocess.run(["pgrep", "-f", "sleep 38.75"], capture_output=True)
        self.assertNotEqual(r.returncode, 0)


class Exports(AbTest):
    def test_exports(self):
        j, m, s = self.path("ab.json"), self.path("ab.md"), self.path("ab.svg")
        self.ab(["--runs", "3", "--warmup", "1", "-q", "--compare-file", "o.txt",
                 "--export-json", j, "--export-markdown", m, "--export-svg", s],
                ["sh", "-c", "echo hi > o.txt; echo done"], expect=0)
        with open(j) as f:
            doc = json.load(f)
        self.assertEqual(doc["schema"], "asyncify-ab/1")
        self.assertEqual(doc["exit_status"], 0)
        self.assertEqual([v["name"] for v in doc["variants"]], ["none", "off", "uring", "threads"])
        for v in doc["variants"]:
            self.assertEqual(len(v["runs"]), 4)
            self.assertEqual(sum(not r["warmup"] for r in v["runs"]), 3)
            self.assertEqual(v["stats"]["wall_s"]["n"], 3)
            self.assertEqual(v["runs"][0]["files"]["o.txt"]["size"], 3)
            if not v["baseline"]:
                self.assertTrue(v["equivalent"])
                lo, hi = v["ratio"]["ci95"]
                self.assertLessEqual(lo, hi)
        self.assertEqual(doc["variants"][1]["env"]["ASYNCIFY_BACKEND"], "off")
        with open(m) as f:
            md = f.read()
        self.assertIn("## Equivalence with none", md)
        self.assertIn("| variant | runs | median |", md)
        svg = ET.parse(s).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        self.assertEqual(len(svg.findall(ns + "circle")), 12)   # 3 runs x 4 variants
        self.assertEqual(len(svg.findall(ns + "rect")), 5)      # background + 4 boxes

    def test_peak_rss(self):
        # With the helper (built by make) the peak RSS of a small program is
        # its own; without it, at most asyncify-ab's, and flagged as such.
        j = self.path("ab.json")
        prog = ["sh", "-c", "exit 0"]
        self.ab(FAST + ["--variants", "none,uring", "--export-json", j], prog, expect=0)
        with open(j) as f:
            doc = json.load(f)
        self.assertIsNotNone(doc["spawn_helper"], "lib/asyncify/asyncify-ab-spawn not built")
        for v in doc["variants"]:
            for r in v["runs"]:
                self.assertFalse(r["max_rss_floor"])
                self.assertLess(r["max_rss_kib"], 16 * 1024)
        r = self.ab(FAST + ["--variants", "none,uring", "--export-json", j], prog, expect=0,
                    env=self.env(ASYNCIFY_AB_SPAWN=""))
        self.assertIn("spawn     posix_spawn", r.stdout)
        with open(j) as f:
            doc = json.load(f)
        self.assertIsNone(doc["spawn_helper"])
        self.assertTrue(all(r["max_rss_floor"] for v in doc["variants"] for r in v["runs"]))
        self.assertIn("≤ ", r.stdout)

    def test_no_helper_timeout(self):
        r = self.ab(FAST + ["--timeout", "1", "--variants", "none,threads"],
                    ["sh", "-c", '[ "$ASYNCIFY_BACKEND" = threads ] && sleep 39.5; echo ok'],
                    expect=1, env=self.env(ASYNCIFY_AB_SPAWN=""))
        self.assertIn("threads: DIFFERENT: timed out in round 1", r.stdout)

    def test_min_time(self):
        j = self.path("ab.json")
        self.ab(["--min-time", "0.05", "--min-runs", "2", "--max-runs", "4", "--warmup", "0",
                 "-q", "--variants", "none,uring", "--export-json", j], ["true"], expect=0)
        with open(j) as f:
            rounds = json.load(f)["rounds"]
        self.assertTrue(2 <= rounds <= 4, rounds)


if __name__ == "__main__":
    unittest.main()
