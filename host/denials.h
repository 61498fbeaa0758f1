/* SPDX-License-Identifier: MIT */
/* The sandbox's recorded denials as `agent-sandbox-init denials` prints
 * them (one JSON object per line, oldest first), grouped for the user by
 * name and destination, newest first, each with what would allow it. The
 * lines come from inside the sandbox, where the agent runs: they are parsed
 * with fixed bounds and nothing in them reaches the terminal unescaped. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct denial {
        int64_t time;           /* Unix seconds */
        char kind[8];           /* "connect", "dns" or "name" (the name gate's) */
        char proto[16];         /* tcp, udp, icmp; for dns the query type */
        char dst[64];           /* "" for dns */
        int port;               /* -1: none */
        char name[256];         /* "": never resolved in the sandbox */
        int64_t resolved_ago;   /* -1: unknown */
        int64_t uid;            /* -1: unknown */
        char reason[256];
        int64_t count;          /* >= 1 */
};

/* One JSON line into *ret: 0, or -EINVAL when it is not an object of the
 * contract's shape (unknown keys are ignored, the known ones type-checked). */
int denial_parse_line(const char *line, struct denial *ret);

struct denial_group {
        struct denial last;     /* the newest record of the group */
        int64_t first;          /* time of the oldest */
        int64_t count;          /* sum of the records' counts */
};

/* Group records by (kind, proto, name or address, destination, port);
 * the groups come newest first. *ret is malloc'd; 0 or -ENOMEM. */
int denials_group(const struct denial *v, size_t n, struct denial_group **ret, size_t *ret_n);

/* "30s", "5m", "2h", "1d" into seconds; -EINVAL for anything else (a bare
 * number, another unit, zero, an overflow). */
int denials_parse_duration(const char *text, uint64_t *ret);

/* What would allow a denial, as the user would type it. */
struct denial_fix {
        char command[320];      /* "agentbox allow NAME", or "" when no command does it */
        char policy_line[320];  /* the line for a policy file: domains: [...] or cidrs: [...] */
        char note[200];         /* why there is no command, or "" */
};
/* managed: the sandbox is agentbox's own (a project file `allow` edits);
 * otherwise the line goes to ~/.config/agent-sandbox/policy.d. */
void denial_fix(const struct denial *d, bool managed, struct denial_fix *ret);

/* The group as one line of JSON (with a newline). */
void denial_group_write_json(const struct denial_group *g, const struct denial_fix *fix, FILE *f);
/* The group for a person: a line with time, destination, count and reason,
 * then an indented line with the fix. Control bytes are shown as '?'. */
void denial_group_write_text(const struct denial_group *g, const struct denial_fix *fix, FILE *f);
