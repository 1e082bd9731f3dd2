#!/usr/bin/env python3
"""pyclosefds.py — a daemon-like program that closes every fd it did not
open itself and then reuses the numbers.

1. A blocking read of a slow pipe (so a shim sets up whatever it needs).
2. os.closerange(3, ...): close_range(2), as daemons do; a shim's own fds
   are closed too.
3. The program makes a pipe, writes 16 bytes into it, and dup2()s its read
   end onto every free fd number from 3 up to min(RLIMIT_NOFILE, 4096), so
   whatever number a shim used is now the program's pipe.
4. Another blocking read of a slow pipe, then: the program's own pipe must
   still hold exactly its 16 bytes.

SIGALRM after 10 s ends a hang with exit status 142 instead of blocking the
caller (the default action: the program has no handler).
"""
import os
import resource
import signal
import subprocess

signal.alarm(10)


def slow_read(text, delay):
    r, w = os.pipe()
    subprocess.Popen(["sh", "-c", "sleep %s; echo %s" % (delay, text)], stdout=w)
    os.close(w)
    data = os.read(r, 100)
    return r, data


r, data = slow_read("first", 0.2)
print("first read", data, flush=True)
os.closerange(3, 1 << 20)
mine_r, mine_w = os.pipe()
os.write(mine_w, b"0123456789abcdef")
late_r, late_w = os.pipe()
subprocess.Popen(["sh", "-c", "sleep 0.3; echo late"], stdout=late_w)
os.close(late_w)
limit = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 4096)
taken = 0
for fd in range(3, limit):
    if fd in (mine_r, mine_w, late_r):
        continue
    try:
        os.fstat(fd)
    except OSError:
        os.dup2(mine_r, fd)
        taken += 1
print("fd numbers reused", "many" if taken > 100 else taken, flush=True)
print("second read", os.read(late_r, 100), flush=True)
os.close(mine_w)
print("my pipe holds", os.read(mine_r, 100), flush=True)
