/* SPDX-License-Identifier: MIT */
#include "agentproof.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "policy.h"
#include "readiness.h"
#include "resolve.h"
#include "selfcheck.h"
#include "timeouts.h"

/* How often the firewall's readiness is asked while we wait for it. */
#define GATE_POLL_USEC 250000u
/* The redirected DNS probe: the sandbox's resolver answers a refused name
 * itself, at once; this is only a ceiling. */
#define DNS_PROBE_TIMEOUT_USEC 3000000u
/* A name no policy can allow (RFC 6761: .invalid never resolves). */
#define DNS_PROBE_NAME_LABEL1 "agent-sandbox-proof"
#define DNS_PROBE_NAME_LABEL2 "invalid"

#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_REFUSED 5

enum target_kind { TARGET_ALLOWED, TARGET_BLOCKED, TARGET_COUNT };

struct agentproof {
        struct loop *loop;
        struct agentproof_config cfg;
        agentproof_done_fn done;
        void *userdata;
        uint64_t started_usec;
        uint64_t deadline_usec;
        bool waiting_logged;

        struct policy *policy;
        struct resolver *resolver;
        size_t pending;                         /* names still resolving */
        char hosts[TARGET_COUNT][256];          /* names to resolve ("" for none or a literal) */
        struct selfcheck_config sc;
        struct selfcheck *check;
        bool check_done, check_failed;
        char check_summary[512];

        int dns_fd;
        uint16_t dns_id;
        bool dns_done, dns_failed;
        char dns_summary[160];
        bool finished;
};

static void proof_finish(struct agentproof *p, int error) {
        if (p->finished)
                return;
        p->finished = true;
        p->done(error, p->userdata);
}

static void proof_maybe_done(struct agentproof *p) {
        if (!p->check_done || !p->dns_done || p->finished)
                return;
        if (p->check_failed || p->dns_failed) {
                log_error("the firewall could not be proven from the agent's container: %s; %s. Nothing of yours was started",
                          p->dns_summary, p->check_summary);
                proof_finish(p, -ENETUNREACH);
                return;
        }
        log_notice("sandbox ready: firewall proven from the agent's container in %.1f ms: %s; %s",
                   (double) (loop_now_usec() - p->started_usec) / 1000.0, p->dns_summary, p->check_summary);
        proof_finish(p, 0);
}

/* ---- the redirected DNS probe ---- */

static void dns_probe_end(struct agentproof *p, bool failed, const char *what, const char *detail) {
        if (p->dns_fd >= 0) {
                loop_remove_io(p->loop, p->dns_fd);
                close(p->dns_fd);
                p->dns_fd = -1;
        }
        loop_cancel_timer(p->loop, &p->dns_fd);
        p->dns_done = true;
        p->dns_failed = failed;
        snprintf(p->dns_summary, sizeof(p->dns_summary), "%s%s%s%s", what, detail ? " (" : "",
                 detail ? detail : "", detail ? ")" : "");
        proof_maybe_done(p);
}

static int dns_probe_io(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct agentproof *p = userdata;
        uint8_t buf[512];
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        dns_probe_end(p, true, "DNS to 127.0.0.1 port 53 was not redirected to the sandbox's resolver",
                                      strerror(errno));
                        return 0;
                }
                /* Only our query's answer counts: id, QR, and a refusal. */
                if (n < 12 || ((buf[0] << 8) | buf[1]) != p->dns_id || !(buf[2] & 0x80))
                        continue;
                int rcode = buf[3] & 0x0f;
                if (rcode == DNS_RCODE_NXDOMAIN || rcode == DNS_RCODE_REFUSED)
                        dns_probe_end(p, false, "DNS redirected to the sandbox's resolver, which refused "
                                      DNS_PROBE_NAME_LABEL1 "." DNS_PROBE_NAME_LABEL2, NULL);
                else
                        dns_probe_end(p, true, "a DNS server answered " DNS_PROBE_NAME_LABEL1 "." DNS_PROBE_NAME_LABEL2
                                      " without refusing it: it is not the sandbox's resolver", NULL);
                return 0;
        }
}

