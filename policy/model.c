/* SPDX-License-Identifier: MIT */
/* Construction, destruction and bookkeeping of struct policy. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy-internal.h"

int policy_new(struct policy **ret) {
        struct policy *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->selfcheck_strict = -1;
        p->dns_grace = -1;
        p->name_check = -1;
        *ret = p;
        return 0;
}

void policy_free(struct policy *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_sources; i++)
                free(p->sources[i]);
        free(p->sources);
        for (size_t i = 0; i < p->n_services; i++)
                free(p->services[i].name);
        free(p->services);
        for (size_t i = 0; i < p->n_domains; i++)
                free(p->domains[i].name);
        free(p->domains);
        free(p->cidrs);
        free(p->ports);
        free(p->selfcheck_allowed);
        free(p->selfcheck_blocked);
        free(p->github_meta_url);
        free(p->github_ca_file);
        free(p);
}

const char *policy_pos_file(const struct policy *p, const struct policy_pos *pos) {
        if (pos->source == POLICY_SOURCE_CATALOG || pos->source >= p->n_sources)
                return "(catalog)";
        return p->sources[pos->source];
}

unsigned policy_dns_grace(const struct policy *p) {
        return p->dns_grace >= 0 ? (unsigned) p->dns_grace : POLICY_DNS_GRACE_DEFAULT;
}

unsigned policy_dns_min_ttl(const struct policy *p) {
        return p->dns_min_ttl ? p->dns_min_ttl : POLICY_DNS_MIN_TTL_DEFAULT;
}

bool policy_name_check_enabled(const struct policy *p) {
        return p->name_check != 0;
}

size_t policy_name_check_ports(const struct policy *p, enum policy_name_check kind, const uint16_t **ret) {
        static const uint16_t tls_default[] = { 443 }, http_default[] = { 80 };
        if (!policy_name_check_enabled(p) || kind == POLICY_NAME_CHECK_NONE) {
                *ret = NULL;
                return 0;
        }
        if (kind == POLICY_NAME_CHECK_TLS) {
                *ret = p->name_check_tls_set ? p->name_check_tls : tls_default;
                return p->name_check_tls_set ? p->n_name_check_tls : ELEMENTSOF(tls_default);
        }
        *ret = p->name_check_http_set ? p->name_check_http : http_default;
        return p->name_check_http_set ? p->n_name_check_http : ELEMENTSOF(http_default);
}

enum policy_name_check policy_name_check_port(const struct policy *p, uint16_t port) {
        for (enum policy_name_check kind = POLICY_NAME_CHECK_TLS; kind <= POLICY_NAME_CHECK_HTTP; kind++) {
                const uint16_t *ports;
                size_t n = policy_name_check_ports(p, kind, &ports);
                for (size_t i = 0; i < n; i++)
                        if (ports[i] == port)
                                return kind;
        }
        return POLICY_NAME_CHECK_NONE;
}

size_t policy_global_ports(const struct policy *p) {
        size_t n = 0;
        for (size_t i = 0; i < p->n_ports; i++)
                n += !p->ports[i].service;
        return n;
}

bool policy_selfcheck_strict(const struct policy *p) {
        return p->selfcheck_strict > 0;
}

char *policy_strdup_lower(const char *s) {
        char *c = strdup(s);
        if (c)
                for (char *i = c; *i; i++)
                        *i = (char) tolower((unsigned char) *i);
        return c;
}

/* Capacity implied by a count: 0, then 4, 8, 16, ... so appends stay linear
 * without storing a capacity next to every array. */
static size_t implied_capacity(size_t n) {
        if (n == 0)
                return 0;
        size_t cap = 4;
        while (cap < n)
                cap *= 2;
        return cap;
}

void *policy_array_append(void *array_ptr, size_t *n, size_t size) {
        void **array = array_ptr;
        if (*n == implied_capacity(*n)) {
                void *grown = realloc(*array, implied_capacity(*n + 1) * size);
                if (!grown)
                        return NULL;
                *array = grown;
        }
        char *slot = (char *) *array + *n * size;
        memset(slot, 0, size);
        (*n)++;
        return slot;
}

