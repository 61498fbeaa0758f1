/* SPDX-License-Identifier: MIT */
#include "dnsproxy.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "aresloop.h"
#include "dns_wire.h"
#include "dnsproxy_grants.h"
#include "dnsproxy_proto.h"
#include "log.h"
#include "loop.h"
#include "macro.h"
#include "policy.h"
#include "timeouts.h"

/* A query over UDP larger than this is malformed for our purposes (one
 * question and one OPT fit in ~300 bytes; EDNS padding adds at most a
 * few hundred). Over TCP a longer frame closes the connection. */
#define QUERY_MAX 4096
/* An upstream answer we hold until PID 1 acknowledges, at most this big:
 * A/AAAA/CNAME answers for real names are a few hundred bytes; a larger
 * one is answered SERVFAIL so that 1024 held answers stay under 16 MiB. */
#define ANSWER_HOLD_MAX 16384
/* Unsent answers queued on one TCP connection; a client that does not
 * read them is disconnected. */
#define TCP_OUT_MAX (4 * (2 + ANSWER_HOLD_MAX))
/* Datagrams read per wake-up from one UDP socket, so that one busy
 * socket cannot starve the control socket's acknowledgements. */
#define UDP_BATCH 64
/* Queries sent upstream at once (proxy->n_upstream). Below 100, the
 * most Docker's embedded DNS (127.0.0.11, the upstream of every sandbox
 * on a user-defined network) forwards at once: it drops a query beyond
 * that without an answer (libnetwork's resolver, maxConcurrent, Docker
 * 20.10). When a loaded machine slows its forwarding, 128 of ours kept it
 * full, the surplus was dropped again on c-ares' retry, and those queries
 * ended SERVFAIL. 96 leaves a few for PID 1's own lookups. Not lower:
 * through a slow forwarder this many per answer time is all we pass, and
 * clients give up after their own timeouts (glibc: 2 × 5 s); with 48, a
 * burst of 500 names at 600 ms per answer lost 144 of them, with 96 none.
 * c-ares sends a query whose answer is 2 s late once more (DNS_TRIES);
 * that copy, if the server drops it, costs nothing while the first one
 * is still being forwarded. */
#define UPSTREAM_MAX 96

struct tcp_conn;

struct client {
        int udp_fd;                             /* ≥ 0: a UDP client at peer */
        struct sockaddr_storage peer;
        socklen_t peer_len;
        struct tcp_conn *conn;                  /* a TCP client; NULL once it is gone */
};

struct pending {
        struct proxy *proxy;
        struct client client;
        struct dns_query q;
        uint32_t seq;                           /* 0 until the ALLOW is sent */
        uint64_t grant_key;                     /* the answer's key in proxy->grants */
        uint8_t *answer;                        /* held until PID 1 acknowledges */
        size_t answer_len;
        uint64_t deadline_usec;
        /* The ALLOW while the control socket cannot take it. */
        struct dnsproxy_msg *unsent;
        /* Our query while it waits for room upstream (proxy->waiting). */
        unsigned char *qbuf;
        int qlen;
        struct pending *wait_next;
        bool at_upstream;
        /* Queries for the same name and type that arrived while this one
         * was waiting for upstream: they take its answer (lead_next links
         * them, in the order they came). */
        struct pending *followers, *followers_tail, *lead_next;
        bool follower;
        struct pending *prev, *next;            /* proxy->all */
        struct pending *ack_prev, *ack_next;    /* proxy->acks, while seq != 0 */
};

struct tcp_conn {
        struct proxy *proxy;
        int fd;
        uint8_t in[2 + QUERY_MAX];
        size_t in_len;
        uint8_t *out;
        size_t out_len, out_off;
        unsigned n_pending;
        bool eof;                               /* the client sent FIN: answer, then close */
        /* While its frames are being handled, an answer sent synchronously
         * may want to close the connection: it is closed after the walk. */
        bool busy, closing;
        uint64_t idle_deadline_usec;
        struct tcp_conn *prev, *next;           /* proxy->conns, least recently active first */
};

struct counter {
        uint64_t n;
        const char *what;
};

struct proxy {
        struct loop *loop;
        const struct policy *policy;
        struct aresloop ares;
        int control_fd;
        int udp_fds[2], tcp_fds[2];
        unsigned max_inflight, max_conns;
        uint64_t allow_timeout_usec, idle_timeout_usec;

        size_t n_inflight, n_conns;
        /* Queries at c-ares at once: a burst of hundreds sent together
         * overflows the upstream server's socket (and c-ares' own), and
         * each answer lost costs a retry after the timeout. The rest wait
         * here, in order. */
        size_t n_upstream;
        struct pending *waiting, *waiting_tail;
        uint32_t next_seq;
        struct pending *all;
        struct pending *acks, *acks_tail;       /* deadline order: FIFO, one timeout */
        /* The ALLOWs not sent yet are the tail of acks, from here on. */
        struct pending *first_unsent;
        struct tcp_conn *conns, *conns_tail;
        bool stopping;