static int dns_probe_timeout(struct loop *l, void *userdata) {
        dns_probe_end(userdata, true, "DNS to 127.0.0.1 port 53 got no answer: nothing redirects it to the sandbox's resolver", NULL);
        return 0;
}

static size_t dns_probe_query(struct agentproof *p, uint8_t *buf, size_t size) {
        static const char *const labels[] = {DNS_PROBE_NAME_LABEL1, DNS_PROBE_NAME_LABEL2};
        size_t n = 0;
        if (getrandom(&p->dns_id, sizeof(p->dns_id), 0) != sizeof(p->dns_id))
                p->dns_id = (uint16_t) loop_now_usec();
        const uint8_t header[12] = {p->dns_id >> 8, p->dns_id & 0xff, 0x01, 0x00, 0x00, 0x01};
        memcpy(buf, header, sizeof(header));
        n = sizeof(header);
        for (size_t i = 0; i < ELEMENTSOF(labels); i++) {
                size_t len = strlen(labels[i]);
                buf[n++] = (uint8_t) len;
                memcpy(buf + n, labels[i], len);
                n += len;
        }
        const uint8_t tail[5] = {0, 0x00, 0x01, 0x00, 0x01};    /* root, type A, class IN */
        memcpy(buf + n, tail, sizeof(tail));
        n += sizeof(tail);
        return n <= size ? n : 0;     /* the fixed name always fits */
}

static void dns_probe_start(struct agentproof *p) {
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        uint8_t query[64];
        size_t len = dns_probe_query(p, query, sizeof(query));

        p->dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->dns_fd < 0 || connect(p->dns_fd, (struct sockaddr *) &to, sizeof(to)) < 0 ||
            send(p->dns_fd, query, len, 0) < 0) {
                dns_probe_end(p, true, "DNS to 127.0.0.1 port 53 could not be sent", strerror(errno));
                return;
        }
        if (loop_add_io(p->loop, p->dns_fd, EPOLLIN, dns_probe_io, p) < 0 ||
            loop_set_timer(p->loop, &p->dns_fd, loop_now_usec() + DNS_PROBE_TIMEOUT_USEC, dns_probe_timeout, p) < 0)
                dns_probe_end(p, true, "the DNS probe could not be watched", NULL);
}

/* ---- the reachability probes, as the firewall's own self-checks ---- */

static void check_done(const struct selfcheck_report *report, void *userdata) {
        struct agentproof *p = userdata;
        p->check_done = true;
        p->check_failed = report->outcome == SELFCHECK_FAILED;
        snprintf(p->check_summary, sizeof(p->check_summary), "%s", report->summary);
        if (report->outcome == SELFCHECK_WARNING)
                log_warning("the allowed self-check host did not answer from the agent's container (%s); the firewall holds. Set selfcheck: {strict: true} to make this fatal",
                            report->summary);
        proof_maybe_done(p);
}

static bool in_cidrs(const struct policy *pol, const struct ip_prefix *addr) {
        for (size_t i = 0; i < pol->n_cidrs; i++)
                if (ip_prefix_contains(&pol->cidrs[i].prefix, addr))
                        return true;
        return false;
}

/* A port the policy allows to every allowed destination (as the firewall's
 * self-check picks it). */
static uint16_t default_port(const struct policy *pol) {
        for (size_t i = 0; i < pol->n_ports; i++)
                if (!pol->ports[i].service && pol->ports[i].port == 443)
                        return 443;
        for (size_t i = 0; i < pol->n_ports; i++)
                if (!pol->ports[i].service)
                        return pol->ports[i].port;
        return 443;
}

