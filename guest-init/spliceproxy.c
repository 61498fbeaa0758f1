/* SPDX-License-Identifier: MIT */
/* The splice proxy's loop (spliceproxy.h). A connection goes through these
 * states, each with a deadline list of its own:
 *   HELLO       the client's first bytes are peeked (MSG_PEEK, so they stay
 *               in the socket and go upstream unchanged) each time more
 *               arrive (edge-triggered), until sniff.h finds a name or
 *               refuses; bounded by SNIFF_BYTES_MAX and hello_timeout_ms
 *   CONNECTING  the name passed; waits for the upstream connect, which
 *               started at accept, alongside HELLO (so its round trip is
 *               rarely on the client's path); until the name passes no
 *               byte goes upstream, and a refused name resets it
 *   SPLICED     per direction a pipe, held only while bytes are in it:
 *               splice from the source while the pipe is empty, to the
 *               destination while it is not, with EPOLLIN/EPOLLOUT
 *               following that (level-triggered), so a slow reader holds
 *               at most one pipe of bytes per direction; an end of stream
 *               is passed on with shutdown(SHUT_WR)
 *   CHECKING    SPLICED, while a later check (below) holds part of what
 *               it needs: the hello's deadline instead of the idle one
 * Spliced bytes are not read, so a direction passes only the bytes the
 * last check vouched for (its budget); then the next check peeks what
 * follows (namecheck.h): every HTTP request head, not only the first;
 * for TLS the server's first record, and after a HelloRetryRequest the
 * client's second ClientHello. A check that waits for more bytes sets
 * SO_RCVLOWAT above what is there, so the level-triggered EPOLLIN does not
 * wake the loop again until more came (or the end). The CHECKING
 * deadline runs from when the part came: a receive queue can fill with a
 * part whose rest the kernel then has no room to take (a zero window),
 * and nothing else would end the wait.
 * TCP urgent data resets the connection: splice stops at its mark for good
 * (the socket stays readable), and neither TLS nor HTTP uses it.
 * A refusal or failure closes with SO_LINGER 0: the client sees a reset at
 * once, not a hang, and not an orderly end it could take for a reply. */
#include "spliceproxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "namecheck.h"
#include "sniff.h"
#include "spliceproxy_peer.h"
#include "spliceproxy_proto.h"
#include "timeouts.h"

/* Each direction's pipe, and what one splice call moves at most: the most
 * an unprivileged process may give a pipe (/proc/sys/fs/pipe-max-size by
 * default); a larger pipe means fewer wake-ups per byte on a fast
 * transfer. The kernel takes pages only for the bytes in a pipe, but it
 * counts every pipe's whole size against its user, host-wide
 * (fs.pipe-user-pages-soft: 64 MiB by default, shared by the proxies of
 * every sandbox on the host, which run as one user); beyond it a pipe
 * cannot grow and new ones get two pages. So a direction holds a pipe only
 * while bytes are in it: an idle connection holds none. */
#define PIPE_BYTES (1u << 20)
#define SPLICE_CHUNK PIPE_BYTES
/* Rounds per direction per wake-up, so one fast connection cannot starve
 * the others. */
#define PUMP_ROUNDS 8
#define ACCEPTS_PER_WAKE 64
/* Checks passed per connection per wake-up (pipelined requests): the
 * rest wait for the next round through epoll. */
#define CHECKS_PER_WAKE 16
#define FULL_REPORT_INTERVAL_USEC 1000000u
#define SMALL_PIPES_SAID_USEC (60u * 1000000u)
#define EVENTS_PER_WAIT 256
/* Descriptors per spliced connection at most (two sockets, and two pipes
 * while both directions have bytes on their way), and the few the proxy
 * keeps besides. */
#define FDS_PER_CONN 6u
/* Empty pipes kept for the next direction that has bytes to move: each
 * saves a pipe2, an F_SETPIPE_SZ and two closes. Few, as each counts its
 * full size against the user's pipe quota although it is empty. */
#define SPARE_PIPES 4u
#define FDS_RESERVED (16u + 2u * SPARE_PIPES)

enum conn_state { STATE_HELLO, STATE_CONNECTING, STATE_SPLICED, STATE_CHECKING, _STATE_MAX };

struct direction {
        int pipe_r, pipe_w;
        size_t in_pipe;                 /* bytes read from the source, not yet written */
        bool pipe_filled;               /* bytes entered the pipe since it was taken */
        bool pipe_small;                /* F_SETPIPE_SZ could not grow it: never a spare */
        bool eof;                       /* the source ended */
        bool shut;                      /* and the destination was told */
        struct namecheck_side *check;   /* its budget, and what its next check reads */
        bool lowat;                     /* SO_RCVLOWAT raised on the source while a check waits */
};