int policy_add_source(struct policy *p, const char *file, uint32_t *ret) {
        for (size_t i = 0; i < p->n_sources; i++)
                if (strcmp(p->sources[i], file) == 0) {
                        *ret = (uint32_t) i;
                        return 0;
                }
        char *copy = strdup(file);
        if (!copy)
                return -ENOMEM;
        char **slot = policy_array_append(&p->sources, &p->n_sources, sizeof(char *));
        if (!slot) {
                free(copy);
                return -ENOMEM;
        }
        *slot = copy;
        *ret = (uint32_t) (p->n_sources - 1);
        return 0;
}

struct policy_service *policy_add_service(struct policy *p, const char *name, struct policy_pos pos) {
        char *copy = policy_strdup_lower(name);
        if (!copy)
                return NULL;
        struct policy_service *s = policy_array_append(&p->services, &p->n_services, sizeof(*s));
        if (!s) {
                free(copy);
                return NULL;
        }
        *s = (struct policy_service) { .name = copy, .pos = pos };
        return s;
}

struct policy_domain *policy_add_domain(struct policy *p, const char *name, bool wildcard,
                                        struct policy_pos pos, const char *service) {
        char *copy = policy_strdup_lower(name);
        if (!copy)
                return NULL;
        struct policy_domain *d = policy_array_append(&p->domains, &p->n_domains, sizeof(*d));
        if (!d) {
                free(copy);
                return NULL;
        }
        *d = (struct policy_domain) { .name = copy, .wildcard = wildcard, .pos = pos, .service = service };
        return d;
}

struct policy_cidr *policy_add_cidr(struct policy *p, const struct ip_prefix *prefix,
                                    struct policy_pos pos, const char *service) {
        struct policy_cidr *c = policy_array_append(&p->cidrs, &p->n_cidrs, sizeof(*c));
        if (c)
                *c = (struct policy_cidr) { .prefix = *prefix, .pos = pos, .service = service };
        return c;
}

struct policy_port *policy_add_port(struct policy *p, uint16_t port, struct policy_pos pos,
                                    const char *service) {
        struct policy_port *x = policy_array_append(&p->ports, &p->n_ports, sizeof(*x));
        if (x)
                *x = (struct policy_port) { .port = port, .pos = pos, .service = service };
        return x;
}

int policy_port_compare(const struct policy_port *a, const struct policy_port *b) {
        if (a->port != b->port)
                return (a->port > b->port) - (a->port < b->port);
        /* Ports allowed everywhere first, then by service. */
        if (!a->service || !b->service)
                return !!a->service - !!b->service;
        return strcmp(a->service, b->service);
}

static int replace_string(char **dst, const char *src) {
        if (!src)
                return 0;
        char *copy = strdup(src);
        if (!copy)
                return -ENOMEM;
        free(*dst);
        *dst = copy;
        return 0;
}

int policy_copy_scalars(struct policy *dst, const struct policy *src) {
        int r;
        if ((r = replace_string(&dst->selfcheck_allowed, src->selfcheck_allowed)) < 0 ||
            (r = replace_string(&dst->selfcheck_blocked, src->selfcheck_blocked)) < 0 ||
            (r = replace_string(&dst->github_meta_url, src->github_meta_url)) < 0 ||
            (r = replace_string(&dst->github_ca_file, src->github_ca_file)) < 0)
                return r;
        if (src->selfcheck_strict >= 0)
                dst->selfcheck_strict = src->selfcheck_strict;
        if (src->dns_min_ttl > 0)
                dst->dns_min_ttl = src->dns_min_ttl;
        if (src->dns_grace >= 0)
                dst->dns_grace = src->dns_grace;
        if (src->name_check >= 0)
                dst->name_check = src->name_check;
        if (src->name_check_tls_set) {
                dst->name_check_tls_set = true;
                memcpy(dst->name_check_tls, src->name_check_tls, sizeof(src->name_check_tls));
                dst->n_name_check_tls = src->n_name_check_tls;
        }
        if (src->name_check_http_set) {
                dst->name_check_http_set = true;
                memcpy(dst->name_check_http, src->name_check_http, sizeof(src->name_check_http));
                dst->n_name_check_http = src->n_name_check_http;
        }
        if (src->name_check >= 0 || src->name_check_tls_set || src->name_check_http_set)
                dst->name_check_pos = src->name_check_pos;
        return 0;
}
