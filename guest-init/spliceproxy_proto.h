/* SPDX-License-Identifier: MIT */
/* The messages the splice proxy child (spliceproxy.h) sends PID 1, over
 * a SOCK_SEQPACKET socketpair: a connection it refused, for the denial
 * stream; and, at most once a second, that it was full. Fixed size, checked field by field by PID 1, which holds
 * CAP_NET_ADMIN and trusts nothing in it: the name is only printed, after
 * the check, never matched or added anywhere. PID 1 sends the child
 * nothing; closing its end stops the child. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sniff.h"

enum spliceproxy_msg_type {
        SPLICEPROXY_REFUSED = 1,
        /* The proxy was at its connection limit: uid holds how many
         * connections it ended or refused for it since the last such
         * message; every other field 0. */
        SPLICEPROXY_FULL = 2,
};

enum spliceproxy_kind {
        SPLICEPROXY_TLS = 1,
        SPLICEPROXY_HTTP = 2,
};

/* Why: the name is not in the policy (name set), or the bytes named no
 * usable host (name empty). */
enum spliceproxy_why {
        SPLICEPROXY_NOT_IN_POLICY = 1,
        SPLICEPROXY_NO_NAME,
        SPLICEPROXY_BAD_NAME,
        SPLICEPROXY_AMBIGUOUS,
        SPLICEPROXY_MALFORMED,
        SPLICEPROXY_TOO_LONG,           /* no complete ClientHello or head in SNIFF_BYTES_MAX */
        SPLICEPROXY_TIMEOUT,            /* started, but not finished in time */
        SPLICEPROXY_UNSUPPORTED,        /* asks for what the check cannot follow (an HTTP upgrade) */
        _SPLICEPROXY_WHY_MAX,
};

struct spliceproxy_msg {
        uint32_t type;                  /* SPLICEPROXY_REFUSED */
        uint8_t kind;                   /* enum spliceproxy_kind */
        uint8_t why;                    /* enum spliceproxy_why */
        uint16_t port;                  /* the original destination port, host order, not 0 */
        uint8_t family;                 /* AF_INET or AF_INET6 */
        uint8_t has_uid;                /* 0 or 1 */
        uint8_t pad[2];
        uint32_t uid;                   /* the client socket's owner; 0 without has_uid */
        uint8_t addr[16];               /* the original destination; IPv4 in the first 4 bytes */
        char name[SNIFF_NAME_MAX + 1];  /* NUL-terminated; "" unless NOT_IN_POLICY */
};

/* -EBADMSG unless len is exactly the size, and either type is FULL with
 * uid not 0 and every other byte 0, or type is REFUSED, kind and why
 * known, port not 0, family AF_INET (the 12 bytes after the address 0) or
 * AF_INET6, pad 0, has_uid 0 or 1 (uid 0 when 0), and name is: for
 * NOT_IN_POLICY 1..SNIFF_NAME_MAX bytes of [a-z0-9._-] NUL-terminated in
 * the array, else empty. buf must be aligned for the struct (-EINVAL). On
 * 0, *ret is buf. */
int spliceproxy_msg_check(const void *buf, size_t len, const struct spliceproxy_msg **ret);

const char *spliceproxy_kind_text(enum spliceproxy_kind k);