struct conn {
        struct conn *prev, *next;       /* in its state's deadline list */
        enum conn_state state;
        uint64_t queued_usec;           /* appended to its list: the list's order */
        uint64_t active_usec;           /* SPLICED: last moved a byte */
        struct conn *next_dead;         /* ended in this batch of events; freed after it */
        bool dead;
        int client, upstream;
        uint32_t client_events, upstream_events;
        struct direction up, down;      /* client → upstream, upstream → client */
        struct sockaddr_storage dst;
        socklen_t dst_len;
        struct namecheck check;
        bool started;                   /* HELLO: some bytes arrived */
        bool connected;                 /* the upstream connect succeeded */
        int upstream_err;               /* or failed, with this errno */
};

struct list {
        struct conn *head, *tail;
};

struct proxy {
        int epoll_fd, control_fd, listen_fds[2];
        const struct policy *policy;
        uint64_t timeout_usec[_STATE_MAX];
        struct list lists[_STATE_MAX];
        unsigned n_conns, max_conns;
        unsigned long reports_dropped;
        uint32_t full_dropped;          /* ended or refused for room since the last "full" report */
        uint64_t full_reported_usec;
        struct conn *dead;
        bool retired;
        bool listen_nodelay;            /* accepted sockets inherit TCP_NODELAY */
        struct { int r, w; } spare[SPARE_PIPES];
        unsigned n_spare;
        unsigned long small_pipes;      /* pipes F_SETPIPE_SZ could not grow */
        uint64_t small_pipes_said_usec; /* when the log last said so */
};

/* The epoll cookies: a connection's address with the low bit telling the
 * upstream socket from the client's; these three for the rest. */
static char tag_listen4, tag_listen6, tag_control;

static uint8_t peek_buffer[SNIFF_BYTES_MAX];

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* For what a user can cause at will: true the first time, then at most
 * once per interval (*last_usec, 0 for never, is when it last was). */
static bool once_per(uint64_t *last_usec, uint64_t interval_usec) {
        uint64_t now = now_usec();
        if (*last_usec && now - *last_usec < interval_usec)
                return false;
        *last_usec = now;
        return true;
}

/* ---- the deadline lists: appended at the tail, so ordered by deadline --- */

static void list_remove(struct proxy *px, struct conn *c) {
        struct list *l = &px->lists[c->state];
        if (c->prev)
                c->prev->next = c->next;
        else
                l->head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                l->tail = c->prev;
        c->prev = c->next = NULL;
}

static void list_append(struct proxy *px, struct conn *c, enum conn_state state) {
        struct list *l = &px->lists[state];
        c->state = state;
        c->queued_usec = c->active_usec = now_usec();
        c->prev = l->tail;
        c->next = NULL;
        if (l->tail)
                l->tail->next = c;
        else
                l->head = c;
        l->tail = c;
}

/* ---- ending a connection -------------------------------------------------- */

static void close_fd(int *fd, bool reset) {
        if (*fd < 0)
                return;
        if (reset) {
                struct linger hard = { .l_onoff = 1, .l_linger = 0 };
                (void) setsockopt(*fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
        }
        close(*fd);
        *fd = -1;
}

/* A direction gives its pipe up whenever it is empty; the pipe goes back
 * to the spares only if the count of the bytes in it says so and the
 * kernel's, asked once more, agrees (bytes of one connection must never
 * reach another); else, or when there are spares enough, it is closed.
 * A pipe no byte entered since it was taken is as the kernel last saw it
 * (empty, or new): it needs no second look. A pipe made at its default
 * size (the quota was spent then) is closed, not kept: a spare would keep
 * its small size long after the quota is back. */
static void close_pipe(struct proxy *px, struct direction *d) {
        int queued = -1;
        if (d->pipe_r >= 0 && d->pipe_w >= 0 && !d->in_pipe && !d->pipe_small && px->n_spare < SPARE_PIPES &&
            (!d->pipe_filled || (ioctl(d->pipe_r, FIONREAD, &queued) == 0 && queued == 0))) {
                px->spare[px->n_spare].r = d->pipe_r;
                px->spare[px->n_spare].w = d->pipe_w;
                px->n_spare++;
                d->pipe_r = d->pipe_w = -1;
                return;
        }
        if (d->pipe_r >= 0)
                close(d->pipe_r);
        if (d->pipe_w >= 0)
                close(d->pipe_w);
        d->pipe_r = d->pipe_w = -1;
}

/* A spare pipe, or a new one, for a direction about to read its source. */
static int open_pipe(struct proxy *px, struct direction *d) {
        if (d->pipe_r >= 0)
                return 0;
        d->pipe_filled = false;
        d->pipe_small = false;
        if (px->n_spare) {
                px->n_spare--;
                d->pipe_r = px->spare[px->n_spare].r;
                d->pipe_w = px->spare[px->n_spare].w;
                return 0;
        }
        int fds[2];
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
                return -errno;
        /* Where the user's pipe quota is spent (or the limit is lower) the
         * pipe keeps its size: it works, only with more wake-ups per byte.
         * Said at most once a minute with the count so far: such a pipe is
         * closed when empty, so a transfer makes one per wake-up, and a
         * user can open connections at will. */
        d->pipe_small = fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES) < 0;
        px->small_pipes += d->pipe_small;
        if (d->pipe_small && once_per(&px->small_pipes_said_usec, SMALL_PIPES_SAID_USEC))
                fprintf(stderr, "splice proxy: F_SETPIPE_SZ: %s: %lu pipe(s) so far used at their default size "
                        "(the user's pipe quota, fs.pipe-user-pages-soft, reached?)\n", strerror(errno),
                        px->small_pipes);
        d->pipe_r = fds[0];
        d->pipe_w = fds[1];
        return 0;
}

