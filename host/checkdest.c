/* SPDX-License-Identifier: MIT */
#include "checkdest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int parse_port(const char *s, int *ret, const char **ret_reason) {
        uint16_t port;
        if (!policy_port_parse(s, &port)) {
                *ret_reason = "the port must be a number from 1 to 65535";
                return -EINVAL;
        }
        *ret = port;
        return 0;
}

static int split_host_port(const char *text, struct check_target *t, const char **ret_reason) {
        const char *colon = strchr(text, ':');
        size_t host_len = strlen(text);
        if (text[0] == '[') {
                const char *close = strchr(text, ']');
                if (!close || (close[1] && close[1] != ':')) {
                        *ret_reason = "write an IPv6 address with a port as [ADDRESS]:PORT";
                        return -EINVAL;
                }
                text++;
                host_len = (size_t) (close - text);
                colon = close[1] ? close + 1 : NULL;
        } else if (colon && strchr(colon + 1, ':'))
                colon = NULL;   /* a bare IPv6 address */
        else if (colon)
                host_len = (size_t) (colon - text);
        if (host_len == 0 || host_len >= sizeof(t->host)) {
                *ret_reason = host_len ? "the host is too long" : "no host given";
                return -EINVAL;
        }
        memcpy(t->host, text, host_len);
        t->host[host_len] = '\0';
        return colon ? parse_port(colon + 1, &t->port, ret_reason) : 0;
}

int check_parse_target(const char *text, struct check_target *ret, const char **ret_reason) {
        struct check_target t = { .port = -1 };
        const char *reason = NULL;
        int r = split_host_port(text, &t, &reason);
        if (r == 0 && ip_prefix_parse(t.host, &t.address) == 0 && !strchr(t.host, '/'))
                t.is_address = true;
        else if (r == 0 && !policy_hostname_valid(t.host, &reason))
                r = -EINVAL;
        if (r < 0) {
                if (ret_reason)
                        *ret_reason = reason ? reason : "not a host name or address";
                return r;
        }
        *ret = t;
        return 0;
}

/* ---- describing entries ---- */

__attribute__((format(printf, 3, 4)))
static void append(char *buf, size_t n, const char *fmt, ...) {
        size_t len = strlen(buf);
        if (len >= n - 1)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + len, n - len, fmt, ap);
        va_end(ap);
}

static void append_pos(char *buf, size_t n, const struct policy *p, const struct policy_pos *pos) {
        append(buf, n, " in %s:%u", policy_pos_file(p, pos), (unsigned) pos->line);
}

/* A catalog service's entry names the service and where it was listed. */
static void append_service(char *buf, size_t n, const struct policy *p, const char *service) {
        append(buf, n, "service \"%s\"", service);
        for (size_t i = 0; i < p->n_services; i++)
                if (strcmp(p->services[i].name, service) == 0) {
                        append_pos(buf, n, p, &p->services[i].pos);
                        return;
                }
}

static void append_domain(char *buf, size_t n, const struct policy *p, const struct policy_domain *d) {
        if (d->service) {
                append_service(buf, n, p, d->service);
                append(buf, n, " (its domain \"%s%s\")", d->wildcard ? "*." : "", d->name);
                return;
        }
        append(buf, n, "domains: \"%s%s\"", d->wildcard ? "*." : "", d->name);
        append_pos(buf, n, p, &d->pos);
}

static void append_cidr(char *buf, size_t n, const struct policy *p, const struct policy_cidr *c) {
        char text[IP_PREFIX_STRLEN];
        if (c->service) {
                append_service(buf, n, p, c->service);
                append(buf, n, " (its range %s)", ip_prefix_format(&c->prefix, text));
                return;
        }
        append(buf, n, "cidrs: \"%s\"", ip_prefix_format(&c->prefix, text));
        append_pos(buf, n, p, &c->pos);
}

/* ---- ports ---- */

/* The port entry that allows port to a destination of service (NULL: a
 * destination of the user's own), or NULL. */
static const struct policy_port *port_entry(const struct policy *p, int port, const char *service) {
        for (size_t i = 0; i < p->n_ports; i++) {
                const struct policy_port *e = &p->ports[i];
                if (e->port == port && (!e->service || (service && strcmp(e->service, service) == 0)))
                        return e;
        }
        return NULL;
}

