/* SPDX-License-Identifier: MIT */
#include "firewall.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "denial_nflog.h"
#include "denials.h"
#include "dnsproxy_parent.h"
#include "guard.h"
#include "log.h"
#include "macro.h"
#include "meta.h"
#include "netmark.h"
#include "nft.h"
#include "policy.h"
#include "resolve.h"
#include "selfcheck.h"
#include "namegate_parent.h"
#include "timeouts.h"

#define DNS_TTL_CEILING 3600u

/* One name we resolve: an allowed domain, or a host only the self-check or
 * the meta fetch needs (allow == false: its addresses are not opened). */
struct fw_name {
        char *name;
        bool allow;
        struct ip_prefix *addrs;
        size_t n_addrs;
        uint64_t due_usec;      /* next re-resolution */
        bool in_flight;
        bool failed;            /* last attempt gave no usable address */
};

enum fw_phase { FW_IDLE, FW_BUILDING, FW_CHECKING, FW_READY };

/* A catalog service that adds ports: its ports reach only its own
 * destinations (nft.h, struct nft_service). What its address sets hold is
 * kept, so a refresh rewrites them only when they change. */
struct fw_service {
        const struct policy_catalog_service *catalog;
        uint16_t *ports;                /* the policy's ports of this service; none when unused */
        size_t n_ports;
        struct ip_prefix *programmed;   /* sorted */
        size_t n_programmed;
};

/* One policy and what was found for it. A reload builds a new generation
 * beside the one whose rules are in place, which keeps following DNS until
 * the new rules are committed; only then does the new one replace it. A
 * build that fails before that is dropped and changes nothing. */
struct fw_gen {
        unsigned id;                    /* answers carry it; one for no live generation is dropped */
        struct policy *policy;
        struct fw_name *names;
        size_t n_names;
        ssize_t meta_host;              /* index into names, or -1 */
        struct ip_prefix *meta_prefixes;
        size_t n_meta_prefixes;
        const char *meta_source;
        size_t pending;                 /* answers the current build still waits for */
        bool sets_dirty;                /* a refresh changed an address */
        struct fw_service *services;    /* catalog services that add ports, as last programmed */
        size_t n_services;
        enum fw_phase phase;
        uint64_t build_started_usec;
        char summary[320];              /* what the rules allow, for the "sandbox ready" line */
};

struct firewall {
        struct loop *loop;
        struct firewall_config cfg;
        struct resolver *resolver;
        struct guard *guard;
        struct meta_fetch *meta;        /* of the build in progress */
        struct dnsproxy_parent *dns;    /* the sandbox's resolver, or NULL (`apply`) */
        struct namegate_parent *gate;   /* the name gate, or NULL */
        struct selfcheck *check;        /* of the live generation */
        struct denials *denials;        /* the denial stream, or NULL (`apply`) */
        struct denial_nflog *nflog;     /* the kernel's reports of refused packets, or NULL */

        unsigned last_id;
        struct fw_gen *live;            /* its rules are in place; NULL until the first commit */
        struct fw_gen *building;        /* resolving, not yet committed */

        firewall_ready_fn ready;
        void *userdata;
        bool ready_reported;
};

struct fw_query {
        struct firewall *fw;
        unsigned generation;
        size_t index;
};

static void fw_build_step_done(struct firewall *fw, struct fw_gen *g);
static void fw_schedule_refresh(struct firewall *fw);
static void fw_services_free(struct fw_gen *g);

static void fw_names_free(struct fw_gen *g) {
        for (size_t i = 0; i < g->n_names; i++) {
                free(g->names[i].name);
                free(g->names[i].addrs);
        }
        free(g->names);
        g->names = NULL;
        g->n_names = 0;
}

static void fw_gen_free(struct fw_gen *g) {
        if (!g)
                return;
        fw_names_free(g);
        fw_services_free(g);
        free(g->meta_prefixes);
        policy_free(g->policy);
        free(g);
}

static void fw_gen_freep(struct fw_gen **g) {
        fw_gen_free(*g);
}

/* The generation whose answer this is, or NULL when it was dropped. */
static struct fw_gen *fw_gen_find(const struct firewall *fw, unsigned id) {
        if (fw->building && fw->building->id == id)
                return fw->building;
        if (fw->live && fw->live->id == id)
                return fw->live;
        return NULL;
}

static ssize_t fw_name_find(const struct fw_gen *g, const char *name) {
        for (size_t i = 0; i < g->n_names; i++)
                if (strcmp(g->names[i].name, name) == 0)
                        return (ssize_t) i;
        return -1;
}

static ssize_t fw_name_add(struct fw_gen *g, const char *name, bool allow) {
        ssize_t found = fw_name_find(g, name);
        if (found >= 0) {
                g->names[found].allow |= allow;
                return found;
        }
        struct fw_name *n = realloc(g->names, (g->n_names + 1) * sizeof(*n));
        if (!n)
                return log_oom();
        g->names = n;
        n[g->n_names] = (struct fw_name) {.name = strdup(name), .allow = allow};
        if (!n[g->n_names].name)
                return log_oom();
        return (ssize_t) g->n_names++;
}

/* "host" or "host:port" → host in buf, port (0 when absent). */
static int split_host_port(const char *text, char *host, size_t len, uint16_t *ret_port) {
        const char *colon = strrchr(text, ':');
        *ret_port = 0;
        if (colon && !strchr(colon + 1, ']') && strchr(text, ':') == colon) {
                if (!policy_port_parse(colon + 1, ret_port))
                        return -EINVAL;
                if ((size_t) (colon - text) >= len)
                        return -EINVAL;
                memcpy(host, text, (size_t) (colon - text));
                host[colon - text] = '\0';
                return 0;
        }
        if (strlen(text) >= len)
                return -EINVAL;
        strcpy(host, text);
        return 0;
}

/* The URL of the GitHub meta document this policy reads: its own, or GitHub's. */
static const char *fw_meta_url(const struct fw_gen *g) {
        return g->policy->github_meta_url ? g->policy->github_meta_url : POLICY_GITHUB_META_URL_DEFAULT;
}

/* The names this policy needs resolved, in policy order. */
static int fw_collect_names(struct fw_gen *g) {
        const struct policy *p = g->policy;
        char host[256];
        uint16_t port;

        for (size_t i = 0; i < p->n_domains; i++) {
                ssize_t r = fw_name_add(g, p->domains[i].name, true);
                if (r < 0)
                        return (int) r;
        }
        const char *checks[] = {p->selfcheck_allowed, p->selfcheck_blocked};
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                struct ip_prefix literal;
                if (!checks[i] || split_host_port(checks[i], host, sizeof(host), &port) < 0 ||
                    ip_prefix_parse(host, &literal) == 0)
                        continue;
                ssize_t r = fw_name_add(g, host, false);
                if (r < 0)
                        return (int) r;
        }
        g->meta_host = -1;
        if (p->needs_github_meta) {
                /* The policy parser accepted it with the same function. */
                struct policy_url url;
                const char *reason;
                if (policy_url_parse(fw_meta_url(g), &url, &reason) < 0) {
                        log_error("github.meta_url %s: %s; fix the policy", fw_meta_url(g), reason);
                        return -EINVAL;
                }
                g->meta_host = fw_name_add(g, url.host, false);
                if (g->meta_host < 0)
                        return (int) g->meta_host;
        }
        return 0;
}

