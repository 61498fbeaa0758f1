/* SPDX-License-Identifier: MIT */
#include "dnsproxy_grants.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/random.h>

#include "fnv1a.h"
#include "macro.h"

/* splitmix64's finalizer: every input bit moves every output bit. */
static uint64_t mix(uint64_t x) {
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebull;
        return x ^ (x >> 31);
}

static uint64_t bytes_hash(uint64_t h, const void *data, size_t len) {
        return mix(base_fnv1a(h, data, len));
}

int dnsproxy_grants_init(struct dnsproxy_grants *g) {
        memset(g, 0, sizeof(*g));
        if (getrandom(&g->seed, sizeof(g->seed), 0) != (ssize_t) sizeof(g->seed))
                return negative_errno();
        return 0;
}

uint64_t dnsproxy_grants_key(const struct dnsproxy_grants *g, const char *name,
                             const struct dns_addr *addrs, size_t n) {
        uint64_t key = bytes_hash(g->seed, name, strlen(name));
        /* A sum, so that the order the upstream server gave them in (round
         * robin) does not matter. */
        for (size_t i = 0; i < n; i++) {
                size_t len = addrs[i].family == AF_INET ? 4 : sizeof(addrs[i].addr);
                key += bytes_hash(g->seed ^ (uint64_t) addrs[i].family, addrs[i].addr, len);
        }
        key = mix(key ^ n);
        return key ? key : 1;
}

bool dnsproxy_grants_cover(const struct dnsproxy_grants *g, uint64_t key, uint64_t until_usec) {
        const struct dnsproxy_grant *s = &g->slot[key & (DNSPROXY_GRANTS - 1)];
        return s->key == key && s->until_usec >= until_usec;
}

void dnsproxy_grants_record(struct dnsproxy_grants *g, uint64_t key, uint64_t until_usec) {
        g->slot[key & (DNSPROXY_GRANTS - 1)] = (struct dnsproxy_grant) { .key = key, .until_usec = until_usec };
}
