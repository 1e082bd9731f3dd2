#!/usr/bin/env python3
"""Check asyncify trace and summary files field by field.

Usage: check-trace.py WORKLOAD --dir DIR [--format text|json|chrome]
                      [--via VIA] [--stacks N] [--min-us N] [--no-summary]

WORKLOAD names what the traced process did (tests/check-trace.c); the
files are DIR/trace.<pid> and DIR/summary.<pid> (DIR/stderr for
`stderr`; DIR/flame.<pid> for `flame`, a check of the `calls` workload).  Exit 0 when everything matches, 1 with the reasons on stderr.
"""
import argparse
import glob
import json
import os
import re
import sys
import time

# work_calls(): what it calls, how often, and the bytes the calls return.
DATA_CALLS = {"write": 4, "read": 3, "pwrite": 1, "writev": 1, "pwritev": 1,
              "pwritev2": 1, "fsync": 1, "fdatasync": 1, "pread": 1, "readv": 1,
              "preadv": 1, "preadv2": 1}
# ... and its fs_calls(): metadata calls move no bytes (open's fd, fcntl's
# flags and readlink's length are not bytes); the copy moves 100.
FS_CALLS = {"open": 3, "openat": 1, "close": 4, "fstat": 1, "ftruncate": 1,
            "flock": 1, "fcntl": 1, "posix_fallocate": 1, "stat": 3, "access": 1,
            "sendfile": 1, "mkdirat": 1, "rename": 1, "rmdir": 1, "symlink": 1,
            "readlink": 1, "unlinkat": 1}
CALLS = dict(DATA_CALLS, **FS_CALLS)
BYTES = {"write": 301, "read": 21, "pwrite": 50, "writev": 30, "pwritev": 30,
         "pwritev2": 30, "fsync": 0, "fdatasync": 0, "pread": 10, "readv": 30,
         "preadv": 30, "preadv2": 30, "sendfile": 100}
ERRORS = {"read": 1, "posix_fallocate": 1, "stat": 2}
# Calls whose text line shows the bytes asked for.
SIZED = (set(DATA_CALLS) - {"fsync", "fdatasync"}) | {"sendfile"}
# The path a trace shows is cut to this many bytes, then "…".
PATH_KEEP = 172
ELLIPSIS = "\u2026"
VIAS = {"libc", "inline", "timer", "uring", "threads"}
KINDS = {"regular", "pipe", "socket", "chardev", "other", "path", "unknown"}
JSON_KEYS = {"type", "time_us", "pid", "tid", "coro", "call", "fd", "file",
             "kind", "size", "off", "res", "errno", "dur_ns", "via", "stack"}
CHROME_ARGS = {"fd", "file", "kind", "size", "off", "res", "errno", "via",
               "coro", "stack"}
SYNC = {"fsync", "fdatasync"}

errors = []


def fail(msg):
    errors.append(msg)


def expect(cond, msg):
    if not cond:
        fail(msg)
    return cond


# ---- parsing the three formats into one record shape -------------------

TEXT_LINE = re.compile(
    r"^(\d\d):(\d\d):(\d\d)\.(\d{6}) (\d+)(?::c(\d+))? (\w+)\("
    r"(?:(-?\d+)(?:<([^>]*)>)?(?:, (\d+))?(?:, (\d+))?"   # fd<file>, size, offset
    r"|\"((?:[^\"\\\\]|\\\\.)*)\"(\u2026)?"               # or "path", cut: "…
    r"|(0x[0-9a-f]+|\?))?"                                # or a pointer not read
    r"\) = (?:(\d+)|-(E[A-Z0-9]+)) <(\d+)\.(\d{6})> "
    r"(libc|inline|timer|uring|threads)$")


def unescape(s):
    """A text trace's path: C escapes for quote, backslash, control bytes."""
    return re.sub(r"\\(x[0-9a-f]{2}|.)", lambda m: {"n": "\n", "t": "\t"}.get(
        m.group(1), chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "x" and
        len(m.group(1)) == 3 else m.group(1)), s)
FRAME_LINE = re.compile(r"^ > (.+)\+0x([0-9a-f]+) \((.*)\) \[0x([0-9a-f]+)\]$")


