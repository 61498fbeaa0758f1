/* SPDX-License-Identifier: MIT */
/* The name gate's loop (namegate.h). A flow is keyed by its four-tuple,
 * the client's end first; each side keeps the sequence number of its next
 * new byte (learned from its SYN) and of its first byte no check has
 * vouched for yet: the bytes between wait in its check buffer. A packet
 * passes when every byte it carries is vouched for, or when the bytes it
 * adds are part of a ClientHello or request head too short yet to decide
 * on (side_packet() says why that is safe); the packet that completes one
 * passes or is refused with it. A side whose next bytes must wait for the
 * other side's check (a TLS client's, until the server's first record)
 * has its packets held (no verdict yet) until the check vouches for
 * them, at most HOLD_USEC: a held packet keeps its socket's send buffer
 * charged, and Linux then keeps the sender's next small writes back
 * (autocorking) until it is freed, so a longer hold is dropped (its bytes
 * stay with the check) and the sender sends it again.
 *
 * A check that passes grants a budget (namecheck.h); one that refuses
 * refuses the packet (the client gets a reset) and every later one of the
 * flow. When the flow's last check has passed, the verdict of the packet
 * that got it there says so, and the kernel stops queueing the flow
 * (NAMEGATE_PASS); a plain HTTP flow's server side goes free after its
 * first request (NAMEGATE_PASS_CLIENT). */
#include "namegate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

/* How long a packet is held (see above), and how many per side. */
#define HOLD_USEC 300000u
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
        uint32_t vouched_seq;           /* and of the first byte no check vouched for */
        bool started;                   /* both are known: its SYN was seen */
        bool ended;                     /* its FIN was seen */
        uint8_t *buf;                   /* the bytes from vouched_seq to next_seq; only while there are any */
        size_t len;
        uint32_t held[HELD_MAX];        /* packets held, oldest first */
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
        uint64_t waiting_usec;          /* since when a check waits on bytes, or last passed; 0: none waits */
        uint64_t held_usec;             /* since when packets are held; 0: none */
        struct namecheck check;
        struct side side[2];            /* 0: client → server, 1: server → client */
        /* A refusal found with no packet to carry it (the deadline): said
         * with the flow's next packet. */
        bool report_pending;
        uint8_t report_why;
        char report_name[SNIFF_NAME_MAX + 1];
};

