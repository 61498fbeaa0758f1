/* SPDX-License-Identifier: MIT */
#include "attach.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The client is signalled through a pidfd, which names that process and
 * no other even after it was reaped and its pid reused; kernels without
 * pidfds (before 5.3) fall back to the pid. */
static volatile sig_atomic_t client_pidfd = -1;
static volatile sig_atomic_t client_pid;
static volatile sig_atomic_t got_signal;
static volatile sig_atomic_t end_on_hangup;

static void signal_client(int sig) {
        if (client_pidfd >= 0)
                (void) syscall(SYS_pidfd_send_signal, (int) client_pidfd, sig, NULL, 0);
        else if (client_pid > 0)
                (void) kill((pid_t) client_pid, sig);
}

static void on_signal(int sig) {
        int saved = errno;
        got_signal = sig;
        signal_client(end_on_hangup ? SIGTERM : sig);
        errno = saved;
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
                int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                client_pidfd = pidfd;
                if (pidfd < 0)
                        client_pid = pid;
                if (got_signal)         /* it came before we knew the pid */
                        signal_client(end_on_hangup ? SIGTERM : got_signal);
                relay_until_eof(fd, relay);
                close(fd);
                if (pidfd < 0) {
                        /* Wait for the exit without reaping (a zombie keeps
                         * its pid), then reap and forget the pid with our
                         * signals held, so that none reaches a process that
                         * took the pid over. */
                        sigset_t block, old_mask;
                        siginfo_t info;
                        while (waitid(P_PID, (id_t) pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
                                ;
                        sigemptyset(&block);
                        sigaddset(&block, SIGTERM);
                        sigaddset(&block, SIGHUP);
                        sigprocmask(SIG_BLOCK, &block, &old_mask);
                        code = engine_wait(pid);
                        client_pid = 0;
                        sigprocmask(SIG_SETMASK, &old_mask, NULL);
                } else {
                        code = engine_wait(pid);
                        client_pidfd = -1;
                        close(pidfd);
                }
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
