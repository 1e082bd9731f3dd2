#!/usr/bin/env python3
"""net-progs.py — bench-progs: unmodified socket-heavy programs with and
without the shim, side by side.

  net-progs.py --lib LIB --bin DIR [--runs N] [--fetches F] [--secs S]
               [--only curl,redis,postgres,nginx]

  curl           one curl process fetching 256 KiB F times (default 500)
                 from tests/bench/http-server.py on loopback; the curl
                 process runs under each variant, the server never does
  redis-server   redis-server run under each variant, loaded by
                 redis-benchmark (without the shim): 50 clients, 100 000
                 SET and 100 000 GET; timed: the benchmark's wall time
                 (the inverse of its requests per second) and the
                 server's CPU time
  postgres       Debian's PostgreSQL server (a throw-away cluster, fsync
                 and synchronous_commit on) run under each variant, loaded
                 by pgbench (without the shim, 8 clients, 2 threads, S
                 seconds, default 3): its TPC-B-like transactions, then
                 select-only; timed per transaction: the inverse of the
                 transactions per second and the server's CPU time (the
                 postmaster and every process it reaped)
  nginx          nginx (one worker) run under each variant, serving a
                 1 KiB page and a 64 KiB file (sendfile) to 64 keep-alive
                 connections of echo-load (DIR, without the shim) for S
                 seconds; timed per request, as postgres

Variants: none (no LD_PRELOAD), off, uring, threads.  In every round each
variant runs once, in an order rotated round by round; reported: the median
over the rounds and its ratio to none, of the wall time and of the CPU
time (user + sys) of the shimmed program.  Goal (issue 10): <= 1.03 under
uring, <= 1.10 under threads; the verdict reads the CPU time, which the
load of a shared machine moves much less than the wall time.  A second
verdict reads the servers' throughput (CONTRACT 6: redis, postgres and
nginx keep >= 97% of it, a time ratio <= 1/0.97).  A program that is not
installed is skipped with a message.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from netbench import env_for, free_port, reap, stop, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ("none", "off", "uring", "threads")
GOAL = {"uring": 1.03, "threads": 1.10}
SERVER_GOAL = 1 / 0.97  # time per request of a server, shimmed / plain
SERVERS = ("redis", "postgres", "nginx")


def curl_run(args, variant, url):
    """(wall, CPU) seconds of one curl process making args.fetches transfers."""
    argv = ["curl", "-sS", "-f", "-o", "/dev/null", "%s?n=[1-%d]" % (url, args.fetches)]
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         env=env_for(args.lib, variant if variant != "none" else None))
    cpu = reap(p, 300)
    return (time.perf_counter() - t, cpu) if p.returncode == 0 else None


def redis_run(args, variant):
    """(wall seconds of redis-benchmark, CPU seconds of the redis-server
    under variant)."""
    port = free_port()
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                            "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                           env=env_for(args.lib, variant if variant != "none" else None))
    try:
        if not wait_port(port, srv):
            return None
        t = time.perf_counter()
        r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q",
                            "-c", "50", "-n", "100000", "-t", "set,get"],
                           stdout=subprocess.DEVNULL, env=env_for(None, None), timeout=300)
        wall = time.perf_counter() - t
    except subprocess.TimeoutExpired:
        r = None
    finally:
        cpu = reap(srv, 0, signal.SIGTERM)  # redis-server exits 0 on SIGTERM
    return (wall, cpu) if r and r.returncode == 0 and cpu is not None else None


def pg_bin():
    """Debian's newest PostgreSQL bin directory, or None."""
    base = "/usr/lib/postgresql"
    vers = sorted((d for d in os.listdir(base) if d.isdigit()), key=int) if os.path.isdir(base) else []
    b = vers and os.path.join(base, vers[-1], "bin")
    return b if b and all(os.access(os.path.join(b, x), os.X_OK)
                          for x in ("initdb", "postgres", "pgbench", "pg_isready")) else None


def as_pg(argv):
    """argv run as the user postgres when root (the server refuses root);
    setpriv execs it, so the child's pid is the program's."""
    if os.getuid() == 0:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + argv
    return argv


