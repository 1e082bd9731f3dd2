#!/usr/bin/env python3
"""bench-iops: coroutines doing plain blocking pread against fio.

For N in 1, 8, 32, 128: N coroutines on one thread, each a plain loop of
pread() of random 4 KiB blocks with O_DIRECT on a 1 GiB file (tests/iops),
under the uring backend against `fio --ioengine=io_uring --iodepth=N`, and
under the threads backend against `fio --ioengine=psync --numjobs=N`.
Runs are interleaved round by round; medians of --runs rounds.  Also the
buffered case: 32 coroutines and one plain pread loop on a page-cached file.
Prints a Markdown table."""
import argparse, os, re, statistics, subprocess, sys, tempfile, time

def run(cmd, env=None):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return out

def ours(prog, path, n, secs, backend, mode="direct"):
    env = dict(os.environ, ASYNCIFY_BACKEND=backend)
    env.pop("LD_PRELOAD", None)
    m = re.search(r"iops=(\d+)", run([prog, path, str(n), str(secs), mode], env))
    return float(m.group(1))

def fio(path, n, secs, engine):
    cmd = ["fio", "--name=b", "--filename=" + path, "--rw=randread", "--bs=4k",
           "--direct=1", "--time_based", "--runtime=%d" % secs, "--output-format=terse",
           "--ioengine=" + engine]
    cmd += ["--iodepth=%d" % n] if engine == "io_uring" else ["--numjobs=%d" % n, "--group_reporting"]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return float(run(cmd, env).split(";")[7])

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prog", required=True, help="the tests/iops program")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secs", type=int, default=3)
    ap.add_argument("--depths", default="1,8,32,128")
    ap.add_argument("--dir", default="/var/tmp")
    a = ap.parse_args()
    try:
        subprocess.run(["fio", "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        print("bench-iops: fio is not installed (apt-get install fio); skipped")
        return 0
    d = tempfile.mkdtemp(dir=a.dir, prefix="asy-iops-")
    big, small = os.path.join(d, "big"), os.path.join(d, "small")
    try:
        with open(big, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(1024):
                f.write(chunk)
        with open(small, "wb") as f:
            f.write(os.urandom(16 << 20))
        with open(small, "rb") as f:
            while f.read(1 << 20):
                pass
        depths = [int(x) for x in a.depths.split(",")]
        res = {}
        for r in range(a.runs):
            for n in depths:
                for key, fn in (("uring", lambda: ours(a.prog, big, n, a.secs, "uring")),
                                ("fio-uring", lambda: fio(big, n, a.secs, "io_uring")),
                                ("threads", lambda: ours(a.prog, big, n, a.secs, "threads")),
                                ("fio-psync", lambda: fio(big, n, a.secs, "psync"))):
                    res.setdefault((key, n), []).append(fn())
            for key, n, be in (("plain", 0, "uring"), ("coro32", 32, "uring"), ("coro32-threads", 32, "threads")):
                res.setdefault((key, 0), []).append(ours(a.prog, small, n, 1, be, "buffered"))
            print("round %d/%d done" % (r + 1, a.runs), file=sys.stderr)
        med = {k: statistics.median(v) for k, v in res.items()}
        print("O_DIRECT random 4 KiB reads, 1 GiB file; medians of %d interleaved rounds of %d s" % (a.runs, a.secs))
        print()
        print("| N | coroutines, uring | fio io_uring iodepth=N | ratio | coroutines, threads | fio psync numjobs=N | ratio |")
        print("|---|---|---|---|---|---|---|")
        for n in depths:
            u, fu, t, fp = med[("uring", n)], med[("fio-uring", n)], med[("threads", n)], med[("fio-psync", n)]
            print("| %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |" % (n, u, fu, u / fu, t, fp, t / fp))
        print()
        p = med[("plain", 0)]
        print("Buffered (page-cached 16 MiB) random 4 KiB pread, reads/s: plain loop %.0f; "
              "32 coroutines uring %.0f (%.2f); 32 coroutines threads %.0f (%.2f)"
              % (p, med[("coro32", 0)], med[("coro32", 0)] / p,
                 med[("coro32-threads", 0)], med[("coro32-threads", 0)] / p))
    finally:
        for f in (big, small):
            if os.path.exists(f):
                os.unlink(f)
        os.rmdir(d)
    return 0

if __name__ == "__main__":
    sys.exit(main())
