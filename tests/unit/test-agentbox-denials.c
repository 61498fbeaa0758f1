/* SPDX-License-Identifier: MIT */
/* The pure parts of agentbox denied and check: durations, the JSON lines of
 * the guest's contract, grouping newest first, what would allow a denial,
 * and which policy entry allows a destination. */
#include <stdlib.h>
#include <string.h>

#include "checkdest.h"
#include "denials.h"
#include "tap.h"

static void durations(void) {
        static const struct { const char *text; uint64_t seconds; } good[] = {
                { "30s", 30 }, { "5m", 300 }, { "2h", 7200 }, { "1d", 86400 }, { "90m", 5400 },
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                uint64_t v = 0;
                TAP_CHECK(denials_parse_duration(good[i].text, &v) == 0 && v == good[i].seconds, "duration %s = %llu",
                          good[i].text, (unsigned long long) v);
        }
        static const char *const bad[] = { "", "5", "s", "0s", "-5m", "5 m", "5mm", "1h30m", "5w", "5M",
                                           "99999999999999999999999d", "4000d" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                uint64_t v = 7;
                TAP_CHECK(denials_parse_duration(bad[i], &v) < 0 && v == 7, "'%s' is refused", bad[i]);
        }
}

static void parsing(void) {
        struct denial d;
        TAP_CHECK(denial_parse_line("{\"time\": 100, \"kind\": \"connect\", \"proto\": \"tcp\", \"dst\": \"203.0.113.9\", "
                                    "\"port\": 443, \"name\": \"evil.example\", \"resolved_ago\": 12, \"uid\": 1000, "
                                    "\"reason\": \"not in the policy\", \"count\": 3, \"future\": [1]}", &d) < 0,
                  "a nested value is refused");
        TAP_CHECK(denial_parse_line("{\"time\": 100, \"kind\": \"connect\", \"proto\": \"tcp\", \"dst\": \"203.0.113.9\", "
                                    "\"port\": 443, \"name\": \"evil.example\", \"resolved_ago\": 12, \"uid\": 1000, "
                                    "\"reason\": \"not in\\u0020the \\\"policy\\\"\", \"count\": 3, \"new\": true}", &d) == 0 &&
                  d.time == 100 && d.port == 443 && d.count == 3 && d.uid == 1000 && d.resolved_ago == 12 &&
                  strcmp(d.name, "evil.example") == 0 && strcmp(d.reason, "not in the \"policy\"") == 0,
                  "the contract's line, escapes decoded, an unknown scalar key ignored");
        TAP_CHECK(denial_parse_line("{\"time\":5,\"kind\":\"dns\",\"proto\":\"A\",\"dst\":null,\"port\":null,\"name\":\"x.test\","
                                    "\"resolved_ago\":null,\"uid\":null,\"reason\":\"r\",\"count\":1}", &d) == 0 &&
                  d.port == -1 && d.uid == -1 && d.dst[0] == '\0', "nulls");
        TAP_CHECK(denial_parse_line("{\"time\":5,\"kind\":\"name\",\"proto\":\"tls\",\"dst\":\"203.0.113.9\",\"port\":443,"
                                    "\"name\":\"x.test\",\"resolved_ago\":null,\"uid\":1000,\"reason\":\"not in the policy\","
                                    "\"count\":1}", &d) == 0 && strcmp(d.kind, "name") == 0 && strcmp(d.proto, "tls") == 0,
                  "a server name the name gate refused");
        static const char *const bad[] = {
                "", "[]", "{}", "{\"time\": 1}", "{\"time\": 1, \"kind\": \"other\"}",
                "{\"time\": -1, \"kind\": \"dns\"}", "{\"time\": 1, \"kind\": \"dns\", \"count\": 0}",
                "{\"time\": 1, \"kind\": \"dns\", \"port\": 70000}", "{\"time\": 1.5, \"kind\": \"dns\"}",
                "{\"time\": 1, \"kind\": \"dns\"} trailing", "{\"time\": 1, \"kind\": \"dns\"",
                "{\"time\": 1, \"kind\": \"dns\", \"name\": \"unterminated}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                TAP_CHECK(denial_parse_line(bad[i], &d) < 0, "refused: %s", bad[i]);
        char line[2048];
        snprintf(line, sizeof(line), "{\"time\": 1, \"kind\": \"dns\", \"name\": \"%0300d\"}", 0);
        TAP_CHECK(denial_parse_line(line, &d) < 0, "a name over the bound is refused, not cut");
}

static struct denial rec(int64_t t, const char *name, const char *dst, int port, int64_t count) {
        struct denial d = { .time = t, .port = port, .count = count, .uid = -1, .resolved_ago = -1 };
        strcpy(d.kind, "connect");
        strcpy(d.proto, "tcp");
        snprintf(d.name, sizeof(d.name), "%s", name);
        snprintf(d.dst, sizeof(d.dst), "%s", dst);
        return d;
}

static void grouping(void) {
        struct denial v[] = {
                rec(10, "a.test", "192.0.2.1", 443, 1), rec(20, "", "198.51.100.1", 22, 1),
                rec(30, "a.test", "192.0.2.1", 443, 4), rec(25, "a.test", "192.0.2.2", 443, 1),
                rec(5, "a.test", "192.0.2.1", 80, 2),
        };
        struct denial_group *g = NULL;
        size_t n = 0;
        TAP_CHECK(denials_group(v, 5, &g, &n) == 0 && n == 4, "four groups: name, address and port differ (%zu)", n);
        TAP_CHECK(g[0].last.time == 30 && g[0].count == 5 && g[0].first == 10 && g[0].last.port == 443 &&
                  strcmp(g[0].last.dst, "192.0.2.1") == 0, "newest first, counts summed, first and last kept");
        TAP_CHECK(g[1].last.time == 25 && g[2].last.time == 20 && g[3].last.time == 5, "then by last time");
        free(g);
        TAP_CHECK(denials_group(v, 0, &g, &n) == 0 && n == 0, "no records, no groups");
        free(g);
}

static void fixes(void) {
        struct denial_fix f;
        struct denial d = rec(1, "evil.example", "203.0.113.9", 443, 1);
        denial_fix(&d, true, &f);
        TAP_CHECK_STR(f.command, "agentbox allow evil.example", "a name: agentbox allow");
        denial_fix(&d, false, &f);
        TAP_CHECK(f.command[0] == '\0' && strcmp(f.policy_line, "domains: [\"evil.example\"]") == 0,
                  "a template's sandbox: the policy line");
        d = rec(1, "", "2001:db8::5", 443, 1);
        denial_fix(&d, true, &f);
        TAP_CHECK(f.command[0] == '\0' && strcmp(f.policy_line, "cidrs: [\"2001:db8::5/128\"]") == 0 && f.note[0],
                  "a literal address: the cidrs line and a note");
        d = rec(1, "_srv._tcp.x.test", "", -1, 1);
        denial_fix(&d, true, &f);
        TAP_CHECK(f.command[0] == '\0' && f.policy_line[0] == '\0' && f.note[0], "a name no policy can hold");
        d = rec(1, "", "203.0.113.9", 443, 1);
        strcpy(d.kind, "name");
        denial_fix(&d, true, &f);
        TAP_CHECK(strcmp(f.policy_line, "cidrs: [\"203.0.113.9/32\"]") == 0 && strstr(f.note, "not name-checked"),
                  "a connection that named no host: the cidrs line, and what it gives up");

        /* The name is allowed already: allowing it again would change nothing. */
        d = rec(1, "api.example.com", "203.0.113.9", 8443, 1);
        strcpy(d.reason, "port not allowed for that address");
        denial_fix(&d, true, &f);
        TAP_CHECK(f.command[0] == '\0' && strcmp(f.policy_line, "ports: [8443]") == 0 && strstr(f.note, "8443"),
                  "a port the address lacks: the ports line, no allow command");
        strcpy(d.proto, "udp");
        strcpy(d.reason, "udp not allowed to that address");
        denial_fix(&d, true, &f);
        TAP_CHECK(f.command[0] == '\0' && f.policy_line[0] == '\0' && strstr(f.note, "TCP only"),
                  "another protocol: a note only");
        d = rec(1, "api.example.com", "203.0.113.9", 443, 1);
        strcpy(d.reason, "expired after its TTL");
        denial_fix(&d, true, &f);
        TAP_CHECK(f.command[0] == '\0' && strncmp(f.policy_line, "dns: {grace:", 12) == 0,
                  "an expired address: the grace line");
        d = rec(1, "api.example.com", "", -1, 1);
        strcpy(d.kind, "dns");
        strcpy(d.proto, "TXT");
        strcpy(d.reason, "the sandbox's resolver does not answer that type");
        denial_fix(&d, true, &f);
        TAP_CHECK(f.command[0] == '\0' && strstr(f.note, "A, AAAA and CNAME"), "a query type: a note only");
        strcpy(d.reason, "not in the policy");
        denial_fix(&d, true, &f);
        TAP_CHECK_STR(f.command, "agentbox allow api.example.com", "a refused query: agentbox allow");
}

static struct policy *policy_of(const char *text) {
        struct policy *p = NULL;
        struct policy_diags d = {};
        if (policy_parse_buffer("p.yaml", text, strlen(text), &p, &d) == 0 && policy_expand(p, &d) < 0) {
                policy_free(p);
                p = NULL;
        }
        policy_diags_clear(&d);
        return p;
}

static bool allows(const struct policy *p, const char *target, const char *want) {
        struct check_target t;
        struct check_result r;
        if (check_parse_target(target, &t, NULL) < 0)
                return false;
        check_destination(p, &t, &r);
        if (!strstr(r.why, want))
                printf("#   %s: %s\n", target, r.why);
        return r.allowed && strstr(r.why, want);
}

static void checks(void) {
        struct policy *p = policy_of("services: [github]\ndomains:\n  - '*.example.com'\ncidrs: [192.0.2.0/24]\n");
        TAP_CHECK(p, "the policy parses");
        if (!p)
                return;
        TAP_CHECK(allows(p, "a.b.example.com:443", "domains: \"*.example.com\" in p.yaml:3"), "a wildcard");
        TAP_CHECK(allows(p, "example.com", "domains: \"*.example.com\""), "the wildcard's own name");
        TAP_CHECK(!allows(p, "badexample.com", ""), "not a suffix match");
        TAP_CHECK(allows(p, "github.com:22", "service \"github\" in p.yaml:1"), "a service's own port");
        TAP_CHECK(!allows(p, "a.example.com:22", ""), "a service's port is not everyone's");
        TAP_CHECK(allows(p, "a.example.com:80", "default port"), "the default ports");
        TAP_CHECK(allows(p, "192.0.2.9:443", "cidrs: \"192.0.2.0/24\" in p.yaml:4"), "an address in a range");
        TAP_CHECK(!allows(p, "192.0.3.9", ""), "an address outside");
        policy_free(p);
        struct check_target t;
        TAP_CHECK(check_parse_target("[2001:db8::1]:8443", &t, NULL) == 0 && t.is_address && t.port == 8443,
                  "[IPv6]:port");
        TAP_CHECK(check_parse_target("2001:db8::1", &t, NULL) == 0 && t.is_address && t.port == -1, "bare IPv6");
        static const char *const bad[] = { "", ":443", "a.test:", "a.test:0", "a.test:65536", "[::1", "[::1]x",
                                           "bad_name", "192.0.2.0/24" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                TAP_CHECK(check_parse_target(bad[i], &t, NULL) < 0, "target '%s' is refused", bad[i]);
}

int main(void) {
        durations();
        parsing();
        grouping();
        fixes();
        checks();
        return tap_done();
}
