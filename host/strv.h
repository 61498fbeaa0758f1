/* SPDX-License-Identifier: MIT */
/* A growable NULL-terminated array of strings, used for engine argv and
 * environment lists. An allocation failure is remembered in the vector
 * (oom), so a builder can push many items and check once at the end. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct strv {
        char **v;       /* NULL-terminated once anything was pushed; may be NULL */
        size_t n, cap;
        bool oom;
};

void strv_push(struct strv *s, const char *item);
__attribute__((format(printf, 2, 3)))
void strv_pushf(struct strv *s, const char *fmt, ...);
/* Push each argument up to a terminating NULL. */
__attribute__((sentinel))
void strv_push_many(struct strv *s, ...);
void strv_push_all(struct strv *s, char *const *items);
bool strv_contains(const struct strv *s, const char *item);
/* -ENOMEM if any push failed, else 0. */
int strv_status(const struct strv *s);
/* Never NULL: an empty vector yields a pointer to a NULL entry. */
char *const *strv_items(const struct strv *s);
void strv_done(struct strv *s);
static inline void strv_donep(struct strv *s) {
        strv_done(s);
}
#define _cleanup_strv_ __attribute__((cleanup(strv_donep)))
