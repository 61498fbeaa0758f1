#include "attach.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t client_pid;
static volatile sig_atomic_t got_signal;
static volatile sig_atomic_t end_on_hangup;

static void on_signal(int sig) {
        got_signal = sig;
        if (client_pid > 0)
                kill((pid_t) client_pid, end_on_hangup ? SIGTERM : sig);
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

int attach_run(const struct engine *e, char *const *args, char *const *envp, enum attach_hangup hangup,
               struct stderr_relay *relay, int *ret_signal) {
        struct sigaction ign = { .sa_handler = SIG_IGN }, fwd = { .sa_handler = on_signal }, old[5];
        got_signal = 0;
        client_pid = 0;
        end_on_hangup = hangup == ATTACH_END;
        stderr_relay_init(relay, STDERR_FILENO);
        /* The terminal sends ^C to the whole foreground group; the engine
         * passes it into the sandbox, so agentbox itself ignores it. */
        sigaction(SIGINT, &ign, &old[0]);
        sigaction(SIGQUIT, &ign, &old[1]);
        sigaction(SIGTERM, &fwd, &old[2]);
        sigaction(SIGHUP, &fwd, &old[3]);
        /* A reader of our stderr that went away must not take us down while
         * the client, and the sandbox, still run: the relay just drops. */
        sigaction(SIGPIPE, &ign, &old[4]);

        pid_t pid;
        int fd;
        int code = engine_spawn_stderr_pipe(e, args, envp, &pid, &fd);
        if (code == 0) {
                client_pid = pid;
                if (got_signal)         /* it came before we knew the pid */
                        kill(pid, end_on_hangup ? SIGTERM : got_signal);
                relay_until_eof(fd, relay);
                close(fd);
                code = engine_wait(pid);
                client_pid = 0;
        }

        sigaction(SIGINT, &old[0], NULL);
        sigaction(SIGQUIT, &old[1], NULL);
        sigaction(SIGTERM, &old[2], NULL);
        sigaction(SIGHUP, &old[3], NULL);
        sigaction(SIGPIPE, &old[4], NULL);
        if (ret_signal)
                *ret_signal = got_signal;
        return code;
}