        /* What PID 1 has allowed already, and until when. */
        struct dnsproxy_grants grants;

        struct counter refusals_dropped, overloaded, upstream_failed, allow_unsent,
                allow_timed_out, bad_control, udp_send_failed;
        uint8_t udp_buf[QUERY_MAX];
};

/* Our own failures, on stderr, at the 1st, 2nd, 4th, 8th... occurrence:
 * enough to see that and how often something happens, never a flood. */
static void counter_bump(struct counter *c) {
        c->n++;
        if ((c->n & (c->n - 1)) == 0)
                log_warning("dnsproxy: %s (%llu so far)", c->what, (unsigned long long) c->n);
}

/* ---- sending to clients ---- */

static void conn_close(struct tcp_conn *c);
static void conn_touch(struct tcp_conn *c);

static int conn_flush(struct tcp_conn *c) {
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0)
                        return -EPIPE;
                c->out_off += (size_t) n;
        }
        if (c->out_off == c->out_len) {
                free(c->out);
                c->out = NULL;
                c->out_len = c->out_off = 0;
        }
        uint32_t events = (c->eof ? 0 : EPOLLIN) | (c->out ? EPOLLOUT : 0);
        (void) loop_modify_io(c->proxy->loop, c->fd, events);
        return 0;
}

static void conn_send(struct tcp_conn *c, const uint8_t *msg, size_t len) {
        if (c->closing)
                return;
        if (c->out_len - c->out_off + 2 + len > TCP_OUT_MAX) {
                conn_close(c);
                return;
        }
        if (c->out_off > 0) {
                memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
                c->out_len -= c->out_off;
                c->out_off = 0;
        }
        uint8_t *out = realloc(c->out, c->out_len + 2 + len);
        if (!out) {
                conn_close(c);
                return;
        }
        out[c->out_len] = (uint8_t) (len >> 8);
        out[c->out_len + 1] = (uint8_t) len;
        memcpy(out + c->out_len + 2, msg, len);
        c->out = out;
        c->out_len += 2 + len;
        if (conn_flush(c) < 0)
                conn_close(c);
}

static void client_send(struct proxy *p, const struct client *cl, const uint8_t *msg, size_t len) {
        if (cl->conn) {
                conn_send(cl->conn, msg, len);
                return;
        }
        if (cl->udp_fd < 0)
                return;
        /* UDP: a datagram the socket cannot take now is lost, as UDP may be;
         * the client retries. */
        if (sendto(cl->udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                   (const struct sockaddr *) &cl->peer, cl->peer_len) < 0)
                counter_bump(&p->udp_send_failed);
}

static void reply_local(struct proxy *p, const struct client *cl, const struct dns_query *q, int rcode) {
        uint8_t buf[DNS_HEADER_SIZE + DNS_QUESTION_WIRE_MAX + 11];
        int n = dns_build_local_answer(q, rcode, buf, sizeof(buf));
        if (n > 0)
                client_send(p, cl, buf, (size_t) n);
}

/* ---- the control socket to PID 1 ---- */

