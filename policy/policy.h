/* SPDX-License-Identifier: MIT */
/* The network policy: which hosts, address ranges and TCP ports a sandbox may
 * reach. Parsed from YAML with a source position on every entry, layered
 * (base file plus overrides), expanded through the built-in service catalog
 * and written back out as the effective policy. Nothing here logs: problems
 * go into a struct policy_diags that the caller prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "prefix.h"

#define POLICY_MAX_FILE_SIZE (1024 * 1024)
#define POLICY_DNS_MIN_TTL_DEFAULT 30u
#define POLICY_DNS_MIN_TTL_MAX 3600u
/* How long past its TTL an address the sandbox's resolver handed out stays
 * allowed: clients that keep answers longer than the TTL (curl caches them
 * 60 s, Java 30 s) keep working. */
#define POLICY_DNS_GRACE_DEFAULT 120u
#define POLICY_DNS_GRACE_MAX 86400u

/* Name checking (name_check:): the ports whose connections to name-allowed
 * destinations go through the name gate, and which protocol it reads
 * there. At most this many per list. */
#define POLICY_NAME_CHECK_PORTS_MAX 16

enum policy_name_check {
        POLICY_NAME_CHECK_NONE,         /* not checked */
        POLICY_NAME_CHECK_TLS,          /* the ClientHello's server name */
        POLICY_NAME_CHECK_HTTP,         /* the HTTP/1.x request's Host */
};

/* ---- diagnostics ---- */

enum policy_severity {
        POLICY_ERROR,
        POLICY_WARNING,
};

struct policy_diag {
        enum policy_severity severity;
        char *file;             /* may be NULL for problems with no file */
        unsigned line, column;  /* 1-based; 0 when unknown */
        char *message;
};

struct policy_diags {
        struct policy_diag *items;
        size_t n;
        size_t n_errors;
};

/* Appends one diagnostic; returns -ENOMEM only if even that fails. */
__attribute__((format(printf, 6, 7)))
int policy_diag_add(struct policy_diags *d, enum policy_severity severity, const char *file,
                    unsigned line, unsigned column, const char *fmt, ...);
/* "FILE:LINE:COLUMN: error: message" per line (fields dropped when unknown). */
void policy_diags_print(const struct policy_diags *d, FILE *f);
void policy_diags_clear(struct policy_diags *d);
static inline bool policy_diags_has_errors(const struct policy_diags *d) {
        return d->n_errors > 0;
}

/* ---- the model ---- */

/* Where an entry came from: an index into struct policy.sources, or
 * POLICY_SOURCE_CATALOG for entries a built-in service added. */
#define POLICY_SOURCE_CATALOG UINT32_MAX
struct policy_pos {
        uint32_t source;
        uint32_t line, column;  /* 1-based */
};

struct policy_service {
        char *name;             /* canonical catalog name once expanded, lower case */
        struct policy_pos pos;
};

struct policy_domain {
        char *name;             /* lower case, no trailing dot, without the "*." */
        bool wildcard;          /* written as "*.name" */
        struct policy_pos pos;
        const char *service;    /* catalog service that added it, or NULL */
};

struct policy_cidr {
        struct ip_prefix prefix;
        struct policy_pos pos;
        const char *service;
};

/* A port with service NULL is allowed to every destination the policy
 * allows (the "ports:" key or the defaults 80 and 443). A port a catalog
 * service added (service set: its canonical name) is allowed only to that
 * service's own destinations: the addresses its domains resolve to and, for
 * github, the meta ranges. A port the policy allows everywhere absorbs the
 * same port from a service; two services adding one port give two entries. */
struct policy_port {
        uint16_t port;
        struct policy_pos pos;
        const char *service;
};

struct policy {
        char **sources;         /* file names that positions refer to */
        size_t n_sources;

        struct policy_service *services;
        size_t n_services;
        struct policy_domain *domains;
        size_t n_domains;
        struct policy_cidr *cidrs;
        size_t n_cidrs;
        struct policy_port *ports;
        size_t n_ports;
        bool ports_set;         /* "ports:" was given; else the defaults 80, 443 apply */

