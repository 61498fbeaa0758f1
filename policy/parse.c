/* SPDX-License-Identifier: MIT */
/* YAML tree -> struct policy, checking the schema and every value, with each
 * diagnostic at the line and column of the offending key or value. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy-internal.h"
#include "yaml-tree.h"

struct parser {
        const char *file;
        struct policy *p;
        uint32_t source;
        struct policy_diags *diags;
        int oom;
};

static const char *const top_keys[] = { "services", "domains", "cidrs", "ports", "selfcheck", "dns", "name_check", "github", NULL };
static const char *const selfcheck_keys[] = { "allowed", "blocked", "strict", NULL };
static const char *const dns_keys[] = { "min_ttl", "grace", NULL };
static const char *const github_keys[] = { "meta_url", "ca_file", NULL };
static const char *const name_check_keys[] = { "enabled", "tls_ports", "http_ports", NULL };

__attribute__((format(printf, 3, 4)))
static void error(struct parser *ps, const struct yaml_tree *at, const char *fmt, ...) {
        char *message;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (n < 0 || policy_diag_add(ps->diags, POLICY_ERROR, ps->file, at->line, at->column, "%s", message) < 0)
                ps->oom = -ENOMEM;
        if (n >= 0)
                free(message);
}

static struct policy_pos pos_of(const struct parser *ps, const struct yaml_tree *t) {
        return (struct policy_pos) { .source = ps->source, .line = t->line, .column = t->column };
}

/* A scalar's text, or NULL (with an error naming what was expected). */
static const char *scalar_text(struct parser *ps, const struct yaml_tree *t, const char *expected) {
        if (t->kind != YAML_TREE_SCALAR || yaml_tree_is_null(t)) {
                error(ps, t, "expected %s, got %s", expected, yaml_tree_kind_name(t));
                return NULL;
        }
        if (strlen(t->value) != t->length) {
                error(ps, t, "expected %s, got text with a NUL character", expected);
                return NULL;
        }
        return t->value;
}

static void unknown_key(struct parser *ps, const struct yaml_tree *key, const char *where,
                        const char *const *known) {
        char list[256] = "";
        const char *best = NULL;
        unsigned best_distance = 3;
        for (const char *const *k = known; *k; k++) {
                unsigned d = policy_edit_distance(key->value, *k, 2);
                if (d < best_distance) {
                        best_distance = d;
                        best = *k;
                }
                strncat(list, *k, sizeof(list) - strlen(list) - 1);
                if (k[1])
                        strncat(list, ", ", sizeof(list) - strlen(list) - 1);
        }
        if (best)
                error(ps, key, "unknown key \"%s\"%s; did you mean \"%s\"? (known keys: %s)", key->value,
                      where, best, list);
        else
                error(ps, key, "unknown key \"%s\"%s (known keys: %s)", key->value, where, list);
}

/* Calls handle(key, value) for each known key of a mapping; unknown or
 * repeated keys are errors. */
static void walk_mapping(struct parser *ps, const struct yaml_tree *map, const char *where,
                         const char *const *known,
                         void (*handle)(struct parser *, const char *, const struct yaml_tree *)) {
        for (size_t i = 0; i + 1 < map->n_children; i += 2) {
                const struct yaml_tree *key = map->children[i], *value = map->children[i + 1];
                if (key->kind != YAML_TREE_SCALAR || strlen(key->value) != key->length) {
                        error(ps, key, "expected a key name%s, got %s", where, yaml_tree_kind_name(key));
                        continue;
                }
                bool repeated = false;
                for (size_t j = 0; j < i && !repeated; j += 2) {
                        const struct yaml_tree *other = map->children[j];
                        if (other->kind == YAML_TREE_SCALAR && strcmp(other->value, key->value) == 0) {
                                error(ps, key, "key \"%s\" given twice%s (first at line %u, column %u)",
                                      key->value, where, other->line, other->column);
                                repeated = true;
                        }
                }
                if (repeated)
                        continue;
                const char *const *k;
                for (k = known; *k && strcmp(*k, key->value) != 0; k++)
                        ;
                if (!*k)
                        unknown_key(ps, key, where, known);
                else
                        handle(ps, *k, value);
        }
}