static int control_send(struct proxy *p, const struct dnsproxy_msg *m) {
        ssize_t n = send(p->control_fd, m, sizeof(*m), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
                return negative_errno();
        return n == (ssize_t) sizeof(*m) ? 0 : -EIO;
}

static void notify_refused(struct proxy *p, const struct dns_query *q) {
        struct dnsproxy_msg m = {.type = DNSPROXY_REFUSED, .qtype = q->qtype};
        memcpy(m.name, q->name, sizeof(m.name));
        if (control_send(p, &m) < 0)
                counter_bump(&p->refusals_dropped);
}

/* ---- queries in flight ---- */

static void acks_unlink(struct proxy *p, struct pending *pq) {
        if (pq->seq == 0)
                return;
        if (p->first_unsent == pq)
                p->first_unsent = pq->ack_next;
        if (pq->ack_prev)
                pq->ack_prev->ack_next = pq->ack_next;
        else
                p->acks = pq->ack_next;
        if (pq->ack_next)
                pq->ack_next->ack_prev = pq->ack_prev;
        else
                p->acks_tail = pq->ack_prev;
        pq->ack_prev = pq->ack_next = NULL;
        pq->seq = 0;
}

static void pending_free(struct pending *pq) {
        struct proxy *p = pq->proxy;
        acks_unlink(p, pq);
        if (pq->prev)
                pq->prev->next = pq->next;
        else
                p->all = pq->next;
        if (pq->next)
                pq->next->prev = pq->prev;
        p->n_inflight--;
        struct tcp_conn *c = pq->client.conn;
        if (pq->qbuf)
                ares_free_string(pq->qbuf);
        free(pq->answer);
        free(pq->unsent);
        free(pq);
        if (c) {
                c->n_pending--;
                conn_touch(c);
                if (c->eof && c->n_pending == 0 && !c->out)
                        conn_close(c);
        }
}

static void pending_fail(struct pending *pq) {
        reply_local(pq->proxy, &pq->client, &pq->q, DNS_RCODE_SERVFAIL);
        pending_free(pq);
}

static void pending_release(struct pending *pq) {
        client_send(pq->proxy, &pq->client, pq->answer, pq->answer_len);
        pending_free(pq);
}

static int on_ack_timeout(struct loop *l, void *userdata);

static void arm_ack_timer(struct proxy *p) {
        if (p->acks)
                (void) loop_set_timer(p->loop, &p->acks, p->acks->deadline_usec, on_ack_timeout, p);
        else
                loop_cancel_timer(p->loop, &p->acks);
}

static int on_ack_timeout(struct loop *l, void *userdata) {
        struct proxy *p = userdata;
        uint64_t now = loop_now_usec();
        while (p->acks && p->acks->deadline_usec <= now) {
                counter_bump(&p->allow_timed_out);
                pending_fail(p->acks);
        }
        arm_ack_timer(p);
        return 0;
}

/* Ask PID 1 to allow the answer's addresses, and hold the answer until it
 * says they are in the firewall's sets. */
static void pending_hold(struct pending *pq, uint8_t *answer, size_t len,
                         const struct dns_addr *addrs, size_t n, uint32_t ttl) {
        struct proxy *p = pq->proxy;
        struct dnsproxy_msg m = {.type = DNSPROXY_ALLOW, .n_addrs = (uint16_t) n, .ttl = ttl};
        memcpy(m.name, pq->q.name, sizeof(m.name));
        for (size_t i = 0; i < n; i++) {
                m.addrs[i].family = (uint8_t) addrs[i].family;
                memcpy(m.addrs[i].addr, addrs[i].addr, sizeof(m.addrs[i].addr));
        }
        if (++p->next_seq == 0)
                p->next_seq = 1;
        m.seq = p->next_seq;
        /* In order: behind ALLOWs already waiting for the socket. */
        int r = p->first_unsent ? -EAGAIN : control_send(p, &m);
        if (r == -EAGAIN) {
                pq->unsent = malloc(sizeof(m));
                if (pq->unsent)
                        *pq->unsent = m;
        }
        if (r < 0 && !pq->unsent) {
                counter_bump(&p->allow_unsent);
                free(answer);
                pending_fail(pq);
                return;
        }
        pq->seq = m.seq;
        pq->answer = answer;
        pq->answer_len = len;
        pq->deadline_usec = loop_now_usec() + p->allow_timeout_usec;
        pq->ack_prev = p->acks_tail;
        if (p->acks_tail)
                p->acks_tail->ack_next = pq;
        else
                p->acks = pq;
        p->acks_tail = pq;
        if (pq->unsent && !p->first_unsent) {
                p->first_unsent = pq;
                (void) loop_modify_io(p->loop, p->control_fd, EPOLLIN | EPOLLOUT);
        }
        if (p->acks == pq)
                arm_ack_timer(p);
}

/* The control socket takes messages again: send the ALLOWs that waited. */
static void control_flush(struct proxy *p) {
        while (p->first_unsent) {
                struct pending *pq = p->first_unsent;
                int r = control_send(p, pq->unsent);
                if (r == -EAGAIN)
                        break;
                if (r < 0) {
                        counter_bump(&p->allow_unsent);
                        pending_fail(pq);       /* moves first_unsent on */
                        continue;
                }
                free(TAKE_PTR(pq->unsent));
                p->first_unsent = pq->ack_next;
        }
        (void) loop_modify_io(p->loop, p->control_fd, EPOLLIN | (p->first_unsent ? EPOLLOUT : 0));
}

static void upstream_pump(struct proxy *p);

static void answer_one(struct pending *pq, int status, const unsigned char *abuf, int alen);

static void on_upstream_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
        struct pending *pq = arg;
        struct proxy *p = pq->proxy;

        pq->at_upstream = false;
        p->n_upstream--;
        if (p->stopping) {
                pending_free(pq);       /* its followers are freed with the rest */
                return;
        }
        upstream_pump(p);

        /* Taken first: answering pq may free it. abuf stays c-ares' until
         * we return. */
        struct pending *f = TAKE_PTR(pq->followers);
        pq->followers_tail = NULL;
        answer_one(pq, status, abuf, alen);
        while (f) {
                struct pending *next = TAKE_PTR(f->lead_next);
                answer_one(f, status, abuf, alen);
                f = next;
        }
}

/* One client's query and the upstream's answer to it (or to the query it
 * followed, which asked the same): checked, cut for UDP, and released or
 * held for PID 1, each for this client's id, question and transport. */