def parse_text(path, pid):
    recs, headers = [], 0
    with open(path) as f:
        lines = f.read().split("\n")
    expect(lines[-1] == "", f"{path}: does not end in a newline")
    for ln in lines[:-1]:
        if ln.startswith("# asyncify trace, pid "):
            headers += 1
            expect(ln == f"# asyncify trace, pid {pid}", f"bad header {ln!r}")
            continue
        if ln.startswith("# asyncify: "):
            continue
        m = FRAME_LINE.match(ln)
        if m:
            if expect(recs, f"stack frame before any call: {ln!r}"):
                recs[-1]["stack"].append({"fn": m.group(1), "obj": m.group(3)})
            continue
        m = TEXT_LINE.match(ln)
        if not expect(m, f"{path}: line does not parse: {ln!r}"):
            continue
        g = m.groups()
        call = g[6]
        n1, n2 = g[9], g[10]
        fd, file, kind = int(g[7]) if g[7] is not None else -1, g[8] or "", None
        if g[11] is not None or g[13] is not None:  # a path call
            kind = "path"
            file = None if g[13] else unescape(g[11]) + (ELLIPSIS if g[12] else "")
        if call not in SIZED:
            expect(n1 is None, f"{call} shows a size: {ln!r}")
            size, off = 0, -1
        else:
            size = int(n1) if expect(n1 is not None, f"no size: {ln!r}") else -1
            off = int(n2) if n2 is not None else -1
        res = int(g[14]) if g[14] is not None else -errno_num(g[15])
        r = {"pid": pid, "tid": int(g[4]), "coro": int(g[5] or 0),
             "call": call, "fd": fd, "file": file, "size": size, "off": off, "res": res,
             "errno": g[15], "dur_ns": int(g[16]) * 10**9 + int(g[17]) * 1000,
             "via": g[18], "stack": [], "pointer": g[13]}
        if kind:
            r["kind"] = kind
        recs.append(r)
    return recs, headers


def errno_num(name):
    import errno as E
    return getattr(E, name, 9999)


def parse_json(path, pid):
    recs, headers = [], 0
    now_us = time.time() * 1e6
    with open(path) as f:
        lines = f.read().split("\n")
    expect(lines[-1] == "", f"{path}: does not end in a newline")
    for i, ln in enumerate(lines[:-1]):
        try:
            o = json.loads(ln)
        except ValueError as e:
            fail(f"{path}:{i + 1}: not JSON ({e}): {ln!r}")
            continue
        t = o.get("type")
        if t == "header":
            headers += 1
            expect(i == 0, "header is not the first line")
            expect(o == {"type": "header", "format": "asyncify-trace", "version": 1,
                         "pid": pid}, f"bad header {o}")
            continue
        if t == "dropped":
            continue
        if not expect(t == "call", f"unknown record type {t!r}"):
            continue
        expect(set(o) == JSON_KEYS, f"keys {sorted(o)} != {sorted(JSON_KEYS)}")
        for k in ("time_us", "pid", "tid", "coro", "fd", "size", "off", "res", "dur_ns"):
            expect(isinstance(o.get(k), int), f"{k} is not an integer: {o}")
        for k in ("call", "kind", "via"):
            expect(isinstance(o.get(k), str), f"{k} is not a string: {o}")
        # null: a path call whose pointer could not be read
        expect(isinstance(o.get("file"), str) or (o.get("file") is None and
                                                   o.get("kind") == "path"), f"file: {o}")
        expect(abs(o.get("time_us", 0) - now_us) < 600e6, f"time_us not now: {o}")
        expect(o.get("pid") == pid, f"pid {o.get('pid')} != {pid}")
        stack = o.get("stack")
        if expect(isinstance(stack, list), f"stack not a list: {o}"):
            for fr in stack:
                expect(set(fr) == {"ip", "fn", "off", "obj"} and
                       re.fullmatch(r"0x[0-9a-f]+", fr["ip"]) and
                       isinstance(fr["off"], int), f"bad frame {fr}")
        recs.append(o)
    return recs, headers


