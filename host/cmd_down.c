/* SPDX-License-Identifier: MIT */
/* agentbox down: remove the project's sandbox. */
#include <stdio.h>

#include "cmds.h"
#include "macro.h"
#include "verbutil.h"

int down_argv(const char *name, struct strv *ret) {
        *ret = (struct strv) {};
        strv_push_many(ret, "rm", "-f", name, NULL);
        return strv_status(ret);
}

static int cmd_down(struct verb_call *c) {
        const struct engine *e = c->engine;
        const struct project *p = &c->project;
        enum sandbox_state st;
        int code = sandbox_state(e, p->name, &st);
        _cleanup_strv_ struct strv args = {};
        if (code == 0 && st == SANDBOX_ABSENT)
                printf("no sandbox for %s; nothing to remove\n", p->path);
        else if (code == 0 && down_argv(p->name, &args) < 0)
                code = verb_oom();
        else if (code == 0) {
                _cleanup_free_ char *out = NULL;
                code = verb_engine_capture(e, strv_items(&args), "removing the sandbox", &out);
                if (split_present(e, p->name))
                        split_remove(e, p->name);       /* split mode's firewall and network holder */
                if (code == 0)
                        printf("removed %s sandbox %s for %s; its state volumes stay (agentbox prune --volumes removes them)\n",
                               st == SANDBOX_RUNNING ? "the running" : "the stopped", p->name, p->path);
        }
        return code;
}

const struct verb verb_down = {
        .name = "down",
        .summary = "remove the project's sandbox (state volumes stay)",
        .usage =
                "Usage: agentbox down [--dir D]\n\n"
                "Stop and remove the project's sandbox container. The agent's state volume\n"
                "stays; agentbox prune --volumes removes it.\n",
        .needs = VERB_NEEDS_PROJECT | VERB_NEEDS_ENGINE,
        .run = cmd_down,
};
