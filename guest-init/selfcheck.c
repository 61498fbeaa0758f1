/* SPDX-License-Identifier: MIT */
#include "selfcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "netmark.h"

enum probe_kind { PROBE_ALLOWED, PROBE_BLOCKED, PROBE_FOREIGN_DNS, PROBE_COUNT };

enum probe_state { PROBE_IDLE, PROBE_RUNNING, PROBE_DONE };

struct probe {
        struct selfcheck *owner;
        enum probe_kind kind;
        enum probe_state state;
        int fd;
        uint64_t started_usec;
        uint64_t deadline_usec;
        int error;              /* 0: connected / answered; >0 errno; -ETIMEDOUT: no word at all */
};

struct selfcheck {
        struct loop *loop;
        struct selfcheck_config cfg;
        struct probe probes[PROBE_COUNT];
        selfcheck_done_fn done;
        void *userdata;
        bool finished;
};

static const struct selfcheck_target *probe_target(const struct probe *p) {
        const struct selfcheck_config *c = &p->owner->cfg;
        switch (p->kind) {
        case PROBE_ALLOWED:
                return &c->allowed;
        case PROBE_BLOCKED:
                return &c->blocked;
        default:
                return &c->foreign_dns;
        }
}

static socklen_t target_sockaddr(const struct selfcheck_target *t, struct sockaddr_storage *ss) {
        memset(ss, 0, sizeof(*ss));
        if (t->addr.family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *) ss;
                in->sin_family = AF_INET;
                in->sin_port = htons(t->port);
                memcpy(&in->sin_addr, t->addr.addr, 4);
                return sizeof(*in);
        }
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(t->port);
        memcpy(&in6->sin6_addr, t->addr.addr, 16);
        return sizeof(*in6);
}

static void probe_close(struct probe *p) {
        if (p->fd >= 0) {
                loop_remove_io(p->owner->loop, p->fd);
                close(p->fd);
                p->fd = -1;
        }
        loop_cancel_timer(p->owner->loop, p);
}

static void selfcheck_maybe_finish(struct selfcheck *s);

static void probe_finish(struct probe *p, int error) {
        if (p->state == PROBE_DONE)
                return;
        p->error = error;
        p->state = PROBE_DONE;
        probe_close(p);
        selfcheck_maybe_finish(p->owner);
}

/* A minimal DNS query for "." IN NS: any answer at all proves the packet left. */
static const uint8_t dns_probe_query[] = {
        0x5a, 0x5a, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x02, 0x00, 0x01,
};