def parse_chrome(path, pid):
    with open(path) as f:
        text = f.read()
    try:
        evs = json.loads(text)
    except ValueError as e:
        fail(f"{path}: not JSON ({e})")
        return [], 0
    if not expect(isinstance(evs, list), "chrome trace is not a JSON array"):
        return [], 0
    headers = sum(1 for e in evs if e.get("name") == "process_sort_index")
    expect(evs and evs[0].get("name") == "process_sort_index", "first event is not the header")
    names = {e["tid"]: e["args"]["name"] for e in evs
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    expect(any(e.get("ph") == "M" and e.get("name") == "process_name" and
               e.get("pid") == pid for e in evs), "no process_name metadata")
    recs = []
    for e in evs:
        if e.get("ph") == "M":
            expect(set(e) == {"name", "ph", "pid", "tid", "args"}, f"bad metadata {e}")
            continue
        if not expect(e.get("ph") == "X", f"event is not X or M: {e}"):
            continue
        expect(set(e) == {"name", "cat", "ph", "ts", "dur", "pid", "tid", "args"},
               f"event keys {sorted(e)}")
        expect(isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float))
               and e["dur"] >= 0, f"bad ts/dur {e}")
        expect(e["pid"] == pid, f"pid {e['pid']} != {pid}")
        expect(e["tid"] in names, f"no thread_name for tid {e['tid']}")
        a = e["args"]
        expect(set(a) == CHROME_ARGS, f"args keys {sorted(a)}")
        expect(e["cat"] == a.get("via"), f"cat {e['cat']} != via {a.get('via')}")
        for fr in a.get("stack", []):
            expect(isinstance(fr, str) and re.fullmatch(r".+\+0x[0-9a-f]+ \(.*\)", fr),
                   f"bad frame {fr!r}")
        r = dict(a)
        r.update({"call": e["name"], "pid": e["pid"], "tid": e["tid"],
                  "dur_ns": int(e["dur"] * 1000),
                  "stack": [{"fn": fr.split("+0x")[0]} for fr in a.get("stack", [])]})
        recs.append(r)
    return recs, headers


def load(path, fmt, pid):
    return {"text": parse_text, "json": parse_json, "chrome": parse_chrome}[fmt](path, pid)


# ---- the summary ------------------------------------------------------------

SUM_ROW = re.compile(r"^(\w+)\s+(libc|inline|timer|uring|threads)\s+(\d+)\s+(\d+)\s+(\d+)\s+"
                     r"([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$")


def parse_summary(path, pid):
    with open(path) as f:
        lines = f.read().split("\n")
    m = re.match(r"^asyncify summary: pid (\d+) \((.*)\), [\d.]+ s", lines[0])
    if not expect(m and int(m.group(1)) == pid, f"{path}: bad first line {lines[0]!r}"):
        return {}, {}, lines
    expect(lines[1].split() == ["call", "backend", "count", "errors", "bytes", "total_ms",
                                "p50_us", "p99_us", "max_us"], f"bad column line {lines[1]!r}")
    rows = {}
    vias = {}
    for ln in lines[2:]:
        if not ln:
            break
        m = SUM_ROW.match(ln)
        if not expect(m, f"{path}: summary row does not parse: {ln!r}"):
            continue
        call, via = m.group(1), m.group(2)
        cnt, err, byt = int(m.group(3)), int(m.group(4)), int(m.group(5))
        p50, p99, mx = float(m.group(7)), float(m.group(8)), float(m.group(9))
        expect(p50 <= p99 <= mx, f"percentiles out of order: {ln!r}")
        r = rows.setdefault(call, [0, 0, 0])
        r[0] += cnt
        r[1] += err
        r[2] += byt
        vias.setdefault(call, set()).add(via)
    return rows, vias, lines


def check_summary_calls(path, pid, calls, byts, errs, via):
    rows, vias, lines = parse_summary(path, pid)
    for c in set(calls) | set(rows):
        got = rows.get(c, [0, 0, 0])
        expect(got[0] == calls.get(c, 0), f"summary: {c} count {got[0]} != {calls.get(c, 0)}")
        if byts is not None:
            expect(got[2] == byts.get(c, 0), f"summary: {c} bytes {got[2]} != {byts.get(c)}")
        expect(got[1] == errs.get(c, 0), f"summary: {c} errors {got[1]} != {errs.get(c, 0)}")
        if via == "libc":
            expect(vias.get(c, set()) <= {"libc"}, f"summary: {c} via {vias.get(c)} under off")
    return lines


