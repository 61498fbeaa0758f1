/* SPDX-License-Identifier: MIT */
/* agentbox version */
#include <stdio.h>

#include "agentbox.h"
#include "config.h"

static int cmd_version(struct verb_call *c) {
        printf("agentbox %s\n", AGENT_SANDBOX_VERSION);
        return AGENTBOX_EXIT_OK;
}

const struct verb verb_version = {
        .name = "version",
        .summary = "print the version",
        .usage = "Usage: agentbox version\n\nPrint agentbox's version.\n",
        .run = cmd_version,
};
