/* SPDX-License-Identifier: MIT */
/* Catalog expansion, layering and the YAML/JSON writers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "policy.h"
#include "tap.h"

static struct policy *parse(const char *name, const char *text, struct policy_diags *d) {
        struct policy *p = NULL;
        return policy_parse_buffer(name, text, strlen(text), &p, d) == 0 ? p : NULL;
}

static bool has_domain(const struct policy *p, const char *name) {
        for (size_t i = 0; i < p->n_domains; i++)
                if (strcmp(p->domains[i].name, name) == 0)
                        return true;
        return false;
}

static char *render(const struct policy *p, bool json) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        int r = json ? policy_write_json(p, f) : policy_write_yaml(p, f);
        fclose(f);
        if (r < 0) {
                free(out);
                return NULL;
        }
        return out;
}

static void test_catalog(void) {
        TAP_CHECK(policy_catalog_find("claude") == policy_catalog_find("anthropic"), "claude is an alias");
        TAP_CHECK(policy_catalog_find("Codex") == policy_catalog_find("openai"), "aliases are case-insensitive");
        TAP_CHECK(policy_catalog_find("gemini") == policy_catalog_find("google"), "gemini alias");
        TAP_CHECK(!policy_catalog_find("gitlab"), "unknown name");
        const struct policy_catalog_service *const *all = policy_catalog_all();
        size_t n = 0;
        bool all_valid = true;
        for (; all[n]; n++)
                for (const char *const *d = all[n]->domains; *d; d++)
                        all_valid &= policy_hostname_valid(strncmp(*d, "*.", 2) == 0 ? *d + 2 : *d, NULL);
        TAP_CHECK(n == 17, "seventeen services");
        TAP_CHECK(all_valid, "every catalog host name is valid");
        bool cidrs_valid = true;
        for (size_t i = 0; i < n; i++)
                for (const char *const *c = all[i]->cidrs; c && *c; c++) {
                        struct ip_prefix prefix;
                        cidrs_valid &= ip_prefix_parse(*c, &prefix) == 0;
                }
        TAP_CHECK(cidrs_valid, "every catalog range parses");
}

/* The internet preset: every name, and ranges that hold public addresses
 * and none of the special-purpose ones. */
static bool cidrs_hold(const struct policy *p, const char *addr) {
        struct ip_prefix a;
        if (ip_prefix_parse(addr, &a) < 0)
                return false;
        for (size_t i = 0; i < p->n_cidrs; i++)
                if (ip_prefix_contains(&p->cidrs[i].prefix, &a))
                        return true;
        return false;
}

static void test_internet(void) {
        struct policy_diags d = {0};
        struct policy *p = parse("t.yaml", "services: [internet]\ndomains: [api.github.com]\n", &d);
        TAP_CHECK(p && policy_expand(p, &d) == 0 && d.n == 0, "internet expands without diagnostics");
        if (!p)
                return;
        const struct policy_domain *match = NULL;
        TAP_CHECK(p->any_name && policy_name_allowed(p, "anything.example.org", &match) && match &&
                  strcmp(match->service, "internet") == 0, "every name is allowed, by the preset");
        TAP_CHECK(policy_name_allowed(p, "api.github.com", &match) && match && !match->service,
                  "a listed name keeps its own entry");
        TAP_CHECK(!policy_name_allowed(p, "bad..name", NULL), "an invalid name is still refused");
        const char *public[] = { "1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "172.15.255.255",
                                 "172.32.0.0", "192.0.3.1", "198.20.0.1", "223.255.255.255", "2606:4700::1111",
                                 "2001:4860::8888" };
        const char *private[] = { "0.0.0.1", "10.1.2.3", "100.64.0.1", "100.127.255.255", "127.0.0.1",
                                  "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1",
                                  "192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.255", "198.51.100.1",
                                  "203.0.113.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
                                  "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "2001:db8::1",
                                  "2002:a00:1::", "2001::1", "3fff::1", "::ffff:10.0.0.1", "64:ff9b::a00:1" };
        bool ok = true;
        for (size_t i = 0; i < ELEMENTSOF(public); i++)
                if (!cidrs_hold(p, public[i]))
                        ok = false, printf("# %s is not allowed\n", public[i]);
        TAP_CHECK(ok, "public addresses are in the preset's ranges");
        ok = true;
        for (size_t i = 0; i < ELEMENTSOF(private); i++)
                if (cidrs_hold(p, private[i]))
                        ok = false, printf("# %s is allowed\n", private[i]);
        TAP_CHECK(ok, "private, loopback, link-local, CGNAT, multicast, reserved, documentation are not");
        bool from_service = true;
        for (size_t i = 0; i < p->n_cidrs; i++)
                from_service &= p->cidrs[i].service && strcmp(p->cidrs[i].service, "internet") == 0;
        TAP_CHECK(from_service, "its ranges are the service's, no exception to the rebinding guard");
        policy_free(p);
}

