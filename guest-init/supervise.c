/* SPDX-License-Identifier: MIT */
#include "supervise.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "environ.h"
#include "log.h"
#include "loop.h"
#include "macro.h"
#include "meta.h"
#include "options.h"
#include "privcheck.h"
#include "privdrop.h"
#include "dnsproxy_parent.h"
#include "namegate_parent.h"
#include "readiness.h"
#include "sandbox.h"

extern char **environ;

struct supervisor {
        struct loop *loop;
        struct init_config cfg;
        struct target_user user;
        bool is_pid1;
        pid_t child;                    /* 0: none running */
        bool child_started;
        bool cmd_done;                  /* CMD ended while others still ran */
        int child_code;                 /* exit status or 128+signal, once it ended */
        bool shutting_down;
        int shutdown_signal;
        bool others_told;               /* the rest got SIGTERM + SIGHUP */
        uint64_t started_usec;
        char **cmd_env;                 /* room for CMD's environment, made before fork */
        char **original_env;            /* what --pass-env takes from (environ_read_original) */
        uint64_t ignored_logged_usec;   /* when the last "ignored signal" line was written */
        unsigned ignored_unlogged;      /* ignored since then, told with the next line */
};

/* One line per minute at most: a loop of `kill -HUP 1` must not flood the
 * log the engine keeps. */
#define IGNORED_SIGNAL_LOG_INTERVAL_USEC (60u * 1000000u)

static const int handled_signals[] = {
        SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
};

static int status_to_code(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 1;
}

/* Whether any process besides us is left in our pid namespace. */
static bool others_alive(const struct supervisor *s) {
        if (!s->is_pid1)
                return false;
        DIR *d = opendir("/proc");
        if (!d)
                return false;
        bool found = false;
        struct dirent *e;
        while (!found && (e = readdir(d))) {
                char *end;
                long pid = strtol(e->d_name, &end, 10);
                /* Our meta fetch, DNS resolver and name gate children
                 * are ours, not a terminal's. */
                found = *end == '\0' && pid > 1 && pid != (long) meta_fetch_child() &&
                        pid != (long) dnsproxy_parent_child() && !namegate_parent_owns((pid_t) pid);
        }
        closedir(d);
        return found;
}

static void child_exec(struct supervisor *s) {
        char storage[ENVIRON_BASE_MAX][512];
        sigset_t all;

        /* Our own process group, in the terminal's foreground if there is one,
         * so Ctrl-C and job control reach CMD the way they would without us. */
        setpgid(0, 0);
        if (isatty(STDIN_FILENO)) {
                signal(SIGTTOU, SIG_IGN);
                (void) tcsetpgrp(STDIN_FILENO, getpid());
        }
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);

        if (close_range(3, ~0U, 0) < 0)
                for (int fd = 3; fd < 65536; fd++)
                        close(fd);
        if (privdrop_apply(&s->user) < 0)
                _exit(126);

        const char *workdir = s->cfg.workdir;
        struct stat st;
        if (!workdir)
                workdir = stat("/workspace", &st) == 0 && S_ISDIR(st.st_mode) ? "/workspace" : s->user.home;
        /* Without an explicit --workdir, a user with no home still runs, in /. */
        if (chdir(workdir) < 0 && (s->cfg.workdir || chdir("/") < 0)) {
                fprintf(stderr, "agent-sandbox-init: error: cannot enter %s as %s: %s\n", workdir,
                        s->user.name, strerror(errno));
                _exit(126);
        }
        environ_build(&s->user, s->original_env ? s->original_env : environ, s->cfg.pass_env, s->cfg.n_pass_env,
                      storage, s->cmd_env);
        environ = s->cmd_env;
        execvp(s->cfg.cmd[0], s->cfg.cmd);
        fprintf(stderr, "agent-sandbox-init: error: cannot run %s: %s\n", s->cfg.cmd[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
}

static void finish(struct supervisor *s, int code) {
        loop_quit(s->loop, code);
}

static int grace_expired(struct loop *l, void *userdata) {
        struct supervisor *s = userdata;
        log_warning("grace period of %u s over: killing every process that is left", s->cfg.grace_seconds);
        if (s->is_pid1)
                kill(-1, SIGKILL);
        else if (s->child)
                kill(-s->child, SIGKILL);
        finish(s, s->child_started && !s->child ? s->child_code : 128 + s->shutdown_signal);
        return 0;
}

/* During shutdown only: notice when the last process is gone (exec'd
 * terminals are not our children, so no SIGCHLD tells us). */
static int shutdown_poll(struct loop *l, void *userdata) {
        struct supervisor *s = userdata;
        if (s->child)
                goto again;
        if (!others_alive(s)) {
                finish(s, s->child_started ? s->child_code : 128 + s->shutdown_signal);
                return 0;
        }
        if (!s->others_told) {
                /* CMD is gone; terminals attached with `docker exec` are going
                 * away with the container: tell them the way a closing
                 * terminal would. */
                s->others_told = true;
                kill(-1, SIGTERM);
                kill(-1, SIGHUP);
        }
again:
        return loop_set_timer(l, &s->shutdown_signal, loop_now_usec() + 50000, shutdown_poll, s);
}

static void forward(struct supervisor *s, int sig) {
        if (s->child)
                kill(s->cfg.process_group ? -s->child : s->child, sig);
}

static void begin_shutdown(struct supervisor *s, int sig) {
        if (!s->child_started && !s->cfg.cmd && !s->is_pid1) {
                finish(s, 128 + sig);
                return;
        }
        if (s->shutting_down) {
                forward(s, sig);
                return;
        }
        s->shutting_down = true;
        s->shutdown_signal = sig;
        log_info("%s: stopping (grace period %u s)", strsignal(sig), s->cfg.grace_seconds);
        forward(s, sig);
        (void) loop_set_timer(s->loop, s, loop_now_usec() + (uint64_t) s->cfg.grace_seconds * 1000000u,
                              grace_expired, s);
        (void) shutdown_poll(s->loop, s);
}

static void reap(struct supervisor *s) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        break;
                if (pid != s->child || !s->child)
                        continue;
                s->child = 0;
                s->child_code = status_to_code(status);
                log_info("%s exited with %d", s->cfg.cmd[0], s->child_code);
        }
        if (!s->child_started || s->child || s->shutting_down || s->cmd_done)
                return;
        if (s->cfg.exit_with_cmd && others_alive(s)) {
                /* The launcher that started us for this one command removes
                 * the container when it ends: end the terminals the way a
                 * shutdown does, and exit with CMD's code. */
                log_info("%s ended; ending the terminals still attached (--exit-with-cmd)", s->cfg.cmd[0]);
                s->shutting_down = true;
                s->shutdown_signal = SIGTERM;
                (void) loop_set_timer(s->loop, s, loop_now_usec() + (uint64_t) s->cfg.grace_seconds * 1000000u,
                                      grace_expired, s);
                (void) shutdown_poll(s->loop, s);
                return;
        }
        if (others_alive(s)) {
                log_info("%s ended while other processes (terminals attached with docker exec) still run; the container stays up until `docker stop`",
                         s->cfg.cmd[0]);
                s->cmd_done = true;     /* from now on, supervise like compose mode */
                return;
        }
        finish(s, s->child_code);
}

