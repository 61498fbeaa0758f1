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

static int cmd_logs(struct agentbox *ab, int argc, char **argv) {
        static const struct option longopts[] = {
                { "follow", no_argument, NULL, 'f' },
                { "dir", required_argument, NULL, 'C' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *dir = NULL;
        bool follow = false;
        for (int c; (c = verb_getopt(&verb_logs, argc, argv, "fh", longopts)) != -1;)
                switch (c) {
                case 'f': follow = true; break;
                case 'C': dir = optarg; break;
                case 'h': return verb_help(&verb_logs);
                default: return AGENTBOX_EXIT_USAGE;
                }
        if (optind < argc)
                return verb_usage_error(&verb_logs, "unexpected '%s'", argv[optind]);
        struct project p;
        const struct engine *e;
        int code = verb_open(ab, dir, &p, &e);
        if (code)
                return code;
        enum sandbox_state st;
        code = sandbox_state(e, p.name, &st);
        if (code == 0 && st == SANDBOX_ABSENT) {
                log_error("no sandbox for %s; start one with agentbox run", p.path);
                code = AGENTBOX_EXIT_FAILURE;
        }
        _cleanup_strv_ struct strv args = {};
        if (code == 0 && logs_argv(p.name, follow, &args) < 0)
                code = verb_oom();
        /* Inherit stdout and stderr: the log streams as it comes. */
        if (code == 0)
                code = sandbox_run_attached(e, strv_items(&args), NULL) == 0 ? 0 : AGENTBOX_EXIT_ENGINE;
        project_done(&p);
        return code;
}

const struct verb verb_logs = {
        .name = "logs",
        .summary = "show the sandbox's log (firewall setup, reloads, errors)",
        .usage =
                "Usage: agentbox logs [-f] [--dir D]\n\n"
                "Show the log of the project's sandbox: what the init did (policy, firewall,\n"
                "self-checks, reloads).\n\n"
                "Options:\n"
                "  -f, --follow   keep printing new lines\n"
                "  --dir D        the project folder (default: the current one)\n"
                "  -h, --help     this help\n",
        .run = cmd_logs,
};
