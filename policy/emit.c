/* SPDX-License-Identifier: MIT */
/* The policy written back out, as YAML (re-parseable by this library) and as
 * JSON, in the stored order (sorted once expanded). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json_string.h"
#include "policy-internal.h"

static int finish(FILE *f) {
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}

static const char *meta_url(const struct policy *p) {
        return p->github_meta_url ? p->github_meta_url : POLICY_GITHUB_META_URL_DEFAULT;
}

/* A host name that a YAML reader would take for null or a boolean ("null",
 * "yes", "on", ...) must be quoted to stay a string. */
static bool yaml_needs_quotes(const char *name) {
        static const char *const words[] = { "null", "true", "false", "yes", "no", "on", "off", "y", "n" };
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strcasecmp(name, words[i]) == 0)
                        return true;
        return false;
}

static void yaml_origin(FILE *f, const char *service) {
        if (service)
                fprintf(f, "  # %s", service);
        fputc('\n', f);
}

static void yaml_lists(const struct policy *p, FILE *f) {
        char buf[IP_PREFIX_STRLEN];
        fputs(p->n_services ? "services:\n" : "services: []\n", f);
        for (size_t i = 0; i < p->n_services; i++)
                fprintf(f, "  - %s\n", p->services[i].name);
        fputs(p->n_domains ? "domains:\n" : "domains: []\n", f);
        for (size_t i = 0; i < p->n_domains; i++) {
                const struct policy_domain *d = &p->domains[i];
                if (d->wildcard)
                        fprintf(f, "  - \"*.%s\"", d->name);
                else if (yaml_needs_quotes(d->name))
                        fprintf(f, "  - \"%s\"", d->name);
                else
                        fprintf(f, "  - %s", d->name);
                yaml_origin(f, d->service);
        }
        if (p->any_name)
                fprintf(f, "  # and every other name (%s): it resolves, and its addresses are allowed when\n"
                           "  # they fall in the cidrs below\n", p->any_name_match.service);
        /* A service's ranges are listed as comments: read back under
         * cidrs:, they would become the policy's own, which the rebinding
         * guard lets through. The service adds them again. */
        size_t own = 0;
        for (size_t i = 0; i < p->n_cidrs; i++)
                own += !p->cidrs[i].service;
        fputs(own ? "cidrs:\n" : "cidrs: []\n", f);
        for (size_t i = 0; i < p->n_cidrs; i++)
                if (!p->cidrs[i].service)
                        fprintf(f, "  - \"%s\"\n", ip_prefix_format(&p->cidrs[i].prefix, buf));
        if (own < p->n_cidrs)
                fputs("  # and the ranges of services, without the container's own networks and gateways:\n", f);
        for (size_t i = 0; i < p->n_cidrs; i++)
                if (p->cidrs[i].service)
                        fprintf(f, "  #  - \"%s\"  # %s\n", ip_prefix_format(&p->cidrs[i].prefix, buf),
                                p->cidrs[i].service);
        size_t global = policy_global_ports(p);
        if (p->ports_set || global > 0) {
                fputs(global ? "ports:\n" : "ports: []\n", f);
                for (size_t i = 0; i < p->n_ports; i++)
                        if (!p->ports[i].service)
                                fprintf(f, "  - %u\n", p->ports[i].port);
        }
        /* A service's ports are not listed under ports: read back, they
         * would open on every allowed address. The service adds them again. */
        for (size_t i = 0; i < p->n_ports; i++)
                if (p->ports[i].service)
                        fprintf(f, "# port %u: added by %s, to %s's own destinations only\n", p->ports[i].port,
                                p->ports[i].service, p->ports[i].service);
}

/* "[443, 8443]": the list as the policy sets it, or its default, also
 * while checking is off (so that turning it on again is visible). In YAML
 * flow style, which is JSON too. prefix ends without a newline in JSON. */