/* Whether the sender of a signal may make PID 1 act on it. The sandbox user
 * runs under PID 1's own uid, so the kernel lets it signal us; what tells
 * the engine (`docker stop`, `docker kill -s HUP`, which come from outside
 * our pid namespace and so carry pid 0) and root apart from it is what the
 * kernel recorded about the sender. Only kill() and tgkill() have that
 * recorded by the kernel: rt_sigqueueinfo() lets any sender write its own
 * pid and uid under a negative si_code, and a SIGIO-style signal
 * (F_SETOWN + F_SETSIG, a positive POLL_* code) has no sender fields, which
 * signalfd reports as pid 0 and uid 0. SI_KERNEL is the kernel itself: the
 * terminal's ^C, ^\ and window size. */
static bool sender_may_control(const struct signalfd_siginfo *si) {
        if (si->ssi_code == SI_KERNEL)
                return true;
        if (si->ssi_code != SI_USER && si->ssi_code != SI_TKILL)
                return false;
        return si->ssi_pid == 0 || si->ssi_uid == 0;
}

static void log_ignored(struct supervisor *s, const struct signalfd_siginfo *si) {
        uint64_t now = loop_now_usec();
        if (s->ignored_logged_usec && now - s->ignored_logged_usec < IGNORED_SIGNAL_LOG_INTERVAL_USEC) {
                s->ignored_unlogged++;
                return;
        }
        char more[64] = "";
        if (s->ignored_unlogged)
                snprintf(more, sizeof(more), " (and %u more since the last such line)", s->ignored_unlogged);
        log_warning("ignored signal SIG%s from pid %u (uid %u, code %d)%s: only the container engine "
                    "(docker stop, docker kill) and root may signal PID 1",
                    sigabbrev_np((int) si->ssi_signo) ? sigabbrev_np((int) si->ssi_signo) : "?",
                    si->ssi_pid, si->ssi_uid, si->ssi_code, more);
        s->ignored_logged_usec = now;
        s->ignored_unlogged = 0;
}

static int on_signal(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct supervisor *s = userdata;
        struct signalfd_siginfo si;

        while (read(fd, &si, sizeof(si)) == sizeof(si)) {
                int sig = (int) si.ssi_signo;
                /* Reaping only tidies up, whoever asks for it. */
                if (sig != SIGCHLD && !sender_may_control(&si)) {
                        log_ignored(s, &si);
                        continue;
                }
                switch (sig) {
                case SIGCHLD:
                        reap(s);
                        break;
                case SIGTERM:
                case SIGINT:
                        begin_shutdown(s, sig);
                        break;
                case SIGHUP:
                        sandbox_reload();
                        break;
                default:
                        forward(s, sig);
                }
        }
        return 0;
}

