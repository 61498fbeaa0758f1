/* SPDX-License-Identifier: MIT */
/* agentbox shell (alias exec): another terminal in the running sandbox. */
#include <stdio.h>
#include <unistd.h>

#include "cmds.h"
#include "verbutil.h"

/* Options end at the first word, which starts the command: `agentbox
 * shell ls -l` works as `agentbox shell -- ls -l` does. */
static int shell_check(struct verb_call *c) {
        if (!c->args[0])
                return VERB_CONTINUE;
        if (c->cmd)
                return verb_usage_error(&verb_shell, "unexpected '%s' before --", c->args[0]);
        c->cmd = c->args;
        return VERB_CONTINUE;
}

/* No VERB_NEEDS_RUNNING: asking the engine first would cost a call on
 * every attach; sandbox_exec_attached() asks only when the exec failed. */
static int cmd_shell(struct verb_call *c) {
        char *const bash[] = { "bash", NULL };
        _cleanup_strv_ struct strv args = {};
        if (sandbox_exec_argv(c->project.name, isatty(STDIN_FILENO), NULL, c->cmd ? c->cmd : bash, &args) < 0)
                return verb_oom();
        return sandbox_exec_attached(c->engine, c->project.name, c->project.path, strv_items(&args), NULL);
}

const struct verb verb_shell = {
        .name = "shell",
        .alias = "exec",
        .summary = "open bash (or run CMD) as dev in the running sandbox (alias: exec)",
        .usage =
                "Usage: agentbox shell [--dir D] [-- CMD ARGS...]\n"
                "       agentbox exec [--dir D] [-- CMD ARGS...]\n\n"
                "Run bash (or CMD) as dev in /workspace of the project's running sandbox.\n"
                "Any number of shells may be open at once. No host environment passes.\n\n"
                "Options:\n"
                "  --dir D      the project folder (default: the current one)\n"
                "  -h, --help   this help\n\n"
                "Exit code: the command's; 1 when no sandbox runs (start one with agentbox run).\n",
        .needs = VERB_NEEDS_PROJECT | VERB_NEEDS_ENGINE | VERB_TAKES_COMMAND,
        .shortopts = "+",
        .check = shell_check,
        .run = cmd_shell,
};