static void answer_one(struct pending *pq, int status, const unsigned char *abuf, int alen) {
        struct proxy *p = pq->proxy;

        if (!pq->client.conn && pq->client.udp_fd < 0) {       /* the TCP client left */
                pending_free(pq);
                return;
        }
        if (status != ARES_SUCCESS || !abuf || alen <= 0 || alen > ANSWER_HOLD_MAX ||
            dns_answer_check(abuf, (size_t) alen, &pq->q, -1) < 0) {
                counter_bump(&p->upstream_failed);
                pending_fail(pq);
                return;
        }

        _cleanup_free_ uint8_t *answer = malloc((size_t) alen);
        if (!answer) {
                pending_fail(pq);
                return;
        }
        memcpy(answer, abuf, (size_t) alen);
        size_t len = (size_t) alen;
        dns_answer_for_client(answer, len, &pq->q);

        /* A truncated answer shows the client no address: nothing to allow;
         * it asks again over TCP and that answer is allowed then. */
        if (!pq->client.conn) {
                size_t cut = dns_truncate(answer, len, &pq->q, dns_udp_limit(&pq->q));
                if (cut < len) {
                        client_send(p, &pq->client, answer, cut);
                        pending_free(pq);
                        return;
                }
        }

        struct dns_addr addrs[DNSPROXY_ADDRS_MAX];
        size_t n = 0;
        if (dns_answer_addresses(answer, len, addrs, ELEMENTSOF(addrs), &n) < 0) {
                counter_bump(&p->upstream_failed);
                pending_fail(pq);
                return;
        }
        if (n == 0) {                           /* NXDOMAIN, no data: nothing to allow */
                client_send(p, &pq->client, answer, len);
                pending_free(pq);
                return;
        }
        /* ttl: the smallest, and no more than RFC 2181 allows. */
        uint32_t ttl = INT32_MAX;
        for (size_t i = 0; i < n; i++)
                if (addrs[i].ttl < ttl)
                        ttl = addrs[i].ttl;
        /* The same answer PID 1 allowed recently, for at least as long as
         * this one needs: released at once. */
        uint64_t lifetime = dnsproxy_lifetime(ttl, policy_dns_min_ttl(p->policy), policy_dns_grace(p->policy));
        pq->grant_key = dnsproxy_grants_key(&p->grants, pq->q.name, addrs, n);
        if (dnsproxy_grants_cover(&p->grants, pq->grant_key, loop_now_usec() + lifetime * 1000000u)) {
                client_send(p, &pq->client, answer, len);
                pending_free(pq);
                return;
        }
        pending_hold(pq, TAKE_PTR(answer), len, addrs, n, ttl);
}

/* A query for the same name and type that has not had its answer yet
 * (waiting for room upstream, or there). */
static struct pending *asking_find(struct proxy *p, const struct dns_query *q) {
        for (struct pending *pq = p->all; pq; pq = pq->next)
                if (!pq->follower && (pq->at_upstream || pq->qbuf) && pq->q.qtype == q->qtype &&
                    strcmp(pq->q.name, q->name) == 0)
                        return pq;
        return NULL;
}

static void follow(struct pending *lead, struct pending *pq) {
        pq->follower = true;
        if (lead->followers_tail)
                lead->followers_tail->lead_next = pq;
        else
                lead->followers = pq;
        lead->followers_tail = pq;
}

static void forward(struct proxy *p, const struct client *cl, const struct dns_query *q) {
        if (p->n_inflight >= p->max_inflight) {
                counter_bump(&p->overloaded);
                reply_local(p, cl, q, DNS_RCODE_SERVFAIL);
                return;
        }
        struct pending *pq = calloc(1, sizeof(*pq));
        if (!pq) {
                reply_local(p, cl, q, DNS_RCODE_SERVFAIL);
                return;
        }
        /* The same question asked again before its answer came (threads
         * of one program, getaddrinfo() in each; a client's retry): it
         * takes that answer instead of asking upstream once more. A burst
         * of one name is then one query upstream, not hundreds that fill
         * the server's queue and time out there. */
        struct pending *lead = asking_find(p, q);
        /* Our own query, built from the checked name: nothing the client
         * sent but the name and type reaches the upstream server. */
        unsigned char *qbuf = NULL;
        int qlen = 0;
        if (!lead && ares_create_query(q->name, DNS_CLASS_IN, q->qtype, 0, 1, &qbuf, &qlen, 0) != ARES_SUCCESS) {
                free(pq);
                reply_local(p, cl, q, DNS_RCODE_SERVFAIL);
                return;
        }
        *pq = (struct pending) {.proxy = p, .client = *cl, .q = *q, .next = p->all};
        if (p->all)
                p->all->prev = pq;
        p->all = pq;
        p->n_inflight++;
        if (cl->conn)
                cl->conn->n_pending++;
        if (lead) {
                follow(lead, pq);
                return;
        }
        pq->qbuf = qbuf;
        pq->qlen = qlen;
        if (p->waiting_tail)
                p->waiting_tail->wait_next = pq;
        else
                p->waiting = pq;
        p->waiting_tail = pq;
        upstream_pump(p);
}

static void upstream_pump(struct proxy *p) {
        while (p->waiting && p->n_upstream < UPSTREAM_MAX) {
                struct pending *pq = p->waiting;
                p->waiting = pq->wait_next;
                if (!p->waiting)
                        p->waiting_tail = NULL;
                pq->wait_next = NULL;
                unsigned char *qbuf = TAKE_PTR(pq->qbuf);
                pq->at_upstream = true;
                p->n_upstream++;
                /* May call on_upstream_answer() before it returns (no servers). */
                ares_send(p->ares.channel, qbuf, pq->qlen, on_upstream_answer, pq);
                ares_free_string(qbuf);
        }
        aresloop_arm_timer(&p->ares);
}

