"""Tests for the off-CPU flame graph: ASYNCIFY_FLAME's folded files (format,
weights, %p, fork, failures), scripts/asyncify-flame's SVG, asyncify
--flame and asyncify-ab --flame; and, when chromium is installed, the SVG
in a real browser."""

import json
import os
import re
import shutil
import struct
import subprocess
import unittest
import xml.etree.ElementTree as ET
import zlib

from common import AB, ASYNCIFY, PRELOAD, ROOT, CommandTest

FLAME = os.path.join(ROOT, "scripts", "asyncify-flame")
SVG_NS = "{http://www.w3.org/2000/svg}"
LINE = re.compile(r"^[^;\n]+(;[^;\n]+)+ \d+$")

# The parent blocks in read() in wait_for_child() until the child, after
# sleeping MS ms in child_side(), writes one byte; then it prints both pids
# and exits with STATUS.
PROG = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

__attribute__((noinline)) static void child_side(int fd, int ms)
{
	usleep(ms * 1000);
	if (write(fd, "x", 1) != 1)
		_exit(2);
}

__attribute__((noinline)) static void wait_for_child(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		exit(2);
}

int main(int argc, char **argv)
{
	int ms = argc > 1 ? atoi(argv[1]) : 200, status = argc > 2 ? atoi(argv[2]) : 0, p[2];
	if (pipe(p))
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		child_side(p[1], ms);
		_exit(0);
	}
	wait_for_child(p[0]);
	waitpid(pid, NULL, 0);
	printf("%d %d\n", (int)getpid(), (int)pid);
	return status;
}
"""


def folded(path):
    """{stack: weight} of a folded file; asserts every line's format."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            assert LINE.match(line), "not a folded line: %r" % line
            stack, w = line.rsplit(" ", 1)
            out[stack] = out.get(stack, 0) + int(w)
    return out


def lines_with(stacks, *frames):
    """Stacks that hold these frames in this order, the last as the leaf."""
    hits = {}
    for s, w in stacks.items():
        fr = s.split(";")
        if fr[-1] != frames[-1]:
            continue
        it = iter(fr)
        if all(x in it for x in frames):
            hits[s] = w
    return hits


class FlameTest(CommandTest):
    def setUp(self):
        super().setUp()
        self.prog = self.compile("flameprog", PROG, "-O1", "-g", "-fno-omit-frame-pointer")
        self.assertIsNotNone(self.prog, "cannot build the test program")

    def run_prog(self, flame, *args, **env):
        r = self.run_cmd([self.prog] + [str(a) for a in args],
                         env=self.env(LD_PRELOAD=PRELOAD, ASYNCIFY_FLAME=flame, **env))
        pids = r.stdout.split()
        return r, (pids if len(pids) == 2 else None)


