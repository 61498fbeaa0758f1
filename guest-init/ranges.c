/* SPDX-License-Identifier: MIT */
#include "ranges.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t family_len(int family) {
        return family == AF_INET ? 4 : 16;
}

static void range_from_prefix(const struct ip_prefix *p, struct ip_range *r) {
        size_t n = ip_prefix_addr_len(p);
        memset(r, 0, sizeof(*r));
        r->family = p->family;
        for (size_t i = 0; i < n; i++) {
                unsigned bits = p->len > i * 8 ? p->len - i * 8 : 0;
                uint8_t mask = bits >= 8 ? 0xff : (uint8_t) (0xff00u >> bits);
                r->first[i] = p->addr[i] & mask;
                r->last[i] = p->addr[i] | (uint8_t) ~mask;
        }
}

static int range_compare(const void *a, const void *b, void *userdata) {
        const struct ip_range *x = a, *y = b;
        size_t n = *(const size_t *) userdata;
        int r = memcmp(x->first, y->first, n);
        return r != 0 ? r : memcmp(y->last, x->last, n);  /* wider first */
}

/* a + 1 into out; false when a is all ones (no successor). */
static bool addr_successor(const uint8_t *a, size_t n, uint8_t *out) {
        bool carry = true;
        for (size_t i = n; i-- > 0;) {
                out[i] = (uint8_t) (a[i] + (carry ? 1 : 0));
                carry = carry && a[i] == 0xff;
        }
        return !carry;
}

/* Whether next (sorted after cur) overlaps cur or starts right after it. */
static bool joins(const struct ip_range *cur, const struct ip_range *next, size_t n) {
        uint8_t succ[16];
        if (!addr_successor(cur->last, n, succ))
                return true;    /* cur reaches the top: everything after is inside */
        return memcmp(next->first, succ, n) <= 0;
}

int ip_ranges_merge(const struct ip_prefix *prefixes, size_t n, int family,
                    struct ip_range **ret, size_t *ret_n) {
        size_t len = family_len(family), count = 0;
        struct ip_range *r = NULL;

        for (size_t i = 0; i < n; i++)
                count += prefixes[i].family == family;
        if (count > 0) {
                r = calloc(count, sizeof(*r));
                if (!r)
                        return -ENOMEM;
        }
        count = 0;
        for (size_t i = 0; i < n; i++)
                if (prefixes[i].family == family)
                        range_from_prefix(&prefixes[i], &r[count++]);

        if (count > 1)
                qsort_r(r, count, sizeof(*r), range_compare, &len);

        size_t out = 0;
        for (size_t i = 0; i < count; i++) {
                if (out > 0 && joins(&r[out - 1], &r[i], len)) {
                        if (memcmp(r[i].last, r[out - 1].last, len) > 0)
                                memcpy(r[out - 1].last, r[i].last, len);
                        continue;
                }
                r[out++] = r[i];
        }
        if (out == 0) {
                free(r);
                r = NULL;
        }
        *ret = r;
        *ret_n = out;
        return 0;
}

bool ip_range_end(const struct ip_range *r, uint8_t end[static 16]) {
        memset(end, 0, 16);
        return addr_successor(r->last, family_len(r->family), end);
}

const char *ip_range_format(const struct ip_range *r, char buf[static IP_RANGE_STRLEN]) {
        char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
        if (!inet_ntop(r->family, r->first, a, sizeof(a)) ||
            !inet_ntop(r->family, r->last, b, sizeof(b)))
                snprintf(buf, IP_RANGE_STRLEN, "?");
        else
                snprintf(buf, IP_RANGE_STRLEN, "%s-%s", a, b);
        return buf;
}