/* Keep only the addresses the rebinding guard accepts; log each refusal. */
static size_t fw_filter_addresses(struct firewall *fw, const char *name,
                                  struct ip_prefix *addrs, size_t n) {
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
                const char *reason = NULL;
                char detail[128] = "", buf[IP_PREFIX_STRLEN];
                if (guard_allows(fw->guard, &addrs[i], &reason, detail, sizeof(detail))) {
                        addrs[kept++] = addrs[i];
                        continue;
                }
                log_warning("refused %s for %s: %s%s%s; list it under cidrs: if it is really wanted",
                            ip_prefix_format(&addrs[i], buf), name, reason,
                            detail[0] ? " " : "", detail);
        }
        return kept;
}

static void fw_meta_done(const struct meta_result *res, void *userdata) {
        struct firewall *fw = userdata;
        struct fw_gen *g = fw->building;        /* a dropped build cancelled its fetch */
        free(g->meta_prefixes);
        g->meta_prefixes = NULL;
        g->n_meta_prefixes = 0;
        if (res->error < 0) {
                log_error("GitHub meta ranges unavailable: the live fetch from %s failed (%s) and the snapshot %s could not be used; the github service cannot be allowed",
                          fw_meta_url(g), res->why_live_failed ? res->why_live_failed : "unknown",
                          fw->cfg.meta_snapshot_path);
                fw_build_step_done(fw, g);
                return;
        }
        g->meta_prefixes = malloc(res->n_prefixes * sizeof(*g->meta_prefixes) + 1);
        if (!g->meta_prefixes) {
                /* As if the fetch had failed: github is not allowed. */
                log_oom();
                fw_build_step_done(fw, g);
                return;
        }
        /* The rebinding guard holds for GitHub's live ranges as for DNS
         * answers: none may open the sandbox's own side. The image's
         * snapshot is trusted like the policy. */
        bool live = !res->why_live_failed;
        for (size_t i = 0; i < res->n_prefixes; i++) {
                const char *reason = NULL;
                char detail[128] = "", buf[IP_PREFIX_STRLEN];
                if (!live || guard_allows(fw->guard, &res->prefixes[i], &reason, detail, sizeof(detail)))
                        g->meta_prefixes[g->n_meta_prefixes++] = res->prefixes[i];
                else
                        log_warning("refused the GitHub meta range %s: it overlaps %s %s",
                                    ip_prefix_format(&res->prefixes[i], buf), reason, detail);
        }
        g->meta_source = res->source;
        if (res->why_live_failed)
                log_warning("GitHub meta: live fetch from %s failed (%s); using the snapshot %s (%zu ranges)",
                            fw_meta_url(g), res->why_live_failed, fw->cfg.meta_snapshot_path, g->n_meta_prefixes);
        else
                log_info("GitHub meta: %zu ranges from %s", g->n_meta_prefixes, fw_meta_url(g));
        fw_build_step_done(fw, g);
}

static void fw_start_meta(struct firewall *fw, struct fw_gen *g) {
        const struct fw_name *host = &g->names[g->meta_host];
        struct meta_config mc = {
                .url = fw_meta_url(g),
                .ca_file = g->policy->github_ca_file,
                .timeout_ms = fw->cfg.meta_timeout_ms,
                .snapshot_path = fw->cfg.meta_snapshot_path,
                .host_addrs = host->addrs,
                .n_host_addrs = host->n_addrs,
                .mark_sockets = true,
        };
        meta_fetch_free(fw->meta);
        fw->meta = NULL;
        int r = meta_fetch_start(fw->loop, &mc, fw_meta_done, fw, &fw->meta);
        if (r < 0) {
                log_error_errno(r, "Failed to start the GitHub meta fetch: %m");
                fw_build_step_done(fw, g);
        }
}

