#!/usr/bin/env python3
"""mkdata.py DIR [MIB] — deterministic input files for the real-program tests
and benchmarks (same bytes on every machine: a seeded PRNG, no clock).

  DIR/big        MIB MiB (default 32) of pseudo-random bytes
  DIR/small      100 000 bytes of pseudo-random bytes
  DIR/text       200 000 lines of words and numbers, for sort
  DIR/tree/      a directory tree for tar: nested dirs, empty files, a
                 file of exactly 10240 bytes (one tar record), a 5 MiB file
"""
import os
import random
import sys


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    root = sys.argv[1]
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    rng = random.Random(20261122)
    os.makedirs(root, exist_ok=True)
    write(os.path.join(root, "big"), rng.randbytes(mib << 20))
    write(os.path.join(root, "small"), rng.randbytes(100000))
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
             "hotel", "india", "juliett", "kilo", "lima", "mike", "november"]
    lines = ["%s %d %s\n" % (rng.choice(words), rng.randrange(10**6), rng.choice(words))
             for _ in range(200000)]
    write(os.path.join(root, "text"), "".join(lines).encode())
    tree = os.path.join(root, "tree")
    for d in ("a", "a/b", "a/b/c", "empty-dir", "d"):
        os.makedirs(os.path.join(tree, d), exist_ok=True)
    write(os.path.join(tree, "a/empty"), b"")
    write(os.path.join(tree, "a/record"), rng.randbytes(10240))
    write(os.path.join(tree, "a/b/odd"), rng.randbytes(12345))
    write(os.path.join(tree, "a/b/c/five-mib"), rng.randbytes(5 << 20))
    write(os.path.join(tree, "d/text"), "".join(lines[:5000]).encode())
    # Fixed times, so that archives made from the tree are the same bytes
    # whoever made them and whenever.
    for dirpath, dirs, files in os.walk(tree):
        for name in dirs + files:
            os.utime(os.path.join(dirpath, name), (1700000000, 1700000000))
    os.utime(tree, (1700000000, 1700000000))


if __name__ == "__main__":
    main()
