#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A DNS client for the tests, run inside the sandbox namespace as the
sandbox user: one query over UDP or TCP to ADDR:53, one JSON line out.

  dnsclient.py [--tcp] [--port N] SERVER NAME [TYPE]      TYPE: A, AAAA, TXT, MX (default A)

Prints {"rcode": N, "answers": ["198.51.100.10", ...]} (A/AAAA answers as
addresses; "other": [65, ...], the types of any other answer records), or {"error": "timeout" | "refused" | ...}."""
import json
import os
import socket
import struct
import sys

TYPES = {"A": 1, "AAAA": 28, "TXT": 16, "MX": 15, "HTTPS": 65, "CNAME": 5}


def query(name, qtype):
    qid = int.from_bytes(os.urandom(2), "big")
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return qid, q + b"\0" + struct.pack("!HH", qtype, 1)


def skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def parse(msg, qid):
    rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    if rid != qid:
        return {"error": "wrong id"}
    i = 12
    for _ in range(qd):
        i = skip_name(msg, i) + 4
    answers, other = [], []
    for _ in range(an):
        i = skip_name(msg, i)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[i:i + 10])
        i += 10
        data = msg[i:i + rdlen]
        i += rdlen
        if rtype == 1:
            answers.append(socket.inet_ntop(socket.AF_INET, data))
        elif rtype == 28:
            answers.append(socket.inet_ntop(socket.AF_INET6, data))
        else:
            other.append(rtype)
    out = {"rcode": flags & 0xF, "tc": bool(flags & 0x200), "answers": answers}
    if other:
        out["other"] = other
    return out


def main():
    args = sys.argv[1:]
    tcp = args[0] == "--tcp"
    if tcp:
        args = args[1:]
    port = 53
    if args[0] == "--port":
        port, args = int(args[1]), args[2:]
    server, name = args[0], args[1]
    qtype = TYPES[args[2]] if len(args) > 2 else 1
    qid, q = query(name, qtype)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    try:
        if tcp:
            s = socket.create_connection((server, port), timeout=3)
            s.sendall(struct.pack("!H", len(q)) + q)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            msg = buf[2:]
        else:
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.settimeout(3)
            s.sendto(q, (server, port))
            msg = s.recv(4096)
        print(json.dumps(parse(msg, qid)))
    except socket.timeout:
        print(json.dumps({"error": "timeout"}))
    except ConnectionRefusedError:
        print(json.dumps({"error": "refused"}))
    except OSError as e:
        print(json.dumps({"error": str(e)}))


if __name__ == "__main__":
    main()
