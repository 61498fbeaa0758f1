/* A fresh sandbox for one command: a single `run --rm` in which the init
 * runs the command itself once its firewall is up. One engine call, like a
 * plain `docker run`, and the engine removes the container at the end. */
#include <stdio.h>
#include <unistd.h>

#include "attach.h"
#include "sandbox.h"

static void remove_quietly(const struct engine *e, const char *name) {
        char *const args[] = { "rm", "-f", (char *) name, NULL };
        struct engine_result r = {};
        (void) engine_run(e, args, NULL, ENGINE_QUIET_OUT | ENGINE_CAPTURE_ERR, &r);
        engine_result_done(&r);
}

int sandbox_run_once(const struct engine *e, const char *name, const char *image, char *const *args,
                     char *const *envp, bool *ret_name_taken) {
        *ret_name_taken = false;
        struct stderr_relay relay;
        int sig;
        /* SIGTERM and SIGHUP (the terminal went away) both end the command:
         * the client passes SIGTERM to the init as a shutdown when it
         * proxies signals, where a hang-up would mean "reload". */
        int code = attach_run(e, args, envp, ATTACH_END, &relay, &sig);
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
                        fprintf(stderr, "agentbox: %s: %s\n", image, engine_failure_hint(relay.head));
                        code = AGENTBOX_EXIT_FAILURE;
                }
        }
        /* With a terminal the client ends on the signal without passing it
         * on, and the container would outlive us. */
        if (sig)
                remove_quietly(e, name);
        return code;
}
