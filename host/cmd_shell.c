/* agentbox shell (alias exec): another terminal in the running sandbox. */
#include <stdio.h>
#include <unistd.h>

#include "cmds.h"
#include "verbutil.h"

int shell_parse(int argc, char **argv, struct shell_opts *o) {
        static const struct option longopts[] = {
                { "dir", required_argument, NULL, 'C' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        *o = (struct shell_opts) {};
        optind = 0;     /* GNU: re-initialise getopt, a parse may have run before */
        argc = verb_split_command(argc, argv, &o->cmd);
        for (int c; (c = verb_getopt(&verb_shell, argc, argv, "+h", longopts)) != -1;)
                switch (c) {
                case 'C': o->dir = optarg; break;
                case 'h': return verb_help(&verb_shell);
                default: return AGENTBOX_EXIT_USAGE;
                }
        if (optind < argc) {
                if (o->cmd)
                        return verb_usage_error(&verb_shell, "unexpected '%s' before --", argv[optind]);
                o->cmd = argv + optind; /* `agentbox shell ls -l` works too */
                argv[argc] = NULL;
        }
        if (o->cmd && !o->cmd[0])
                return verb_usage_error(&verb_shell, "nothing after --");
        return VERB_CONTINUE;
}

static int cmd_shell(struct agentbox *ab, int argc, char **argv) {
        struct shell_opts o;
        int code = shell_parse(argc, argv, &o);
        if (code != VERB_CONTINUE)
                return code;
        struct project p;
        const struct engine *e;
        code = verb_open(ab, o.dir, &p, &e);
        if (code)
                return code;
        char *const bash[] = { "bash", NULL };
        _cleanup_strv_ struct strv args = {};
        if (sandbox_exec_argv(p.name, isatty(STDIN_FILENO), NULL, o.cmd ? o.cmd : bash, &args) < 0)
                code = verb_oom();
        else
                code = sandbox_exec_attached(e, p.name, p.path, strv_items(&args), NULL);
        project_done(&p);
        return code;
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
        .run = cmd_shell,
};
