/* SPDX-License-Identifier: MIT */
#include "dnsproxy_parent.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "childsup.h"
#include "denials.h"
#include "dns_wire.h"
#include "dnsproxy.h"
#include "dnsproxy_proto.h"
#include "fnv1a.h"
#include "guard.h"
#include "loopback_listen.h"
#include "log.h"
#include "log_budget.h"
#include "macro.h"
#include "nft.h"
#include "policy.h"
#include "resolve.h"

/* An element whose recorded expiry is nearer than this may already be gone
 * in the kernel: it is added, not replaced (removing a missing element
 * would fail the transaction). */
#define LEARNED_EXPIRY_MARGIN_USEC (2u * 1000000u)
/* Addresses followed at once, 24 bytes each; an answer that finds the table
 * full of live entries is refused (SERVFAIL) and logged. */
#define LEARNED_MAX 16384u

enum { LISTEN_UDP4, LISTEN_UDP6, LISTEN_TCP4, LISTEN_TCP6, _LISTEN_MAX };

/* One address the resolver handed out and until when the rules allow it. */
struct learned {
        struct ip_prefix addr;
        uint64_t expiry_usec;           /* 0: free slot */
};

struct dnsproxy_parent {
        struct loop *loop;
        struct dnsproxy_parent_config cfg;
        int listen_fds[_LISTEN_MAX];
        const struct policy *policy;
        struct guard *guard;

        struct childsup child;

        struct learned *learned;        /* open addressing, a power of two */
        size_t cap_learned, n_learned;  /* n_learned counts expired entries until a rehash */
        uint64_t full_until_usec;       /* LEARNED_MAX live entries until then */

        /* Whether the rules allow an address without a learned entry (the
         * policy's own names, cidrs, services, meta ranges). */
        dnsproxy_static_fn static_allows;
        void *static_userdata;

        /* An acknowledgement the control socket did not take, and the
         * child it is for (its start, as child.started_usec; 0: none):
         * sent before anything more is read. */
        struct dnsproxy_msg ack_unsent;
        uint64_t ack_unsent_child;

        /* Lines the sandbox's user can cause by asking: each kind bounded. */
        struct log_budget guard_log, full_log, policy_log, any_name_log;
};

static pid_t resolver_child;

pid_t dnsproxy_parent_child(void) {
        return resolver_child;
}

/* ---- the listening sockets ---------------------------------------------- */

/* PID 1 holds the capability that growing a UDP socket's buffer takes;
 * the child does not. */
static int listen_one(int family, int type, uint16_t port, int *ret) {
        int r = loopback_listen(family, type, port, 128, ret);
        if (r == 0 && type == SOCK_DGRAM)
                resolver_udp_buffer_grow(*ret);
        return r;
}

static int listen_all(struct dnsproxy_parent *d) {
        static const struct { int family, type; const char *what; } socks[_LISTEN_MAX] = {
                [LISTEN_UDP4] = { AF_INET, SOCK_DGRAM, "UDP 127.0.0.1" },
                [LISTEN_UDP6] = { AF_INET6, SOCK_DGRAM, "UDP [::1]" },
                [LISTEN_TCP4] = { AF_INET, SOCK_STREAM, "TCP 127.0.0.1" },
                [LISTEN_TCP6] = { AF_INET6, SOCK_STREAM, "TCP [::1]" },
        };
        for (size_t i = 0; i < _LISTEN_MAX; i++) {
                int r = listen_one(socks[i].family, socks[i].type, d->cfg.port, &d->listen_fds[i]);
                /* A container without IPv6 has no ::1: its IPv6 DNS then has
                 * nowhere to go, which is refused as it should be. */
                if (r < 0 && socks[i].family == AF_INET6 && (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT))
                        continue;
                if (r < 0)
                        return log_error_errno(r, "Failed to listen for the sandbox's DNS on %s port %u: %m%s",
                                               socks[i].what, d->cfg.port,
                                               r == -EADDRINUSE ? " (another process holds the port; nothing may, in the sandbox)" : "");
        }
        return 0;
}

/* ---- the child ------------------------------------------------------------ */

/* fds: the listening sockets in listen_fds' order, then the control
 * socket (childsup.h). */