/* Calls item() for each entry of a list; null means an empty list. */
static void walk_list(struct parser *ps, const char *key, const struct yaml_tree *value,
                      const char *what, void (*item)(struct parser *, const struct yaml_tree *)) {
        if (yaml_tree_is_null(value))
                return;
        if (value->kind != YAML_TREE_SEQUENCE) {
                error(ps, value, "\"%s\" must be a list of %s, got %s (write \"%s: [VALUE]\" or one \"- VALUE\" per line)",
                      key, what, yaml_tree_kind_name(value), key);
                return;
        }
        for (size_t i = 0; i < value->n_children; i++)
                item(ps, value->children[i]);
}

static void service_item(struct parser *ps, const struct yaml_tree *t) {
        const char *name = scalar_text(ps, t, "a service name");
        if (!name)
                return;
        if (!policy_add_service(ps->p, name, pos_of(ps, t)))
                ps->oom = -ENOMEM;
}

/* Why a domains: entry is not a host name, in the terms the user wrote it. */
static bool domain_explain(struct parser *ps, const struct yaml_tree *t, const char *text) {
        long bad = policy_first_non_ascii(text);
        if (bad >= 0) {
                error(ps, t, "host name \"%s\" contains a non-ASCII character; write internationalised names in punycode (\"xn--...\")",
                      text);
                return false;
        }
        if (strstr(text, "://") || strchr(text, '/')) {
                if (policy_looks_like_ip(text))
                        error(ps, t, "\"%s\" is an address range, not a host name; list it under cidrs:", text);
                else
                        error(ps, t, "\"%s\" is a URL or path; write the host name only (e.g. \"api.example.com\")", text);
                return false;
        }
        if (policy_looks_like_ip(text)) {
                error(ps, t, "\"%s\" is an IP address, not a host name; list addresses and ranges under cidrs:", text);
                return false;
        }
        if (strchr(text, ':')) {
                error(ps, t, "host name \"%s\" contains ':'; write the host name alone and list ports under ports:", text);
                return false;
        }
        return true;
}

static void domain_item(struct parser *ps, const struct yaml_tree *t) {
        const char *text = scalar_text(ps, t, "a host name");
        if (!text || !domain_explain(ps, t, text))
                return;

        bool wildcard = strncmp(text, "*.", 2) == 0;
        const char *name = wildcard ? text + 2 : text;
        const char *reason;
        if (strcmp(text, "*") == 0) {
                error(ps, t, "\"*\" alone would allow every host; list host names or \"*.domain\" wildcards");
                return;
        }
        if (strchr(name, '*')) {
                error(ps, t, "invalid host name \"%s\": '*' is only allowed as the whole first label, as in \"*.example.com\"",
                      text);
                return;
        }
        if (!policy_hostname_valid(name, &reason)) {
                error(ps, t, "invalid host name \"%s\": %s", text, reason);
                return;
        }
        /* "*.com." is "*.com": a trailing dot is no second label. */
        const char *dot = strchr(name, '.');
        if (wildcard && (!dot || dot[1] == '\0')) {
                error(ps, t, "wildcard \"%s\" covers a whole top-level domain; name at least two labels after \"*.\"", text);
                return;
        }
        _cleanup_free_ char *copy = strdup(name);
        if (!copy) {
                ps->oom = -ENOMEM;
                return;
        }
        size_t n = strlen(copy);
        if (n > 0 && copy[n - 1] == '.')
                copy[n - 1] = '\0';
        if (!policy_add_domain(ps->p, copy, wildcard, pos_of(ps, t), NULL))
                ps->oom = -ENOMEM;
}

/* "192.0.2.1/24" -> "192.0.2.0/24", to suggest what was probably meant. */
static bool masked_suggestion(const char *text, char buf[static IP_PREFIX_STRLEN]) {
        char addr[64];
        const char *slash = strchr(text, '/');
        if (!slash || (size_t) (slash - text) >= sizeof(addr))
                return false;
        memcpy(addr, text, (size_t) (slash - text));
        addr[slash - text] = '\0';
        struct ip_prefix p;
        if (ip_prefix_parse(addr, &p) < 0)
                return false;
        char *end;
        long len = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || len < 0 || len > p.len)
                return false;
        for (unsigned bit = (unsigned) len; bit < ip_prefix_addr_len(&p) * 8; bit++)
                p.addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
        p.len = (uint8_t) len;
        ip_prefix_format(&p, buf);
        return true;
}

