/* SPDX-License-Identifier: MIT */
#include "sandbox.h"

#include <stddef.h>

#include "agentproof.h"
#include "config.h"
#include "firewall.h"
#include "log.h"
#include "privcheck.h"

static struct firewall *sandbox_firewall;
static struct agentproof *sandbox_proof;

int sandbox_prepare(struct loop *l, const struct init_config *cfg, sandbox_ready_fn ready, void *userdata) {
        if (cfg->role == ROLE_AGENT) {
                /* The firewall is the other container's; ours is to prove it. */
                struct agentproof_config pc = {
                        .policy_path = cfg->policy_path,
                        .override_dir = cfg->policy_dir,
                        .wait_seconds = cfg->firewall_wait_seconds,
                };
                return agentproof_start(l, &pc, ready, userdata, &sandbox_proof);
        }
        /* The one-container sandbox and the firewall role of split mode run
         * the same firewall, with every child it starts. */
        struct firewall_config fc = {
                .policy_path = cfg->policy_path,
                .override_dir = cfg->policy_dir,
                .meta_snapshot_path = META_SNAPSHOT_PATH,
                .keep_refreshing = true,
                .with_resolver = true,
                .with_name_check = true,
                .report_denials = true,
                .denials_dir = cfg->denials_dir,
                .denial_summary_seconds = cfg->denial_summary_seconds,
        };
        privcheck_resolver_user(&fc.resolver_uid, &fc.resolver_gid);
        privcheck_proxy_user(&fc.proxy_uid, &fc.proxy_gid);
        return firewall_start(l, &fc, ready, userdata, &sandbox_firewall);
}

void sandbox_reload(void) {
        if (sandbox_proof)
                log_warning("SIGHUP: the policy is the firewall container's; send SIGHUP to that container to reload it");
        else if (sandbox_firewall)
                firewall_reload(sandbox_firewall);
        else
                log_warning("SIGHUP before the firewall was up: nothing to reload yet");
}

void sandbox_finish(void) {
        firewall_free(sandbox_firewall);
        sandbox_firewall = NULL;
        agentproof_free(sandbox_proof);
        sandbox_proof = NULL;
}
