/* SPDX-License-Identifier: MIT */
/* agentbox run: start (or reuse) the project's sandbox, wait until its
 * firewall is up, run the agent (or a command) in it as dev. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "config.h"
#include "envfilter.h"
#include "log.h"
#include "macro.h"
#include "policy.h"
#include "seccomp.h"
#include "userpolicy.h"

extern char **environ;

void run_opts_done(void *opts) {
        struct run_opts *o = opts;
        strv_done(&o->env);
        strv_done(&o->expose);
        strv_done(&o->dns);
}

static int parse_expose(struct run_opts *o, const char *text) {
        uint16_t port;
        if (!policy_port_parse(text, &port))
                return verb_usage_error(&verb_run, "--expose takes a TCP port 1..65535, not '%s'", text);
        strv_pushf(&o->expose, "%u", port);
        return VERB_CONTINUE;
}

static int run_option(struct verb_call *c, int opt, char *arg) {
        struct run_opts *o = c->opts;
        switch (opt) {
        case 'i': o->image = arg; break;
        case 'p': o->policy = arg; break;
        case 'e': strv_push(&o->env, arg); break;
        case 'E': o->env_file = arg; break;
        case 'x': return parse_expose(o, arg);
        case 'k': o->keep = true; break;
        case 'v': o->verbose = true; break;
        case 'n': o->network = arg; break;
        case 'D': strv_push(&o->dns, arg); break;
        case 'S': o->split = true; break;
        default: return AGENTBOX_EXIT_USAGE;
        }
        return VERB_CONTINUE;
}

/* The one positional is the agent; options may come before or after it. */
static int run_check(struct verb_call *c) {
        struct run_opts *o = c->opts;
        o->cmd = c->cmd;
        o->agent = c->args[0];
        if (o->agent && !agent_find(o->agent))
                return verb_usage_error(&verb_run, "unknown agent '%s' (one of %s)", o->agent, agent_names());
        if (o->agent && c->args[1])
                return verb_usage_error(&verb_run, "unexpected '%s' (put the command after --)", c->args[1]);
        return strv_status(&o->env) || strv_status(&o->expose) || strv_status(&o->dns) ? verb_oom() : VERB_CONTINUE;
}

int mount_bind_arg(const char *src, const char *dst, bool readonly, char **ret) {
        /* The engine splits --mount as CSV: a field with ',' or '"' must be
         * quoted, with '"' doubled. */
        bool quote = strpbrk(src, ",\"") != NULL;
        size_t n = strlen(src);
        _cleanup_free_ char *q = malloc(2 * n + 8);
        if (!q)
                return -ENOMEM;
        char *w = q;
        if (quote)
                *w++ = '"';
        w = stpcpy(w, "src=");
        for (const char *c = src; *c; c++) {
                if (*c == '"')
                        *w++ = '"';
                *w++ = *c;
        }
        if (quote)
                *w++ = '"';
        *w = '\0';
        return asprintf(ret, "type=bind,%s,dst=%s%s", q, dst, readonly ? ",readonly" : "") < 0 ? -ENOMEM : 0;
}

static void push_mount(struct strv *a, const char *src, const char *dst) {
        char *m = NULL;
        if (mount_bind_arg(src, dst, true, &m) < 0) {
                a->oom = true;
                return;
        }
        strv_push_many(a, "--mount", m, NULL);
        free(m);
}

void run_push_policy_mounts(struct strv *v, const struct run_policy_mounts *m) {
        if (m && m->global)
                push_mount(v, m->global, POLICY_OVERRIDE_DIR "/00-global.yaml");
        if (m && m->project)
                push_mount(v, m->project, POLICY_OVERRIDE_DIR "/50-project.yaml");
        if (m && m->user)
                push_mount(v, m->user, POLICY_OVERRIDE_DIR "/user.yaml");
}