static void append_port(char *buf, size_t n, const struct policy *p, const struct policy_port *e) {
        if (e->service)
                append(buf, n, "; port %u is service \"%s\"'s", (unsigned) e->port, e->service);
        else if (e->pos.source == POLICY_SOURCE_CATALOG)
                append(buf, n, "; port %u is a default port (80, 443: no ports: given)", (unsigned) e->port);
        else {
                append(buf, n, "; port %u by ports:", (unsigned) e->port);
                append_pos(buf, n, p, &e->pos);
        }
}

static void append_port_list(char *buf, size_t n, const struct policy *p) {
        const char *sep = "";
        append(buf, n, " (");
        for (size_t i = 0; i < p->n_ports; i++)
                if (!p->ports[i].service) {
                        append(buf, n, "%s%u", sep, (unsigned) p->ports[i].port);
                        sep = ", ";
                }
        append(buf, n, "%s)", *sep ? "" : "none");
}

/* ---- the decision ---- */

/* Another entry covering the name whose service brings the port, when the
 * closest one does not (a user's "*.github.com" and github's port 22). */
static const struct policy_domain *domain_with_port(const struct policy *p, const char *name, int port,
                                                    const struct policy_port **ret_port) {
        for (size_t i = 0; i < p->n_domains; i++) {
                struct policy one = { .domains = &p->domains[i], .n_domains = 1 };
                const struct policy_port *e = port_entry(p, port, p->domains[i].service);
                if (e && policy_name_allowed(&one, name, NULL)) {
                        *ret_port = e;
                        return &p->domains[i];
                }
        }
        return NULL;
}

static void check_name(const struct policy *p, const struct check_target *t, struct check_result *ret) {
        const struct policy_domain *d = NULL;
        char *why = ret->why;
        size_t n = sizeof(ret->why);
        if (!policy_name_allowed(p, t->host, &d)) {
                append(why, n, "refused: no domains: entry or service covers %s", t->host);
                return;
        }
        const struct policy_port *e = t->port < 0 ? NULL : port_entry(p, t->port, d->service);
        const struct policy_domain *other = t->port >= 0 && !e ? domain_with_port(p, t->host, t->port, &e) : NULL;
        if (t->port >= 0 && !e) {
                append(why, n, "refused: port %d is not allowed to %s", t->port, t->host);
                append_port_list(why, n, p);
                append(why, n, "; the name itself is allowed by ");
                append_domain(why, n, p, d);
                return;
        }
        ret->allowed = true;
        append(why, n, "allowed by ");
        append_domain(why, n, p, other ? other : d);
        if (e)
                append_port(why, n, p, e);
}

static void check_address(const struct policy *p, const struct check_target *t, struct check_result *ret) {
        char *why = ret->why;
        size_t n = sizeof(ret->why);
        const struct policy_cidr *hit = NULL;
        const struct policy_port *e = NULL;
        for (size_t i = 0; i < p->n_cidrs && !(hit && e); i++) {
                const struct policy_cidr *c = &p->cidrs[i];
                if (!ip_prefix_contains(&c->prefix, &t->address))
                        continue;
                const struct policy_port *pe = t->port < 0 ? NULL : port_entry(p, t->port, c->service);
                if (!hit || pe)
                        hit = c, e = pe;
        }
        if (!hit) {
                append(why, n, "refused: no cidrs: entry contains %s (an address an allowed name resolved to "
                       "in the sandbox is allowed too, while its answer lasts; check does not see those)", t->host);
                return;
        }
        if (t->port >= 0 && !e) {
                append(why, n, "refused: port %d is not allowed to %s", t->port, t->host);
                append_port_list(why, n, p);
                append(why, n, "; the address itself is allowed by ");
                append_cidr(why, n, p, hit);
                return;
        }
        ret->allowed = true;
        append(why, n, "allowed by ");
        append_cidr(why, n, p, hit);
        if (e)
                append_port(why, n, p, e);
}

void check_destination(const struct policy *p, const struct check_target *t, struct check_result *ret) {
        *ret = (struct check_result) {};
        (t->is_address ? check_address : check_name)(p, t, ret);
}
