/* SPDX-License-Identifier: MIT */
#include "namegate_parent.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "childsup.h"
#include "denials.h"
#include "log.h"
#include "log_budget.h"
#include "macro.h"
#include "namegate.h"
#include "namegate_proto.h"
#include "netmark.h"
#include "nfqueue.h"
#include "pktsum.h"

/* Datagrams read from the queue, and messages from the child, per
 * wake-up: a flood of either cannot hold PID 1's loop. */
#define PACKETS_PER_WAKE 64
#define VERDICTS_PER_WAKE 256
/* Packets handed to the child without a verdict yet: the queue's length
 * bounds them, the table is twice that so it stays sparse. */
#define OUTSTANDING_SLOTS (2u * NFQUEUE_MAX_LEN)
/* The bytes of the packets with data handed to the child, kept to give
 * back with their verdicts, at most this much at once (beyond, a packet
 * with data is dropped, to be sent again): a verdict comes within
 * microseconds, except for the few packets the child holds. */
#define KEPT_BYTES_MAX (16u << 20)

struct namegate_parent {
        struct loop *loop;
        struct namegate_parent_config cfg;
        struct mnl_socket *queue;
        const struct policy *policy;
        struct childsup child;
        struct log_budget full_log;     /* the gate's "full" reports: a user can cause them at will */
        struct log_budget drop_log;
        unsigned long dropped;          /* packets dropped because the child could not take them */
        int sized_fd;                   /* the control socket whose buffer was grown */
        /* The ids handed to the child and not answered yet: a verdict is
         * taken only for one of them, once. Open addressing, linear
         * probing, ids stored plus one (0: a free slot). */
        uint32_t outstanding[OUTSTANDING_SLOTS];
        struct kept {
                uint8_t *bytes;         /* the packet as read (NULL: it has no data) */
                uint32_t len;
        } kept[OUTSTANDING_SLOTS];
        unsigned n_outstanding;
        size_t kept_bytes;
};

static pid_t gate_child;

bool namegate_parent_owns(pid_t pid) {
        return pid != 0 && pid == gate_child;
}

/* ---- the packets the child owes a verdict for --------------------------------- */

static size_t slot_of(uint32_t id) {
        return (size_t) (id * UINT32_C(2654435761)) % OUTSTANDING_SLOTS;
}

static bool outstanding_add(struct namegate_parent *s, uint32_t id, struct kept kept) {
        if (s->n_outstanding >= OUTSTANDING_SLOTS / 2)
                return false;
        size_t i = slot_of(id);
        while (s->outstanding[i])
                i = (i + 1) % OUTSTANDING_SLOTS;
        s->outstanding[i] = id + 1;
        s->kept[i] = kept;
        s->kept_bytes += kept.bytes ? kept.len : 0;
        s->n_outstanding++;
        return true;
}

/* Removes id, handing over what was kept of it; false when it was not
 * there. Backward-shift deletion keeps every probe sequence unbroken. */
static bool outstanding_take(struct namegate_parent *s, uint32_t id, struct kept *ret) {
        size_t i = slot_of(id);
        while (s->outstanding[i] && s->outstanding[i] != id + 1)
                i = (i + 1) % OUTSTANDING_SLOTS;
        if (!s->outstanding[i])
                return false;
        *ret = s->kept[i];
        s->kept_bytes -= ret->bytes ? ret->len : 0;
        s->outstanding[i] = 0;
        s->kept[i] = (struct kept) { NULL, 0 };
        s->n_outstanding--;
        for (size_t j = (i + 1) % OUTSTANDING_SLOTS; s->outstanding[j]; j = (j + 1) % OUTSTANDING_SLOTS) {
                size_t home = slot_of(s->outstanding[j] - 1);
                /* Moves back unless its home lies in (i, j]. */
                bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
                if (!stays) {
                        s->outstanding[i] = s->outstanding[j];
                        s->kept[i] = s->kept[j];
                        s->outstanding[j] = 0;
                        s->kept[j] = (struct kept) { NULL, 0 };
                        i = j;
                }
        }
        return true;
}

/* ---- verdicts --------------------------------------------------------------------- */

/* A packet with data that goes on goes with the bytes the child was given,
 * not the kernel's: those may be pages the sender can still write
 * (sendfile() from a file, vmsplice(), MSG_ZEROCOPY), read again when the
 * packet leaves, after the check. Their TCP checksum is made final, as the
 * kernel takes handed-back bytes as they are. kept is freed. */