static int child_main(const int *fds, void *userdata) {
        struct dnsproxy_parent *d = userdata;
        struct dnsproxy_config cfg = {
                .udp4_fd = fds[LISTEN_UDP4], .udp6_fd = fds[LISTEN_UDP6],
                .tcp4_fd = fds[LISTEN_TCP4], .tcp6_fd = fds[LISTEN_TCP6],
                .control_fd = fds[_LISTEN_MAX],
                .policy = d->policy,
                .resolv_conf = d->cfg.resolv_conf,
        };
        return dnsproxy_main(&cfg);
}

/* ---- what the child asks -------------------------------------------------- */

static size_t learned_slot(const struct dnsproxy_parent *d, const struct ip_prefix *a) {
        uint64_t h = base_fnv1a(BASE_FNV1A_OFFSET, a->addr, sizeof(a->addr));
        return (size_t) (h ^ (uint64_t) a->family) & (d->cap_learned - 1);
}

static bool same_address(const struct ip_prefix *a, const struct ip_prefix *b) {
        return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The entry for a, or where it goes; NULL when the table is full. */
static struct learned *learned_find(struct dnsproxy_parent *d, const struct ip_prefix *a) {
        if (!d->cap_learned)
                return NULL;
        for (size_t i = 0, at = learned_slot(d, a); i < d->cap_learned; i++, at = (at + 1) & (d->cap_learned - 1))
                if (!d->learned[at].expiry_usec || same_address(&d->learned[at].addr, a))
                        return &d->learned[at];
        return NULL;
}

/* Grows the table, and drops what has expired, when it is three quarters
 * full or holds LEARNED_MAX entries; -ENOSPC when LEARNED_MAX of them are
 * live. Entries are never removed one by one: a hole would cut a probe
 * chain. */
static int learned_make_room(struct dnsproxy_parent *d) {
        if (d->cap_learned && d->n_learned < d->cap_learned / 4 * 3 && d->n_learned < LEARNED_MAX)
                return 0;
        uint64_t now = loop_now_usec();
        /* Full of live entries when last counted: nothing frees up before
         * the earliest of them expires, and a flood of answers meanwhile
         * must not rescan the table for each. */
        if (now < d->full_until_usec)
                return -ENOSPC;
        size_t live = 0;
        uint64_t earliest = UINT64_MAX;
        for (size_t i = 0; i < d->cap_learned; i++)
                if (d->learned[i].expiry_usec > now) {
                        live++;
                        if (d->learned[i].expiry_usec < earliest)
                                earliest = d->learned[i].expiry_usec;
                }
        if (live >= LEARNED_MAX) {
                d->full_until_usec = earliest;
                return -ENOSPC;
        }
        d->full_until_usec = 0;
        size_t cap = d->cap_learned ? d->cap_learned : 256;
        while (live >= cap / 2 && cap < LEARNED_MAX * 2)
                cap *= 2;
        struct learned *old = d->learned;
        size_t old_cap = d->cap_learned;
        d->learned = calloc(cap, sizeof(*d->learned));
        if (!d->learned) {
                d->learned = old;
                return log_oom();
        }
        d->cap_learned = cap;
        d->n_learned = 0;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].expiry_usec > now) {
                        *learned_find(d, &old[i].addr) = old[i];
                        d->n_learned++;
                }
        free(old);
        return 0;
}

/* " (N more like it left out)" after a quiet spell of a budgeted line. */
static const char *left_out_text(unsigned long skipped) {
        static char buf[64];
        if (!skipped)
                return "";
        snprintf(buf, sizeof(buf), " (%lu more like it left out)", skipped);
        return buf;
}

/* On 0, *ret_granted is for how many more seconds every address of m is
 * allowed at least, less a margin for the kernel's own clock (0 when the
 * guard refused one): the child may release the same answer again within
 * that time without asking. */
