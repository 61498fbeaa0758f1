/* SPDX-License-Identifier: MIT */
/* The DNS rebinding guard: an allowed name must not open a door to the
 * sandbox's own machine or networks. Answers that point at loopback,
 * link-local (cloud metadata), multicast, the container's own networks or
 * its gateway are refused unless the policy lists them under cidrs:. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "prefix.h"

struct guard;

/* Reads the container's interface networks and default gateways now. */
int guard_new(const struct ip_prefix *exceptions, size_t n_exceptions, struct guard **ret);

/* true if range (one address, or a network) may be allowed: false when it
 * overlaps a refused range in either direction (0.0.0.0/1 holds
 * 127.0.0.0/8); then *ret_reason names the class ("loopback", "the
 * container's own network") and detail the refused range. */
bool guard_allows(const struct guard *g, const struct ip_prefix *range, const char **ret_reason,
                  char *detail, size_t detail_len);

/* range without every range the guard refuses (its exceptions do not
 * apply): the pieces, malloc'ed, in *ret (n in *ret_n, possibly 0). For a
 * catalog service's ranges, such as the internet preset's, which must not
 * open the container's own networks even where those are public. */
int guard_cut(const struct guard *g, const struct ip_prefix *range, struct ip_prefix **ret, size_t *ret_n);

void guard_free(struct guard *g);
