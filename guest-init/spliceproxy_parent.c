/* SPDX-License-Identifier: MIT */
#include "spliceproxy_parent.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "childproc.h"
#include "denials.h"
#include "log.h"
#include "log_budget.h"
#include "macro.h"
#include "privdrop.h"
#include "spliceproxy.h"
#include "spliceproxy_proto.h"

#define RESTART_BACKOFF_MIN_MS 100u
#define RESTART_BACKOFF_MAX_MS 10000u
#define RESTART_HEALTHY_USEC (60u * 1000000u)
/* Connections waiting for the child to accept them: as many as the kernel
 * allows (somaxconn caps it), so a burst is not refused while the child is
 * busy. */
#define LISTEN_BACKLOG 4096
/* Reports read per wake-up: a flood of refusals cannot hold PID 1's loop. */
#define REPORTS_PER_WAKE 64
/* Children of earlier policies still finishing their connections; a
 * reload beyond this many ends the oldest at once. */
#define RETIRED_MAX 4

struct spliceproxy_parent {
        struct loop *loop;
        struct spliceproxy_parent_config cfg;
        int listen_fds[2];              /* IPv4, IPv6; -1 when absent */
        const struct policy *policy;
        int control_fd;
        int child_pidfd;
        uint64_t child_started_usec;
        unsigned backoff_ms;
        struct log_budget full_log;     /* the proxy's "full" reports: a user can cause them at will */
        struct retired {
                struct spliceproxy_parent *owner;
                pid_t pid;              /* 0: free */
                int pidfd;
        } retired[RETIRED_MAX];
};

static pid_t proxy_child;
/* The pids of the retired children, for spliceproxy_parent_owns(). */
static pid_t retired_pids[RETIRED_MAX];

pid_t spliceproxy_parent_child(void) {
        return proxy_child;
}

bool spliceproxy_parent_owns(pid_t pid) {
        if (pid == 0)
                return false;
        if (pid == proxy_child)
                return true;
        for (size_t i = 0; i < RETIRED_MAX; i++)
                if (retired_pids[i] == pid)
                        return true;
        return false;
}

static int listen_on(int family, uint16_t port, int *ret) {
        struct sockaddr_storage ss = {0};
        socklen_t len;
        if (family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
                *sin = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons(port),
                                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                len = sizeof(*sin);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
                *sin6 = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_port = htons(port),
                                                .sin6_addr = IN6ADDR_LOOPBACK_INIT };
                len = sizeof(*sin6);
        }
        _cleanup_close_ int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        if (family == AF_INET6)
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        /* The proxy ends most connections first (the server's end is passed
         * on), so their TIME_WAIT entries hold this port for a minute: an
         * init started again in the same namespace (split mode's firewall
         * container, restarted by the engine) must still bind it.
         * SO_REUSEADDR allows that and nothing more: the kernel still
         * refuses a second socket on a port somebody listens on. No
         * SO_REUSEPORT: nobody may join the port and take connections. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
                return -errno;
        *ret = TAKE_FD(fd);
        return 0;
}

/* ---- the child ------------------------------------------------------------ */

_Noreturn static void child_run(struct spliceproxy_parent *s, int control) {
        int fds[3] = { s->listen_fds[0], s->listen_fds[1], control };

        childproc_detach("splice-proxy");
        if (childproc_keep_fds(fds, ELEMENTSOF(fds)) < 0) {
                log_error("the splice proxy could not close PID 1's descriptors");
                _exit(1);
        }
        childproc_scrub_environment();
        struct target_user u = { .uid = s->cfg.uid, .gid = s->cfg.gid };
        if (privdrop_apply(&u) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                log_error("the splice proxy could not drop its privileges");
                _exit(1);
        }
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        struct spliceproxy_config cfg = {
                .listen4_fd = fds[0], .listen6_fd = fds[1], .control_fd = fds[2], .policy = s->policy,
        };
        _exit(spliceproxy_main(&cfg) < 0 ? 1 : 0);
}

static int on_control(struct loop *l, int fd, uint32_t events, void *userdata);
static int on_child_exit(struct loop *l, int fd, uint32_t events, void *userdata);

static void child_forget(struct spliceproxy_parent *s) {
        if (s->control_fd >= 0) {
                (void) loop_remove_io(s->loop, s->control_fd);
                close(s->control_fd);
                s->control_fd = -1;
        }
        if (s->child_pidfd >= 0) {
                (void) loop_remove_io(s->loop, s->child_pidfd);
                close(s->child_pidfd);
                s->child_pidfd = -1;
        }
        proxy_child = 0;
}

