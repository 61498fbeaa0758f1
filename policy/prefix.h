/* SPDX-License-Identifier: MIT */
/* An IPv4 or IPv6 address range in CIDR form: the one value type that the
 * policy, the resolver, the GitHub meta parser and the nftables layer share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ip_prefix {
        uint8_t family;         /* AF_INET or AF_INET6 */
        uint8_t len;            /* prefix length: 0..32 or 0..128 */
        uint8_t addr[16];       /* network byte order; IPv4 uses the first 4 bytes */
};

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
 * Returns 0, or -EINVAL for anything else, including host bits set past the
 * prefix length ("192.0.2.1/24"), which is almost always a typo. */
int ip_prefix_parse(const char *text, struct ip_prefix *ret);

/* The prefix of exactly one address, from 4 or 16 bytes. */
void ip_prefix_from_addr(int family, const void *addr, struct ip_prefix *ret);

/* "addr/len" into buf; buf must hold IP_PREFIX_STRLEN bytes. */
#define IP_PREFIX_STRLEN 50
const char *ip_prefix_format(const struct ip_prefix *p, char buf[static IP_PREFIX_STRLEN]);

/* Whether outer contains inner (same family, inner no shorter, same leading bits). */
bool ip_prefix_contains(const struct ip_prefix *outer, const struct ip_prefix *inner);

/* range without hole, as at most IP_PREFIX_SUBTRACT_MAX prefixes in out:
 * nothing when hole holds range, range itself when they do not overlap,
 * else one prefix per bit between their lengths. Returns the count. */
#define IP_PREFIX_SUBTRACT_MAX 128
size_t ip_prefix_subtract(const struct ip_prefix *range, const struct ip_prefix *hole,
                          struct ip_prefix out[static IP_PREFIX_SUBTRACT_MAX]);

/* Total order: family, then address, then length. For qsort(). */
int ip_prefix_compare(const void *a, const void *b);

static inline size_t ip_prefix_addr_len(const struct ip_prefix *p) {
        return p->family == AF_INET ? 4 : 16;
}