/* Closing a descriptor takes it out of the epoll set as well; the struct
 * lives until the batch of events is done, as one of them may name it. */
static void conn_end(struct proxy *px, struct conn *c, bool reset) {
        list_remove(px, c);
        close_fd(&c->client, reset);
        close_fd(&c->upstream, reset);
        close_pipe(px, &c->up);
        close_pipe(px, &c->down);
        c->dead = true;
        c->next_dead = px->dead;
        px->dead = c;
        px->n_conns--;
}

static void free_dead(struct proxy *px) {
        while (px->dead) {
                struct conn *c = px->dead;
                px->dead = c->next_dead;
                namecheck_done(&c->check);
                free(c);
        }
}

/* ---- refusals, for PID 1's denial stream ------------------------------------ */

static void report(struct proxy *px, const struct conn *c, enum spliceproxy_why why, const char *name) {
        struct spliceproxy_msg m = {
                .type = SPLICEPROXY_REFUSED, .kind = c->check.kind, .why = (uint8_t) why,
                .port = spliceproxy_port_of(&c->dst), .family = (uint8_t) c->dst.ss_family,
        };
        if (c->dst.ss_family == AF_INET)
                memcpy(m.addr, &((const struct sockaddr_in *) &c->dst)->sin_addr, 4);
        else
                memcpy(m.addr, &((const struct sockaddr_in6 *) &c->dst)->sin6_addr, 16);
        if (why == SPLICEPROXY_NOT_IN_POLICY)
                snprintf(m.name, sizeof(m.name), "%s", name);
        uint32_t uid;
        if (spliceproxy_client_uid(c->client, &c->dst, &uid) == 0) {
                m.has_uid = 1;
                m.uid = uid;
        }
        /* Never blocks: a report that does not fit is counted, the
         * connection is refused all the same. */
        if (send(px->control_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && ++px->reports_dropped % 1000 == 1)
                fprintf(stderr, "splice proxy: %lu refusal reports dropped (PID 1 is not reading)\n",
                        px->reports_dropped);
}

static void refuse(struct proxy *px, struct conn *c, enum spliceproxy_why why, const char *name) {
        report(px, c, why, name);
        conn_end(px, c, true);
}

/* ---- epoll ----------------------------------------------------------------- */

static int watch(struct proxy *px, int op, int fd, uint32_t events, void *tag) {
        struct epoll_event ev = { .events = events, .data.ptr = tag };
        return epoll_ctl(px->epoll_fd, op, fd, &ev) < 0 ? -errno : 0;
}

static void *conn_tag(struct conn *c, bool upstream) {
        return (void *) ((uintptr_t) c | (upstream ? 1u : 0u));
}

/* Whether a direction reads its source: for bytes within its budget, or
 * for its next check; not while it holds for the other side. */
static bool reads_source(const struct direction *d) {
        return !d->eof && !d->in_pipe && (d->check->budget > 0 || !namecheck_holds(d->check));
}

/* What each socket waits for while spliced: readable while its outgoing
 * pipe is empty, writable while its incoming one is not. */
static int splice_interest(struct proxy *px, struct conn *c) {
        uint32_t client = EPOLLPRI | (reads_source(&c->up) ? EPOLLIN | EPOLLRDHUP : 0) | (c->down.in_pipe ? EPOLLOUT : 0);
        uint32_t upstream = EPOLLPRI | (reads_source(&c->down) ? EPOLLIN | EPOLLRDHUP : 0) | (c->up.in_pipe ? EPOLLOUT : 0);
        int r = 0;
        if (client != c->client_events && (r = watch(px, EPOLL_CTL_MOD, c->client, client, conn_tag(c, false))) == 0)
                c->client_events = client;
        if (r == 0 && upstream != c->upstream_events &&
            (r = watch(px, EPOLL_CTL_MOD, c->upstream, upstream, conn_tag(c, true))) == 0)
                c->upstream_events = upstream;
        return r;
}

/* ---- SPLICED ------------------------------------------------------------------ */

/* Moves what it can from src to dst, no more than the budget: 1 if a byte
 * moved or an end was passed on, 0 if nothing could, -errno when the
 * connection is broken. It stops, without the call that would only say
 * EAGAIN, when the destination took less than the pipe held, or when a
 * small read (below SHORT_READ) was all the source had and has gone on,
 * unless the source's event said its end has come too (src_ended: read on
 * to find it now, not in another wake-up): the interest is
 * level-triggered, so what is left, or comes, or the end, wakes the loop
 * again. A large read can be short only because the pipe ran out of
 * slots; reading on is then the cheaper guess. */
#define SHORT_READ (64u * 1024u)

/* Whether the source's next byte is urgent data. splice() stops there for
 * good, and a sender that orders its segments so the kernel never marks
 * the urgent data valid raises no EPOLLPRI: an EAGAIN with the source
 * readable is then the only sign. */
static bool at_urgent_mark(int fd) {
        int at = 0;
        return ioctl(fd, SIOCATMARK, &at) == 0 && at;
}

static int pump(struct proxy *px, struct direction *d, int src, int dst, bool src_ended) {
        int moved = 0;
        bool short_read = false;
        for (int i = 0; i < PUMP_ROUNDS && !d->shut; i++) {
                if (d->in_pipe) {
                        ssize_t n = splice(d->pipe_r, NULL, dst, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                        if (n < 0)
                                return errno == EAGAIN ? moved : -errno;
                        d->in_pipe -= (size_t) n;
                        moved = 1;
                        if (d->in_pipe || short_read)
                                return moved;
                        continue;
                }
                if (d->check->budget == 0)
                        return moved;           /* the next check comes first */
                size_t want = d->check->budget < SPLICE_CHUNK ? (size_t) d->check->budget : SPLICE_CHUNK;
                int r = open_pipe(px, d);
                if (r < 0)
                        return r;
                ssize_t n = splice(src, NULL, d->pipe_w, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (n < 0 && errno == EAGAIN && at_urgent_mark(src))
                        return -EPROTO;
                if (n < 0)
                        return errno == EAGAIN ? moved : -errno;
                moved = 1;
                if (n > 0) {
                        d->pipe_filled = true;
                        d->in_pipe = (size_t) n;
                        short_read = (size_t) n < want && (size_t) n < SHORT_READ && !src_ended;
                        if (d->check->budget != NAMECHECK_OPEN)
                                d->check->budget -= (uint64_t) n;
                        continue;
                }
                /* The end of the stream, with the pipe empty (we only read
                 * into an empty one): passed on at once, whatever round
                 * this is, as no event would come to do it later. */
                d->eof = d->shut = true;
                if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN)
                        return -errno;
        }
        return moved;
}

/* ---- the checks after the first ---------------------------------------------- */

/* A check after the first refuses like the first, but what it vouched for
 * earlier may still be on its way: the upstream is closed in order, the
 * client reset. */
static void refuse_later(struct proxy *px, struct conn *c, enum spliceproxy_why why, const char *name) {
        close_fd(&c->upstream, false);
        refuse(px, c, why, name);
}

/* Whether the peer has sent its end: the bytes there are all it will send
 * (tcpi_state is the first byte of struct tcp_info). */
static bool peer_finished(int fd) {
        uint8_t state = 0;
        socklen_t len = sizeof(state);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &state, &len) < 0)
                return true;
        return state != TCP_ESTABLISHED && state != TCP_FIN_WAIT1 && state != TCP_FIN_WAIT2;
}