TOP_FILE = re.compile(r"^\s*([\d.]+)\s+(\d+)/(\d+)\s+(\d+)\s+(\d+)/(\d+)\s+"
                      r"(regular|pipe|socket|chardev|other|path|\?)\s+(.*)$")


def check_top_files(lines, dirname):
    """The data file: 5 reads (120 B), 9 writes incl. 2 syncs (440 B) and 6
    metadata calls on its fds (fstat, ftruncate, flock, fcntl, 2 closes);
    the path calls' time counted against each path named."""
    text = "\n".join(lines)
    m = re.search(r"^\s*[\d.]+\s+(\d+)/(\d+)\s+(\d+)\s+(\d+)/(\d+)\s+regular\s+(\S+/data)\n"
                  r"\s+sizes:(.*)$", text, re.M)
    if not expect(m, "summary: data file missing from top files"):
        return
    expect(m.group(6) == os.path.realpath(dirname) + "/data", f"top file path {m.group(6)}")
    expect((int(m.group(1)), int(m.group(2))) == (5, 9), f"data file ops {m.group(1)}/{m.group(2)}")
    expect(int(m.group(3)) == 6, f"data file meta {m.group(3)}")
    expect((int(m.group(4)), int(m.group(5))) == (120, 440),
           f"data file bytes {m.group(4)}/{m.group(5)}")
    hist = dict(kv.split(":") for kv in m.group(7).split())
    expect(sum(int(v) for v in hist.values()) == 14, f"size histogram {hist}")
    expect(hist.get("64B") == "3" and hist.get("0") == "2", f"size histogram {hist}")
    expect(re.search(r"^regular\s+14\s+6\s+560\s", text, re.M), "kind table: regular row")
    expect(re.search(r"^pipe\s+2\s+0\s+2\s", text, re.M), "kind table: pipe row")
    expect(re.search(r"^chardev\s+1\s+1\s+100\s", text, re.M), "kind table: chardev row")
    # 13 path calls with a path read (stat(0x1) has none), no data
    expect(re.search(r"^path\s+0\s+13\s+0\s", text, re.M), "kind table: path row")
    rows = [TOP_FILE.match(ln) for ln in lines]
    rows = [r.groups() for r in rows if r]
    expect(len(rows) == 10, f"top files: {len(rows)} rows, want 10 (11 files)")
    want = {}
    for _, path in fs_paths(dirname):
        want[path] = want.get(path, 0) + 1
    for t in rows:
        expect(t[6] != "path" or (t[1], t[2], t[4], t[5]) == ("0", "0", "0", "0"),
               f"a path moved data: {t}")
        if t[6] == "path":
            expect(int(t[3]) == want.get(t[7], -1), f"path {t[7]!r}: meta {t[3]}, want "
                   f"{want.get(t[7])}")


def fs_paths(dirname):
    """The path calls of fs_calls() in order, with the path each names: as
    given, or behind the directory fd's name (its real path)."""
    d, real = dirname.rstrip("/"), os.path.realpath(dirname)
    return [("stat", d + "/data"), ("access", d + "/data"), ("open", d),
            ("openat", real + "/data"), ("open", "/dev/null"), ("mkdirat", real + "/fs-sub"),
            ("rename", d + "/fs-sub"), ("rmdir", d + "/fs-sub2"), ("symlink", d + "/fs-link"),
            ("readlink", d + "/fs-link"), ("unlinkat", real + "/fs-link"),
            ("stat", (d + "/" + "0" * 300)[:PATH_KEEP] + ELLIPSIS), ("open", d + "/data")]


# ---- the workloads ------------------------------------------------------------

def files(d, prefix):
    out = {}
    for p in glob.glob(os.path.join(d, prefix + ".*")):
        out[int(p.rsplit(".", 1)[1])] = p
    return out


