#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Load for the name gate benchmark, run inside the sandbox namespace as
the sandbox user against tests/firewall/nameserver.py. Prints one JSON
object on stdout.

  setup ADDR PORT NAME CAFILE N   N TLS connections one after another:
                                  connect, handshake (verified), "hi",
                                  the answer, close; "ms" per connection
  bulk ADDR PORT NAME CAFILE N    N bytes over one TLS connection; "s", and
                                  "cpu_s" the client's CPU time
  httpbulk ADDR PORT HOST N       N zero bytes over one HTTP connection, spliced
                                  to /dev/null (neither end copies them
                                  through Python); "s", "cpu_s"
  hold ADDR PORT NAME CAFILE N    N TLS connections kept open, idle: prints
                                  {"open": N} and waits for a line on stdin
  silent ADDR PORT N              N TCP connections that send nothing:
                                  prints {"open": N}, then on each stdin line
                                  {"closed": how many the other end closed}
"""
import json
import os
import resource
import select
import socket
import ssl
import sys
import time


def ctx(cafile):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(cafile)
    return c


def tls_connect(c, addr, port, name):
    s = socket.create_connection((addr, int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c.wrap_socket(s, server_hostname=name)


def setup(addr, port, name, cafile, n):
    c, out = ctx(cafile), []
    for _ in range(int(n)):
        start = time.perf_counter()
        t = tls_connect(c, addr, port, name)
        t.sendall(b"hi\n")
        assert t.recv(100).startswith(b"hello")
        out.append((time.perf_counter() - start) * 1000)
        t.close()
    return {"ms": out}


def cpu_s():
    """This process's CPU time so far (user + system)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def drain(sock, n):
    buf, got = bytearray(1 << 20), 0
    while got < n:
        k = sock.recv_into(buf)
        if not k:
            break
        got += k
    return got


def bulk(addr, port, name, cafile, n):
    t = tls_connect(ctx(cafile), addr, port, name)
    start = time.perf_counter()
    t.sendall(b"bulk %d\n" % int(n))
    got = drain(t, int(n))
    return {"s": time.perf_counter() - start, "bytes": got, "cpu_s": cpu_s()}


def httpbulk(addr, port, host, n):
    s = socket.create_connection((addr, int(port)), timeout=30)
    start = time.perf_counter()
    s.sendall(f"GET /zeros/{n} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    s.settimeout(None)      # blocking: splice does not wait on a non-blocking socket
    null = os.open("/dev/null", os.O_WRONLY)
    r, w = os.pipe()
    got = 0
    while True:
        k = os.splice(s.fileno(), w, 1 << 20)
        if not k:
            break
        got += k
        while k > 0:
            k -= os.splice(r, null, k)
    return {"s": time.perf_counter() - start, "bytes": got, "cpu_s": cpu_s()}


def hold(addr, port, name, cafile, n):
    c = ctx(cafile)
    conns = []
    for _ in range(int(n)):
        t = tls_connect(c, addr, port, name)
        t.sendall(b"hi\n")
        t.recv(100)
        conns.append(t)
    print(json.dumps({"open": len(conns)}), flush=True)
    sys.stdin.readline()
    return {"held": len(conns)}


def silent(addr, port, n):
    conns = []
    for _ in range(int(n)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((addr, int(port)))
        except BlockingIOError:
            pass
        conns.append(s)
    print(json.dumps({"open": len(conns)}), flush=True)
    closed = set()
    while sys.stdin.readline():
        for i, s in enumerate(conns):
            if i in closed:
                continue
            r, _, _ = select.select([s], [], [], 0)
            if r:
                try:
                    if s.recv(1) == b"":
                        closed.add(i)
                except OSError:
                    closed.add(i)
        print(json.dumps({"closed": len(closed)}), flush=True)
    return {"done": True}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"setup": setup, "bulk": bulk, "httpbulk": httpbulk, "hold": hold, "silent": silent}[cmd]
    print(json.dumps(fn(*args)), flush=True)


if __name__ == "__main__":
    main()
