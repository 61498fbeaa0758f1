/* A fresh sandbox for one command: a single `run --rm` in which the init
 * runs the command itself once its firewall is up. One engine call, like a
 * plain `docker run`, and the engine removes the container at the end. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "stderr_relay.h"

static volatile sig_atomic_t client_pid;
static volatile sig_atomic_t ended_by;

/* SIGTERM and SIGHUP (the terminal went away) both mean "end it": the
 * engine client gets SIGTERM, which it passes to the init as a shutdown
 * when it proxies signals; a hang-up passed on as is would mean "reload". */
static void end_request(int sig) {
        ended_by = sig;
        if (client_pid > 0)
                kill((pid_t) client_pid, SIGTERM);
}

static void relay_until_eof(int fd, struct stderr_relay *relay) {
        char buf[4096];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                stderr_relay_feed(relay, buf, (size_t) n);
        }
        stderr_relay_end(relay);
}

static void remove_quietly(const struct engine *e, const char *name) {
        char *const args[] = { "rm", "-f", (char *) name, NULL };
        struct engine_result r = {};
        (void) engine_run(e, args, NULL, ENGINE_QUIET_OUT | ENGINE_CAPTURE_ERR, &r);
        engine_result_done(&r);
}

int sandbox_run_once(const struct engine *e, const char *name, const char *image, char *const *args,
                     char *const *envp, bool *ret_name_taken) {
        *ret_name_taken = false;
        /* ^C reaches the command through the terminal (or through the engine,
         * which passes it on when there is no terminal): not ours to act on. */
        struct sigaction ign = { .sa_handler = SIG_IGN }, end = { .sa_handler = end_request }, old[4];
        ended_by = 0;
        client_pid = 0;
        sigaction(SIGINT, &ign, &old[0]);
        sigaction(SIGQUIT, &ign, &old[1]);
        sigaction(SIGTERM, &end, &old[2]);
        sigaction(SIGHUP, &end, &old[3]);

        pid_t pid;
        int fd;
        int code = engine_spawn_stderr_pipe(e, args, envp, &pid, &fd);
        if (code < 0)
                code = engine_report_spawn_error(e, code);
        else {
                client_pid = pid;
                if (ended_by)   /* a signal that came before we knew the pid */
                        kill(pid, SIGTERM);
                struct stderr_relay relay;
                stderr_relay_init(&relay, STDERR_FILENO);
                relay_until_eof(fd, &relay);
                close(fd);
                code = engine_wait(pid);
                client_pid = 0;
                if (code < 0)
                        code = AGENTBOX_EXIT_FAILURE;
                if (code == AGENTBOX_EXIT_ENGINE && relay.name_taken)
                        *ret_name_taken = true;
                else if (code == AGENTBOX_EXIT_ENGINE && relay.held_len > 0) {
                        /* The engine failed before the sandbox started: one
                         * line that says what to do instead of its own. */
                        char what[600];
                        snprintf(what, sizeof(what), "starting the sandbox from %s", image);
                        code = engine_report_failure(e, what, &(struct engine_result) { .exit_code = code,
                                                                                        .err = relay.held });
                } else
                        stderr_relay_release(&relay);
        }
        /* With a terminal the engine client ends on the signal without
         * passing it on, and the container would outlive us. */
        if (ended_by)
                remove_quietly(e, name);

        sigaction(SIGINT, &old[0], NULL);
        sigaction(SIGQUIT, &old[1], NULL);
        sigaction(SIGTERM, &old[2], NULL);
        sigaction(SIGHUP, &old[3], NULL);
        return code;
}