def one_pid(d, what):
    fs = files(d, what)
    expect(len(fs) == 1, f"{what} files: {sorted(fs.values())}")
    return next(iter(fs.items())) if fs else (0, None)


def no_payload(path):
    with open(path, "rb") as f:
        expect(b"SECRET-PAYLOAD" not in f.read(), f"{path} holds buffer contents")


def check_calls_records(recs, via, stacks, dirname):
    counts = {}
    for r in recs:
        counts[r["call"]] = counts.get(r["call"], 0) + 1
        expect(r["via"] in VIAS, f"via {r['via']}")
        if via == "libc":
            expect(r["via"] == "libc", f"under off a call went via {r['via']}: {r}")
        else:
            expect(r["via"] in {"libc", "inline", via}, f"via {r['via']} under {via}: {r}")
        expect(r["tid"] == r["pid"] and r["coro"] == 0, f"tid/coro {r}")
        expect(0 <= r["dur_ns"] < 10 * 10**9, f"dur {r}")
        expect((r["res"] < 0) == (r["errno"] is not None), f"res/errno {r}")
        if "kind" in r:
            expect(r["kind"] in KINDS, f"kind {r}")
        if stacks:
            fns = [f["fn"] for f in r["stack"]]
            expect(1 <= len(fns) <= stacks, f"{len(fns)} frames (want 1..{stacks}): {r}")
            expect("work_calls" in fns, f"work_calls not in stack {fns}")
        else:
            expect(not r["stack"], f"a stack without ASYNCIFY_STACKS: {r}")
    expect(counts == CALLS, f"calls {counts} != {CALLS}")
    data = os.path.realpath(dirname) + "/data"
    pw = [r for r in recs if r["call"] == "pwrite"]
    if pw:
        r = pw[0]
        expect((r["file"], r["size"], r["off"], r["res"]) == (data, 50, 1000, 50), f"pwrite {r}")
        expect(r.get("kind", "regular") == "regular", f"pwrite kind {r}")
    bad = [r for r in recs if r["fd"] == -1 and r["call"] == "read"]
    expect(len(bad) == 1 and bad[0]["errno"] == "EBADF"
           and bad[0]["res"] == -9 and bad[0]["file"] == "", f"read(-1): {bad}")
    pipes = [r for r in recs if (r["file"] or "").startswith("pipe:[")]
    expect(sorted(r["call"] for r in pipes) == ["read", "write"] and
           all(r["res"] == 1 and r.get("kind", "pipe") == "pipe" for r in pipes), f"pipe {pipes}")
    for r in recs:
        if r["call"] in SYNC:
            expect((r["size"], r["off"], r["res"]) == (0, -1, 0), f"{r['call']} {r}")
            # A plain thread's call is the program's own under every
            # backend (README, How a call runs).
            expect(r["via"] == "libc", f"{r['call']} of a plain thread went via {r['via']}: {r}")
        if r["call"] == "write" and r["fd"] >= 0 and r["file"] == data:
            expect((r["size"], r["off"], r["res"]) == (100, -1, 100), f"write {r}")
        if r["call"] in ("preadv", "pwritev"):
            expect(r["size"] == 30 and r["off"] in (1000, 2000), f"{r['call']} {r}")
    check_fs_records([r for r in recs if r["call"] in FS_CALLS], dirname)


