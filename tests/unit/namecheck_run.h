/* SPDX-License-Identifier: MIT */
/* A connection's two streams run through the name check (namecheck.h) the
 * way the name gate follows one: a side passes what its budget allows,
 * then its next check reads what follows, at most SNIFF_BYTES_MAX bytes of
 * it. For the unit test and the fuzzer alike. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "namecheck.h"

struct namecheck_outcome {
        enum namecheck_result end;      /* MORE: both sides wait (or all passed) */
        enum namegate_why why;
        char name[SNIFF_NAME_MAX + 1];
        size_t up, down;                /* bytes passed */
        bool empty_pass;                /* a check passed granting no byte: a carrier would spin */
};

/* One side's turn: passes within its budget, then checks. false when it
 * can go no further now. */
static inline bool namecheck_turn(struct namecheck *nc, const struct policy *p, bool server, const uint8_t *b,
                                  size_t n, size_t *at, struct namecheck_outcome *o) {
        struct namecheck_side *s = server ? &nc->down : &nc->up;
        if (*at == n)
                return false;
        if (s->budget) {
                size_t take = s->budget < n - *at ? (size_t) s->budget : n - *at;
                *at += take;
                if (s->budget != NAMECHECK_OPEN)
                        s->budget -= take;
                return true;
        }
        if (namecheck_holds(s))
                return false;
        size_t len = n - *at < SNIFF_BYTES_MAX ? n - *at : SNIFF_BYTES_MAX;
        enum namecheck_result r = namecheck_side(nc, server, p, b + *at, len, &o->why, o->name);
        o->empty_pass |= r == NAMECHECK_PASS && s->budget == 0;
        if (r != NAMECHECK_PASS)
                o->end = r;
        return r == NAMECHECK_PASS && s->budget;
}

static inline struct namecheck_outcome namecheck_run(const struct policy *p, enum namegate_kind kind,
                                           const uint8_t *client, size_t client_len,
                                           const uint8_t *server, size_t server_len) {
        struct namecheck nc;
        struct namecheck_outcome o = { .end = NAMECHECK_MORE };
        namecheck_init(&nc, kind);
        /* The client goes as far as it can before the server answers: a
         * server answers what reached it. */
        for (bool moved = true; moved && o.end == NAMECHECK_MORE;) {
                moved = namecheck_turn(&nc, p, false, client, client_len, &o.up, &o);
                if (!moved && o.end == NAMECHECK_MORE)
                        moved = namecheck_turn(&nc, p, true, server, server_len, &o.down, &o);
        }
        namecheck_done(&nc);
        return o;
}
