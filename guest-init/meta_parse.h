/* SPDX-License-Identifier: MIT */
/* GitHub's meta document → the address ranges the github service needs.
 * Only the web, api and git keys are used; each must be an array of CIDR
 * strings. Untrusted input (it comes from the network): parsed strictly,
 * with no aliases and no size surprises. */
#pragma once

#include <stddef.h>

#include "prefix.h"

/* 0 with a sorted, de-duplicated list, or -EINVAL with *ret_error saying
 * what is wrong (caller frees both). */
int meta_parse(const char *json, size_t len, struct ip_prefix **ret, size_t *ret_n, char **ret_error);

/* GitHub's web, api and git keys hold a few hundred ranges. These bounds
 * are far above that and far below "everything", so that no document (nor
 * a fetch child taken over through a bug in TLS, HTTP or JSON code) can open
 * the firewall wide: at most this many ranges, none wider than /12 (IPv4) or
 * /24 (IPv6), and no more IPv4 addresses in all than a /8 holds. */
#define META_MAX_RANGES 16384u
#define META_MIN_LEN_V4 12u
#define META_MIN_LEN_V6 24u
#define META_MAX_V4_ADDRESSES (1ull << 24)

/* 0 when list keeps within those bounds, else -EINVAL with *ret_error
 * (free it) naming the first range that does not. */
int meta_ranges_check(const struct ip_prefix *list, size_t n, char **ret_error);

int meta_load_snapshot(const char *path, struct ip_prefix **ret, size_t *ret_n, char **ret_error);
