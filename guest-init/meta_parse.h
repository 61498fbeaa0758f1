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

int meta_load_snapshot(const char *path, struct ip_prefix **ret, size_t *ret_n, char **ret_error);