static void give_verdict(struct namegate_parent *s, uint32_t id, enum namegate_verdict v, struct kept kept) {
        uint32_t verdict = NF_REPEAT, mark = 0;
        switch (v) {
        case NAMEGATE_ACCEPT: verdict = NF_ACCEPT; break;
        case NAMEGATE_DROP: verdict = NF_DROP; break;
        case NAMEGATE_PASS: mark = NETMARK_GATE_PASS; break;
        case NAMEGATE_PASS_CLIENT: mark = NETMARK_GATE_CLIENT; break;
        case NAMEGATE_REFUSE:
        default: mark = NETMARK_GATE_REFUSE; break;
        }
        bool goes_on = v == NAMEGATE_ACCEPT || v == NAMEGATE_PASS || v == NAMEGATE_PASS_CLIENT;
        const uint8_t *payload = NULL;
        if (goes_on && kept.bytes) {
                if (pktsum_fill_tcp(kept.bytes, kept.len) == 0)
                        payload = kept.bytes;
                else
                        verdict = NF_DROP, mark = 0;    /* cannot happen: it was read as TCP */
        }
        int r = nfqueue_verdict(s->queue, s->cfg.queue, id, verdict, mark, payload, kept.len);
        if (r < 0 && payload)
                r = nfqueue_verdict(s->queue, s->cfg.queue, id, NF_DROP, 0, NULL, 0);
        if (r < 0)
                log_error_errno(r, "the name gate's queue refused a verdict: %m (the packet is dropped when the queue is unbound)");
        free(kept.bytes);
}

/* The child is gone or replaced: what it was deciding is refused. */
static void refuse_outstanding(struct namegate_parent *s) {
        for (size_t i = 0; i < OUTSTANDING_SLOTS && s->n_outstanding; i++)
                if (s->outstanding[i]) {
                        give_verdict(s, s->outstanding[i] - 1, NAMEGATE_REFUSE, s->kept[i]);
                        s->outstanding[i] = 0;
                        s->kept[i] = (struct kept) { NULL, 0 };
                        s->n_outstanding--;
                }
        s->kept_bytes = 0;
}

/* ---- the child ------------------------------------------------------------------- */

static int child_main(const int *fds, void *userdata) {
        struct namegate_parent *s = userdata;
        struct namegate_config cfg = { .control_fd = fds[0], .policy = s->policy };
        return namegate_main(&cfg);
}

static enum denial_reason reason_of(enum namegate_why why) {
        switch (why) {
        case NAMEGATE_NO_NAME: return DENIAL_NAME_MISSING;
        case NAMEGATE_BAD_NAME: return DENIAL_NAME_INVALID;
        case NAMEGATE_AMBIGUOUS: return DENIAL_NAME_AMBIGUOUS;
        case NAMEGATE_MALFORMED: return DENIAL_NAME_MALFORMED;
        case NAMEGATE_TOO_LONG: return DENIAL_NAME_TOO_LONG;
        case NAMEGATE_TIMEOUT: return DENIAL_NAME_TIMEOUT;
        case NAMEGATE_UNSUPPORTED: return DENIAL_NAME_UNSUPPORTED;
        case NAMEGATE_NOT_IN_POLICY: default: return DENIAL_NOT_IN_POLICY;
        }
}

static void report_full(struct namegate_parent *s, uint32_t refused) {
        unsigned long skipped;
        if (!log_budget_take(&s->full_log, loop_now_usec(), &skipped))
                return;
        log_warning("the name gate is at its limit of followed connections: %u ended or refused to make room (the quietest that held nothing first)%s",
                    (unsigned) refused, skipped ? " (earlier reports like it left out)" : "");
}

static void report_refusal(struct namegate_parent *s, const struct namegate_msg *m) {
        struct ip_prefix dst;
        ip_prefix_from_addr(m->family, m->addr, &dst);
        denials_name(s->cfg.denials, namegate_kind_text(m->kind), m->name[0] ? m->name : NULL, &dst, m->port,
                     m->has_uid, m->uid, reason_of(m->why));
}

static void child_broke(struct namegate_parent *s, const char *what, ssize_t n) {
        log_error("the name gate sent %s (%zd bytes); restarting it", what, n);
        refuse_outstanding(s);
        childsup_restart(&s->child);
}

static int on_control(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct namegate_parent *s = userdata;
        union { struct namegate_msg msg; char bytes[sizeof(struct namegate_msg) + 1]; } buf;

        for (int i = 0; i < VERDICTS_PER_WAKE; i++) {
                ssize_t n = recv(fd, &buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        /* The child is gone: on_child_exit restarts it; what
                         * it was deciding fails closed now. */
                        refuse_outstanding(s);
                        return 0;
                }
                if (n < 0)
                        return 0;
                const struct namegate_msg *m;
                if (namegate_msg_check(&buf, (size_t) n, &m) < 0) {
                        child_broke(s, "a malformed message", n);
                        return 0;
                }
                if (m->type == NAMEGATE_FULL) {
                        report_full(s, m->uid);
                        continue;
                }
                struct kept kept;
                if (!outstanding_take(s, m->id, &kept)) {
                        child_broke(s, "a verdict for a packet it was not asked about", n);
                        return 0;
                }
                give_verdict(s, m->id, m->verdict, kept);
                if (m->report)
                        report_refusal(s, m);
        }
        return 0;
}

/* ---- the queue -------------------------------------------------------------------- */