def check_fs_records(recs, dirname):
    """fs_calls() field by field: a path call shows its path (fd -1, kind
    path), a call on an fd the fd's file (close: the file it closed), no
    size but the copy's; results as the program saw them."""
    data, real = os.path.realpath(dirname) + "/data", os.path.realpath(dirname)
    paths = fs_paths(dirname)
    P = "path"
    want = [("open", P, paths[-1][1], "fd0", None)]
    want += [(c, "fd0", data, 0, None) for c in ("fstat", "ftruncate", "flock")]
    want += [("fcntl", "fd0", data, "+", None), ("posix_fallocate", -1, "", -9, "EBADF")]
    want += [(c, P, path, "fd" + str(i) if c in ("open", "openat") else 0, None)
             for i, (c, path) in enumerate(paths[:5])]
    want += [("sendfile", "fd4", "/dev/null", 100, None), ("close", "fd4", "/dev/null", 0, None),
             ("close", "fd3", data, 0, None)]
    want += [(c, P, path, 4 if c == "readlink" else 0, None) for c, path in paths[5:11]]
    want += [("close", "fd2", real, 0, None), ("stat", P, None, -14, "EFAULT"),
             ("stat", P, paths[11][1], -36, "ENAMETOOLONG"), ("close", "fd0", data, 0, None)]
    got = [r["call"] for r in recs]
    if not expect(got == [w[0] for w in want], f"fs calls {got} != {[w[0] for w in want]}"):
        return
    fds = {}
    for r, (call, fd, file, res, err) in zip(recs, want):
        if isinstance(res, str) and res.startswith("fd"):
            fds[res] = r["res"]
            expect(r["res"] >= 0, f"{call}: {r}")
        elif res == "+":
            expect(r["res"] > 0, f"{call}: {r}")
        else:
            expect(r["res"] == res and r["errno"] == err, f"{call}: res {r['res']} {r['errno']}, "
                   f"want {res} {err}: {r}")
        if fd == P:
            expect(r["fd"] == -1 and r.get("kind", P) == P, f"{call}: not a path record: {r}")
        else:
            expect(r["fd"] == fds.get(fd, fd), f"{call}: fd {r['fd']}, want {fds.get(fd, fd)}")
            expect(r.get("kind") != P, f"{call}: {r}")
        expect(r["file"] == file, f"{call}: file {r['file']!r}, want {file!r}")
        if file is None and "pointer" in r:  # text shows the pointer
            expect(r["pointer"] == "0x1", f"{call}: pointer {r['pointer']}")
        size = 100 if call == "sendfile" else 0
        expect((r["size"], r["off"]) == (size, -1), f"{call}: size/off {r}")
        if call == "sendfile":
            expect(r.get("kind", "chardev") == "chardev", f"sendfile kind {r}")


def work_calls(a):
    pid, tpath = one_pid(a.dir, "trace")
    if not tpath:
        return
    no_payload(tpath)
    recs, headers = load(tpath, a.format, pid)
    expect(headers == 1, f"{headers} headers")
    if a.min_us:
        expect(not recs, f"{len(recs)} records faster than ASYNCIFY_TRACE_MIN_US")
    else:
        check_calls_records(recs, a.via, a.stacks, a.dir)
    if a.no_summary:
        expect(not files(a.dir, "summary"), "a summary without ASYNCIFY_SUMMARY")
        return
    spid, spath = one_pid(a.dir, "summary")
    expect(spid == pid, f"summary pid {spid} != trace pid {pid}")
    if spath:
        lines = check_summary_calls(spath, pid, CALLS, BYTES, ERRORS, a.via)
        check_top_files(lines, a.dir)
        if a.stacks:
            expect(any(re.match(r"^   > work_calls\+0x", ln) for ln in lines),
                   "summary: no stack with work_calls")


def work_signal(a):
    pid, tpath = one_pid(a.dir, "trace")
    if not tpath:
        return
    recs, _ = load(tpath, a.format, pid)
    w = [r for r in recs if r["call"] == "write"]
    rd = [r for r in recs if r["call"] == "read"]
    expect(len(w) == 1 and len(rd) == 1 and len(recs) == 2, f"records {recs}")
    if w and rd:
        expect(w[0]["res"] == 1 and rd[0]["res"] == 1, f"results {recs}")
        expect(w[0]["tid"] == rd[0]["tid"] == pid, f"tids {recs}")
        expect(w[0]["file"] == rd[0]["file"] and w[0]["file"].startswith("pipe:["), f"files {recs}")
        expect("on_alarm" in [f["fn"] for f in w[0]["stack"]], f"handler stack {w[0]['stack']}")
        expect("work_signal" in [f["fn"] for f in rd[0]["stack"]], f"read stack {rd[0]['stack']}")
    spid, spath = one_pid(a.dir, "summary")
    if spath:
        check_summary_calls(spath, pid, {"write": 1, "read": 1}, {"write": 1, "read": 1}, {}, None)


