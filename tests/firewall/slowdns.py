#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A tiny authoritative DNS responder for tests: answers A/AAAA queries for
names in a JSON table after a fixed delay, so tests can prove that names are
resolved concurrently (tc netem is not available to inject latency).

  slowdns.py --listen ADDR --port 53 --delay-ms 100 --table table.json
  table: {"name.test": {"a": ["198.51.100.10"], "aaaa": [], "ttl": 60}}
Unknown names get NXDOMAIN. Prints "ready" once listening.
  --alternate: an entry's "a2" list answers instead of "a" in odd seconds
  (wall clock), so a re-resolution every second sees a changed answer.
  --stats FILE: the number of queries answered so far, rewritten at most
  once a second (for counting re-resolution rounds).
  --max-concurrent N: a query that arrives while N are waiting for their
  answer is dropped without one, as Docker's embedded DNS (127.0.0.11)
  does with a query beyond its 100 forwarded at once (libnetwork
  resolver.go, maxConcurrent, Docker 20.10). --stats then also counts them.
"""
import argparse
import heapq
import ipaddress
import json
import os
import select
import socket
import struct
import time


def parse_question(msg):
    labels, i = [], 12
    while msg[i] != 0:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    qtype, qclass = struct.unpack("!HH", msg[i + 1:i + 5])
    return ".".join(labels), qtype, msg[12:i + 5]


def answer(msg, table, alternate=False):
    name, qtype, question = parse_question(msg)
    entry = table.get(name)
    flags = 0x8400 | (0x0100 & struct.unpack("!H", msg[2:4])[0])
    records = []
    if entry is None:
        flags |= 3  # NXDOMAIN
    else:
        ttl = entry.get("ttl", 60)
        if qtype == 1:
            key = "a2" if alternate and "a2" in entry and int(time.time()) % 2 else "a"
            records = [(1, ipaddress.IPv4Address(a).packed, ttl) for a in entry.get(key, [])]
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
    ap.add_argument("--alternate", action="store_true")
    ap.add_argument("--stats")
    ap.add_argument("--max-concurrent", type=int, default=0)
    args = ap.parse_args()
    with open(args.table) as f:
        table = {k.lower(): v for k, v in json.load(f).items()}
    family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    # A sandbox sends every query at once; the default buffer would drop
    # part of a burst of hundreds, and the client would wait for its retry.
    sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)
    sock.bind((args.listen, args.port))
    print("ready", flush=True)

    # One thread: answers wait in a heap until they are due, so a burst of
    # hundreds of queries costs no more than one (a thread per query would
    # make the responder, not the client, the slow part).
    due = []
    seq = answered = dropped = 0
    stats_written = 0.0
    while True:
        if args.stats and time.monotonic() - stats_written >= 1:
            with open(args.stats + ".tmp", "w") as f:
                f.write(f"{answered}\n" + (f"dropped {dropped}\n" if args.max_concurrent else ""))
            os.replace(args.stats + ".tmp", args.stats)
            stats_written = time.monotonic()
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        if args.stats:
            timeout = 1.0 if timeout is None else min(timeout, 1.0)
        if select.select([sock], [], [], timeout)[0]:
            while True:
                try:
                    msg, peer = sock.recvfrom(4096, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if args.max_concurrent and len(due) >= args.max_concurrent:
                    dropped += 1
                    continue
                seq += 1
                heapq.heappush(due, (time.monotonic() + args.delay_ms / 1000, seq, msg, peer))
        while due and due[0][0] <= time.monotonic():
            _, _, msg, peer = heapq.heappop(due)
            sock.sendto(answer(msg, table, args.alternate), peer)
            answered += 1


if __name__ == "__main__":
    main()
