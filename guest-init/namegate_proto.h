/* SPDX-License-Identifier: MIT */
/* The messages between PID 1 and the name gate child (namegate.h), over a
 * SOCK_SEQPACKET socketpair.
 *
 * PID 1 → child: a queued packet (struct namegate_packet and the packet's
 * bytes), which the child may trust to be what the kernel queued.
 *
 * Child → PID 1: a packet's verdict, or at most once a second that it was
 * full. Fixed size, checked field by field by PID 1, which holds
 * CAP_NET_ADMIN and trusts nothing in it: the id must be one it sent and
 * has no verdict for yet; a refusal's report is only printed, after the
 * check, never matched or added anywhere. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sniff.h"

struct namegate_packet {
        uint32_t id;                    /* the queue's, for the verdict */
        uint8_t from_server;            /* 1: it came in (input hook), 0: the sandbox sent it */
        uint8_t has_uid;                /* 0 or 1 */
        uint16_t pad;
        uint32_t uid;                   /* the sending socket's owner */
        uint32_t whole_len;             /* the packet's length; the bytes that follow may be fewer */
        /* the IP packet's bytes follow */
};

/* The most bytes of a packet that follow the header. */
#define NAMEGATE_PACKET_BYTES_MAX 0xffffu

enum namegate_msg_type {
        NAMEGATE_VERDICT = 1,
        /* The gate was at its flow limit: uid holds how many connections
         * it refused for it since the last such message; every other field
         * 0. */
        NAMEGATE_FULL = 2,
};

enum namegate_verdict {
        NAMEGATE_ACCEPT = 1,            /* the packet passes; its flow stays as it is */
        NAMEGATE_PASS,                  /* passes, and its flow needs the gate no more */
        NAMEGATE_PASS_CLIENT,           /* passes, and only the client's side needs the gate still */
        NAMEGATE_DROP,                  /* dropped (its sender sends it again): a copy of bytes held, or a gap */
        NAMEGATE_REFUSE,                /* its flow is refused: the client gets a reset */
        _NAMEGATE_VERDICT_MAX,
};

enum namegate_kind {
        NAMEGATE_TLS = 1,
        NAMEGATE_HTTP = 2,
};

/* Why: the name is not in the policy (name set), or the bytes named no
 * usable host (name empty). */
enum namegate_why {
        NAMEGATE_NOT_IN_POLICY = 1,
        NAMEGATE_NO_NAME,
        NAMEGATE_BAD_NAME,
        NAMEGATE_AMBIGUOUS,
        NAMEGATE_MALFORMED,
        NAMEGATE_TOO_LONG,              /* no complete ClientHello or head in SNIFF_BYTES_MAX */
        NAMEGATE_TIMEOUT,               /* started, but not finished in time */
        NAMEGATE_UNSUPPORTED,           /* asks for what the check cannot follow (an HTTP upgrade) */
        _NAMEGATE_WHY_MAX,
};

struct namegate_msg {
        uint32_t type;                  /* enum namegate_msg_type */
        uint32_t id;                    /* VERDICT: the packet's */
        uint8_t verdict;                /* enum namegate_verdict */
        uint8_t report;                 /* REFUSE: 1 when the fields below say what was refused, else 0 */
        uint8_t kind;                   /* enum namegate_kind */
        uint8_t why;                    /* enum namegate_why */
        uint16_t port;                  /* the destination port, host order, not 0 */
        uint8_t family;                 /* AF_INET or AF_INET6 */
        uint8_t has_uid;                /* 0 or 1 */
        uint32_t uid;                   /* the client socket's owner; 0 without has_uid */
        uint8_t addr[16];               /* the destination; IPv4 in the first 4 bytes */
        char name[SNIFF_NAME_MAX + 1];  /* NUL-terminated; "" unless NOT_IN_POLICY */
};

/* -EBADMSG unless len is exactly the size, and either type is FULL with
 * uid not 0 and every other byte 0, or type is VERDICT with a known
 * verdict and, unless it is a REFUSE with report 1, every field after the
 * verdict 0; a report has kind and why known, port not 0, family AF_INET
 * (the 12 bytes after the address 0) or AF_INET6, has_uid 0 or 1 (uid 0
 * when 0), and name: for NOT_IN_POLICY 1..SNIFF_NAME_MAX bytes of
 * [a-z0-9._-] NUL-terminated in the array, else empty. buf must be aligned
 * for the struct (-EINVAL). On 0, *ret is buf. */
int namegate_msg_check(const void *buf, size_t len, const struct namegate_msg **ret);

const char *namegate_kind_text(enum namegate_kind k);
