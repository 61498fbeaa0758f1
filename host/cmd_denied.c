/* SPDX-License-Identifier: MIT */
/* agentbox denied: what the project's sandbox refused, grouped by name and
 * destination, newest first, each with what would allow it. The sandbox is
 * agentbox's own container or, failing that, one that the compose or
 * devcontainer template started from the project folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "denials.h"
#include "log.h"
#include "macro.h"
#include "userpolicy.h"
#include "verbutil.h"

#define DENIED_INIT "/usr/sbin/agent-sandbox-init"
#define DENIED_FOLLOW_INTERVAL_SEC 2
/* The labels the templates' tools put on their containers: docker compose
 * (v1 and v2) names the folder of the compose file, the Dev Containers CLI
 * the folder it opened. */
#define COMPOSE_DIR_LABEL "com.docker.compose.project.working_dir"
#define DEVCONTAINER_DIR_LABEL "devcontainer.local_folder"
/* The compose templates' services: the split template's firewall records
 * the denials; the one-container template's agent does both. */
#define COMPOSE_SERVICE "agent"
#define COMPOSE_FIREWALL_SERVICE "firewall"

int denied_argv(const char *container, uint64_t since, struct strv *ret) {
        *ret = (struct strv) {};
        strv_push_many(ret, "exec", container, DENIED_INIT, "denials", NULL);
        if (since) {
                strv_push(ret, "--since");
                strv_pushf(ret, "%llu", (unsigned long long) since);
        }
        return strv_status(ret);
}

/* Running containers labelled with the project folder, as "NAME\tSERVICE" lines. */
static int find_labelled(const struct engine *e, const char *label, const char *path, struct strv *names,
                         struct strv *services) {
        _cleanup_free_ char *filter = NULL;
        if (asprintf(&filter, "label=%s=%s", label, path) < 0)
                return verb_oom();
        char *const args[] = { "ps", "--filter", filter, "--format",
                               "{{.Names}}\t{{.Label \"com.docker.compose.service\"}}", NULL };
        _cleanup_free_ char *out = NULL;
        int code = verb_engine_capture(e, args, "listing the project's containers", &out);
        char *save = NULL;
        for (char *line = code ? NULL : strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *name = strsep(&line, "\t");
                if (!name[0] || strv_contains(names, name))
                        continue;
                strv_push(names, name);
                strv_push(services, line ? line : "");
        }
        return code;
}

/* The container whose denials to read: agentbox's own when it runs, else
 * the one compose or the Dev Containers CLI started from this folder (the
 * template's "agent" service when compose runs several). *ret_managed:
 * agentbox's own, whose project file `agentbox allow` edits. */
static int find_sandbox(const struct verb_call *c, char **ret, bool *ret_managed) {
        enum sandbox_state st;
        int code = sandbox_state(c->engine, c->project.name, &st);
        if (code)
                return code;
        if (st == SANDBOX_RUNNING) {
                char firewall[sizeof(((struct split_names *) 0)->firewall)];
                firewall_container(c->engine, c->project.name, firewall);
                *ret_managed = true;
                return (*ret = strdup(firewall)) ? 0 : verb_oom();
        }
        _cleanup_strv_ struct strv names = {}, services = {};
        code = find_labelled(c->engine, COMPOSE_DIR_LABEL, c->project.path, &names, &services);
        if (!code)
                code = find_labelled(c->engine, DEVCONTAINER_DIR_LABEL, c->project.path, &names, &services);
        if (code)
                return code;
        if (strv_status(&names) < 0)
                return verb_oom();
        size_t pick = names.n;
        for (size_t i = 0; i < names.n && names.n > 1; i++)
                if (strcmp(services.v[i], COMPOSE_FIREWALL_SERVICE) == 0 ||
                    (pick == names.n && strcmp(services.v[i], COMPOSE_SERVICE) == 0))
                        pick = i;
        if (names.n == 1)
                pick = 0;
        if (pick < names.n) {
                *ret_managed = false;
                return (*ret = strdup(names.v[pick])) ? 0 : verb_oom();
        }
        if (names.n > 1) {
                log_error("several containers were started from %s and none is the service '%s'; run "
                          "docker exec CONTAINER " DENIED_INIT " denials in the sandbox's", c->project.path,
                          COMPOSE_SERVICE);
                return AGENTBOX_EXIT_FAILURE;
        }
        log_error("no running sandbox for %s (no container %s, none from docker compose or a devcontainer in "
                  "that folder); start one with agentbox run", c->project.path, c->project.name);
        return AGENTBOX_EXIT_FAILURE;
}