static void cidr_item(struct parser *ps, const struct yaml_tree *t) {
        const char *text = scalar_text(ps, t, "an address range such as 192.0.2.0/24");
        struct ip_prefix prefix;
        char suggestion[IP_PREFIX_STRLEN];
        if (!text)
                return;
        if (ip_prefix_parse(text, &prefix) == 0) {
                if (!policy_add_cidr(ps->p, &prefix, pos_of(ps, t), NULL))
                        ps->oom = -ENOMEM;
                return;
        }
        if (masked_suggestion(text, suggestion) && strcmp(suggestion, text) != 0)
                error(ps, t, "invalid address range \"%s\": bits are set past the prefix length; did you mean %s?",
                      text, suggestion);
        else if (policy_hostname_valid(text, NULL) && !policy_looks_like_ip(text))
                error(ps, t, "\"%s\" is a host name, not an address range; list it under domains:", text);
        else
                error(ps, t, "invalid address range \"%s\": expected an IPv4 or IPv6 address, optionally with /LENGTH (e.g. 192.0.2.0/24, 2001:db8::/32)",
                      text);
}

static void port_item(struct parser *ps, const struct yaml_tree *t) {
        const char *text = scalar_text(ps, t, "a port number from 1 to 65535");
        uint16_t port;
        if (!text)
                return;
        if (!t->plain) {
                error(ps, t, "expected a port number from 1 to 65535, got the quoted string \"%s\"; write the number without quotes",
                      text);
                return;
        }
        if (!policy_port_parse(text, &port)) {
                error(ps, t, "invalid port \"%s\": expected a whole number from 1 to 65535", text);
                return;
        }
        if (!policy_add_port(ps->p, port, pos_of(ps, t), NULL))
                ps->oom = -ENOMEM;
}

static void set_string(struct parser *ps, char **dst, const char *text) {
        char *copy = strdup(text);
        if (!copy) {
                ps->oom = -ENOMEM;
                return;
        }
        free(*dst);
        *dst = copy;
}

/* true/false into *ret (0/1); an error naming key otherwise. */
static void boolean(struct parser *ps, const char *key, const struct yaml_tree *v, int *ret) {
        static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False", "FALSE" };
        for (size_t i = 0; v->kind == YAML_TREE_SCALAR && v->plain && i < ELEMENTSOF(yes); i++) {
                if (strcmp(v->value, yes[i]) == 0 || strcmp(v->value, no[i]) == 0) {
                        *ret = strcmp(v->value, yes[i]) == 0;
                        return;
                }
        }
        error(ps, v, "\"%s\" must be true or false, got %s%s%s", key,
              v->kind == YAML_TREE_SCALAR ? "\"" : "", v->kind == YAML_TREE_SCALAR ? v->value : yaml_tree_kind_name(v),
              v->kind == YAML_TREE_SCALAR ? "\"" : "");
}

static void selfcheck_key(struct parser *ps, const char *key, const struct yaml_tree *v) {
        if (strcmp(key, "strict") == 0) {
                boolean(ps, "selfcheck.strict", v, &ps->p->selfcheck_strict);
                return;
        }
        const char *text = scalar_text(ps, v, "a host name");
        const char *reason;
        struct ip_prefix ip;
        if (!text)
                return;
        /* "host:port" probes that port; an IPv6 literal has no port part. */
        char host[256];
        const char *colon = strchr(text, ':');
        uint16_t port;
        snprintf(host, sizeof(host), "%s", text);
        if (colon && colon == strrchr(text, ':') && (size_t) (colon - text) < sizeof(host)) {
                host[colon - text] = '\0';
                if (!policy_port_parse(colon + 1, &port)) {
                        error(ps, v, "invalid port \"%s\" in selfcheck.%s: expected HOST or HOST:PORT with a port from 1 to 65535",
                              colon + 1, key);
                        return;
                }
        }
        bool is_address = ip_prefix_parse(host, &ip) == 0 && !strchr(host, '/');
        if (!is_address) {
                if (!domain_explain(ps, v, host))
                        return;
                if (!policy_hostname_valid(host, &reason)) {
                        error(ps, v, "invalid host name \"%s\" for selfcheck.%s: %s", host, key, reason);
                        return;
                }
        }
        set_string(ps, strcmp(key, "allowed") == 0 ? &ps->p->selfcheck_allowed : &ps->p->selfcheck_blocked, text);
}

