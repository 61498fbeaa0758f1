#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A name-based virtual host for the name gate's attack tests, run in
the 'network' namespace on every address (IPv4 and IPv6):

  --http PORT   HTTP/1.1 with keep-alive: each request head is answered
                200 with the body "vhost=<Host>", and logged
                "http PORT host=<Host>" (the host a real front end would
                route the request to); a request for /urgent is answered,
                then, 0.2 s later, followed by one byte of TCP urgent data
  --bind ADDR   listen on ADDR only (default: every address)
  --raw PORT    logs "raw PORT <hex>" for the first bytes of each
                connection (up to 16 KiB, or what came in 2 s) and keeps
                it open; a ClientHello's bytes as the server got them

Prints "ready" once bound."""
import argparse
import selectors
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", type=int, action="append", default=[])
    ap.add_argument("--raw", type=int, action="append", default=[])
    ap.add_argument("--bind", default="::", help="one address instead of all")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    log = open(args.log, "a", buffering=1)
    sel = selectors.DefaultSelector()

    for kind, ports in (("http", args.http), ("raw", args.raw)):
        for port in ports:
            fam = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind((args.bind, port))
            s.listen(128)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, ("listen", kind, port, None))
    print("ready", flush=True)

    while True:
        for key, _ in sel.select(timeout=0.5):
            what, kind, port, state = key.data
            s = key.fileobj
            if what == "listen":
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ,
                             ("conn", kind, port, {"buf": b"", "t": time.monotonic(), "logged": False}))
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                if kind == "raw" and not state["logged"] and state["buf"]:
                    log.write(f"raw {port} {state['buf'].hex()}\n")
                sel.unregister(s)
                s.close()
                continue
            state["buf"] += data
            if kind == "raw":
                if not state["logged"] and len(state["buf"]) >= 5:
                    need = 5 + int.from_bytes(state["buf"][3:5], "big")
                    if len(state["buf"]) >= need or len(state["buf"]) >= 16384:
                        log.write(f"raw {port} {state['buf'].hex()}\n")
                        state["logged"] = True
                continue
            while b"\r\n\r\n" in state["buf"]:
                head, state["buf"] = state["buf"].split(b"\r\n\r\n", 1)
                host = ""
                path = head.split(b"\r\n", 1)[0].split(b" ")[1:2]
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"host":
                        host = v.strip().decode(errors="replace").split(":")[0].lower()
                log.write(f"http {port} host={host}\n")
                body = f"vhost={host}".encode()
                try:
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() +
                              b"\r\n\r\n" + body)
                    if path == [b"/urgent"]:
                        time.sleep(0.2)     # the answer first, then the urgent byte on its own
                        s.send(b"!", socket.MSG_OOB)
                except OSError:
                    break


if __name__ == "__main__":
    sys.exit(main())
