/* SPDX-License-Identifier: MIT */
/* agentbox status: is the project's sandbox running, from which image, and
 * which policy files it gets. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "json_string.h"
#include "macro.h"
#include "userpolicy.h"
#include "verbutil.h"

int status_argv(const char *name, struct strv *ret) {
        *ret = (struct strv) {};
        strv_push_many(ret, "container", "inspect", "--format",
                       "{{.State.Status}}\t{{.Config.Image}}\t{{.State.StartedAt}}\t{{.Id}}", name, NULL);
        return strv_status(ret);
}

struct status {
        char *fields[4];        /* state, image, started, id */
        /* Split mode: the firewall's container and its state; "" otherwise. */
        char firewall[sizeof(((struct split_names *) 0)->firewall)];
        char *firewall_state;
};

static void print_text(const struct project *p, const struct status *s, const struct userpolicy *u) {
        printf("project: %s\nsandbox: %s\n", p->path, p->name);
        if (!s->fields[0])
                printf("state:   none (start one with agentbox run)\n");
        else
                printf("state:   %s\nimage:   %s\nstarted: %s\nid:      %.12s\n", s->fields[0], s->fields[1],
                       s->fields[2], s->fields[3]);
        if (s->firewall[0])
                printf("firewall: %s (%s)\n", s->firewall, s->firewall_state ? s->firewall_state : "none");
        printf("policy:  global %s%s\n", u->global, u->have_global ? "" : " (absent)");
        printf("         project %s%s\n", u->project, u->have_project ? "" : " (absent)");
}

static void print_json(const struct project *p, const struct status *s, const struct userpolicy *u) {
        static const char *const keys[] = { "state", "image", "started", "id" };
        printf("{\"project\": ");
        base_json_write_string(stdout, p->path);
        printf(", \"sandbox\": ");
        base_json_write_string(stdout, p->name);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                printf(", \"%s\": ", keys[i]);
                base_json_write_string(stdout, i == 0 && !s->fields[0] ? "none" : s->fields[i]);
        }
        if (s->firewall[0]) {
                printf(", \"firewall\": {\"name\": ");
                base_json_write_string(stdout, s->firewall);
                printf(", \"state\": ");
                base_json_write_string(stdout, s->firewall_state ? s->firewall_state : "none");
                printf("}");
        }
        printf(", \"policy\": {\"global\": ");
        base_json_write_string(stdout, u->have_global ? u->global : NULL);
        printf(", \"project\": ");
        base_json_write_string(stdout, u->have_project ? u->project : NULL);
        printf("}}\n");
}

/* Fill s from the engine; an absent sandbox leaves it empty. */
static int inspect(const struct engine *e, const char *name, struct status *s, char **buf) {
        _cleanup_strv_ struct strv args = {};
        if (status_argv(name, &args) < 0)
                return verb_oom();
        struct engine_result r = {};
        int k = engine_run(e, strv_items(&args), NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r);
        if (k < 0)
                return engine_report_spawn_error(e, k);
        int code = 0;
        if (r.exit_code == 0) {
                *buf = r.out, r.out = NULL;
                char *save = NULL, *line = strtok_r(*buf, "\n", &save);
                for (size_t i = 0; line && i < ELEMENTSOF(s->fields); i++)
                        s->fields[i] = strsep(&line, "\t");
        } else if (engine_failure_kind(r.err) != ENGINE_FAILURE_NO_CONTAINER)
                code = engine_report_failure(e, "inspecting the sandbox", &r);
        engine_result_done(&r);
        return code;
}

struct status_opts {
        bool json;
};

static int status_option(struct verb_call *c, int opt, char *arg) {
        struct status_opts *o = c->opts;
        o->json = true;         /* --json, its only option */
        return VERB_CONTINUE;
}

static int cmd_status(struct verb_call *c) {
        const struct status_opts *o = c->opts;
        struct status s = {};
        _cleanup_free_ char *buf = NULL, *firewall_buf = NULL;
        struct userpolicy u = {};
        int code = inspect(c->engine, c->project.name, &s, &buf);
        if (code == 0 && split_present(c->engine, c->project.name)) {
                /* Split mode: the sandbox runs only while its firewall does. */
                struct status fw = {};
                firewall_container(c->engine, c->project.name, s.firewall);
                code = inspect(c->engine, s.firewall, &fw, &firewall_buf);
                s.firewall_state = fw.fields[0];
        }
        if (code == 0 && userpolicy_open(&c->project, &u) < 0)
                code = AGENTBOX_EXIT_FAILURE;
        if (code == 0) {
                (o->json ? print_json : print_text)(&c->project, &s, &u);
                bool running = s.fields[0] && strcmp(s.fields[0], "running") == 0 &&
                               (!s.firewall[0] || (s.firewall_state && strcmp(s.firewall_state, "running") == 0));
                code = running ? 0 : AGENTBOX_EXIT_FAILURE;
        }
        userpolicy_done(&u);
        return code;
}

const struct verb verb_status = {
        .name = "status",
        .summary = "show whether the project's sandbox runs, its image and policy files",
        .usage =
                "Usage: agentbox status [--json] [--dir D]\n\n"
                "Show the project's sandbox: state, image, start time, and the user policy\n"
                "files it mounts; in split mode also its firewall container and its state.\n\n"
                "Options:\n"
                "  --json       one JSON object\n"
                "  --dir D      the project folder (default: the current one)\n\n"
                "Exit code: 0 when the sandbox runs (in split mode: and its firewall), 1 when it\n"
                "does not, 125 engine problem.\n",
        .needs = VERB_NEEDS_PROJECT | VERB_NEEDS_ENGINE,
        .longopts = (const struct option[]) { { "json", no_argument, NULL, 'j' }, {} },
        .opts_size = sizeof(struct status_opts),
        .option = status_option,
        .run = cmd_status,
};
