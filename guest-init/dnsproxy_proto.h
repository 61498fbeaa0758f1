/* SPDX-License-Identifier: MIT */
/* The messages between PID 1 and the sandbox's DNS resolver child
 * (dnsproxy.c), over a SOCK_SEQPACKET socketpair: one message per datagram,
 * fixed size, checked field by field by the receiver. The child holds no
 * privilege and parses bytes from the agent and the network; PID 1 holds
 * CAP_NET_ADMIN and trusts nothing in these messages: it checks the name
 * against the policy and every address against the rebinding guard before
 * it adds anything to the firewall.
 *
 * child → PID 1   DNSPROXY_ALLOW: "these addresses answer this allowed name"
 * PID 1 → child   DNSPROXY_ALLOWED: the same seq; status 0 when every
 *                 address accepted is in the sets (the child then releases
 *                 the answer), or -errno (the child answers SERVFAIL); ttl:
 *                 for how many more seconds every address of the ALLOW is
 *                 allowed at least (0 when the guard refused one), so that
 *                 the child can release the same answer again within that
 *                 time without asking (dnsproxy_grants.h)
 * child → PID 1   DNSPROXY_REFUSED: a query it answered locally because
 *                 the name is not allowed (for the log); no reply */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

#define DNSPROXY_NAME_MAX 253                   /* text form, no trailing dot */
#define DNSPROXY_ADDRS_MAX 32                   /* addresses per ALLOW */
/* What the rules allow past an answer's TTL is capped like the init's own
 * refresh interval: an answer claiming a week does not open an address for
 * one. Both sides compute an answer's lifetime with it. */
#define DNSPROXY_TTL_CEILING 3600u

enum dnsproxy_msg_type {
        DNSPROXY_ALLOW = 1,
        DNSPROXY_ALLOWED = 2,
        DNSPROXY_REFUSED = 3,
};

struct dnsproxy_addr {
        uint8_t family;                         /* AF_INET or AF_INET6 */
        uint8_t pad[3];
        uint8_t addr[16];                       /* IPv4 in the first 4 bytes */
};

struct dnsproxy_msg {
        uint32_t type;                          /* enum dnsproxy_msg_type */
        uint32_t seq;                           /* chosen by the child, echoed */
        int32_t status;                         /* DNSPROXY_ALLOWED: 0 or -errno */
        uint32_t ttl;                           /* seconds, the smallest of the answer */
        uint16_t qtype;                         /* DNSPROXY_REFUSED: the query's type */
        uint16_t n_addrs;                       /* ≤ DNSPROXY_ADDRS_MAX */
        char name[DNSPROXY_NAME_MAX + 1];       /* NUL-terminated, lower case */
        struct dnsproxy_addr addrs[DNSPROXY_ADDRS_MAX];
};

/* The receiver's check of one message from the other side, before any field
 * is used. buf must be aligned for struct dnsproxy_msg (-EINVAL if not: a
 * caller's mistake, not the peer's). -EBADMSG, and *ret untouched, unless:
 * - len is exactly sizeof(struct dnsproxy_msg) and type equals expected
 *   (one of the three types; -EINVAL for any other expected);
 * - ALLOW and REFUSED: name is 1..DNSPROXY_NAME_MAX bytes NUL-terminated
 *   inside the array, of printable ASCII other than space and A..Z, with no
 *   trailing dot (the root alone is "."); the bytes after the NUL are not
 *   read;
 * - ALLOW: 1..DNSPROXY_ADDRS_MAX addresses, ttl ≤ 2^31 - 1 (RFC 2181 8),
 *   status and qtype 0;
 * - ALLOWED: status 0 or -1..-4095 (-errno); ttl ≤ 2^31 - 1, and 0 unless
 *   status is 0; qtype and n_addrs 0; name and addrs are not read;
 * - REFUSED: any qtype; status, ttl and n_addrs 0;
 * - each of the first n_addrs addresses: family AF_INET or AF_INET6, pad 0,
 *   for AF_INET the 12 bytes after the address 0; the entries past n_addrs
 *   are not read.
 * A field a type does not use must be 0, so that a sender confusing the
 * types is caught; the arrays past their used part are ignored, so that a
 * sender may reuse a buffer. On 0, *ret is buf. */
int dnsproxy_msg_check(const void *buf, size_t len, enum dnsproxy_msg_type expected,
                       const struct dnsproxy_msg **ret);

/* How long the addresses of an answer with this TTL stay allowed, in
 * seconds: the TTL, at least min_ttl and at most DNSPROXY_TTL_CEILING, plus
 * grace (the policy's dns.min_ttl and dns.grace). */
uint64_t dnsproxy_lifetime(uint32_t ttl, unsigned min_ttl, unsigned grace);

/* The /32 or /128 of one address of a checked message. */
void dnsproxy_addr_to_prefix(const struct dnsproxy_addr *a, struct ip_prefix *ret);
/* The reverse, for a prefix of exactly one address; -EINVAL for any other
 * prefix (a range, an unknown family), with *ret untouched. */
int dnsproxy_addr_from_prefix(const struct ip_prefix *p, struct dnsproxy_addr *ret);
