/* SPDX-License-Identifier: MIT */
/* The name gate's loop (namegate.h). A flow is keyed by its four-tuple,
 * the client's end first; each side keeps the sequence number of its next
 * byte, learned from its SYN. A data packet is, against that number:
 *   ahead    a gap (an earlier packet was dropped): dropped as well, the
 *            sender sends both again
 *   behind   a retransmission: what it repeats passed already (accepted)
 *            or waits in a held packet (dropped: the held one will go)
 *   next     its new bytes pass within the side's budget; the rest go to
 *            the side's check buffer and the packet is held until the
 *            check that waits on them decides
 * A check that passes grants a budget (namecheck.h) and releases the held
 * packets whose bytes it covers, in order; one that refuses refuses every
 * held packet and the flow. When the flow's last check passed, the
 * verdict of the packet that got it there says so, and the kernel stops
 * queueing the flow (NAMEGATE_PASS); a plain HTTP flow's server side goes
 * free after its first request (NAMEGATE_PASS_CLIENT). */
#include "namegate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "namecheck.h"
#include "namegate_proto.h"
#include "policy.h"
#include "timeouts.h"

/* Packets a side may hold while its check waits: a ClientHello or head
 * comes in a few; SNIFF_BYTES_MAX bounds the bytes anyway. */
#define HELD_MAX 64u
/* A flow the gate passed or refused is kept this long for packets that
 * were already queued when its verdict went out. */
#define SETTLED_KEEP_USEC (30u * 1000000u)
#define FULL_REPORT_INTERVAL_USEC 1000000u
#define PACKETS_PER_WAKE 256

enum flow_state { FLOW_CHECKING, FLOW_PASSED, FLOW_REFUSED };

struct flow_key {
        uint8_t family;
        uint8_t client[16], server[16];
        uint16_t client_port, server_port;      /* network order */
};

struct side {
        uint32_t next_seq;              /* the sequence number of the next new byte */
        bool started;                   /* next_seq is known: its SYN was seen */
        bool ended;                     /* its FIN was seen */
        uint8_t *buf;                   /* bytes a check waits on; only while packets are held */
        size_t len;
        uint32_t buf_seq;               /* the sequence number of buf[0]: every byte before it passed */
        uint32_t held[HELD_MAX];        /* packets whose bytes have not all passed, oldest first */
        uint32_t held_end[HELD_MAX];    /* the sequence number after each one's last byte */
        unsigned n_held;
};

struct flow {
        struct flow *hash_next;
        struct flow *prev, *next;       /* the list of its state, oldest activity first */
        struct flow_key key;
        enum flow_state state;
        bool client_only;               /* the server's side goes free: said to the kernel */
        bool has_uid;
        uint32_t uid;
        uint64_t active_usec;
        uint64_t held_usec;             /* when its oldest held packet came; 0: none held */
        struct namecheck check;
        struct side side[2];            /* 0: client → server, 1: server → client */
};

struct list {
        struct flow *head, *tail;
};

/* The verdicts a packet's processing gives, in order: the packet's own
 * and those of the held packets it released. */
#define VERDICTS_MAX (2u * HELD_MAX + 1u)
struct verdicts {
        struct { uint32_t id; uint8_t verdict; } v[VERDICTS_MAX];
        unsigned n;
};

