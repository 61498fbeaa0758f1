/* SPDX-License-Identifier: MIT */
/* An engine client attached to our terminal (run -i, exec -i), its stderr
 * relayed through a stderr_relay so that the engine's own failure lines can
 * be replaced by one of ours. */
#pragma once

#include <stdbool.h>

#include "engine.h"
#include "stderr_relay.h"

enum attach_hangup {
        ATTACH_FORWARD,         /* SIGTERM and SIGHUP go to the client as they are */
        ATTACH_END,             /* both become SIGTERM to the client: end it */
};

/* Run the engine with args and envp until it exits; ^C and ^\ are left to
 * the terminal and the client. Returns the client's exit code (128+N when a
 * signal ended it) or -errno when it could not start. *relay (initialised
 * here) holds the engine lines it withheld; the caller releases them or
 * reports them. *ret_signal: SIGTERM or SIGHUP when one reached us, else 0. */
int attach_run(const struct engine *e, char *const *args, char *const *envp, enum attach_hangup hangup,
               struct stderr_relay *relay, int *ret_signal);