int run_create_argv(const struct run_opts *o, const struct project *p, const struct agent *a, const char *image,
                    const char *seccomp, const struct run_policy_mounts *m, const struct run_command *once,
                    struct strv *ret) {
        if (!seccomp)
                return -EINVAL;
        struct strv v = {};
        if (once) {
                strv_push_many(&v, "run", "--rm", "-i", NULL);
                if (once->tty)
                        strv_push(&v, "-t");
                if (once->cidfile)
                        strv_push_many(&v, "--cidfile", once->cidfile, NULL);
        } else
                strv_push_many(&v, "run", "-d", NULL);
        strv_push_many(&v, "--name", p->name, NULL);
        strv_pushf(&v, "--label=" SANDBOX_LABEL "=%s", p->path);
        strv_pushf(&v, "--label=agentbox.agent=%s", a->name);
        if (o->split) {
                /* The agent's container in split mode: dev with nothing, in
                 * the namespace the firewall's container programs; the
                 * network options went to the namespace's holder. */
                struct split_names n;
                split_names(p->name, &n);
                strv_pushf(&v, "--network=container:%s", n.network);
                strv_push_many(&v, "--user", "dev", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                               "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/run",
                               "--pids-limit", "512", "--memory", "4g", NULL);
        } else
                strv_push_many(&v, "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "SETPCAP",
                               "--cap-add", "SETUID", "--cap-add", "SETGID",
                               "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/run",
                               /* Defence in depth; the init's rules do not rely on it. */
                               "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024",
                               "--pids-limit", "512", "--memory", "4g", NULL);
        strv_pushf(&v, "--security-opt=seccomp=%s", seccomp);
        if (o->network && !o->split)
                strv_pushf(&v, "--network=%s", o->network);
        for (size_t i = 0; i < o->dns.n && !o->split; i++)
                strv_pushf(&v, "--dns=%s", o->dns.v[i]);
        for (size_t i = 0; i < o->expose.n && !o->split; i++)
                strv_pushf(&v, "--publish=127.0.0.1:%s:%s", o->expose.v[i], o->expose.v[i]);
        /* -v cannot carry a ':' in the source; --mount can. */
        if (strchr(p->path, ':')) {
                char *mnt = NULL;
                if (mount_bind_arg(p->path, "/workspace", false, &mnt) < 0)
                        v.oom = true;
                else
                        strv_push_many(&v, "--mount", mnt, NULL);
                free(mnt);
        } else
                strv_push_many(&v, "-v", NULL), strv_pushf(&v, "%s:/workspace", p->path);
        if (a->state_dir) {
                char *vol = NULL;
                if (project_state_volume(p, a->name, &vol) < 0)
                        v.oom = true;
                else
                        strv_push(&v, "-v"), strv_pushf(&v, "%s:/home/dev/%s", vol, a->state_dir);
                free(vol);
        }
        run_push_policy_mounts(&v, m);
        if (once)
                for (char *const *n = once->env_names; n && *n; n++)
                        strv_push_many(&v, "-e", *n, NULL);
        strv_push(&v, image);
        if (o->split)
                strv_push_many(&v, "--role", "agent", NULL);
        if (once) {
                strv_push(&v, "--exit-with-cmd");
                /* The user's terminal shows the init's log: its steps are
                 * for the engine's log and for -v; warnings, errors and
                 * "sandbox ready" always show. */
                if (!once->verbose)
                        strv_push_many(&v, "--log-level", "notice", NULL);
                for (char *const *n = once->env_names; n && *n; n++)
                        strv_push_many(&v, "--pass-env", *n, NULL);
                strv_push(&v, "--");
                strv_push_all(&v, once->cmd);
        }
        int r = strv_status(&v);
        if (r < 0) {
                strv_done(&v);
                return r;
        }
        *ret = v;
        return 0;
}