/* ---- one query ---- */

static bool qtype_forwarded(uint16_t qtype) {
        return qtype == DNS_TYPE_A || qtype == DNS_TYPE_AAAA || qtype == DNS_TYPE_CNAME;
}

static void handle_query(struct proxy *p, const uint8_t *buf, size_t len, const struct client *cl) {
        struct dns_query q;
        int r = dns_query_parse(buf, len, &q);
        if (r < 0) {
                int rcode = dns_query_error_rcode(r);
                if (rcode >= 0)
                        reply_local(p, cl, &q, rcode);
                return;
        }
        if (q.qclass != DNS_CLASS_IN) {
                reply_local(p, cl, &q, DNS_RCODE_REFUSED);
                return;
        }
        if (q.name_invalid || !policy_name_allowed(p->policy, q.name, NULL)) {
                reply_local(p, cl, &q, DNS_RCODE_NXDOMAIN);
                notify_refused(p, &q);
                return;
        }
        if (q.qtype == DNS_TYPE_HTTPS || q.qtype == DNS_TYPE_SVCB) {
                /* "No such record": clients fall back to A/AAAA at once. */
                reply_local(p, cl, &q, DNS_RCODE_NOERROR);
                return;
        }
        if (!qtype_forwarded(q.qtype)) {
                reply_local(p, cl, &q, DNS_RCODE_REFUSED);
                notify_refused(p, &q);
                return;
        }
        forward(p, cl, &q);
}

/* ---- UDP ---- */

static int on_udp(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct proxy *p = userdata;
        for (int i = 0; i < UDP_BATCH; i++) {
                struct client cl = {.udp_fd = fd, .peer_len = sizeof(cl.peer)};
                ssize_t n = recvfrom(fd, p->udp_buf, sizeof(p->udp_buf), MSG_DONTWAIT | MSG_TRUNC,
                                     (struct sockaddr *) &cl.peer, &cl.peer_len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;                  /* EAGAIN, or an ICMP error for an earlier answer */
                }
                /* Too long to be a query: the header alone makes it FORMERR. */
                size_t len = (size_t) n > sizeof(p->udp_buf) ? DNS_HEADER_SIZE : (size_t) n;
                handle_query(p, p->udp_buf, len, &cl);
        }
        return 0;
}

/* ---- TCP ---- */

static int on_conn_idle(struct loop *l, void *userdata);

static void arm_idle_timer(struct proxy *p) {
        if (p->conns)
                (void) loop_set_timer(p->loop, &p->conns, p->conns->idle_deadline_usec, on_conn_idle, p);
        else
                loop_cancel_timer(p->loop, &p->conns);
}

static void conns_unlink(struct tcp_conn *c) {
        struct proxy *p = c->proxy;
        if (c->prev)
                c->prev->next = c->next;
        else
                p->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                p->conns_tail = c->prev;
        c->prev = c->next = NULL;
}

static void conns_append(struct tcp_conn *c) {
        struct proxy *p = c->proxy;
        c->prev = p->conns_tail;
        if (p->conns_tail)
                p->conns_tail->next = c;
        else
                p->conns = c;
        p->conns_tail = c;
}

/* Activity moves a connection to the end of the list, which so stays in
 * deadline order under one timer. */
static void conn_touch(struct tcp_conn *c) {
        struct proxy *p = c->proxy;
        c->idle_deadline_usec = loop_now_usec() + p->idle_timeout_usec;
        if (p->conns_tail != c) {
                conns_unlink(c);
                conns_append(c);
        }
        arm_idle_timer(p);
}

static void conn_close(struct tcp_conn *c) {
        struct proxy *p = c->proxy;
        if (c->busy) {
                c->closing = true;
                return;
        }
        /* Queries still in flight finish without a client to answer. */
        for (struct pending *pq = p->all; pq && c->n_pending > 0; pq = pq->next)
                if (pq->client.conn == c) {
                        pq->client.conn = NULL;
                        c->n_pending--;
                }
        conns_unlink(c);
        p->n_conns--;
        (void) loop_remove_io(p->loop, c->fd);
        close(c->fd);
        free(c->out);
        free(c);
        arm_idle_timer(p);
}

static int on_conn_idle(struct loop *l, void *userdata) {
        struct proxy *p = userdata;
        uint64_t now = loop_now_usec();
        while (p->conns && p->conns->idle_deadline_usec <= now) {
                struct tcp_conn *c = p->conns;
                if (c->n_pending > 0)
                        conn_touch(c);          /* waiting for upstream or PID 1, not idle */
                else
                        conn_close(c);
        }
        arm_idle_timer(p);
        return 0;
}