/* While a check waits, the source wakes the loop only when more than the
 * have bytes it holds are there (or its end): level-triggered, without
 * peeking the same bytes again and again. */
static void source_lowat(struct direction *d, int fd, size_t have) {
        int v = (int) have + 1;
        if (v == 1 && !d->lowat)
                return;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
        d->lowat = v > 1;
}

/* A direction whose budget is spent: its next check peeks what follows in its
 * source. 1 passed, 0 waits (for bytes, or for the other side), -1 the
 * connection was ended. */
static int check_gate(struct proxy *px, struct conn *c, struct direction *d, int src, int dst) {
        bool server = d == &c->down;
        if (namecheck_holds(d->check))
                return 0;
        ssize_t n = recv(src, peek_buffer, sizeof(peek_buffer), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN)
                return 0;
        if (n < 0 || (n == 0 && server)) {
                conn_end(px, c, true);  /* broken, or the server ended before it said a word */
                return -1;
        }
        if (n == 0) {
                /* The end, where a request could begin: passed on, with
                 * nothing unchecked before it. */
                d->eof = d->shut = true;
                if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN) {
                        conn_end(px, c, true);
                        return -1;
                }
                return 1;
        }
        enum spliceproxy_why why = 0;
        char name[SNIFF_NAME_MAX + 1];
        switch (namecheck_side(&c->check, server, px->policy, peek_buffer, (size_t) n, &why, name)) {
        case NAMECHECK_PASS:
                source_lowat(d, src, 0);
                return 1;
        case NAMECHECK_REFUSE:
                refuse_later(px, c, why, name);
                return -1;
        case NAMECHECK_BROKEN:
                conn_end(px, c, true);  /* a server's first record that is not TLS: the client gets no unchecked reply */
                return -1;
        case NAMECHECK_MORE:
        default:
                break;
        }
        if ((size_t) n >= sizeof(peek_buffer) || peer_finished(src)) {
                /* Too long, or ended in the middle. */
                if (server)
                        conn_end(px, c, true);
                else
                        refuse_later(px, c, (size_t) n >= sizeof(peek_buffer) ? SPLICEPROXY_TOO_LONG
                                                                              : SPLICEPROXY_MALFORMED, NULL);
                return -1;
        }
        source_lowat(d, src, (size_t) n);
        return 0;
}