        char *selfcheck_allowed;        /* NULL: not set */
        char *selfcheck_blocked;
        int selfcheck_strict;           /* -1: not set, else 0/1 */

        unsigned dns_min_ttl;           /* 0: not set (default 30) */
        int dns_grace;                  /* -1: not set (POLICY_DNS_GRACE_DEFAULT) */

        int name_check;                 /* name_check.enabled; -1: not set (on) */
        bool name_check_tls_set, name_check_http_set;   /* else the default [443], [80] */
        uint16_t name_check_tls[POLICY_NAME_CHECK_PORTS_MAX];
        size_t n_name_check_tls;
        uint16_t name_check_http[POLICY_NAME_CHECK_PORTS_MAX];
        size_t n_name_check_http;
        struct policy_pos name_check_pos;       /* of the name_check: key, for messages */

        char *github_meta_url;          /* NULL: not set */
        char *github_ca_file;

        bool expanded;                  /* policy_expand() ran */
        bool needs_github_meta;         /* the github service is in use */
        /* A service allows every name (the internet preset): the resolver
         * answers every query, and policy_name_allowed() matches every
         * valid name with any_name_match. Its addresses still pass the
         * rebinding guard, and its ranges are the service's cidrs. */
        bool any_name;
        struct policy_domain any_name_match;    /* name "", wildcard, its service */
};

/* Where the github service's ranges come from when github.meta_url is not set. */
#define POLICY_GITHUB_META_URL_DEFAULT "https://api.github.com/meta"

/* A policy with nothing set. */
int policy_new(struct policy **ret);
void policy_free(struct policy *p);
static inline void policy_freep(struct policy **p) {
        policy_free(*p);
}
#define _cleanup_policy_ __attribute__((cleanup(policy_freep)))

/* Name of the file a position refers to ("(catalog)" for catalog entries). */
const char *policy_pos_file(const struct policy *p, const struct policy_pos *pos);

/* Effective values, defaults applied. */
unsigned policy_dns_min_ttl(const struct policy *p);
unsigned policy_dns_grace(const struct policy *p);
/* How many ports apply to every allowed destination (service NULL). */
size_t policy_global_ports(const struct policy *p);
bool policy_selfcheck_strict(const struct policy *p);
/* Whether connections are name-checked at all (name_check.enabled). */
bool policy_name_check_enabled(const struct policy *p);
/* What is checked on TCP port port: NONE when name checking is off or the
 * port is in neither list. Ports only a catalog service adds are listed
 * here but not name-checked by the firewall (docs/policy.md). */
enum policy_name_check policy_name_check_port(const struct policy *p, uint16_t port);
/* The effective lists, defaults applied (empty when checking is off). */
size_t policy_name_check_ports(const struct policy *p, enum policy_name_check kind, const uint16_t **ret);

/* ---- parsing and loading ---- */

/* Parse one YAML document. On any error returns -EINVAL (diagnostics in
 * diags) and *ret is untouched; -ENOMEM on allocation failure. Warnings
 * alone do not fail. filename is only used for diagnostics and positions. */
int policy_parse_buffer(const char *filename, const char *data, size_t len,
                        struct policy **ret, struct policy_diags *diags);

/* Open (O_CLOEXEC|O_NOCTTY; symlinks are followed, the file must be a
 * regular file), refuse anything over POLICY_MAX_FILE_SIZE before reading
 * it, then parse. Open/read failures are reported as a diagnostic too. */
int policy_parse_file(const char *path, struct policy **ret, struct policy_diags *diags);

/* Layer override on base into a new policy (see docs/policy.md):
 * services, domains and cidrs are unions (duplicates merged with a warning);
 * ports, when the override gives them, replace the base's; each scalar
 * (selfcheck.*, dns.min_ttl, github.*) the override sets replaces the base's. */
int policy_merge(const struct policy *base, const struct policy *override,
                 struct policy **ret, struct policy_diags *diags);

