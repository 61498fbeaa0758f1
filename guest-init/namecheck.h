/* SPDX-License-Identifier: MIT */
/* The name check's decisions over the two byte streams of one connection,
 * apart from how the bytes are carried: which bytes may pass before the
 * next check, and what each check makes of the bytes that follow. No I/O,
 * no clock, one allocation (the TLS name, until the server's first record),
 * so it can be driven by the name gate's packets, by a unit test's byte
 * strings, or by a fuzzer, alike.
 *
 * A side (client → server "up", server → client "down") has a budget: the
 * bytes the last check vouched for, which pass unread. When it is spent the
 * side's next check reads what follows:
 *   TLS   the client's ClientHello (its records pass, the client then
 *         waits); the server's first record: a HelloRetryRequest lets one
 *         more ClientHello through, which must name the first's server;
 *         anything else opens both sides for good
 *   HTTP  every request head on the client's side, not only the first, its
 *         body by Content-Length or chunk by chunk; the server's side is
 *         open from the start
 * Refusing is the caller's to carry out, with the reason (and name) given
 * here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sniff.h"
#include "namegate_proto.h"

struct policy;

/* A budget that never runs out: the side is no longer checked. */
#define NAMECHECK_OPEN UINT64_MAX

struct namecheck_side {
        uint64_t budget;                /* bytes that may pass before the next check */
        uint8_t next;                   /* what that check reads (namecheck.c) */
};

struct namecheck {
        uint8_t kind;                   /* enum namegate_kind */
        struct namecheck_side up, down;
        char *tls_name;                 /* TLS until the server's first record: the name checked */
};

enum namecheck_result {
        NAMECHECK_MORE,                 /* no decision yet: more bytes are needed */
        NAMECHECK_PASS,                 /* the side has a new budget (not 0) */
        NAMECHECK_REFUSE,               /* refuse: *ret_why, and name where it says one */
        NAMECHECK_BROKEN,               /* end the connection, with nothing to report */
};

/* Both budgets 0: the client's first check comes before any byte, the
 * server's side waits for it. */
void namecheck_init(struct namecheck *nc, enum namegate_kind kind);

/* Frees what the check holds; nc may be checked no more. */
void namecheck_done(struct namecheck *nc);

/* Whether a side whose budget is spent waits for the other side's check
 * rather than for its own bytes (a TLS client, between its ClientHello
 * and the server's first record; the server, before the client's first
 * check passed). */
bool namecheck_holds(const struct namecheck_side *s);

/* The check of a side whose budget is spent, over the len bytes that
 * follow (len at most SNIFF_BYTES_MAX; a caller that has that many and
 * still gets NAMECHECK_MORE refuses as NAMEGATE_TOO_LONG). name holds
 * the name for a refusal that reports one (NAMEGATE_NOT_IN_POLICY). */
enum namecheck_result namecheck_side(struct namecheck *nc, bool server, const struct policy *policy,
                                     const uint8_t *buf, size_t len, enum namegate_why *ret_why,
                                     char name[static SNIFF_NAME_MAX + 1]);