static void test_expand(void) {
        struct policy_diags d = {0};
        struct policy *p = parse("t.yaml", "services: [claude, github]\ndomains: [api.github.com, z.example]\n", &d);
        TAP_CHECK(p && policy_expand(p, &d) == 0 && d.n == 0, "expands without diagnostics");
        if (!p)
                return;
        TAP_CHECK(p->n_services == 2 && strcmp(p->services[0].name, "anthropic") == 0, "alias canonicalised, sorted");
        TAP_CHECK(has_domain(p, "api.anthropic.com") && has_domain(p, "codeload.github.com"), "service domains added");
        TAP_CHECK(p->needs_github_meta, "github needs the meta ranges");
        TAP_CHECK(p->n_ports == 3 && p->ports[0].port == 22 && p->ports[1].port == 80 && p->ports[2].port == 443,
                  "22 from github plus the default 80 and 443, sorted");
        TAP_CHECK(p->n_ports == 3 && p->ports[0].service && strcmp(p->ports[0].service, "github") == 0 &&
                  !p->ports[1].service && !p->ports[2].service && policy_global_ports(p) == 2,
                  "22 is recorded as github's own, 80 and 443 as the whole policy's");
        size_t api = 0;
        for (size_t i = 0; i < p->n_domains; i++)
                if (strcmp(p->domains[i].name, "api.github.com") == 0) {
                        api++;
                        TAP_CHECK(p->domains[i].service == NULL && p->domains[i].pos.line == 2,
                                  "the user's entry wins over the catalog's");
                }
        TAP_CHECK(api == 1, "user + catalog duplicate folded silently");
        bool sorted = true;
        for (size_t i = 1; i < p->n_domains; i++)
                sorted &= strcmp(p->domains[i - 1].name, p->domains[i].name) < 0;
        TAP_CHECK(sorted, "domains sorted");
        size_t before = p->n_domains;
        TAP_CHECK(policy_expand(p, &d) == 0 && p->n_domains == before, "expand is idempotent");
        policy_free(p);
        policy_diags_clear(&d);

        p = parse("t.yaml", "ports: [8443]\nservices: [npm]\n", &d);
        TAP_CHECK(p && policy_expand(p, &d) == 0 && p->n_ports == 1 && p->ports[0].port == 8443,
                  "explicit ports replace the defaults");
        TAP_CHECK(p && !p->needs_github_meta, "no github, no meta");
        policy_free(p);
        policy_diags_clear(&d);

        p = parse("t.yaml", "ports: [22, 443]\nservices: [github]\n", &d);
        TAP_CHECK(p && policy_expand(p, &d) == 0 && d.n == 0 && p->n_ports == 2 && p->ports[0].port == 22 &&
                  !p->ports[0].service && p->ports[0].pos.line == 1,
                  "a port the policy gives absorbs the same port from a service, silently");
        policy_free(p);
        policy_diags_clear(&d);

        p = parse("t.yaml", "services:\n  - github\n  - gitlab\n", &d);
        TAP_CHECK(p && policy_expand(p, &d) == -EINVAL, "unknown service fails expansion");
        TAP_CHECK(d.n == 1 && d.items[0].line == 3 && d.items[0].column == 5, "error at the service's position");
        if (d.n == 1)
                TAP_CHECK_STR(d.items[0].message,
                              "unknown service \"gitlab\"; known services: amp, anthropic (alias claude), augment (alias auggie), cline, continue (alias cn), copilot, github, google (alias gemini), internet, kilo, npm, openai (alias codex), opencode, pi, pypi, qwen, vscode",
                              "message lists the known services");
        policy_free(p);
        policy_diags_clear(&d);
}

