/* SPDX-License-Identifier: MIT */
/* The resolver child's memory of what PID 1 has allowed: for an answer
 * (a name and its addresses) PID 1 acknowledged, until when every one of
 * its addresses stays in the firewall's sets. The same answer again within
 * that time is released without asking PID 1 again: most queries of a
 * toolchain are the same few names, and each ask is a round trip through
 * PID 1.
 *
 * Nothing here widens what the firewall allows: a stale or colliding entry
 * can only release an answer whose addresses the firewall then refuses
 * (fail closed). PID 1 restarts the child whenever it forgets what it
 * allowed (a policy reload), which empties this table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"

#define DNSPROXY_GRANTS 4096u                   /* direct-mapped slots, a power of two */

struct dnsproxy_grant {
        uint64_t key;                           /* 0: empty */
        uint64_t until_usec;
};

struct dnsproxy_grants {
        uint64_t seed;
        struct dnsproxy_grant slot[DNSPROXY_GRANTS];
};

/* A random seed, so that a client cannot choose names whose keys collide. */
int dnsproxy_grants_init(struct dnsproxy_grants *g);
/* The key of an answer: its name and its set of addresses, in any order. */
uint64_t dnsproxy_grants_key(const struct dnsproxy_grants *g, const char *name,
                             const struct dns_addr *addrs, size_t n);
/* Whether PID 1 allowed that answer's addresses until at least until_usec. */
bool dnsproxy_grants_cover(const struct dnsproxy_grants *g, uint64_t key, uint64_t until_usec);
/* PID 1 allowed that answer's addresses until until_usec. */
void dnsproxy_grants_record(struct dnsproxy_grants *g, uint64_t key, uint64_t until_usec);
