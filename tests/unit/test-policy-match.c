/* SPDX-License-Identifier: MIT */
/* policy_name_allowed(): which DNS query names the policy allows. */
#include <string.h>

#include "policy.h"
#include "policy_load.h"
#include "tap.h"

/* Allowed, by the entry named want ("*.x" for a wildcard). */
static void allowed(const struct policy *p, const char *name, const char *want) {
        const struct policy_domain *m = NULL;
        bool ok = policy_name_allowed(p, name, &m);
        char got[300] = "(none)";
        if (m)
                snprintf(got, sizeof(got), "%s%s", m->wildcard ? "*." : "", m->name);
        TAP_CHECK(ok && m && strcmp(got, want) == 0, "allowed: \"%s\" by %s", name, want);
        if (!ok || strcmp(got, want) != 0)
                printf("#   got: %s, match %s\n", ok ? "allowed" : "refused", got);
}

/* The name for a TAP line: bytes outside printable ASCII as \xNN. */
static const char *shown(const char *name, char buf[static 1024]) {
        size_t n = 0;
        if (!name)
                return "(null)";
        for (const unsigned char *c = (const unsigned char *) name; *c && n < 1000; c++)
                n += (size_t) snprintf(buf + n, 1024 - n, *c > ' ' && *c < 0x7f ? "%c" : "\\x%02x", *c);
        buf[n] = '\0';
        return buf;
}

static void refused(const struct policy *p, const char *name) {
        const struct policy_domain *m = (const struct policy_domain *) 1;
        char buf[1024];
        bool ok = policy_name_allowed(p, name, &m);
        TAP_CHECK(!ok && m == (const struct policy_domain *) 1, "refused: \"%s\" (match untouched)", shown(name, buf));
}

static void test_exact(void) {
        struct policy *p = load("domains: [api.example.com, Mixed.Example.NET.]\n");
        TAP_CHECK(p, "exact policy loads");
        if (!p)
                return;
        allowed(p, "api.example.com", "api.example.com");
        allowed(p, "API.Example.COM", "api.example.com");
        allowed(p, "api.example.com.", "api.example.com");
        allowed(p, "aPi.eXaMpLe.CoM.", "api.example.com");
        allowed(p, "mixed.example.net", "mixed.example.net");
        allowed(p, "MIXED.EXAMPLE.NET.", "mixed.example.net");
        refused(p, "example.com");              /* the apex of an exact entry */
        refused(p, "x.api.example.com");        /* under an exact entry */
        refused(p, "a.b.api.example.com");
        refused(p, "xapi.example.com");
        refused(p, "api.example.co");
        refused(p, "api.example.comx");
        refused(p, "api.example.com.evil.test");
        refused(p, "api-example.com");
        refused(p, "api.example.com..");
        refused(p, ".api.example.com");
        refused(p, "api..example.com");
        refused(p, "api.example.com ");
        refused(p, " api.example.com");
        refused(p, "api.example.com\n");
        refused(p, "api.example.com:443");
        refused(p, "api.example.com/x");
        refused(p, "api\\.example.com");
        refused(p, "*.example.com");
        policy_free(p);
}

static void test_wildcard(void) {
        char buf[300];
        struct policy *p = load("domains: [\"*.example.org\", \"*.Deep.Example.ORG\", \"*.a-b.test\"]\n");
        TAP_CHECK(p, "wildcard policy loads");
        if (!p)
                return;
        allowed(p, "example.org", "*.example.org");              /* the apex */
        allowed(p, "EXAMPLE.ORG.", "*.example.org");
        allowed(p, "a.example.org", "*.example.org");
        allowed(p, "A.Example.Org.", "*.example.org");
        allowed(p, "a.b.example.org", "*.example.org");
        allowed(p, "a.b.c.d.e.f.g.h.i.j.example.org", "*.example.org");
        allowed(p, "www.example.org", "*.example.org");
        allowed(p, "0.example.org", "*.example.org");
        allowed(p, "xn--bcher-kva.example.org", "*.example.org");
        allowed(p, "a-b.example.org", "*.example.org");
        allowed(p, "a.a-b.test", "*.a-b.test");
        /* the closest wildcard is the match */
        allowed(p, "deep.example.org", "*.deep.example.org");
        allowed(p, "x.deep.example.org", "*.deep.example.org");
        allowed(p, "x.y.DEEP.example.org", "*.deep.example.org");
        allowed(p, "deeper.example.org", "*.example.org");
        allowed(p, "deep.example.org.example.org", "*.example.org");

        /* label boundaries */
        refused(p, "badexample.org");
        refused(p, "xexample.org");
        refused(p, "a.badexample.org");
        refused(p, "example.org.evil.test");
        refused(p, "a.example.org.evil.test");
        refused(p, "example.orgx");
        refused(p, "example.or");
        refused(p, "xample.org");
        refused(p, "org");
        refused(p, "b.test");
        refused(p, "a-b.test.x");
        /* not a host name, under a wildcard or not */
        refused(p, NULL);
        refused(p, "");
        refused(p, ".");
        refused(p, "..");
        refused(p, ".example.org");
        refused(p, "a..example.org");
        refused(p, "example.org..");
        refused(p, "_dmarc.example.org");
        refused(p, "_http._tcp.example.org");
        refused(p, "a_b.example.org");
        refused(p, "*.example.org");
        refused(p, "-a.example.org");
        refused(p, "a-.example.org");
        refused(p, "a b.example.org");
        refused(p, "b\xc3\xbc" "cher.example.org");
        refused(p, "a\\.b.example.org");
        refused(p, "a\\000.example.org");
        refused(p, "a.example.org\t");
        refused(p, "192.0.2.1");
        refused(p, "a.example.123");

        /* a label of 63 is a label; 64 is not */
        memset(buf, 'a', 63);
        strcpy(buf + 63, ".example.org");
        allowed(p, buf, "*.example.org");
        memset(buf, 'a', 64);
        strcpy(buf + 64, ".example.org");
        refused(p, buf);

        /* 253 characters in all, 254 with the trailing dot; not one more */
        size_t n = 0;
        while (n + 64 + strlen("example.org") <= 253) {
                memset(buf + n, 'x', 63);
                buf[n + 63] = '.';
                n += 64;
        }
        size_t pad = 253 - strlen("example.org") - n - 1;
        memset(buf + n, 'y', pad);
        buf[n + pad] = '.';
        strcpy(buf + n + pad + 1, "example.org");
        TAP_CHECK(strlen(buf) == 253, "built a 253-character name");
        allowed(p, buf, "*.example.org");
        strcat(buf, ".");
        allowed(p, buf, "*.example.org");
        memmove(buf + 1, buf, strlen(buf) + 1);
        buf[0] = 'z';
        buf[strlen(buf) - 1] = '\0';            /* 254 characters, no dot */
        refused(p, buf);
        policy_free(p);
}

