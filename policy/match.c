/* SPDX-License-Identifier: MIT */
/* Whether a DNS query name is one the policy allows: the test the sandbox's
 * resolver applies before it forwards a query, and PID 1 applies again
 * before it adds an answer's addresses to the firewall. */
#include <string.h>

#include "policy-internal.h"

/* Lower case, without the trailing dot; false for anything a policy host
 * name cannot be (policy_hostname_valid: LDH labels of 1..63, at most 253
 * characters, no all-numeric last label). */
static bool canonical_name(const char *name, char buf[static 254]) {
        if (!name || !policy_hostname_valid(name, NULL))
                return false;
        size_t n = strlen(name);
        if (name[n - 1] == '.')
                n--;
        for (size_t i = 0; i < n; i++)
                buf[i] = (char) (name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
        buf[n] = '\0';
        return true;
}

/* "a.b.example.com" is under "example.com": it ends with it, and the byte
 * before is a dot, so "badexample.com" is not. */
static bool name_under(const char *name, size_t name_len, const char *domain, size_t domain_len) {
        return name_len > domain_len && name[name_len - domain_len - 1] == '.' &&
               memcmp(name + name_len - domain_len, domain, domain_len) == 0;
}

bool policy_name_allowed(const struct policy *p, const char *name, const struct policy_domain **ret_match) {
        char canonical[254];
        const struct policy_domain *best = NULL;

        if (!p || !canonical_name(name, canonical))
                return false;
        size_t n = strlen(canonical);
        for (size_t i = 0; i < p->n_domains; i++) {
                const struct policy_domain *d = &p->domains[i];
                size_t len = strlen(d->name);
                bool exact = len == n && memcmp(canonical, d->name, n) == 0;
                if (!exact && !(d->wildcard && name_under(canonical, n, d->name, len)))
                        continue;
                /* The closest entry wins (its service is the one the name
                 * belongs to): one equal to the name, a plain one before a
                 * wildcard, else the longest wildcard above it. */
                size_t best_len = best ? strlen(best->name) : 0;
                if (!best || len > best_len || (len == best_len && best->wildcard && !d->wildcard))
                        best = d;
        }
        /* A listed name keeps its own service; any other is the preset's. */
        if (!best && p->any_name)
                best = &p->any_name_match;
        if (best && ret_match)
                *ret_match = best;
        return best;
}