/* Every complete frame in c->in is a query; a partial one waits for more. */
static bool conn_take_frames(struct tcp_conn *c) {
        size_t off = 0;
        while (c->in_len - off >= 2 && !c->closing) {
                size_t flen = ((size_t) c->in[off] << 8) | c->in[off + 1];
                if (flen == 0 || flen > QUERY_MAX)
                        return false;
                if (c->in_len - off < 2 + flen)
                        break;
                struct client cl = {.udp_fd = -1, .conn = c};
                handle_query(c->proxy, c->in + off + 2, flen, &cl);
                off += 2 + flen;
        }
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        return true;
}

static int on_conn(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct tcp_conn *c = userdata;
        if (events & EPOLLOUT) {
                if (conn_flush(c) < 0) {
                        conn_close(c);
                        return 0;
                }
                if (c->eof && c->n_pending == 0 && !c->out) {
                        conn_close(c);
                        return 0;
                }
        }
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || c->eof)
                return 0;

        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n < 0) {
                conn_close(c);
                return 0;
        }
        if (n == 0) {
                /* A partial frame is lost; answers to complete ones still go out. */
                c->eof = true;
                if (c->n_pending == 0 && !c->out)
                        conn_close(c);
                else
                        (void) loop_modify_io(c->proxy->loop, c->fd, c->out ? EPOLLOUT : 0);
                return 0;
        }
        c->in_len += (size_t) n;
        conn_touch(c);
        c->busy = true;
        bool ok = conn_take_frames(c);
        c->busy = false;
        if (!ok || c->closing)
                conn_close(c);
        return 0;
}

static int on_accept(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct proxy *p = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;                       /* EAGAIN, or the client already left */
        if (p->n_conns >= p->max_conns)
                conn_close(p->conns);           /* the least recently active makes room */
        struct tcp_conn *c = calloc(1, sizeof(*c));
        if (!c) {
                close(cfd);
                return 0;
        }
        *c = (struct tcp_conn) {.proxy = p, .fd = cfd};
        if (loop_add_io(p->loop, cfd, EPOLLIN, on_conn, c) < 0) {
                close(cfd);
                free(c);
                return 0;
        }
        p->n_conns++;
        conns_append(c);
        conn_touch(c);
        return 0;
}

/* ---- PID 1's acknowledgements ---- */

static struct pending *acks_find(struct proxy *p, uint32_t seq) {
        /* PID 1 answers in order, so the first is nearly always it. */
        for (struct pending *pq = p->acks; pq; pq = pq->ack_next)
                if (pq->seq == seq)
                        return pq;
        return NULL;
}

static int on_control(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct proxy *p = userdata;
        if (events & EPOLLOUT)
                control_flush(p);
        for (;;) {
                struct dnsproxy_msg buf;
                const struct dnsproxy_msg *m;
                ssize_t n = recv(fd, &buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) {
                        /* PID 1 is gone or restarts us: nothing more to answer. */
                        loop_quit(l, 0);
                        return 0;
                }
                if (dnsproxy_msg_check(&buf, (size_t) n, DNSPROXY_ALLOWED, &m) < 0) {
                        counter_bump(&p->bad_control);
                        continue;
                }
                struct pending *pq = m->seq ? acks_find(p, m->seq) : NULL;
                if (!pq)
                        continue;               /* timed out already */
                bool was_first = pq == p->acks;
                acks_unlink(p, pq);
                if (m->status == 0 && m->ttl > 0)
                        dnsproxy_grants_record(&p->grants, pq->grant_key,
                                               loop_now_usec() + (uint64_t) m->ttl * 1000000u);
                if (m->status == 0)
                        pending_release(pq);
                else
                        pending_fail(pq);
                if (was_first)
                        arm_ack_timer(p);
        }
        return 0;
}

/* ---- setup ---- */

static int fd_nonblock(int fd) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return negative_errno();
        return 0;
}

static int proxy_check_servers(struct proxy *p, const char *resolv_conf);

/* The ports the upstream sockets bind to, below the kernel's ephemeral
 * range (0 when there is no room there: the kernel picks).
 *
 * Why: conntrack keeps a flow's entry for up to two minutes after its
 * socket is gone. With the kernel picking ports from one range for every
 * socket of the namespace, a busy sandbox soon gives a client's new socket
 * a port whose old entry was one of the resolver's upstream flows (its
 * query then skips the redirect and is refused), or gives the resolver a
 * port whose old entry was a client's redirected flow (its query is then
 * sent back to itself). The kernel never hands out ports below its range
 * by itself, so the two kinds of flows cannot meet there. */
static uint16_t upstream_port_lo, upstream_port_hi;

static void upstream_ports_choose(void) {
        unsigned lo = 0, hi = 0;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
        if (f) {
                if (fscanf(f, "%u %u", &lo, &hi) != 2)
                        lo = 0;
                fclose(f);
        }
        if (lo < 2048 + 512)
                return;
        upstream_port_hi = (uint16_t) (lo - 1);
        upstream_port_lo = (uint16_t) (lo > 8192 + 2048 ? lo - 8192 : 2048);
}

/* Random bits for the upstream ports, drawn a block at a time: a
 * getrandom() per query was one of the system calls between the client's
 * query and ours. */
