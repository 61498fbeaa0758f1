/* SPDX-License-Identifier: MIT */
#include "prefix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool host_bits_clear(const struct ip_prefix *p) {
        size_t n = ip_prefix_addr_len(p);
        for (size_t bit = p->len; bit < n * 8; bit++)
                if (p->addr[bit / 8] & (0x80u >> (bit % 8)))
                        return false;
        return true;
}

int ip_prefix_parse(const char *text, struct ip_prefix *ret) {
        char buf[INET6_ADDRSTRLEN + 8];
        struct ip_prefix p = {0};
        size_t n = strlen(text);

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, text, n + 1);

        char *slash = strchr(buf, '/');
        if (slash)
                *slash = '\0';

        if (inet_pton(AF_INET, buf, p.addr) == 1)
                p.family = AF_INET;
        else if (inet_pton(AF_INET6, buf, p.addr) == 1)
                p.family = AF_INET6;
        else
                return -EINVAL;

        unsigned max = p.family == AF_INET ? 32 : 128;
        p.len = max;
        if (slash) {
                const char *digits = slash + 1;
                unsigned len = 0;
                if (*digits == '\0' || strlen(digits) > 3)
                        return -EINVAL;
                for (const char *c = digits; *c; c++) {
                        if (*c < '0' || *c > '9')
                                return -EINVAL;
                        len = len * 10 + (unsigned) (*c - '0');
                }
                /* "/08" is not a length anyone means; refuse leading zeros. */
                if (len > max || (digits[0] == '0' && digits[1] != '\0'))
                        return -EINVAL;
                p.len = (uint8_t) len;
        }
        if (!host_bits_clear(&p))
                return -EINVAL;
        *ret = p;
        return 0;
}

void ip_prefix_from_addr(int family, const void *addr, struct ip_prefix *ret) {
        memset(ret, 0, sizeof(*ret));
        ret->family = (uint8_t) family;
        ret->len = family == AF_INET ? 32 : 128;
        memcpy(ret->addr, addr, ip_prefix_addr_len(ret));
}

const char *ip_prefix_format(const struct ip_prefix *p, char buf[static IP_PREFIX_STRLEN]) {
        char addr[INET6_ADDRSTRLEN];
        if (!inet_ntop(p->family, p->addr, addr, sizeof(addr)))
                snprintf(addr, sizeof(addr), "?");
        snprintf(buf, IP_PREFIX_STRLEN, "%s/%u", addr, p->len);
        return buf;
}

bool ip_prefix_contains(const struct ip_prefix *outer, const struct ip_prefix *inner) {
        if (outer->family != inner->family || inner->len < outer->len)
                return false;
        unsigned full = outer->len / 8, rest = outer->len % 8;
        if (memcmp(outer->addr, inner->addr, full) != 0)
                return false;
        if (rest == 0)
                return true;
        uint8_t mask = (uint8_t) (0xffu << (8 - rest));
        return (outer->addr[full] & mask) == (inner->addr[full] & mask);
}

int ip_prefix_compare(const void *a, const void *b) {
        const struct ip_prefix *x = a, *y = b;
        if (x->family != y->family)
                return x->family < y->family ? -1 : 1;
        int r = memcmp(x->addr, y->addr, ip_prefix_addr_len(x));
        if (r != 0)
                return r;
        return (x->len > y->len) - (x->len < y->len);
}

size_t ip_prefix_subtract(const struct ip_prefix *range, const struct ip_prefix *hole,
                          struct ip_prefix out[static IP_PREFIX_SUBTRACT_MAX]) {
        if (ip_prefix_contains(hole, range))
                return 0;
        if (!ip_prefix_contains(range, hole)) {
                out[0] = *range;
                return 1;
        }
        /* Walk from range down to hole one bit at a time: at each step the
         * half that does not hold the hole is kept whole. */
        size_t n = 0;
        for (unsigned len = range->len + 1u; len <= hole->len; len++) {
                struct ip_prefix sibling = { .family = hole->family, .len = (uint8_t) len };
                memcpy(sibling.addr, hole->addr, sizeof(sibling.addr));
                unsigned bit = len - 1;
                sibling.addr[bit / 8] ^= (uint8_t) (0x80u >> (bit % 8));
                for (unsigned b = len; b < ip_prefix_addr_len(&sibling) * 8; b++)
                        sibling.addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
                out[n++] = sibling;
        }
        return n;
}
