/* SPDX-License-Identifier: MIT */
/* Helpers shared by the policy library's files; not part of the public API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* Grow *array (of *n elements of size size) by one zeroed element; returns a
 * pointer to it, or NULL on allocation failure. */
void *policy_array_append(void *array_ptr, size_t *n, size_t size);

/* Appends to the model; strings are copied. NULL on allocation failure. */
struct policy_service *policy_add_service(struct policy *p, const char *name, struct policy_pos pos);
struct policy_domain *policy_add_domain(struct policy *p, const char *name, bool wildcard,
                                        struct policy_pos pos, const char *service);
struct policy_cidr *policy_add_cidr(struct policy *p, const struct ip_prefix *prefix,
                                    struct policy_pos pos, const char *service);
struct policy_port *policy_add_port(struct policy *p, uint16_t port, struct policy_pos pos,
                                    const char *service);
/* By port, then ports of the whole policy (service NULL) before those of a
 * service, then by service name. */
int policy_port_compare(const struct policy_port *a, const struct policy_port *b);
/* Index of file in p->sources, adding it if new; negative errno on failure. */
int policy_add_source(struct policy *p, const char *file, uint32_t *ret);

/* Fold duplicate services/domains/cidrs/ports (first occurrence wins; a port
 * of the whole policy also absorbs the same port added by a service). With
 * warn, a warning names both positions (never for catalog entries). */
int policy_fold_duplicates(struct policy *p, struct policy_diags *diags, bool warn);

/* Copy the scalars that src sets onto dst. */
int policy_copy_scalars(struct policy *dst, const struct policy *src);

/* Diagnostic at a model position. */
__attribute__((format(printf, 5, 6)))
int policy_diag_at(struct policy_diags *d, enum policy_severity severity, const struct policy *p,
                   const struct policy_pos *pos, const char *fmt, ...);

/* Lower-case ASCII copy. */
char *policy_strdup_lower(const char *s);

/* Validation of individual values (validate.c). */
/* Whether text looks like an IPv4/IPv6 address or prefix. */
bool policy_looks_like_ip(const char *text);
/* Index of the first byte >= 0x80, or -1. */
long policy_first_non_ascii(const char *text);
/* Levenshtein distance bounded by max+1 (for "did you mean"). */
unsigned policy_edit_distance(const char *a, const char *b, unsigned max);
