/* SPDX-License-Identifier: MIT */
/* The denial stream of PID 1: every connection the firewall refused (from
 * the kernel's reports, denial_nflog.h) and every DNS query the sandbox's
 * resolver refused, one line each in the init's log, with the name the
 * sandbox resolved to that address and why, and one JSON line each in the
 * denial record (denial_file.h).
 *
 * Bounded whatever the load: the first denial to a destination is logged at
 * once; repeats are counted and summarised once a minute per destination,
 * by a timer armed only while a count is pending (an idle PID 1 never
 * wakes); the log as a whole takes a burst of lines, then one every few
 * seconds, and says once a minute how many denials to how many destinations
 * it left out. Destinations are followed in a fixed table (the least
 * recently seen makes room), names in another. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "denial_parse.h"
#include "loop.h"
#include "prefix.h"

enum denial_reason {
        DENIAL_NOT_IN_POLICY,
        DENIAL_PORT,            /* the address is allowed, that port or protocol is not */
        DENIAL_EXPIRED,         /* the name is allowed; this address of it no longer is */
        DENIAL_QTYPE,           /* a query type the resolver does not answer */
        /* The name gate's refusals on a name-checked port: */
        DENIAL_NAME_MISSING,    /* the ClientHello or request names no host */
        DENIAL_NAME_INVALID,    /* it names something that is no host name */
        DENIAL_NAME_AMBIGUOUS,  /* it names two hosts, or one two ways */
        DENIAL_NAME_MALFORMED,  /* not a TLS ClientHello / HTTP/1.x request */
        DENIAL_NAME_TOO_LONG,   /* no complete one in the bytes the gate waits for */
        DENIAL_NAME_TIMEOUT,    /* begun, not finished in time */
        DENIAL_NAME_UNSUPPORTED, /* asks for what the check cannot follow (an upgrade) */
};

/* What the policy in force says about a refused destination, and the name
 * the sandbox last resolved to it (NULL when none). */
typedef enum denial_reason (*denials_judge_fn)(const struct ip_prefix *dst, const char *name, void *userdata);

struct denials_config {
        const char *dir;                /* the JSON record's directory; NULL: DENIAL_DIR_DEFAULT */
        unsigned summary_seconds;       /* 0: once a minute */
        uint32_t ignore_mark;           /* packets with this mark are the init's own probes */
};

struct denials;

/* A record that cannot be opened is logged and left out; only an
 * allocation failure is an error. */
int denials_new(struct loop *l, const struct denials_config *cfg, struct denials **ret);
void denials_set_judge(struct denials *d, denials_judge_fn fn, void *userdata);
void denials_free(struct denials *d);

/* The sandbox resolved name to addr just now: the init's own lookups of
 * the policy's names and the answers its resolver handed out. Kept after
 * the name leaves the policy, so a later denial still names it. */
void denials_name_seen(struct denials *d, const struct ip_prefix *addr, const char *name);

/* A packet the firewall refused (a denial_packet_fn). */
void denials_packet(const struct denial_packet *p, void *userdata);

/* A connection the name gate refused on a name-checked port: kind
 * "TLS" or "HTTP", the name it asked for (NULL when it named none), the
 * destination it was going to, and its owner when known. */
void denials_name(struct denials *d, const char *kind, const char *name, const struct ip_prefix *dst,
                  uint16_t port, bool has_uid, uint32_t uid, enum denial_reason reason);

/* A query the resolver refused; qtype as "A", "TXT", "TYPE65280". */
void denials_dns(struct denials *d, const char *name, const char *qtype, enum denial_reason reason);