static int check_policies(const struct run_opts *o, const struct userpolicy *u, struct run_policy_mounts *m) {
        *m = (struct run_policy_mounts) {
                .global = u->have_global ? u->global : NULL,
                .project = u->have_project ? u->project : NULL,
                .user = o->policy,
        };
        const char *files[] = { m->global, m->project, m->user };
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (files[i] && userpolicy_validate_file(files[i]) < 0) {
                        log_error("the policy %s has errors; the sandbox was not started", files[i]);
                        return AGENTBOX_EXIT_FAILURE;
                }
        return 0;
}

static void remove_sandbox(const struct engine *e, const char *name) {
        char *const args[] = { "rm", "-f", (char *) name, NULL };
        struct engine_result r = {};
        if (engine_run(e, args, NULL, ENGINE_QUIET_OUT | ENGINE_CAPTURE_ERR, &r) == 0 && r.exit_code != 0)
                engine_report_failure(e, "removing the sandbox", &r);
        engine_result_done(&r);
}

static unsigned ready_timeout(void) {
        const char *t = getenv("AGENTBOX_READY_TIMEOUT");
        long v = t ? strtol(t, NULL, 10) : 0;
        return v > 0 && v < 3600 ? (unsigned) v : SANDBOX_READY_TIMEOUT_SEC;
}

/* Create the container; *started tells whether this run made it (false
 * when another agentbox run won the race and it is running now). */
static int create_sandbox(const struct engine *e, const struct run_opts *o, const struct project *p,
                          const struct agent *a, const struct userpolicy *u, bool *started) {
        struct run_policy_mounts m;
        int code = check_policies(o, u, &m);
        if (code)
                return code;
        _cleanup_free_ char *seccomp = NULL;
        if (seccomp_profile_install(&seccomp) < 0)
                return AGENTBOX_EXIT_FAILURE;
        if (o->split) {
                code = split_start(e, o, p, o->image ? o->image : a->image, seccomp, &m, ready_timeout());
                if (code)
                        return code;
        }
        _cleanup_strv_ struct strv args = {};
        if (run_create_argv(o, p, a, o->image ? o->image : a->image, seccomp, &m, NULL, &args) < 0)
                return verb_oom();
        struct engine_result r = {};
        int k = engine_run(e, strv_items(&args), NULL, ENGINE_QUIET_OUT | ENGINE_CAPTURE_ERR, &r);
        if (k < 0)
                return engine_report_spawn_error(e, k);
        code = 0;
        *started = r.exit_code == 0;
        if (r.exit_code != 0) {
                enum sandbox_state st = SANDBOX_ABSENT;
                if (engine_failure_kind(r.err) != ENGINE_FAILURE_NAME_TAKEN || sandbox_state(e, p->name, &st) != 0 ||
                    st != SANDBOX_RUNNING) {
                        char what[600];
                        snprintf(what, sizeof(what), "starting the sandbox from %s", o->image ? o->image : a->image);
                        code = engine_report_failure(e, what, &r);
                }
        }
        engine_result_done(&r);
        return code;
}

static int start_or_reuse(const struct engine *e, const struct run_opts *o, const struct project *p,
                          const struct agent *a, enum sandbox_state known, bool *started) {
        enum sandbox_state st = known;
        int code = st == SANDBOX_RUNNING ? 0 : sandbox_state(e, p->name, &st);
        if (code)
                return code;
        *started = false;
        if (st == SANDBOX_RUNNING) {
                if (o->image || o->policy || o->expose.n || o->network || o->dns.n || o->split)
                        log_notice("reusing the running sandbox %s; --image, --policy, --expose, --network, --dns and --split apply only when it starts (agentbox down first)",
                                p->name);
                return 0;
        }
        if (st == SANDBOX_STOPPED)
                remove_sandbox(e, p->name);     /* a leftover of an earlier run */
        struct userpolicy u;
        if (userpolicy_open(p, &u) < 0)
                return AGENTBOX_EXIT_FAILURE;
        if (userpolicy_ensure_project(&u) < 0) {
                userpolicy_done(&u);
                return AGENTBOX_EXIT_FAILURE;
        }
        code = create_sandbox(e, o, p, a, &u, started);
        userpolicy_done(&u);
        return code;
}