static void test_merge(void) {
        struct policy_diags d = {0};
        struct policy *base = parse("base.yaml", "services: [github]\ndomains: [a.example]\nports: [443]\n"
                                                 "dns: {min_ttl: 60}\nselfcheck: {allowed: a.example, strict: true}\n", &d);
        struct policy *over = parse("over.yaml", "domains: [b.example, a.example]\nselfcheck: {blocked: c.example}\n"
                                                 "github: {meta_url: \"https://ghe.example/api/v3/meta\"}\n", &d);
        struct policy *m = NULL;
        TAP_CHECK(base && over && policy_merge(base, over, &m, &d) == 0 && d.n == 0, "merge without diagnostics");
        if (m) {
                TAP_CHECK(m->n_domains == 2 && has_domain(m, "b.example"), "domains are a union");
                TAP_CHECK(m->n_ports == 1 && m->ports_set, "base ports kept when the override gives none");
                TAP_CHECK(policy_dns_min_ttl(m) == 60, "unset scalar keeps the base's");
                TAP_CHECK_STR(m->selfcheck_allowed, "a.example", "selfcheck.allowed from base");
                TAP_CHECK_STR(m->selfcheck_blocked, "c.example", "selfcheck.blocked from override");
                TAP_CHECK(m->selfcheck_strict == 1, "strict from base");
                TAP_CHECK_STR(m->github_meta_url, "https://ghe.example/api/v3/meta", "meta_url from override");
                TAP_CHECK_STR(policy_pos_file(m, &m->domains[1].pos), "over.yaml", "positions keep their file");
                TAP_CHECK_STR(policy_pos_file(m, &m->domains[0].pos), "base.yaml", "base position kept on a repeat");
        }
        policy_free(m);
        policy_free(over);
        m = NULL;
        over = parse("over.yaml", "ports: [8080]\n", &d);
        TAP_CHECK(over && policy_merge(base, over, &m, &d) == 0 && m->n_ports == 1 && m->ports[0].port == 8080,
                  "override ports replace the base's");
        policy_free(m);
        policy_free(over);
        policy_free(base);
        policy_diags_clear(&d);
}

static const char want_yaml[] =
        "# Effective agent-sandbox policy: services expanded through the built-in catalog;\n"
        "# a comment names the service that added an entry.\n"
        "services:\n"
        "  - pypi\n"
        "domains:\n"
        "  - \"*.example.com\"\n"
        "  - files.pythonhosted.org  # pypi\n"
        "  - pypi.org  # pypi\n"
        "cidrs:\n"
        "  - \"192.0.2.0/24\"\n"
        "  - \"2001:db8::/32\"\n"
        "ports:\n"
        "  - 443\n"
        "selfcheck:\n"
        "  allowed: \"pypi.org\"\n"
        "  strict: false\n"
        "dns:\n"
        "  min_ttl: 45\n"
        "  grace: 120\n"
        "name_check:\n"
        "  enabled: true\n"
        "  tls_ports: [443]\n"
        "  http_ports: [80]\n"
        "github:\n"
        "  meta_url: \"https://api.github.com/meta\"\n"
        "  ca_file: \"/etc/ssl/ghe \\\"ca\\\".pem\"\n";

static const char want_json[] =
        "{\n"
        "  \"services\": [\"pypi\"],\n"
        "  \"domains\": [\"*.example.com\", \"files.pythonhosted.org\", \"pypi.org\"],\n"
        "  \"any_name\": false,\n"
        "  \"cidrs\": [\"192.0.2.0/24\", \"2001:db8::/32\"],\n"
        "  \"ports\": [443],\n"
        "  \"service_ports\": {},\n"
        "  \"selfcheck\": {\"allowed\": \"pypi.org\", \"blocked\": null, \"strict\": false},\n"
        "  \"dns\": {\"min_ttl\": 45, \"grace\": 120},\n"
        "  \"name_check\": {\"enabled\": true, \"tls_ports\": [443], \"http_ports\": [80]},\n"
        "  \"github\": {\"meta_url\": \"https://api.github.com/meta\", \"ca_file\": \"/etc/ssl/ghe \\\"ca\\\".pem\"},\n"
        "  \"needs_github_meta\": false\n"
        "}\n";

static void test_emit(void) {
        struct policy_diags d = {0};
        struct policy *p = parse("t.yaml", "services: [pypi]\ndomains: [\"*.example.com\"]\n"
                                           "cidrs: [\"2001:db8::/32\", 192.0.2.0/24]\nports: [443]\n"
                                           "selfcheck: {allowed: pypi.org}\ndns: {min_ttl: 45}\n"
                                           "github: {ca_file: '/etc/ssl/ghe \"ca\".pem'}\n", &d);
        TAP_CHECK(p && policy_expand(p, &d) == 0, "sample expands");
        if (!p)
                return;
        char *yaml = render(p, false), *json = render(p, true);
        TAP_CHECK_STR(yaml, want_yaml, "YAML output byte-exact");
        TAP_CHECK_STR(json, want_json, "JSON output byte-exact");

        struct policy *again = parse("again.yaml", yaml, &d);
        TAP_CHECK(again && policy_expand(again, &d) == 0, "YAML output parses again");
        char *json2 = again ? render(again, true) : NULL;
        TAP_CHECK_STR(json2, want_json, "and means the same");
        free(json2);
        free(yaml);
        free(json);
        policy_free(again);
        policy_free(p);
        policy_diags_clear(&d);
}

