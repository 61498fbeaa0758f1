/* SPDX-License-Identifier: MIT */
#include "nft_batch.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "macro.h"

/* The kernel answers a batch while sendmsg() runs, so the acks are queued
 * by the time it returns; this bound only guards against a kernel that
 * never answers. */
#define ACK_TIMEOUT_MSEC 5000
/* One acknowledgement or error per datagram; with NETLINK_CAP_ACK an error
 * does not echo the message back, so this is ample (MSG_TRUNC tells). */
#define ACK_BUF_SIZE 16384
/* The largest buffer kept for the next batch: the first size a batch gets. */
#define BATCH_KEEP_MAX (128 * 1024)

struct nft_batch_msg {
        char *what;
};

static int batch_reserve(struct nft_batch *b, size_t more) {
        if (b->cap - b->len >= more)
                return 0;
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap - b->len < more)
                cap *= 2;
        char *buf = realloc(b->buf, cap);
        if (!buf)
                return -ENOMEM;
        /* Padding bytes between attributes go to the kernel: keep them zero. */
        memset(buf + b->cap, 0, cap - b->cap);
        b->buf = buf;
        b->cap = cap;
        return 0;
}

/* The last sequence number used: commits share one socket (see
 * nft_batch_commit), so a batch never reuses the numbers of an earlier one. */
static uint32_t seq_last;

/* The buffer of the last batch freed, for the next one. Every set update
 * the resolver asks for is a batch of a few hundred bytes; a new buffer
 * for each, zeroed whole (SBX_BATCH_MSG_MAX of room), was 128 KiB of
 * stores per answer and nearly all of PID 1's own instructions on that
 * path. A kept buffer has only what its last batch wrote zeroed again.
 * One grown past the first size (a large ruleset) is not kept. */
static char *spare_buf;
static size_t spare_cap, spare_dirty;

static int batch_start(struct nft_batch *b, bool errors_only) {
        *b = (struct nft_batch) { .errors_only = errors_only };
        if (spare_buf) {
                memset(spare_buf, 0, spare_dirty);
                b->buf = TAKE_PTR(spare_buf);
                b->cap = spare_cap;
        }
        if (batch_reserve(b, SBX_BATCH_MSG_MAX) < 0)
                return -ENOMEM;
        /* Distinct across runs, like nft, and within this one, so a stale
         * ack can never match. */
        uint32_t seq = (uint32_t) time(NULL) << 8;
        b->seq_begin = seq > seq_last ? seq : seq_last + 1;
        b->seq_next = b->seq_begin + 1;
        struct nlmsghdr *nlh = nftnl_batch_begin(b->buf, b->seq_begin);
        b->len += NLMSG_ALIGN(nlh->nlmsg_len);
        return 0;
}

int nft_batch_init(struct nft_batch *b) {
        return batch_start(b, false);
}

int nft_batch_init_errors_only(struct nft_batch *b) {
        return batch_start(b, true);
}

void nft_batch_free(struct nft_batch *b) {
        struct nft_batch_msg *m = b->msgs;
        for (size_t i = 0; i < b->n_msgs; i++)
                free(m[i].what);
        free(b->msgs);
        /* A message started and never ended (a builder that failed) may
         * have written past len: then all of it counts as written. */
        if (b->buf && !spare_buf && b->cap <= BATCH_KEEP_MAX) {
                spare_buf = b->buf;
                spare_cap = b->cap;
                spare_dirty = b->open ? b->cap : b->len;
        } else
                free(b->buf);
        *b = (struct nft_batch) {0};
}

struct nlmsghdr *nft_batch_msg(struct nft_batch *b, uint16_t type, uint16_t family,
                               uint16_t flags, const char *what_fmt, ...) {
        if (batch_reserve(b, SBX_BATCH_MSG_MAX + NLMSG_HDRLEN * 2) < 0)
                return NULL;
        if (b->n_msgs == b->cap_msgs) {
                size_t cap = b->cap_msgs ? b->cap_msgs * 2 : 32;
                struct nft_batch_msg *msgs = reallocarray(b->msgs, cap, sizeof(*b->msgs));
                if (!msgs)
                        return NULL;
                b->msgs = msgs;
                b->cap_msgs = cap;
        }
        struct nft_batch_msg *m = b->msgs + b->n_msgs;
        va_list ap;
        va_start(ap, what_fmt);
        int r = vasprintf(&m->what, what_fmt, ap);
        va_end(ap);
        if (r < 0)
                return NULL;
        b->n_msgs++;
        b->open = true;
        return nftnl_nlmsg_build_hdr(b->buf + b->len, type, family, flags | (b->errors_only ? 0 : NLM_F_ACK),
                                     b->seq_next++);
}

void nft_batch_msg_end(struct nft_batch *b, struct nlmsghdr *nlh) {
        b->len += NLMSG_ALIGN(nlh->nlmsg_len);
        b->open = false;
}

size_t nft_batch_messages(const struct nft_batch *b) {
        return b->n_msgs + 2;
}