static void count_dropped(struct namegate_parent *s) {
        unsigned long skipped;
        s->dropped++;
        if (log_budget_take(&s->drop_log, loop_now_usec(), &skipped))
                log_warning("the name gate could not take a queued packet: %lu dropped so far (their senders send them again)",
                            s->dropped);
}

static void on_packet(const struct nfqueue_packet *p, void *userdata) {
        struct namegate_parent *s = userdata;
        int fd = s->child.control_fd;
        static const struct kept none = { NULL, 0 };
        if (fd < 0 || !s->child.pid) {
                give_verdict(s, p->id, NAMEGATE_REFUSE, none);  /* no gate: fail closed */
                return;
        }
        if (fd != s->sized_fd) {
                /* Room for a burst (a flood of SYNs) while the child reads:
                 * what does not fit is dropped and sent again. */
                int size = 4 << 20;
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
                s->sized_fd = fd;
        }
        /* The bytes of a packet with data are kept, to go back with it. */
        struct kept kept = none;
        size_t data = 0;
        if (p->len == p->whole_len && pktsum_tcp_payload(p->bytes, p->len, &data) == 0 && data > 0) {
                kept.bytes = s->kept_bytes + p->len <= KEPT_BYTES_MAX ? malloc(p->len) : NULL;
                if (!kept.bytes) {
                        count_dropped(s);
                        give_verdict(s, p->id, NAMEGATE_DROP, none);
                        return;
                }
                memcpy(kept.bytes, p->bytes, p->len);
                kept.len = (uint32_t) p->len;
        }
        if (!outstanding_add(s, p->id, kept)) {
                count_dropped(s);
                give_verdict(s, p->id, NAMEGATE_DROP, kept);
                return;
        }
        struct namegate_packet h = {
                .id = p->id, .from_server = p->hook == NF_INET_LOCAL_IN, .has_uid = p->has_uid,
                .uid = p->has_uid ? p->uid : 0, .whole_len = p->whole_len,
        };
        size_t len = p->len < NAMEGATE_PACKET_BYTES_MAX ? p->len : NAMEGATE_PACKET_BYTES_MAX;
        struct iovec iov[2] = { { &h, sizeof(h) }, { (void *) p->bytes, len } };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
        if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                /* Full (the child is behind) or gone: the sender retransmits,
                 * or the flow fails closed with the child. */
                int err = errno;
                (void) outstanding_take(s, p->id, &kept);
                count_dropped(s);
                give_verdict(s, p->id, err == EAGAIN ? NAMEGATE_DROP : NAMEGATE_REFUSE, kept);
        }
}

static int on_queue(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct namegate_parent *s = userdata;
        for (int i = 0; i < PACKETS_PER_WAKE; i++) {
                int r = nfqueue_read(s->queue, on_packet, s);
                if (r == -ENOBUFS) {
                        count_dropped(s);
                        continue;
                }
                if (r < 0)
                        return 0;       /* drained; anything else: at the next packet */
        }
        return 0;
}

/* ---- the interface ------------------------------------------------------------- */

int namegate_parent_new(struct loop *l, const struct namegate_parent_config *cfg, struct namegate_parent **ret) {
        _cleanup_free_ struct namegate_parent *s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        *s = (struct namegate_parent) { .loop = l, .cfg = *cfg, .sized_fd = -1 };
        int r = nfqueue_open(cfg->queue, &s->queue);
        if (r < 0)
                return log_error_errno(r, "Failed to bind the kernel's packet queue %u for the name gate: %m%s", cfg->queue,
                                       r == -EPERM ? " (CAP_NET_ADMIN is needed)"
                                       : r == -EBUSY ? " (another program of this network namespace holds it)"
                                       : r == -ENOENT || r == -EPROTONOSUPPORT ? " (the kernel has no nfnetlink_queue, CONFIG_NETFILTER_NETLINK_QUEUE, which name checking needs)"
                                       : "");
        r = loop_add_io(l, mnl_socket_get_fd(s->queue), EPOLLIN, on_queue, s);
        if (r < 0) {
                mnl_socket_close(s->queue);
                return log_error_errno(r, "Failed to watch the name gate's queue: %m");
        }
        childsup_init(&s->child, l, &(struct childsup_config) {
                .name = "name gate", .comm = "name-gate",
                .while_down = "name-checked connections are refused",
                .uid = cfg->uid, .gid = cfg->gid,
                .child_main = child_main, .on_control = on_control, .userdata = s,
                .published_pid = &gate_child,
        });
        *ret = TAKE_PTR(s);
        return 0;
}

int namegate_parent_use(struct namegate_parent *s, const struct policy *policy) {
        childsup_stop(&s->child);
        refuse_outstanding(s);
        s->policy = policy;
        return childsup_start(&s->child);
}

void namegate_parent_free(struct namegate_parent *s) {
        if (!s)
                return;
        childsup_stop(&s->child);
        refuse_outstanding(s);
        (void) loop_remove_io(s->loop, mnl_socket_get_fd(s->queue));
        mnl_socket_close(s->queue);
        free(s);
}