def work_fork(a):
    tf, sf = files(a.dir, "trace"), files(a.dir, "summary")
    expect(len(tf) == 2 and set(tf) == set(sf), f"trace files {tf}, summaries {sf}")
    parents = 0
    for pid, path in tf.items():
        recs, headers = load(path, a.format, pid)
        expect(headers == 1, f"{path}: {headers} headers")
        # The parent opened /dev/null before the fork and waits for the
        # child between its writes: the child has only its two writes.
        calls = [r["call"] for r in recs]
        parent = calls == ["open", "write", "waitpid", "write"]
        parents += parent
        expect(parent or calls == ["write", "write"], f"{path}: {recs}")
        expect(all(r["pid"] == pid and r["tid"] == pid for r in recs), f"{path}: pids {recs}")
        expect(all(r["file"] == "/dev/null" for r in recs if r["call"] != "waitpid"),
               f"{path}: files")
        expect(all(r["res"] > 0 and r["fd"] == -1 for r in recs if r["call"] == "waitpid"),
               f"{path}: waitpid {recs}")
        expect(all(r.get("kind", "path") == "path" for r in recs if r["call"] == "open"),
               f"{path}: open is not a path record")
        want = {"write": 2, "open": 1, "waitpid": 1} if parent else {"write": 2}
        if pid in sf:
            check_summary_calls(sf[pid], pid, want, {"write": 2}, {}, None)
    expect(parents == 1, f"{parents} parents")


def work_threads(a):
    pid, tpath = one_pid(a.dir, "trace")
    if not tpath:
        return
    recs, _ = load(tpath, a.format, pid)
    per = {}
    opens = [r for r in recs if r["call"] == "open"]
    expect(len(opens) == 1 and opens[0]["tid"] == pid and opens[0]["file"] == "/dev/null",
           f"the main thread's open: {opens}")
    recs = [r for r in recs if r["call"] != "open"]
    for r in recs:
        expect(r["call"] == "write" and r["res"] == 1, f"record {r}")
        per[r["tid"]] = per.get(r["tid"], 0) + 1
    expect(sorted(per.values()) == [50] * 4 and pid not in per, f"per thread {per}")
    expect(all("thread_writes" in [f["fn"] for f in r["stack"]] for r in recs),
           "a thread's stack lacks thread_writes")
    spid, spath = one_pid(a.dir, "summary")
    if spath:
        check_summary_calls(spath, pid, {"write": 200, "open": 1}, {"write": 200}, {}, None)


def work_exec(a):
    pid, tpath = one_pid(a.dir, "trace")
    if not tpath:
        return
    recs, headers = load(tpath, a.format, pid)
    expect(headers == 1, f"{headers} headers after exec")
    # The shim's exec hooks write out what the ring holds before the image
    # is replaced: the write made before exec is in the file.
    expect(all(r["pid"] == pid for r in recs), f"records {recs}")
    calls = [r["call"] for r in recs]
    expect(calls == ["open", "write", "open", "write", "write"],
           f"records {calls}, want open and write before exec, exec2's open and 2 writes")


def work_reuse(a):
    """The data file: its write and pread (and close, meta); the pipe that
    got its number after close: its write and read, not the file's."""
    spid, spath = one_pid(a.dir, "summary")
    if not spath:
        return
    lines = check_summary_calls(spath, spid, {"open": 1, "write": 2, "pread": 1, "close": 1,
                                              "read": 1}, {"write": 5, "pread": 1, "read": 2},
                                {}, "libc")
    rows = {}
    for m in (TOP_FILE.match(ln) for ln in lines):
        if m:
            rows[m.group(7), m.group(8)] = m.groups()
    f = rows.get(("regular", os.path.realpath(a.dir) + "/data"))
    expect(f and f[1:6] == ("1", "1", "1", "1", "3"), f"the file's row: {f}")
    expect(("path", a.dir.rstrip("/") + "/data") in rows, f"open's path: {sorted(rows)}")
    pipes = [t for (k, p), t in rows.items() if k == "pipe"]
    expect(len(pipes) == 1 and pipes[0][1:6] == ("1", "1", "0", "2", "2"), f"the pipe: {pipes}")