/* The init ran and failed: its last line says why; the likely cause is an
 * image from before the init kept denials. */
static int report_init_failure(const struct engine_result *r) {
        char last[201] = "";
        const char *text = r->err ? r->err : "";
        size_t end = strlen(text);
        while (end > 0 && text[end - 1] == '\n')
                end--;
        size_t start = end;
        while (start > 0 && text[start - 1] != '\n')
                start--;
        size_t n = end - start < sizeof(last) - 1 ? end - start : sizeof(last) - 1;
        for (size_t i = 0; i < n; i++)
                last[i] = text[start + i] >= 0x20 && text[start + i] < 0x7f ? text[start + i] : '?';
        log_error("the sandbox's init could not list its denials (exit %d%s%s); an image built before its init "
                  "recorded them needs rebuilding (images/build.sh)", r->exit_code, n ? ": " : "", last);
        return AGENTBOX_EXIT_FAILURE;
}

/* The init's lines: every one that parses; the rest counted once. */
static int read_denials(const struct engine *e, const char *container, uint64_t since, struct denial **ret,
                        size_t *ret_n, char **ret_text) {
        _cleanup_strv_ struct strv args = {};
        if (denied_argv(container, since, &args) < 0)
                return verb_oom();
        struct engine_result r = {};
        int k = engine_run(e, strv_items(&args), NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r);
        if (k < 0)
                return engine_report_spawn_error(e, k);
        if (r.exit_code != 0) {
                int code = engine_failure_kind(r.err) != ENGINE_FAILURE_UNKNOWN
                        ? engine_report_failure(e, "reading the sandbox's denials", &r)
                        : report_init_failure(&r);
                engine_result_done(&r);
                return code;
        }
        size_t lines = 1, n = 0, bad = 0;
        for (const char *s = r.out ? r.out : ""; (s = strchr(s, '\n')); s++)
                lines++;
        struct denial *v = calloc(lines, sizeof(*v));
        if (!v) {
                engine_result_done(&r);
                return verb_oom();
        }
        /* Tokenise a copy: the text itself goes back for --follow's comparison. */
        _cleanup_free_ char *copy = strdup(r.out ? r.out : "");
        if (!copy) {
                free(v);
                engine_result_done(&r);
                return verb_oom();
        }
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (denial_parse_line(line, &v[n]) == 0)
                        n++;
                else
                        bad++;
        if (bad)
                log_warning("skipped %zu line%s of the sandbox's denials that did not parse", bad, bad == 1 ? "" : "s");
        *ret = v;
        *ret_n = n;
        if (ret_text)
                *ret_text = TAKE_PTR(r.out);
        engine_result_done(&r);
        return 0;
}

static int print_groups(const struct denial *v, size_t n, bool managed, bool json) {
        _cleanup_free_ struct denial_group *g = NULL;
        size_t k = 0;
        if (denials_group(v, n, &g, &k) < 0)
                return verb_oom();
        for (size_t i = 0; i < k; i++) {
                struct denial_fix fix;
                denial_fix(&g[i].last, managed, &fix);
                (json ? denial_group_write_json : denial_group_write_text)(&g[i], &fix, stdout);
        }
        return 0;
}

struct denied_opts {
        bool json, follow;
        uint64_t since;         /* seconds; 0: everything recorded */
};

/* A line is new unless the previous poll's answer held it: each poll asks
 * for a window reaching a little before the newest record seen, so the
 * answers overlap and nothing between two polls is lost. */
static bool line_seen(const char *seen, const char *line) {
        size_t n = strlen(line);
        for (const char *s = seen; s && (s = strstr(s, line)); s++)
                if ((s == seen || s[-1] == '\n') && (s[n] == '\n' || s[n] == '\0'))
                        return true;
        return false;
}