/* A service's port must not come back as a port of the whole policy when
 * the effective policy is read again. */
static void test_emit_service_ports(void) {
        struct policy_diags d = {0};
        struct policy *p = parse("t.yaml", "services: [github]\nports: [443]\n", &d);
        TAP_CHECK(p && policy_expand(p, &d) == 0, "github sample expands");
        if (!p)
                return;
        char *yaml = render(p, false), *json = render(p, true);
        TAP_CHECK(yaml && strstr(yaml, "ports:\n  - 443\n# port 22: added by github, to github's own destinations only\n") &&
                  !strstr(yaml, "  - 22"), "YAML lists 22 as github's, in a comment, not under ports:");
        TAP_CHECK(json && strstr(json, "  \"ports\": [443],\n  \"service_ports\": {\"github\": [22]},\n"),
                  "JSON gives github's ports apart");
        struct policy *again = yaml ? parse("again.yaml", yaml, &d) : NULL;
        TAP_CHECK(again && policy_expand(again, &d) == 0, "YAML output parses again");
        char *json2 = again ? render(again, true) : NULL;
        TAP_CHECK(json && json2 && strcmp(json, json2) == 0, "and 22 is still github's only");
        free(json2);
        free(yaml);
        free(json);
        policy_free(again);
        policy_free(p);
        policy_diags_clear(&d);
}

static void test_emit_reserved_words(void) {
        struct policy_diags d = {0};
        struct policy *p = parse("t.yaml", "domains: [\"null\", \"Yes\"]\n", &d);
        char *yaml = p ? render(p, false) : NULL;
        TAP_CHECK(yaml && strstr(yaml, "  - \"null\"\n") && strstr(yaml, "  - \"yes\"\n"),
                  "host names YAML would read as null or a boolean are quoted");
        struct policy *again = yaml ? parse("again.yaml", yaml, &d) : NULL;
        TAP_CHECK(again && again->n_domains == 2, "and read back as host names");
        free(yaml);
        policy_free(again);
        policy_free(p);
        policy_diags_clear(&d);
}

static void write_file(const char *dir, const char *name, const char *text) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static void test_load_layered(void) {
        char dir[] = "/tmp/test-policy-layered-XXXXXX", sub[600], path[600];
        struct policy_diags d = {0};
        struct policy *p = NULL;
        if (!mkdtemp(dir)) {
                TAP_CHECK(false, "mkdtemp");
                return;
        }
        snprintf(sub, sizeof(sub), "%s/policy.d", dir);
        snprintf(path, sizeof(path), "%s/base.yaml", dir);
        write_file(dir, "base.yaml", "services: [github]\nports: [443]\n");

        TAP_CHECK(policy_load_layered(path, sub, &p, &d) == 0 && p && d.n == 0, "missing override directory is fine");
        policy_free(p);
        p = NULL;

        mkdir(sub, 0755);
        write_file(sub, "20-b.yaml", "ports: [9000]\ndomains: [b.example]\n");
        write_file(sub, "10-a.yaml", "ports: [8000]\ndomains: [a.example]\n");
        write_file(sub, ".hidden.yaml", "this: is ignored\n");
        write_file(sub, "notes.txt", "not yaml at all: [\n");
        TAP_CHECK(policy_load_layered(path, sub, &p, &d) == 0 && p && d.n == 0, "base plus two overrides");
        if (p) {
                TAP_CHECK(p->n_ports == 1 && p->ports[0].port == 9000, "overrides applied in lexical order");
                TAP_CHECK(p->n_domains == 2 && p->n_services == 1, "lists are unions");
        }
        policy_free(p);
        p = NULL;

        write_file(sub, "30-bad.yaml", "ports: [http]\n");
        TAP_CHECK(policy_load_layered(path, sub, &p, &d) == -EINVAL && !p, "a bad override fails the load");
        TAP_CHECK(d.n_errors == 1 && d.items[0].line == 1 && d.items[0].column == 9 &&
                  strstr(d.items[0].file, "30-bad.yaml"), "with the override's position");
        policy_diags_clear(&d);

        char cmd[700];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        TAP_CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
        test_catalog();
        test_internet();
        test_expand();
        test_merge();
        test_emit();
        test_emit_service_ports();
        test_emit_reserved_words();
        test_load_layered();
        return tap_done();
}