static void probes_start(struct agentproof *p) {
        struct selfcheck_target *blocked = &p->sc.blocked;
        if (!blocked->present) {
                /* Documentation addresses: nothing real answers there. */
                static const char *const candidates[] = {"203.0.113.1", "198.51.100.1", "192.0.2.1", "198.18.0.1"};
                for (size_t i = 0; i < ELEMENTSOF(candidates) && !blocked->present; i++) {
                        ip_prefix_parse(candidates[i], &blocked->addr);
                        blocked->present = !in_cidrs(p->policy, &blocked->addr) &&
                                           !(p->sc.allowed.present && ip_prefix_compare(&p->sc.allowed.addr, &blocked->addr) == 0);
                }
                blocked->label = "(documentation address)";
                blocked->port = default_port(p->policy);
        }
        if (!p->sc.allowed.present && p->policy->n_domains > 0) {
                log_warning("no allowed name resolved from the agent's container, so no probe proves that allowed traffic gets through");
                if (p->sc.strict) {
                        snprintf(p->check_summary, sizeof(p->check_summary), "selfcheck.strict is set and no allowed host resolved");
                        p->check_done = p->check_failed = true;
                }
        }
        dns_probe_start(p);
        if (!p->check_done) {
                int r = selfcheck_start(p->loop, &p->sc, check_done, p, &p->check);
                if (r < 0) {
                        snprintf(p->check_summary, sizeof(p->check_summary), "the probes could not start (%s)", strerror(-r));
                        p->check_done = p->check_failed = true;
                }
        }
        proof_maybe_done(p);
}

struct name_query {
        struct agentproof *proof;
        enum target_kind kind;
};

static void name_resolved(const struct resolve_result *res, void *userdata) {
        _cleanup_free_ struct name_query *q = userdata;
        struct agentproof *p = q->proof;
        struct selfcheck_target *t = q->kind == TARGET_ALLOWED ? &p->sc.allowed : &p->sc.blocked;
        if (p->finished)
                return;         /* cancelled: the proof is being freed */
        if (res->error == 0 && res->n_addrs > 0) {
                t->addr = res->addrs[0];
                t->present = true;
        } else if (q->kind == TARGET_ALLOWED) {
                log_warning("the allowed self-check host %s did not resolve from the agent's container (%s)",
                            res->name, res->error_text ? res->error_text : "no address");
        }
        /* A blocked name the sandbox's resolver refuses: a documentation
         * address is probed instead (probes_start). */
        if (--p->pending == 0)
                probes_start(p);
}

/* "host[:port]" → t (a literal address) or p->hosts[kind] (a name to resolve). */
static void target_plan(struct agentproof *p, enum target_kind kind, const char *spec, struct selfcheck_target *t) {
        char host[256];
        uint16_t port = 0;
        const char *colon = strrchr(spec, ':');
        size_t len = strlen(spec);
        if (colon && strchr(spec, ':') == colon && policy_port_parse(colon + 1, &port))
                len = (size_t) (colon - spec);
        if (len >= sizeof(host))
                return;
        memcpy(host, spec, len);
        host[len] = '\0';
        t->label = spec;
        t->port = port ? port : default_port(p->policy);
        struct ip_prefix literal;
        if (ip_prefix_parse(host, &literal) == 0 && literal.len == (literal.family == AF_INET ? 32 : 128)) {
                t->addr = literal;
                t->present = true;
        } else {
                snprintf(p->hosts[kind], sizeof(p->hosts[kind]), "%s", host);
        }
}

static int proof_load_policy(struct agentproof *p) {
        struct policy_diags diags = {0};
        int r = policy_load_layered(p->cfg.policy_path, p->cfg.override_dir, &p->policy, &diags);
        if (r >= 0)
                r = policy_expand(p->policy, &diags);
        if (diags.n > 0)
                policy_diags_print(&diags, stderr);
        policy_diags_clear(&diags);
        if (r < 0)
                log_error("the policy %s is invalid (errors above): the agent cannot tell what to probe", p->cfg.policy_path);
        return r;
}