static int follow_poll(const struct engine *e, const char *container, bool managed, bool json, char **seen,
                       int64_t *newest) {
        int64_t now = time(NULL);
        uint64_t window = (uint64_t) (now > *newest ? now - *newest : 0) + DENIED_FOLLOW_INTERVAL_SEC + 5;
        _cleanup_free_ struct denial *v = NULL;
        size_t n = 0;
        char *text = NULL;
        int code = read_denials(e, container, window, &v, &n, &text);
        if (code)
                return code;
        _cleanup_free_ struct denial *fresh = calloc(n + 1, sizeof(*fresh));
        _cleanup_free_ char *copy = text ? strdup(text) : strdup("");
        if (!fresh || !copy) {
                free(text);
                return verb_oom();
        }
        size_t k = 0;
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (!line_seen(*seen, line) && denial_parse_line(line, &fresh[k]) == 0) {
                        if (fresh[k].time > *newest)
                                *newest = fresh[k].time;
                        k++;
                }
        free(*seen);
        *seen = text;
        return k ? print_groups(fresh, k, managed, json) : 0;
}

/* Poll until interrupted; each new record is printed as a group of its own. */
static int follow(const struct engine *e, const char *container, bool managed, bool json, char *seen,
                  int64_t newest) {
        if (newest == 0)
                newest = time(NULL);
        int code;
        do {
                fflush(stdout);
                sleep(DENIED_FOLLOW_INTERVAL_SEC);
                code = follow_poll(e, container, managed, json, &seen, &newest);
        } while (code == 0);
        free(seen);
        return code;
}

static int denied_option(struct verb_call *c, int opt, char *arg) {
        struct denied_opts *o = c->opts;
        if (opt == 'j')
                o->json = true;
        else if (opt == 'f')
                o->follow = true;
        else if (denials_parse_duration(arg, &o->since) < 0)
                return verb_usage_error(c->verb, "--since '%s': say how long, as 30s, 5m, 2h or 1d", arg);
        return VERB_CONTINUE;
}

static int cmd_denied(struct verb_call *c) {
        const struct denied_opts *o = c->opts;
        _cleanup_free_ char *container = NULL;
        bool managed = false;
        int code = find_sandbox(c, &container, &managed);
        if (code)
                return code;
        _cleanup_free_ struct denial *v = NULL;
        size_t n = 0;
        char *text = NULL;
        code = read_denials(c->engine, container, o->since, &v, &n, &text);
        if (code)
                return code;
        if (n == 0 && !o->json)
                fprintf(stderr, "no denials recorded in %s%s\n", container, o->since ? " in that time" : "");
        code = print_groups(v, n, managed, o->json);
        if (!code && !managed && n && !o->json)
                fprintf(stderr, "# %s was started by docker compose or a devcontainer: put the line in a file in "
                        "~/.config/agent-sandbox/policy.d, then docker kill -s HUP %s\n", container, container);
        int64_t newest = 0;
        for (size_t i = 0; i < n; i++)
                if (v[i].time > newest)
                        newest = v[i].time;
        if (code || !o->follow) {
                free(text);
                return code;
        }
        return follow(c->engine, container, managed, o->json, text, newest);
}

const struct verb verb_denied = {
        .name = "denied",
        .summary = "list what the sandbox refused, with the command that would allow each",
        .usage =
                "Usage: agentbox denied [--json] [--follow] [--since DURATION] [--dir D]\n\n"
                "List the connections and DNS queries the project's running sandbox refused,\n"
                "grouped by name (or address) and destination, newest first, with how many\n"
                "times and when last; under each, what would allow it (agentbox allow NAME,\n"
                "or a policy line for an address no name led to).\n\n"
                "The sandbox is agentbox's own for the project or, when none runs, the\n"
                "container docker compose or a devcontainer started from the project folder.\n\n"
                "Options:\n"
                "  --json            one JSON object per group and line\n"
                "  -f, --follow      keep watching and print new denials as they come\n"
                "  --since DURATION  only the last 30s, 5m, 2h, 1d, ...\n"
                "  --dir D           the project folder (default: the current one)\n\n"
                "Exit code: 0 listed (even none), 1 no running sandbox, 2 usage, 125 engine problem.\n",
        .needs = VERB_NEEDS_PROJECT | VERB_NEEDS_ENGINE,
        .shortopts = "f",
        .longopts = (const struct option[]) {
                { "json", no_argument, NULL, 'j' },
                { "follow", no_argument, NULL, 'f' },
                { "since", required_argument, NULL, 's' },
                {},
        },
        .opts_size = sizeof(struct denied_opts),
        .option = denied_option,
        .run = cmd_denied,
};