/* base_path plus every "*.yaml" in override_dir in lexical (strcmp) order.
 * A missing override_dir is not an error; override_dir may be NULL. */
int policy_load_layered(const char *base_path, const char *override_dir,
                        struct policy **ret, struct policy_diags *diags);

/* Apply the catalog: every service adds its domains, ranges and ports; the
 * default ports apply when none were set; duplicates are folded; lists are
 * sorted. Unknown services are errors (-EINVAL). Idempotent. */
int policy_expand(struct policy *p, struct policy_diags *diags);

/* ---- output ---- */

/* The policy as YAML / JSON (stable order, one entry per line). 0 or -errno. */
int policy_write_yaml(const struct policy *p, FILE *f);
int policy_write_json(const struct policy *p, FILE *f);

/* ---- validators, shared with agentbox ---- */

/* RFC 1123 host name: labels of 1..63 [a-z0-9-] (either case) not starting or
 * ending with '-', at most 253 characters, no empty label; one trailing dot
 * is tolerated. On false, *ret_reason (if given) says what is wrong. */
bool policy_hostname_valid(const char *name, const char **ret_reason);

/* Whether the DNS query name is allowed: it equals a domains: entry (or a
 * catalog service's, once policy_expand() ran), or a wildcard entry
 * "*.example.com" covers it, which allows example.com and every name under
 * it at any depth (a.example.com, a.b.example.com; not badexample.com).
 * Case-insensitive; one trailing dot is accepted. A name that is no policy
 * host name (see policy_hostname_valid: empty, over 253 characters, an empty
 * label or one over 63, a byte other than letters, digits, '-' and '.', a
 * label starting or ending with '-', an all-numeric last label) is never
 * allowed, under a wildcard either: "_srv._tcp.example.com" and names with
 * escaped bytes ("a\\.b") are refused. On true, *ret_match (if given) is the
 * entry that allows it: one equal to the name, a non-wildcard one first,
 * else the longest wildcard that covers it. */
bool policy_name_allowed(const struct policy *p, const char *name, const struct policy_domain **ret_match);

/* Decimal TCP port 1..65535, digits only. */
bool policy_port_parse(const char *text, uint16_t *ret);

/* An http(s) URL, split. Strict, because the init must be able to use
 * every URL check-policy accepts: http:// or https:// only (lower case), a
 * host that is a valid host name, an IPv4 address or an IPv6 address in
 * brackets, an optional port 1..65535, no user name or password, no space
 * or control character, at most POLICY_URL_MAX characters. */
#define POLICY_URL_MAX 2048
struct policy_url {
        bool https;
        char host[254];         /* without the brackets of an IPv6 address */
        bool host_is_ipv6;
        uint16_t port;          /* the URL's, or 443 / 80 */
        const char *path;       /* into the text parsed: "" or from the first '/', '?' or '#' */
};
/* 0 and *ret filled, or -EINVAL and *ret_reason (if given) saying what is
 * wrong, in words for the user. */
int policy_url_parse(const char *text, struct policy_url *ret, const char **ret_reason);

/* ---- the catalog ---- */

struct policy_catalog_service {
        const char *name;
        const char *const *aliases;     /* NULL-terminated */
        const char *const *domains;     /* NULL-terminated; "*.x" for wildcards */
        const uint16_t *ports;          /* 0-terminated */
        bool github_meta;               /* add the ranges from GitHub's meta API */
        /* Address ranges it allows (NULL-terminated; NULL: none). Unlike
         * the policy's own cidrs:, they are no exception to the rebinding
         * guard: the container's own networks and gateways are cut out of
         * them when the firewall is built. */
        const char *const *cidrs;
        bool any_name;                  /* every name resolves (see struct policy) */
        const char *source_url;         /* where the list comes from */
};

/* By name or alias, case-insensitive; NULL when unknown. */
const struct policy_catalog_service *policy_catalog_find(const char *name);
/* Every service, NULL-terminated. */
const struct policy_catalog_service *const *policy_catalog_all(void);
