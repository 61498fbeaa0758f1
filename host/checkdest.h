/* SPDX-License-Identifier: MIT */
/* Whether a policy allows one destination, and through which entry: what
 * `agentbox check` answers, computed the way the sandbox's init decides
 * (policy_name_allowed for names, the cidrs for addresses, then the ports:
 * the policy's own, or a catalog service's for that service's
 * destinations). Pure, for unit tests. */
#pragma once

#include <stdbool.h>

#include "policy.h"
#include "prefix.h"

struct check_target {
        char host[256];         /* the name as given, or the address without brackets */
        bool is_address;
        struct ip_prefix address;       /* when is_address: a /32 or /128 */
        int port;               /* -1: none given */
};

/* "NAME", "NAME:PORT", "ADDR", "ADDR:PORT" (IPv4), "IPV6", "[IPV6]:PORT".
 * 0, or -EINVAL with *ret_reason saying what is wrong. */
int check_parse_target(const char *text, struct check_target *ret, const char **ret_reason);

struct check_result {
        bool allowed;
        char why[768];          /* "allowed by ..." or "refused: ..." */
};

/* p must be expanded (policy_expand). */
void check_destination(const struct policy *p, const struct check_target *t, struct check_result *ret);
