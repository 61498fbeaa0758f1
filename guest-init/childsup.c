/* SPDX-License-Identifier: MIT */
#include "childsup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "childproc.h"
#include "log.h"
#include "macro.h"
#include "privdrop.h"

#define RESTART_BACKOFF_MIN_MS 100u
#define RESTART_BACKOFF_MAX_MS 10000u
/* A child that ran this long before it died starts again after the
 * shortest backoff. */
#define RESTART_HEALTHY_USEC (60u * 1000000u)

void childsup_init(struct childsup *c, struct loop *l, const struct childsup_config *cfg) {
        *c = (struct childsup) { .loop = l, .cfg = *cfg, .control_fd = -1, .pidfd = -1 };
}

static void publish(struct childsup *c, pid_t pid) {
        c->pid = pid;
        if (c->cfg.published_pid)
                *c->cfg.published_pid = pid;
}

/* ---- in the child ------------------------------------------------------- */

_Noreturn static void child_run(struct childsup *c, int control) {
        int fds[CHILDSUP_KEEP_MAX + 1];
        size_t n = c->cfg.n_keep_fds;
        if (n > CHILDSUP_KEEP_MAX) {
                log_error("the %s was given more descriptors than it may keep", c->cfg.name);
                _exit(1);
        }
        if (n)          /* keep_fds may be NULL when there are none */
                memcpy(fds, c->cfg.keep_fds, n * sizeof(*fds));
        fds[n] = control;

        childproc_detach(c->cfg.comm);
        if (childproc_keep_fds(fds, n + 1) < 0) {
                log_error("the %s could not close PID 1's descriptors", c->cfg.name);
                _exit(1);
        }
        childproc_scrub_environment();
        struct target_user u = { .uid = c->cfg.uid, .gid = c->cfg.gid };
        if (privdrop_apply(&u) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                log_error("the %s could not drop its privileges", c->cfg.name);
                _exit(1);
        }
        /* After the drop, which clears it. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        _exit(c->cfg.child_main(fds, c->cfg.userdata) < 0 ? 1 : 0);
}

/* ---- in PID 1 ----------------------------------------------------------- */

static int on_child_exit(struct loop *l, int fd, uint32_t events, void *userdata);

void childsup_forget(struct childsup *c) {
        if (c->control_fd >= 0) {
                (void) loop_remove_io(c->loop, c->control_fd);
                close(c->control_fd);
                c->control_fd = -1;
        }
        if (c->pidfd >= 0) {
                (void) loop_remove_io(c->loop, c->pidfd);
                close(c->pidfd);
                c->pidfd = -1;
        }
        publish(c, 0);
}

/* Without our end of its control socket the child serves nothing; it is
 * killed so that it does not linger, and the supervisor reaps it. */
static void child_kill(struct childsup *c) {
        if (c->pidfd >= 0)
                (void) syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
        childsup_forget(c);
}

static int child_start(struct childsup *c) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return log_error_errno(-errno, "Failed to create the %s's control socket: %m", c->cfg.name);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(sv[0]);
                close(sv[1]);
                return log_error_errno(r, "Failed to start the %s: %m", c->cfg.name);
        }
        if (pid == 0) {
                close(sv[0]);
                child_run(c, sv[1]);
        }
        close(sv[1]);
        publish(c, pid);
        c->control_fd = sv[0];
        c->started_usec = loop_now_usec();
        /* Nothing reaps between fork and here: we are the only thread. */
        c->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        int r = c->pidfd < 0 ? -errno : 0;
        if (r == 0)
                r = loop_add_io(c->loop, c->pidfd, EPOLLIN, on_child_exit, c);
        if (r == 0)
                r = loop_add_io(c->loop, c->control_fd, EPOLLIN, c->cfg.on_control, c->cfg.userdata);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the %s: %m", c->cfg.name);
                child_kill(c);
                return r;
        }
        if (c->cfg.port)
                log_info("%s started (pid %d, uid %u, on port %u of loopback)", c->cfg.name, pid, (unsigned) c->cfg.uid,
                         c->cfg.port);
        else
                log_info("%s started (pid %d, uid %u)", c->cfg.name, pid, (unsigned) c->cfg.uid);
        return 0;
}

static int restart_due(struct loop *l, void *userdata) {
        struct childsup *c = userdata;
        if (c->control_fd < 0 && c->wanted)
                (void) child_start(c);
        return 0;
}

static void schedule_restart(struct childsup *c, unsigned ms) {
        (void) loop_set_timer(c->loop, c, loop_now_usec() + (uint64_t) ms * 1000u, restart_due, c);
}

static int on_child_exit(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct childsup *c = userdata;
        bool healthy = loop_now_usec() - c->started_usec > RESTART_HEALTHY_USEC;
        c->backoff_ms = healthy || !c->backoff_ms ? RESTART_BACKOFF_MIN_MS
                      : c->backoff_ms * 2 > RESTART_BACKOFF_MAX_MS ? RESTART_BACKOFF_MAX_MS : c->backoff_ms * 2;
        log_error("the %s (pid %d) ended; %s until it is restarted in %u ms", c->cfg.name, c->pid,
                  c->cfg.while_down, c->backoff_ms);
        childsup_forget(c);
        schedule_restart(c, c->backoff_ms);
        return 0;
}

int childsup_start(struct childsup *c) {
        loop_cancel_timer(c->loop, c);
        c->wanted = true;
        c->backoff_ms = 0;
        return child_start(c);
}

void childsup_stop(struct childsup *c) {
        c->wanted = false;
        loop_cancel_timer(c->loop, c);
        child_kill(c);
}

void childsup_restart(struct childsup *c) {
        child_kill(c);
        schedule_restart(c, RESTART_BACKOFF_MIN_MS);
}

int childsup_pidfd(const struct childsup *c) {
        return c->pidfd;
}
