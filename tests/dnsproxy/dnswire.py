# SPDX-License-Identifier: MIT
"""Just enough DNS for the resolver's tests: build queries byte by byte
(including broken ones) and read answers. No third-party module, so a test
says exactly what goes on the wire."""
import socket
import struct

A, NS, CNAME, TXT, AAAA, OPT, SVCB, HTTPS = 1, 2, 5, 16, 28, 41, 64, 65
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split(".") if name not in ("", ".") else []:
        raw = label.encode()
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def query(name, qtype=A, qid=0x1234, rd=True, edns=None, opcode=0):
    flags = (0x0100 if rd else 0) | (opcode << 11)
    ar = 1 if edns else 0
    msg = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, ar) + encode_name(name) + struct.pack(">HH", qtype, 1)
    if edns:
        msg += b"\0" + struct.pack(">HHIH", OPT, edns, 0, 0)
    return msg


def read_name(msg, off, depth=0):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n >= 0xC0:
            if depth > 20:
                raise ValueError("compression loop")
            ptr = ((n & 0x3F) << 8) | msg[off + 1]
            rest, _ = read_name(msg, ptr, depth + 1)
            labels.append(rest)
            return ".".join(labels), off + 2
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


class Answer:
    def __init__(self, msg):
        self.raw = msg
        (self.id, self.flags, self.qd, self.an, self.ns, self.ar) = struct.unpack(">HHHHHH", msg[:12])
        self.rcode = self.flags & 0xF
        self.tc = bool(self.flags & 0x0200)
        self.rd = bool(self.flags & 0x0100)
        self.qr = bool(self.flags & 0x8000)
        off = 12
        self.qname = None
        for _ in range(self.qd):
            self.qname, off = read_name(msg, off)
            off += 4
        self.records = []        # (name, type, ttl, value)
        for _ in range(self.an):
            rname, off = read_name(msg, off)
            rtype, _rclass, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            rdata = msg[off:off + rdlen]
            if rtype == A:
                value = socket.inet_ntop(socket.AF_INET, rdata)
            elif rtype == AAAA:
                value = socket.inet_ntop(socket.AF_INET6, rdata)
            elif rtype == CNAME:
                value = read_name(msg, off)[0]
            else:
                value = rdata
            self.records.append((rname, rtype, ttl, value))
            off += rdlen

    def addresses(self):
        return sorted(v for _n, t, _ttl, v in self.records if t in (A, AAAA))


def ask_udp(msg, server=("127.0.0.1", 53), timeout=3.0):
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, server)
        return Answer(s.recv(65535))


def tcp_frame(msg):
    return struct.pack(">H", len(msg)) + msg


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def recv_frame(s):
    (n,) = struct.unpack(">H", recv_exact(s, 2))
    return Answer(recv_exact(s, n))


def ask_tcp(msg, server=("127.0.0.1", 53), timeout=3.0):
    with socket.create_connection(server, timeout=timeout) as s:
        s.sendall(tcp_frame(msg))
        return recv_frame(s)
