/* SPDX-License-Identifier: MIT */
/* The TCP checksum of an IP packet as the kernel queued it, for PID 1 to
 * hand a checked packet back with the bytes it checked (namegate_parent.h):
 * the kernel then treats the checksum as final. Only what it needs of the
 * headers is read, bounded by the packet: IPv4 with any header length,
 * IPv6 with TCP right after the fixed header (the gate refuses any other). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The TCP payload's length in the IP packet pkt of len bytes: 0 and
 * *ret, or -EINVAL when it is not a whole IPv4 or IPv6 TCP packet of
 * exactly len bytes that the gate follows. */
int pktsum_tcp_payload(const uint8_t *pkt, size_t len, size_t *ret);

/* Writes the TCP checksum into pkt (a packet pktsum_tcp_payload() takes):
 * 0, or -EINVAL. */
int pktsum_fill_tcp(uint8_t *pkt, size_t len);