static bool addresses_equal(const struct ip_prefix *a, size_t na, const struct ip_prefix *b, size_t nb) {
        return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

static uint64_t fw_ttl_deadline(const struct fw_gen *g, uint32_t ttl) {
        unsigned floor = policy_dns_min_ttl(g->policy);
        uint64_t seconds = ttl < floor ? floor : ttl > DNS_TTL_CEILING ? DNS_TTL_CEILING : ttl;
        return loop_now_usec() + seconds * 1000000u;
}

static void fw_resolved(const struct resolve_result *res, void *userdata) {
        _cleanup_free_ struct fw_query *q = userdata;
        struct firewall *fw = q->fw;
        struct fw_gen *g = fw_gen_find(fw, q->generation);
        if (!g)
                return;
        struct fw_name *n = &g->names[q->index];
        n->in_flight = false;

        _cleanup_free_ struct ip_prefix *addrs = NULL;
        size_t n_addrs = 0;
        int r = 0;
        if (res->error == 0 && res->n_addrs > 0) {
                addrs = malloc(res->n_addrs * sizeof(*addrs));
                if (addrs) {
                        memcpy(addrs, res->addrs, res->n_addrs * sizeof(*addrs));
                        n_addrs = fw_filter_addresses(fw, n->name, addrs, res->n_addrs);
                        qsort(addrs, n_addrs, sizeof(*addrs), ip_prefix_compare);
                        for (size_t i = 0; n->allow && i < n_addrs; i++)
                                denials_name_seen(fw->denials, &addrs[i], n->name);
                } else {
                        r = log_oom();
                }
        }
        if (n_addrs == 0) {
                /* Keep what we had: a passing DNS failure must not cut a
                 * working host off, and the retry comes at the TTL floor. */
                if (r == 0 && (!n->failed || g->phase != FW_READY))
                        log_warning("%s did not resolve to a usable address (%s)%s", n->name,
                                    res->error ? res->error_text : "every address refused",
                                    n->n_addrs ? "; keeping its previous addresses" : "");
                n->failed = true;
                n->due_usec = fw_ttl_deadline(g, 0);
        } else {
                if (g->phase == FW_READY && n->allow &&
                    !addresses_equal(n->addrs, n->n_addrs, addrs, n_addrs))
                        g->sets_dirty = true;
                free(n->addrs);
                n->addrs = TAKE_PTR(addrs);
                n->n_addrs = n_addrs;
                n->failed = false;
                n->due_usec = fw_ttl_deadline(g, res->ttl);
        }

        if (g->phase == FW_BUILDING) {
                if ((ssize_t) q->index == g->meta_host)
                        fw_start_meta(fw, g);
                fw_build_step_done(fw, g);
        } else if (g->phase == FW_READY) {
                fw_schedule_refresh(fw);
        }
}

static int fw_query(struct firewall *fw, struct fw_gen *g, size_t index) {
        struct fw_query *q = malloc(sizeof(*q));
        if (!q)
                return log_oom();
        *q = (struct fw_query) {.fw = fw, .generation = g->id, .index = index};
        g->names[index].in_flight = true;
        int r = resolver_resolve(fw->resolver, g->names[index].name, fw_resolved, q);
        if (r < 0) {
                g->names[index].in_flight = false;
                free(q);
                return log_error_errno(r, "Failed to start resolving %s: %m", g->names[index].name);
        }
        return 0;
}

/* A catalog service's ranges (the internet preset's) without what the
 * rebinding guard refuses: the container's own networks and gateways are
 * cut out even where they are public addresses. The policy's own cidrs
 * stay as written. */
static int fw_service_cidrs(const struct guard *guard, const struct policy *p, struct ip_prefix **ret, size_t *ret_n) {
        struct ip_prefix *out = NULL;
        size_t n = 0;
        for (size_t i = 0; i < p->n_cidrs; i++) {
                if (!p->cidrs[i].service)
                        continue;
                _cleanup_free_ struct ip_prefix *pieces = NULL;
                size_t n_pieces = 0;
                if (guard_cut(guard, &p->cidrs[i].prefix, &pieces, &n_pieces) < 0) {
                        free(out);
                        return log_oom();
                }
                struct ip_prefix *grown = realloc(out, (n + n_pieces + 1) * sizeof(*out));
                if (!grown) {
                        free(out);
                        return log_oom();
                }
                out = grown;
                memcpy(out + n, pieces, n_pieces * sizeof(*out));
                n += n_pieces;
        }
        *ret = out;
        *ret_n = n;
        return 0;
}

/* policy cidrs + addresses of allowed names + GitHub meta ranges. The nft
 * layer merges overlaps, so duplicates here are harmless. */
static int fw_collect_allowed(const struct firewall *fw, const struct fw_gen *g, struct ip_prefix **ret,
                              size_t *ret_n) {
        _cleanup_free_ struct ip_prefix *service_cidrs = NULL;
        size_t n_service_cidrs = 0;
        int r = fw_service_cidrs(fw->guard, g->policy, &service_cidrs, &n_service_cidrs);
        if (r < 0)
                return r;
        size_t n = g->policy->n_cidrs + n_service_cidrs + g->n_meta_prefixes;
        for (size_t i = 0; i < g->n_names; i++)
                if (g->names[i].allow)
                        n += g->names[i].n_addrs;
        struct ip_prefix *all = malloc((n + 1) * sizeof(*all));
        if (!all)
                return log_oom();
        size_t k = 0;
        for (size_t i = 0; i < g->policy->n_cidrs; i++)
                if (!g->policy->cidrs[i].service)
                        all[k++] = g->policy->cidrs[i].prefix;
        for (size_t i = 0; i < n_service_cidrs; i++)
                all[k++] = service_cidrs[i];
        for (size_t i = 0; i < g->n_names; i++)
                if (g->names[i].allow)
                        for (size_t j = 0; j < g->names[i].n_addrs; j++)
                                all[k++] = g->names[i].addrs[j];
        for (size_t i = 0; i < g->n_meta_prefixes; i++)
                all[k++] = g->meta_prefixes[i];
        *ret = all;
        *ret_n = k;
        return 0;
}

static void fw_services_free(struct fw_gen *g) {
        for (size_t i = 0; i < g->n_services; i++) {
                free(g->services[i].ports);
                free(g->services[i].programmed);
        }
        free(g->services);
        g->services = NULL;
        g->n_services = 0;
}

/* One entry per catalog service that adds ports, whether or not the policy
 * uses it: the table then has the same sets for every policy, and a reload
 * that drops a service empties its sets instead of leaving them behind. */
static int fw_services_init(struct fw_gen *g) {
        const struct policy_catalog_service *const *all = policy_catalog_all();
        const struct policy *p = g->policy;

        fw_services_free(g);
        for (size_t i = 0; all[i]; i++) {
                if (all[i]->ports[0] == 0)
                        continue;
                struct fw_service *v = realloc(g->services, (g->n_services + 1) * sizeof(*v));
                if (!v)
                        return log_oom();
                g->services = v;
                struct fw_service *svc = &v[g->n_services++];
                *svc = (struct fw_service) {.catalog = all[i]};
                svc->ports = calloc(p->n_ports + 1, sizeof(*svc->ports));
                if (!svc->ports)
                        return log_oom();
                for (size_t j = 0; j < p->n_ports; j++)
                        if (p->ports[j].service && strcmp(p->ports[j].service, all[i]->name) == 0)
                                svc->ports[svc->n_ports++] = p->ports[j].port;
        }
        return 0;
}

/* A service's destinations: the addresses its own host names resolved to
 * and, for github, the meta ranges; sorted. Nothing when the policy gives
 * it no port (unused, or its ports are the policy's anyway). */
static int fw_collect_service(const struct fw_gen *g, const struct fw_service *svc,
                              struct ip_prefix **ret, size_t *ret_n) {
        const struct policy_catalog_service *c = svc->catalog;
        size_t n = 0, k = 0;
        if (svc->n_ports > 0) {
                for (const char *const *d = c->domains; *d; d++) {
                        ssize_t i = fw_name_find(g, strncmp(*d, "*.", 2) == 0 ? *d + 2 : *d);
                        if (i >= 0)
                                n += g->names[i].n_addrs;
                }
                if (c->github_meta)
                        n += g->n_meta_prefixes;
        }
        struct ip_prefix *all = malloc((n + 1) * sizeof(*all));
        if (!all)
                return log_oom();
        if (svc->n_ports > 0) {
                /* The catalog's names, not the policy's domain entries: a
                 * user listing github.com as well must not take it out of
                 * github's set. */
                for (const char *const *d = c->domains; *d; d++) {
                        ssize_t i = fw_name_find(g, strncmp(*d, "*.", 2) == 0 ? *d + 2 : *d);
                        for (size_t j = 0; i >= 0 && j < g->names[i].n_addrs; j++)
                                all[k++] = g->names[i].addrs[j];
                }
                for (size_t j = 0; c->github_meta && j < g->n_meta_prefixes; j++)
                        all[k++] = g->meta_prefixes[j];
        }
        if (k > 1)
                qsort(all, k, sizeof(*all), ip_prefix_compare);
        *ret = all;
        *ret_n = k;
        return 0;
}

/* Fills out[i] for every service (its destinations collected afresh into
 * *ret_addrs[i]); *ret_changed[i] says whether they differ from what is
 * programmed. */
static int fw_collect_services(const struct fw_gen *g, struct nft_service *out, struct ip_prefix **addrs,
                               bool *changed) {
        for (size_t i = 0; i < g->n_services; i++) {
                const struct fw_service *svc = &g->services[i];
                size_t n = 0;
                int r = fw_collect_service(g, svc, &addrs[i], &n);
                if (r < 0)
                        return r;
                out[i] = (struct nft_service) {
                        .name = svc->catalog->name, .allowed = addrs[i], .n_allowed = n,
                        .tcp_ports = svc->ports, .n_tcp_ports = svc->n_ports,
                };
                changed[i] = n != svc->n_programmed ||
                             (n > 0 && memcmp(addrs[i], svc->programmed, n * sizeof(*addrs[i])) != 0);
        }
        return 0;
}

static void fw_services_programmed(struct fw_gen *g, struct ip_prefix **addrs, const struct nft_service *out,
                                   const bool *changed) {
        for (size_t i = 0; i < g->n_services; i++)
                if (changed[i]) {
                        free(g->services[i].programmed);
                        g->services[i].programmed = TAKE_PTR(addrs[i]);
                        g->services[i].n_programmed = out[i].n_allowed;
                }
}

/* Arrays for fw_collect_services, freed together. */
struct fw_service_scratch {
        size_t n;
        struct nft_service *out;
        struct ip_prefix **addrs;
        bool *changed;
};

static void fw_service_scratch_free(struct fw_service_scratch *s) {
        for (size_t i = 0; s->addrs && i < s->n; i++)
                free(s->addrs[i]);
        free(s->addrs);
        free(s->out);
        free(s->changed);
}

static int fw_service_scratch_init(const struct fw_gen *g, struct fw_service_scratch *s) {
        s->n = g->n_services;
        s->out = calloc(s->n + 1, sizeof(*s->out));
        s->addrs = calloc(s->n + 1, sizeof(*s->addrs));
        s->changed = calloc(s->n + 1, sizeof(*s->changed));
        if (!s->out || !s->addrs || !s->changed)
                return log_oom();
        return fw_collect_services(g, s->out, s->addrs, s->changed);
}

static bool prefixes_contain(const struct ip_prefix *set, size_t n, const struct ip_prefix *addr) {
        for (size_t i = 0; i < n; i++)
                if (ip_prefix_contains(&set[i], addr))
                        return true;
        return false;
}

static bool resolvers_include_docker_dns(const struct ip_prefix *resolvers, size_t n) {
        struct ip_prefix docker_dns;
        ip_prefix_parse("127.0.0.11", &docker_dns);
        for (size_t i = 0; i < n; i++)
                if (ip_prefix_compare(&resolvers[i], &docker_dns) == 0)
                        return true;
        return false;
}

/* Every table the init writes sends DNS to the sandbox's resolver when
 * there is one: also the lockdown table, and the one that closes
 * everything, so that no state lets a query out past it. */
static void fw_resolver_rules(const struct firewall *fw, struct nft_policy *np) {
        /* And reports what they refuse, when PID 1 listens. */
        np->log_group = fw->nflog ? DENIAL_NFLOG_GROUP : 0;
        if (!fw->dns)
                return;
        np->resolver_port = DNSPROXY_PORT;
        np->resolver_uid = fw->cfg.resolver_uid;
}

/* What the policy allows by address, not by name: cidrs and GitHub's meta
 * ranges. An address both a name and a cidrs: entry allow is not
 * name-checked: the range says "anything there", the stronger statement. */
static int fw_collect_by_address(const struct fw_gen *g, struct ip_prefix **ret, size_t *ret_n) {
        size_t n = g->policy->n_cidrs + g->n_meta_prefixes, k = 0;
        struct ip_prefix *all = malloc((n + 1) * sizeof(*all));
        if (!all)
                return log_oom();
        for (size_t i = 0; i < g->policy->n_cidrs; i++)
                all[k++] = g->policy->cidrs[i].prefix;
        for (size_t i = 0; i < g->n_meta_prefixes; i++)
                all[k++] = g->meta_prefixes[i];
        *ret = all;
        *ret_n = k;
        return 0;
}

/* The name-checked ports that the policy allows to every destination: a
 * port only a catalog service adds reaches that service's own addresses
 * by its own rule, which the redirect does not look at. */
static int fw_name_checked_ports(const struct fw_gen *g, const uint16_t *global, size_t n_global, uint16_t **ret,
                                 size_t *ret_n) {
        uint16_t *out = calloc(n_global + 1, sizeof(*out));
        size_t n = 0;
        if (!out)
                return log_oom();
        for (size_t i = 0; i < n_global; i++)
                if (policy_name_check_port(g->policy, global[i]) != POLICY_NAME_CHECK_NONE)
                        out[n++] = global[i];
        *ret = out;
        *ret_n = n;
        return 0;
}

static int fw_program(struct firewall *fw, struct fw_gen *g, const struct ip_prefix *allowed, size_t n_allowed,
                      struct nft_stats *stats) {
        _cleanup_free_ struct ip_prefix *resolvers = NULL;
        size_t n_resolvers = 0;
        int r = resolver_servers(fw->resolver, &resolvers, &n_resolvers);
        if (r < 0)
                return log_error_errno(r, "Failed to read the configured DNS servers: %m");

        /* The ports for everything allowed; a service's own ports go with
         * its own destinations only. */
        _cleanup_free_ uint16_t *ports = calloc(g->policy->n_ports + 1, sizeof(*ports));
        if (!ports)
                return log_oom();
        size_t n_ports = 0;
        for (size_t i = 0; i < g->policy->n_ports; i++)
                if (!g->policy->ports[i].service)
                        ports[n_ports++] = g->policy->ports[i].port;

        r = fw_services_init(g);
        _cleanup_(fw_service_scratch_free) struct fw_service_scratch svc = {0};
        if (r == 0)
                r = fw_service_scratch_init(g, &svc);
        if (r < 0)
                return r;

        _cleanup_free_ struct ip_prefix *by_address = NULL;
        _cleanup_free_ uint16_t *checked = NULL;
        size_t n_by_address = 0, n_checked = 0;
        r = fw_collect_by_address(g, &by_address, &n_by_address);
        if (r == 0)
                r = fw_name_checked_ports(g, ports, n_ports, &checked, &n_checked);
        if (r < 0)
                return r;

        struct nft_policy np = {
                .allowed = allowed, .n_allowed = n_allowed,
                .tcp_ports = ports, .n_tcp_ports = n_ports,
                .by_address = by_address, .n_by_address = n_by_address,
                .name_checked_ports = checked, .n_name_checked_ports = n_checked,
                .resolvers = resolvers, .n_resolvers = n_resolvers,
                .root_dns_forwarding = resolvers_include_docker_dns(resolvers, n_resolvers),
                .services = svc.out, .n_services = svc.n,
                /* A reload: the answers of the old policy go with its rules. */
                .flush_learned = fw->live != NULL,
        };
        fw_resolver_rules(fw, &np);
        if (fw->gate && n_checked) {
                np.gate_queue = NAMEGATE_QUEUE;
        }
        r = nft_apply_policy(&np, stats);
        if (r < 0)
                return r;
        /* Every service's sets were written, changed or not. */
        for (size_t i = 0; i < svc.n; i++)
                svc.changed[i] = true;
        fw_services_programmed(g, svc.addrs, svc.out, svc.changed);
        return 0;
}

/* The first thing the init does: a table that refuses everything but its
 * own DNS queries (and, under Docker's embedded DNS, dockerd's forwarding
 * of them), so that nothing of the user's (a terminal attached with exec
 * while the names resolve) gets out before the real rules are in. They
 * replace it in one transaction. */
static int fw_lockdown(struct firewall *fw) {
        _cleanup_free_ struct ip_prefix *resolvers = NULL;
        size_t n_resolvers = 0;
        uint64_t started = loop_now_usec();
        int r = resolver_servers(fw->resolver, &resolvers, &n_resolvers);
        if (r < 0)
                return log_error_errno(r, "Failed to read the configured DNS servers: %m");
        struct nft_policy lockdown = {
                .root_dns_forwarding = resolvers_include_docker_dns(resolvers, n_resolvers),
        };
        fw_resolver_rules(fw, &lockdown);
        r = nft_apply_policy(&lockdown, NULL);
        if (r < 0)
                return r;
        log_step("lockdown", started, "table inet agent_sandbox allows nothing until the policy's rules are in");
        return 0;
}

/* ", port 22 only to github's N IPv4 and M IPv6 intervals" per service
 * that adds ports: the "sandbox ready" line says which ports are narrower. */
static void fw_summary_services(const struct fw_gen *g, char *buf, size_t len) {
        for (size_t i = 0; i < g->n_services; i++) {
                const struct fw_service *svc = &g->services[i];
                size_t used = strlen(buf), v4 = 0, v6 = 0;
                if (svc->n_ports == 0 || used >= len)
                        continue;
                for (size_t j = 0; j < svc->n_programmed; j++)
                        svc->programmed[j].family == AF_INET ? v4++ : v6++;
                used += (size_t) snprintf(buf + used, len - used, "; port%s", svc->n_ports == 1 ? "" : "s");
                for (size_t j = 0; j < svc->n_ports && used < len; j++)
                        used += (size_t) snprintf(buf + used, len - used, "%s %u", j ? "," : "", svc->ports[j]);
                if (used < len)
                        snprintf(buf + used, len - used, " only to %s's own %zu addresses and ranges",
                                 svc->catalog->name, v4 + v6);
        }
}

/* "; TLS server names checked on port 443, HTTP Host on port 80", or
 * "; names not checked": the mode in force, on the "sandbox ready" line. */
static void fw_summary_name_check(const struct firewall *fw, const struct fw_gen *g, char *buf, size_t len) {
        size_t used = strlen(buf);
        bool any = false;
        /* `apply` programs no proxy: its line has no mode to tell. */
        if (!fw->gate || used >= len)
                return;
        for (enum policy_name_check kind = POLICY_NAME_CHECK_TLS; kind <= POLICY_NAME_CHECK_HTTP; kind++) {
                const uint16_t *ports;
                size_t n = policy_name_check_ports(g->policy, kind, &ports), shown = 0;
                for (size_t i = 0; i < n && used < len; i++) {
                        bool global = false;
                        for (size_t j = 0; j < g->policy->n_ports; j++)
                                global |= !g->policy->ports[j].service && g->policy->ports[j].port == ports[i];
                        if (!global)
                                continue;
                        if (shown++ == 0)
                                used += (size_t) snprintf(buf + used, len - used, "%s%s on port",
                                                          any ? ", " : "; ",
                                                          kind == POLICY_NAME_CHECK_TLS ? "TLS server names checked" : "HTTP Host checked");
                        if (used < len)
                                used += (size_t) snprintf(buf + used, len - used, "%s %u", shown > 1 ? "," : "", ports[i]);
                }
                any |= shown > 0;
        }
        if (!any && used < len)
                snprintf(buf + used, len - used, "; names not checked, any name reaches an allowed address");
}

/* A port the policy allows everywhere: a service's own port would be
 * refused at any host that is not the service's. */
static uint16_t fw_default_port(const struct fw_gen *g) {
        const struct policy *p = g->policy;
        for (size_t i = 0; i < p->n_ports; i++)
                if (!p->ports[i].service && p->ports[i].port == 443)
                        return 443;
        for (size_t i = 0; i < p->n_ports; i++)
                if (!p->ports[i].service)
                        return p->ports[i].port;
        return 443;
}

/* Addresses from the documentation ranges: nothing real answers there, so a
 * probe to one proves refusal without touching anybody's host. */
static void fw_pick_unallowed(const struct ip_prefix *allowed, size_t n_allowed,
                              const struct ip_prefix *avoid, size_t n_avoid, struct ip_prefix *ret) {
        static const char *const candidates[] = {
                "203.0.113.1", "198.51.100.1", "192.0.2.1", "198.18.0.1", "203.0.113.254",
        };
        for (size_t i = 0; i < ELEMENTSOF(candidates); i++) {
                ip_prefix_parse(candidates[i], ret);
                if (!prefixes_contain(allowed, n_allowed, ret) && !prefixes_contain(avoid, n_avoid, ret))
                        return;
        }
}

/* Fill one self-check target from "host[:port]" in the policy, or leave it
 * for the caller's default. Returns -EINVAL when the policy names a target
 * that makes the check meaningless. */
static int fw_selfcheck_target(const struct fw_gen *g, const char *spec, const char *key,
                               struct selfcheck_target *t) {
        char host[256];
        uint16_t port;
        struct ip_prefix literal;

        if (!spec || split_host_port(spec, host, sizeof(host), &port) < 0)
                return 0;
        if (ip_prefix_parse(host, &literal) == 0 && literal.len == (literal.family == AF_INET ? 32 : 128)) {
                t->addr = literal;
        } else {
                ssize_t i = fw_name_find(g, host);
                if (i < 0 || g->names[i].n_addrs == 0) {
                        log_warning("selfcheck.%s: %s did not resolve; %s", key, host,
                                    strcmp(key, "blocked") == 0 ? "probing a documentation address instead"
                                                                : "the allowed check is skipped");
                        return 0;
                }
                t->addr = g->names[i].addrs[0];
        }
        t->label = spec;
        t->port = port ? port : fw_default_port(g);
        t->present = true;
        return 0;
}

static void fw_selfcheck_done(const struct selfcheck_report *report, void *userdata);

/* What the self-checks will probe, decided before the rules are committed:
 * a policy whose targets make the checks meaningless is refused while the
 * rules in place still stand. */
static int fw_selfcheck_plan(const struct firewall *fw, const struct fw_gen *g, const struct ip_prefix *allowed,
                             size_t n_allowed, struct selfcheck_config *sc) {
        *sc = (struct selfcheck_config) {
                .allowed_timeout_ms = TIMEOUT_SELFCHECK_ALLOWED_MS,
                .blocked_timeout_ms = TIMEOUT_SELFCHECK_BLOCKED_MS,
                .strict = policy_selfcheck_strict(g->policy),
        };
        fw_selfcheck_target(g, g->policy->selfcheck_allowed, "allowed", &sc->allowed);
        if (!sc->allowed.present)
                for (size_t i = 0; i < g->n_names; i++)
                        if (g->names[i].allow && g->names[i].n_addrs > 0) {
                                sc->allowed = (struct selfcheck_target) {
                                        .label = g->names[i].name, .addr = g->names[i].addrs[0],
                                        .port = fw_default_port(g), .present = true,
                                };
                                break;
                        }
        if (!sc->allowed.present && g->policy->n_domains > 0) {
                log_warning("none of the allowed names resolved, so no self-check proves that allowed traffic gets through; check the DNS server in /etc/resolv.conf");
                if (sc->strict) {
                        log_error("selfcheck.strict is set: refusing to start without a reachable allowed host");
                        return -ENETUNREACH;
                }
        }
        fw_selfcheck_target(g, g->policy->selfcheck_blocked, "blocked", &sc->blocked);
        if (sc->blocked.present && prefixes_contain(allowed, n_allowed, &sc->blocked.addr)) {
                char buf[IP_PREFIX_STRLEN];
                log_error("selfcheck.blocked %s resolves to %s, which this policy allows; name a host the policy does not allow",
                          sc->blocked.label, ip_prefix_format(&sc->blocked.addr, buf));
                return -EINVAL;
        }
        if (!sc->blocked.present) {
                fw_pick_unallowed(allowed, n_allowed, NULL, 0, &sc->blocked.addr);
                sc->blocked.label = "(documentation address)";
                sc->blocked.port = fw_default_port(g);
                sc->blocked.present = true;
        }
        _cleanup_free_ struct ip_prefix *resolvers = NULL;
        size_t n_resolvers = 0;
        int r = resolver_servers(fw->resolver, &resolvers, &n_resolvers);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the configured DNS servers (%m); DNS to another server is not checked");
                return 0;
        }
        fw_pick_unallowed(allowed, n_allowed, resolvers, n_resolvers, &sc->foreign_dns.addr);
        sc->foreign_dns.label = "(not a configured resolver)";
        sc->foreign_dns.port = 53;
        sc->foreign_dns.present = true;
        return 0;
}

