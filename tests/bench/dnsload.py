#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""DNS load for the resolver benchmark, run inside a namespace as the user
whose queries are measured. Names and the address each must resolve to come
from a hosts file ("ADDR NAME" lines); FIRST and COUNT pick a slice of it.
One JSON line out.

  dnsload.py latency SERVER HOSTS FIRST COUNT [--repeat]
      one query at a time over UDP; "rtt_us" lists each round trip. With
      --repeat every query asks the slice's first name again.
  dnsload.py burst SERVER HOSTS FIRST COUNT [--window W] [--timeout S]
      COUNT queries, W outstanding at once, no retries: a query without an
      answer after S seconds is lost. Reports queries/s.
  dnsload.py connect SERVER HOSTS FIRST COUNT [--port P]
      per name: resolve, then at once a TCP connection to the address.

Counts: "answered" (the expected address), "wrong" (another answer or
rcode), "lost" (no answer in time)."""
import argparse
import ipaddress
import json
import os
import select
import socket
import struct
import time


def read_hosts(path, first, count):
    out = []
    with open(path) as f:
        for i, line in enumerate(f):
            if i < first:
                continue
            if len(out) == count:
                break
            addr, name = line.split()[:2]
            out.append((name, ipaddress.IPv4Address(addr).packed))
    if len(out) < count:
        raise SystemExit(f"{path} has only {first + len(out)} lines")
    return out


def query(qid, name):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0\0\1\0\1"


def verdict(msg, qlen, expected):
    """'answered' when the answer holds the expected address, else 'wrong'."""
    if len(msg) < 12 or msg[3] & 0x0F or struct.unpack("!H", msg[6:8])[0] == 0:
        return "wrong"
    return "answered" if expected in msg[qlen:] else "wrong"


def udp_socket(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect((server, 53))
    return s


def ask(s, qid, name, timeout):
    """One query, its answer or None; the answer must carry qid."""
    q = query(qid, name)
    s.send(q)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            return q, None
        msg = s.recv(4096)
        if msg[:2] == q[:2]:
            return q, msg


def latency(args, names):
    s = udp_socket(args.server)
    counts = {"answered": 0, "wrong": 0, "lost": 0}
    rtts = []
    for i in range(args.count):
        name, expected = names[0 if args.repeat else i]
        t0 = time.perf_counter_ns()
        q, msg = ask(s, (i + 1) & 0xFFFF, name, args.timeout)
        t1 = time.perf_counter_ns()
        if msg is None:
            counts["lost"] += 1
            continue
        v = verdict(msg, len(q), expected)
        counts[v] += 1
        if v == "answered":
            rtts.append((t1 - t0) // 1000)
    return {**counts, "rtt_us": rtts}


def burst(args, names):
    s = udp_socket(args.server)
    s.setblocking(False)
    counts = {"answered": 0, "wrong": 0, "lost": 0, "late": 0}
    pending = {}            # id -> (sent at, index)
    done_ids = set()
    sent = 0
    t_start = time.monotonic()
    next_sweep = t_start + 0.1
    while sent < len(names) or pending:
        while sent < len(names) and len(pending) < args.window:
            qid = sent & 0xFFFF
            s.send(query(qid, names[sent][0]))
            pending[qid] = (time.monotonic(), sent)
            sent += 1
        if select.select([s], [], [], 0.05)[0]:
            while True:
                try:
                    msg = s.recv(4096)
                except BlockingIOError:
                    break
                qid = struct.unpack("!H", msg[:2])[0]
                entry = pending.pop(qid, None)
                if entry is None:
                    counts["late"] += 1
                    continue
                name, expected = names[entry[1]]
                counts[verdict(msg, len(name) + 18, expected)] += 1
        now = time.monotonic()
        if now >= next_sweep:
            for qid, (t, _) in list(pending.items()):
                if now - t > args.timeout:
                    del pending[qid]
                    counts["lost"] += 1
            next_sweep = now + 0.1
    elapsed = time.monotonic() - t_start
    return {**counts, "sent": sent, "elapsed_s": round(elapsed, 3), "qps": round(sent / elapsed, 1)}


def connect(args, names):
    s = udp_socket(args.server)
    counts = {"answered": 0, "wrong": 0, "lost": 0, "connected": 0, "refused": 0, "timeout": 0, "error": 0}
    for i, (name, expected) in enumerate(names):
        q, msg = ask(s, (i + 1) & 0xFFFF, name, args.timeout)
        if msg is None:
            counts["lost"] += 1
            continue
        v = verdict(msg, len(q), expected)
        counts[v] += 1
        if v != "answered":
            continue
        try:
            c = socket.create_connection((str(ipaddress.IPv4Address(expected)), args.port), timeout=args.timeout)
            c.close()
            counts["connected"] += 1
        except ConnectionRefusedError:
            counts["refused"] += 1
        except socket.timeout:
            counts["timeout"] += 1
        except OSError:
            counts["error"] += 1
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["latency", "burst", "connect"])
    ap.add_argument("server")
    ap.add_argument("hosts")
    ap.add_argument("first", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--repeat", action="store_true")
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--port", type=int, default=443)
    args = ap.parse_args()
    names = read_hosts(args.hosts, args.first, 1 if args.repeat else args.count)
    result = {"latency": latency, "burst": burst, "connect": connect}[args.mode](args, names)
    print(json.dumps({"uid": os.getuid(), **result}))


if __name__ == "__main__":
    main()
