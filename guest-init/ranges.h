/* SPDX-License-Identifier: MIT */
/* Address ranges for nftables interval sets. The kernel refuses partially
 * overlapping intervals, and a policy may list the same network several
 * times, nested or adjacent; so prefixes are merged into sorted, disjoint,
 * non-adjacent ranges first. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

/* [first, last], both inclusive, network byte order; IPv4 uses 4 bytes. */
struct ip_range {
        uint8_t family;
        uint8_t first[16];
        uint8_t last[16];
};

/* The prefixes of one family (AF_INET or AF_INET6; others are skipped),
 * merged: sorted by address, no two ranges overlapping or touching.
 * *ret is malloc'ed (NULL when there are none). Returns 0 or -ENOMEM. */
int ip_ranges_merge(const struct ip_prefix *prefixes, size_t n, int family,
                    struct ip_range **ret, size_t *ret_n);

/* The exclusive end of a range, last + 1, which is what an interval set
 * stores as its end element. Returns false when the range reaches the top
 * of the address space: that address has no successor, and the interval is
 * then left open (no end element), as nft itself does. */
bool ip_range_end(const struct ip_range *r, uint8_t end[static 16]);

/* "first-last" for log lines and tests; buf must hold IP_RANGE_STRLEN. */
#define IP_RANGE_STRLEN 96
const char *ip_range_format(const struct ip_range *r, char buf[static IP_RANGE_STRLEN]);
