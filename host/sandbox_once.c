/* SPDX-License-Identifier: MIT */
/* A fresh sandbox for one command: a single `run --rm` in which the init
 * runs the command itself once its firewall is up. One engine call, like a
 * plain `docker run`, and the engine removes the container at the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "log.h"
#include "macro.h"
#include "sandbox.h"

int sandbox_cidfile_new(struct sandbox_cidfile *ret) {
        const char *base = getenv("XDG_RUNTIME_DIR");
        char *dir = NULL, *path = NULL;
        if (asprintf(&dir, "%s/agentbox-XXXXXX", base && *base == '/' ? base : "/tmp") < 0)
                return log_oom();
        if (!mkdtemp(dir)) {
                int r = log_error_errno(negative_errno(), "cannot make a directory for the container ID (%s): %m", dir);
                free(dir);
                return r;
        }
        if (asprintf(&path, "%s/cid", dir) < 0) {
                rmdir(dir);
                free(dir);
                return log_oom();
        }
        *ret = (struct sandbox_cidfile) { .dir = dir, .path = path };
        return 0;
}

void sandbox_cidfile_done(struct sandbox_cidfile *c) {
        if (c->path)
                (void) unlink(c->path);
        if (c->dir)
                (void) rmdir(c->dir);
        free(c->path);
        free(c->dir);
        *c = (struct sandbox_cidfile) {};
}

/* The container this run created, by the ID the engine wrote: never one of
 * the same name that another session made meanwhile. */
static void remove_created(const struct engine *e, const struct sandbox_cidfile *cid) {
        char id[128] = "";
        FILE *f = fopen(cid->path, "re");
        if (!f)
                return;         /* the engine created nothing */
        if (!fgets(id, sizeof(id), f))
                id[0] = '\0';
        fclose(f);
        id[strcspn(id, "\r\n")] = '\0';
        if (!id[0])
                return;
        char *const args[] = { "rm", "-f", id, NULL };
        struct engine_result r = {};
        (void) engine_run(e, args, NULL, ENGINE_QUIET_OUT | ENGINE_CAPTURE_ERR, &r);
        engine_result_done(&r);
}

int sandbox_run_once(const struct engine *e, const struct sandbox_cidfile *cid, const char *image,
                     char *const *args, char *const *envp, bool *ret_name_taken, bool *ret_signalled) {
        *ret_name_taken = false;
        /* A file left by an attempt before must not name this run's container. */
        (void) unlink(cid->path);
        struct stderr_relay relay;
        int sig;
        /* SIGTERM and SIGHUP (the terminal went away) both end the command:
         * the client passes SIGTERM to the init as a shutdown when it
         * proxies signals, where a hang-up would mean "reload". */
        int code = attach_run(e, args, envp, ATTACH_END, &relay, &sig);
        *ret_signalled = sig != 0;
        if (code < 0)
                code = engine_report_spawn_error(e, code);
        else if (code == AGENTBOX_EXIT_ENGINE && relay.name_taken)
                *ret_name_taken = true;
        else if (code == AGENTBOX_EXIT_ENGINE && relay.held_len > 0) {
                /* The engine failed before the sandbox started: one line that
                 * says what to do instead of its own. */
                char what[600];
                snprintf(what, sizeof(what), "starting the sandbox from %s", image);
                code = engine_report_failure(e, what, &(struct engine_result) { .exit_code = code, .err = relay.held });
        } else {
                stderr_relay_release(&relay);
                /* An image built before its init learnt what we ask of it. */
                if (code == AGENTBOX_EXIT_USAGE && engine_failure_kind(relay.head) == ENGINE_FAILURE_OLD_INIT) {
                        log_error("%s: %s", image, engine_failure_hint(relay.head));
                        code = AGENTBOX_EXIT_FAILURE;
                }
        }
        /* With a terminal the client ends on the signal without passing it
         * on, and the container would outlive us. */
        if (sig)
                remove_created(e, cid);
        return code;
}