static void child_stop(struct spliceproxy_parent *s) {
        if (s->child_pidfd >= 0)
                (void) syscall(SYS_pidfd_send_signal, s->child_pidfd, SIGKILL, NULL, 0);
        child_forget(s);
}

static int child_start(struct spliceproxy_parent *s) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return log_error_errno(-errno, "Failed to create the splice proxy's control socket: %m");
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(sv[0]);
                close(sv[1]);
                return log_error_errno(r, "Failed to start the splice proxy: %m");
        }
        if (pid == 0) {
                close(sv[0]);
                child_run(s, sv[1]);
        }
        close(sv[1]);
        proxy_child = pid;
        s->control_fd = sv[0];
        s->child_started_usec = loop_now_usec();
        s->child_pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        int r = s->child_pidfd < 0 ? -errno : 0;
        if (r == 0)
                r = loop_add_io(s->loop, s->child_pidfd, EPOLLIN, on_child_exit, s);
        if (r == 0)
                r = loop_add_io(s->loop, s->control_fd, EPOLLIN, on_control, s);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the splice proxy: %m");
                child_stop(s);
                return r;
        }
        log_info("splice proxy started (pid %d, uid %u, on port %u of loopback)", pid, (unsigned) s->cfg.uid,
                 s->cfg.port);
        return 0;
}

static int restart_due(struct loop *l, void *userdata) {
        struct spliceproxy_parent *s = userdata;
        if (s->control_fd < 0 && s->policy)
                (void) child_start(s);
        return 0;
}

static void schedule_restart(struct spliceproxy_parent *s, unsigned ms) {
        (void) loop_set_timer(s->loop, s, loop_now_usec() + (uint64_t) ms * 1000u, restart_due, s);
}

static int on_child_exit(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct spliceproxy_parent *s = userdata;
        bool healthy = loop_now_usec() - s->child_started_usec > RESTART_HEALTHY_USEC;
        s->backoff_ms = healthy || !s->backoff_ms ? RESTART_BACKOFF_MIN_MS
                      : s->backoff_ms * 2 > RESTART_BACKOFF_MAX_MS ? RESTART_BACKOFF_MAX_MS : s->backoff_ms * 2;
        log_error("the splice proxy (pid %d) ended; name-checked connections are refused until it is restarted in %u ms",
                  proxy_child, s->backoff_ms);
        child_forget(s);
        schedule_restart(s, s->backoff_ms);
        return 0;
}

static enum denial_reason reason_of(enum spliceproxy_why why) {
        switch (why) {
        case SPLICEPROXY_NO_NAME: return DENIAL_NAME_MISSING;
        case SPLICEPROXY_BAD_NAME: return DENIAL_NAME_INVALID;
        case SPLICEPROXY_AMBIGUOUS: return DENIAL_NAME_AMBIGUOUS;
        case SPLICEPROXY_MALFORMED: return DENIAL_NAME_MALFORMED;
        case SPLICEPROXY_TOO_LONG: return DENIAL_NAME_TOO_LONG;
        case SPLICEPROXY_TIMEOUT: return DENIAL_NAME_TIMEOUT;
        case SPLICEPROXY_UNSUPPORTED: return DENIAL_NAME_UNSUPPORTED;
        case SPLICEPROXY_NOT_IN_POLICY: default: return DENIAL_NOT_IN_POLICY;
        }
}

static void report_full(struct spliceproxy_parent *s, uint32_t dropped) {
        unsigned long skipped;
        if (!log_budget_take(&s->full_log, loop_now_usec(), &skipped))
                return;
        log_warning("the splice proxy is at its limit of name-checked connections: %u ended or refused to make room "
                    "(those that had not named a host yet go first, oldest first)%s",
                    (unsigned) dropped, skipped ? " (earlier reports like it left out)" : "");
}

