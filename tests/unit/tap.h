/* SPDX-License-Identifier: MIT */
/* A minimal TAP producer for the C unit tests (meson runs them with
 * protocol: 'tap'). Each check prints one "ok"/"not ok" line. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

#define TAP_CHECK(cond, ...) tap_check_impl(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

__attribute__((format(printf, 5, 6)))
static inline void tap_check_impl(int ok, const char *file, int line, const char *expr,
                                  const char *fmt, ...) {
        va_list ap;
        tap_count++;
        printf("%s %d - ", ok ? "ok" : "not ok", tap_count);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        if (!ok) {
                tap_failed++;
                printf("#   failed at %s:%d: %s\n", file, line, expr);
        }
}

#define TAP_CHECK_STR(got, want, what)                                                       \
        do {                                                                                 \
                const char *_g = (got), *_w = (want);                                        \
                int _ok = _g && _w && strcmp(_g, _w) == 0;                                   \
                TAP_CHECK(_ok, "%s", what);                                                  \
                if (!_ok)                                                                    \
                        printf("#   got:  %s\n#   want: %s\n", _g ? _g : "(null)", _w ? _w : "(null)"); \
        } while (0)

static inline int tap_done(void) {
        printf("1..%d\n", tap_count);
        return tap_failed ? 1 : 0;
}
