/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "prefix.h"
#include "tap.h"

static void check_roundtrip(const char *in, const char *want) {
        struct ip_prefix p;
        char buf[IP_PREFIX_STRLEN];
        int r = ip_prefix_parse(in, &p);
        TAP_CHECK(r == 0, "parse %s", in);
        if (r == 0)
                TAP_CHECK_STR(ip_prefix_format(&p, buf), want, in);
}

static void check_rejected(const char *in) {
        struct ip_prefix p;
        TAP_CHECK(ip_prefix_parse(in, &p) == -EINVAL, "reject %s", in);
}

static void check_subtract(const char *range, const char *hole, const char *want) {
        struct ip_prefix r, h, out[IP_PREFIX_SUBTRACT_MAX];
        char got[1024] = "", buf[IP_PREFIX_STRLEN];
        if (ip_prefix_parse(range, &r) < 0 || ip_prefix_parse(hole, &h) < 0) {
                TAP_CHECK(0, "%s and %s parse", range, hole);
                return;
        }
        size_t n = ip_prefix_subtract(&r, &h, out);
        for (size_t i = 0; i < n; i++)
                snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", ip_prefix_format(&out[i], buf));
        TAP_CHECK(strcmp(got, want) == 0, "%s without %s: %s", range, hole, got);
}

int main(void) {
        check_subtract("192.0.2.0/24", "192.0.2.128/25", "192.0.2.0/25");
        check_subtract("192.0.2.0/24", "192.0.2.64/26", "192.0.2.128/25 192.0.2.0/26");
        check_subtract("192.0.2.0/24", "192.0.2.0/23", "");
        check_subtract("192.0.2.0/24", "198.51.100.0/24", "192.0.2.0/24");
        check_subtract("192.0.2.0/30", "192.0.2.3/32", "192.0.2.0/31 192.0.2.2/32");
        check_subtract("2001:db8::/32", "2001:db8:8000::/33", "2001:db8::/33");
        check_subtract("2001:db8::/32", "192.0.2.0/24", "2001:db8::/32");
        check_roundtrip("192.0.2.0/24", "192.0.2.0/24");
        check_roundtrip("192.0.2.7", "192.0.2.7/32");
        check_roundtrip("0.0.0.0/0", "0.0.0.0/0");
        check_roundtrip("2001:db8::/32", "2001:db8::/32");
        check_roundtrip("2001:DB8::1", "2001:db8::1/128");
        check_rejected("192.0.2.1/24");
        check_rejected("192.0.2.0/33");
        check_rejected("192.0.2.0/");
        check_rejected("192.0.2.0/08");
        check_rejected("192.0.2.0/-1");
        check_rejected("2001:db8::/129");
        check_rejected("example.test");
        check_rejected("");
        check_rejected("300.1.1.1");

        struct ip_prefix outer, inner, other;
        ip_prefix_parse("198.51.100.0/24", &outer);
        ip_prefix_parse("198.51.100.128/25", &inner);
        ip_prefix_parse("198.51.101.0/25", &other);
        TAP_CHECK(ip_prefix_contains(&outer, &inner), "/24 contains its /25");
        TAP_CHECK(!ip_prefix_contains(&inner, &outer), "/25 does not contain its /24");
        TAP_CHECK(!ip_prefix_contains(&outer, &other), "/24 does not contain a neighbour");
        TAP_CHECK(ip_prefix_compare(&outer, &other) < 0, "ordering by address");
        return tap_done();
}
