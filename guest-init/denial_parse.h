/* SPDX-License-Identifier: MIT */
/* What PID 1 reads of a packet the firewall refused, as nfnetlink_log
 * hands it over (nft_rules.c: the log rule before the rejects): only fixed
 * header fields, each bounds-checked before it is read. The bytes are the
 * sandbox user's (any process can send any header), so nothing here
 * trusts a length it did not check, and nothing allocates. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

struct denial_packet {
        struct ip_prefix dst;           /* one address: /32 or /128 */
        uint8_t proto;                  /* IPPROTO_*: IPv4's protocol, IPv6's first next header */
        bool has_port;                  /* TCP, UDP, UDP-Lite, SCTP with their first 4 bytes there */
        uint16_t port;                  /* destination port, host byte order */
        bool has_icmp;                  /* ICMP or ICMPv6 with its first 2 bytes there */
        uint8_t icmp_type, icmp_code;
        bool has_uid;                   /* the kernel knew the sending socket's owner */
        uint32_t uid;
        uint32_t mark;                  /* the packet's mark (SO_MARK), 0 when none */
};

/* The IPv4 or IPv6 header at data (nfnetlink_log copies from the network
 * header on), and the ports or ICMP type after it. A transport header that
 * was cut off, sits in a later IPv4 fragment or behind IPv6 extension
 * headers leaves has_port and has_icmp false. -EBADMSG when there is no
 * whole IPv4 or IPv6 header. */
int denial_parse_packet(const uint8_t *data, size_t len, struct denial_packet *ret);

/* One datagram of an nfnetlink_log socket: fn gets every
 * NFULNL_MSG_PACKET in it whose payload parses (uid and mark filled in
 * from NFULA_UID and NFULA_MARK when the kernel sent them); other messages, and packet messages
 * whose attributes do not parse, are skipped; a netlink header that claims
 * more than is there ends the walk. Returns how many packets fn got. */
typedef void (*denial_packet_fn)(const struct denial_packet *p, void *userdata);
int denial_parse_nflog(const void *buf, size_t len, denial_packet_fn fn, void *userdata);