static int fw_start_selfcheck(struct firewall *fw, const struct selfcheck_config *sc) {
        selfcheck_free(fw->check);
        fw->check = NULL;
        int r = selfcheck_start(fw->loop, sc, fw_selfcheck_done, fw, &fw->check);
        if (r < 0)
                return log_error_errno(r, "Failed to start the self-checks: %m");
        return 0;
}

static void fw_report(struct firewall *fw, int error) {
        if (fw->ready_reported)
                return;
        fw->ready_reported = true;
        fw->ready(error, fw->userdata);
}

/* A reload whose self-check finds a leak: shut every door rather than
 * keep rules that do not do what they claim. */
static void fw_close_everything(struct firewall *fw) {
        struct nft_stats stats;
        struct nft_policy deny = {0};
        fw_resolver_rules(fw, &deny);
        if (nft_apply_policy(&deny, &stats) == 0)
                log_error("every outbound connection is now blocked until a policy passes its self-checks; fix the policy and send SIGHUP");
}

static void fw_selfcheck_done(const struct selfcheck_report *report, void *userdata) {
        struct firewall *fw = userdata;
        struct fw_gen *g = fw->live;    /* the checks are of the rules in place */
        double ms = (double) (loop_now_usec() - g->build_started_usec) / 1000.0;

        if (report->outcome == SELFCHECK_FAILED) {
                log_error("self-check failed: %s. The sandbox does not hold; nothing of yours was started", report->summary);
                g->phase = FW_IDLE;
                if (fw->ready_reported)
                        fw_close_everything(fw);
                fw_report(fw, -ENETUNREACH);
                return;
        }
        if (report->outcome == SELFCHECK_WARNING)
                log_warning("self-check: the allowed endpoint did not answer (%s). The firewall holds; the network or the service may be down, or its name may not resolve here. Set selfcheck: {strict: true} to make this fatal", report->summary);
        else
                log_info("self-check passed: %s", report->summary);
        /* The one line a user sees at --log-level notice (agentbox run,
         * and agentbox reload of such a sandbox): say what is allowed. */
        log_notice("sandbox ready in %.1f ms: %s", ms, g->summary);
        g->phase = FW_READY;
        fw_report(fw, 0);
        if (fw->cfg.keep_refreshing)
                fw_schedule_refresh(fw);
}