struct random_pool {
        uint32_t v[32];
        size_t left;
};

static uint32_t random_u32(struct random_pool *pool) {
        if (pool->left == 0) {
                if (getrandom(pool->v, sizeof(pool->v), 0) != (ssize_t) sizeof(pool->v))
                        return (uint32_t) getpid() ^ (uint32_t) loop_now_usec();
                pool->left = ELEMENTSOF(pool->v);
        }
        return pool->v[--pool->left];
}

/* c-ares opens its upstream sockets through these, so the socket is made
 * non-blocking and close-on-exec in the one socket() call and bound where
 * it is made, knowing its family: c-ares' own path took three fcntl()s,
 * and a socket-configure callback had to ask the kernel for the family.
 * c-ares leaves sockets it did not make alone (no options, no Nagle
 * switch), so that is done here. Otherwise what c-ares' own functions do. */
static ares_socket_t upstream_socket(int family, int type, int protocol, void *data) {
        static struct random_pool pool;
        int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
        if (fd < 0)
                return fd;
        if (type == SOCK_STREAM) {
                int one = 1;
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (!upstream_port_lo || (family != AF_INET && family != AF_INET6))
                return fd;
        struct sockaddr_storage ss = {0};
        socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        ss.ss_family = (sa_family_t) family;
        unsigned span = (unsigned) upstream_port_hi - upstream_port_lo + 1, start = random_u32(&pool);
        for (unsigned i = 0; i < 64; i++) {
                uint16_t port = htons((uint16_t) (upstream_port_lo + (start + i) % span));
                if (family == AF_INET)
                        ((struct sockaddr_in *) &ss)->sin_port = port;
                else
                        ((struct sockaddr_in6 *) &ss)->sin6_port = port;
                if (bind(fd, (struct sockaddr *) &ss, len) == 0)
                        break;
                if (errno != EADDRINUSE)
                        break;
        }
        return fd;      /* no free port there: the kernel picks one at connect() */
}

static int upstream_close(ares_socket_t fd, void *data) {
        return close(fd);
}

static int upstream_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len, void *data) {
        return connect(fd, sa, len);
}

static ares_ssize_t upstream_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags, struct sockaddr *from,
                                      ares_socklen_t *from_len, void *data) {
        return recvfrom(fd, buf, len, flags, from, from_len);
}

static ares_ssize_t upstream_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *data) {
        return writev(fd, iov, n);
}

static const struct ares_socket_functions upstream_socket_functions = {
        .asocket = upstream_socket,
        .aclose = upstream_close,
        .aconnect = upstream_connect,
        .arecvfrom = upstream_recvfrom,
        .asendv = upstream_sendv,
};

static int proxy_channel_new(struct proxy *p, const struct dnsproxy_config *cfg) {
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
                return -ENOMEM;
        const char *resolv_conf = cfg->resolv_conf ? cfg->resolv_conf : "/etc/resolv.conf";
        int status = aresloop_init(&p->ares, p->loop, resolv_conf,
                                   cfg->upstream_timeout_ms ? cfg->upstream_timeout_ms : TIMEOUT_DNS_TRY_MS,
                                   cfg->upstream_tries ? cfg->upstream_tries : DNS_TRIES);
        if (status != ARES_SUCCESS) {
                log_error("dnsproxy: cannot read the upstream servers from %s: %s",
                          resolv_conf, ares_strerror(status));
                return status == ARES_ENOMEM ? -ENOMEM : -EINVAL;
        }
        upstream_ports_choose();
        ares_set_socket_functions(p->ares.channel, &upstream_socket_functions, p);
        return proxy_check_servers(p, resolv_conf);
}

/* Whether the server is one of our own listening addresses. c-ares falls
 * back to 127.0.0.1:53 when resolv.conf names no server, and under a
 * redirect that is us: every query would come back as a new one. */
static bool server_is_us(const struct proxy *p, const struct ares_addr_port_node *s) {
        uint16_t port = s->udp_port ? (uint16_t) s->udp_port : 53;
        for (size_t i = 0; i < 2; i++) {
                struct sockaddr_storage ss;
                socklen_t len = sizeof(ss);
                if (p->udp_fds[i] < 0 || getsockname(p->udp_fds[i], (struct sockaddr *) &ss, &len) < 0 ||
                    ss.ss_family != s->family)
                        continue;
                if (s->family == AF_INET) {
                        const struct sockaddr_in *in = (const struct sockaddr_in *) &ss;
                        if (ntohs(in->sin_port) == port &&
                            (in->sin_addr.s_addr == s->addr.addr4.s_addr || in->sin_addr.s_addr == INADDR_ANY))
                                return true;
                } else {
                        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &ss;
                        if (ntohs(in6->sin6_port) == port &&
                            (memcmp(&in6->sin6_addr, &s->addr.addr6, 16) == 0 ||
                             IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)))
                                return true;
                }
        }
        return false;
}

