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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "childsup.h"
#include "denials.h"
#include "log.h"
#include "log_budget.h"
#include "loopback_listen.h"
#include "macro.h"
#include "spliceproxy.h"
#include "spliceproxy_proto.h"

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
        struct childsup child;
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

/* ---- the child ------------------------------------------------------------ */

/* fds: the listening sockets, IPv4 then IPv6, then the control socket
 * (childsup.h). */
static int child_main(const int *fds, void *userdata) {
        struct spliceproxy_parent *s = userdata;
        struct spliceproxy_config cfg = {
                .listen4_fd = fds[0], .listen6_fd = fds[1], .control_fd = fds[2], .policy = s->policy,
        };
        return spliceproxy_main(&cfg);
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
                        childsup_restart(&s->child);
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
        *s = (struct spliceproxy_parent) { .loop = l, .cfg = *cfg, .listen_fds = { -1, -1 } };
        childsup_init(&s->child, l, &(struct childsup_config) {
                .name = "splice proxy", .comm = "splice-proxy",
                .while_down = "name-checked connections are refused",
                .uid = cfg->uid, .gid = cfg->gid, .port = cfg->port,
                .keep_fds = s->listen_fds, .n_keep_fds = ELEMENTSOF(s->listen_fds),
                .child_main = child_main, .on_control = on_control, .userdata = s,
                .published_pid = &proxy_child,
        });
        int r = loopback_listen(AF_INET, SOCK_STREAM, cfg->port, LISTEN_BACKLOG, &s->listen_fds[0]);
        if (r < 0) {
                spliceproxy_parent_free(s);
                return log_error_errno(r, "Failed to listen for name-checked connections on 127.0.0.1 port %u: %m%s",
                                       cfg->port, r == -EADDRINUSE ? " (another process holds the port; nothing may, in the sandbox)" : "");
        }
        r = loopback_listen(AF_INET6, SOCK_STREAM, cfg->port, LISTEN_BACKLOG, &s->listen_fds[1]);
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
        int child_pidfd = childsup_pidfd(&s->child);
        if (child_pidfd < 0)
                return;
        size_t slot = 0;
        for (size_t i = 0; i < RETIRED_MAX; i++)
                if (!s->retired[i].pid) {
                        slot = i;
                        break;
                }
        retired_drop(s, slot, true);
        struct retired *r = &s->retired[slot];
        int pidfd = fcntl(child_pidfd, F_DUPFD_CLOEXEC, 3);
        if (pidfd >= 0 && loop_add_io(s->loop, pidfd, EPOLLIN, on_retired_exit, r) == 0) {
                *r = (struct retired) { .owner = s, .pid = proxy_child, .pidfd = pidfd };
                retired_pids[slot] = proxy_child;
        } else {
                /* Untracked, it would keep the container up unseen: ended. */
                (void) syscall(SYS_pidfd_send_signal, child_pidfd, SIGKILL, NULL, 0);
                if (pidfd >= 0)
                        close(pidfd);
        }
        childsup_forget(&s->child);
}

int spliceproxy_parent_use(struct spliceproxy_parent *s, const struct policy *policy) {
        child_retire(s);
        s->policy = policy;
        return childsup_start(&s->child);
}

void spliceproxy_parent_free(struct spliceproxy_parent *s) {
        if (!s)
                return;
        childsup_stop(&s->child);
        for (size_t i = 0; i < RETIRED_MAX; i++)
                retired_drop(s, i, true);
        for (size_t i = 0; i < 2; i++)
                if (s->listen_fds[i] >= 0)
                        close(s->listen_fds[i]);
        free(s);
}
