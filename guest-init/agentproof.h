/* SPDX-License-Identifier: MIT */
/* The agent role of split mode: before anything of the user's runs, prove
 * from this container, with no privilege, that the firewall of the shared
 * network namespace is in place. Nothing the firewall's container says is
 * taken as proof; its readiness only tells us when to look:
 *
 *  1. wait (up to the configured time) until a root process answers on the
 *     firewall's readiness name (readiness.h);
 *  2. then, once and decisively, with sockets like the user's:
 *     - DNS sent to 127.0.0.1 port 53, where nothing listens, must be
 *       answered by the sandbox's resolver with a refusal for a name no
 *       policy allows: only the table's redirect makes that answer;
 *     - a destination the policy does not allow must be refused at once;
 *     - the allowed self-check host must accept a connection (a warning
 *       unless selfcheck.strict, as in the one-container sandbox).
 * Any failure of step 2 is fatal: the caller starts nothing. */
#pragma once

#include "loop.h"

struct agentproof_config {
        const char *policy_path;
        const char *override_dir;
        unsigned wait_seconds;          /* for step 1 */
};

/* error == 0: proven; else nothing may start. */
typedef void (*agentproof_done_fn)(int error, void *userdata);

struct agentproof;

int agentproof_start(struct loop *l, const struct agentproof_config *cfg, agentproof_done_fn done,
                     void *userdata, struct agentproof **ret);
void agentproof_free(struct agentproof *p);