class Folded(FlameTest):
    def test_weights_pid_and_fork(self):
        r, pids = self.run_prog(self.path("flame.%p.folded"), 200, 3)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIsNotNone(pids, r.stdout)
        self.assertEqual(r.stderr, "")
        parent = folded(self.path("flame.%s.folded" % pids[0]))
        child = folded(self.path("flame.%s.folded" % pids[1]))
        self.assertEqual(sorted(os.listdir(self.dir)),
                         sorted(["flameprog", "flameprog.c", "tmp", "flame.%s.folded" % pids[0],
                                 "flame.%s.folded" % pids[1]]))
        for stacks in (parent, child):
            self.assertTrue(stacks)
            self.assertTrue(all(s.split(";")[0] == "flameprog" for s in stacks), stacks)
        hits = lines_with(parent, "flameprog", "main", "wait_for_child", "read")
        self.assertEqual(len(hits), 1, parent)
        (stack, us), = hits.items()
        self.assertTrue(180000 <= us <= 2000000, "read blocked %d µs, want ~200000" % us)
        self.assertNotIn("[truncated]", stack)   # the default depth holds this stack
        self.assertIn("__libc_start_main", stack)
        self.assertFalse(lines_with(parent, "child_side", "write"), parent)
        self.assertEqual(len(lines_with(child, "main", "child_side", "write")), 1, child)
        self.assertFalse(lines_with(child, "wait_for_child", "read"), child)

    def test_one_path_shared_and_appended(self):
        path = self.path("all.folded")
        for n in (1, 2):
            r, pids = self.run_prog(path, 20)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(path) as f:
                lines = [ln.rsplit(" ", 1)[0] for ln in f]
            folded(path)
            for frames in (("wait_for_child", "read"), ("child_side", "write")):
                hits = [ln for ln in lines if lines_with({ln: 0}, *frames)]
                self.assertEqual(len(hits), n, lines)

    def test_depth(self):
        r, _ = self.run_prog(self.path("d.%p.folded"), 10, ASYNCIFY_STACKS="2")
        self.assertEqual(r.returncode, 0, r.stderr)
        files = [self.path(n) for n in os.listdir(self.dir) if n.endswith(".folded")]
        self.assertEqual(len(files), 2)
        for p in files:
            for s in folded(p):
                fr = s.split(";")
                self.assertEqual(fr[1], "[truncated]", s)
                self.assertEqual(len(fr), 5, s)   # comm, [truncated], 2 frames, the call

    def test_write_failure_warns_once_per_process(self):
        r, pids = self.run_prog("/dev/full", 10)
        self.assertEqual(r.returncode, 0)
        self.assertIsNotNone(pids, r.stdout)
        warn = [ln for ln in r.stderr.splitlines() if "ASYNCIFY_FLAME" in ln]
        self.assertEqual(len(warn), 2, r.stderr)
        for ln in warn:
            self.assertRegex(ln, r"^asyncify: ASYNCIFY_FLAME=/dev/full: cannot write .*"
                                 r"No space left on device")

    def test_bad_path_warns_and_runs_on(self):
        trace = self.path("t.json")
        r, pids = self.run_prog(self.path("no/such/dir/f.folded"), 10, 4, ASYNCIFY_TRACE=trace,
                                ASYNCIFY_TRACE_FORMAT="json")
        self.assertEqual(r.returncode, 4)
        self.assertIsNotNone(pids)
        warn = [ln for ln in r.stderr.splitlines() if ln]
        self.assertEqual(len(warn), 1, r.stderr)
        self.assertIn("ASYNCIFY_FLAME=", warn[0])
        self.assertIn("cannot write there", warn[0])
        # No flame file, so no stacks it would have turned on.
        with open(trace) as f:
            calls = [json.loads(ln) for ln in f if '"type":"call"' in ln.replace(" ", "")]
        self.assertTrue(calls)
        self.assertTrue(all(c["stack"] == [] for c in calls), calls)

    def test_summary_names_the_call_of_each_stack(self):
        r, _ = self.run_prog(self.path("f.folded"), 10, ASYNCIFY_SUMMARY=self.path("s"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("s")) as f:
            text = f.read()
        self.assertRegex(text, r"#\d+ +[\d.]+ ms +1 calls  read\n(   > .*\n)*   > wait_for_child")


def svg_frames(path):
    """[(name, x, w, depth)] of an asyncify-flame SVG (which must parse)."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG_NS + "svg", root.tag
    return [(g.get("data-n"), int(g.get("data-x")), int(g.get("data-w")), int(g.get("data-d")))
            for g in root.iter(SVG_NS + "g") if g.get("class") == "f"]


class Renderer(CommandTest):
    def test_merge_and_layout(self):
        a = self.write("a.folded", "p;main;f;read 300\np;main;g;write 100\n")
        b = self.write("b.folded", "p;main;f;read 200\nq;main;read 400\n")
        out, merged = self.path("o.svg"), self.path("m.folded")
        r = self.run_cmd([FLAME, "-o", out, "--folded", merged, a, b])
        self.assertEqual(r.returncode, 0, r.stderr)
        fr = {(n, d): (x, w) for n, x, w, d in svg_frames(out)}
        self.assertEqual(fr[("all", 0)], (0, 1000))
        self.assertEqual(fr[("p", 1)], (0, 600))
        self.assertEqual(fr[("q", 1)], (600, 400))
        self.assertEqual(fr[("read", 4)], (0, 500))    # p;main;f;read, both files
        self.assertEqual(fr[("write", 4)], (500, 100))
        with open(out) as f:
            text = f.read()
        self.assertIn("2 processes", text)
        self.assertIn("<title>read: 500 µs, 50.00%</title>", text)
        self.assertEqual(folded(merged), {"p;main;f;read": 500, "p;main;g;write": 100,
                                          "q;main;read": 400})

    def test_bad_input(self):
        bad = self.write("bad.folded", "p;main;read 10\nno count here\n")
        r = self.run_cmd([FLAME, "-o", self.path("o.svg"), bad])
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.folded:2: not a folded stack line", r.stderr)
        self.assertFalse(os.path.exists(self.path("o.svg")))

    def test_empty(self):
        r = self.run_cmd([FLAME, "-o", self.path("o.svg")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(svg_frames(self.path("o.svg")), [])
        with open(self.path("o.svg")) as f:
            self.assertIn("no blocking call was recorded", f.read())


class Wrapper(FlameTest):
    def test_flame_svg(self):
        out = self.path("out.svg")
        r = self.run_cmd([ASYNCIFY, "--flame", out, "--", self.prog, "200", "5"])
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(len(r.stdout.split()), 2)
        self.assertIn("asyncify: flame graph of where it blocked: " + out, r.stderr)
        fr = svg_frames(out)
        names = {n for n, _, _, _ in fr}
        # Not "write": the child's 1-byte pipe write takes a few µs, which
        # in a 400 ms graph is narrower than the 0.1 px the renderer leaves
        # out (8 µs here, 0.02 px); the folded cases above check it.
        for n in ("all", "flameprog", "main", "wait_for_child", "child_side", "read", "usleep"):
            self.assertIn(n, names)
        read = [w for n, x, w, d in fr if n == "read"   # below wait_for_child
                and any(m == "wait_for_child" and d > dd and mx <= x < mx + mw
                        for m, mx, mw, dd in fr)]
        self.assertEqual(len(read), 1, fr)
        self.assertTrue(180000 <= read[0] <= 2000000, read)
        total = [w for n, _, w, d in fr if d == 0]
        self.assertEqual(total, [sum(w for _, _, w, d in fr if d == 1)])
        self.assertNoTempLeft()

    def test_processes_merge(self):
        out = self.path("out.svg")
        # cat waits 50 ms for sleep's pipe: every program blocks long
        # enough to be drawn (a frame under 0.1 px is left out).
        cmd = "%s 50 && %s 50 && sleep 0.05 | cat >/dev/null" % (self.prog, self.prog)
        r = self.run_cmd([ASYNCIFY, "--flame", out, "--", "sh", "-c", cmd])
        self.assertEqual(r.returncode, 0, r.stderr)
        fr = svg_frames(out)
        top = {n for n, _, _, d in fr if d == 1}
        self.assertTrue({"cat", "flameprog", "sleep"} <= top <= {"cat", "flameprog", "sleep", "sh"},
                        top)
        cat = [n for n, x, _, d in fr if d > 1 and any(
            m == "cat" and dd == 1 and mx <= x < mx + mw for m, mx, mw, dd in fr)]
        self.assertIn("read", cat)
        # The shell blocks too, in file calls the shim takes over (its
        # redirect's open, fcntl and close, a stat of a command's path);
        # whether they are wide enough to draw depends on the machine.
        if "sh" in top:
            sh = [n for n, x, _, d in fr if d > 1 and any(
                m == "sh" and dd == 1 and mx <= x < mx + mw for m, mx, mw, dd in fr)]
            self.assertTrue({"open", "openat", "close", "fcntl", "stat", "fstatat", "newfstatat",
                             "statx", "access", "faccessat"} & set(sh), sh)
        read = [w for n, _, w, d in fr if n == "read" and d > 2]
        self.assertTrue(any(w >= 2 * 45000 for w in read), fr)   # two runs, one frame
        self.assertNoTempLeft()

    def test_killed_by_signal(self):
        out = self.path("out.svg")
        r = self.run_cmd([ASYNCIFY, "--flame", out, "--", "sh", "-c", "kill -TERM $$"])
        self.assertEqual(r.returncode, 128 + 15)
        self.assertIn("no process wrote stacks", r.stderr)
        self.assertEqual(svg_frames(out), [])
        self.assertNoTempLeft()

    def test_help(self):
        r = self.run_cmd([ASYNCIFY, "--help"])
        self.assertRegex(r.stdout, r"\n      --flame SVG +run the command")
        r = self.run_cmd([AB, "--help"])
        self.assertIn("--flame PREFIX", r.stdout)
        r = self.run_cmd([FLAME, "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("--output", r.stdout)

    def test_bad_output_dir(self):
        out = self.path("no/such/dir/out.svg")
        r = self.run_cmd([ASYNCIFY, "--flame", out, "--", "sh", "-c", "echo ran"])
        self.assertEqual(r.returncode, 125)
        self.assertEqual(r.stdout, "")   # refused before the command runs
        self.assertIn("does not exist or is not writable", r.stderr)
        self.assertNoTempLeft()

    def test_dry_run(self):
        r = self.run_cmd([ASYNCIFY, "-n", "--flame", self.path("o.svg"), "--", "true"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"ASYNCIFY_FLAME=.*/asyncify-flame\.XXXXXX/%p\.folded\n")
        self.assertFalse(os.path.exists(self.path("o.svg")))
        self.assertNoTempLeft()

    def test_ab_flame(self):
        prefix = self.path("fg")
        r = self.run_cmd([AB, "--runs", "1", "--warmup", "0", "--variants", "none,threads",
                          "--flame", prefix, "--export-json", self.path("ab.json"),
                          "--export-markdown", self.path("ab.md"), "--", self.prog, "50"],
                         timeout=120)
        self.assertIn(r.returncode, (0, 1), r.stderr)   # pids differ: stdout differs
        self.assertIn("Where it blocked, as flame graphs", r.stdout)
        self.assertIn(prefix + "-threads.svg", r.stdout)
        self.assertFalse(os.path.exists(prefix + "-none.svg"))
        names = {n for n, _, _, _ in svg_frames(prefix + "-threads.svg")}
        self.assertIn("wait_for_child", names)
        with open(self.path("ab.json")) as f:
            v = [x for x in json.load(f)["variants"] if x["name"] == "threads"][0]
        self.assertTrue(v["flame"]["blocked_us"] >= 45000, v["flame"])
        self.assertIn("wait_for_child", v["flame"]["top"][0]["stack"])
        with open(self.path("ab.md")) as f:
            self.assertIn("![threads](fg-threads.svg)", f.read())


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def png_pixels(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB/RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    assert depth == 8 and ctype in (2, 6) and not interlace, hdr
    bpp = 3 if ctype == 2 else 4
    raw, rows, prev = zlib.decompress(idat), [], bytearray(w * bpp)
    for y in range(h):
        off = y * (w * bpp + 1)
        ft, line = raw[off], bytearray(raw[off + 1:off + 1 + w * bpp])
        for i in range(len(line)):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, len(line), bpp)])
        prev = line
    return w, h, rows


@unittest.skipUnless(chromium(), "chromium is not installed: the SVG is not checked in a "
                                 "browser (apt-get install chromium to run this test)")
class Browser(CommandTest):
    """Headless chromium runs the SVG's script: #zoom= and #search= in the URL
    zoom into a frame and highlight matches, as a click and Ctrl-F would."""

    def browser(self, *args):
        """chromium headless, with a profile of its own in the test's dir."""
        return self.run_cmd([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--user-data-dir=" + self.path("profile")]
                            + list(args), env=self.env(HOME=self.dir), timeout=120)

    def shot(self, svg, fragment):
        png = self.path("shot.png")
        r = self.browser("--hide-scrollbars", "--window-size=1200,200", "--screenshot=" + png,
                         "file://%s#%s" % (svg, fragment))
        self.assertTrue(os.path.isfile(png), r.stderr[-2000:])
        return png_pixels(png)

    def test_hover_and_click(self):
        """Real mouse events on the frames: hover text, then a click zooms."""
        src = self.write("s.folded", "p;main;build;fsync 300\np;main;build;pwrite 300\n"
                                     "p;main;lookup;pread 400\n")
        self.assertEqual(self.run_cmd([FLAME, "-o", self.path("s.svg"), src]).returncode, 0)
        page = self.write("h.html", """<html><body><iframe id=f src="s.svg"></iframe>
<pre id=out></pre><script>
document.getElementById('f').onload = function () {
  var d = this.contentDocument, out = [];
  function ev(name, type) {
    var g = Array.from(d.querySelectorAll('g.f')).filter(function (g) {
      return g.getAttribute('data-n') == name; })[0];
    g.querySelector('rect').dispatchEvent(new MouseEvent(type, {bubbles: true}));
    out.push(d.getElementById('details').textContent);
  }
  ev('pread', 'mouseover'); ev('build', 'click'); ev('fsync', 'mouseover');
  out.push(d.getElementById('unzoom').style.display == 'none' ? 'unzoomed' : 'zoomed');
  document.getElementById('out').textContent = out.join('|');
};
</script></body></html>
""")
        r = self.browser("--allow-file-access-from-files", "--virtual-time-budget=3000",
                         "--dump-dom", "file://" + page)
        m = re.search(r'<pre id="out">(.*?)</pre>', r.stdout)
        self.assertTrue(m, r.stdout[-2000:] + r.stderr[-2000:])
        self.assertEqual(m.group(1).split("|"), [
            "pread: 400 µs blocked, 40.00% of all",
            "pread: 400 µs blocked, 40.00% of all",   # a click changes no hover text
            "fsync: 300 µs blocked, 30.00% of all, 50.00% of build",
            "zoomed"])

    def magenta_rows(self, rows):
        """Rows with search-highlight pixels, and their leftmost/rightmost x."""
        out = {}
        for y, row in enumerate(rows):
            xs = [x for x, p in enumerate(row) if p == (230, 0, 230)]
            if xs:
                out[y] = (min(xs), max(xs))
        return out

    def test_zoom_and_search(self):
        src = self.write("s.folded", "p;main;build;fsync 300\np;main;build;pwrite 300\n"
                                     "p;main;lookup;pread 400\n")
        svg = self.path("s.svg")
        self.assertEqual(self.run_cmd([FLAME, "-o", svg, src]).returncode, 0)
        w, _, rows = self.shot(svg, "search=%5Epread%24")
        hit = self.magenta_rows(rows)
        self.assertTrue(hit, "search highlighted nothing")
        left, right = min(v[0] for v in hit.values()), max(v[1] for v in hit.values())
        self.assertTrue(left > w * 0.5 and right > w * 0.9, (left, right))  # pread: right 40%
        _, _, rows = self.shot(svg, "zoom=lookup&search=%5Epread%24")
        hit = self.magenta_rows(rows)
        left, right = min(v[0] for v in hit.values()), max(v[1] for v in hit.values())
        self.assertTrue(left < w * 0.05 and right > w * 0.95, (left, right))  # full width


if __name__ == "__main__":
    unittest.main()
