#!/usr/bin/env python3
"""pyio.py INPUT — a python3 workload for the real-program tests.

Exercises, through CPython's own os.* wrappers (which call the libc
functions the shim takes over): os.read/os.write on a file and a pipe,
os.pread/os.pwrite at offsets, os.readv/os.writev, os.fsync and
os.fdatasync, a subprocess fed and drained through pipes, and threads
doing I/O on their own fds at once.  Everything printed is deterministic;
files written are left in the current directory for the caller to compare.
"""
import hashlib
import os
import subprocess
import sys
import threading


def file_io(src):
    fd = os.open(src, os.O_RDONLY)
    out = os.open("copy", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    h = hashlib.sha256()
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        h.update(b)
        n = os.write(out, b)
        assert n == len(b), n
    os.fsync(out)
    print("read+write", h.hexdigest(), os.lseek(out, 0, os.SEEK_CUR))
    print("pread", os.pread(fd, 16, 1000).hex(), os.lseek(fd, 0, os.SEEK_CUR))
    os.pwrite(out, b"PWRITE-HERE", 4096)
    os.fdatasync(out)
    print("pwrite pos", os.lseek(out, 0, os.SEEK_CUR))
    a, b = bytearray(7), bytearray(9)
    print("preadv", os.preadv(fd, [a, b], 4090), bytes(a).hex(), bytes(b).hex())
    os.lseek(out, 0, os.SEEK_END)
    print("writev", os.writev(out, [b"tail-", b"of-", b"file\n"]))
    os.close(out)
    os.close(fd)
    print("eof read", os.read(os.open(src, os.O_RDONLY), 0))


def pipes(src):
    with open(src, "rb") as f:
        data = f.read()
    p = subprocess.Popen(["sha256sum"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = p.communicate(data)
    print("subprocess sha256sum", out.decode().split()[0], p.returncode)
    r, w = os.pipe()
    child = subprocess.Popen(["cat"], stdin=r, stdout=subprocess.PIPE)
    os.close(r)
    for i in range(100):
        os.write(w, b"line %d\n" % i)
    os.close(w)
    got = child.stdout.read()
    child.wait()
    print("pipe to cat", len(got), hashlib.sha256(got).hexdigest()[:16], child.returncode)


def worker(i, src, results):
    fd = os.open(src, os.O_RDONLY)
    h = hashlib.sha256()
    off = i * 4096
    while True:
        b = os.pread(fd, 4096, off)
        if not b:
            break
        h.update(b)
        off += 8 * 4096
    os.close(fd)
    name = "thread-%d" % i
    wfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(wfd, h.hexdigest().encode() + b"\n")
    os.fsync(wfd)
    os.close(wfd)
    results[i] = h.hexdigest()[:16]


def threads(src):
    results = [None] * 8
    ts = [threading.Thread(target=worker, args=(i, src, results)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("threads", " ".join(results))


def shared_reader(fd, chunks, lock):
    while True:
        b = os.read(fd, 4096)
        if not b:
            return
        with lock:
            chunks.append(b)


def shared_fd(src):
    """Four threads read one fd with os.read: the kernel's position lock
    means every 4 KiB chunk is read exactly once (CONTRACT §4, Offsets)."""
    fd = os.open(src, os.O_RDONLY)
    chunks, lock = [], threading.Lock()
    ts = [threading.Thread(target=shared_reader, args=(fd, chunks, lock)) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    os.close(fd)
    with open(src, "rb") as f:
        want = sorted(hashlib.sha256(f.read(4096)).digest() for _ in range(len(chunks) or 1))
    got = sorted(hashlib.sha256(c).digest() for c in chunks)
    total = sum(len(c) for c in chunks)
    print("shared fd", total, "bytes", "every chunk once" if got == want else "DUPLICATES OR GAPS")


def main():
    src = sys.argv[1]
    file_io(src)
    pipes(src)
    threads(src)
    fd = os.open(src, os.O_RDONLY)      # cold again: the reads must block
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    shared_fd(src)
    sys.stdout.flush()
    os.write(1, b"done\n")


if __name__ == "__main__":
    main()
