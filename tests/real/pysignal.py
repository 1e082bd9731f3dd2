#!/usr/bin/env python3
"""pysignal.py [restart] — read stdin to EOF while SIGALRM fires every 50 ms.

Without `restart` the handler is installed as CPython does it (no
SA_RESTART): a blocked os.read returns EINTR, CPython runs the handler and
retries (PEP 475).  With `restart`, signal.siginterrupt(SIGALRM, False)
sets SA_RESTART and the read continues inside the kernel (or the shim).
Either way no byte may be lost or duplicated.  Prints the byte count, a
digest and whether the Python handler ran: at least 4 times without
SA_RESTART (the feeder pauses for 1 s in all), at least once with it
(CPython runs Python-level handlers only when the read has returned)."""
import hashlib
import os
import signal
import sys

count = 0


def handler(signum, frame):
    global count
    count += 1


signal.signal(signal.SIGALRM, handler)
restart = len(sys.argv) > 1 and sys.argv[1] == "restart"
if restart:
    signal.siginterrupt(signal.SIGALRM, False)
signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
h, n = hashlib.sha256(), 0
while True:
    b = os.read(0, 65536)
    if not b:
        break
    h.update(b)
    n += len(b)
signal.setitimer(signal.ITIMER_REAL, 0, 0)
enough = 1 if restart else 4
print(n, h.hexdigest()[:16], "handler ran" if count >= enough else "handler ran %d times" % count)
