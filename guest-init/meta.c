/* SPDX-License-Identifier: MIT */
/* The GitHub meta fetch, privilege-separated: PID 1 forks a child that
 * reads the configured CA file, drops every privilege (nobody when we are
 * root, always no capabilities, no_new_privs, not dumpable), loads libcurl,
 * fetches and parses the document, and writes back one line per range. PID
 * 1 only reads those lines from a pipe on its event loop, each parsed as a
 * prefix; it never maps libcurl or TLS, and never parses the network's
 * JSON. */
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "childproc.h"
#include "environ.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "meta_http.h"
#include "meta_parse.h"
#include "netmark.h"
#include "privdrop.h"
#include "timeouts.h"

/* What the child writes: "P <prefix>" lines, then "OK"; or "E <why>". The
 * child's meta_parse() keeps to meta_ranges_check()'s bounds, and PID 1
 * checks them again: it trusts nothing the child says. */
#define META_MAX_REPLY (META_MAX_RANGES * (IP_PREFIX_STRLEN + 3) + 1024)
/* The child's own timeout covers the transfer; this covers the child. */
#define META_CHILD_GRACE_MS 2000

struct meta_fetch {
        struct loop *loop;
        pid_t child;                    /* 0: none running */
        int child_pidfd;                /* the child for sure, even once its pid is reused; or -1 */
        int fd;                         /* the read end of its pipe, or -1 */
        bool child_done;                /* it closed the pipe: exited, or about to */
        char *reply;
        size_t len;
        bool finished;
        char *snapshot_path;
        char *why;                      /* set once the live fetch has failed */
        meta_done_fn done;
        void *userdata;
};

__attribute__((format(printf, 2, 3)))
static void set_why(struct meta_fetch *m, const char *fmt, ...) {
        va_list ap;
        if (m->why)
                return;
        va_start(ap, fmt);
        if (vasprintf(&m->why, fmt, ap) < 0)
                m->why = NULL;
        va_end(ap);
}

/* ---- the child -------------------------------------------------------- */

static void tell_parent(int fd, const char *buf, size_t n) {
        if (base_write_all(fd, buf, n) < 0)
                _exit(1);       /* PID 1 stopped listening: nothing to tell */
}

