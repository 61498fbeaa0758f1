/* SPDX-License-Identifier: MIT */
#include "guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

struct guard_range {
        struct ip_prefix prefix;
        const char *reason;
};

struct guard {
        struct guard_range *ranges;
        size_t n_ranges;
        struct ip_prefix *exceptions;
        size_t n_exceptions;
};

static const struct {
        const char *cidr;
        const char *reason;
} fixed_ranges[] = {
        {"0.0.0.0/8", "the 'this network' range"},
        {"127.0.0.0/8", "loopback"},
        {"169.254.0.0/16", "link-local (cloud metadata endpoints live here)"},
        {"224.0.0.0/4", "multicast"},
        {"255.255.255.255/32", "broadcast"},
        {"::/128", "the unspecified address"},
        {"::1/128", "loopback"},
        {"::ffff:0:0/96", "an IPv4-mapped address"},
        {"fe80::/10", "link-local (cloud metadata endpoints live here)"},
        {"ff00::/8", "multicast"},
};

static int guard_add(struct guard *g, const struct ip_prefix *p, const char *reason) {
        struct guard_range *r = realloc(g->ranges, (g->n_ranges + 1) * sizeof(*r));
        if (!r)
                return -ENOMEM;
        g->ranges = r;
        g->ranges[g->n_ranges++] = (struct guard_range) {.prefix = *p, .reason = reason};
        return 0;
}

static unsigned netmask_length(const struct sockaddr *mask) {
        const uint8_t *bytes;
        size_t n;
        unsigned len = 0;
        if (mask->sa_family == AF_INET) {
                bytes = (const uint8_t *) &((const struct sockaddr_in *) mask)->sin_addr;
                n = 4;
        } else {
                bytes = (const uint8_t *) &((const struct sockaddr_in6 *) mask)->sin6_addr;
                n = 16;
        }
        for (size_t i = 0; i < n; i++)
                len += (unsigned) __builtin_popcount(bytes[i]);
        return len;
}

/* The network of every interface address: the container's own networks. */
static int guard_add_interfaces(struct guard *g) {
        struct ifaddrs *list = NULL;
        if (getifaddrs(&list) < 0)
                return negative_errno();
        int r = 0;
        for (struct ifaddrs *ifa = list; ifa && r == 0; ifa = ifa->ifa_next) {
                if (!ifa->ifa_addr || !ifa->ifa_netmask)
                        continue;
                int family = ifa->ifa_addr->sa_family;
                if (family != AF_INET && family != AF_INET6)
                        continue;
                struct ip_prefix p;
                const void *addr = family == AF_INET
                        ? (const void *) &((const struct sockaddr_in *) ifa->ifa_addr)->sin_addr
                        : (const void *) &((const struct sockaddr_in6 *) ifa->ifa_addr)->sin6_addr;
                ip_prefix_from_addr(family, addr, &p);
                p.len = (uint8_t) netmask_length(ifa->ifa_netmask);
                /* Clear the host bits: the range is the whole network. */
                for (unsigned bit = p.len; bit < ip_prefix_addr_len(&p) * 8; bit++)
                        p.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
                r = guard_add(g, &p, "the container's own network");
        }
        freeifaddrs(list);
        return r;
}

/* Default gateways from /proc/net/route (IPv4, little-endian hex) and
 * /proc/net/ipv6_route. A missing file means no such routes. */