/* A wildcard and an exact entry for one name fold when parsed; built by
 * hand (as a merge of other layers could leave them), the plain entry is
 * the match for the name itself, in either order. */
static void test_exact_and_wildcard(void) {
        struct policy_domain both[] = {
                { .name = (char *) "x.example.org", .wildcard = true, .service = "a" },
                { .name = (char *) "x.example.org", .wildcard = false, .service = "b" },
                { .name = (char *) "example.org", .wildcard = true, .service = "c" },
        };
        struct policy p = { .domains = both, .n_domains = 3 };
        const struct policy_domain *m = NULL;
        TAP_CHECK(policy_name_allowed(&p, "X.example.org", &m) && m == &both[1], "plain entry wins over an equal wildcard");
        TAP_CHECK(policy_name_allowed(&p, "y.x.example.org", &m) && m == &both[0], "the wildcard covers names under it");
        TAP_CHECK(policy_name_allowed(&p, "y.example.org", &m) && m == &both[2], "the outer wildcard covers the rest");
        struct policy_domain swapped[] = { both[2], both[1], both[0] };
        p.domains = swapped;
        TAP_CHECK(policy_name_allowed(&p, "x.example.org.", &m) && m == &swapped[1], "same in another order");
        TAP_CHECK(policy_name_allowed(&p, "a.b.y.x.example.org", &m) && m == &swapped[2], "deepest wildcard, other order");
        TAP_CHECK(policy_name_allowed(&p, "example.org", NULL), "ret_match is optional");

        struct policy parsed_both = {0};
        struct policy *q = load("domains: [x.example.org, \"*.x.example.org\"]\n");
        TAP_CHECK(q && q->n_domains == 1, "parsed exact + wildcard fold into one entry");
        if (q) {
                allowed(q, "x.example.org", "*.x.example.org");
                allowed(q, "a.x.example.org", "*.x.example.org");
                refused(q, "example.org");
        }
        policy_free(q);
        refused(&parsed_both, "example.org");   /* an empty policy allows nothing */
        refused(NULL, "example.org");
}

static void test_catalog(void) {
        struct policy *p = load("services: [github, claude]\ndomains: [\"*.example.org\"]\n");
        TAP_CHECK(p, "service policy loads");
        if (!p)
                return;
        const struct policy_domain *m = NULL;
        TAP_CHECK(policy_name_allowed(p, "Api.GitHub.com.", &m) && m->service && strcmp(m->service, "github") == 0,
                  "a catalog service's name, with the service");
        TAP_CHECK(policy_name_allowed(p, "sentry.io", &m) && m->service && strcmp(m->service, "anthropic") == 0,
                  "an alias's service under its canonical name");
        TAP_CHECK(policy_name_allowed(p, "a.example.org", &m) && !m->service, "a policy wildcard has no service");
        refused(p, "github.com.evil.test");
        refused(p, "api.github.co");
        refused(p, "exfil-data.example.net");
        policy_free(p);

        /* the catalog's own wildcards */
        p = load("services: [vscode]\n");
        TAP_CHECK(p, "vscode policy loads");
        if (p) {
                TAP_CHECK(policy_name_allowed(p, "ms-python.gallerycdn.vsassets.io", &m) && m->wildcard &&
                          strcmp(m->service, "vscode") == 0, "a publisher's gallery host, by the vscode wildcard");
                allowed(p, "main.vscode-cdn.net", "main.vscode-cdn.net");
                allowed(p, "a.b.vscode-unpkg.net", "*.vscode-unpkg.net");
                refused(p, "gallerycdn.vsassets.io.evil.test");
                refused(p, "vsassets.io");
        }
        policy_free(p);

        /* before expansion the services' names are not in the list */
        struct policy_diags d = {0};
        struct policy *raw = NULL;
        const char *text = "services: [github]\n";
        TAP_CHECK(policy_parse_buffer("t.yaml", text, strlen(text), &raw, &d) == 0, "unexpanded policy parses");
        refused(raw, "api.github.com");
        policy_free(raw);
        policy_diags_clear(&d);
}

int main(void) {
        test_exact();
        test_wildcard();
        test_exact_and_wildcard();
        test_catalog();
        return tap_done();
}