/* Without --keep, the usual case: one `run --rm` whose init runs the
 * command itself after "sandbox ready" and ends the container with it.
 * When a container of that name exists already, *ret_reuse is set if it
 * runs (the caller joins it); a stopped leftover is removed and the run
 * tried once more. */
static int run_fresh(const struct engine *e, const struct run_opts *o, const struct project *p,
                     const struct agent *a, const struct envfilter *ef, bool *ret_reuse) {
        *ret_reuse = false;
        struct userpolicy u;
        if (userpolicy_open(p, &u) < 0)
                return AGENTBOX_EXIT_FAILURE;
        struct run_policy_mounts m;
        int code = userpolicy_ensure_project(&u) < 0 ? AGENTBOX_EXIT_FAILURE : check_policies(o, &u, &m);
        _cleanup_(sandbox_cidfile_done) struct sandbox_cidfile cid = {};
        if (code == 0 && sandbox_cidfile_new(&cid) < 0)
                code = AGENTBOX_EXIT_FAILURE;
        char *const default_cmd[] = { (char *) a->command, NULL };
        const struct run_command once = {
                .tty = isatty(STDIN_FILENO),
                .verbose = o->verbose,
                .cidfile = cid.path,
                .env_names = strv_items(&ef->names),
                .cmd = o->cmd ? o->cmd : default_cmd,
        };
        const char *image = o->image ? o->image : a->image;
        _cleanup_free_ char *seccomp = NULL;
        if (code == 0 && seccomp_profile_install(&seccomp) < 0)
                code = AGENTBOX_EXIT_FAILURE;
        _cleanup_strv_ struct strv args = {};
        _cleanup_strv_ struct strv env = {};
        if (code == 0 && (run_create_argv(o, p, a, image, seccomp, &m, &once, &args) < 0 ||
                          envfilter_child_env(ef, environ, &env) < 0))
                code = verb_oom();
        bool split_started = false;
        if (code == 0 && o->split) {
                code = split_start(e, o, p, image, seccomp, &m, ready_timeout());
                split_started = code == 0;
        }
        for (int attempt = 0; code == 0; attempt++) {
                bool taken, signalled;
                code = sandbox_run_once(e, &cid, image, strv_items(&args), strv_items(&env), &taken, &signalled);
                if (!taken || signalled)
                        break;
                enum sandbox_state st;
                code = sandbox_state(e, p->name, &st);
                if (code)
                        break;
                if (st == SANDBOX_RUNNING) {
                        *ret_reuse = true;
                        break;
                }
                if (attempt > 0) {
                        log_error("the sandbox name %s is taken by a container that keeps coming back; see docker ps -a",
                                p->name);
                        code = AGENTBOX_EXIT_ENGINE;
                        break;
                }
                if (st == SANDBOX_STOPPED)
                        remove_sandbox(e, p->name);     /* a leftover of an earlier run */
        }
        /* What this run started beside the agent's container goes with it;
         * a sandbox another run started (and owns) is joined instead. */
        if (split_started && !*ret_reuse)
                split_remove(e, p->name);
        userpolicy_done(&u);
        return code;
}

static int exec_in_sandbox(const struct engine *e, const struct project *p, const struct agent *a,
                           const struct run_opts *o, const struct envfilter *ef) {
        char *const default_cmd[] = { (char *) a->command, NULL };
        _cleanup_strv_ struct strv args = {};
        _cleanup_strv_ struct strv env = {};
        if (sandbox_exec_argv(p->name, isatty(STDIN_FILENO), strv_items(&ef->names), o->cmd ? o->cmd : default_cmd,
                              &args) < 0 ||
            envfilter_child_env(ef, environ, &env) < 0)
                return verb_oom();
        return sandbox_run_attached(e, strv_items(&args), strv_items(&env));
}