static int guard_add_gateways(struct guard *g) {
        _cleanup_fclose_ FILE *v4 = fopen("/proc/net/route", "re");
        char line[512];
        while (v4 && fgets(line, sizeof(line), v4)) {
                char iface[64];
                unsigned dest, gw, flags;
                if (sscanf(line, "%63s %x %x %x", iface, &dest, &gw, &flags) != 4 || gw == 0)
                        continue;
                struct ip_prefix p;
                ip_prefix_from_addr(AF_INET, &gw, &p);  /* already in network byte order */
                if (guard_add(g, &p, "the container's gateway") < 0)
                        return -ENOMEM;
        }
        _cleanup_fclose_ FILE *v6 = fopen("/proc/net/ipv6_route", "re");
        while (v6 && fgets(line, sizeof(line), v6)) {
                char dst[33], dlen[3], src[33], slen[3], next[33];
                if (sscanf(line, "%32s %2s %32s %2s %32s", dst, dlen, src, slen, next) != 5)
                        continue;
                uint8_t addr[16];
                bool zero = true;
                for (int i = 0; i < 16; i++) {
                        unsigned byte;
                        if (sscanf(next + 2 * i, "%2x", &byte) != 1)
                                break;
                        addr[i] = (uint8_t) byte;
                        zero &= byte == 0;
                }
                if (zero)
                        continue;
                struct ip_prefix p;
                ip_prefix_from_addr(AF_INET6, addr, &p);
                if (guard_add(g, &p, "the container's gateway") < 0)
                        return -ENOMEM;
        }
        return 0;
}

int guard_new(const struct ip_prefix *exceptions, size_t n_exceptions, struct guard **ret) {
        struct guard *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; i < ELEMENTSOF(fixed_ranges) && r == 0; i++) {
                struct ip_prefix p;
                ip_prefix_parse(fixed_ranges[i].cidr, &p);
                r = guard_add(g, &p, fixed_ranges[i].reason);
        }
        if (r == 0)
                r = guard_add_interfaces(g);
        if (r == 0)
                r = guard_add_gateways(g);
        if (r == 0 && n_exceptions > 0) {
                g->exceptions = malloc(n_exceptions * sizeof(*g->exceptions));
                if (!g->exceptions)
                        r = -ENOMEM;
                else {
                        memcpy(g->exceptions, exceptions, n_exceptions * sizeof(*g->exceptions));
                        g->n_exceptions = n_exceptions;
                }
        }
        if (r < 0) {
                guard_free(g);
                return r;
        }
        *ret = g;
        return 0;
}

bool guard_allows(const struct guard *g, const struct ip_prefix *range, const char **ret_reason,
                  char *detail, size_t detail_len) {
        for (size_t i = 0; i < g->n_exceptions; i++)
                if (ip_prefix_contains(&g->exceptions[i], range))
                        return true;
        for (size_t i = 0; i < g->n_ranges; i++) {
                const struct ip_prefix *refused = &g->ranges[i].prefix;
                if (!ip_prefix_contains(refused, range) && !ip_prefix_contains(range, refused))
                        continue;
                char buf[IP_PREFIX_STRLEN];
                if (ret_reason)
                        *ret_reason = g->ranges[i].reason;
                if (detail && detail_len)
                        snprintf(detail, detail_len, "(%s)", ip_prefix_format(refused, buf));
                return false;
        }
        return true;
}

int guard_cut(const struct guard *g, const struct ip_prefix *range, struct ip_prefix **ret, size_t *ret_n) {
        struct ip_prefix *pieces = malloc(sizeof(*pieces));
        if (!pieces)
                return -ENOMEM;
        pieces[0] = *range;
        size_t n = 1;
        for (size_t i = 0; i < g->n_ranges && n > 0; i++) {
                const struct ip_prefix *hole = &g->ranges[i].prefix;
                struct ip_prefix *next = malloc(n * IP_PREFIX_SUBTRACT_MAX * sizeof(*next));
                if (!next) {
                        free(pieces);
                        return -ENOMEM;
                }
                size_t k = 0;
                for (size_t j = 0; j < n; j++)
                        k += ip_prefix_subtract(&pieces[j], hole, next + k);
                free(pieces);
                pieces = next;
                n = k;
        }
        *ret = pieces;
        *ret_n = n;
        return 0;
}

void guard_free(struct guard *g) {
        if (!g)
                return;
        free(g->ranges);
        free(g->exceptions);
        free(g);
}