class Postgres:
    """A throw-away cluster under /tmp (the server's user must reach it),
    made and filled (pgbench -i -s 2) once, without the shim."""

    def __init__(self, bindir):
        self.bin = bindir
        self.dir = tempfile.mkdtemp(prefix="asy-bench-pg.", dir="/tmp")
        os.chmod(self.dir, 0o755)
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.env = env_for(None, None)
        self.env.update(PGHOST=self.dir, PGUSER="postgres", PGDATABASE="postgres")
        subprocess.run(as_pg([self.tool("initdb"), "-D", self.dir + "/data", "-A", "trust",
                              "-U", "postgres", "--no-sync"]), env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        srv = self.start(None)
        try:
            subprocess.run([self.tool("pgbench"), "-i", "-s", "2", "-q"], env=self.env,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=120)
        finally:
            reap(srv, 0, signal.SIGINT)

    def tool(self, name):
        return os.path.join(self.bin, name)

    def start(self, lib, variant=None):
        """The server under variant (None: without the shim), ready."""
        srv = subprocess.Popen(as_pg([self.tool("postgres"), "-D", self.dir + "/data",
                                      "-k", self.dir, "-c", "listen_addresses=",
                                      "-c", "max_connections=30", "-c", "fsync=on",
                                      "-c", "synchronous_commit=on"]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env_for(lib, variant))
        for _ in range(400):
            if srv.poll() is not None or subprocess.run(
                    [self.tool("pg_isready"), "-q"], env=self.env).returncode == 0:
                break
            time.sleep(0.05)
        return srv

    def run(self, args, variant, select_only):
        """(seconds per transaction, server CPU seconds per transaction)."""
        srv = self.start(args.lib, variant if variant != "none" else None)
        r = None
        try:
            if srv.poll() is None:
                r = subprocess.run([self.tool("pgbench"), "-n", "-c", "8", "-j", "2", "-T",
                                    str(args.secs)] + (["-S"] if select_only else []),
                                   env=self.env, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            r = None
        finally:
            cpu = reap(srv, 10, signal.SIGINT)  # fast shutdown: exit 0
        if r and r.returncode:
            print("  pgbench: %s" % r.stderr.strip()[-300:], file=sys.stderr)
        tps = r and re.search(r"tps = ([0-9.]+) \(without initial", r.stdout)
        done = r and re.search(r"actually processed: ([0-9]+)", r.stdout)
        if not (r and r.returncode == 0 and tps and done and cpu is not None):
            return None
        return 1 / float(tps.group(1)), cpu / int(done.group(1))

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


NGINX_CONF = """daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  sendfile on;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  server {{ listen 127.0.0.1:{port}; root {d}/www; }}
}}
"""


class Nginx:
    """A directory under /tmp with nginx's config and the two files (its
    worker, user nobody when root, must read them)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="asy-bench-nginx.", dir="/tmp")
        os.chmod(self.dir, 0o755)
        for sub in ("www", "tmp"):
            os.mkdir(os.path.join(self.dir, sub), 0o755)
        for name, size in (("page.html", 1024), ("file.bin", 65536)):
            with open(os.path.join(self.dir, "www", name), "wb") as f:
                f.write(bytes((i * 7 + 13) % 251 for i in range(size)))
            os.chmod(os.path.join(self.dir, "www", name), 0o644)

    def run(self, args, variant, path):
        """(seconds per request, server CPU seconds per request)."""
        port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(d=self.dir, port=port))
        srv = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               env=env_for(args.lib, variant if variant != "none" else None))
        r = None
        try:
            if wait_port(port, srv):
                r = subprocess.run([os.path.join(args.bin, "echo-load"), str(port), "64",
                                    str(args.secs), path], capture_output=True, text=True,
                                   env=env_for(None, None), timeout=60)
        except subprocess.TimeoutExpired:
            r = None
        finally:
            cpu = reap(srv, 0, signal.SIGTERM)  # nginx exits 0 on SIGTERM
        if r and r.returncode:
            print("  echo-load: %s" % r.stderr.strip()[-300:], file=sys.stderr)
        if not (r and r.returncode == 0 and cpu is not None):
            return None
        rate, answered = (float(x) for x in r.stdout.split()[:2])
        return 1 / rate, cpu / answered

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--bin", required=True, help="the directory of echo-load")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--fetches", type=int, default=500)
    ap.add_argument("--secs", type=int, default=3, help="seconds of each postgres and nginx load")
    ap.add_argument("--only", default=",".join(("curl",) + SERVERS))
    args = ap.parse_args()
    only = set(args.only.split(","))
    http = subprocess.Popen([sys.executable, os.path.join(HERE, "http-server.py")],
                            stdout=subprocess.PIPE)
    url = "http://127.0.0.1:%s/bytes/262144" % http.stdout.readline().decode().strip()
    work, cleanup = {}, []

    def have(name, ok, missing):
        """Whether to measure name: asked for (--only) and installed."""
        if name in only and not ok:
            print("bench-progs: %s; %s skipped" % (missing, name))
        return name in only and ok

    if have("curl", shutil.which("curl"), "curl is not installed (apt-get install curl)"):
        work["curl, %d x 256 KiB" % args.fetches] = lambda v: curl_run(args, v, url)
    if have("redis", shutil.which("redis-server") and shutil.which("redis-benchmark"),
            "redis-server or redis-benchmark is not installed (apt-get install redis-server redis-tools)"):
        work["redis-server, redis-benchmark"] = lambda v: redis_run(args, v)
    if have("postgres", pg_bin() and (os.getuid() != 0 or shutil.which("setpriv")),
            "PostgreSQL's server is not installed (apt-get install postgresql)"):
        pg = Postgres(pg_bin())
        cleanup.append(pg.remove)
        work["postgres, pgbench TPC-B, 8 clients"] = lambda v: pg.run(args, v, False)
        work["postgres, pgbench select-only, 8 clients"] = lambda v: pg.run(args, v, True)
    if have("nginx", shutil.which("nginx") and os.access(os.path.join(args.bin, "echo-load"), os.X_OK),
            "nginx is not installed (apt-get install nginx)"):
        ngx = Nginx()
        cleanup.append(ngx.remove)
        work["nginx, 1 KiB page, 64 connections"] = lambda v: ngx.run(args, v, "/page.html")
        work["nginx, 64 KiB file (sendfile), 64 connections"] = \
            lambda v: ngx.run(args, v, "/file.bin")
    per_request = {w for w in work if w.startswith(("postgres", "nginx"))}
    if not work:
        stop(http)
        print("bench-progs: nothing to measure; skipped")
        return 0
    got = {(w, v): [] for w in work for v in VARIANTS}
    failed = 0
    try:
        for r in range(args.runs):
            for w, fn in work.items():
                for v in VARIANTS[r % 4:] + VARIANTS[:r % 4]:
                    x = fn(v)
                    failed += x is None
                    if x is None:
                        print("  %s under %s failed" % (w, v), file=sys.stderr)
                    else:
                        got[(w, v)].append(x)
            print("  round %d/%d done" % (r + 1, args.runs), file=sys.stderr)
    finally:
        stop(http)
        for f in cleanup:
            f()
    return report(args, work, got, failed, per_request)


def report(args, work, got, failed, per_request):
    print("\nbench-progs: median of %d rounds; ratio to the run without the shim, "
          "of the wall time and [of the CPU time] (postgres and nginx: per transaction "
          "or request)\n" % args.runs)
    print("| program | none: wall, CPU | off | uring | threads | goal (uring / threads) |")
    print("|---|---|---|---|---|---|")
    missed, slower = [], []
    for w in work:
        med = {v: (statistics.median(x[0] for x in got[(w, v)]),
                   statistics.median(x[1] for x in got[(w, v)])) if got[(w, v)] else None
               for v in VARIANTS}
        base = med["none"]
        if not base:
            cells = ["fail"]
        elif w in per_request:
            cells = ["%.1f µs, %.1f µs" % (base[0] * 1e6, base[1] * 1e6)]
        else:
            cells = ["%.3f s, %.3f s" % base]
        for v in VARIANTS[1:]:
            ok = med[v] and base
            cells.append("%.3f [%.3f]" % (med[v][0] / base[0], med[v][1] / base[1]) if ok else "fail")
            if v in GOAL and (not ok or med[v][1] / base[1] > GOAL[v]):
                missed.append("%s %s %s" % (w, v, cells[-1]))
            if v in GOAL and w.startswith(SERVERS) and (not ok or med[v][0] / base[0] > SERVER_GOAL):
                slower.append("%s %s %s" % (w, v, cells[-1]))
        print("| %s | %s | <= %.2f / <= %.2f |" % (w, " | ".join(cells), GOAL["uring"],
                                                  GOAL["threads"]))
    print("\nbench-progs: goal (CPU time) <= %.2f under uring, <= %.2f under threads: %s" % (
        GOAL["uring"], GOAL["threads"], "met" if not missed else "missed: " + "; ".join(missed)))
    if any(w.startswith(SERVERS) for w in work):
        print("bench-progs: servers keep >= 97%% of their throughput (time ratio <= %.3f) under "
              "uring and threads: %s" % (SERVER_GOAL, "met" if not slower
                                          else "missed: " + "; ".join(slower)))
    if failed:
        print("bench-progs: %d runs failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
