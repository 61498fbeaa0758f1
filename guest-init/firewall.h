/* SPDX-License-Identifier: MIT */
/* The egress firewall of the sandbox, as one state machine on the event
 * loop: load the policy, resolve every allowed name concurrently (and fetch
 * GitHub's meta ranges), program table inet agent_sandbox in one atomic
 * batch, run the self-checks, and report ready. Afterwards it re-resolves
 * each name when its TTL expires and reloads the policy on request; a bad
 * reload keeps the rules that are in place, and their refresh. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "loop.h"

struct firewall_config {
        const char *policy_path;        /* base policy */
        const char *override_dir;       /* *.yaml layered on top; may be missing */
        const char *resolv_conf;        /* NULL: /etc/resolv.conf */
        const char *meta_snapshot_path; /* used when the live meta fetch fails */
        unsigned dns_timeout_ms;        /* per try; 0: TIMEOUT_DNS_TRY_MS (timeouts.h) */
        unsigned dns_tries;             /* 0: DNS_TRIES */
        unsigned meta_timeout_ms;       /* 0: TIMEOUT_META_FETCH_MS */
        bool keep_refreshing;           /* false for `apply`: program once, then done */
        /* The sandbox's DNS resolver (dnsproxy_parent.h), as this user:
         * every DNS query of the sandbox goes to it, and only names the
         * policy allows are answered. */
        bool with_resolver;
        uid_t resolver_uid;
        gid_t resolver_gid;
        /* The name gate (namegate_parent.h), as this user: connections to
         * the name-checked ports of destinations allowed by a name go
         * through it, unless the policy turns name_check off. */
        bool with_name_check;
        uid_t proxy_uid;
        gid_t proxy_gid;
        /* Name every refused connection and query in the log and the
         * denial record (denials.h); only for a PID 1 that stays. */
        bool report_denials;
        const char *denials_dir;        /* NULL: DENIAL_DIR_DEFAULT */
        unsigned denial_summary_seconds;        /* 0: a minute */
};

/* error == 0: rules in place and self-checks passed (or only warned). */
typedef void (*firewall_ready_fn)(int error, void *userdata);

struct firewall;

int firewall_start(struct loop *l, const struct firewall_config *cfg,
                   firewall_ready_fn ready, void *userdata, struct firewall **ret);

/* Re-read the policy files and build the new rules beside the ones in
 * place, which keep following DNS meanwhile; they are replaced in one
 * transaction once the new ones are built. An invalid policy, or one whose
 * rules cannot be built, is reported and the rules in place stay. */
void firewall_reload(struct firewall *fw);

void firewall_free(struct firewall *fw);