/* The build failed before its rules were committed, so nothing changed:
 * it is dropped, and the generation in place keeps its rules and goes on
 * following DNS. The failure itself was reported where it happened. */
static void fw_build_failed(struct firewall *fw, int error) {
        fw_gen_free(TAKE_PTR(fw->building));
        if (fw->live)
                log_error("reload rejected: the new rules could not be built; the rules in place stay as they were and keep following DNS");
        fw_report(fw, error);
}

/* The new rules are committed: from here on they are the ones to follow. */
static void fw_build_committed(struct firewall *fw) {
        loop_cancel_timer(fw->loop, &fw->live);
        /* The resolver answers for the new policy from now on; the old
         * generation's policy is freed below. */
        if (fw->dns && dnsproxy_parent_use(fw->dns, fw->building->policy, fw->guard) < 0)
                log_error("the DNS resolver could not be started for the new policy; DNS fails until it is");
        if (fw->gate && namegate_parent_use(fw->gate, fw->building->policy) < 0)
                log_error("the name gate could not be started for the new policy; name-checked connections are refused until it is");
        fw_gen_free(fw->live);
        fw->live = TAKE_PTR(fw->building);
}

/* Every answer of the build is in: program the rules, then check them.
 * Until the commit anything may fail and nothing changes; the commit is
 * the point of no return. */
