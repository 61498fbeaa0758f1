#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The fake internet's name-based virtual hosts, run inside the 'network'
namespace: TLS on --tls-port and HTTP on --http-port, on every address,
serving any name, like a CDN edge. Each connection is logged to --log as
"tls NAME" (the ClientHello's server name, "-" for none) or "http HOST",
so a test can tell whether anything reached the server. Prints "ready".

TLS: after the handshake, each line "bulk N" is answered with N bytes;
an HTTP request (curl's) with one response "hello NAME", then the end;
anything else with "hello NAME".
HTTP/1.1 (one request per connection):
  GET /bytes/N     N bytes of a fixed pattern (sha256 checked by the client)
  GET /zeros/N     N zero bytes, spliced from /dev/zero (the benchmark's)
  POST /until-eof  reads until the client's end of stream, then answers
                   "read N SHA256": the half-close reached the server
  anything else    "host HOST"
"""
import argparse
import hashlib
import os
import socket
import ssl
import sys
import threading

PATTERN = bytes(range(256)) * 4096      # 1 MiB


def send_bytes(conn, n):
    while n > 0:
        chunk = PATTERN if n >= len(PATTERN) else PATTERN[:n]
        conn.sendall(chunk)
        n -= len(chunk)


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            return None, b""
        data += more
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def serve_http(conn, log):
    head, rest = read_head(conn)
    if head is None:
        return
    lines = head.split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    host = next((l.split(":", 1)[1].strip() for l in lines[1:] if l.lower().startswith("host:")), "-")
    log(f"http {host}")
    if method == "GET" and path.startswith("/bytes/"):
        n = int(path[len("/bytes/"):])
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
        send_bytes(conn, n)
        return
    if method == "GET" and path.startswith("/zeros/"):
        # For the benchmark: zeros from the kernel to the socket without
        # passing through Python, so the endpoints cost little CPU.
        n = int(path[len("/zeros/"):])
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
        zero = os.open("/dev/zero", os.O_RDONLY)
        r, w = os.pipe()
        try:
            while n > 0:
                k = os.splice(zero, w, min(n, 1 << 20))
                while k > 0:
                    sent = os.splice(r, conn.fileno(), k)
                    k -= sent
                    n -= sent
        finally:
            for fd in (zero, r, w):
                os.close(fd)
        return
    if method == "POST" and path == "/until-eof":
        h, total = hashlib.sha256(rest), len(rest)
        while True:
            more = conn.recv(1 << 20)
            if not more:
                break
            h.update(more)
            total += len(more)
        body = f"read {total} {h.hexdigest()}".encode()
    else:
        body = f"host {host}".encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


def serve_tls(conn, ctx, log):
    ctx_conn = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
    try:
        ctx_conn.do_handshake()
    except (ssl.SSLError, OSError):
        return
    name = getattr(ctx_conn, "asb_name", None) or "-"
    log(f"tls {name}")
    f = ctx_conn.makefile("rb")
    for line in f:
        if line.startswith(b"GET "):
            while f.readline() not in (b"\r\n", b"\n", b""):
                pass
            body = b"hello " + name.encode() + b"\n"
            ctx_conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                             + body)
            return
        words = line.split()
        if len(words) == 2 and words[0] == b"bulk":
            send_bytes(ctx_conn, int(words[1]))
        else:
            ctx_conn.sendall(b"hello " + name.encode() + b"\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--tls-port", type=int, default=443)
    ap.add_argument("--http-port", type=int, default=80, help="0: no HTTP")
    ap.add_argument("--bind", default="::", help="one address instead of every address")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    out = open(args.log, "a", buffering=1)
    lock = threading.Lock()

    def log(line):
        with lock:
            out.write(line + "\n")

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)

    def remember(sslobj, name, _ctx):
        sslobj.asb_name = name

    ctx.sni_callback = remember

    def listen(port):
        family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((args.bind, port))
        s.listen(1024)
        return s

    def accept_loop(s, handler):
        while True:
            conn, _ = s.accept()
            # Small answers go out at once, not after the client's delayed ACK.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=guarded, args=(handler, conn), daemon=True).start()

    def guarded(handler, conn):
        try:
            handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    tls = listen(args.tls_port)
    threading.Thread(target=accept_loop, args=(tls, lambda c: serve_tls(c, ctx, log)), daemon=True).start()
    if args.http_port:
        http = listen(args.http_port)
        threading.Thread(target=accept_loop, args=(http, lambda c: serve_http(c, log)), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
