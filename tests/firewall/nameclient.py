#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Clients for the name-check tests, run inside the sandbox namespace; each
prints one JSON object with "result": "ok", "reset", "refused", "eof",
"timeout" or "error:NAME", and what it got.

  ADDR may be resolve:NAME, NAME's IPv6 address as the sandbox's DNS answers.

  tls ADDR PORT NAME CAFILE [SECONDS]
                              TLS with server name NAME ("-": none),
                              verifying the server's certificate for NAME
                              against CAFILE ("-": no verification); sends
                              "hi", reads one line; "issuer" is the
                              certificate issuer's common name
  tlsbulk ADDR NAME CAFILE N  asks for N bytes over TLS; "sha256" of them
  http ADDR PORT HOST PATH    one HTTP/1.1 GET; "body"
  bulk ADDR HOST N            GET /bytes/N on port 80; "sha256", "bytes"
  halfclose ADDR HOST N       POST /until-eof with N bytes, then
                              shutdown(SHUT_WR) before reading; "body"
  raw ADDR PORT HEX           sends the bytes, reads; "reply"
  flood ADDR PORT N           N connections sending garbage, all at once;
                              "resets": how many the other end reset
  hold ADDR NAME CAFILE N     N TLS connections, each "hi" and its answer,
                              then idle: prints {"open": N} and waits for a
                              line on stdin; then "hi" once more on each,
                              "again": how many answered "hello NAME"
"""
import errno
import hashlib
import json
import socket
import ssl
import sys
import time

TIMEOUT = 5.0


def connect(addr, port):
    """addr "resolve:NAME": NAME's IPv6 address, asked of the sandbox's DNS."""
    if addr.startswith("resolve:"):
        addr = socket.getaddrinfo(addr[len("resolve:"):], int(port), socket.AF_INET6, socket.SOCK_STREAM)[0][4][0]
    s = socket.create_connection((addr, int(port)), timeout=TIMEOUT)
    return s


def outcome(fn):
    start = time.monotonic()
    try:
        out = fn()
        out.setdefault("result", "ok")
    except ConnectionResetError:
        out = {"result": "reset"}
    except ConnectionRefusedError:
        out = {"result": "refused"}
    except socket.timeout:
        out = {"result": "timeout"}
    except ssl.SSLEOFError:
        out = {"result": "eof"}
    except ssl.SSLError as e:
        out = {"result": "error:ssl", "why": str(e)}
    except OSError as e:
        out = {"result": "error:" + errno.errorcode.get(e.errno, str(e.errno))}
    out["ms"] = round((time.monotonic() - start) * 1000, 1)
    print(json.dumps(out))


def recv_all(s):
    data = b""
    while True:
        more = s.recv(1 << 20)
        if not more:
            return data
        data += more


def http_response(data):
    if not data:
        return {"result": "eof"}
    head, _, body = data.partition(b"\r\n\r\n")
    return {"status": head.split(b"\r\n")[0].decode(), "body": body.decode("latin-1")}


def tls_context(name, cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile == "-":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile)
        if name == "-":
            ctx.check_hostname = False
    return ctx


def tls(addr, port, name, cafile, seconds=TIMEOUT):
    s = connect(addr, port)
    s.settimeout(float(seconds))
    t = tls_context(name, cafile).wrap_socket(s, server_hostname=None if name == "-" else name)
    t.sendall(b"hi\n")
    line = t.makefile("rb").readline().decode().strip()
    if not line:
        return {"result": "eof"}
    cert = t.getpeercert() or {}
    issuer = dict(x[0] for x in cert.get("issuer", ()))
    return {"reply": line, "issuer": issuer.get("commonName")}


def tlsbulk(addr, name, cafile, n):
    s = connect(addr, 443)
    t = tls_context(name, cafile).wrap_socket(s, server_hostname=name)
    t.sendall(b"bulk %d\n" % int(n))
    h, got = hashlib.sha256(), 0
    while got < int(n):
        more = t.recv(1 << 20)
        if not more:
            break
        h.update(more)
        got += len(more)
    return {"bytes": got, "sha256": h.hexdigest()}


def http(addr, port, host, path):
    s = connect(addr, port)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    return http_response(recv_all(s))


def bulk(addr, host, n):
    s = connect(addr, 80)
    s.settimeout(60)
    s.sendall(f"GET /bytes/{n} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        more = s.recv(65536)
        if not more:
            return {"result": "eof"}
        head += more
    head, _, rest = head.partition(b"\r\n\r\n")
    h, got = hashlib.sha256(rest), len(rest)
    buf = bytearray(1 << 20)
    while True:
        k = s.recv_into(buf)
        if not k:
            break
        h.update(memoryview(buf)[:k])
        got += k
    return {"bytes": got, "sha256": h.hexdigest()}


def halfclose(addr, host, n):
    s = connect(addr, 80)
    body = bytes(range(256)) * (int(n) // 256)
    # The body's length is declared: the proxy follows request framing, and
    # bytes after a head without one would be read as the next request.
    s.sendall(f"POST /until-eof HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    s.shutdown(socket.SHUT_WR)
    out = http_response(recv_all(s))
    out["sent_sha256"] = hashlib.sha256(body).hexdigest()
    out["sent"] = len(body)
    return out


def raw(addr, port, hexbytes):
    s = connect(addr, port)
    s.sendall(bytes.fromhex(hexbytes))
    data = s.recv(65536)
    return {"reply": data.hex()} if data else {"result": "eof"}


def flood(addr, port, n):
    socks = []
    for _ in range(int(n)):
        s = socket.create_connection((addr, int(port)), timeout=TIMEOUT)
        s.sendall(b"\0" * 32)
        socks.append(s)
    resets = 0
    for s in socks:
        try:
            resets += s.recv(1) == b""
        except ConnectionResetError:
            resets += 1
    return {"resets": resets}


def hold(addr, name, cafile, n):
    ctx, conns = tls_context(name, cafile), []
    for _ in range(int(n)):
        t = ctx.wrap_socket(connect(addr, 443), server_hostname=name)
        t.sendall(b"hi\n")
        assert t.recv(100) == b"hello %s\n" % name.encode()
        conns.append(t)
    print(json.dumps({"open": len(conns)}), flush=True)
    sys.stdin.readline()
    again = 0
    for t in conns:
        t.sendall(b"hi\n")
        again += t.recv(100) == b"hello %s\n" % name.encode()
    return {"again": again}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"tls": tls, "tlsbulk": tlsbulk, "http": http, "bulk": bulk, "halfclose": halfclose, "raw": raw,
          "flood": flood, "hold": hold}[cmd]
    outcome(lambda: fn(*args))


if __name__ == "__main__":
    main()
