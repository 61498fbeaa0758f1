/* SPDX-License-Identifier: MIT */
/* agentbox agents: the agents of images/agents.catalog (compiled in), each
 * with its pin, its policy service, the variables that carry its keys and
 * the state of its image here. */
#include <stdio.h>
#include <stdlib.h>

#include "agentbox.h"
#include "agentimage.h"
#include "macro.h"
#include "sandbox.h"

static void print_keys(const struct agent *a) {
        if (!a->keys || !a->keys[0]) {
                printf("-");
                return;
        }
        for (const char *const *k = a->keys; *k; k++)
                printf("%s%s", k == a->keys ? "" : ",", *k);
}

static int cmd_agents(struct verb_call *c) {
        printf("%-9s %-9s %-50s %-10s %-28s %s\n", "AGENT", "COMMAND", "PACKAGE@PIN", "SERVICE", "IMAGE", "KEYS");
        for (const struct agent *a = agent_table; a->name; a++) {
                enum agent_image_state state;
                _cleanup_free_ char *built = NULL, *pin = NULL;
                int code = agent_image_state(c->engine, a, &state, &built);
                if (code != 0)
                        return code;
                if (a->package && asprintf(&pin, "%s@%s", a->package, a->version) < 0)
                        return verb_oom();
                printf("%-9s %-9s %-50s %-10s ", a->name, a->command, pin ? pin : "-",
                       a->service ? a->service : "github");
                if (state == AGENT_IMAGE_OUTDATED)
                        printf("outdated (built from %-8s) ", built ? built : "?");
                else
                        printf("%-28s ", agent_image_state_name(state));
                print_keys(a);
                printf("\n");
        }
        return AGENTBOX_EXIT_OK;
}

const struct verb verb_agents = {
        .name = "agents",
        .summary = "list the agents, their pins and policy services, and whether their images are built",
        .usage =
                "Usage: agentbox agents\n\n"
                "List every agent agentbox runs (images/agents.catalog): its command, npm package\n"
                "and pinned release, the policy service its image allows besides github, the\n"
                "state of its image on this engine and the variables that carry its keys\n"
                "(passed by agentbox run AGENT when set). IMAGE is built (from the pin), missing\n"
                "(build it with images/build.sh AGENT) or outdated (built from another release:\n"
                "rebuild it).\n\n"
                "Exit code: 0, or 125 when the engine cannot be asked.\n",
        .needs = VERB_NEEDS_ENGINE,
        .run = cmd_agents,
};