static int allow_addresses(struct dnsproxy_parent *d, const struct dnsproxy_msg *m, uint32_t *ret_granted) {
        const struct policy_domain *match;
        unsigned long skipped;
        if (!policy_name_allowed(d->policy, m->name, &match)) {
                if (log_budget_take(&d->policy_log, loop_now_usec(), &skipped))
                        log_warning("the DNS resolver asked to allow addresses for %s, which the policy does not allow; refused%s",
                                    m->name, left_out_text(skipped));
                return -EPERM;
        }
        uint64_t seconds = dnsproxy_lifetime(m->ttl, policy_dns_min_ttl(d->policy), policy_dns_grace(d->policy));
        /* An element is added for an eighth longer than the answer needs,
         * and an answer that finds its address allowed for as long as it
         * needs changes nothing: a name asked again and again costs a set
         * update once per eighth of its lifetime, not one per answer. */
        uint64_t now = loop_now_usec(), needed = now + seconds * 1000000u;
        uint64_t timeout_ms = seconds * 1000u + seconds * 1000u / 8u, expiry = now + timeout_ms * 1000u;

        struct nft_learned add[DNSPROXY_ADDRS_MAX], del[DNSPROXY_ADDRS_MAX];
        struct learned *slots[DNSPROXY_ADDRS_MAX];
        size_t n_add = 0, n_del = 0, accepted = 0;
        uint64_t until = UINT64_MAX;            /* the earliest expiry of m's addresses */
        *ret_granted = 0;
        int r = learned_make_room(d);
        bool full = r == -ENOSPC;
        if (r < 0 && !full)
                return r;
        for (size_t i = 0; i < m->n_addrs; i++) {
                struct ip_prefix a;
                const char *reason = NULL;
                char detail[128] = "", buf[IP_PREFIX_STRLEN];
                dnsproxy_addr_to_prefix(&m->addrs[i], &a);
                if (!guard_allows(d->guard, &a, &reason, detail, sizeof(detail))) {
                        if (log_budget_take(&d->guard_log, now, &skipped))
                                log_warning("refused %s for %s: %s%s%s; list it under cidrs: if it is really wanted%s",
                                            ip_prefix_format(&a, buf), m->name, reason, detail[0] ? " " : "", detail,
                                            left_out_text(skipped));
                        continue;
                }
                if (match && !match->name[0]) {
                        /* Only a preset of every name allows it: its
                         * answers may open only what the preset's ranges
                         * (and the policy's cidrs:) already allow, or any
                         * name could point the sandbox at a private
                         * network. Those need no learned entry. */
                        if (!d->static_allows || !d->static_allows(&a, d->static_userdata)) {
                                if (log_budget_take(&d->guard_log, now, &skipped))
                                        log_warning("refused %s for %s: outside the public ranges of service %s; "
                                                    "list it under cidrs: or the name under domains: if it is really wanted%s",
                                                    ip_prefix_format(&a, buf), m->name, match->service,
                                                    left_out_text(skipped));
                                continue;
                        }
                        accepted++;
                        if (needed < until)
                                until = needed;
                        continue;
                }
                accepted++;
                struct learned *e = learned_find(d, &a);
                bool present = e && e->expiry_usec && same_address(&e->addr, &a);
                if (!e || (full && !present)) {
                        /* No room to follow it. An address the rules allow
                         * anyway (an exact name of the policy, cidrs:) needs
                         * no entry: a flood of names under a wildcard must
                         * not take DNS from the policy's own names. */
                        if (d->static_allows && d->static_allows(&a, d->static_userdata)) {
                                if (needed < until)
                                        until = needed;
                                continue;
                        }
                        if (log_budget_take(&d->full_log, now, &skipped))
                                log_error("the sandbox's resolver has handed out %u addresses that are still allowed; refusing more until some expire%s",
                                          LEARNED_MAX, left_out_text(skipped));
                        return -ENOSPC;
                }
                if (e->expiry_usec > now + LEARNED_EXPIRY_MARGIN_USEC) {
                        if (e->expiry_usec >= needed) {
                                if (e->expiry_usec < until)
                                        until = e->expiry_usec;
                                continue;       /* allowed long enough already */
                        }
                        del[n_del++] = (struct nft_learned) { .addr = a };
                }
                if (expiry < until)
                        until = expiry;
                add[n_add] = (struct nft_learned) { .addr = a, .timeout_ms = timeout_ms };
                slots[n_add++] = e;
        }
        /* An answer whose every address the guard refused is not
         * released: the client gets SERVFAIL, not an address that fails. */
        if (accepted == 0)
                return -EPERM;
        if (n_add > 0) {
                r = nft_learned_update(add, n_add, del, n_del);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n_add; i++) {
                if (!slots[i]->expiry_usec)
                        d->n_learned++;
                *slots[i] = (struct learned) { .addr = add[i].addr, .expiry_usec = expiry };
        }
        /* A name no entry lists, allowed by a preset of every name (the
         * internet service): the answer is the only record of where the
         * agent went, so it is logged. */
        if (match && !match->name[0] && log_budget_take(&d->any_name_log, now, &skipped))
                log_info("%s resolved (service %s): %zu of %zu addresses allowed%s", m->name, match->service, accepted,
                         (size_t) m->n_addrs, left_out_text(skipped));
        if (accepted == m->n_addrs && until > now + LEARNED_EXPIRY_MARGIN_USEC) {
                uint64_t granted = (until - now - LEARNED_EXPIRY_MARGIN_USEC) / 1000000u;
                *ret_granted = granted > DNSPROXY_TTL_CEILING * 2 ? DNSPROXY_TTL_CEILING * 2 : (uint32_t) granted;
        }
        return 0;
}

