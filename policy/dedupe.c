/* SPDX-License-Identifier: MIT */
/* Folding of duplicate entries. Sorting an index keeps this O(n log n) even
 * for a policy file with tens of thousands of entries; the surviving entries
 * keep their original order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy-internal.h"

enum kind { SERVICES, DOMAINS, CIDRS, PORTS };

struct ctx {
        const struct policy *p;
        enum kind kind;
};

static int compare_key(const struct policy *p, enum kind kind, size_t a, size_t b) {
        switch (kind) {
        case SERVICES:
                return strcmp(p->services[a].name, p->services[b].name);
        case DOMAINS:
                return strcmp(p->domains[a].name, p->domains[b].name);
        case CIDRS:
                return ip_prefix_compare(&p->cidrs[a].prefix, &p->cidrs[b].prefix);
        default:
                return policy_port_compare(&p->ports[a], &p->ports[b]);
        }
}

/* Whether entry i repeats entry first (first sorts before it). A port the
 * policy allows everywhere needs no narrower copy a service added; the same
 * port added by two services is two entries, since each reaches only its
 * own service's destinations. */
static bool repeats(const struct policy *p, enum kind kind, size_t first, size_t i) {
        if (kind == PORTS && !p->ports[first].service && p->ports[first].port == p->ports[i].port)
                return true;
        return compare_key(p, kind, first, i) == 0;
}

static int compare_index(const void *x, const void *y, void *userdata) {
        const struct ctx *c = userdata;
        size_t a = *(const size_t *) x, b = *(const size_t *) y;
        int r = compare_key(c->p, c->kind, a, b);
        return r != 0 ? r : (a > b) - (a < b);
}

static const struct policy_pos *pos_at(const struct policy *p, enum kind kind, size_t i) {
        switch (kind) {
        case SERVICES:
                return &p->services[i].pos;
        case DOMAINS:
                return &p->domains[i].pos;
        case CIDRS:
                return &p->cidrs[i].pos;
        default:
                return &p->ports[i].pos;
        }
}

static int warn_duplicate(struct policy *p, struct policy_diags *diags, enum kind kind, size_t first, size_t dup) {
        const struct policy_pos *fp = pos_at(p, kind, first), *dp = pos_at(p, kind, dup);
        char buf[IP_PREFIX_STRLEN];
        const char *file = policy_pos_file(p, fp);

        switch (kind) {
        case SERVICES:
                return policy_diag_at(diags, POLICY_WARNING, p, dp, "duplicate service \"%s\" (first at %s:%u:%u); merged into one entry",
                                      p->services[dup].name, file, fp->line, fp->column);
        case DOMAINS: {
                const struct policy_domain *f = &p->domains[first], *d = &p->domains[dup];
                if (f->wildcard == d->wildcard)
                        return policy_diag_at(diags, POLICY_WARNING, p, dp,
                                              "duplicate domain \"%s%s\" (first at %s:%u:%u); merged into one entry",
                                              d->wildcard ? "*." : "", d->name, file, fp->line, fp->column);
                return policy_diag_at(diags, POLICY_WARNING, p, dp,
                                      "domain \"%s%s\" is also listed at %s:%u:%u as \"%s%s\"; merged into \"*.%s\"",
                                      d->wildcard ? "*." : "", d->name, file, fp->line, fp->column,
                                      f->wildcard ? "*." : "", f->name, d->name);
        }
        case CIDRS:
                return policy_diag_at(diags, POLICY_WARNING, p, dp, "duplicate address range \"%s\" (first at %s:%u:%u); merged into one entry",
                                      ip_prefix_format(&p->cidrs[dup].prefix, buf), file, fp->line, fp->column);
        default:
                return policy_diag_at(diags, POLICY_WARNING, p, dp, "duplicate port %u (first at %s:%u:%u); merged into one entry",
                                      p->ports[dup].port, file, fp->line, fp->column);
        }
}

static size_t count_of(const struct policy *p, enum kind kind) {
        return kind == SERVICES ? p->n_services : kind == DOMAINS ? p->n_domains : kind == CIDRS ? p->n_cidrs : p->n_ports;
}

/* Keep the entries not marked in drop, in order; frees dropped names. */
static void compact(struct policy *p, enum kind kind, const bool *drop) {
        size_t n = count_of(p, kind), w = 0;
        for (size_t i = 0; i < n; i++) {
                if (drop[i]) {
                        if (kind == SERVICES)
                                free(p->services[i].name);
                        else if (kind == DOMAINS)
                                free(p->domains[i].name);
                        continue;
                }
                if (kind == SERVICES)
                        p->services[w] = p->services[i];
                else if (kind == DOMAINS)
                        p->domains[w] = p->domains[i];
                else if (kind == CIDRS)
                        p->cidrs[w] = p->cidrs[i];
                else
                        p->ports[w] = p->ports[i];
                w++;
        }
        *(kind == SERVICES ? &p->n_services : kind == DOMAINS ? &p->n_domains : kind == CIDRS ? &p->n_cidrs : &p->n_ports) = w;
}

static int fold(struct policy *p, enum kind kind, struct policy_diags *diags, bool warn) {
        size_t n = count_of(p, kind);
        if (n < 2)
                return 0;
        _cleanup_free_ size_t *index = malloc(n * sizeof(size_t));
        _cleanup_free_ bool *drop = calloc(n, sizeof(bool));
        if (!index || !drop)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                index[i] = i;
        struct ctx c = { .p = p, .kind = kind };
        qsort_r(index, n, sizeof(size_t), compare_index, &c);

        size_t first = index[0];
        for (size_t k = 1; k < n; k++) {
                size_t i = index[k];
                if (!repeats(p, kind, first, i)) {
                        first = i;
                        continue;
                }
                drop[i] = true;
                bool catalog = pos_at(p, kind, first)->source == POLICY_SOURCE_CATALOG ||
                               pos_at(p, kind, i)->source == POLICY_SOURCE_CATALOG;
                if (warn && !catalog && warn_duplicate(p, diags, kind, first, i) < 0)
                        return -ENOMEM;
                if (kind == DOMAINS)
                        p->domains[first].wildcard |= p->domains[i].wildcard;
        }
        compact(p, kind, drop);
        return 0;
}

int policy_fold_duplicates(struct policy *p, struct policy_diags *diags, bool warn) {
        int r;
        if ((r = fold(p, SERVICES, diags, warn)) < 0 || (r = fold(p, DOMAINS, diags, warn)) < 0 ||
            (r = fold(p, CIDRS, diags, warn)) < 0 || (r = fold(p, PORTS, diags, warn)) < 0)
                return r;
        return 0;
}
