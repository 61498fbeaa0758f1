/* SPDX-License-Identifier: MIT */
/* What every name the checks return must be: 1..SNIFF_NAME_MAX bytes of
 * lower-case letters, digits, '-', '_' and '.', NUL-terminated in its
 * array; abort() otherwise, for the fuzzer to report. */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "sniff.h"

static inline void check_name(const char *name) {
        size_t n = strnlen(name, SNIFF_NAME_MAX + 1);
        if (n == 0 || n > SNIFF_NAME_MAX)
                abort();
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
                        abort();
        }
}
