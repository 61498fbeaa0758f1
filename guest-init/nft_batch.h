/* SPDX-License-Identifier: MIT */
/* One nftables transaction: netlink messages between NFNL_MSG_BATCH_BEGIN
 * and END, sent with one sendmsg() so the kernel commits all of it or none,
 * then every acknowledgement read back and any error tied to the message
 * that caused it. Internal to the nftables layer: nft.c commits the
 * batches that nft_rules.c, nft_sets.c and nft_expr.c fill. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

struct nlmsghdr;
struct nft_batch_msg;

struct nft_batch {
        char *buf;
        size_t len, cap;
        uint32_t seq_begin;     /* seq of BEGIN; messages follow it */
        uint32_t seq_next;
        struct nft_batch_msg *msgs;     /* by seq - seq_begin - 1 */
        size_t n_msgs, cap_msgs;
        /* Messages ask for no acknowledgement: the kernel answers only a
         * message it refuses (nft_batch_init_errors_only). */
        bool errors_only;
        bool open;              /* a message started and not ended yet */
};

int nft_batch_init(struct nft_batch *b);
/* A batch whose messages carry no NLM_F_ACK. nft_batch_commit() then
 * knows the outcome as soon as sendmsg() returns, with one non-blocking
 * read: nfnetlink processes a batch inside sendmsg() (netlink_unicast() to
 * a kernel socket calls nfnetlink_rcv() in the sender's context), and it
 * queues an NLMSG_ERROR for every message it refused, acknowledged or not,
 * before sendmsg() returns; a batch the kernel committed leaves nothing to
 * read. An error the kernel could not queue sets ENOBUFS on the socket,
 * which that read returns too. So "nothing to read" means "committed", and
 * nothing needs waiting for. nft's own mnl.c likewise asks for acks only
 * where it needs them. */
int nft_batch_init_errors_only(struct nft_batch *b);
void nft_batch_free(struct nft_batch *b);

/* Starts a message (NLM_F_ACK is added unless errors_only) with room for a payload of up to
 * SBX_BATCH_MSG_MAX bytes. what_fmt names it for error messages ("adding
 * set allowed_v4"). The pointer is valid until the next call; call
 * nft_batch_msg_end() once the payload is built. Returns NULL on ENOMEM. */
#define SBX_BATCH_MSG_MAX (96 * 1024)
struct nlmsghdr *nft_batch_msg(struct nft_batch *b, uint16_t type, uint16_t family,
                               uint16_t flags, const char *what_fmt, ...)
        __attribute__((format(printf, 5, 6)));
void nft_batch_msg_end(struct nft_batch *b, struct nlmsghdr *nlh);

/* Messages so far, BEGIN and END included. */
size_t nft_batch_messages(const struct nft_batch *b);

/* Closes the batch, sends it and reads every acknowledgement (or, for an
 * errors-only batch, whatever error the kernel queued). On failure
 * logs one line naming the first message the kernel refused (the others
 * usually fail because of it) and returns its -errno; the kernel has then
 * rolled back the whole batch. */
int nft_batch_commit(struct nft_batch *b);

/* Opens a netlink socket to nf_tables (close-on-exec, extended acks on when
 * the kernel has them). Returns a struct mnl_socket* via ret, or -errno,
 * logged. */
int nft_socket_open(struct mnl_socket **ret);

static inline void mnl_socket_closep(struct mnl_socket **nl) {
        if (*nl)
                mnl_socket_close(*nl);
}