/* The firewall says it is ready: find the targets, then probe. */
static void proof_begin(struct agentproof *p) {
        int r = proof_load_policy(p);
        if (r < 0) {
                proof_finish(p, r);
                return;
        }
        p->sc = (struct selfcheck_config) {
                .allowed_timeout_ms = TIMEOUT_SELFCHECK_ALLOWED_MS,
                .blocked_timeout_ms = TIMEOUT_SELFCHECK_BLOCKED_MS,
                .strict = policy_selfcheck_strict(p->policy),
                .unmarked = true,
        };
        const char *allowed = p->policy->selfcheck_allowed;
        for (size_t i = 0; !allowed && i < p->policy->n_domains; i++)
                if (!p->policy->domains[i].wildcard)
                        allowed = p->policy->domains[i].name;
        if (allowed)
                target_plan(p, TARGET_ALLOWED, allowed, &p->sc.allowed);
        if (p->policy->selfcheck_blocked)
                target_plan(p, TARGET_BLOCKED, p->policy->selfcheck_blocked, &p->sc.blocked);

        /* Names resolve the way the user's do: through the sandbox's resolver. */
        struct resolver_config rc = {0};
        r = resolver_new(p->loop, &rc, &p->resolver);
        if (r < 0) {
                log_error_errno(r, "Failed to start resolving the self-check hosts: %m");
                proof_finish(p, r);
                return;
        }
        p->pending = 1;         /* held until every query is started */
        for (int k = 0; k < TARGET_COUNT; k++) {
                if (!p->hosts[k][0])
                        continue;
                struct name_query *q = malloc(sizeof(*q));
                if (!q) {
                        proof_finish(p, log_oom());
                        return;
                }
                *q = (struct name_query) {.proof = p, .kind = (enum target_kind) k};
                p->pending++;
                r = resolver_resolve(p->resolver, p->hosts[k], name_resolved, q);
                if (r < 0) {
                        free(q);
                        p->pending--;
                        log_warning_errno(r, "Failed to resolve %s: %m", p->hosts[k]);
                }
        }
        if (--p->pending == 0)
                probes_start(p);
}

static int gate_poll(struct loop *l, void *userdata) {
        struct agentproof *p = userdata;
        const char *why = NULL;
        int r = readiness_firewall_check(&why);
        if (r > 0) {
                log_step("firewall", p->started_usec, "the firewall's container reports its rules in place; proving them from here");
                proof_begin(p);
                return 0;
        }
        if (r < 0)
                why = strerror(-r);
        if (loop_now_usec() >= p->deadline_usec) {
                log_error("no firewall in this network namespace within %u s (%s): start the agent's container beside a firewall container (split mode, docs/architecture.md). Nothing of yours was started",
                          p->cfg.wait_seconds, why);
                proof_finish(p, -ETIMEDOUT);
                return 0;
        }
        if (!p->waiting_logged) {
                log_info("waiting for the firewall container (%s)", why);
                p->waiting_logged = true;
        }
        return loop_set_timer(l, p, loop_now_usec() + GATE_POLL_USEC, gate_poll, p);
}

int agentproof_start(struct loop *l, const struct agentproof_config *cfg, agentproof_done_fn done,
                     void *userdata, struct agentproof **ret) {
        struct agentproof *p = calloc(1, sizeof(*p));
        if (!p)
                return log_oom();
        *p = (struct agentproof) {
                .loop = l, .cfg = *cfg, .done = done, .userdata = userdata, .dns_fd = -1,
                .started_usec = loop_now_usec(),
        };
        p->deadline_usec = p->started_usec + (uint64_t) cfg->wait_seconds * 1000000u;
        int r = loop_set_timer(l, p, 0, gate_poll, p);
        if (r < 0) {
                free(p);
                return log_error_errno(r, "Failed to start waiting for the firewall: %m");
        }
        *ret = p;
        return 0;
}

void agentproof_free(struct agentproof *p) {
        if (!p)
                return;
        p->finished = true;
        loop_cancel_timer(p->loop, p);
        loop_cancel_timer(p->loop, &p->dns_fd);
        if (p->dns_fd >= 0) {
                loop_remove_io(p->loop, p->dns_fd);
                close(p->dns_fd);
        }
        selfcheck_free(p->check);
        resolver_free(p->resolver);
        policy_free(p->policy);
        free(p);
}