static void on_sandbox_ready(int error, void *userdata) {
        struct supervisor *s = userdata;
        if (error < 0) {
                /* Nothing of the user's has run: dying is safe, and it is the
                 * only honest answer to a sandbox that does not hold. */
                log_error("the sandbox is not ready; nothing was started");
                finish(s, 1);
                return;
        }
        if (s->shutting_down)
                return;
        (void) readiness_announce(s->loop);
        if (s->cfg.role == ROLE_FIREWALL) {
                log_info("firewall ready: nothing of the user's runs in this container; attach terminals to the agent's container beside it");
                return;
        }
        if (!s->cfg.cmd) {
                /* Running as root, the engine's exec defaults to root with
                 * every capability the container has, NET_ADMIN included. */
                if (s->cfg.role == ROLE_AGENT)
                        log_info("supervising: attach terminals with `docker exec` / `podman exec` / `kubectl exec` (they run as %s, without any capability)",
                                 s->user.name);
                else if (getuid() == 0)
                        log_info("supervising: attach terminals with `docker exec -u %s` / `podman exec -u %s` (without -u they run as root and can change the firewall)",
                                 s->user.name, s->user.name);
                else
                        log_info("supervising: attach terminals with `docker exec` (they run as %s)", s->user.name);
                return;
        }
        pid_t pid = fork();
        if (pid < 0) {
                log_error_errno(-errno, "Failed to start %s: %m", s->cfg.cmd[0]);
                finish(s, 1);
                return;
        }
        if (pid == 0)
                child_exec(s);
        s->child = pid;
        s->child_started = true;
        log_step("start", s->started_usec, "%s running as %s (pid %d)", s->cfg.cmd[0], s->user.name, pid);
}

static int setup_signals(struct supervisor *s) {
        sigset_t mask;
        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(handled_signals); i++)
                sigaddset(&mask, handled_signals[i]);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");
        signal(SIGPIPE, SIG_IGN);
        signal(SIGTTIN, SIG_IGN);
        signal(SIGTTOU, SIG_IGN);
        int fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create a signalfd: %m");
        return loop_add_io(s->loop, fd, EPOLLIN, on_signal, s);
}

int supervise_main(int argc, char **argv) {
        struct supervisor s = {.started_usec = loop_now_usec(), .is_pid1 = getpid() == 1};

        (void) privcheck_raise_effective();
        int r = options_parse(argc, argv, &s.cfg);
        if (r != 0)
                return r == 1 ? 0 : r;
        if (!s.is_pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                return log_error_errno(-errno, "Failed to become a child subreaper: %m"), 1;
        r = privcheck_startup(&s.cfg);
        if (r < 0)
                return r == -EINVAL ? 2 : 1;
        if (s.cfg.role == ROLE_FIREWALL && privcheck_firewall_role() < 0)
                return 1;
        if (s.cfg.role == ROLE_AGENT && privcheck_agent_role() < 0)
                return 1;
        r = privcheck_target_user(&s.cfg, &s.user);
        if (r < 0 || privcheck_system_uids_apart(&s.user) < 0)
                return 1;
        if (s.cfg.role != ROLE_AGENT && privcheck_firewall_capable() < 0)
                return 1;
        s.cmd_env = calloc(ENVIRON_BASE_MAX + s.cfg.n_pass_env + 1, sizeof(char *));
        if (!s.cmd_env)
                return log_oom(), 1;
        if (s.cfg.n_pass_env) {
                r = environ_read_original(&s.original_env);
                if (r < 0)
                        log_warning_errno(r, "cannot find the environment we were started with (%m); "
                                          "--pass-env gives CMD what the loader left");
        }
        /* The agent role has no uid to separate to, and needs none: the
         * sandbox user may signal and prlimit its own supervisor, which
         * guards nothing but the order of its own start. */
        if (s.cfg.role != ROLE_AGENT && privcheck_separate_uid() < 0)
                return 1;
        r = loop_new(&s.loop);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m"), 1;
        r = setup_signals(&s);
        if (r >= 0) {
                (void) readiness_reserve(s.cfg.role == ROLE_AGENT);
                r = sandbox_prepare(s.loop, &s.cfg, on_sandbox_ready, &s);
        }
        if (r < 0)
                log_error("the sandbox could not be prepared; nothing was started");
        else {
                r = loop_run(s.loop);
                if (r < 0)
                        log_error_errno(r, "The event loop failed: %m; stopping, which ends the container");
        }
        sandbox_finish();
        loop_free(s.loop);
        options_done(&s.cfg);
        free(s.cmd_env);
        free(s.original_env);
        return r < 0 ? 1 : r;
}