static void dns_key(struct parser *ps, const char *key, const struct yaml_tree *v) {
        if (strcmp(key, "grace") == 0) {
                const char *g = scalar_text(ps, v, "a number of seconds from 0 to 86400");
                char *gend;
                unsigned long grace = g ? strtoul(g, &gend, 10) : 0;
                if (g && (!v->plain || g[0] < '0' || g[0] > '9' || *gend || grace > POLICY_DNS_GRACE_MAX))
                        error(ps, v, "invalid dns.grace \"%s\": expected a whole number of seconds from 0 to %u", g,
                              POLICY_DNS_GRACE_MAX);
                else if (g)
                        ps->p->dns_grace = (int) grace;
                return;
        }
        const char *text = scalar_text(ps, v, "a number of seconds from 1 to 3600");
        if (!text)
                return;
        char *end;
        unsigned long ttl = strtoul(text, &end, 10);
        if (!v->plain || text[0] < '0' || text[0] > '9' || *end || ttl < 1 || ttl > POLICY_DNS_MIN_TTL_MAX) {
                error(ps, v, "invalid dns.min_ttl \"%s\": expected a whole number of seconds from 1 to %u", text,
                      POLICY_DNS_MIN_TTL_MAX);
                return;
        }
        ps->p->dns_min_ttl = (unsigned) ttl;
}

static void github_key(struct parser *ps, const char *key, const struct yaml_tree *v) {
        if (strcmp(key, "meta_url") == 0) {
                const char *url = scalar_text(ps, v, "an https:// URL");
                if (!url)
                        return;
                struct policy_url parsed;
                const char *reason;
                if (policy_url_parse(url, &parsed, &reason) < 0) {
                        error(ps, v, "invalid github.meta_url \"%s\": %s", url, reason);
                        return;
                }
                set_string(ps, &ps->p->github_meta_url, url);
                return;
        }
        const char *path = scalar_text(ps, v, "an absolute file path");
        if (!path)
                return;
        if (path[0] != '/' || strlen(path) > 4096) {
                error(ps, v, "invalid github.ca_file \"%s\": expected an absolute path to a PEM file", path);
                return;
        }
        set_string(ps, &ps->p->github_ca_file, path);
}

/* One port of name_check.tls_ports or .http_ports. */
static void name_check_port(struct parser *ps, const struct yaml_tree *t, const char *key, uint16_t *ports,
                            size_t *n) {
        const char *text = scalar_text(ps, t, "a port number from 1 to 65535");
        uint16_t port;
        if (!text)
                return;
        if (!t->plain || !policy_port_parse(text, &port)) {
                error(ps, t, "invalid port \"%s\" in name_check.%s: expected a whole number from 1 to 65535", text, key);
                return;
        }
        if (port == 53) {
                error(ps, t, "name_check.%s: port 53 carries DNS, which goes to the sandbox's resolver; it cannot be name-checked", key);
                return;
        }
        for (size_t i = 0; i < *n; i++)
                if (ports[i] == port)
                        return;
        if (*n >= POLICY_NAME_CHECK_PORTS_MAX) {
                error(ps, t, "name_check.%s: at most %d ports", key, POLICY_NAME_CHECK_PORTS_MAX);
                return;
        }
        ports[(*n)++] = port;
}

static void name_check_key(struct parser *ps, const char *key, const struct yaml_tree *v) {
        ps->p->name_check_pos = pos_of(ps, v);
        if (strcmp(key, "enabled") == 0) {
                boolean(ps, "name_check.enabled", v, &ps->p->name_check);
                return;
        }
        bool tls = strcmp(key, "tls_ports") == 0;
        uint16_t *ports = tls ? ps->p->name_check_tls : ps->p->name_check_http;
        size_t *n = tls ? &ps->p->n_name_check_tls : &ps->p->n_name_check_http;
        *(tls ? &ps->p->name_check_tls_set : &ps->p->name_check_http_set) = true;
        if (yaml_tree_is_null(v))
                return;
        if (v->kind != YAML_TREE_SEQUENCE) {
                error(ps, v, "\"name_check.%s\" must be a list of port numbers, got %s (write \"%s: [443]\", or [] for none)",
                      key, yaml_tree_kind_name(v), key);
                return;
        }
        for (size_t i = 0; i < v->n_children; i++)
                name_check_port(ps, v->children[i], key, ports, n);
}