static int proxy_check_servers(struct proxy *p, const char *resolv_conf) {
        struct ares_addr_port_node *servers = NULL;
        if (ares_get_servers_ports(p->ares.channel, &servers) != ARES_SUCCESS)
                return log_error_errno(-ENOMEM, "dnsproxy: cannot list the upstream servers: %m");
        int r = servers ? 0 : -ENOENT;
        for (struct ares_addr_port_node *s = servers; s && r == 0; s = s->next)
                if (server_is_us(p, s))
                        r = -ELOOP;
        ares_free_data(servers);
        if (r == -ENOENT)
                return log_error_errno(r, "dnsproxy: %s names no DNS server", resolv_conf);
        if (r == -ELOOP)
                return log_error_errno(r, "dnsproxy: %s names the resolver's own address (or none, and "
                                       "c-ares falls back to 127.0.0.1): it would ask itself", resolv_conf);
        return 0;
}

static void proxy_free(struct proxy *p) {
        p->stopping = true;
        while (p->conns)
                conn_close(p->conns);
        aresloop_done(&p->ares);        /* frees what is still upstream */
        while (p->all)
                pending_free(p->all);
        ares_library_cleanup();
        loop_free(p->loop);
        for (size_t i = 0; i < 2; i++) {
                if (p->udp_fds[i] >= 0)
                        close(p->udp_fds[i]);
                if (p->tcp_fds[i] >= 0)
                        close(p->tcp_fds[i]);
        }
        if (p->control_fd >= 0)
                close(p->control_fd);
        free(p);
}

static int proxy_listen(struct proxy *p) {
        for (size_t i = 0; i < 2; i++) {
                int r;
                if (p->udp_fds[i] >= 0 &&
                    ((r = fd_nonblock(p->udp_fds[i])) < 0 ||
                     (r = loop_add_io(p->loop, p->udp_fds[i], EPOLLIN, on_udp, p)) < 0))
                        return log_error_errno(r, "dnsproxy: cannot wait on a UDP socket: %m");
                if (p->tcp_fds[i] >= 0 &&
                    ((r = fd_nonblock(p->tcp_fds[i])) < 0 ||
                     (r = loop_add_io(p->loop, p->tcp_fds[i], EPOLLIN, on_accept, p)) < 0))
                        return log_error_errno(r, "dnsproxy: cannot wait on a TCP socket: %m");
        }
        int r = loop_add_io(p->loop, p->control_fd, EPOLLIN, on_control, p);
        if (r < 0)
                return log_error_errno(r, "dnsproxy: cannot wait on the control socket: %m");
        return 0;
}

int dnsproxy_main(const struct dnsproxy_config *cfg) {
        /* A client or upstream that resets a TCP connection must not kill us. */
        signal(SIGPIPE, SIG_IGN);

        struct proxy *p = calloc(1, sizeof(*p));
        if (!p)
                return log_error_errno(-ENOMEM, "dnsproxy: out of memory");
        *p = (struct proxy) {
                .policy = cfg->policy,
                .control_fd = cfg->control_fd,
                .udp_fds = {cfg->udp4_fd, cfg->udp6_fd},
                .tcp_fds = {cfg->tcp4_fd, cfg->tcp6_fd},
                .max_inflight = cfg->max_inflight ? cfg->max_inflight : 1024,
                .max_conns = cfg->max_tcp_clients ? cfg->max_tcp_clients : 64,
                .allow_timeout_usec = (uint64_t) (cfg->allow_timeout_ms ? cfg->allow_timeout_ms : TIMEOUT_DNS_ALLOW_MS) * 1000u,
                .idle_timeout_usec = (uint64_t) (cfg->tcp_idle_timeout_ms ? cfg->tcp_idle_timeout_ms : TIMEOUT_DNS_TCP_IDLE_MS) * 1000u,
                .refusals_dropped = {.what = "refusal notices dropped: the control socket is full"},
                .overloaded = {.what = "queries answered SERVFAIL: too many in flight"},
                .upstream_failed = {.what = "queries answered SERVFAIL: no usable upstream answer"},
                .allow_unsent = {.what = "queries answered SERVFAIL: the ALLOW could not be sent to PID 1"},
                .allow_timed_out = {.what = "queries answered SERVFAIL: PID 1 did not acknowledge in time"},
                .bad_control = {.what = "malformed messages on the control socket ignored"},
                .udp_send_failed = {.what = "UDP answers lost: the socket did not take them"},
        };

        int r;
        if (!p->policy || p->control_fd < 0)
                r = log_error_errno(-EINVAL, "dnsproxy: started without a policy or a control socket");
        else if ((r = dnsproxy_grants_init(&p->grants)) < 0)
                log_error_errno(r, "dnsproxy: no random seed: %m");
        else if ((r = loop_new(&p->loop)) < 0)
                log_error_errno(r, "dnsproxy: cannot create the event loop: %m");
        else if ((r = proxy_channel_new(p, cfg)) >= 0 && (r = proxy_listen(p)) >= 0) {
                r = loop_run(p->loop);
                if (r < 0)
                        log_error_errno(r, "dnsproxy: the event loop failed: %m");
        }
        proxy_free(p);
        return r;
}
