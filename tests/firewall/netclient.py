#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Probes for the firewall tests, run inside the sandbox namespace.

  probe SPEC...          SPEC is tcp:ADDR:PORT, udp:ADDR:PORT or icmp:ADDR;
                         prints a JSON list of {"spec", "result", "ms"}
  hold ADDR PORT         connects, prints "connected", then echoes each stdin
                         line through the connection and prints the reply
  loop ADDR PORT SECS    connects over and over for SECS seconds; prints a
                         JSON count of each result
  flood FIRST N PORT     starts a TCP connect to each of N consecutive IPv4
                         addresses from FIRST without waiting for any; prints
                         a JSON count of the errors seen

Results: tcp "ok" (connected and echoed), "refused", "timeout", "error:NAME";
udp "reply" or "noreply"; icmp "reply", "noreply" or "error:NAME"."""
import errno
import ipaddress
import json
import os
import socket
import struct
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def errname(e):
    return "error:" + errno.errorcode.get(e.errno, str(e.errno))


def tcp(addr, port, timeout=2.0):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        s.sendall(b"ping\n")
        return "ok" if s.recv(100) == b"ping\n" else "badecho"
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errname(e)
    finally:
        s.close()


def udp(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        s.sendto(b"hello", (addr, port))
        data, _ = s.recvfrom(100)
        return "reply" if data == b"hello" else "badreply"
    except socket.timeout:
        return "noreply"
    except OSError as e:
        return errname(e)
    finally:
        s.close()


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def icmp(addr):
    """One echo request; the kernel computes the ICMPv6 checksum itself."""
    v6 = family(addr) == socket.AF_INET6
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    s = socket.socket(family(addr), socket.SOCK_RAW, proto)
    s.settimeout(2.5)
    ident = os.getpid() & 0xFFFF
    head = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ident, 1)
    packet = head + b"agent-sandbox"
    if not v6:
        packet = head[:2] + struct.pack("!H", checksum(packet)) + head[4:] + b"agent-sandbox"
    try:
        s.sendto(packet, (addr, 0))
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            data = s.recv(2000)
            if not v6:
                data = data[(data[0] & 0x0F) * 4:]
            if data[0] == (129 if v6 else 0) and struct.unpack("!H", data[4:6])[0] == ident:
                return "reply"
        return "noreply"
    except socket.timeout:
        return "noreply"
    except OSError as e:
        return errname(e)
    finally:
        s.close()


def probe(spec):
    kind, rest = spec.split(":", 1)
    if kind == "icmp":
        return icmp(rest)
    addr, port = rest.rsplit(":", 1)
    return tcp(addr, int(port)) if kind == "tcp" else udp(addr, int(port))


def main(argv):
    if argv[0] == "probe":
        out = []
        for spec in argv[1:]:
            t0 = time.monotonic()
            result = probe(spec)
            out.append({"spec": spec, "result": result, "ms": (time.monotonic() - t0) * 1000})
        print(json.dumps(out))
    elif argv[0] == "hold":
        addr, port = argv[1], int(argv[2])
        s = socket.create_connection((addr, port), timeout=3)
        print("connected", flush=True)
        for line in sys.stdin:
            s.sendall(line.encode())
            print(s.recv(1000).decode().strip(), flush=True)
    elif argv[0] == "loop":
        addr, port, secs = argv[1], int(argv[2]), float(argv[3])
        counts = {}
        end = time.monotonic() + secs
        while time.monotonic() < end:
            r = tcp(addr, port, timeout=3.0)
            counts[r] = counts.get(r, 0) + 1
        print(json.dumps(counts))
    elif argv[0] == "flood":
        first, n, port = int(ipaddress.ip_address(argv[1])), int(argv[2]), int(argv[3])
        counts = {}
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            e = s.connect_ex((str(ipaddress.ip_address(first + i)), port))
            counts[errno.errorcode.get(e, str(e))] = counts.get(errno.errorcode.get(e, str(e)), 0) + 1
            s.close()
        print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