def work_coro(a):
    """fs_calls() inside a coroutine beside another: the same records as
    from a plain thread, from coroutine 1, the calls that may wait run by
    a worker (via threads, whichever backend) unless under off."""
    pid, tpath = one_pid(a.dir, "trace")
    if not tpath:
        return
    recs, headers = load(tpath, a.format, pid)
    expect(headers == 1, f"{headers} headers")
    for r in recs:
        expect(r["tid"] == pid and r["coro"] > 0, f"tid/coro {r}")
        expect(r["via"] in ({"libc"} if a.via == "libc" else {"libc", "inline", "threads", a.via}),
               f"via {r['via']} under {a.via}: {r}")
    w = [r for r in recs if r["call"] == "write"]
    expect(len(w) == 1 and w[0]["res"] == 200, f"write {w}")
    fs = [r for r in recs if r["call"] != "write"]
    check_fs_records(fs, a.dir)
    if a.via != "libc":
        expect(any(r["via"] == "threads" and r["fd"] == -1 for r in fs), "no path call on a worker")
    spid, spath = one_pid(a.dir, "summary")
    if spath:
        check_summary_calls(spath, pid, dict(FS_CALLS, write=1), {"write": 200, "sendfile": 100},
                            {"posix_fallocate": 1, "stat": 2}, a.via)


FOLDED_LINE = re.compile(r"^([^;\n]+(?:;[^;\n]+)+) (\d+)$")


def work_flame(a):
    """ASYNCIFY_FLAME with the calls workload and a json trace: stacks on by
    themselves (16 frames), one folded line per stack ending in its call,
    and per call the weights add up to the trace's durations."""
    pid, tpath = one_pid(a.dir, "trace")
    fpid, fpath = one_pid(a.dir, "flame")
    if not tpath or not fpath:
        return
    expect(pid == fpid, f"trace pid {pid}, flame pid {fpid}")
    recs, _ = load(tpath, "json", pid)
    check_calls_records(recs, a.via, 16, a.dir)
    trace_us = {}
    for r in recs:
        trace_us[r["call"]] = trace_us.get(r["call"], 0) + r["dur_ns"] / 1000
    flame_us, lines, seen = {}, {}, set()
    with open(fpath) as f:
        for ln in f.read().splitlines():
            m = FOLDED_LINE.match(ln)
            if not expect(m, f"{fpath}: not a folded line: {ln!r}"):
                continue
            frames = m.group(1).split(";")
            expect(m.group(1) not in seen, f"stack written twice: {ln!r}")
            seen.add(m.group(1))
            # The case runs as /proc/self/exe: its comm is "exe".
            expect(frames[0] == "exe", f"root is not the process's name: {ln!r}")
            expect("work_calls" in frames[1:-1], f"work_calls not in the stack: {ln!r}")
            expect("[truncated]" not in frames, f"16 frames do not hold the stack: {ln!r}")
            call = frames[-1]
            flame_us[call] = flame_us.get(call, 0) + int(m.group(2))
            lines[call] = lines.get(call, 0) + 1
    expect(set(flame_us) == set(CALLS), f"calls {sorted(flame_us)} != {sorted(CALLS)}")
    for c, us in flame_us.items():
        # Each line is rounded to a µs, at least 1.
        expect(abs(us - trace_us.get(c, 0)) <= lines[c] + 1,
               f"{c}: {us} µs in the flame file, {trace_us.get(c, 0):.1f} µs in the trace")


def work_stderr(a):
    path = os.path.join(a.dir, "stderr")
    recs, headers = parse_text(path, 0)
    expect(headers == 0, "a header line on stderr")
    for r in recs:
        r["pid"] = r["tid"]
    check_calls_records(recs, "libc", 0, a.dir)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload")
    p.add_argument("--dir", required=True)
    p.add_argument("--format", default="text")
    p.add_argument("--via", default="libc")
    p.add_argument("--stacks", type=int, default=0)
    p.add_argument("--min-us", type=int, default=0)
    p.add_argument("--no-summary", action="store_true")
    a = p.parse_args()
    if a.via == "off":
        a.via = "libc"
    globals()["work_" + a.workload](a)
    if errors:
        for e in errors[:40]:
            print(e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