static void reply_error(int out, const char *why) {
        char line[1024];
        int n = snprintf(line, sizeof(line), "E %s\n", why ? why : "out of memory");
        size_t len = n < 0 ? 0 : (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1;
        if (len < 3)
                return;
        /* One line, whatever the library put in its message, cut or not. */
        for (size_t i = 2; i < len - 1; i++)
                if (line[i] == '\n' || line[i] == '\r')
                        line[i] = ' ';
        line[len - 1] = '\n';
        tell_parent(out, line, len);
}

/* Who the child becomes: nobody when we are root (then we may), else
 * ourselves without any capability. */
static void child_user(struct target_user *u) {
        *u = (struct target_user) { .uid = getuid(), .gid = getgid() };
        if (u->uid == 0) {
                u->uid = 65534;
                u->gid = 65534;
                u->groups[0] = 65534;
                u->n_groups = 1;
        }
}

/* libcurl tries the pinned addresses one after another (and both families
 * at once): a socket for each, at most this many per family. */
#define META_SOCKETS_PER_FAMILY 4

/* Sockets for the transfer, made while the child still holds the
 * capability that marking takes. */
static int prepare_sockets(const struct meta_config *cfg, struct meta_socket *sockets, size_t max, size_t *ret_n) {
        size_t n = 0;
        for (int pass = 0; pass < 2; pass++) {
                int family = pass == 0 ? AF_INET : AF_INET6;
                size_t wanted = 0;
                for (size_t i = 0; i < cfg->n_host_addrs; i++)
                        wanted += cfg->host_addrs[i].family == family;
                if (wanted > META_SOCKETS_PER_FAMILY)
                        wanted = META_SOCKETS_PER_FAMILY;
                for (size_t i = 0; i < wanted && n < max; i++) {
                        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
                        if (fd < 0)
                                return -errno;
                        int r = netmark_socket(fd, NETMARK_INIT_SOCKET);
                        if (r < 0) {
                                close(fd);
                                return r;
                        }
                        sockets[n++] = (struct meta_socket) { .fd = fd, .family = family };
                }
        }
        *ret_n = n;
        return 0;
}

_Noreturn static void child_run(int out, const struct meta_config *cfg, const char *resolve) {
        struct meta_socket sockets[2 * META_SOCKETS_PER_FAMILY];
        size_t n_sockets = 0;
        char *why = NULL, *ca = NULL, *body = NULL;
        size_t ca_len = 0, body_len = 0;
        struct target_user u;

        childproc_detach("meta-fetch");
        int keep[] = { out };
        if (childproc_keep_fds(keep, ELEMENTSOF(keep)) < 0) {
                reply_error(out, "the fetch process could not close PID 1's descriptors");
                _exit(0);
        }
        out = keep[0];
        childproc_scrub_environment();

        /* Read while we may: the file can be root's alone. */
        if (cfg->ca_file && meta_read_ca_file(cfg->ca_file, &ca, &ca_len, &why) < 0) {
                reply_error(out, why);
                _exit(0);
        }
        if (cfg->mark_sockets && prepare_sockets(cfg, sockets, ELEMENTSOF(sockets), &n_sockets) < 0) {
                reply_error(out, "the fetch process could not mark its sockets as the init's own (SO_MARK)");
                _exit(0);
        }
        child_user(&u);
        if (privdrop_apply(&u) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                reply_error(out, "the fetch process could not drop its privileges");
                _exit(0);
        }
        /* After the drop, which would clear it: outlive no `apply` that
         * started us. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

        struct meta_http_request req = {
                .url = cfg->url, .resolve = resolve, .ca_pem = ca, .ca_pem_len = ca_len,
                .sockets = cfg->mark_sockets ? sockets : NULL, .n_sockets = n_sockets,
                .timeout_ms = cfg->timeout_ms,
        };
        if (meta_http_get(&req, &body, &body_len, &why) < 0) {
                reply_error(out, why);
                _exit(0);
        }
        struct ip_prefix *prefixes = NULL;
        size_t n = 0;
        char *error = NULL;
        if (meta_parse(body, body_len, &prefixes, &n, &error) < 0) {
                char text[600];
                snprintf(text, sizeof(text), "the answer is not a usable meta document: %s", error ? error : "?");
                reply_error(out, text);
                _exit(0);
        }
        for (size_t i = 0; i < n; i++) {
                char line[IP_PREFIX_STRLEN + 4] = "P ";
                ip_prefix_format(&prefixes[i], line + 2);
                strcat(line, "\n");
                tell_parent(out, line, strlen(line));
        }
        tell_parent(out, "OK\n", 3);
        _exit(0);
}

/* ---- PID 1's side ------------------------------------------------------- */

/* The one fetch child that may be running, for the supervisor, which must
 * not count it among the processes that keep the container up. */
static pid_t live_child;

/* The child's reply → prefixes; anything unexpected is a failed fetch. */
static int parse_reply(struct meta_fetch *m, struct ip_prefix **ret, size_t *ret_n) {
        _cleanup_free_ struct ip_prefix *list = NULL;
        size_t n = 0, cap = 0;
        bool ok = false;
        for (char *line = m->reply, *end; line && line < m->reply + m->len && !ok; line = end + 1) {
                end = memchr(line, '\n', m->len - (size_t) (line - m->reply));
                if (!end)
                        break;
                *end = '\0';
                if (strncmp(line, "E ", 2) == 0) {
                        set_why(m, "%s", line + 2);
                        return -EIO;
                }
                if (strcmp(line, "OK") == 0) {
                        ok = true;
                        break;
                }
                struct ip_prefix p;
                if (strncmp(line, "P ", 2) != 0 || ip_prefix_parse(line + 2, &p) < 0)
                        break;
                if (n == META_MAX_RANGES)
                        break;
                if (n == cap) {
                        cap = cap ? cap * 2 : 256;
                        struct ip_prefix *grown = realloc(list, cap * sizeof(*list));
                        if (!grown)
                                return -ENOMEM;
                        list = grown;
                }
                list[n++] = p;
        }
        if (!ok) {
                set_why(m, "%s", "the fetch process ended without a usable answer");
                return -EIO;
        }
        _cleanup_free_ char *error = NULL;
        if (meta_ranges_check(list, n, &error) < 0) {
                set_why(m, "the fetch process answered ranges that %s", error ? error : "are out of bounds");
                return -EIO;
        }
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

/* The supervisor reaps every child of PID 1 as it exits, so the child's
 * pid may name another process by now: it is only ever signalled and
 * waited for through its pidfd. Without pidfds (Linux < 5.3) a child that
 * already closed its pipe is left to the supervisor, and one that did not
 * (it timed out) cannot have been reaped, so its pid is still its own. */
static void stop_child(struct meta_fetch *m, bool running) {
        if (m->fd >= 0) {
                (void) loop_remove_io(m->loop, m->fd);
                close(m->fd);
                m->fd = -1;
        }
        if (m->child_pidfd >= 0) {
                /* Never wait here: a child we may not signal (root without
                 * CAP_KILL, the child being nobody) or one stuck in the
                 * kernel must not stop PID 1. A child still running ends at
                 * its own timeout, and the supervisor reaps it then. */
                (void) syscall(SYS_pidfd_send_signal, m->child_pidfd, SIGKILL, NULL, 0);
                siginfo_t info;
                while (waitid(P_PIDFD, (id_t) m->child_pidfd, &info, WEXITED | WNOHANG) < 0 && errno == EINTR)
                        ;
                close(m->child_pidfd);
                m->child_pidfd = -1;
        } else if (m->child > 0 && running)
                kill(m->child, SIGKILL);
        if (live_child == m->child)
                live_child = 0;
        m->child = 0;
}

pid_t meta_fetch_child(void) {
        return live_child;
}

/* Live result or snapshot, then the callback; at most once. */
static void meta_finish(struct meta_fetch *m) {
        struct meta_result res = {.source = "live"};
        _cleanup_free_ char *error = NULL;

        if (m->finished)
                return;
        m->finished = true;
        loop_cancel_timer(m->loop, m);
        stop_child(m, !m->child_done);
        if (!m->why && parse_reply(m, &res.prefixes, &res.n_prefixes) < 0)
                set_why(m, "%s", "out of memory");
        if (m->why) {
                res.source = "snapshot";
                res.why_live_failed = m->why;
                /* An empty snapshot path: the caller wants the live answer only. */
                res.error = m->snapshot_path[0] ? meta_load_snapshot(m->snapshot_path, &res.prefixes,
                                                                     &res.n_prefixes, &error)
                                                : -ENOENT;
                if (res.error < 0 && m->snapshot_path[0]) {
                        char *both = NULL;
                        if (asprintf(&both, "%s; snapshot: %s", m->why, error ? error : "unusable") >= 0) {
                                free(m->why);
                                m->why = both;
                                res.why_live_failed = both;
                        }
                }
        }
        m->done(&res, m->userdata);
        free(res.prefixes);
}

static int on_reply(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct meta_fetch *m = userdata;
        for (;;) {
                if (m->len == META_MAX_REPLY) {
                        set_why(m, "%s", "the fetch process answered more than it can have");
                        meta_finish(m);
                        return 0;
                }
                /* Untouched pages of this buffer cost nothing; it is freed
                 * with the fetch. */
                if (!m->reply && !(m->reply = malloc(META_MAX_REPLY + 1))) {
                        set_why(m, "%s", "out of memory");
                        meta_finish(m);
                        return 0;
                }
                ssize_t n = read(fd, m->reply + m->len, META_MAX_REPLY - m->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0) {           /* EOF (or an error): the child is done */
                        m->child_done = true;
                        meta_finish(m);
                        return 0;
                }
                m->len += (size_t) n;
        }
}

static int on_child_timeout(struct loop *l, void *userdata) {
        struct meta_fetch *m = userdata;
        set_why(m, "%s", "the fetch process did not finish in time");
        meta_finish(m);
        return 0;
}

static int finish_from_loop(struct loop *l, void *userdata) {
        meta_finish(userdata);
        return 0;
}

static int start_child(struct meta_fetch *m, const struct meta_config *cfg) {
        char resolve[2048];
        if (meta_resolve_entry(cfg->url, cfg->host_addrs, cfg->n_host_addrs, resolve, sizeof(resolve)) < 0) {
                set_why(m, "%s is not a valid http(s) URL", cfg->url);
                return 0;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        fflush(NULL);   /* nothing buffered may be written twice */
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[0]);
                child_run(p[1], cfg, resolve);
        }
        close(p[1]);
        m->child = pid;
        live_child = pid;
        /* Nothing reaps between fork and here: we are the only thread. */
        m->child_pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        m->fd = p[0];
        if (fcntl(m->fd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        int r = loop_add_io(m->loop, m->fd, EPOLLIN, on_reply, m);
        if (r < 0)
                return r;
        unsigned timeout = (cfg->timeout_ms ? cfg->timeout_ms : TIMEOUT_META_FETCH_MS) + META_CHILD_GRACE_MS;
        return loop_set_timer(m->loop, m, loop_now_usec() + (uint64_t) timeout * 1000, on_child_timeout, m);
}

int meta_fetch_start(struct loop *l, const struct meta_config *cfg, meta_done_fn done, void *userdata,
                     struct meta_fetch **ret) {
        struct meta_fetch *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        *m = (struct meta_fetch) {.loop = l, .fd = -1, .child_pidfd = -1, .done = done, .userdata = userdata};
        m->snapshot_path = strdup(cfg->snapshot_path ? cfg->snapshot_path : "");
        if (!m->snapshot_path) {
                free(m);
                return -ENOMEM;
        }
        int r = 0;
        if (cfg->n_host_addrs == 0)
                set_why(m, "%s", "the meta host did not resolve");
        else
                r = start_child(m, cfg);
        /* Without a child to wait for, answer from the loop all the same. */
        if (r == 0 && m->why)
                r = loop_set_timer(l, m, 0, finish_from_loop, m);
        if (r < 0) {
                meta_fetch_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

void meta_fetch_free(struct meta_fetch *m) {
        if (!m)
                return;
        loop_cancel_timer(m->loop, m);
        stop_child(m, !m->child_done);
        free(m->reply);
        free(m->why);
        free(m->snapshot_path);
        free(m);
}
