/* SPDX-License-Identifier: MIT */
/* A policy from YAML text, parsed and expanded, for the unit tests; NULL
 * (the diagnostics printed) when it fails. */
#pragma once

#include <stdio.h>
#include <string.h>

#include "policy.h"

static inline struct policy *load(const char *text) {
        struct policy_diags d = {0};
        struct policy *p = NULL;
        if (policy_parse_buffer("t.yaml", text, strlen(text), &p, &d) < 0 || policy_expand(p, &d) < 0) {
                policy_diags_print(&d, stdout);
                policy_free(p);
                p = NULL;
        }
        policy_diags_clear(&d);
        return p;
}
