/* SPDX-License-Identifier: MIT */
/* Parser: the model built from YAML, positions, normalisation, diagnostics. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "tap.h"

static struct policy *parse(const char *text, struct policy_diags *d) {
        struct policy *p = NULL;
        int r = policy_parse_buffer("t.yaml", text, strlen(text), &p, d);
        return r == 0 ? p : NULL;
}

static void check_first_error(const char *text, unsigned line, unsigned column, const char *message) {
        struct policy_diags d = {0};
        struct policy *p = parse(text, &d);
        TAP_CHECK(!p && d.n_errors > 0, "rejected: %s", message);
        if (d.n > 0) {
                TAP_CHECK(d.items[0].line == line && d.items[0].column == column, "at %u:%u (got %u:%u)", line,
                          column, d.items[0].line, d.items[0].column);
                TAP_CHECK_STR(d.items[0].message, message, "message");
        }
        policy_free(p);
        policy_diags_clear(&d);
}

static void test_model(void) {
        struct policy_diags d = {0};
        struct policy *p = parse("# comment\n"
                                 "services: [GitHub, npm]\n"
                                 "domains:\n"
                                 "  - API.Example.com.\n"
                                 "  - \"*.example.org\"\n"
                                 "cidrs: [192.0.2.0/24, \"2001:db8::/32\", 198.51.100.7]\n"
                                 "ports: [443, 8443]\n"
                                 "selfcheck: {allowed: a.example.com, blocked: 192.0.2.9, strict: true}\n"
                                 "dns: {min_ttl: 120, grace: 7}\n"
                                 "github: {meta_url: \"http://127.0.0.1:8080/meta\", ca_file: /etc/ca.pem}\n",
                                 &d);
        TAP_CHECK(p && d.n == 0, "full policy parses without diagnostics");
        if (!p)
                return;
        TAP_CHECK(p->n_services == 2, "two services");
        TAP_CHECK_STR(p->services[0].name, "github", "service names are lower-cased");
        TAP_CHECK(p->services[0].pos.line == 2 && p->services[0].pos.column == 12, "service position 2:12");
        TAP_CHECK(p->n_domains == 2, "two domains");
        TAP_CHECK_STR(p->domains[0].name, "api.example.com", "host lower-cased, trailing dot dropped");
        TAP_CHECK(!p->domains[0].wildcard && p->domains[0].pos.line == 4 && p->domains[0].pos.column == 5,
                  "domain position 4:5");
        TAP_CHECK_STR(p->domains[1].name, "example.org", "wildcard stored without *.");
        TAP_CHECK(p->domains[1].wildcard, "wildcard flag");
        TAP_CHECK(p->n_cidrs == 3 && p->cidrs[2].prefix.len == 32, "bare address is a /32");
        TAP_CHECK(p->ports_set && p->n_ports == 2 && p->ports[1].port == 8443, "ports");
        TAP_CHECK_STR(p->selfcheck_allowed, "a.example.com", "selfcheck.allowed");
        TAP_CHECK_STR(p->selfcheck_blocked, "192.0.2.9", "selfcheck.blocked may be an address");
        TAP_CHECK(p->selfcheck_strict == 1, "selfcheck.strict");
        TAP_CHECK(policy_dns_min_ttl(p) == 120, "dns.min_ttl");
        TAP_CHECK(policy_dns_grace(p) == 7, "dns.grace");
        TAP_CHECK_STR(p->github_meta_url, "http://127.0.0.1:8080/meta", "github.meta_url");
        TAP_CHECK_STR(p->github_ca_file, "/etc/ca.pem", "github.ca_file");
        TAP_CHECK_STR(policy_pos_file(p, &p->domains[0].pos), "t.yaml", "positions name the file");
        policy_free(p);
        policy_diags_clear(&d);
}

static void test_defaults_and_empty_lists(void) {
        struct policy_diags d = {0};
        struct policy *p = parse("services: []\ndomains: []\ncidrs:\n", &d);
        TAP_CHECK(p && d.n == 0, "empty lists (and a null list) are accepted");
        if (p) {
                TAP_CHECK(!p->ports_set && policy_dns_min_ttl(p) == 30 && !policy_selfcheck_strict(p),
                          "defaults: ports unset, min_ttl 30, strict false");
                TAP_CHECK(p->selfcheck_strict == -1, "strict not set");
        }
        policy_free(p);
        policy_diags_clear(&d);
}

static void test_duplicates(void) {
        struct policy_diags d = {0};
        struct policy *p = parse("domains: [a.example, b.example, A.example]\ncidrs: [192.0.2.0/24, 192.0.2.0/24]\n", &d);
        TAP_CHECK(p && d.n_errors == 0 && d.n == 2, "duplicates give two warnings, no error");
        if (p) {
                TAP_CHECK(p->n_domains == 2 && strcmp(p->domains[1].name, "b.example") == 0,
                          "duplicate folded, order kept");
                TAP_CHECK(p->n_cidrs == 1, "duplicate range folded");
        }
        if (d.n == 2) {
                TAP_CHECK(d.items[0].severity == POLICY_WARNING && d.items[0].line == 1 && d.items[0].column == 33,
                          "warning at the second occurrence");
                TAP_CHECK_STR(d.items[0].message,
                              "duplicate domain \"a.example\" (first at t.yaml:1:11); merged into one entry",
                              "warning names the first position");
        }
        policy_free(p);
        policy_diags_clear(&d);

        p = parse("domains: [example.com, \"*.example.com\"]\n", &d);
        TAP_CHECK(p && p->n_domains == 1 && p->domains[0].wildcard, "exact + wildcard fold into the wildcard");
        policy_free(p);
        policy_diags_clear(&d);
}

static void test_errors(void) {
        check_first_error("", 1, 1, "the policy file is empty; give at least one key, e.g. \"services: [github]\"");
        check_first_error("servics: []\n", 1, 1,
                          "unknown key \"servics\"; did you mean \"services\"? (known keys: services, domains, cidrs, ports, selfcheck, dns, name_check, github)");
        check_first_error("domains:\n  - {a: b}\n", 2, 5, "expected a host name, got a mapping");
        check_first_error("a: &x 1\n", 1, 4, "YAML anchors (&name) are not allowed in a policy file; write each value out");
        check_first_error("services: [a]\n---\nservices: [b]\n", 2, 1,
                          "a second YAML document (---); a policy file holds exactly one");
        check_first_error("domains:\n  - \"caf\xc3\xa9.example\"\n", 2, 5,
                          "host name \"caf\xc3\xa9.example\" contains a non-ASCII character; write internationalised names in punycode (\"xn--...\")");
        check_first_error("domains: [ok.example]\nx: \xff\n", 2, 4, "invalid UTF-8 (byte 0xff); a policy file must be UTF-8 text");
        check_first_error("ports: [1e3]\n", 1, 9, "invalid port \"1e3\": expected a whole number from 1 to 65535");
        check_first_error("domains: [a\n", 2, 1,
                          "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 10)");

        struct policy_diags d = {0};
        struct policy *p = NULL;
        char big[64] = "services: [github]\n";
        TAP_CHECK(policy_parse_buffer("big.yaml", big, POLICY_MAX_FILE_SIZE + 1, &p, &d) == -EINVAL && !p,
                  "a buffer over 1 MiB is refused before parsing");
        policy_diags_clear(&d);
}

static void test_diags_print(void) {
        struct policy_diags d = {0};
        policy_diag_add(&d, POLICY_ERROR, "f.yaml", 3, 7, "bad %s", "thing");
        policy_diag_add(&d, POLICY_WARNING, "f.yaml", 0, 0, "whole file");
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        policy_diags_print(&d, f);
        fclose(f);
        TAP_CHECK_STR(out, "f.yaml:3:7: error: bad thing\nf.yaml: warning: whole file\n", "diagnostic format");
        TAP_CHECK(d.n_errors == 1 && policy_diags_has_errors(&d), "error count");
        free(out);
        policy_diags_clear(&d);
        TAP_CHECK(d.n == 0 && !d.items, "cleared");
}

static void test_name_check(void) {
        struct policy_diags d = {0};
        struct policy *p = parse("domains: [a.example]\n", &d);
        TAP_CHECK(p && policy_name_check_enabled(p), "name checking is on by default");
        TAP_CHECK(p && policy_name_check_port(p, 443) == POLICY_NAME_CHECK_TLS, "443 is TLS by default");
        TAP_CHECK(p && policy_name_check_port(p, 80) == POLICY_NAME_CHECK_HTTP, "80 is HTTP by default");
        TAP_CHECK(p && policy_name_check_port(p, 8443) == POLICY_NAME_CHECK_NONE, "8443 is not checked by default");
        policy_free(p);

        p = parse("name_check: {tls_ports: [443, 8443], http_ports: []}\n", &d);
        TAP_CHECK(p && policy_name_check_port(p, 8443) == POLICY_NAME_CHECK_TLS, "a port marked TLS");
        TAP_CHECK(p && policy_name_check_port(p, 80) == POLICY_NAME_CHECK_NONE, "an empty list turns a kind off");
        policy_free(p);

        p = parse("name_check: {enabled: false}\n", &d);
        TAP_CHECK(p && !policy_name_check_enabled(p), "enabled: false");
        TAP_CHECK(p && policy_name_check_port(p, 443) == POLICY_NAME_CHECK_NONE, "and then no port is checked");
        policy_free(p);
        TAP_CHECK(d.n == 0, "no diagnostics for the valid ones");
        policy_diags_clear(&d);

        check_first_error("name_check: {tls_ports: [53]}\n", 1, 26,
                          "name_check.tls_ports: port 53 carries DNS, which goes to the sandbox's resolver; it cannot be name-checked");
        check_first_error("name_check: {enabled: maybe}\n", 1, 23, "\"name_check.enabled\" must be true or false, got \"maybe\"");
        check_first_error("name_check: {http_ports: 80}\n", 1, 26,
                          "\"name_check.http_ports\" must be a list of port numbers, got a scalar (write \"http_ports: [443]\", or [] for none)");

        p = parse("name_check: {tls_ports: [8080], http_ports: [8080]}\n", &d);
        TAP_CHECK(p && policy_expand(p, &d) == -EINVAL, "a port in both lists fails expansion");
        TAP_CHECK(d.n > 0 && strstr(d.items[0].message, "port 8080 is in both"), "and says which port");
        policy_free(p);
        policy_diags_clear(&d);
}

int main(void) {
        test_name_check();
        test_model();
        test_defaults_and_empty_lists();
        test_duplicates();
        test_errors();
        test_diags_print();
        return tap_done();
}
