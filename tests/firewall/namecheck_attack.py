#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attacks on the name gate, run in the sandbox namespace
(as the sandbox user). Each prints one JSON object.

  http ADDR PORT HOST1 HOST2 keepalive|pipeline
        two HTTP/1.1 requests on one connection, Host HOST1 then HOST2:
        one after the first answer (keepalive) or both in one write
        (pipeline); {"replies": [...], "error": ...}
  tls ADDR PORT SNI [--ech]
        a TLS 1.3 ClientHello naming SNI, with an encrypted_client_hello
        extension when --ech; {"result": "open"|"reset"|"closed"}
        ("open": the connection was still up 1.5 s later)
  hrr ADDR PORT SNI1 SNI2
        a TLS 1.3 ClientHello naming SNI1 with no key share, so that the
        server asks again (HelloRetryRequest); the second ClientHello, with
        the key share, names SNI2: {"hrr": bool, "second": ...}
  raw ADDR PORT HEX
        sends the bytes, reads until the end or 1.5 s of silence:
        {"result": "open"|"reset"|"closed", "data": text}
  crowd ADDR PORT N SNI
        opens N connections that send nothing and holds them, then tries
        one ClientHello naming SNI: {"opened", "refused", "result"}"""
import resource
import json
import os
import socket
import struct
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def connect(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect((addr, port))
    return s


PENDING = {}


def read_reply(s):
    """One HTTP/1.1 reply with Content-Length; what came after it waits
    for the next call."""
    buf = PENDING.pop(s, b"")
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    PENDING[s] = body[length:]
    return body[:length].decode(errors="replace")


def http(addr, port, host1, host2, mode):
    req = lambda h: f"GET / HTTP/1.1\r\nHost: {h}\r\nUser-Agent: t\r\n\r\n".encode()
    replies = []
    try:
        s = connect(addr, int(port))
        if mode == "pipeline":
            s.sendall(req(host1) + req(host2))
            replies.append(read_reply(s))
            replies.append(read_reply(s))
        else:
            s.sendall(req(host1))
            replies.append(read_reply(s))
            s.sendall(req(host2))
            replies.append(read_reply(s))
        return {"replies": replies, "error": None}
    except OSError as e:
        return {"replies": replies, "error": type(e).__name__}


def ext(t, data):
    return struct.pack("!HH", t, len(data)) + data


def client_hello(sni, ech, key_share=True, session_id=None):
    name = sni.encode()
    exts = ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    exts += ext(43, b"\x02\x03\x04")                                     # supported_versions: TLS 1.3
    exts += ext(10, b"\x00\x02\x00\x1d")                                 # supported_groups: x25519
    exts += ext(13, b"\x00\x04\x04\x03\x08\x04")                         # signature_algorithms
    share = b"\x00\x1d\x00\x20" + os.urandom(32) if key_share else b""
    exts += ext(51, struct.pack("!H", len(share)) + share)              # key_share
    if ech:
        # ECHClientHello, outer: the real ClientHello (and its name) is in
        # the encrypted payload, for the front end's key to open.
        enc, payload = os.urandom(32), os.urandom(200)
        exts += ext(0xfe0d, b"\x00" + struct.pack("!HH", 1, 1) + b"\x2a" +
                    struct.pack("!H", len(enc)) + enc + struct.pack("!H", len(payload)) + payload)
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + (session_id or os.urandom(32)) + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls(addr, port, sni, ech):
    try:
        s = connect(addr, int(port))
        s.sendall(client_hello(sni, ech))
        s.settimeout(1.5)
        try:
            data = s.recv(100)
            return {"result": "closed" if not data else "data"}
        except socket.timeout:
            return {"result": "open"}
    except ConnectionResetError:
        return {"result": "reset"}
    except OSError as e:
        return {"result": type(e).__name__}


# ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def hrr(addr, port, sni1, sni2):
    got_hrr = "?"
    try:
        s = connect(addr, int(port))
        session_id = os.urandom(32)
        s.sendall(client_hello(sni1, False, key_share=False, session_id=session_id))
        buf = b""
        while len(buf) < 5 or len(buf) < 5 + int.from_bytes(buf[3:5], "big"):
            data = s.recv(4096)
            if not data:
                return {"hrr": False, "second": "closed"}
            buf += data
        if HRR_RANDOM not in buf[:5 + int.from_bytes(buf[3:5], "big")]:
            return {"hrr": False, "second": None}
        got_hrr = True
        # The compatibility ChangeCipherSpec, then the second ClientHello.
        s.sendall(b"\x14\x03\x03\x00\x01\x01" + client_hello(sni2, False, session_id=session_id))
        s.settimeout(2)
        data = s.recv(4096)
        return {"hrr": True, "second": "reply" if data else "closed"}
    except OSError as e:
        # A reset after the HelloRetryRequest is the refusal of the second.
        return {"hrr": got_hrr, "second": type(e).__name__}


def raw(addr, port, hexbytes):
    data = b""
    try:
        s = connect(addr, int(port))
        s.sendall(bytes.fromhex(hexbytes))
        s.settimeout(1.5)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return {"result": "closed", "data": data.decode(errors="replace")}
            data += chunk
    except socket.timeout:
        return {"result": "open", "data": data.decode(errors="replace")}
    except ConnectionResetError:
        return {"result": "reset", "data": data.decode(errors="replace")}


def crowd(addr, port, n, sni):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held, refused = [], 0
    for _ in range(int(n)):
        try:
            held.append(connect(addr, int(port)))
        except OSError:
            refused += 1        # the proxy is full: what the attack is after
    time.sleep(0.5)
    return dict(tls(addr, port, sni, False), opened=len(held), refused=refused)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "http":
        out = http(*args)
    elif cmd == "tls":
        out = tls(args[0], args[1], args[2], "--ech" in args)
    elif cmd == "hrr":
        out = hrr(*args)
    elif cmd == "raw":
        out = raw(*args)
    elif cmd == "crowd":
        out = crowd(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