struct list {
        struct flow *head, *tail;
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

/* The verdicts a packet's processing gives, in order: those of the held
 * packets it released, then its own. */
#define VERDICTS_MAX (2u * HELD_MAX + 1u)
struct verdicts {
        struct { uint32_t id; uint8_t verdict; } v[VERDICTS_MAX];
        unsigned n;
};

static void verdict_add(struct verdicts *vs, uint32_t id, enum namegate_verdict v) {
        if (vs->n < VERDICTS_MAX)
                vs->v[vs->n++] = (typeof(vs->v[0])) { id, (uint8_t) v };
}

/* ---- verdicts and reports ----------------------------------------------------- */

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

/* A packet refused, and with it what was refused, for PID 1's denial
 * stream: the flow's pending report. */
static void send_refusal(struct gate *g, struct flow *f, uint32_t id) {
        if (!f->report_pending) {
                send_verdict(g, id, NAMEGATE_REFUSE);
                return;
        }
        struct namegate_msg m;
        memset(&m, 0, sizeof(m));
        m.type = NAMEGATE_VERDICT;
        m.id = id;
        m.verdict = NAMEGATE_REFUSE;
        m.report = 1;
        m.kind = f->check.kind;
        m.why = f->report_why;
        m.port = ntohs(f->key.server_port);
        m.family = f->key.family;
        memcpy(m.addr, f->key.server, f->key.family == AF_INET ? 4 : 16);
        if (f->report_why == NAMEGATE_NOT_IN_POLICY)
                snprintf(m.name, sizeof(m.name), "%s", f->report_name);
        m.has_uid = f->has_uid;
        m.uid = f->has_uid ? f->uid : 0;
        send_msg(g, &m);
        f->report_pending = false;
}

/* Every packet the flow holds, of both sides, gets verdict v, and it holds
 * none after. */
static void flow_let_go(struct gate *g, struct flow *f, enum namegate_verdict v) {
        for (int i = 0; i < 2; i++) {
                for (unsigned k = 0; k < f->side[i].n_held; k++)
                        send_verdict(g, f->side[i].held[k], v);
                f->side[i].n_held = 0;
        }
        f->held_usec = 0;
}

/* The flow is refused: what it held now, its next packet and every later
 * one. report: say so, with why and name. */
static void flow_refuse(struct gate *g, struct flow *f, bool report, enum namegate_why why, const char *name) {
        flow_let_go(g, f, NAMEGATE_REFUSE);
        side_clear(&f->side[0]);
        side_clear(&f->side[1]);
        f->waiting_usec = 0;
        f->report_pending = report;
        f->report_why = (uint8_t) why;
        snprintf(f->report_name, sizeof(f->report_name), "%s", name ? name : "");
        namecheck_done(&f->check);
        flow_set_state(g, f, FLOW_REFUSED);
}

/* ---- following the streams ---------------------------------------------------- */

/* Runs the side's waiting bytes through the checks as far as they go:
 * false when the flow was refused. *passed: a check passed. */
static bool side_advance(struct gate *g, struct flow *f, bool server, bool *passed) {
        struct side *s = &f->side[server];
        struct namecheck_side *c = server ? &f->check.down : &f->check.up;
        char name[SNIFF_NAME_MAX + 1];
        while (s->len > 0) {
                if (c->budget) {
                        size_t take = c->budget < s->len ? (size_t) c->budget : s->len;
                        memmove(s->buf, s->buf + take, s->len - take);
                        s->len -= take;
                        s->vouched_seq += (uint32_t) take;
                        if (c->budget != NAMECHECK_OPEN)
                                c->budget -= take;
                        continue;
                }
                if (namecheck_holds(c))
                        break;
                enum namegate_why why = 0;
                switch (namecheck_side(&f->check, server, g->policy, s->buf, s->len, &why, name)) {
                case NAMECHECK_PASS:
                        *passed = true;
                        continue;
                case NAMECHECK_REFUSE:
                        flow_refuse(g, f, true, why, name);
                        return false;
                case NAMECHECK_BROKEN:
                        flow_refuse(g, f, false, 0, NULL);
                        return false;
                case NAMECHECK_MORE:
                default:
                        if (s->len >= SNIFF_BYTES_MAX) {
                                flow_refuse(g, f, !server, NAMEGATE_TOO_LONG, NULL);
                                return false;
                        }
                        goto out;
                }
        }
out:
        if (!s->len)
                side_clear(s);
        return true;
}

/* Both sides as far as their checks let them: a check on one side may
 * open the other's. A check that passed restarts the deadline of those
 * still waiting: each restart took a whole head or record. false:
 * refused. */
static bool flow_advance(struct gate *g, struct flow *f, uint64_t now) {
        bool passed = false;
        for (int round = 0; round < 2; round++)
                for (int i = 0; i < 2; i++)
                        if (f->side[i].len && !side_advance(g, f, i == 1, &passed))
                                return false;
        if (!f->side[0].len && !f->side[1].len)
                f->waiting_usec = 0;
        else if (passed || !f->waiting_usec)
                f->waiting_usec = now;
        return true;
}

/* The new bytes of a packet, from sequence number seq (the side's next):
 * what the budget allows is vouched for at once, the rest waits for its
 * check in the side's buffer. false: refused. */
static bool side_take(struct gate *g, struct flow *f, bool server, const uint8_t *bytes, size_t n, uint64_t now) {
        struct side *s = &f->side[server];
        struct namecheck_side *c = server ? &f->check.down : &f->check.up;
        s->next_seq += (uint32_t) n;
        if (!s->len && c->budget) {
                size_t take = c->budget < n ? (size_t) c->budget : n;
                if (c->budget != NAMECHECK_OPEN)
                        c->budget -= take;
                s->vouched_seq += (uint32_t) take;
                bytes += take;
                n -= take;
                if (n == 0)
                        return true;
        }
        if (s->len + n > SNIFF_BYTES_MAX) {
                flow_refuse(g, f, !server, NAMEGATE_TOO_LONG, NULL);
                return false;
        }
        if (!s->buf) {
                s->buf = malloc(SNIFF_BYTES_MAX);
                if (!s->buf) {
                        flow_refuse(g, f, false, 0, NULL);
                        return false;
                }
        }
        memcpy(s->buf + s->len, bytes, n);
        s->len += n;
        return flow_advance(g, f, now);
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
        /* The key is hashed and compared whole, its padding too. */
        memset(&ret->key, 0, sizeof(ret->key));
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
static struct flow *flow_new(struct gate *g, const struct tcp_packet *p, const struct namegate_packet *h,
                             enum policy_name_check kind, uint64_t now) {
        struct flow *old;
        bucket_of(g, &p->key, &old);
        if (old)
                flow_free(g, old);
        /* Room: settled flows go first, then the quietest one still being
         * checked on which no check waits (its next bytes will be refused:
         * where its streams stand is forgotten). */
        if (g->n_flows >= g->max_flows && g->lists[FLOW_REFUSED].head)
                flow_free(g, g->lists[FLOW_REFUSED].head);
        if (g->n_flows >= g->max_flows && g->lists[FLOW_PASSED].head)
                flow_free(g, g->lists[FLOW_PASSED].head);
        if (g->n_flows >= g->max_flows && g->lists[FLOW_CHECKING].head && !g->lists[FLOW_CHECKING].head->waiting_usec) {
                flow_free(g, g->lists[FLOW_CHECKING].head);
                count_full(g, now);
        }
        if (g->n_flows >= g->max_flows)
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
            !f->side[0].len && !f->side[1].len) {
                flow_set_state(g, f, FLOW_PASSED);
                namecheck_done(&f->check);
                return NAMEGATE_PASS;
        }
        if (!f->client_only && f->check.down.budget == NAMECHECK_OPEN && !f->side[1].len) {
                f->client_only = true;
                return NAMEGATE_PASS_CLIENT;
        }
        return NAMEGATE_ACCEPT;
}

/* Held packets whose every byte is vouched for go, in order. */
static void side_release(struct side *s, struct verdicts *vs) {
        unsigned k = 0;
        while (k < s->n_held && (int32_t) (s->held_end[k] - s->vouched_seq) <= 0)
                verdict_add(vs, s->held[k++], NAMEGATE_ACCEPT);
        memmove(s->held, s->held + k, (s->n_held - k) * sizeof(s->held[0]));
        memmove(s->held_end, s->held_end + k, (s->n_held - k) * sizeof(s->held_end[0]));
        s->n_held -= k;
}

enum packet_verdict { PACKET_PASS, PACKET_HOLD, PACKET_DROP, PACKET_REFUSE };

/* A data or FIN packet of a flow being checked. */
static enum packet_verdict side_packet(struct gate *g, struct flow *f, bool server, const struct tcp_packet *p,
                                       uint64_t now) {
        struct side *s = &f->side[server];
        struct namecheck_side *c = server ? &f->check.down : &f->check.up;
        uint32_t seq = p->flags & TH_SYN ? p->seq + 1 : p->seq;
        int32_t off = (int32_t) (seq - s->next_seq);
        bool brought_new = false;
        if (p->len) {
                if ((p->flags & TH_URG) && c->budget != NAMECHECK_OPEN) {
                        /* The server would take the urgent byte out of the
                         * stream the check read. */
                        flow_refuse(g, f, !server, NAMEGATE_MALFORMED, NULL);
                        return PACKET_REFUSE;
                }
                if (off > 0)
                        return PACKET_DROP;     /* past bytes the gate has not seen: sent again in order */
                if ((size_t) -off < p->len) {
                        brought_new = true;
                        if (!side_take(g, f, server, p->data + (size_t) -off, p->len - (size_t) -off, now))
                                return PACKET_REFUSE;
                }
        }
        if ((p->flags & TH_FIN) && off <= 0 && (size_t) -off <= p->len) {
                if (s->len) {
                        /* It ended where a check waits on more. */
                        flow_refuse(g, f, !server, NAMEGATE_MALFORMED, NULL);
                        return PACKET_REFUSE;
                }
                if (!s->ended) {
                        s->ended = true;
                        s->next_seq++;
                        s->vouched_seq++;
                }
        }
        uint32_t end = seq + (uint32_t) p->len;
        if ((int32_t) (end - s->vouched_seq) <= 0)
                return PACKET_PASS;
        /* Bytes the side's own check waits on, it having too few to decide:
         * what came so far passes. No server acts on part of a ClientHello
         * or of a request head (a TLS server reads a record when it is
         * whole, an HTTP server a head at its empty line), and the packet
         * that completes one is the check's to pass or refuse; holding the
         * part instead would stall the sender (its next part waits for an
         * acknowledgement under Nagle's algorithm, or behind the held one
         * under autocorking). */
        if (!namecheck_holds(c))
                return PACKET_PASS;
        /* A side waiting for the other's check (a TLS client's bytes after
         * its ClientHello, before the server's first record says whether a
         * second ClientHello may come): held if it brought them (a copy
         * sent again is dropped: the first is held, or was dropped for its
         * sender to send once more). */
        if (!brought_new || s->n_held == HELD_MAX)
                return PACKET_DROP;
        s->held_end[s->n_held] = end;
        if (!f->held_usec)
                f->held_usec = now;
        return PACKET_HOLD;
}

/* Sends the verdicts, the last that lets a packet pass carrying the
 * flow's transition, if it has one. */
static void send_verdicts(struct gate *g, struct flow *f, struct verdicts *vs) {
        enum namegate_verdict last = flow_transition(g, f);
        for (unsigned i = vs->n; last != NAMEGATE_ACCEPT && i-- > 0;)
                if (vs->v[i].verdict == NAMEGATE_ACCEPT) {
                        vs->v[i].verdict = (uint8_t) last;
                        break;
                }
        for (unsigned i = 0; i < vs->n; i++)
                send_verdict(g, vs->v[i].id, vs->v[i].verdict);
}

static void on_packet(struct gate *g, const struct namegate_packet *h, const uint8_t *bytes, size_t len) {
        struct tcp_packet p;
        uint64_t now = now_usec();
        bool server = h->from_server;
        if (parse_packet(bytes, len, h->whole_len, server, &p) < 0) {
                send_verdict(g, h->id, NAMEGATE_REFUSE);
                return;
        }
        bool syn = p.flags & TH_SYN, ack = p.flags & TH_ACK;
        /* A packet with no byte and no SYN (an ACK, a FIN, a reset) carries
         * nothing to check, and may be what ends a stale connection: a
         * server still holding one on the same four-tuple answers a new SYN
         * with an ACK, which the client's reset must follow. */
        bool bare = p.len == 0 && !syn;
        struct flow *f;
        if (syn && !ack && !server) {
                enum policy_name_check kind = policy_name_check_port(g->policy, ntohs(p.key.server_port));
                if (kind == POLICY_NAME_CHECK_NONE) {
                        /* Queued for a port this policy does not check (the
                         * rules of another policy): nothing to check it
                         * against. */
                        send_verdict(g, h->id, NAMEGATE_REFUSE);
                        return;
                }
                f = flow_new(g, &p, h, kind, now);
                if (!f) {
                        count_full(g, now);
                        send_verdict(g, h->id, NAMEGATE_REFUSE);
                        return;
                }
        } else
                bucket_of(g, &p.key, &f);
        if (!f) {
                /* A flow begun before this child (or forgotten for room):
                 * where its streams stand is unknown. */
                send_verdict(g, h->id, bare ? NAMEGATE_ACCEPT : NAMEGATE_REFUSE);
                return;
        }
        if (f->state == FLOW_REFUSED) {
                if (bare && !f->report_pending)
                        send_verdict(g, h->id, NAMEGATE_ACCEPT);
                else
                        send_refusal(g, f, h->id);
                return;
        }
        if (f->state == FLOW_PASSED) {
                send_verdict(g, h->id, NAMEGATE_ACCEPT);
                return;
        }
        flow_touch(g, f, now);
        struct side *s = &f->side[server];
        if (p.flags & TH_RST) {
                /* Passed on: it ends the flow for both ends; what it held
                 * goes nowhere, and nothing after it on these four
                 * addresses and ports but a new SYN is let on. */
                flow_let_go(g, f, NAMEGATE_DROP);
                side_clear(&f->side[0]);
                side_clear(&f->side[1]);
                f->waiting_usec = 0;
                namecheck_done(&f->check);
                flow_set_state(g, f, FLOW_REFUSED);
                send_verdict(g, h->id, NAMEGATE_ACCEPT);
                return;
        }
        if (syn) {
                /* A SYN's data (TCP Fast Open) follows its sequence number;
                 * a second SYN (sent again) starts the same place. */
                if (!s->started)
                        s->next_seq = s->vouched_seq = p.seq + 1;
                s->started = true;
        } else if (!s->started) {
                send_verdict(g, h->id, bare ? NAMEGATE_ACCEPT : NAMEGATE_REFUSE);
                return;
        }
        struct verdicts vs = { .n = 0 };
        enum packet_verdict v = side_packet(g, f, server, &p, now);
        if (v == PACKET_REFUSE) {
                send_refusal(g, f, h->id);
                return;
        }
        if (v == PACKET_HOLD)
                s->held[s->n_held++] = h->id;
        /* What this packet's bytes let the checks vouch for releases held
         * packets, of either side (a server's first record opens the
         * client's). */
        side_release(&f->side[0], &vs);
        side_release(&f->side[1], &vs);
        if (!f->side[0].n_held && !f->side[1].n_held)
                f->held_usec = 0;
        if (v == PACKET_PASS)
                verdict_add(&vs, h->id, NAMEGATE_ACCEPT);
        else if (v == PACKET_DROP)
                verdict_add(&vs, h->id, NAMEGATE_DROP);
        send_verdicts(g, f, &vs);
        if (f->state == FLOW_CHECKING && f->side[0].ended && f->side[1].ended)
                flow_set_state(g, f, FLOW_PASSED);      /* over: late packets pass as they came */
}

/* ---- deadlines ------------------------------------------------------------------ */

/* Checks waiting on bytes past the hello's deadline are refused (the
 * client sends its bytes again, and meets the refusal); flows still
 * followed but silent past the idle deadline, before their first check
 * passed, and settled ones past their keep, are forgotten. A plain HTTP
 * flow whose server's side went free is not forgotten for silence: its
 * client's acknowledgements of a long download do not come here. */
static void expire(struct gate *g, uint64_t now) {
        for (struct flow *f = g->lists[FLOW_CHECKING].head, *next; f; f = next) {
                next = f->next;
                if (f->held_usec && now - f->held_usec >= HOLD_USEC)
                        flow_let_go(g, f, NAMEGATE_DROP);       /* their bytes kept: see the top */
                if (f->waiting_usec && now - f->waiting_usec >= g->hello_usec)
                        flow_refuse(g, f, f->side[0].len > 0, NAMEGATE_TIMEOUT, NULL);
                else if (!f->client_only && now - f->active_usec >= g->idle_usec)
                        flow_free(g, f);
        }
        for (int st = FLOW_PASSED; st <= FLOW_REFUSED; st++)
                while (g->lists[st].head && now - g->lists[st].head->active_usec >= SETTLED_KEEP_USEC)
                        flow_free(g, g->lists[st].head);
}

/* The earliest deadline from now, in ms (at least 1), or -1. The
 * checking list is in activity order, not deadline order, so it is
 * walked: it is bounded by max_flows. */
static int next_timeout_ms(struct gate *g, uint64_t now) {
        uint64_t due = UINT64_MAX;
        for (struct flow *f = g->lists[FLOW_CHECKING].head; f; f = f->next) {
                uint64_t d = f->held_usec ? f->held_usec + HOLD_USEC
                           : f->waiting_usec ? f->waiting_usec + g->hello_usec
                           : f->client_only ? UINT64_MAX : f->active_usec + g->idle_usec;
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
                .hello_usec = (uint64_t) (cfg->hello_timeout_ms ? cfg->hello_timeout_ms : TIMEOUT_GATE_CHECK_MS) * 1000u,
                .idle_usec = (uint64_t) (cfg->idle_timeout_ms ? cfg->idle_timeout_ms : TIMEOUT_GATE_IDLE_MS) * 1000u,
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
