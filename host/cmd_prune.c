/* SPDX-License-Identifier: MIT */
/* agentbox prune: remove stopped agentbox containers (all projects), and
 * with --volumes the agents' state volumes no container uses. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "macro.h"
#include "verbutil.h"

int prune_list_argv(struct strv *ret) {
        *ret = (struct strv) {};
        strv_push_many(ret, "ps", "-a", "--filter", "label=" SANDBOX_LABEL, "--filter", "status=exited",
                       "--filter", "status=created", "--format", "{{.Names}}", NULL);
        return strv_status(ret);
}

/* Lines of text into v. */
static void split_lines(char *text, struct strv *v) {
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (*l)
                        strv_push(v, l);
}

static int prune_containers(const struct engine *e) {
        _cleanup_strv_ struct strv list = {}, names = {}, rm = {};
        _cleanup_free_ char *out = NULL;
        if (prune_list_argv(&list) < 0)
                return verb_oom();
        int code = verb_engine_capture(e, strv_items(&list), "listing stopped sandboxes", &out);
        if (code)
                return code;
        split_lines(out, &names);
        if (names.n == 0) {
                printf("no stopped sandboxes\n");
                return 0;
        }
        strv_push(&rm, "rm");
        strv_push_all(&rm, strv_items(&names));
        _cleanup_free_ char *rm_out = NULL;
        code = verb_engine_capture(e, strv_items(&rm), "removing stopped sandboxes", &rm_out);
        for (size_t i = 0; code == 0 && i < names.n; i++)
                printf("removed container %s\n", names.v[i]);
        return code;
}

static int prune_volumes(const struct engine *e) {
        char *const list[] = { "volume", "ls", "-q", "--filter", "name=agentbox-state-", NULL };
        _cleanup_free_ char *out = NULL;
        _cleanup_strv_ struct strv names = {};
        int code = verb_engine_capture(e, list, "listing state volumes", &out);
        if (code)
                return code;
        split_lines(out, &names);
        size_t removed = 0;
        for (size_t i = 0; i < names.n; i++) {
                if (strncmp(names.v[i], "agentbox-state-", 15) != 0)
                        continue;
                char *const rm[] = { "volume", "rm", names.v[i], NULL };
                struct engine_result r = {};
                int k = engine_run(e, rm, NULL, ENGINE_QUIET_OUT | ENGINE_CAPTURE_ERR, &r);
                if (k < 0)
                        return engine_report_spawn_error(e, k);
                if (r.exit_code == 0) {
                        printf("removed volume %s\n", names.v[i]);
                        removed++;
                } else
                        printf("kept volume %s (a sandbox still uses it)\n", names.v[i]);
                engine_result_done(&r);
        }
        if (removed == 0)
                printf("no unused state volumes\n");
        return 0;
}

struct prune_opts {
        bool volumes;
};

static int prune_option(struct verb_call *c, int opt, char *arg) {
        struct prune_opts *o = c->opts;
        o->volumes = true;      /* --volumes, its only option */
        return VERB_CONTINUE;
}

static int cmd_prune(struct verb_call *c) {
        const struct prune_opts *o = c->opts;
        int code = prune_containers(c->engine);
        if (code == 0 && o->volumes)
                code = prune_volumes(c->engine);
        return code;
}

const struct verb verb_prune = {
        .name = "prune",
        .summary = "remove stopped sandboxes of every project (--volumes: unused state too)",
        .usage =
                "Usage: agentbox prune [--volumes]\n\n"
                "Remove every stopped agentbox container (found by its agentbox.project label).\n"
                "With --volumes, also remove the agents' state volumes (agentbox-state-*) that\n"
                "no container uses: logins and histories kept there are lost.\n",
        .needs = VERB_NEEDS_ENGINE,
        .longopts = (const struct option[]) { { "volumes", no_argument, NULL, 'v' }, {} },
        .opts_size = sizeof(struct prune_opts),
        .option = prune_option,
        .run = cmd_prune,
};
