#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTPS server standing in for GitHub's meta API in the firewall tests.
Paths: /meta (a small meta document), /500, /hang (accepts, never answers),
/bad (not JSON), /big (over 4 MiB), /wide (a range no meta document has:
half the IPv4 internet), /linklocal (ranges, one of them over link-local
addresses). Prints "ready" once listening."""
import argparse
import http.server
import json
import socket
import ssl
import time

DOC = {
    "verifiable_password_authentication": False,
    "hooks": ["192.0.2.200/32"],
    "web": ["198.51.100.64/26", "2001:db8:5::/48"],
    "api": ["198.51.100.64/27", "203.0.113.128/25"],
    "git": ["203.0.113.128/25"],
    "packages": ["203.0.113.0/28"],
}


class Handler(http.server.BaseHTTPRequestHandler):
    def send_body(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/meta":
            self.send_body(200, json.dumps(DOC).replace("/", "\\/").encode())
        elif self.path == "/500":
            self.send_body(500, b"{}")
        elif self.path == "/hang":
            time.sleep(60)
        elif self.path == "/bad":
            self.send_body(200, b"<html>not json</html>", "text/html")
        elif self.path == "/wide":
            self.send_body(200, json.dumps(dict(DOC, web=["0.0.0.0/1"])).encode())
        elif self.path == "/linklocal":
            self.send_body(200, json.dumps(dict(DOC, web=["169.254.0.0/16", "198.51.100.64/26"])).encode())
        elif self.path == "/big":
            self.send_body(200, b"[" + b" " * (5 * 1024 * 1024) + b"]")
        else:
            self.send_body(404, b"{}")

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()
    srv = Server((args.listen, args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
