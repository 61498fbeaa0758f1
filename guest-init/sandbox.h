/* SPDX-License-Identifier: MIT */
/* What must be true before anything of the user's runs: today, the egress
 * firewall programmed and self-checked. The supervisor waits for `ready`. */
#pragma once

#include "loop.h"
#include "options.h"

typedef void (*sandbox_ready_fn)(int error, void *userdata);

int sandbox_prepare(struct loop *l, const struct init_config *cfg, sandbox_ready_fn ready, void *userdata);

/* SIGHUP: re-read the policy; a bad one keeps the rules in place. */
void sandbox_reload(void);

void sandbox_finish(void);