static void nested_mapping(struct parser *ps, const char *key, const struct yaml_tree *v, const char *where,
                           const char *const *known,
                           void (*handle)(struct parser *, const char *, const struct yaml_tree *)) {
        if (yaml_tree_is_null(v))
                return;
        if (v->kind != YAML_TREE_MAPPING) {
                error(ps, v, "\"%s\" must be a mapping (e.g. %s), got %s", key,
                      strcmp(key, "dns") == 0 ? "{min_ttl: 30}" :
                      strcmp(key, "github") == 0 ? "{meta_url: URL}" :
                      strcmp(key, "name_check") == 0 ? "{enabled: false}" : "{allowed: HOST, blocked: HOST}",
                      yaml_tree_kind_name(v));
                return;
        }
        walk_mapping(ps, v, where, known, handle);
}

static void top_key(struct parser *ps, const char *key, const struct yaml_tree *v) {
        if (strcmp(key, "services") == 0)
                walk_list(ps, key, v, "service names", service_item);
        else if (strcmp(key, "domains") == 0)
                walk_list(ps, key, v, "host names", domain_item);
        else if (strcmp(key, "cidrs") == 0)
                walk_list(ps, key, v, "address ranges", cidr_item);
        else if (strcmp(key, "ports") == 0) {
                ps->p->ports_set = true;
                walk_list(ps, key, v, "port numbers", port_item);
        } else if (strcmp(key, "selfcheck") == 0)
                nested_mapping(ps, key, v, " in selfcheck", selfcheck_keys, selfcheck_key);
        else if (strcmp(key, "dns") == 0)
                nested_mapping(ps, key, v, " in dns", dns_keys, dns_key);
        else if (strcmp(key, "name_check") == 0)
                nested_mapping(ps, key, v, " in name_check", name_check_keys, name_check_key);
        else
                nested_mapping(ps, key, v, " in github", github_keys, github_key);
}

int policy_parse_buffer(const char *filename, const char *data, size_t len, struct policy **ret,
                        struct policy_diags *diags) {
        _cleanup_policy_ struct policy *p = NULL;
        struct yaml_tree *root = NULL;
        size_t errors_before = diags->n_errors;
        int r;

        if (len > POLICY_MAX_FILE_SIZE) {
                policy_diag_add(diags, POLICY_ERROR, filename, 0, 0,
                                "file is %zu bytes; a policy file may be at most %d bytes", len, POLICY_MAX_FILE_SIZE);
                return -EINVAL;
        }
        r = yaml_tree_parse(filename, data, len, &root, diags);
        if (r < 0)
                return r;
        if (!root || yaml_tree_is_null(root)) {
                yaml_tree_free(root);
                policy_diag_add(diags, POLICY_ERROR, filename, 1, 1,
                                "the policy file is empty; give at least one key, e.g. \"services: [github]\"");
                return -EINVAL;
        }
        if (root->kind != YAML_TREE_MAPPING) {
                policy_diag_add(diags, POLICY_ERROR, filename, root->line, root->column,
                                "the top level must be a mapping of keys (services:, domains:, ...), got %s",
                                yaml_tree_kind_name(root));
                yaml_tree_free(root);
                return -EINVAL;
        }

        r = policy_new(&p);
        struct parser ps = { .file = filename, .p = p, .diags = diags };
        if (r >= 0)
                r = policy_add_source(p, filename, &ps.source);
        if (r >= 0) {
                walk_mapping(&ps, root, "", top_keys, top_key);
                r = ps.oom;
        }
        yaml_tree_free(root);
        if (r >= 0)
                r = policy_fold_duplicates(p, diags, true);
        if (r < 0)
                return r;
        if (diags->n_errors > errors_before)
                return -EINVAL;
        *ret = TAKE_PTR(p);
        return 0;
}
