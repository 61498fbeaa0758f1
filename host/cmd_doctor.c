/* SPDX-License-Identifier: MIT */
/* agentbox doctor: check what a sandbox needs on this machine, one line
 * per finding with its fix; non-zero exit when something is fatal. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "macro.h"
#include "seccomp.h"
#include "userpolicy.h"
#include "verbutil.h"

struct doctor {
        unsigned fatal, warnings;
};

__attribute__((format(printf, 3, 4)))
static void finding(struct doctor *d, char level, const char *fmt, ...) {
        va_list ap;
        const char *word = level == 'E' ? "error" : level == 'W' ? "warning" : "ok";
        if (level == 'E')
                d->fatal++;
        else if (level == 'W')
                d->warnings++;
        printf("%-8s", word);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

/* Whether the daemon answers; prints the finding. */
static bool check_daemon(struct doctor *d, const struct engine *e) {
        char *const args[] = { "version", "--format", "{{.Server.Version}}", NULL };
        struct engine_result r = {};
        if (engine_run(e, args, NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r) < 0) {
                finding(d, 'E', "engine %s could not be run: check that it is an executable", e->path);
                return false;
        }
        bool ok = r.exit_code == 0;
        if (ok)
                finding(d, 'O', "engine daemon running (server %.*s)", (int) strcspn(r.out, "\n"), r.out);
        else if (engine_failure_kind(r.err) == ENGINE_FAILURE_DAEMON)
                finding(d, 'E', "daemon not running or not reachable: %s", engine_failure_hint(r.err));
        else
                finding(d, 'E', "daemon not usable (%s version exited with %d): start dockerd, or see `%s version`",
                        e->path, r.exit_code, e->path);
        engine_result_done(&r);
        return ok;
}

static void check_kernel(struct doctor *d) {
        /* The module may be built in or loaded on demand; only a kernel with
         * no trace of nf_tables is worth a warning. */
        if (access("/sys/module/nf_tables", F_OK) == 0 || access("/proc/net/netfilter", F_OK) == 0)
                finding(d, 'O', "kernel netfilter present (nf_tables)");
        else
                finding(d, 'W', "no nf_tables in this kernel yet: run `modprobe nf_tables` (the sandbox firewall needs it)");
}

static bool image_present(const struct engine *e, const char *image) {
        char *const args[] = { "image", "inspect", "--format", "{{.Id}}", (char *) image, NULL };
        struct engine_result r = {};
        bool ok = engine_run(e, args, NULL, ENGINE_QUIET_OUT | ENGINE_CAPTURE_ERR, &r) == 0 && r.exit_code == 0;
        engine_result_done(&r);
        return ok;
}

static void check_images(struct doctor *d, const struct engine *e) {
        for (const struct agent *a = agent_table; a->name; a++) {
                bool base = !a->state_dir;
                if (image_present(e, a->image))
                        finding(d, 'O', "image %s present", a->image);
                else if (base)
                        finding(d, 'E', "image %s missing: build it with images/build.sh base", a->image);
                else
                        finding(d, 'W', "image %s missing (needed for agentbox run %s): build it with images/build.sh %s",
                                a->image, a->name, a->name);
        }
}

/* The init started the way agentbox run starts it, seccomp profile
 * included, so a profile the engine rejects shows here. */
static void check_init(struct doctor *d, const struct engine *e) {
        const char *image = agent_find("none")->image;
        _cleanup_free_ char *seccomp = NULL, *opt = NULL;
        if (seccomp_profile_install(&seccomp) < 0 || asprintf(&opt, "--security-opt=seccomp=%s", seccomp) < 0) {
                finding(d, 'E', "the seccomp profile could not be written (above)");
                return;
        }
        char *const args[] = { "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN",
                               "--cap-add", "SETPCAP", "--cap-add", "SETUID", "--cap-add", "SETGID", opt, (char *) image, "--version", NULL };
        struct engine_result r = {};
        if (engine_run(e, args, NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r) == 0 && r.exit_code == 0)
                finding(d, 'O', "the image's init starts: %.*s", (int) strcspn(r.out, "\n"), r.out);
        else
                finding(d, 'E', "the init in %s does not start (exit %d): rebuild it with images/build.sh base", image,
                        r.exit_code);
        engine_result_done(&r);
}

static void check_policy(struct doctor *d) {
        struct project p;
        struct userpolicy u = {};
        if (project_open(NULL, &p) < 0)
                return;
        if (userpolicy_open(&p, &u) == 0) {
                const char *files[] = { u.have_global ? u.global : NULL, u.have_project ? u.project : NULL };
                for (size_t i = 0; i < ELEMENTSOF(files); i++)
                        if (files[i] && userpolicy_validate_file(files[i]) < 0)
                                finding(d, 'E', "policy %s has errors (above): fix them, then agentbox policy validate", files[i]);
                        else if (files[i])
                                finding(d, 'O', "policy %s valid", files[i]);
        }
        userpolicy_done(&u);
        project_done(&p);
}

/* No declared needs: a missing engine or project is a finding here, not a
 * reason to stop. */
static int cmd_doctor(struct verb_call *c) {
        struct agentbox *ab = c->ab;
        struct doctor d = {};
        const char *wanted = NULL;
        const struct engine *e = NULL;
        if (engine_find(ab->engine_request, &ab->engine, &wanted) < 0)
                finding(&d, 'E', "engine %s not installed: install docker.io (apt-get install docker.io) or podman, or set AGENTBOX_ENGINE",
                        wanted);
        else {
                ab->have_engine = true;
                e = &ab->engine;
                finding(&d, 'O', "engine %s", e->path);
                if (e->podman)
                        finding(&d, 'W', "podman gives the container user ambient capabilities (NET_ADMIN in every shell); agent-sandbox-init refuses one container run that way: use split mode (agentbox run --split) or docker");
        }
        check_kernel(&d);
        bool daemon = e && check_daemon(&d, e);
        if (daemon) {
                check_images(&d, e);
                if (image_present(e, agent_find("none")->image))
                        check_init(&d, e);
        }
        check_policy(&d);
        printf("%u error(s), %u warning(s)\n", d.fatal, d.warnings);
        if (d.fatal == 0)
                return AGENTBOX_EXIT_OK;
        return daemon ? AGENTBOX_EXIT_FAILURE : AGENTBOX_EXIT_ENGINE;
}

const struct verb verb_doctor = {
        .name = "doctor",
        .summary = "check the engine, daemon, kernel, images and policy files; say how to fix",
        .usage =
                "Usage: agentbox doctor\n\n"
                "Check what a sandbox needs: the engine is installed, its daemon runs, the kernel\n"
                "has nf_tables, the engine's capability semantics (podman is refused), the images\n"
                "exist and their init starts, and your policy files parse. One line per finding\n"
                "with its fix.\n\n"
                "Exit code: 0 nothing fatal, 1 something fatal, 125 no engine or no daemon.\n",
        .run = cmd_doctor,
};