static int cmd_run(struct verb_call *c) {
        const struct run_opts *o = c->opts;
        const struct project *p = &c->project;
        const struct engine *e = c->engine;
        const struct agent *a = agent_find(o->agent ? o->agent : "none");
        struct envfilter ef = {};
        if (envfilter_resolve(strv_items(&o->env), o->env_file, p->path, environ, &ef) < 0)
                return AGENTBOX_EXIT_FAILURE;
        bool started = false, reuse = false;
        int code = 0;
        if (!o->keep) {
                code = run_fresh(e, o, p, a, &ef, &reuse);
                if (!reuse) {
                        envfilter_done(&ef);
                        return code;
                }
        }
        /* --keep, or joining a sandbox another run started: create it
         * detached (unless it runs), wait for its firewall, exec into it. */
        if (code == 0)
                code = start_or_reuse(e, o, p, a, reuse ? SANDBOX_RUNNING : SANDBOX_ABSENT, &started);
        if (code == 0) {
                if (started)
                        log_notice("started %s for %s; waiting for its firewall", p->name, p->path);
                code = sandbox_wait_ready(e, p->name, started, ready_timeout());
                if (code == 0)
                        code = exec_in_sandbox(e, p, a, o, &ef);
        }
        /* What this run started, it removes, unless --keep. */
        if (started && !o->keep) {
                remove_sandbox(e, p->name);
                if (o->split)
                        split_remove(e, p->name);
        }
        envfilter_done(&ef);
        return code;
}

const struct verb verb_run = {
        .name = "run",
        .summary = "start (or reuse) the project's sandbox and run the agent or a command in it",
        .usage =
                "Usage: agentbox run [AGENT] [OPTIONS] [-- CMD ARGS...]\n\n"
                "Start the project's sandbox (or reuse the running one), wait until its firewall\n"
                "is up, then run AGENT's command (bash for none) or CMD in it as dev in /workspace.\n"
                "AGENT is one of claude, codex, gemini, opencode, none (default: none).\n\n"
                "Options:\n"
                "  --image I        use image I instead of the agent's\n"
                "  --policy FILE    also mount FILE as /etc/agent-sandbox/policy.d/user.yaml\n"
                "  -e, --env NAME   pass NAME from this environment (NAME=VALUE sets it; a glob\n"
                "                   like 'LC_*' never matches secret-looking names)\n"
                "  --env-file F     pass every NAME=VALUE of F (mode 0600, outside the project)\n"
                "  --expose PORT    publish PORT on 127.0.0.1\n"
                "  --network N      attach the sandbox to the engine's network N\n"
                "  --dns IP         the DNS server the sandbox uses (repeatable)\n"
                "  --keep           keep the sandbox running after the command ends\n"
                "  --split          split mode: the firewall in a container of its own, the agent's\n"
                "                   container with no capability at all (docs/security.md)\n"
                "  -v, --verbose    show every step of the sandbox's start, not only that it is ready\n"
                "  --dir D          the project folder (default: the current one)\n"
                "  -h, --help       this help\n\n"
                "Nothing from the host environment passes unless named. Exit code: the command's;\n"
                "1 when the sandbox failed to start, 2 usage, 125 engine problem.\n",
        .needs = VERB_NEEDS_PROJECT | VERB_NEEDS_ENGINE | VERB_TAKES_COMMAND,
        .shortopts = "e:v",
        .longopts = (const struct option[]) {
                { "image", required_argument, NULL, 'i' },
                { "policy", required_argument, NULL, 'p' },
                { "env", required_argument, NULL, 'e' },
                { "env-file", required_argument, NULL, 'E' },
                { "expose", required_argument, NULL, 'x' },
                { "keep", no_argument, NULL, 'k' },
                { "verbose", no_argument, NULL, 'v' },
                { "network", required_argument, NULL, 'n' },
                { "dns", required_argument, NULL, 'D' },
                { "split", no_argument, NULL, 'S' },
                {},
        },
        .opts_size = sizeof(struct run_opts),
        .option = run_option,
        .check = run_check,
        .run = cmd_run,
        .done = run_opts_done,
};