static void fw_build_finish(struct firewall *fw, struct fw_gen *g) {
        _cleanup_free_ struct ip_prefix *allowed = NULL;
        size_t n_allowed = 0, resolved = 0, names = 0;
        struct nft_stats stats = {0};
        struct selfcheck_config sc;
        uint64_t started = loop_now_usec();

        for (size_t i = 0; i < g->n_names; i++)
                if (g->names[i].allow) {
                        names++;
                        resolved += g->names[i].n_addrs > 0;
                }
        int r = fw_collect_allowed(fw, g, &allowed, &n_allowed);
        if (r >= 0)
                r = fw_selfcheck_plan(fw, g, allowed, n_allowed, &sc);
        if (r >= 0)
                r = fw_program(fw, g, allowed, n_allowed, &stats);
        if (r < 0) {
                fw_build_failed(fw, r);
                return;
        }
        fw_build_committed(fw);
        snprintf(g->summary, sizeof(g->summary),
                 "%zu of %zu names resolved, %zu IPv4 and %zu IPv6 intervals, %zu TCP ports", resolved, names,
                 stats.v4_intervals, stats.v6_intervals, policy_global_ports(g->policy));
        fw_summary_services(g, g->summary, sizeof(g->summary));
        fw_summary_name_check(fw, g, g->summary, sizeof(g->summary));
        log_step("nftables", started, "table inet agent_sandbox: %s, %zu netlink messages", g->summary,
                 stats.messages);
        g->phase = FW_CHECKING;
        r = fw_start_selfcheck(fw, &sc);
        if (r < 0) {
                g->phase = FW_IDLE;
                if (fw->ready_reported)
                        fw_close_everything(fw);
                fw_report(fw, r);
        }
}

