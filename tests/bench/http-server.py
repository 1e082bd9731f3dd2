#!/usr/bin/env python3
"""http-server.py [--delay-ms D]: a small HTTP/1.1 server on 127.0.0.1 for
bench-libs and bench-progs.  It binds an ephemeral port, prints it on
stdout, and answers every GET after D ms (default 0), one thread per
connection, keep-alive:

  /bytes/N     N bytes of a fixed pattern (a query string is ignored)
  anything     a short body naming the path (so each answer differs)

It runs until killed (the drivers stop it by pid)."""
import argparse
import http.server
import sys
import time

PATTERN = bytes(range(256)) * 4096


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    delay = 0.0

    def do_GET(self):
        if self.delay:
            time.sleep(self.delay)
        if self.path.startswith("/bytes/"):
            n = int(self.path[7:].split("?")[0])
            body = (PATTERN * (n // len(PATTERN) + 1))[:n]
        else:
            body = ("answer for %s\n" % self.path).encode() * 4
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024   # listen() backlog: 64 clients connect at once


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=0)
    Handler.delay = ap.parse_args().delay_ms / 1000
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
