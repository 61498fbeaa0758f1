/* SPDX-License-Identifier: MIT */
/* Catalog expansion: turns service names into the domains, ranges and ports
 * they stand for, applies defaults, and puts every list in a stable order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

static const struct policy_pos catalog_pos = { .source = POLICY_SOURCE_CATALOG };

static int unknown_service(struct policy *p, const struct policy_service *s, struct policy_diags *diags) {
        char known[512] = "";
        const struct policy_catalog_service *const *all = policy_catalog_all();
        for (size_t i = 0; all[i]; i++) {
                size_t used = strlen(known);
                snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "", all[i]->name);
                for (const char *const *a = all[i]->aliases; *a; a++) {
                        used = strlen(known);
                        snprintf(known + used, sizeof(known) - used, " (alias %s)", *a);
                }
        }
        return policy_diag_at(diags, POLICY_ERROR, p, &s->pos, "unknown service \"%s\"; known services: %s",
                              s->name, known);
}

static int add_service_entries(struct policy *p, const struct policy_catalog_service *c) {
        for (const char *const *d = c->domains; *d; d++) {
                bool wildcard = strncmp(*d, "*.", 2) == 0;
                if (!policy_add_domain(p, wildcard ? *d + 2 : *d, wildcard, catalog_pos, c->name))
                        return -ENOMEM;
        }
        for (const uint16_t *port = c->ports; *port; port++)
                if (!policy_add_port(p, *port, catalog_pos, c->name))
                        return -ENOMEM;
        for (const char *const *cidr = c->cidrs; cidr && *cidr; cidr++) {
                struct ip_prefix prefix;
                /* The catalog's own ranges: a unit test parses every one. */
                if (ip_prefix_parse(*cidr, &prefix) < 0)
                        return -EINVAL;
                if (!policy_add_cidr(p, &prefix, catalog_pos, c->name))
                        return -ENOMEM;
        }
        if (c->github_meta)
                p->needs_github_meta = true;
        if (c->any_name) {
                p->any_name = true;
                p->any_name_match = (struct policy_domain) {
                        .name = (char *) "", .wildcard = true, .pos = catalog_pos, .service = c->name,
                };
        }
        return 0;
}

static int compare_service(const void *a, const void *b) {
        return strcmp(((const struct policy_service *) a)->name, ((const struct policy_service *) b)->name);
}

static int compare_domain(const void *a, const void *b) {
        const struct policy_domain *x = a, *y = b;
        return strcmp(x->name, y->name);
}

static int compare_cidr(const void *a, const void *b) {
        return ip_prefix_compare(&((const struct policy_cidr *) a)->prefix, &((const struct policy_cidr *) b)->prefix);
}

static int compare_port(const void *a, const void *b) {
        return policy_port_compare(a, b);
}

int policy_expand(struct policy *p, struct policy_diags *diags) {
        size_t errors_before = diags->n_errors;
        int r;

        if (p->expanded)
                return 0;
        /* Only the services the policy named; the loop adds none. */
        size_t n = p->n_services;
        for (size_t i = 0; i < n; i++) {
                struct policy_service *s = &p->services[i];
                const struct policy_catalog_service *c = policy_catalog_find(s->name);
                if (!c) {
                        if (unknown_service(p, s, diags) < 0)
                                return -ENOMEM;
                        continue;
                }
                char *canonical = strdup(c->name);
                if (!canonical)
                        return -ENOMEM;
                free(s->name);
                s->name = canonical;
                r = add_service_entries(p, c);
                if (r < 0)
                        return r;
        }
        if (diags->n_errors > errors_before)
                return -EINVAL;

        if (!p->ports_set)
                if (!policy_add_port(p, 443, catalog_pos, NULL) || !policy_add_port(p, 80, catalog_pos, NULL))
                        return -ENOMEM;
        /* A port read as TLS and as HTTP would be one or the other by
         * accident of the lists' order (the lists may come from two files). */
        const uint16_t *tls, *http;
        size_t n_tls = policy_name_check_ports(p, POLICY_NAME_CHECK_TLS, &tls);
        size_t n_http = policy_name_check_ports(p, POLICY_NAME_CHECK_HTTP, &http);
        for (size_t i = 0; i < n_tls; i++)
                for (size_t j = 0; j < n_http; j++)
                        if (tls[i] == http[j] &&
                            policy_diag_at(diags, POLICY_ERROR, p, &p->name_check_pos,
                                           "port %u is in both name_check.tls_ports and name_check.http_ports; list it in one",
                                           tls[i]) < 0)
                                return -ENOMEM;
        if (diags->n_errors > errors_before)
                return -EINVAL;
        /* "claude" and "anthropic" are the same service once canonical. */
        r = policy_fold_duplicates(p, diags, true);
        if (r < 0)
                return r;

        /* qsort() may not be given NULL, even for zero elements. */
        if (p->n_services > 1)
                qsort(p->services, p->n_services, sizeof(*p->services), compare_service);
        if (p->n_domains > 1)
                qsort(p->domains, p->n_domains, sizeof(*p->domains), compare_domain);
        if (p->n_cidrs > 1)
                qsort(p->cidrs, p->n_cidrs, sizeof(*p->cidrs), compare_cidr);
        if (p->n_ports > 1)
                qsort(p->ports, p->n_ports, sizeof(*p->ports), compare_port);
        p->expanded = true;
        return 0;
}