static void fw_build_step_done(struct firewall *fw, struct fw_gen *g) {
        if (g->pending > 0)
                g->pending--;
        if (g->pending == 0 && g->phase == FW_BUILDING) {
                log_step("resolve", g->build_started_usec, "%zu name%s%s", g->n_names, g->n_names == 1 ? "" : "s",
                         g->policy->needs_github_meta ? " and the GitHub meta ranges" : "");
                fw_build_finish(fw, g);
        }
}

/* Resolve everything of policy (which this takes) from scratch, beside the
 * generation in place; a build still resolving an older policy is dropped. */
static int fw_build(struct firewall *fw, struct policy *policy) {
        _cleanup_(fw_gen_freep) struct fw_gen *g = calloc(1, sizeof(*g));
        if (!g) {
                policy_free(policy);
                return log_oom();
        }
        *g = (struct fw_gen) {.id = ++fw->last_id, .policy = policy, .meta_host = -1};
        int r = fw_collect_names(g);
        if (r < 0)
                return r;

        meta_fetch_free(fw->meta);
        fw->meta = NULL;
        fw_gen_free(fw->building);
        fw->building = TAKE_PTR(g);
        struct fw_gen *b = fw->building;
        b->phase = FW_BUILDING;
        b->build_started_usec = loop_now_usec();
        /* One extra step keeps the count above zero until every query is
         * issued, so an answer that comes back at once cannot finish early. */
        b->pending = b->n_names + (b->meta_host >= 0) + 1;
        for (size_t i = 0; i < b->n_names; i++) {
                r = fw_query(fw, b, i);
                if (r < 0) {
                        /* Answers to the queries already sent are dropped. */
                        fw_gen_free(TAKE_PTR(fw->building));
                        return r;
                }
        }
        fw_build_step_done(fw, b);
        return 0;
}

static void fw_refresh_apply(struct firewall *fw) {
        struct fw_gen *g = fw->live;
        _cleanup_free_ struct ip_prefix *allowed = NULL;
        size_t n_allowed = 0;
        struct nft_stats stats = {0};
        uint64_t started = loop_now_usec();

        /* Each failure below was reported where it happened; sets_dirty
         * stays set, so the next answer tries again. */
        if (fw_collect_allowed(fw, g, &allowed, &n_allowed) < 0)
                return;
        _cleanup_(fw_service_scratch_free) struct fw_service_scratch svc = {0};
        if (fw_service_scratch_init(g, &svc) < 0)
                return;
        /* Only the services whose destinations changed: the others' sets
         * are left alone, and a refresh of a name no service has costs the
         * same few messages as before. */
        _cleanup_free_ struct nft_service *changed = calloc(svc.n + 1, sizeof(*changed));
        if (!changed) {
                log_oom();
                return;
        }
        size_t n_changed = 0;
        for (size_t i = 0; i < svc.n; i++)
                if (svc.changed[i])
                        changed[n_changed++] = svc.out[i];
        struct nft_sets_update u = {
                .update_allowed = true, .allowed = allowed, .n_allowed = n_allowed,
                .services = changed, .n_services = n_changed,
        };
        /* On failure the sets keep their previous contents: the kernel
         * rolls the whole batch back. */
        if (nft_update_sets(&u, &stats) < 0)
                return;
        g->sets_dirty = false;
        fw_services_programmed(g, svc.addrs, svc.out, svc.changed);
        log_step("refresh", started, "allowed sets updated: %zu IPv4 and %zu IPv6 intervals, %zu service sets, %zu netlink messages",
                 stats.v4_intervals, stats.v6_intervals, 2 * n_changed, stats.messages);
}

static int fw_refresh_due(struct loop *l, void *userdata) {
        struct firewall *fw = userdata;
        struct fw_gen *g = fw->live;
        /* Names due within the next second go together: one update for all.
         * A query that cannot start was reported; its name stays due. */
        uint64_t horizon = loop_now_usec() + 1000000u;
        for (size_t i = 0; i < g->n_names; i++)
                if (!g->names[i].in_flight && g->names[i].due_usec <= horizon)
                        (void) fw_query(fw, g, i);
        fw_schedule_refresh(fw);
        return 0;
}

/* Arm the one refresh timer for the earliest TTL of the rules in place;
 * push the set update once no refresh answer is outstanding. */
static void fw_schedule_refresh(struct firewall *fw) {
        struct fw_gen *g = fw->live;
        uint64_t earliest = UINT64_MAX;
        bool in_flight = false;

        if (!g || g->phase != FW_READY || !fw->cfg.keep_refreshing)
                return;
        for (size_t i = 0; i < g->n_names; i++) {
                in_flight |= g->names[i].in_flight;
                if (!g->names[i].in_flight && g->names[i].due_usec < earliest)
                        earliest = g->names[i].due_usec;
        }
        if (!in_flight && g->sets_dirty)
                fw_refresh_apply(fw);
        if (earliest == UINT64_MAX)
                loop_cancel_timer(fw->loop, &fw->live);
        else {
                int r = loop_set_timer(fw->loop, &fw->live, earliest, fw_refresh_due, fw);
                if (r < 0)
                        log_error_errno(r, "Failed to arm the DNS refresh timer (%m): the allowed addresses no longer follow DNS; send SIGHUP to rebuild");
        }
}

static bool fw_gen_allows(const struct fw_gen *g, const struct ip_prefix *addr) {
        for (size_t i = 0; i < g->policy->n_cidrs; i++)
                if (ip_prefix_contains(&g->policy->cidrs[i].prefix, addr))
                        return true;
        for (size_t i = 0; i < g->n_names; i++)
                if (g->names[i].allow && prefixes_contain(g->names[i].addrs, g->names[i].n_addrs, addr))
                        return true;
        for (size_t i = 0; i < g->n_services; i++)
                if (prefixes_contain(g->services[i].programmed, g->services[i].n_programmed, addr))
                        return true;
        return prefixes_contain(g->meta_prefixes, g->n_meta_prefixes, addr);
}

/* Why the rules in place refused dst: an address they allow was refused
 * for its port or protocol; a name they allow no longer has that address
 * (its answer expired, or changed); else it is not in the policy. */
