/* SPDX-License-Identifier: MIT */
/* The dispatcher: one option loop for every verb (with --dir and --help),
 * then what the verb declares it needs, set up once here instead of in a
 * prologue copied into each verb. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentbox.h"
#include "macro.h"
#include "sandbox.h"

#define VERB_MAX_LONGOPTS 24

/* The verb's options plus -h, --help and, with a project, --dir. The '+'
 * that ends options at the first positional must stay first. */
static int common_options(const struct verb *v, char shortopts[static 32],
                          struct option longopts[static VERB_MAX_LONGOPTS]) {
        const char *own = v->shortopts ? v->shortopts : "";
        bool stop = own[0] == '+';
        if (strlen(own) + 3 > 32)
                return -E2BIG;
        snprintf(shortopts, 32, "%sh%s", stop ? "+" : "", own + stop);
        size_t n = 0;
        for (const struct option *o = v->longopts; o && o->name; o++) {
                if (n + 3 >= VERB_MAX_LONGOPTS)
                        return -E2BIG;
                longopts[n++] = *o;
        }
        if (v->needs & (VERB_NEEDS_PROJECT | VERB_NEEDS_SANDBOX | VERB_NEEDS_RUNNING))
                longopts[n++] = (struct option) { "dir", required_argument, NULL, VERB_OPT_DIR };
        longopts[n++] = (struct option) { "help", no_argument, NULL, 'h' };
        longopts[n] = (struct option) {};
        return 0;
}

int verb_parse(const struct verb *v, int argc, char **argv, struct verb_call *c) {
        char shortopts[32];
        struct option longopts[VERB_MAX_LONGOPTS];
        *c = (struct verb_call) { .verb = v, .ab = c->ab, .opts = c->opts };
        if (c->opts)
                memset(c->opts, 0, v->opts_size);
        /* A verb table that outgrows the buffers is a bug of this build. */
        if (common_options(v, shortopts, longopts) < 0)
                abort();
        optind = 0;     /* GNU: re-initialise getopt, a parse may have run before */
        if (v->needs & VERB_TAKES_COMMAND)
                argc = verb_split_command(argc, argv, &c->cmd);
        for (int opt; (opt = verb_getopt(v, argc, argv, shortopts, longopts)) != -1;) {
                if (opt == 'h')
                        return verb_help(v);
                if (opt == VERB_OPT_DIR) {
                        c->dir = optarg;
                        continue;
                }
                int code = opt != '?' && v->option ? v->option(c, opt, optarg) : AGENTBOX_EXIT_USAGE;
                if (code != VERB_CONTINUE)
                        return code;
        }
        argv[argc] = NULL;      /* "--" when a command follows: the positionals end here */
        c->args = argv + optind;
        if (c->cmd && !c->cmd[0])
                return verb_usage_error(v, "nothing after --");
        if (v->check)
                return v->check(c);
        if (c->args[0])
                return verb_usage_error(v, "unexpected '%s'", c->args[0]);
        return VERB_CONTINUE;
}

/* What the verb needs, in order; each failure prints its own line. */
static int verb_setup(struct verb_call *c) {
        unsigned needs = c->verb->needs;
        if (needs & (VERB_NEEDS_SANDBOX | VERB_NEEDS_RUNNING))
                needs |= VERB_NEEDS_PROJECT | VERB_NEEDS_ENGINE;
        if (needs & VERB_NEEDS_PROJECT) {
                if (project_open(c->dir, &c->project) < 0)
                        return AGENTBOX_EXIT_FAILURE;
                c->have_project = true;
        }
        int code = 0;
        if (needs & VERB_NEEDS_ENGINE)
                code = agentbox_engine(c->ab, &c->engine);
        if (code == 0 && (needs & (VERB_NEEDS_SANDBOX | VERB_NEEDS_RUNNING)))
                code = sandbox_require(c->engine, c->project.name, c->project.path,
                                       (needs & VERB_NEEDS_RUNNING) != 0);
        return code ? code : VERB_CONTINUE;
}

int verb_dispatch(struct agentbox *ab, const struct verb *v, int argc, char **argv) {
        _cleanup_free_ void *opts = v->opts_size ? calloc(1, v->opts_size) : NULL;
        if (v->opts_size && !opts)
                return verb_oom();
        struct verb_call c = { .ab = ab, .opts = opts };
        int code = verb_parse(v, argc, argv, &c);
        if (code == VERB_CONTINUE)
                code = verb_setup(&c);
        if (code == VERB_CONTINUE)
                code = v->run(&c);
        if (v->done && opts)
                v->done(opts);
        if (c.have_project)
                project_done(&c.project);
        return code;
}