/* Grows a buffer of the socket to hold want bytes. *known is what the
 * socket is known to hold already (0: not known yet): a set update asks
 * this before every small batch, and two getsockopt() calls each time
 * were a measurable part of the resolver's per-answer path. */
static void set_buffer(struct mnl_socket *nl, int opt, int force_opt, size_t want, size_t *known) {
        if (*known >= want)
                return;
        int fd = mnl_socket_get_fd(nl), cur = 0;
        socklen_t len = sizeof(cur);
        /* The kernel reports twice what was asked for (bookkeeping overhead). */
        if (getsockopt(fd, SOL_SOCKET, opt, &cur, &len) < 0 || (size_t) cur / 2 < want) {
                int v = want > INT32_MAX / 2 ? INT32_MAX / 2 : (int) want;
                /* FORCE passes over net.core.[rw]mem_max; it needs
                 * CAP_NET_ADMIN, which programming nftables needs anyway. */
                if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)) < 0)
                        (void) setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
                len = sizeof(cur);
                if (getsockopt(fd, SOL_SOCKET, opt, &cur, &len) < 0)
                        cur = 0;
        }
        *known = cur > 0 ? (size_t) cur / 2 : 0;
}

int nft_socket_open(struct mnl_socket **ret) {
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl)
                return log_error_errno(negative_errno(), "nftables: cannot open a netfilter netlink socket: %m");
        int on = 1;
        /* Both are optional: extended acks give the kernel's reason text;
         * capped acks keep an error from echoing back a 64 KiB message. */
        (void) mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &on, sizeof(on));
        (void) mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &on, sizeof(on));
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = negative_errno();
                mnl_socket_close(nl);
                return log_error_errno(r, "nftables: cannot bind the netfilter netlink socket: %m");
        }
        *ret = nl;
        return 0;
}

struct ack_state {
        const struct nft_batch *b;
        bool *acked;
        size_t n_acked;
        size_t n_errors;
        int error;              /* of the earliest failed message */
        uint32_t error_seq;
        bool batch_refused;     /* the kernel refused BEGIN, i.e. the whole batch */
        char reason[300];       /* extended-ack text for error_seq */
};

static int extack_attr_cb(const struct nlattr *attr, void *data) {
        const struct nlattr **tb = data;
        uint16_t type = mnl_attr_get_type(attr);
        if (type == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
                tb[type] = attr;
        else if (type == NLMSGERR_ATTR_OFFS && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
                tb[type] = attr;
        return MNL_CB_OK;
}

/* The kernel's own words for an error, when it sent any: a message and/or
 * the offset of the attribute it objected to. */
static void extack_reason(const struct nlmsghdr *nlh, const struct nlmsgerr *e,
                          char *buf, size_t size) {
        const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = {0};
        buf[0] = '\0';
        if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                return;
        size_t off = sizeof(*e);
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
        if (mnl_attr_parse(nlh, (unsigned) off, extack_attr_cb, tb) < 0)
                return;
        if (tb[NLMSGERR_ATTR_MSG])
                snprintf(buf, size, " (kernel: %s)", mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]));
        else if (tb[NLMSGERR_ATTR_OFFS])
                snprintf(buf, size, " (kernel objected to the attribute at byte %u of the message)",
                         mnl_attr_get_u32(tb[NLMSGERR_ATTR_OFFS]));
}

static void ack_handle(struct ack_state *s, const struct nlmsghdr *nlh) {
        if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nlmsgerr))
                return;
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
        uint32_t seq = nlh->nlmsg_seq;
        if (seq == s->b->seq_begin || seq == s->b->seq_next) {
                /* An answer to BEGIN or END concerns the batch as a whole:
                 * no per-message acks follow it. */
                s->batch_refused = true;
                if (e->error < 0 && (s->error == 0 || seq < s->error_seq)) {
                        s->error = e->error;
                        s->error_seq = seq;
                        extack_reason(nlh, e, s->reason, sizeof(s->reason));
                }
                return;
        }
        if (seq <= s->b->seq_begin || seq >= s->b->seq_next)
                return;         /* not ours */
        size_t i = seq - s->b->seq_begin - 1;
        if (s->acked[i])
                return;
        s->acked[i] = true;
        s->n_acked++;
        if (e->error >= 0)
                return;
        s->n_errors++;
        if (s->error == 0 || seq < s->error_seq) {
                s->error = e->error;
                s->error_seq = seq;
                extack_reason(nlh, e, s->reason, sizeof(s->reason));
        }
}

/* One datagram of acknowledgements or errors into s. 1 when one was read,
 * 0 when none is queued (EAGAIN), or -errno, logged. */
static int acks_read_one(int fd, struct ack_state *s) {
        char buf[ACK_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
        ssize_t len;
        do
                len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
        while (len < 0 && errno == EINTR);
        if (len < 0 && errno == EAGAIN)
                return 0;
        if (len > (ssize_t) sizeof(buf)) {
                errno = ENOSPC;
                len = -1;
        }
        if (len < 0)
                /* ENOBUFS: an ack or error was dropped for lack of buffer,
                 * so whether the batch committed is unknown. */
                return log_error_errno(negative_errno(),
                                       "nftables: reading acknowledgements failed after %zu of %zu: %m; "
                                       "the firewall state is unknown",
                                       s->n_acked, s->b->n_msgs);
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf;
        int rest = (int) len;
        for (; mnl_nlmsg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest))
                ack_handle(s, nlh);
        return 1;
}

