/* SPDX-License-Identifier: MIT */
/* Merging prefixes into the disjoint ranges an nftables interval set takes,
 * and the exclusive end element of each range. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ranges.h"
#include "tap.h"

/* Merges the prefixes (a NULL-terminated list) of one family and compares
 * the result with want, "first-last" ranges joined by spaces. */
static void check_merge(int family, const char *const *in, const char *want, const char *what) {
        struct ip_prefix p[64];
        size_t n = 0;
        for (; in[n]; n++)
                if (ip_prefix_parse(in[n], &p[n]) < 0)
                        TAP_CHECK(0, "%s: parse %s", what, in[n]);
        struct ip_range *r = NULL;
        size_t nr = 0;
        TAP_CHECK(ip_ranges_merge(p, n, family, &r, &nr) == 0, "%s: merge", what);
        char got[4096] = "", buf[IP_RANGE_STRLEN];
        for (size_t i = 0; i < nr; i++) {
                if (i > 0)
                        strcat(got, " ");
                strcat(got, ip_range_format(&r[i], buf));
        }
        TAP_CHECK_STR(got, want, what);
        free(r);
}

static void check_end(const char *prefix, const char *want_end, const char *what) {
        struct ip_prefix p;
        struct ip_range *r = NULL;
        size_t nr = 0;
        uint8_t end[16];
        char buf[INET6_ADDRSTRLEN] = "";
        ip_prefix_parse(prefix, &p);
        ip_ranges_merge(&p, 1, p.family, &r, &nr);
        TAP_CHECK(nr == 1, "%s: one range", what);
        if (nr != 1)
                return;
        bool has = ip_range_end(&r[0], end);
        if (want_end) {
                TAP_CHECK(has, "%s: has an end element", what);
                inet_ntop(p.family, end, buf, sizeof(buf));
                TAP_CHECK_STR(buf, want_end, what);
        } else {
                TAP_CHECK(!has, "%s: open at the top of the address space, no end element", what);
        }
        free(r);
}

#define L(...) ((const char *const[]) { __VA_ARGS__, NULL })

int main(void) {
        check_merge(AF_INET, L("192.0.2.0/24", "198.51.100.0/24"),
                    "192.0.2.0-192.0.2.255 198.51.100.0-198.51.100.255", "disjoint stay apart");
        check_merge(AF_INET, L("198.51.100.0/24", "192.0.2.0/24"),
                    "192.0.2.0-192.0.2.255 198.51.100.0-198.51.100.255", "sorted by address");
        check_merge(AF_INET, L("192.0.2.0/24", "192.0.2.64/26", "192.0.2.7"),
                    "192.0.2.0-192.0.2.255", "nested are absorbed");
        check_merge(AF_INET, L("192.0.2.64/26", "192.0.2.0/24"),
                    "192.0.2.0-192.0.2.255", "nested, wider listed last");
        check_merge(AF_INET, L("192.0.2.0/25", "192.0.2.128/25"),
                    "192.0.2.0-192.0.2.255", "adjacent are joined");
        check_merge(AF_INET, L("192.0.2.0/24", "192.0.3.0/24", "192.0.4.0/24"),
                    "192.0.2.0-192.0.4.255", "a chain of adjacent ones");
        check_merge(AF_INET, L("192.0.2.0/24", "192.0.2.0/24", "192.0.2.0/24"),
                    "192.0.2.0-192.0.2.255", "duplicates");
        check_merge(AF_INET, L("192.0.2.1", "192.0.2.3"),
                    "192.0.2.1-192.0.2.1 192.0.2.3-192.0.2.3", "hosts with a gap");
        check_merge(AF_INET, L("192.0.2.1", "192.0.2.2"),
                    "192.0.2.1-192.0.2.2", "neighbouring hosts");
        check_merge(AF_INET, L("10.0.0.0/8", "0.0.0.0/0", "203.0.113.0/24"),
                    "0.0.0.0-255.255.255.255", "/0 swallows everything");
        check_merge(AF_INET, L("255.255.255.255", "255.255.255.254"),
                    "255.255.255.254-255.255.255.255", "top of the space");
        check_merge(AF_INET, L("192.0.2.0/24", "2001:db8::/32"),
                    "192.0.2.0-192.0.2.255", "other family skipped (v4)");
        check_merge(AF_INET6, L("192.0.2.0/24", "2001:db8::/32"),
                    "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "other family skipped (v6)");
        check_merge(AF_INET6, L("2001:db8::/48", "2001:db8:0:1::/64", "2001:db8:1::/48"),
                    "2001:db8::-2001:db8:1:ffff:ffff:ffff:ffff:ffff", "v6 nested and adjacent");
        check_merge(AF_INET6, L("2001:db8::1", "2001:db8::1", "2001:db8::3"),
                    "2001:db8::1-2001:db8::1 2001:db8::3-2001:db8::3", "v6 duplicate hosts");
        check_merge(AF_INET6, L("::/0", "2001:db8::/32"), "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "v6 /0");
        check_merge(AF_INET6, L("2001:db8::/32"), "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                    "carry through many bytes");

        struct ip_range *r = (struct ip_range *) 1;
        size_t nr = 7;
        TAP_CHECK(ip_ranges_merge(NULL, 0, AF_INET, &r, &nr) == 0 && r == NULL && nr == 0, "nothing in, nothing out");

        check_end("192.0.2.0/24", "192.0.3.0", "end of a /24 is the next address");
        check_end("192.0.2.255", "192.0.3.0", "carry into the next byte");
        check_end("255.255.255.255/32", NULL, "255.255.255.255/32");
        check_end("0.0.0.0/0", NULL, "0.0.0.0/0");
        check_end("2001:db8::/32", "2001:db9::", "v6 /32");
        check_end("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", NULL, "ffff...ffff/128");
        check_end("::/0", NULL, "::/0");
        return tap_done();
}
