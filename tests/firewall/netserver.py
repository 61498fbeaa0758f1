#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Listeners for the firewall tests, run inside the 'network' namespace:
TCP echo and UDP echo on the given ports, on every address (IPv4 and IPv6).
Every UDP datagram and TCP connection is logged as one line to --log, so a
test can tell whether anything got through. Prints "ready" once bound."""
import argparse
import selectors
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp", type=int, action="append", default=[])
    ap.add_argument("--udp", type=int, action="append", default=[])
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    log = open(args.log, "a", buffering=1)
    sel = selectors.DefaultSelector()

    def bind(kind, port):
        s = socket.socket(socket.AF_INET6, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
        s.setblocking(False)
        return s

    for port in args.tcp:
        s = bind(socket.SOCK_STREAM, port)
        s.listen(128)
        sel.register(s, selectors.EVENT_READ, ("listen", port))
    for port in args.udp:
        sel.register(bind(socket.SOCK_DGRAM, port), selectors.EVENT_READ, ("udp", port))
    print("ready", flush=True)

    while True:
        for key, _ in sel.select():
            kind, port = key.data
            s = key.fileobj
            try:
                if kind == "listen":
                    c, peer = s.accept()
                    c.setblocking(False)
                    log.write(f"tcp {port} {peer[0]}\n")
                    sel.register(c, selectors.EVENT_READ, ("conn", port))
                elif kind == "udp":
                    data, peer = s.recvfrom(65535)
                    log.write(f"udp {port} {peer[0]} {data!r}\n")
                    s.sendto(data, peer)
                else:
                    data = s.recv(65535)
                    if data:
                        s.sendall(data)
                    else:
                        sel.unregister(s)
                        s.close()
            except OSError:
                if kind == "conn":
                    sel.unregister(s)
                    s.close()


if __name__ == "__main__":
    sys.exit(main())