static int on_control(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct spliceproxy_parent *s = userdata;
        union { struct spliceproxy_msg msg; char bytes[sizeof(struct spliceproxy_msg) + 1]; } buf;

        for (int i = 0; i < REPORTS_PER_WAKE; i++) {
                ssize_t n = recv(fd, &buf, sizeof(buf), MSG_DONTWAIT);
                if (n <= 0)
                        return 0;       /* drained, or the child is gone: on_child_exit restarts it */
                const struct spliceproxy_msg *m;
                if (spliceproxy_msg_check(&buf, (size_t) n, &m) < 0) {
                        log_error("the splice proxy sent a malformed message (%zd bytes); restarting it", n);
                        child_stop(s);
                        schedule_restart(s, RESTART_BACKOFF_MIN_MS);
                        return 0;
                }
                if (m->type == SPLICEPROXY_FULL) {
                        report_full(s, m->uid);
                        continue;
                }
                struct ip_prefix dst;
                ip_prefix_from_addr(m->family, m->addr, &dst);
                denials_name(s->cfg.denials, spliceproxy_kind_text(m->kind), m->name[0] ? m->name : NULL, &dst,
                             m->port, m->has_uid, m->uid, reason_of(m->why));
        }
        return 0;
}

/* ---- the interface -------------------------------------------------------- */

int spliceproxy_parent_new(struct loop *l, const struct spliceproxy_parent_config *cfg,
                           struct spliceproxy_parent **ret) {
        struct spliceproxy_parent *s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        *s = (struct spliceproxy_parent) { .loop = l, .cfg = *cfg, .control_fd = -1, .child_pidfd = -1,
                                           .listen_fds = { -1, -1 } };
        int r = listen_on(AF_INET, cfg->port, &s->listen_fds[0]);
        if (r < 0) {
                spliceproxy_parent_free(s);
                return log_error_errno(r, "Failed to listen for name-checked connections on 127.0.0.1 port %u: %m%s",
                                       cfg->port, r == -EADDRINUSE ? " (another process holds the port; nothing may, in the sandbox)" : "");
        }
        r = listen_on(AF_INET6, cfg->port, &s->listen_fds[1]);
        /* Without ::1 (no IPv6) nothing is redirected there either. */
        if (r < 0 && r != -EADDRNOTAVAIL && r != -EAFNOSUPPORT) {
                spliceproxy_parent_free(s);
                return log_error_errno(r, "Failed to listen for name-checked connections on [::1] port %u: %m", cfg->port);
        }
        *ret = s;
        return 0;
}

static void retired_drop(struct spliceproxy_parent *s, size_t i, bool kill) {
        struct retired *r = &s->retired[i];
        if (!r->pid)
                return;
        (void) loop_remove_io(s->loop, r->pidfd);
        if (kill)
                (void) syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
        close(r->pidfd);
        r->pid = retired_pids[i] = 0;
}

static int on_retired_exit(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct retired *r = userdata;
        retired_drop(r->owner, (size_t) (r - r->owner->retired), false);
        return 0;
}

/* A new policy: the child in place stops accepting and ends once its
 * connections have (spliceproxy.h), so that a reload does not cut what
 * the old policy allowed; the new one takes the listening sockets. */
static void child_retire(struct spliceproxy_parent *s) {
        if (s->child_pidfd < 0)
                return;
        size_t slot = 0;
        for (size_t i = 0; i < RETIRED_MAX; i++)
                if (!s->retired[i].pid) {
                        slot = i;
                        break;
                }
        retired_drop(s, slot, true);
        struct retired *r = &s->retired[slot];
        int pidfd = fcntl(s->child_pidfd, F_DUPFD_CLOEXEC, 3);
        if (pidfd >= 0 && loop_add_io(s->loop, pidfd, EPOLLIN, on_retired_exit, r) == 0) {
                *r = (struct retired) { .owner = s, .pid = proxy_child, .pidfd = pidfd };
                retired_pids[slot] = proxy_child;
        } else {
                /* Untracked, it would keep the container up unseen: ended. */
                (void) syscall(SYS_pidfd_send_signal, s->child_pidfd, SIGKILL, NULL, 0);
                if (pidfd >= 0)
                        close(pidfd);
        }
        child_forget(s);
}

int spliceproxy_parent_use(struct spliceproxy_parent *s, const struct policy *policy) {
        child_retire(s);
        loop_cancel_timer(s->loop, s);
        s->policy = policy;
        s->backoff_ms = 0;
        return child_start(s);
}

void spliceproxy_parent_free(struct spliceproxy_parent *s) {
        if (!s)
                return;
        loop_cancel_timer(s->loop, s);
        child_stop(s);
        for (size_t i = 0; i < RETIRED_MAX; i++)
                retired_drop(s, i, true);
        for (size_t i = 0; i < 2; i++)
                if (s->listen_fds[i] >= 0)
                        close(s->listen_fds[i]);
        free(s);
}