/* The gates of both directions, where their budgets are spent and what
 * they vouched for has left the pipe (an end passed on, or a refusal,
 * before the last approved bytes reached the other side would cut them
 * off): PASSED_UP and/or PASSED_DOWN for those that passed (there may be
 * more to move), 0 if none, -1 if the connection was ended. */
#define PASSED_UP 1
#define PASSED_DOWN 2
static int check_gates(struct proxy *px, struct conn *c, bool want_up, bool want_down) {
        int passed = 0;
        if (want_up && !c->up.check->budget && !c->up.shut && !c->up.in_pipe) {
                int r = check_gate(px, c, &c->up, c->client, c->upstream);
                if (r < 0)
                        return r;
                passed |= r ? PASSED_UP : 0;
        }
        if (want_down && !c->down.check->budget && !c->down.shut && !c->down.in_pipe) {
                int r = check_gate(px, c, &c->down, c->upstream, c->client);
                if (r < 0)
                        return r;
                passed |= r ? PASSED_DOWN : 0;
        }
        return passed;
}

/* Which directions an event on one socket concerns: its readability feeds
 * the direction it is the source of, its writability drains the other;
 * errors and hang-ups, both. upstream < 0: both (the first round). */
static void directions_of(uint32_t events, int upstream, bool *ret_up, bool *ret_down) {
        bool in = events & (EPOLLIN | EPOLLRDHUP), out = events & EPOLLOUT;
        if (upstream < 0 || (events & (EPOLLERR | EPOLLHUP))) {
                *ret_up = *ret_down = true;
                return;
        }
        *ret_up = upstream ? out : in;
        *ret_down = upstream ? in : out;
}

static void on_spliced(struct proxy *px, struct conn *c, uint32_t events, int upstream_side) {
        bool want_up, want_down, moved = false;
        directions_of(events, upstream_side, &want_up, &want_down);
        /* Whose end the event reported; unknown (so assumed) in the first
         * round. */
        bool hup = upstream_side < 0 || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
        bool client_ended = hup && upstream_side != 1, upstream_ended = hup && upstream_side != 0;
        bool checks_passed = false;
        for (int round = 0; round < CHECKS_PER_WAKE; round++) {
                int up = want_up ? pump(px, &c->up, c->client, c->upstream, client_ended) : 0;
                int down = up < 0 || !want_down ? 0 : pump(px, &c->down, c->upstream, c->client, upstream_ended);
                if (up < 0 || down < 0) {
                        /* One side reset or failed: so does the other. */
                        conn_end(px, c, true);
                        return;
                }
                moved |= up || down;
                int passed = check_gates(px, c, want_up, want_down);
                if (passed < 0)
                        return;
                if (!passed)
                        break;
                checks_passed = true;
                /* A direction with a new budget has bytes to move now
                 * (its check saw them). A server's answer that opened the
                 * client's side is not followed by a read there: the
                 * client is still waiting for that answer, and if it did
                 * send, its socket's level-triggered EPOLLIN (asked for
                 * below) says so at the next wait. */
                moved = true;
                want_up = passed & PASSED_UP;
                want_down = passed & PASSED_DOWN;
        }
        if (c->up.shut && c->down.shut) {
                conn_end(px, c, false);
                return;
        }
        /* A direction with nothing on its way holds no pipe. */
        if (!c->up.in_pipe)
                close_pipe(px, &c->up);
        if (!c->down.in_pipe)
                close_pipe(px, &c->down);
        /* A check holding part of what it needs has the hello's deadline,
         * from when that part came. */
        bool partial = c->up.lowat || c->down.lowat;
        /* A check that passed restarts the deadline for the next one: each
         * restart takes a whole head (or chunk line), so a client cannot
         * stall for free, and an honest pipelining client is not cut off
         * 10 s after its first partial head. */
        if (partial != (c->state == STATE_CHECKING) || (partial && checks_passed)) {
                list_remove(px, c);
                list_append(px, c, partial ? STATE_CHECKING : STATE_SPLICED);
        }
        if (moved)
                c->active_usec = now_usec();
        else if (events & (EPOLLERR | EPOLLHUP)) {
                /* Nothing moved, yet the socket is finished: no event would
                 * ever come again for this connection. */
                conn_end(px, c, true);
                return;
        }
        if (splice_interest(px, c) < 0)
                conn_end(px, c, true);
}