struct gate {
        int epoll_fd, control_fd;
        const struct policy *policy;
        uint64_t hello_usec, idle_usec;
        unsigned n_flows, max_flows;
        struct flow **buckets;
        size_t n_buckets;
        struct list lists[3];           /* by enum flow_state */
        uint32_t full_refused;
        uint64_t full_reported_usec;
        unsigned long reports_dropped;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* ---- the flow table ---------------------------------------------------------- */

static size_t key_hash(const struct gate *g, const struct flow_key *k) {
        /* FNV-1a over the key: the ports and addresses are the sandbox
         * user's choice, but the table only slows down, never misfiles. */
        const uint8_t *p = (const uint8_t *) k;
        uint64_t h = 0xcbf29ce484222325u;
        for (size_t i = 0; i < sizeof(*k); i++)
                h = (h ^ p[i]) * 0x100000001b3u;
        return (size_t) (h % g->n_buckets);
}

static struct flow **bucket_of(struct gate *g, const struct flow_key *k, struct flow **ret) {
        struct flow **pp = &g->buckets[key_hash(g, k)];
        while (*pp && memcmp(&(*pp)->key, k, sizeof(*k)) != 0)
                pp = &(*pp)->hash_next;
        *ret = *pp;
        return pp;
}

static void list_remove(struct gate *g, struct flow *f) {
        struct list *l = &g->lists[f->state];
        if (f->prev)
                f->prev->next = f->next;
        else
                l->head = f->next;
        if (f->next)
                f->next->prev = f->prev;
        else
                l->tail = f->prev;
        f->prev = f->next = NULL;
}

static void list_append(struct gate *g, struct flow *f) {
        struct list *l = &g->lists[f->state];
        f->prev = l->tail;
        f->next = NULL;
        if (l->tail)
                l->tail->next = f;
        else
                l->head = f;
        l->tail = f;
}

static void flow_touch(struct gate *g, struct flow *f, uint64_t now) {
        f->active_usec = now;
        list_remove(g, f);
        list_append(g, f);
}

static void flow_set_state(struct gate *g, struct flow *f, enum flow_state state) {
        list_remove(g, f);
        f->state = state;
        list_append(g, f);
}

static void side_clear(struct side *s) {
        free(s->buf);
        s->buf = NULL;
        s->len = 0;
        s->n_held = 0;
}

static void flow_free(struct gate *g, struct flow *f) {
        struct flow *found;
        struct flow **pp = bucket_of(g, &f->key, &found);
        if (found == f)
                *pp = f->hash_next;
        list_remove(g, f);
        side_clear(&f->side[0]);
        side_clear(&f->side[1]);
        namecheck_done(&f->check);
        free(f);
        g->n_flows--;
}

/* ---- verdicts and reports ----------------------------------------------------- */

static void verdict_add(struct verdicts *vs, uint32_t id, enum namegate_verdict v) {
        if (vs->n < VERDICTS_MAX)
                vs->v[vs->n++] = (typeof(vs->v[0])) { id, (uint8_t) v };
}

static void send_msg(struct gate *g, const struct namegate_msg *m) {
        /* Blocking: PID 1 never blocks on us, and a verdict must not be lost
         * (its packet would wait in the queue for good). */
        while (send(g->control_fd, m, sizeof(*m), MSG_NOSIGNAL) < 0 && errno == EINTR)
                ;
}

static void send_verdict(struct gate *g, uint32_t id, enum namegate_verdict v) {
        struct namegate_msg m;
        memset(&m, 0, sizeof(m));
        m.type = NAMEGATE_VERDICT;
        m.id = id;
        m.verdict = (uint8_t) v;
        send_msg(g, &m);
}

/* A refusal, for PID 1's denial stream: it goes with the verdict of the
 * flow's first refused packet. */
static void send_refusal(struct gate *g, const struct flow *f, uint32_t id, enum namegate_why why, const char *name) {
        struct namegate_msg m;
        memset(&m, 0, sizeof(m));
        m.type = NAMEGATE_VERDICT;
        m.id = id;
        m.verdict = NAMEGATE_REFUSE;
        m.report = 1;
        m.kind = f->check.kind;
        m.why = (uint8_t) why;
        m.port = ntohs(f->key.server_port);
        m.family = f->key.family;
        memcpy(m.addr, f->key.server, f->key.family == AF_INET ? 4 : 16);
        if (why == NAMEGATE_NOT_IN_POLICY)
                snprintf(m.name, sizeof(m.name), "%s", name);
        m.has_uid = f->has_uid;
        m.uid = f->has_uid ? f->uid : 0;
        send_msg(g, &m);
}

/* The flow is refused, and with it every packet it owes a verdict for:
 * those this round released (vs), those held, and the current one (the
 * packet being read, unless it is one of those; has_current false for
 * none). The first carries the report, when there is one. */
static void flow_refuse(struct gate *g, struct flow *f, struct verdicts *vs, bool has_current, uint32_t current,
                        bool report, enum namegate_why why, const char *name) {
        bool pending_report = report;
        uint32_t ids[VERDICTS_MAX + 2u * HELD_MAX + 1u];
        unsigned n = 0;
        for (unsigned i = 0; i < vs->n; i++)
                ids[n++] = vs->v[i].id;
        vs->n = 0;
        for (int i = 0; i < 2; i++) {
                struct side *s = &f->side[i];
                for (unsigned k = 0; k < s->n_held; k++)
                        ids[n++] = s->held[k];
                side_clear(s);
        }
        bool current_listed = false;
        for (unsigned i = 0; i < n; i++)
                current_listed |= has_current && ids[i] == current;
        if (has_current && !current_listed)
                ids[n++] = current;
        for (unsigned i = 0; i < n; i++) {
                if (pending_report) {
                        send_refusal(g, f, ids[i], why, name);
                        pending_report = false;
                } else
                        send_verdict(g, ids[i], NAMEGATE_REFUSE);
        }
        f->held_usec = 0;
        namecheck_done(&f->check);
        flow_set_state(g, f, FLOW_REFUSED);
}

/* ---- following the streams ---------------------------------------------------- */

static enum namegate_why refused_why;
static char refused_name[SNIFF_NAME_MAX + 1];

/* Runs the side's buffered bytes through the checks: 0 when a check waits
 * (or the buffer emptied), -1 when the flow is refused (refused_why says
 * why, *ret_report whether to say so). *ret_passed: a check passed. */
static int side_advance(struct gate *g, struct flow *f, bool server, bool *ret_report, bool *ret_passed) {
        struct side *s = &f->side[server];
        struct namecheck_side *c = server ? &f->check.down : &f->check.up;
        while (s->len > 0) {
                if (c->budget) {
                        size_t take = c->budget < s->len ? (size_t) c->budget : s->len;
                        memmove(s->buf, s->buf + take, s->len - take);
                        s->len -= take;
                        s->buf_seq += (uint32_t) take;
                        if (c->budget != NAMECHECK_OPEN)
                                c->budget -= take;
                        continue;
                }
                if (namecheck_holds(c))
                        return 0;
                enum namegate_why why = 0;
                switch (namecheck_side(&f->check, server, g->policy, s->buf, s->len, &why, refused_name)) {
                case NAMECHECK_PASS:
                        *ret_passed = true;
                        continue;
                case NAMECHECK_REFUSE:
                        refused_why = why;
                        *ret_report = true;
                        return -1;
                case NAMECHECK_BROKEN:
                        *ret_report = false;
                        return -1;
                case NAMECHECK_MORE:
                default:
                        if (s->len >= SNIFF_BYTES_MAX) {
                                refused_why = NAMEGATE_TOO_LONG;
                                *ret_report = !server;
                                return -1;
                        }
                        return 0;
                }
        }
        return 0;
}

/* Held packets whose every byte passed go, in order. */
static bool side_release(struct side *s, struct verdicts *vs) {
        unsigned k = 0;
        while (k < s->n_held && (int32_t) (s->held_end[k] - s->buf_seq) <= 0)
                verdict_add(vs, s->held[k++], NAMEGATE_ACCEPT);
        if (!k)
                return false;
        memmove(s->held, s->held + k, (s->n_held - k) * sizeof(s->held[0]));
        memmove(s->held_end, s->held_end + k, (s->n_held - k) * sizeof(s->held_end[0]));
        s->n_held -= k;
        if (!s->n_held)
                side_clear(s);
        return true;
}

/* Both sides as far as their checks let them (a check on one side may
 * open the other's), releasing what passed. A check that passed while
 * packets are still held restarts their deadline: each restart took a
 * whole head or record. -1: refused (flow_refuse done). */
static int flow_advance(struct gate *g, struct flow *f, struct verdicts *vs, uint32_t current, uint64_t now) {
        bool passed = false;
        for (bool progress = true; progress;) {
                progress = false;
                for (int i = 0; i < 2; i++) {
                        struct side *s = &f->side[i];
                        if (!s->n_held)
                                continue;
                        bool report = false, side_passed = false;
                        if (side_advance(g, f, i == 1, &report, &side_passed) < 0) {
                                flow_refuse(g, f, vs, true, current, report, refused_why, refused_name);
                                return -1;
                        }
                        passed |= side_passed;
                        progress |= side_release(s, vs) || side_passed;
                }
        }
        if (!f->side[0].n_held && !f->side[1].n_held)
                f->held_usec = 0;
        else if (passed)
                f->held_usec = now;
        return 0;
}

/* The new bytes of a packet, from sequence number seq: what the budget
 * allows passes, the rest waits for its check in the side's buffer, the
 * packet held. 1: the packet passes now, 0: held, -1: refused. */
static int side_take(struct gate *g, struct flow *f, bool server, uint32_t id, uint32_t seq, const uint8_t *bytes,
                     size_t n, struct verdicts *vs, uint64_t now) {
        struct side *s = &f->side[server];
        struct namecheck_side *c = server ? &f->check.down : &f->check.up;
        if (!s->n_held && c->budget) {
                size_t take = c->budget < n ? (size_t) c->budget : n;
                if (c->budget != NAMECHECK_OPEN)
                        c->budget -= take;
                bytes += take;
                seq += (uint32_t) take;
                n -= take;
                if (n == 0)
                        return 1;
        }
        if (s->len + n > SNIFF_BYTES_MAX || s->n_held == HELD_MAX) {
                flow_refuse(g, f, vs, true, id, !server, NAMEGATE_TOO_LONG, NULL);
                return -1;
        }
        if (!s->buf) {
                s->buf = malloc(SNIFF_BYTES_MAX);
                if (!s->buf) {
                        flow_refuse(g, f, vs, true, id, false, 0, NULL);
                        return -1;
                }
        }
        if (!s->len)
                s->buf_seq = seq;
        memcpy(s->buf + s->len, bytes, n);
        s->len += n;
        s->held[s->n_held] = id;
        s->held_end[s->n_held++] = seq + (uint32_t) n;
        if (!f->held_usec)
                f->held_usec = now;
        return flow_advance(g, f, vs, id, now) < 0 ? -1 : 0;
}

/* ---- packets --------------------------------------------------------------------- */

struct tcp_packet {
        struct flow_key key;
        uint32_t seq;
        uint8_t flags;
        const uint8_t *data;
        size_t len;
};

/* The IP and TCP headers, from the sandbox's side or the server's: -1
 * for what the gate does not follow (not TCP, IPv6 extension headers, a
 * packet cut short). */
static int parse_packet(const uint8_t *b, size_t len, uint32_t whole_len, bool from_server, struct tcp_packet *ret) {
        const uint8_t *src, *dst;
        size_t ip_len, addr_len;
        if (whole_len > len || len < 1)
                return -1;
        if (b[0] >> 4 == 4) {
                if (len < 20 || b[9] != IPPROTO_TCP)
                        return -1;
                ip_len = (size_t) (b[0] & 0x0f) * 4;
                src = b + 12, dst = b + 16, addr_len = 4;
                ret->key.family = AF_INET;
        } else if (b[0] >> 4 == 6) {
                if (len < 40 || b[6] != IPPROTO_TCP)
                        return -1;
                ip_len = 40;
                src = b + 8, dst = b + 24, addr_len = 16;
                ret->key.family = AF_INET6;
        } else
                return -1;
        if (ip_len < 20 || len < ip_len + 20)
                return -1;
        const uint8_t *t = b + ip_len;
        size_t tcp_len = (size_t) (t[12] >> 4) * 4;
        if (tcp_len < 20 || len < ip_len + tcp_len)
                return -1;
        memset(ret->key.client, 0, sizeof(ret->key.client));
        memset(ret->key.server, 0, sizeof(ret->key.server));
        memcpy(ret->key.client, from_server ? dst : src, addr_len);
        memcpy(ret->key.server, from_server ? src : dst, addr_len);
        uint16_t sport, dport;
        memcpy(&sport, t, 2);
        memcpy(&dport, t + 2, 2);
        ret->key.client_port = from_server ? dport : sport;
        ret->key.server_port = from_server ? sport : dport;
        uint32_t seq;
        memcpy(&seq, t + 4, 4);
        ret->seq = ntohl(seq);
        ret->flags = t[13];
        ret->data = t + tcp_len;
        ret->len = len - ip_len - tcp_len;
        return 0;
}

static void count_full(struct gate *g, uint64_t now) {
        g->full_refused++;
        if (now - g->full_reported_usec < FULL_REPORT_INTERVAL_USEC)
                return;
        struct namegate_msg m;
        memset(&m, 0, sizeof(m));
        m.type = NAMEGATE_FULL;
        m.uid = g->full_refused;
        send_msg(g, &m);
        g->full_refused = 0;
        g->full_reported_usec = now;
}

/* A client's SYN: a new flow (or a new one in place of an old one on the
 * same four-tuple). NULL when there is no room. */
static struct flow *flow_new(struct gate *g, const struct tcp_packet *p, const struct namegate_packet *h, uint64_t now) {
        struct flow *old;
        bucket_of(g, &p->key, &old);
        if (old)
                flow_free(g, old);
        /* Room: settled flows go first, then the quietest one still being
         * checked that holds nothing (its next bytes will be refused: where
         * its streams stand is forgotten). */
        if (g->n_flows >= g->max_flows && g->lists[FLOW_REFUSED].head)
                flow_free(g, g->lists[FLOW_REFUSED].head);
        if (g->n_flows >= g->max_flows && g->lists[FLOW_PASSED].head)
                flow_free(g, g->lists[FLOW_PASSED].head);
        if (g->n_flows >= g->max_flows && g->lists[FLOW_CHECKING].head && !g->lists[FLOW_CHECKING].head->held_usec) {
                flow_free(g, g->lists[FLOW_CHECKING].head);
                count_full(g, now);
        }
        if (g->n_flows >= g->max_flows)
                return NULL;
        enum policy_name_check kind = policy_name_check_port(g->policy, ntohs(p->key.server_port));
        if (kind == POLICY_NAME_CHECK_NONE)
                return NULL;
        struct flow *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        f->key = p->key;
        f->has_uid = h->has_uid;
        f->uid = h->uid;
        f->active_usec = now;
        namecheck_init(&f->check, kind == POLICY_NAME_CHECK_TLS ? NAMEGATE_TLS : NAMEGATE_HTTP);
        struct flow *none;
        struct flow **pp = bucket_of(g, &p->key, &none);
        *pp = f;
        list_append(g, f);
        g->n_flows++;
        return f;
}

/* Whether the flow needs the kernel told: it passed for good, or its
 * server's side goes free. */
static enum namegate_verdict flow_transition(struct gate *g, struct flow *f) {
        if (f->state != FLOW_CHECKING)
                return NAMEGATE_ACCEPT;
        if (f->check.up.budget == NAMECHECK_OPEN && f->check.down.budget == NAMECHECK_OPEN &&
            !f->side[0].n_held && !f->side[1].n_held) {
                flow_set_state(g, f, FLOW_PASSED);
                namecheck_done(&f->check);
                return NAMEGATE_PASS;
        }
        if (!f->client_only && f->check.down.budget == NAMECHECK_OPEN && !f->side[1].n_held) {
                f->client_only = true;
                return NAMEGATE_PASS_CLIENT;
        }
        return NAMEGATE_ACCEPT;
}

static void on_packet(struct gate *g, const struct namegate_packet *h, const uint8_t *bytes, size_t len) {
        struct verdicts vs = { .n = 0 };
        struct tcp_packet p;
        uint64_t now = now_usec();
        bool server = h->from_server;
        if (parse_packet(bytes, len, h->whole_len, server, &p) < 0) {
                send_verdict(g, h->id, NAMEGATE_REFUSE);
                return;
        }
        bool syn = p.flags & TH_SYN, ack = p.flags & TH_ACK;
        struct flow *f;
        if (syn && !ack && !server) {
                f = flow_new(g, &p, h, now);
                if (!f) {
                        count_full(g, now);
                        send_verdict(g, h->id, NAMEGATE_REFUSE);
                        return;
                }
        } else
                bucket_of(g, &p.key, &f);
        /* A packet with no byte and no SYN (an ACK, a FIN, a reset) carries
         * nothing to check, and may be what ends a stale connection: a
         * server still holding one on the same four-tuple answers a new SYN
         * with an ACK, which the client's reset must follow. */
        bool bare = p.len == 0 && !syn;
        if (!f || f->state == FLOW_REFUSED) {
                /* A flow begun before this child (or forgotten for room):
                 * where its streams stand is unknown. */
                send_verdict(g, h->id, bare ? NAMEGATE_ACCEPT : NAMEGATE_REFUSE);
                return;
        }
        if (f->state == FLOW_PASSED) {
                send_verdict(g, h->id, NAMEGATE_ACCEPT);
                return;
        }
        flow_touch(g, f, now);
        struct side *s = &f->side[server];
        if (p.flags & TH_RST) {
                /* Passed on: it ends the flow for both ends. */
                side_clear(&f->side[0]);
                side_clear(&f->side[1]);
                flow_set_state(g, f, FLOW_REFUSED);
                send_verdict(g, h->id, NAMEGATE_ACCEPT);
                return;
        }
        if (syn) {
                /* A SYN's data (TCP Fast Open) follows its sequence number;
                 * a second SYN (a retransmission) starts the same place. */
                s->next_seq = p.seq + 1;
                s->started = true;
        } else if (!s->started) {
                send_verdict(g, h->id, bare ? NAMEGATE_ACCEPT : NAMEGATE_REFUSE);
                return;
        }
        uint32_t data_seq = syn ? p.seq + 1 : p.seq;
        int32_t off = (int32_t) (data_seq - s->next_seq);
        int r = 1;
        if (p.len > 0) {
                struct namecheck_side *c = server ? &f->check.down : &f->check.up;
                bool checked = c->budget != NAMECHECK_OPEN;
                if ((p.flags & TH_URG) && checked) {
                        /* The server would take the urgent byte out of the
                         * stream the check read: refused. */
                        flow_refuse(g, f, &vs, true, h->id, !server, NAMEGATE_MALFORMED, NULL);
                        r = -1;
                } else if (off > 0)
                        r = 2;          /* a gap: dropped, sent again */
                else if ((size_t) -off >= p.len)
                        r = s->n_held ? 2 : 1;  /* all of it seen before */
                else {
                        size_t skip = (size_t) -off;
                        uint32_t seq = s->next_seq;
                        s->next_seq += (uint32_t) (p.len - skip);
                        r = side_take(g, f, server, h->id, seq, p.data + skip, p.len - skip, &vs, now);
                }
        }
        if (r >= 0 && (p.flags & TH_FIN) && off <= 0) {
                if (s->n_held) {
                        /* It ended in the middle of what a check waits on. */
                        flow_refuse(g, f, &vs, true, h->id, !server, NAMEGATE_MALFORMED, NULL);
                        r = -1;
                } else if (!s->ended) {
                        s->ended = true;
                        s->next_seq++;
                }
        }
        if (r < 0)
                return;         /* its verdict went out with the refusal */
        if (r == 1)
                verdict_add(&vs, h->id, NAMEGATE_ACCEPT);
        else if (r == 2)
                verdict_add(&vs, h->id, NAMEGATE_DROP);
        /* The packet that completes the flow's checks tells the kernel. */
        enum namegate_verdict last = flow_transition(g, f);
        for (unsigned i = vs.n; last != NAMEGATE_ACCEPT && i-- > 0;)
                if (vs.v[i].verdict == NAMEGATE_ACCEPT) {
                        vs.v[i].verdict = (uint8_t) last;
                        break;
                }
        for (unsigned i = 0; i < vs.n; i++)
                send_verdict(g, vs.v[i].id, vs.v[i].verdict);
        if (f->side[0].ended && f->side[1].ended && !f->side[0].n_held && !f->side[1].n_held)
                flow_set_state(g, f, FLOW_PASSED);      /* over: late packets pass as they came */
}

/* ---- deadlines ------------------------------------------------------------------ */

/* Checks holding packets past the hello's deadline are refused; flows
 * still followed but silent past the idle deadline, and settled ones
 * past their keep, are forgotten. */
static void expire(struct gate *g, uint64_t now) {
        for (struct flow *f = g->lists[FLOW_CHECKING].head, *next; f; f = next) {
                next = f->next;
                if (f->held_usec && now - f->held_usec >= g->hello_usec) {
                        struct verdicts vs = { .n = 0 };
                        bool client_held = f->side[0].n_held > 0;
                        flow_refuse(g, f, &vs, false, 0, client_held, NAMEGATE_TIMEOUT, NULL);
                } else if (now - f->active_usec >= g->idle_usec)
                        flow_free(g, f);
        }
        for (int st = FLOW_PASSED; st <= FLOW_REFUSED; st++)
                while (g->lists[st].head && now - g->lists[st].head->active_usec >= SETTLED_KEEP_USEC)
                        flow_free(g, g->lists[st].head);
}

/* The earliest deadline from now, in ms (at least 1), or -1. The
 * checking list is in activity order, not hold order, so it is walked:
 * it is short in practice, and bounded by max_flows. */
static int next_timeout_ms(struct gate *g, uint64_t now) {
        uint64_t due = UINT64_MAX;
        for (struct flow *f = g->lists[FLOW_CHECKING].head; f; f = f->next) {
                uint64_t d = f->held_usec ? f->held_usec + g->hello_usec : f->active_usec + g->idle_usec;
                if (d < due)
                        due = d;
        }
        for (int st = FLOW_PASSED; st <= FLOW_REFUSED; st++)
                if (g->lists[st].head && g->lists[st].head->active_usec + SETTLED_KEEP_USEC < due)
                        due = g->lists[st].head->active_usec + SETTLED_KEEP_USEC;
        if (due == UINT64_MAX)
                return -1;
        if (due <= now)
                return 1;
        uint64_t ms = (due - now + 999) / 1000;
        return ms > 60000 ? 60000 : (int) ms;
}

/* ---- the loop ------------------------------------------------------------------- */

/* 0 when drained, 1 when PID 1 closed the socket, -errno. */
static int on_control(struct gate *g) {
        static union {
                struct namegate_packet h;
                uint8_t bytes[sizeof(struct namegate_packet) + NAMEGATE_PACKET_BYTES_MAX];
        } buf;
        for (int i = 0; i < PACKETS_PER_WAKE; i++) {
                ssize_t n = recv(g->control_fd, &buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                if (n == 0)
                        return 1;
                if ((size_t) n < sizeof(struct namegate_packet))
                        continue;
                on_packet(g, &buf.h, buf.bytes + sizeof(struct namegate_packet),
                          (size_t) n - sizeof(struct namegate_packet));
        }
        return 0;
}

int namegate_main(const struct namegate_config *cfg) {
        struct gate g = {
                .control_fd = cfg->control_fd, .policy = cfg->policy,
                .hello_usec = (uint64_t) (cfg->hello_timeout_ms ? cfg->hello_timeout_ms : TIMEOUT_PROXY_HELLO_MS) * 1000u,
                .idle_usec = (uint64_t) (cfg->idle_timeout_ms ? cfg->idle_timeout_ms : TIMEOUT_PROXY_IDLE_MS) * 1000u,
                .max_flows = cfg->max_flows ? cfg->max_flows : NAMEGATE_FLOWS_MAX,
        };
        g.n_buckets = g.max_flows;
        g.buckets = calloc(g.n_buckets, sizeof(*g.buckets));
        g.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN };
        if (!g.buckets || g.epoll_fd < 0 || epoll_ctl(g.epoll_fd, EPOLL_CTL_ADD, g.control_fd, &ev) < 0) {
                int r = g.buckets ? -errno : -ENOMEM;
                fprintf(stderr, "name gate: cannot start its loop: %s\n", strerror(-r));
                return r;
        }
        for (;;) {
                struct epoll_event events[1];
                int n = epoll_wait(g.epoll_fd, events, 1, next_timeout_ms(&g, now_usec()));
                if (n < 0 && errno != EINTR) {
                        int r = -errno;
                        fprintf(stderr, "name gate: epoll_wait: %s\n", strerror(-r));
                        return r;
                }
                if (n > 0) {
                        int r = on_control(&g);
                        if (r < 0) {
                                fprintf(stderr, "name gate: reading from PID 1: %s\n", strerror(-r));
                                return r;
                        }
                        if (r > 0)
                                return 0;
                }
                expire(&g, now_usec());
        }
}
