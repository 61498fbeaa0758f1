/* SPDX-License-Identifier: MIT */
/* agentbox run --split: the firewall in a container of its own beside the
 * agent's (docs/security.md, split mode). Three containers share one
 * network namespace: NAME-network holds it, NAME-firewall programs its
 * table, and NAME (run_create_argv with o->split) is the agent's, where
 * nothing holds a capability. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "log.h"
#include "macro.h"
#include "verbutil.h"

#define SPLIT_LABEL "agentbox.split-of"

void split_names(const char *name, struct split_names *ret) {
        snprintf(ret->network, sizeof(ret->network), "%s-network", name);
        snprintf(ret->firewall, sizeof(ret->firewall), "%s-firewall", name);
}

/* The namespace's holder: the network options of the sandbox go here,
 * since the other two join its namespace. It runs nothing but sleep, as
 * dev, with nothing. */
int split_network_argv(const struct run_opts *o, const struct project *p, const char *image, struct strv *ret) {
        struct split_names n;
        split_names(p->name, &n);
        struct strv v = {};
        strv_push_many(&v, "run", "-d", "--name", n.network, NULL);
        strv_pushf(&v, "--label=" SPLIT_LABEL "=%s", p->name);
        strv_push_many(&v, "--user", "dev", "--cap-drop", "ALL", "--read-only",
                       "--security-opt", "no-new-privileges",
                       /* Defence in depth; the firewall's rules do not rely on it. */
                       "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024",
                       "--pids-limit", "16", "--memory", "32m",
                       /* sleep ignores SIGTERM as PID 1: nothing to wait for. */
                       "--stop-signal", "SIGKILL", "--entrypoint", "sleep", NULL);
        if (o->network)
                strv_pushf(&v, "--network=%s", o->network);
        for (size_t i = 0; i < o->dns.n; i++)
                strv_pushf(&v, "--dns=%s", o->dns.v[i]);
        for (size_t i = 0; i < o->expose.n; i++)
                strv_pushf(&v, "--publish=127.0.0.1:%s:%s", o->expose.v[i], o->expose.v[i]);
        strv_push_many(&v, image, "infinity", NULL);
        int r = strv_status(&v);
        if (r < 0)
                strv_done(&v);
        else
                *ret = v;
        return r;
}

int split_firewall_argv(const struct run_opts *o, const struct project *p, const char *image, const char *seccomp,
                        const struct run_policy_mounts *m, struct strv *ret) {
        if (!seccomp)
                return -EINVAL;
        struct split_names n;
        split_names(p->name, &n);
        struct strv v = {};
        strv_push_many(&v, "run", "-d", "--name", n.firewall, NULL);
        strv_pushf(&v, "--label=" SPLIT_LABEL "=%s", p->name);
        strv_pushf(&v, "--network=container:%s", n.network);
        strv_push_many(&v, "--user", "root", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "SETPCAP",
                       "--cap-add", "SETUID", "--cap-add", "SETGID", "--read-only", "--tmpfs", "/tmp",
                       "--tmpfs", "/run", "--security-opt", "no-new-privileges",
                       /* A firewall that dies comes back; its table stays meanwhile. */
                       "--restart", "unless-stopped", "--pids-limit", "64", "--memory", "256m", NULL);
        strv_pushf(&v, "--security-opt=seccomp=%s", seccomp);
        run_push_policy_mounts(&v, m);
        strv_push_many(&v, image, "--role", "firewall", NULL);
        if (!o->verbose)
                strv_push_many(&v, "--log-level", "notice", NULL);
        int r = strv_status(&v);
        if (r < 0)
                strv_done(&v);
        else
                *ret = v;
        return r;
}

static void remove_quietly(const struct engine *e, const char *name) {
        char *const args[] = { "rm", "-f", (char *) name, NULL };
        struct engine_result r = {};
        (void) engine_run(e, args, NULL, ENGINE_QUIET_OUT | ENGINE_CAPTURE_ERR, &r);
        engine_result_done(&r);
}

void split_remove(const struct engine *e, const char *name) {
        struct split_names n;
        split_names(name, &n);
        remove_quietly(e, n.firewall);
        remove_quietly(e, n.network);
}

bool split_present(const struct engine *e, const char *name) {
        struct split_names n;
        split_names(name, &n);
        char *const args[] = { "container", "inspect", "--format", "{{.Name}}", n.firewall, NULL };
        struct engine_result r = {};
        bool present = engine_run(e, args, NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r) == 0 &&
                       r.exit_code == 0;
        engine_result_done(&r);
        return present;
}

void firewall_container(const struct engine *e, const char *name, char ret[static sizeof(((struct split_names *) 0)->firewall)]) {
        struct split_names n;
        split_names(name, &n);
        snprintf(ret, sizeof(n.firewall), "%s", split_present(e, name) ? n.firewall : name);
}

static int start_one(const struct engine *e, struct strv *args, const char *what) {
        _cleanup_free_ char *out = NULL;
        int code = strv_status(args) < 0 ? verb_oom() : verb_engine_capture(e, strv_items(args), what, &out);
        strv_done(args);
        return code;
}

int split_start(const struct engine *e, const struct run_opts *o, const struct project *p, const char *image,
                const char *seccomp, const struct run_policy_mounts *m, unsigned timeout_sec) {
        struct split_names n;
        split_names(p->name, &n);
        split_remove(e, p->name);       /* leftovers of an earlier run */
        struct strv args = {};
        int code = split_network_argv(o, p, image, &args) < 0 ? verb_oom()
                 : start_one(e, &args, "starting the sandbox's network holder");
        if (code == 0)
                code = split_firewall_argv(o, p, image, seccomp, m, &args) < 0 ? verb_oom()
                     : start_one(e, &args, "starting the sandbox's firewall");
        if (code == 0) {
                if (o->verbose)
                        log_notice("started %s beside the agent's container; waiting for its rules", n.firewall);
                code = sandbox_wait_ready(e, n.firewall, o->verbose, timeout_sec);
        }
        if (code != 0)
                split_remove(e, p->name);
        return code;
}
