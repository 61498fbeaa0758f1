/* SPDX-License-Identifier: MIT */
/* Concurrent DNS resolution with c-ares, driven by PID 1's event loop: the
 * socket-state callback puts c-ares' sockets on the loop, ares_timeout()
 * arms one loop timer. No resolver thread, no polling. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "prefix.h"

struct resolver_config {
        const char *resolv_conf;        /* NULL: /etc/resolv.conf */
        unsigned timeout_ms;            /* per try; 0: TIMEOUT_DNS_TRY_MS */
        unsigned tries;                 /* 0: DNS_TRIES */
        /* Mark every socket as the init's own (netmark.h), which the
         * firewall lets out before the policy is known and tells from
         * anything the sandbox user sends. A socket that cannot be marked
         * is not used: unmarked, its queries would be refused anyway. */
        bool mark_sockets;
};

struct resolve_result {
        const char *name;
        int error;                      /* 0, or -ENOENT (no such name), -ENODATA (no
                                         * addresses), -ETIMEDOUT, -ECONNREFUSED,
                                         * -ECANCELED (resolver freed), -EIO */
        const char *error_text;         /* for people: "no such domain (NXDOMAIN)" */
        struct ip_prefix *addrs;        /* /32 and /128, sorted, no duplicates */
        size_t n_addrs;
        uint32_t ttl;                   /* smallest TTL of the answers, seconds */
};

/* Called once per resolver_resolve(), from the loop; res is valid only
 * during the call. */
typedef void (*resolve_done_fn)(const struct resolve_result *res, void *userdata);

struct resolver;

int resolver_new(struct loop *l, const struct resolver_config *cfg, struct resolver **ret);

/* A and AAAA for name; every call runs concurrently with the others. */
int resolver_resolve(struct resolver *r, const char *name, resolve_done_fn done, void *userdata);

/* The name servers in use, as host prefixes; *ret is the caller's to free. */
int resolver_servers(struct resolver *r, struct ip_prefix **ret, size_t *ret_n);

size_t resolver_pending(const struct resolver *r);

/* A burst of DNS messages lands on one UDP socket within a millisecond or
 * two (a start's 400 answers of 200 names; a build's queries to the
 * sandbox's resolver): the default 208 KiB receive buffer drops part of
 * it, and each message lost costs a retry after the timeout. The buffer is
 * a ceiling, not an allocation. Beyond net.core.rmem_max it takes
 * CAP_NET_ADMIN (SO_RCVBUFFORCE), which PID 1 holds; without it the largest
 * the system allows is still better than the default. */
#define RESOLVER_UDP_RCVBUF (4 << 20)
void resolver_udp_buffer_grow(int fd);

/* Outstanding queries complete with -ECANCELED. */
void resolver_free(struct resolver *r);