/* What the client is about to connect to, by the name it asked: a later
 * denial of the address names it. After the acknowledgement, which the
 * client's answer waits for. */
static void note_names(struct dnsproxy_parent *d, const struct dnsproxy_msg *m) {
        for (size_t i = 0; i < m->n_addrs; i++) {
                struct ip_prefix a;
                dnsproxy_addr_to_prefix(&m->addrs[i], &a);
                if (dnsproxy_parent_allows(d, &a))
                        denials_name_seen(d->cfg.denials, &a, m->name);
        }
}

void dnsproxy_parent_set_static(struct dnsproxy_parent *d, dnsproxy_static_fn fn, void *userdata) {
        d->static_allows = fn;
        d->static_userdata = userdata;
}

bool dnsproxy_parent_allows(const struct dnsproxy_parent *d, const struct ip_prefix *a) {
        if (!d || !d->cap_learned)
                return false;
        uint64_t now = loop_now_usec();
        for (size_t i = 0, at = learned_slot(d, a); i < d->cap_learned; i++, at = (at + 1) & (d->cap_learned - 1)) {
                const struct learned *e = &d->learned[at];
                if (!e->expiry_usec)
                        return false;
                if (same_address(&e->addr, a))
                        return e->expiry_usec > now;
        }
        return false;
}

/* The resolver refuses names outside the policy, and types it does not
 * forward for names inside it (REFUSED; docs/architecture.md). */
static void report_refused(struct dnsproxy_parent *d, const struct dnsproxy_msg *m) {
        const struct policy_domain *match;
        char type[16];
        bool allowed = d->policy && policy_name_allowed(d->policy, m->name, &match);
        denials_dns(d->cfg.denials, m->name, dns_type_name(m->qtype, type, sizeof(type)), allowed ? DENIAL_QTYPE : DENIAL_NOT_IN_POLICY);
}

