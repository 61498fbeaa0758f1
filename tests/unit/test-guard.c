/* SPDX-License-Identifier: MIT */
/* The DNS rebinding guard (guest-init/guard.c): which answers may become
 * allowed destinations. A range is refused when it overlaps a refused range
 * in either direction, so a wide answer cannot carry loopback inside it. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "tap.h"

static void check(const struct guard *g, const char *cidr, bool want_allowed, const char *want_reason) {
        struct ip_prefix p;
        const char *reason = NULL;
        char detail[64] = "";
        if (ip_prefix_parse(cidr, &p) < 0) {
                TAP_CHECK(0, "%s parses", cidr);
                return;
        }
        bool allowed = guard_allows(g, &p, &reason, detail, sizeof(detail));
        TAP_CHECK(allowed == want_allowed, "%s is %s", cidr, want_allowed ? "allowed" : "refused");
        if (!want_allowed && want_reason)
                TAP_CHECK_STR(reason, want_reason, cidr);
}

static void fixed_ranges(void) {
        struct guard *g = NULL;
        TAP_CHECK(guard_new(NULL, 0, &g) == 0, "guard_new");
        if (!g)
                return;
        check(g, "0.1.2.3", false, "the 'this network' range");
        check(g, "127.0.0.1", false, "loopback");
        check(g, "127.255.255.254/32", false, "loopback");
        check(g, "169.254.169.254", false, "link-local (cloud metadata endpoints live here)");
        check(g, "224.0.0.251", false, "multicast");
        check(g, "239.255.255.250", false, "multicast");
        check(g, "255.255.255.255", false, "broadcast");
        check(g, "::", false, "the unspecified address");
        check(g, "::1", false, "loopback");
        check(g, "::ffff:198.51.100.10", false, "an IPv4-mapped address");
        check(g, "::ffff:127.0.0.1", false, "an IPv4-mapped address");
        check(g, "fe80::1", false, "link-local (cloud metadata endpoints live here)");
        check(g, "febf:ffff::1", false, "link-local (cloud metadata endpoints live here)");
        check(g, "ff02::1", false, "multicast");
        check(g, "ff0e::101", false, "multicast");

        /* Documentation ranges stand for the public internet. */
        check(g, "198.51.100.10", true, NULL);
        check(g, "203.0.113.0/24", true, NULL);
        check(g, "2001:db8:2::10", true, NULL);
        check(g, "2001:db8::/32", true, NULL);
        /* Next to a refused range, not in it. */
        check(g, "1.0.0.1", true, NULL);
        check(g, "128.0.0.1", true, NULL);
        check(g, "fec0::1", true, NULL);
        guard_free(g);
}

/* A range that holds a refused one is refused, although the refused range
 * does not contain it: containment alone would let these through. */
static void overlap_either_way(void) {
        struct guard *g = NULL;
        TAP_CHECK(guard_new(NULL, 0, &g) == 0, "guard_new");
        if (!g)
                return;
        check(g, "126.0.0.0/7", false, "loopback");
        check(g, "0.0.0.0/0", false, NULL);
        check(g, "169.254.0.0/15", false, "link-local (cloud metadata endpoints live here)");
        check(g, "::/127", false, NULL);
        check(g, "fe00::/7", false, "link-local (cloud metadata endpoints live here)");
        check(g, "::/0", false, NULL);

        struct ip_prefix p;
        const char *reason = NULL;
        char detail[64] = "";
        ip_prefix_parse("126.0.0.0/7", &p);
        guard_allows(g, &p, &reason, detail, sizeof(detail));
        TAP_CHECK_STR(detail, "(127.0.0.0/8)", "the detail names the refused range inside the answer");
        guard_free(g);
}

/* The policy's cidrs: lift the guard for what they contain, and only that. */
static void exceptions(void) {
        struct ip_prefix ex[2];
        ip_prefix_parse("169.254.169.254/32", &ex[0]);
        ip_prefix_parse("fe80::/64", &ex[1]);
        struct guard *g = NULL;
        TAP_CHECK(guard_new(ex, 2, &g) == 0, "guard_new with exceptions");
        if (!g)
                return;
        check(g, "169.254.169.254", true, NULL);
        check(g, "169.254.169.253", false, "link-local (cloud metadata endpoints live here)");
        check(g, "169.254.0.0/16", false, "link-local (cloud metadata endpoints live here)");
        check(g, "fe80::1234", true, NULL);
        check(g, "fe80:0:0:1::1", false, "link-local (cloud metadata endpoints live here)");
        check(g, "127.0.0.1", false, "loopback");
        guard_free(g);
}

/* guard_cut: a service's range without every refused range, exceptions
 * or not. */
static bool pieces_hold(const struct ip_prefix *pieces, size_t n, const char *addr) {
        struct ip_prefix a;
        ip_prefix_parse(addr, &a);
        for (size_t i = 0; i < n; i++)
                if (ip_prefix_contains(&pieces[i], &a))
                        return true;
        return false;
}

static void cut(void) {
        struct ip_prefix loopback, wide;
        ip_prefix_parse("127.0.0.0/8", &loopback);
        ip_prefix_parse("0.0.0.0/1", &wide);
        struct guard *g = NULL;
        TAP_CHECK(guard_new(&loopback, 1, &g) == 0, "guard_new with loopback as an exception");
        if (!g)
                return;
        struct ip_prefix *pieces = NULL;
        size_t n = 0;
        TAP_CHECK(guard_cut(g, &wide, &pieces, &n) == 0 && n > 0, "0.0.0.0/1 cut");
        TAP_CHECK(pieces_hold(pieces, n, "1.1.1.1") && pieces_hold(pieces, n, "126.255.255.255") &&
                  pieces_hold(pieces, n, "128.0.0.0") == false, "what is not refused stays");
        TAP_CHECK(!pieces_hold(pieces, n, "127.0.0.1") && !pieces_hold(pieces, n, "0.0.0.1"),
                  "loopback and 0/8 are cut out, exception or not");
        free(pieces);
        TAP_CHECK(guard_cut(g, &loopback, &pieces, &n) == 0 && n == 0, "a refused range leaves nothing");
        free(pieces);
        guard_free(g);
}

int main(void) {
        /* The guard also refuses the networks of this namespace's
         * interfaces; the machine running the tests may carry documentation
         * addresses on its bridges (the end-to-end tests put some there).
         * An empty network namespace of our own keeps the answers fixed. */
        if (unshare(CLONE_NEWNET) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
                printf("# no network namespace of our own (%s): the machine's interfaces count too\n",
                       strerror(errno));
        fixed_ranges();
        overlap_either_way();
        exceptions();
        cut();
        return tap_done();
}