static int probe_io(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct probe *p = userdata;
        int err = 0;
        socklen_t len = sizeof(err);

        if (p->kind == PROBE_FOREIGN_DNS) {
                uint8_t buf[512];
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n >= 0)
                        probe_finish(p, 0);
                else if (errno != EAGAIN && errno != EINTR)
                        probe_finish(p, errno);
                return 0;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        if (err == 0 && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                return 0;
        probe_finish(p, err);
        return 0;
}

static int probe_timeout(struct loop *l, void *userdata) {
        probe_finish(userdata, -ETIMEDOUT);
        return 0;
}

static void probe_start(struct probe *p, unsigned timeout_ms) {
        const struct selfcheck_target *t = probe_target(p);
        struct sockaddr_storage ss;
        socklen_t sslen = target_sockaddr(t, &ss);
        bool udp = p->kind == PROBE_FOREIGN_DNS;

        p->state = PROBE_RUNNING;
        p->started_usec = loop_now_usec();
        p->fd = socket(t->addr.family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->fd < 0) {
                probe_finish(p, errno);
                return;
        }
        int r = p->owner->cfg.unmarked ? 0 : netmark_socket(p->fd, NETMARK_PROBE_SOCKET);
        if (r < 0) {
                probe_finish(p, -r);
                return;
        }
        r = connect(p->fd, (struct sockaddr *) &ss, sslen);
        if (r < 0 && errno != EINPROGRESS) {
                /* A local refusal (EPERM from a drop, EHOSTUNREACH...) comes back right here. */
                probe_finish(p, errno);
                return;
        }
        if (udp && send(p->fd, dns_probe_query, sizeof(dns_probe_query), 0) < 0) {
                probe_finish(p, errno);
                return;
        }
        if (loop_add_io(p->owner->loop, p->fd, udp ? EPOLLIN : EPOLLOUT, probe_io, p) < 0 ||
            loop_set_timer(p->owner->loop, p, p->started_usec + (uint64_t) timeout_ms * 1000,
                           probe_timeout, p) < 0)
                probe_finish(p, ENOMEM);
}

static const char *error_text(int error, char *buf, size_t len) {
        if (error == 0)
                return "connected";
        if (error == -ETIMEDOUT)
                return "no answer before the timeout";
        snprintf(buf, len, "%s", strerror(error));
        return buf;
}

/* Append "name: result" for one probe to the summary. */
static void describe(const struct probe *p, const char *what, char *out, size_t len) {
        char addr[IP_PREFIX_STRLEN], buf[128];
        const struct selfcheck_target *t = probe_target(p);
        double ms = (double) (loop_now_usec() - p->started_usec) / 1000.0;
        size_t used = strlen(out);
        if (!t->present) {
                snprintf(out + used, len - used, "%s%s: not configured", used ? "; " : "", what);
                return;
        }
        snprintf(out + used, len - used, "%s%s %s (%s port %u): %s after %.0f ms",
                 used ? "; " : "", what, t->label, ip_prefix_format(&t->addr, addr), t->port,
                 error_text(p->error, buf, sizeof(buf)), ms);
}

/* The blocked probes pass only on a prompt local refusal: a timeout means
 * the packet may have left the sandbox, so it counts as a leak. */
static bool refused_locally(int error) {
        return error == ECONNREFUSED || error == EPERM || error == EACCES ||
               error == EHOSTUNREACH || error == ENETUNREACH;
}

static void selfcheck_maybe_finish(struct selfcheck *s) {
        for (size_t i = 0; i < PROBE_COUNT; i++)
                if (s->probes[i].state == PROBE_RUNNING)
                        return;
        if (s->finished)
                return;
        s->finished = true;

        struct selfcheck_report report = {.outcome = SELFCHECK_PASSED};
        const struct probe *allowed = &s->probes[PROBE_ALLOWED];
        const struct probe *blocked = &s->probes[PROBE_BLOCKED];
        const struct probe *dns = &s->probes[PROBE_FOREIGN_DNS];

        describe(allowed, "allowed", report.summary, sizeof(report.summary));
        describe(blocked, "blocked", report.summary, sizeof(report.summary));
        describe(dns, "foreign DNS", report.summary, sizeof(report.summary));

        if ((s->cfg.blocked.present && !refused_locally(blocked->error)) ||
            (s->cfg.foreign_dns.present && !refused_locally(dns->error)))
                report.outcome = SELFCHECK_FAILED;
        else if (s->cfg.allowed.present && allowed->error != 0)
                report.outcome = s->cfg.strict ? SELFCHECK_FAILED : SELFCHECK_WARNING;
        s->done(&report, s->userdata);
}

static int selfcheck_kickoff(struct loop *l, void *userdata) {
        struct selfcheck *s = userdata;
        unsigned timeouts[PROBE_COUNT] = {
                [PROBE_ALLOWED] = s->cfg.allowed_timeout_ms,
                [PROBE_BLOCKED] = s->cfg.blocked_timeout_ms,
                [PROBE_FOREIGN_DNS] = s->cfg.blocked_timeout_ms,
        };
        for (size_t i = 0; i < PROBE_COUNT; i++)
                if (probe_target(&s->probes[i])->present)
                        s->probes[i].state = PROBE_RUNNING;
        for (size_t i = 0; i < PROBE_COUNT; i++)
                if (s->probes[i].state == PROBE_RUNNING)
                        probe_start(&s->probes[i], timeouts[i]);
        selfcheck_maybe_finish(s);
        return 0;
}

int selfcheck_start(struct loop *l, const struct selfcheck_config *cfg,
                    selfcheck_done_fn done, void *userdata, struct selfcheck **ret) {
        struct selfcheck *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->loop = l;
        s->cfg = *cfg;
        s->done = done;
        s->userdata = userdata;
        for (size_t i = 0; i < PROBE_COUNT; i++)
                s->probes[i] = (struct probe) {.owner = s, .kind = (enum probe_kind) i, .fd = -1};
        /* Start from the loop, not from here, so `done` never runs before
         * the caller has stored *ret. */
        int r = loop_set_timer(l, s, 0, selfcheck_kickoff, s);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void selfcheck_free(struct selfcheck *s) {
        if (!s)
                return;
        for (size_t i = 0; i < PROBE_COUNT; i++)
                probe_close(&s->probes[i]);
        loop_cancel_timer(s->loop, s);
        free(s);
}
