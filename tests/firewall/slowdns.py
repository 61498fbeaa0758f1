#!/usr/bin/env python3
"""A tiny authoritative DNS responder for tests: answers A/AAAA queries for
names in a JSON table after a fixed delay, so tests can prove that names are
resolved concurrently (tc netem is not available to inject latency).

  slowdns.py --listen ADDR --port 53 --delay-ms 100 --table table.json
  table: {"name.test": {"a": ["198.51.100.10"], "aaaa": [], "ttl": 60}}
Unknown names get NXDOMAIN. Prints "ready" once listening.
"""
import argparse
import ipaddress
import json
import socket
import struct
import threading
import time


def parse_question(msg):
    labels, i = [], 12
    while msg[i] != 0:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    qtype, qclass = struct.unpack("!HH", msg[i + 1:i + 5])
    return ".".join(labels), qtype, msg[12:i + 5]


def answer(msg, table):
    name, qtype, question = parse_question(msg)
    entry = table.get(name)
    flags = 0x8400 | (0x0100 & struct.unpack("!H", msg[2:4])[0])
    records = []
    if entry is None:
        flags |= 3  # NXDOMAIN
    else:
        ttl = entry.get("ttl", 60)
        if qtype == 1:
            records = [(1, ipaddress.IPv4Address(a).packed, ttl) for a in entry.get("a", [])]
        elif qtype == 28:
            records = [(28, ipaddress.IPv6Address(a).packed, ttl) for a in entry.get("aaaa", [])]
    out = msg[:2] + struct.pack("!HHHHH", flags, 1, len(records), 0, 0) + question
    for rtype, data, ttl in records:
        out += struct.pack("!HHHIH", 0xC00C, rtype, 1, ttl, len(data)) + data
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--table", required=True)
    args = ap.parse_args()
    with open(args.table) as f:
        table = {k.lower(): v for k, v in json.load(f).items()}
    family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((args.listen, args.port))
    print("ready", flush=True)

    def reply(msg, peer):
        time.sleep(args.delay_ms / 1000)
        sock.sendto(answer(msg, table), peer)

    while True:
        msg, peer = sock.recvfrom(4096)
        threading.Thread(target=reply, args=(msg, peer), daemon=True).start()


if __name__ == "__main__":
    main()