static enum denial_reason fw_judge_denial(const struct ip_prefix *dst, const char *name, void *userdata) {
        const struct firewall *fw = userdata;
        const struct fw_gen *g = fw->live;
        const struct policy_domain *match;
        if (!g)
                return DENIAL_NOT_IN_POLICY;
        if (fw_gen_allows(g, dst) || dnsproxy_parent_allows(fw->dns, dst))
                return DENIAL_PORT;
        if (name && policy_name_allowed(g->policy, name, &match))
                return DENIAL_EXPIRED;
        return DENIAL_NOT_IN_POLICY;
}

/* For the resolver's parent: an address the rules in place allow without
 * a learned entry. */
static bool fw_static_allows(const struct ip_prefix *addr, void *userdata) {
        const struct firewall *fw = userdata;
        return fw->live && fw_gen_allows(fw->live, addr);
}

/* Before the lockdown table, so that it reports too. Without the kernel's
 * reports (no nfnetlink_log, or its group taken) the firewall is the same
 * and refused connections are only counted; refused queries are still
 * named. */
static int fw_denials_start(struct firewall *fw) {
        struct denials_config dc = {
                .dir = fw->cfg.denials_dir,
                .summary_seconds = fw->cfg.denial_summary_seconds,
                .ignore_mark = NETMARK_PROBE_SOCKET,    /* the blocked self-check's probe */
        };
        int r = denials_new(fw->loop, &dc, &fw->denials);
        if (r < 0)
                return r;
        denials_set_judge(fw->denials, fw_judge_denial, fw);
        if (denial_nflog_open(fw->loop, DENIAL_NFLOG_GROUP, denials_packet, fw->denials, &fw->nflog) < 0)
                log_warning("refused connections are not named in this sandbox, only refused DNS queries");
        return 0;
}

static int fw_load_policy(const struct firewall_config *cfg, struct policy **ret) {
        struct policy_diags diags = {0};
        struct policy *p = NULL;

        int r = policy_load_layered(cfg->policy_path, cfg->override_dir, &p, &diags);
        if (r >= 0)
                r = policy_expand(p, &diags);
        if (diags.n > 0)
                policy_diags_print(&diags, stderr);
        policy_diags_clear(&diags);
        if (r < 0) {
                policy_free(p);
                log_error("the policy %s is invalid (errors above); fix it and check it with `agent-sandbox-init check-policy %s`",
                          cfg->policy_path, cfg->policy_path);
                return r;
        }
        *ret = p;
        return 0;
}

void firewall_reload(struct firewall *fw) {
        struct policy *p = NULL;

        /* Notice: agentbox reload finds the result from this line on. */
        log_notice("reloading the policy from %s", fw->cfg.policy_path);
        if (fw_load_policy(&fw->cfg, &p) < 0) {
                log_error("reload rejected: the rules in place stay as they were");
                return;
        }
        if (fw_build(fw, p) < 0)
                log_error("reload could not start; the rules in place stay as they were and keep following DNS");
}

int firewall_start(struct loop *l, const struct firewall_config *cfg,
                   firewall_ready_fn ready, void *userdata, struct firewall **ret) {
        _cleanup_policy_ struct policy *policy = NULL;
        struct firewall *fw = calloc(1, sizeof(*fw));
        if (!fw)
                return log_oom();
        fw->loop = l;
        fw->cfg = *cfg;
        fw->ready = ready;
        fw->userdata = userdata;

        struct resolver_config rc = {
                .resolv_conf = cfg->resolv_conf,
                .timeout_ms = cfg->dns_timeout_ms,
                .tries = cfg->dns_tries,
                .mark_sockets = true,
        };
        int r = resolver_new(l, &rc, &fw->resolver);
        if (r < 0) {
                log_error_errno(r, "Failed to set up DNS resolution from %s: %m",
                                cfg->resolv_conf ? cfg->resolv_conf : "/etc/resolv.conf");
                goto fail;
        }

        uint64_t started = loop_now_usec();
        r = fw_load_policy(cfg, &policy);
        if (r < 0)
                goto fail;
        log_step("policy", started, "%s: %zu domains, %zu ranges, %zu ports%s", cfg->policy_path,
                 policy->n_domains, policy->n_cidrs, policy->n_ports,
                 policy->needs_github_meta ? ", GitHub meta ranges" : "");

        struct ip_prefix *exceptions = calloc(policy->n_cidrs + 1, sizeof(*exceptions));
        if (!exceptions) {
                r = log_oom();
                goto fail;
        }
        /* The policy's own cidrs: open what the guard would refuse, on
         * purpose. A catalog service's (the internet preset's) do not. */
        size_t n_exceptions = 0;
        for (size_t i = 0; i < policy->n_cidrs; i++)
                if (!policy->cidrs[i].service)
                        exceptions[n_exceptions++] = policy->cidrs[i].prefix;
        r = guard_new(exceptions, n_exceptions, &fw->guard);
        free(exceptions);
        if (r < 0) {
                log_error_errno(r, "Failed to read the container's own networks for the rebinding guard: %m");
                goto fail;
        }
        if (cfg->report_denials) {
                r = fw_denials_start(fw);
                if (r < 0)
                        goto fail;
        }
        /* The resolver's port is taken before the lockdown table sends DNS
         * to it; the resolver itself starts once the first rules are in. */
        if (cfg->with_resolver) {
                struct dnsproxy_parent_config dc = {
                        .resolv_conf = cfg->resolv_conf, .port = DNSPROXY_PORT,
                        .uid = cfg->resolver_uid, .gid = cfg->resolver_gid,
                        .denials = fw->denials,
                };
                r = dnsproxy_parent_new(l, &dc, &fw->dns);
                if (r < 0)
                        goto fail;
                dnsproxy_parent_set_static(fw->dns, fw_static_allows, fw);
        }
        if (cfg->with_name_check) {
                struct namegate_parent_config pc = {
                        .queue = NAMEGATE_QUEUE, .uid = cfg->proxy_uid, .gid = cfg->proxy_gid,
                        .denials = fw->denials,
                };
                r = namegate_parent_new(l, &pc, &fw->gate);
                if (r < 0)
                        goto fail;
        }
        /* Only local files were read so far (a bad policy leaves the rules
         * in place as they were); the network comes next. */
        r = fw_lockdown(fw);
        if (r < 0)
                goto fail;
        r = fw_build(fw, TAKE_PTR(policy));
        if (r < 0)
                goto fail;
        *ret = fw;
        return 0;
fail:
        firewall_free(fw);
        return r;
}

void firewall_free(struct firewall *fw) {
        if (!fw)
                return;
        loop_cancel_timer(fw->loop, &fw->live);
        dnsproxy_parent_free(fw->dns);
        namegate_parent_free(fw->gate);
        denial_nflog_free(fw->nflog);
        denials_free(fw->denials);
        selfcheck_free(fw->check);
        meta_fetch_free(fw->meta);
        /* Queries still in flight answer into no generation. */
        struct fw_gen *live = TAKE_PTR(fw->live), *building = TAKE_PTR(fw->building);
        resolver_free(fw->resolver);
        guard_free(fw->guard);
        fw_gen_free(live);
        fw_gen_free(building);
        free(fw);
}