/* ---- CONNECTING ------------------------------------------------------------ */

static void start_splicing(struct proxy *px, struct conn *c) {
        list_remove(px, c);
        list_append(px, c, STATE_SPLICED);
        /* Level-triggered from here on; the peeked bytes wait in the
         * client's socket and go first. */
        c->client_events = c->upstream_events = ~0u;
        on_spliced(px, c, 0, -1);
}

/* The upstream's first event: connected (writable, no error) or failed.
 * Until the name has passed, either is only noted: a failure then does not
 * stop the check, so a refused name is still refused and reported as
 * such. Later events before splicing (the server's first bytes) wait. */
static void on_upstream_event(struct proxy *px, struct conn *c, uint32_t events) {
        if (!c->connected && !c->upstream_err) {
                if (events & (EPOLLERR | EPOLLHUP)) {
                        int err = 0;
                        socklen_t len = sizeof(err);
                        if (getsockopt(c->upstream, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || !err)
                                err = ECONNRESET;
                        c->upstream_err = err;
                } else if (events & EPOLLOUT)
                        c->connected = true;
        }
        if (c->state != STATE_CONNECTING)
                return;
        if (c->upstream_err)
                conn_end(px, c, true);
        else if (c->connected)
                start_splicing(px, c);
}

/* At accept, before the name is known: the destination is one the
 * firewall allows (it redirected it here), and nothing is sent on this
 * socket before the check passes; a refusal resets it. */
static int start_connect(struct proxy *px, struct conn *c) {
        c->upstream = socket(c->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->upstream < 0)
                return -errno;
        int one = 1;
        (void) setsockopt(c->upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->upstream, (struct sockaddr *) &c->dst, c->dst_len) < 0 && errno != EINPROGRESS)
                c->upstream_err = errno;
        else if (watch(px, EPOLL_CTL_ADD, c->upstream, EPOLLOUT | EPOLLET, conn_tag(c, true)) < 0)
                return -errno;
        return 0;
}

/* The name passed: splice now if the upstream is there, else wait for it. */
static void name_passed(struct proxy *px, struct conn *c) {
        if (c->upstream_err) {
                conn_end(px, c, true);
                return;
        }
        if (c->connected) {
                start_splicing(px, c);
                return;
        }
        list_remove(px, c);
        list_append(px, c, STATE_CONNECTING);
}

/* ---- HELLO --------------------------------------------------------------------- */


static void on_hello(struct proxy *px, struct conn *c, uint32_t events) {
        char name[SNIFF_NAME_MAX + 1];
        ssize_t n = recv(c->client, peek_buffer, sizeof(peek_buffer), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN)
                return;
        if (n <= 0) {
                /* Gone before it said anything (a port probe, the
                 * self-check): nothing to refuse, nothing to report. */
                conn_end(px, c, n < 0);
                return;
        }
        c->started = true;
        enum spliceproxy_why why = 0;
        switch (namecheck_side(&c->check, false, px->policy, peek_buffer, (size_t) n, &why, name)) {
        case NAMECHECK_MORE:
        default:
                if ((size_t) n >= sizeof(peek_buffer))
                        refuse(px, c, SPLICEPROXY_TOO_LONG, NULL);
                else if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                        refuse(px, c, SPLICEPROXY_MALFORMED, NULL);     /* ended in the middle */
                return;
        case NAMECHECK_PASS:
                name_passed(px, c);
                return;
        case NAMECHECK_REFUSE:
                refuse(px, c, why, name);
                return;
        case NAMECHECK_BROKEN:
                conn_end(px, c, true);
                return;
        }
}

/* ---- a full proxy --------------------------------------------------------------- */

/* Tells PID 1, at most once a second, how many connections were ended or
 * refused for room: a user can fill the proxy at will, the log must not
 * fill with it (PID 1 budgets the lines as well). */
