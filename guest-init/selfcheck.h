/* SPDX-License-Identifier: MIT */
/* Reachability self-checks run once the rules are in: they prove from the
 * inside that the sandbox is what it claims before anything of the user's
 * runs. All probes run concurrently on the event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "prefix.h"

enum selfcheck_outcome {
        SELFCHECK_PASSED,
        SELFCHECK_FAILED,       /* the sandbox is not what it claims: fatal */
        SELFCHECK_WARNING,      /* the allowed endpoint is down: the network's fault, not a leak */
};

struct selfcheck_target {
        const char *label;              /* what the log names: a host name or an address */
        struct ip_prefix addr;          /* a single address (/32 or /128) */
        uint16_t port;
        bool present;
};

struct selfcheck_config {
        struct selfcheck_target allowed;        /* must accept a TCP connection */
        struct selfcheck_target blocked;        /* must be refused locally, at once */
        struct selfcheck_target foreign_dns;    /* a DNS server that is not a configured resolver */
        unsigned allowed_timeout_ms;
        unsigned blocked_timeout_ms;
        bool strict;                            /* a failed allowed check is fatal too */
        /* The probes of an init without CAP_NET_ADMIN (the agent role of
         * split mode) cannot carry the probe mark: they meet the rules the
         * user's sockets meet, which is what they are for there. */
        bool unmarked;
};

struct selfcheck_report {
        enum selfcheck_outcome outcome;
        char summary[512];              /* one line for the log */
};

typedef void (*selfcheck_done_fn)(const struct selfcheck_report *report, void *userdata);

struct selfcheck;

int selfcheck_start(struct loop *l, const struct selfcheck_config *cfg,
                    selfcheck_done_fn done, void *userdata, struct selfcheck **ret);
void selfcheck_free(struct selfcheck *s);
