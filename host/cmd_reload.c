/* SPDX-License-Identifier: MIT */
/* agentbox reload: SIGHUP to the init, which re-reads the policy; then show
 * what it logged about the reload. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "log.h"
#include "macro.h"
#include "verbutil.h"

int reload_argv(const char *name, struct strv *ret) {
        *ret = (struct strv) {};
        strv_push_many(ret, "kill", "-s", "HUP", name, NULL);
        return strv_status(ret);
}

#define RELOAD_START "reloading the policy"

/* The lines from the last reload on (the log window may hold an earlier one). */
static const char *last_reload(const char *text) {
        const char *last = NULL;
        for (const char *s = text; s && (s = strstr(s, RELOAD_START)); s++)
                last = s;
        while (last && last > text && last[-1] != '\n')
                last--;
        return last;
}

/* The init logs a "reloading" line, then either the new rules' self-check
 * result and "sandbox ready", or "reload rejected". */
static bool reload_finished(const char *start) {
        return start && (strstr(start, "sandbox ready") || strstr(start, "reload rejected") ||
                         strstr(start, "could not start") || strstr(start, "is now blocked"));
}

static int show_reload_log(const struct engine *e, const char *name, const char *since) {
        char *const args[] = { "logs", "--since", (char *) since, (char *) name, NULL };
        for (int i = 0; i < 100; i++) {
                struct engine_result r = {};
                int k = engine_run(e, args, NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r);
                if (k < 0)
                        return engine_report_spawn_error(e, k);
                /* The init logs to stderr; docker logs keeps the streams apart. */
                const char *start = r.exit_code == 0 && r.err ? last_reload(r.err) : NULL;
                bool done = reload_finished(start);
                if (done || i == 99) {
                        /* The container's log is the sandbox's to write:
                         * nothing in it may drive the user's terminal. */
                        for (const char *c = start ? start : ""; *c; c++)
                                fputc((*c >= 0x20 && *c < 0x7f) || *c == '\n' || *c == '\t' ? *c : '?', stderr);
                        bool failed = start && (strstr(start, "reload rejected") || strstr(start, "could not start"));
                        engine_result_done(&r);
                        if (!done)
                                log_error("no reload result yet; follow with agentbox logs -f");
                        return failed ? AGENTBOX_EXIT_FAILURE : AGENTBOX_EXIT_OK;
                }
                engine_result_done(&r);
                usleep(100 * 1000);
        }
        return AGENTBOX_EXIT_OK;
}

/* A split sandbox's firewall is root in its own container: SIGHUP from a
 * process there. `kill -s HUP` through the engine would work as well, but
 * Docker then counts the container as stopped by hand and no longer
 * restarts it when it dies. */
int reload_split_argv(const char *firewall, struct strv *ret) {
        *ret = (struct strv) {};
        strv_push_many(ret, "exec", firewall, "kill", "-HUP", "1", NULL);
        return strv_status(ret);
}

int reload_sandbox(const struct engine *e, const char *name) {
        char since[32];
        snprintf(since, sizeof(since), "%lld", (long long) time(NULL) - 1);
        _cleanup_strv_ struct strv args = {};
        struct split_names n;
        split_names(name, &n);
        bool split = split_present(e, name);
        if (split)
                name = n.firewall;
        if ((split ? reload_split_argv(name, &args) : reload_argv(name, &args)) < 0)
                return verb_oom();
        _cleanup_free_ char *out = NULL;
        int code = verb_engine_capture(e, strv_items(&args), "sending SIGHUP to the sandbox", &out);
        return code ? code : show_reload_log(e, name, since);
}

static int cmd_reload(struct verb_call *c) {
        return reload_sandbox(c->engine, c->project.name);
}

const struct verb verb_reload = {
        .name = "reload",
        .summary = "make the running sandbox re-read its policy (SIGHUP) and show the result",
        .usage =
                "Usage: agentbox reload [--dir D]\n\n"
                "Send SIGHUP to the sandbox's init, which re-reads /etc/agent-sandbox/policy.yaml\n"
                "and policy.d/*.yaml (your files are mounted there), then print what it logged.\n"
                "A policy with errors is rejected and the rules in place stay.\n\n"
                "Exit code: 0 applied, 1 rejected or no sandbox, 125 engine problem.\n",
        .needs = VERB_NEEDS_RUNNING,
        .run = cmd_reload,
};