static void count_full(struct proxy *px) {
        px->full_dropped++;
        if (!once_per(&px->full_reported_usec, FULL_REPORT_INTERVAL_USEC))
                return;
        struct spliceproxy_msg m = { .type = SPLICEPROXY_FULL, .uid = px->full_dropped };
        if (send(px->control_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                px->reports_dropped++;
        px->full_dropped = 0;
}

/* At the limit, the oldest connection that has not named an allowed host
 * yet (the head of the HELLO list: appended on accept) makes way for a new
 * one, rather than the new one being refused: connections that say
 * nothing would otherwise keep every later one out for the whole hello
 * timeout, and anyone can open them. Spliced connections are not ended:
 * they passed the check. */
static bool make_room(struct proxy *px) {
        struct conn *oldest = px->lists[STATE_HELLO].head;
        if (!oldest)
                return false;
        conn_end(px, oldest, true);
        count_full(px);
        return true;
}

/* false when there was nothing (more) to accept. */
static bool accept_one(struct proxy *px, int listen_fd, int family) {
        struct sockaddr_storage dst;
        socklen_t dst_len = 0;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
                return errno == EINTR || errno == ECONNABORTED;
        enum policy_name_check kind = POLICY_NAME_CHECK_NONE;
        /* Only what nftables redirected, to a port that is checked: a
         * client connecting to our own port reaches nothing. */
        if (spliceproxy_original_dst(fd, family, &dst, &dst_len) == 0)
                kind = policy_name_check_port(px->policy, spliceproxy_port_of(&dst));
        struct conn *c = NULL;
        bool room = kind != POLICY_NAME_CHECK_NONE && (px->n_conns < px->max_conns || make_room(px));
        if (room)
                c = calloc(1, sizeof(*c));
        if (!c) {
                if (kind != POLICY_NAME_CHECK_NONE && !room)
                        count_full(px);
                close_fd(&fd, true);
                return true;
        }
        *c = (struct conn) {
                .client = fd, .upstream = -1, .dst = dst, .dst_len = dst_len,
                .up = { .pipe_r = -1, .pipe_w = -1 }, .down = { .pipe_r = -1, .pipe_w = -1 },
        };
        namecheck_init(&c->check, kind == POLICY_NAME_CHECK_TLS ? SPLICEPROXY_TLS : SPLICEPROXY_HTTP);
        c->up.check = &c->check.up;
        c->down.check = &c->check.down;
        px->n_conns++;
        list_append(px, c, STATE_HELLO);
        /* What the server answers reaches the client as it comes
         * (inherited from the listener, where it could be set there). */
        if (!px->listen_nodelay) {
                int one = 1;
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        /* Edge-triggered: the peeked bytes stay readable, and only new
         * ones should wake us. What is there already is read now, rather
         * than after another round through epoll. */
        if (start_connect(px, c) < 0 || watch(px, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLET, conn_tag(c, false)) < 0)
                conn_end(px, c, true);
        else
                on_hello(px, c, 0);
        return true;
}

/* ---- deadlines ------------------------------------------------------------------- */

/* Each list is in the order its connections were appended, so only heads
 * are ever due. A spliced connection is not moved on every byte: when it
 * comes due it is ended if it has been silent for the whole timeout, else
 * appended again. */
static void expire(struct proxy *px, uint64_t now) {
        for (enum conn_state s = 0; s < _STATE_MAX; s++)
                while (px->lists[s].head && px->lists[s].head->queued_usec + px->timeout_usec[s] <= now) {
                        struct conn *c = px->lists[s].head;
                        if (s == STATE_SPLICED && c->active_usec + px->timeout_usec[s] > now) {
                                uint64_t active = c->active_usec;
                                list_remove(px, c);
                                list_append(px, c, STATE_SPLICED);
                                c->active_usec = active;
                        } else if (s == STATE_HELLO && c->started)
                                refuse(px, c, SPLICEPROXY_TIMEOUT, NULL);
                        else if (s == STATE_CHECKING && c->up.lowat)
                                refuse_later(px, c, SPLICEPROXY_TIMEOUT, NULL);
                        else
                                conn_end(px, c, true);
                }
}

static int next_timeout_ms(struct proxy *px, uint64_t now) {
        uint64_t due = UINT64_MAX;
        for (enum conn_state s = 0; s < _STATE_MAX; s++) {
                const struct conn *c = px->lists[s].head;
                if (c && c->queued_usec + px->timeout_usec[s] < due)
                        due = c->queued_usec + px->timeout_usec[s];
        }
        if (due == UINT64_MAX)
                return -1;
        return due <= now ? 0 : (int) ((due - now + 999) / 1000 > 3600000 ? 3600000 : (due - now + 999) / 1000);
}

/* ---- the loop ------------------------------------------------------------------- */

/* PID 1 has a new policy, and a new proxy for it: stop accepting, finish
 * the connections the old policy let through, then end. */
static void retire(struct proxy *px) {
        for (int i = 0; i < 2; i++)
                if (px->listen_fds[i] >= 0) {
                        close(px->listen_fds[i]);
                        px->listen_fds[i] = -1;
                }
        (void) epoll_ctl(px->epoll_fd, EPOLL_CTL_DEL, px->control_fd, NULL);
        px->retired = true;
}

static void dispatch(struct proxy *px, const struct epoll_event *ev, bool *stop) {
        void *tag = ev->data.ptr;
        if (tag == &tag_control) {
                char byte;
                ssize_t n = recv(px->control_fd, &byte, 1, MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        retire(px);     /* PID 1 closed its end */
                *stop = px->retired && !px->n_conns;
                return;
        }
        if (tag == &tag_listen4 || tag == &tag_listen6) {
                int fd = px->listen_fds[tag == &tag_listen6];
                int family = tag == &tag_listen6 ? AF_INET6 : AF_INET;
                for (int i = 0; i < ACCEPTS_PER_WAKE && accept_one(px, fd, family); i++)
                        ;
                return;
        }
        struct conn *c = (struct conn *) ((uintptr_t) tag & ~(uintptr_t) 1);
        bool upstream = (uintptr_t) tag & 1;
        if (c->dead)
                return;
        if (ev->events & EPOLLPRI) {
                /* Urgent data: a client's is refused like bytes no check can
                 * read; a server's ends the connection. */
                if (!upstream && c->state != STATE_SPLICED && c->state != STATE_CHECKING)
                        refuse(px, c, SPLICEPROXY_MALFORMED, NULL);
                else if (!upstream)
                        refuse_later(px, c, SPLICEPROXY_MALFORMED, NULL);
                else
                        conn_end(px, c, true);
                return;
        }
        switch (c->state) {
        case STATE_HELLO:
                if (upstream)
                        on_upstream_event(px, c, ev->events);
                else
                        on_hello(px, c, ev->events);
                break;
        case STATE_CONNECTING:
                if (upstream)
                        on_upstream_event(px, c, ev->events);
                else if (ev->events & (EPOLLERR | EPOLLHUP))
                        conn_end(px, c, true);
                break;
        default:
                on_spliced(px, c, ev->events, upstream);
        }
}

static unsigned conns_limit(unsigned wanted) {
        struct rlimit rl;
        /* Raising the soft limit to the hard one needs no privilege. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
                return wanted;
        rlim_t fit = rl.rlim_cur > FDS_RESERVED ? (rl.rlim_cur - FDS_RESERVED) / FDS_PER_CONN : 0;
        return fit < wanted ? (unsigned) fit : wanted;
}

int spliceproxy_main(const struct spliceproxy_config *cfg) {
        struct proxy px = {
                .epoll_fd = epoll_create1(EPOLL_CLOEXEC), .control_fd = cfg->control_fd,
                .listen_fds = { cfg->listen4_fd, cfg->listen6_fd }, .policy = cfg->policy,
                .max_conns = conns_limit(cfg->max_conns ? cfg->max_conns : SPLICEPROXY_CONNS_MAX),
        };
        px.timeout_usec[STATE_HELLO] = (uint64_t) (cfg->hello_timeout_ms ? cfg->hello_timeout_ms : TIMEOUT_PROXY_HELLO_MS) * 1000u;
        px.timeout_usec[STATE_CONNECTING] = (uint64_t) (cfg->connect_timeout_ms ? cfg->connect_timeout_ms : TIMEOUT_PROXY_CONNECT_MS) * 1000u;
        px.timeout_usec[STATE_SPLICED] = (uint64_t) (cfg->idle_timeout_ms ? cfg->idle_timeout_ms : TIMEOUT_PROXY_IDLE_MS) * 1000u;
        px.timeout_usec[STATE_CHECKING] = px.timeout_usec[STATE_HELLO];
        if (px.epoll_fd < 0) {
                fprintf(stderr, "splice proxy: epoll_create1: %s\n", strerror(errno));
                return -errno;
        }
        /* An accepted socket inherits TCP_NODELAY from its listener: one
         * call here instead of one per connection. */
        int one = 1;
        px.listen_nodelay = true;
        for (int i = 0; i < 2; i++)
                if (px.listen_fds[i] >= 0 &&
                    setsockopt(px.listen_fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
                        px.listen_nodelay = false;
        int r = watch(&px, EPOLL_CTL_ADD, px.control_fd, EPOLLIN, &tag_control);
        for (int i = 0; r == 0 && i < 2; i++)
                if (px.listen_fds[i] >= 0)
                        r = watch(&px, EPOLL_CTL_ADD, px.listen_fds[i], EPOLLIN, i ? &tag_listen6 : &tag_listen4);
        if (r < 0) {
                fprintf(stderr, "splice proxy: epoll_ctl: %s\n", strerror(-r));
                return r;
        }
        for (bool stop = false; !stop;) {
                struct epoll_event evs[EVENTS_PER_WAIT];
                uint64_t now = now_usec();
                int n = epoll_wait(px.epoll_fd, evs, EVENTS_PER_WAIT, next_timeout_ms(&px, now));
                if (n < 0 && errno != EINTR) {
                        fprintf(stderr, "splice proxy: epoll_wait: %s\n", strerror(errno));
                        return -errno;
                }
                for (int i = 0; i < n && !stop; i++)
                        dispatch(&px, &evs[i], &stop);
                expire(&px, now_usec());
                free_dead(&px);
                stop |= px.retired && !px.n_conns;
        }
        return 0;
}