static int ack_send(int fd, const struct dnsproxy_msg *ack) {
        if (send(fd, ack, sizeof(*ack), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return negative_errno();
        return 0;
}

/* The child reads its acknowledgements between the other things it does;
 * in a burst it sends ALLOWs faster than it reads them, and the socket
 * takes only so many (its buffer, about a hundred). An acknowledgement
 * dropped there failed the client's answer after the child's timeout
 * (SERVFAIL, "PID 1 did not acknowledge in time"). So it waits for room,
 * and no ALLOW is read meanwhile: the child keeps what it cannot send in
 * order, and the socket paces both sides. */
static void ack_hold(struct dnsproxy_parent *d, struct loop *l, int fd, const struct dnsproxy_msg *ack) {
        d->ack_unsent = *ack;
        d->ack_unsent_child = d->child.started_usec;
        (void) loop_modify_io(l, fd, EPOLLOUT);
}

/* Sends the held acknowledgement. false: it still waits, or the child is
 * gone; read nothing now. */
static bool ack_flush(struct dnsproxy_parent *d, struct loop *l, int fd) {
        /* Never to a child started since: its own ALLOWs reuse the
         * sequence numbers, and this one would release an answer PID 1
         * has not allowed. */
        if (d->ack_unsent_child != d->child.started_usec) {
                d->ack_unsent_child = 0;
                return true;
        }
        int r = ack_send(fd, &d->ack_unsent);
        if (r == -EAGAIN || r == -EINTR)
                return false;
        d->ack_unsent_child = 0;
        if (r < 0)
                return false;           /* the child is gone: on_child_exit restarts it */
        (void) loop_modify_io(l, fd, EPOLLIN);
        return true;
}

static int on_control(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct dnsproxy_parent *d = userdata;
        if (!ack_flush(d, l, fd))
                return 0;
        /* Aligned for the struct: dnsproxy_msg_check hands back a pointer
         * into this buffer. */
        union { struct dnsproxy_msg msg; char bytes[sizeof(struct dnsproxy_msg) + 1]; } buf;

        for (int i = 0; i < 64; i++) {
                ssize_t n = recv(fd, &buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n <= 0)
                        return 0;       /* the child is gone: on_child_exit restarts it */
                const struct dnsproxy_msg *m;
                if (dnsproxy_msg_check(&buf, (size_t) n, DNSPROXY_REFUSED, &m) == 0) {
                        report_refused(d, m);
                        continue;
                }
                if (dnsproxy_msg_check(&buf, (size_t) n, DNSPROXY_ALLOW, &m) < 0) {
                        log_error("the DNS resolver sent a malformed message (%zd bytes); restarting it", n);
                        childsup_restart(&d->child);
                        return 0;
                }
                struct dnsproxy_msg ack = { .type = DNSPROXY_ALLOWED, .seq = m->seq };
                uint32_t granted = 0;
                ack.status = allow_addresses(d, m, &granted);
                if (ack.status > 0)
                        ack.status = 0;
                if (ack.status == 0)
                        ack.ttl = granted;
                int r = ack_send(fd, &ack);
                if (ack.status == 0)
                        note_names(d, m);
                if (r == -EAGAIN || r == -EINTR) {
                        ack_hold(d, l, fd, &ack);
                        return 0;
                }
                if (r < 0)
                        return 0;       /* the child is gone: on_child_exit restarts it */
        }
        return 0;
}

/* ---- the interface -------------------------------------------------------- */

int dnsproxy_parent_new(struct loop *l, const struct dnsproxy_parent_config *cfg, struct dnsproxy_parent **ret) {
        struct dnsproxy_parent *d = calloc(1, sizeof(*d));
        if (!d)
                return log_oom();
        *d = (struct dnsproxy_parent) { .loop = l, .cfg = *cfg };
        for (size_t i = 0; i < _LISTEN_MAX; i++)
                d->listen_fds[i] = -1;
        childsup_init(&d->child, l, &(struct childsup_config) {
                .name = "DNS resolver", .comm = "dns-resolver", .while_down = "DNS fails",
                .uid = cfg->uid, .gid = cfg->gid, .port = cfg->port,
                .keep_fds = d->listen_fds, .n_keep_fds = _LISTEN_MAX,
                .child_main = child_main, .on_control = on_control, .userdata = d,
                .published_pid = &resolver_child,
        });
        int r = listen_all(d);
        if (r < 0) {
                dnsproxy_parent_free(d);
                return r;
        }
        *ret = d;
        return 0;
}

int dnsproxy_parent_use(struct dnsproxy_parent *d, const struct policy *policy, struct guard *guard) {
        bool had_policy = d->policy != NULL;
        childsup_stop(&d->child);
        d->policy = policy;
        d->guard = guard;
        if (had_policy) {
                free(d->learned);
                d->learned = NULL;
                d->cap_learned = d->n_learned = 0;
                d->full_until_usec = 0;
        }
        return childsup_start(&d->child);
}

void dnsproxy_parent_free(struct dnsproxy_parent *d) {
        if (!d)
                return;
        childsup_stop(&d->child);
        for (size_t i = 0; i < _LISTEN_MAX; i++)
                if (d->listen_fds[i] >= 0)
                        close(d->listen_fds[i]);
        free(d->learned);
        free(d);
}
