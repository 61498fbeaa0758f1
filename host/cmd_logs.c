/* SPDX-License-Identifier: MIT */
/* agentbox logs: the sandbox's log (the init's lines: firewall, reloads). */
#include <stdio.h>

#include "cmds.h"
#include "log.h"
#include "macro.h"
#include "verbutil.h"

int logs_argv(const char *name, bool follow, struct strv *ret) {
        *ret = (struct strv) {};
        strv_push(ret, "logs");
        if (follow)
                strv_push(ret, "-f");
        strv_push(ret, name);
        return strv_status(ret);
}

struct logs_opts {
        bool follow;
};

static int logs_option(struct verb_call *c, int opt, char *arg) {
        struct logs_opts *o = c->opts;
        o->follow = true;       /* -f, its only option */
        return VERB_CONTINUE;
}

static int cmd_logs(struct verb_call *c) {
        const struct logs_opts *o = c->opts;
        _cleanup_strv_ struct strv args = {};
        /* In split mode the firewall's container logs the setup, the
         * self-checks and the denials; the agent's only that it proved the
         * firewall (docker logs NAME). */
        char firewall[sizeof(((struct split_names *) 0)->firewall)];
        firewall_container(c->engine, c->project.name, firewall);
        if (logs_argv(firewall, o->follow, &args) < 0)
                return verb_oom();
        /* Inherit stdout and stderr: the log streams as it comes. */
        return sandbox_run_attached(c->engine, strv_items(&args), NULL) == 0 ? 0 : AGENTBOX_EXIT_ENGINE;
}

const struct verb verb_logs = {
        .name = "logs",
        .summary = "show the sandbox's log (firewall setup, reloads, errors)",
        .usage =
                "Usage: agentbox logs [-f] [--dir D]\n\n"
                "Show the log of the project's sandbox: what the init did (policy, firewall,\n"
                "self-checks, reloads, denials). In split mode, the firewall container's.\n\n"
                "Options:\n"
                "  -f, --follow   keep printing new lines\n"
                "  --dir D        the project folder (default: the current one)\n"
                "  -h, --help     this help\n",
        .needs = VERB_NEEDS_SANDBOX,
        .shortopts = "f",
        .longopts = (const struct option[]) { { "follow", no_argument, NULL, 'f' }, {} },
        .opts_size = sizeof(struct logs_opts),
        .option = logs_option,
        .run = cmd_logs,
};