static int acks_read(struct mnl_socket *nl, struct ack_state *s) {
        struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };

        if (s->b->errors_only) {
                /* Everything the kernel had to say about this batch was
                 * queued before sendmsg() returned (nft_batch.h): read it
                 * all, and an empty queue means committed. */
                int r;
                while ((r = acks_read_one(pfd.fd, s)) > 0)
                        ;
                return r;
        }
        while (s->n_acked < s->b->n_msgs && !s->batch_refused) {
                /* The kernel processes a batch inside sendmsg(), so its acks
                 * are usually queued already: read first, wait only when
                 * nothing is there. */
                int r = acks_read_one(pfd.fd, s);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                int n = poll(&pfd, 1, ACK_TIMEOUT_MSEC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return log_error_errno(n < 0 ? negative_errno() : -ETIMEDOUT,
                                               "nftables: %zu of %zu acknowledgements missing: %m",
                                               s->b->n_msgs - s->n_acked, s->b->n_msgs);
        }
        return 0;
}

static int report_error(const struct nft_batch *b, const struct ack_state *s) {
        if (s->error_seq == b->seq_begin || s->error_seq == b->seq_next) {
                if (s->error == -EPERM)
                        return log_error_errno(s->error,
                                               "nftables: the kernel refused the firewall batch: %m%s; "
                                               "this needs CAP_NET_ADMIN in the container's network namespace "
                                               "(docker run --cap-add=NET_ADMIN)", s->reason);
                return log_error_errno(s->error, "nftables: the kernel refused the firewall batch: %m%s",
                                       s->reason);
        }
        const struct nft_batch_msg *m = b->msgs + (s->error_seq - b->seq_begin - 1);
        if (s->n_errors > 1)
                return log_error_errno(s->error,
                                       "nftables: %s failed: %m%s; %zu later messages failed after it; "
                                       "the batch was rolled back, the firewall is unchanged",
                                       m->what, s->reason, s->n_errors - 1);
        return log_error_errno(s->error,
                               "nftables: %s failed: %m%s; the batch was rolled back, the firewall is unchanged",
                               m->what, s->reason);
}

/* One socket for all commits: closing a netfilter socket makes the kernel
 * finish freeing what earlier commits removed (nft_rcv_nl_event flushes its
 * destroy work, which waits for an RCU grace period), 8-20 ms on a 2 vCPU
 * VM, and every set update that removes elements would wait for it. Any
 * failure closes it, so a socket reused has had every ack read. */
static struct mnl_socket *commit_socket;
static size_t commit_sndbuf, commit_rcvbuf;

static int commit_send(struct nft_batch *b, struct mnl_socket *nl);

int nft_batch_commit(struct nft_batch *b) {
        int r;

        if (batch_reserve(b, NLMSG_HDRLEN * 4) < 0)
                return log_error_errno(-ENOMEM, "nftables: out of memory building the batch");
        struct nlmsghdr *end = nftnl_batch_end(b->buf + b->len, b->seq_next);
        b->len += NLMSG_ALIGN(end->nlmsg_len);
        seq_last = b->seq_next;

        if (!commit_socket) {
                r = nft_socket_open(&commit_socket);
                if (r < 0)
                        return r;
        }
        r = commit_send(b, commit_socket);
        if (r < 0) {
                mnl_socket_close(commit_socket);
                commit_socket = NULL;
                commit_sndbuf = commit_rcvbuf = 0;
        }
        return r;
}

static int commit_send(struct nft_batch *b, struct mnl_socket *nl) {
        int r;
        /* The kernel takes a batch only whole, in one skb: the send buffer
         * must hold all of it or sendmsg() fails with EMSGSIZE. Acks take
         * about 1 KiB of receive buffer each (skb overhead included). */
        set_buffer(nl, SO_SNDBUF, SO_SNDBUFFORCE, b->len + 4096, &commit_sndbuf);
        set_buffer(nl, SO_RCVBUF, SO_RCVBUFFORCE, (b->n_msgs + 2) * 2048, &commit_rcvbuf);

        if (mnl_socket_sendto(nl, b->buf, b->len) < 0)
                return log_error_errno(negative_errno(),
                                       "nftables: sending the firewall batch (%zu messages, %zu bytes) failed: %m",
                                       nft_batch_messages(b), b->len);

        _cleanup_free_ bool *acked = calloc(b->n_msgs + 1, sizeof(bool));
        if (!acked)
                return log_error_errno(-ENOMEM, "nftables: out of memory reading acknowledgements");
        struct ack_state s = { .b = b, .acked = acked };
        r = acks_read(nl, &s);
        if (r < 0)
                return r;
        if (s.error < 0)
                return report_error(b, &s);
        return 0;
}
