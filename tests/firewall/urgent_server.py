#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A server that sends TCP urgent data the kernel never marks valid, as any
server operator can by writing its own segments; run as root in the
'network' namespace, IPv4:

  urgent_server.py ADDR PORT

For each connection it reads a request head, then puts its socket in
TCP_REPAIR (so its own kernel stays quiet) and sends, with a raw socket,
first "ZBBBB" one segment ahead without the URG flag, then the gap, "AAAA",
with URG and an urgent pointer at the "Z". The receiver notes the pointer
before the byte is there (TCP_URG_NOTYET), and as that byte came in an
earlier segment it never marks the urgent data valid: no EPOLLPRI, while
splice() still stops at the mark. Prints "ready" once listening."""
import socket
import struct
import sys
import time

from netclient import checksum

TCP_REPAIR, TCP_REPAIR_QUEUE, TCP_QUEUE_SEQ = 19, 20, 21
RECV_QUEUE, SEND_QUEUE = 1, 2
PSH_ACK, URG = 0x18, 0x20


def segment(src, sport, dst, dport, seq, ack, flags, payload, urgent_pointer=0):
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                         65535, 0, urgent_pointer)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_TCP,
                                                                         len(header) + len(payload))
    return header[:16] + struct.pack("!H", checksum(pseudo + header + payload)) + header[18:] + payload


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((addr, port))
    listener.listen(16)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    raw.bind((addr, 0))         # the segments' source: the connection's, not the route's
    print("ready", flush=True)
    held = []
    while True:
        conn, (peer, peer_port) = listener.accept()
        head = b""
        while b"\r\n\r\n" not in head:
            more = conn.recv(4096)
            if not more:
                break
            head += more
        time.sleep(0.1)
        conn.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
        conn.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, SEND_QUEUE)
        snd = conn.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ) & 0xFFFFFFFF
        conn.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, RECV_QUEUE)
        rcv = conn.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ) & 0xFFFFFFFF
        me, my_port = conn.getsockname()
        raw.sendto(segment(me, my_port, peer, peer_port, snd + 4, rcv, PSH_ACK, b"ZBBBB"), (peer, 0))
        time.sleep(0.05)
        raw.sendto(segment(me, my_port, peer, peer_port, snd, rcv, PSH_ACK | URG, b"AAAA", 5), (peer, 0))
        held.append(conn)


if __name__ == "__main__":
    sys.exit(main())