static void write_name_check_ports(const struct policy *p, enum policy_name_check kind, const char *prefix, FILE *f) {
        static const uint16_t tls_default[] = { 443 }, http_default[] = { 80 };
        bool tls = kind == POLICY_NAME_CHECK_TLS;
        bool set = tls ? p->name_check_tls_set : p->name_check_http_set;
        const uint16_t *ports = set ? (tls ? p->name_check_tls : p->name_check_http) : tls ? tls_default : http_default;
        size_t n = set ? (tls ? p->n_name_check_tls : p->n_name_check_http) : 1;
        fputs(prefix, f);
        fputc('[', f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%u", i ? ", " : "", ports[i]);
        fputc(']', f);
        if (prefix[0] == ' ')
                fputc('\n', f);
}

int policy_write_yaml(const struct policy *p, FILE *f) {
        if (p->expanded)
                fputs("# Effective agent-sandbox policy: services expanded through the built-in catalog;\n"
                      "# a comment names the service that added an entry.\n", f);
        yaml_lists(p, f);
        if (p->selfcheck_allowed || p->selfcheck_blocked || p->selfcheck_strict >= 0) {
                fputs("selfcheck:\n", f);
                if (p->selfcheck_allowed) {
                        fputs("  allowed: ", f);
                        base_json_write_string(f, p->selfcheck_allowed);
                        fputc('\n', f);
                }
                if (p->selfcheck_blocked) {
                        fputs("  blocked: ", f);
                        base_json_write_string(f, p->selfcheck_blocked);
                        fputc('\n', f);
                }
                fprintf(f, "  strict: %s\n", policy_selfcheck_strict(p) ? "true" : "false");
        }
        if (p->expanded || p->dns_min_ttl || p->dns_grace >= 0) {
                fputs("dns:\n", f);
                if (p->expanded || p->dns_min_ttl)
                        fprintf(f, "  min_ttl: %u\n", policy_dns_min_ttl(p));
                if (p->expanded || p->dns_grace >= 0)
                        fprintf(f, "  grace: %u\n", policy_dns_grace(p));
        }
        if (p->expanded || p->name_check >= 0 || p->name_check_tls_set || p->name_check_http_set) {
                fprintf(f, "name_check:\n  enabled: %s\n", policy_name_check_enabled(p) ? "true" : "false");
                if (p->expanded || p->name_check_tls_set)
                        write_name_check_ports(p, POLICY_NAME_CHECK_TLS, "  tls_ports: ", f);
                if (p->expanded || p->name_check_http_set)
                        write_name_check_ports(p, POLICY_NAME_CHECK_HTTP, "  http_ports: ", f);
        }
        if (p->needs_github_meta || p->github_meta_url || p->github_ca_file) {
                fputs("github:\n  meta_url: ", f);
                base_json_write_string(f, meta_url(p));
                fputc('\n', f);
                if (p->github_ca_file) {
                        fputs("  ca_file: ", f);
                        base_json_write_string(f, p->github_ca_file);
                        fputc('\n', f);
                }
        }
        return finish(f);
}

static bool port_of(const struct policy_port *port, const char *service) {
        return service ? port->service && strcmp(port->service, service) == 0 : !port->service;
}

static bool service_has_ports(const struct policy *p, const char *service) {
        for (size_t i = 0; i < p->n_ports; i++)
                if (port_of(&p->ports[i], service))
                        return true;
        return false;
}

/* The ports of one service, or (service NULL) those of the whole policy. */
static void json_ports(const struct policy *p, const char *service, FILE *f) {
        bool first = true;
        for (size_t i = 0; i < p->n_ports; i++)
                if (port_of(&p->ports[i], service)) {
                        fprintf(f, "%s%u", first ? "" : ", ", p->ports[i].port);
                        first = false;
                }
}

int policy_write_json(const struct policy *p, FILE *f) {
        char buf[IP_PREFIX_STRLEN];
        fputs("{\n  \"services\": [", f);
        for (size_t i = 0; i < p->n_services; i++) {
                fputs(i ? ", " : "", f);
                base_json_write_string(f, p->services[i].name);
        }
        fputs("],\n  \"domains\": [", f);
        for (size_t i = 0; i < p->n_domains; i++)
                fprintf(f, "%s\"%s%s\"", i ? ", " : "", p->domains[i].wildcard ? "*." : "", p->domains[i].name);
        fprintf(f, "],\n  \"any_name\": %s,\n  \"cidrs\": [", p->any_name ? "true" : "false");
        for (size_t i = 0; i < p->n_cidrs; i++)
                fprintf(f, "%s\"%s\"", i ? ", " : "", ip_prefix_format(&p->cidrs[i].prefix, buf));
        fputs("],\n  \"ports\": [", f);
        json_ports(p, NULL, f);
        fputs("],\n  \"service_ports\": {", f);
        bool first = true;
        for (size_t i = 0; i < p->n_services; i++) {
                if (!service_has_ports(p, p->services[i].name))
                        continue;
                fputs(first ? "" : ", ", f);
                first = false;
                base_json_write_string(f, p->services[i].name);
                fputs(": [", f);
                json_ports(p, p->services[i].name, f);
                fputc(']', f);
        }
        fputs("},\n  \"selfcheck\": {\"allowed\": ", f);
        base_json_write_string(f, p->selfcheck_allowed);
        fputs(", \"blocked\": ", f);
        base_json_write_string(f, p->selfcheck_blocked);
        fprintf(f, ", \"strict\": %s},\n", policy_selfcheck_strict(p) ? "true" : "false");
        fprintf(f, "  \"dns\": {\"min_ttl\": %u, \"grace\": %u},\n", policy_dns_min_ttl(p), policy_dns_grace(p));
        fprintf(f, "  \"name_check\": {\"enabled\": %s, ", policy_name_check_enabled(p) ? "true" : "false");
        write_name_check_ports(p, POLICY_NAME_CHECK_TLS, "\"tls_ports\": ", f);
        write_name_check_ports(p, POLICY_NAME_CHECK_HTTP, ", \"http_ports\": ", f);
        fputs("},\n", f);
        fputs("  \"github\": {\"meta_url\": ", f);
        base_json_write_string(f, meta_url(p));
        fputs(", \"ca_file\": ", f);
        base_json_write_string(f, p->github_ca_file);
        fprintf(f, "},\n  \"needs_github_meta\": %s\n}\n", p->needs_github_meta ? "true" : "false");
        return finish(f);
}
