"""asyncify-ab: files -- digests, snapshots and restores of --compare-file
files, first differences and their excerpts.
"""

import hashlib
import json
import os
import shutil
import stat

from .common import UsageError, human_size


# ---------------------------------------------------------------------------
# Files: digests, snapshots, first differences

def digest(path):
    """(sha256 hex, size) of a file's content."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def first_difference(pa, pb):
    """Where two files first differ: None when equal, else a dict with the
    byte offset, the 1-based line, and the line (or bytes) on each side.
    A missing side counts as empty."""
    a = read_or_empty(pa)
    b = read_or_empty(pb)
    n = min(len(a), len(b))
    off = 0
    while off < n and a[off:off + 4096] == b[off:off + 4096]:
        off += 4096
    off = min(off, n)
    while off < n and a[off] == b[off]:
        off += 1
    if off == n and len(a) == len(b):
        return None
    line = a.count(b"\n", 0, off) + 1
    return {"byte": off, "line": line, "a": excerpt(a, off), "b": excerpt(b, off),
            "a_size": len(a), "b_size": len(b)}


def read_or_empty(path):
    # The files compared are outputs kept in our temp dir; reading them whole
    # keeps this simple, and the first-difference search is only run when the
    # digests already differ.
    if path is None or not os.path.exists(path):
        return b""
    with open(path, "rb") as f:
        return f.read()


def excerpt(data, off):
    """The line of DATA holding byte OFF, as text, or hex bytes when binary."""
    if off >= len(data):
        return "(end of file)"
    start = data.rfind(b"\n", 0, off) + 1
    end = data.find(b"\n", off)
    end = len(data) if end < 0 else end
    chunk = data[start:min(end, start + 160)]
    try:
        text = chunk.decode("utf-8")
        if "\0" in text:
            raise UnicodeDecodeError("utf-8", chunk, 0, 1, "NUL")
        return json.dumps(text, ensure_ascii=False) + ("…" if end - start > 160 else "")
    except UnicodeDecodeError:
        return "bytes " + data[off:off + 16].hex(" ")


class CompareFile:
    """One --compare-file: its original state, restored before every run
    (unless --no-restore) and at the end, and its state after each run."""

    def __init__(self, path, tmp, index, restore):
        self.path = path
        self.real = os.path.realpath(path)
        self.restore_on = restore
        self.backup = None
        self.orig_stat = None
        if os.path.lexists(self.real) and not os.path.exists(self.real):
            raise UsageError("--compare-file %s is a dangling symbolic link" % path)
        if os.path.exists(self.real):
            st = os.stat(self.real)
            if not stat.S_ISREG(st.st_mode):
                raise UsageError("--compare-file %s is not a regular file" % path)
            self.orig_stat = st
            if restore:
                self.backup = os.path.join(tmp, "orig-%d" % index)
                shutil.copyfile(self.real, self.backup)
        elif not os.path.isdir(os.path.dirname(self.real) or "."):
            raise UsageError("--compare-file %s: directory %s does not exist"
                             % (path, os.path.dirname(self.real)))
        self.before = None

    def describe(self):
        if not self.restore_on:
            return "left as each run leaves it (--no-restore)"
        if self.orig_stat is None:
            return "absent before; removed before every run and at the end"
        return ("existed (%s): restored to that content and mode before every run "
                "and at the end" % human_size(self.orig_stat.st_size))

    def restore(self):
        """Put the file back as it was before asyncify-ab started."""
        if not self.restore_on:
            return
        if self.orig_stat is None:
            if os.path.lexists(self.real):
                if os.path.isdir(self.real) and not os.path.islink(self.real):
                    shutil.rmtree(self.real)
                else:
                    os.unlink(self.real)
            return
        if os.path.lexists(self.real) and not os.path.isfile(self.real):
            os.unlink(self.real)
        try:
            shutil.copyfile(self.backup, self.real)
        except PermissionError:
            # A read-only original (or one the run made read-only): make it
            # writable for the copy; its mode is set back just below.
            os.chmod(self.real, 0o600)
            shutil.copyfile(self.backup, self.real)
        os.chmod(self.real, stat.S_IMODE(self.orig_stat.st_mode))
        # The original (old) mtime makes any write during the run visible,
        # even within one timestamp tick of this restore.
        os.utime(self.real, ns=(self.orig_stat.st_atime_ns, self.orig_stat.st_mtime_ns))

    def mark(self):
        """Remember the file's identity just before a run."""
        self.before = stat_key(self.real)

    def record(self):
        """State after a run: None when absent, else digest, size, mode and
        whether the run wrote it."""
        if not os.path.exists(self.real):
            return None
        st = os.stat(self.real)
        if not stat.S_ISREG(st.st_mode):
            return {"sha256": None, "size": 0, "mode": "%04o" % stat.S_IMODE(st.st_mode),
                    "type": "not a regular file", "written": True}
        sha, size = digest(self.real)
        return {"sha256": sha, "size": size, "mode": "%04o" % stat.S_IMODE(st.st_mode),
                "written": stat_key(self.real) != self.before}


def stat_key(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode)
