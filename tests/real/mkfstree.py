#!/usr/bin/env python3
"""mkfstree.py DIR FILES — a deterministic tree of many small files for
the file-metadata cases of check-real (tests/real/fs-cases.sh) and for
bench-fs: the same names, bytes, modes, link targets and times on every
machine (a seeded PRNG, no clock).

  DIR/fstree/       FILES regular files of 0-3000 bytes in nested
                    directories (about 40 per directory), with modes 0644,
                    0600, 0755, 0444 and 0640; empty directories; relative
                    symlinks to files and directories, a dangling one and
                    one to /dev/null; hard links; a FIFO; names with
                    spaces; times fixed to the nanosecond (directories and
                    symlinks too)
  DIR/fstree.tar    that tree archived by GNU tar in pax format (which
                    keeps nanosecond times), members sorted by name, owner
                    root
"""
import os
import random
import subprocess
import sys

MODES = (0o644, 0o644, 0o644, 0o600, 0o755, 0o444, 0o640)
T0 = 1700000000


def when(rng):
    """A fixed time with a nanosecond part, as (atime, mtime) in ns."""
    ns = (T0 + rng.randrange(10**7)) * 10**9 + rng.randrange(10**9)
    return (ns, ns)


def make_tree(root, nfiles, rng):
    dirs = [""]
    files = []
    for i in range(nfiles):
        if i % 40 == 0:
            parent = rng.choice(dirs[-8:])
            d = os.path.join(parent, "d%03d" % (i // 40))
            os.mkdir(os.path.join(root, d))
            dirs.append(d)
        name = "f%05d%s" % (i, " x" if i % 97 == 5 else "")
        p = os.path.join(dirs[-1], name)
        with open(os.path.join(root, p), "wb") as f:
            f.write(rng.randbytes(rng.randrange(3000)))
        os.chmod(os.path.join(root, p), MODES[i % len(MODES)])
        files.append(p)
    for i in range(5):
        os.mkdir(os.path.join(root, "empty%d" % i))
    links = []
    for i in range(0, len(files), 25):
        src = os.path.join(root, files[i] + ".sym")
        os.symlink(os.path.relpath(os.path.join(root, files[i]), os.path.dirname(src)), src)
        links.append(src)
    for d in dirs[1:6]:
        os.symlink(d, os.path.join(root, "to-" + os.path.basename(d)))
        links.append(os.path.join(root, "to-" + os.path.basename(d)))
    os.symlink("no-such-file", os.path.join(root, "dangling"))
    os.symlink("/dev/null", os.path.join(root, "devnull"))
    links += [os.path.join(root, "dangling"), os.path.join(root, "devnull")]
    for i in range(3, len(files), 50):
        os.link(os.path.join(root, files[i]), os.path.join(root, files[i] + ".hard"))
    os.mkfifo(os.path.join(root, "fifo"), 0o644)
    # Times last, deepest first, so that no later change moves them.
    for dirpath, dnames, fnames in sorted(os.walk(root), key=lambda w: -len(w[0])):
        for n in sorted(fnames + dnames):
            os.utime(os.path.join(dirpath, n), ns=when(rng), follow_symlinks=False)
    os.utime(root, ns=when(rng))


def main():
    out, nfiles = sys.argv[1], int(sys.argv[2])
    rng = random.Random(20261130)
    os.makedirs(out, exist_ok=True)
    os.umask(0o022)
    root = os.path.join(out, "fstree")
    os.mkdir(root)
    make_tree(root, nfiles, rng)
    subprocess.run(["tar", "--sort=name", "--format=pax", "--owner=root", "--group=root",
                    "--pax-option=delete=atime,delete=ctime",
                    "-cf", os.path.join(out, "fstree.tar"), "-C", out, "fstree"], check=True)


if __name__ == "__main__":
    main()
