/* SPDX-License-Identifier: MIT */
#include "strv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void push_owned(struct strv *s, char *item) {
        if (!item) {
                s->oom = true;
                return;
        }
        if (s->n + 2 > s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 16;
                char **v = realloc(s->v, cap * sizeof(char *));
                if (!v) {
                        free(item);
                        s->oom = true;
                        return;
                }
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n++] = item;
        s->v[s->n] = NULL;
}

void strv_push(struct strv *s, const char *item) {
        push_owned(s, strdup(item));
}

void strv_pushf(struct strv *s, const char *fmt, ...) {
        va_list ap;
        char *item = NULL;
        va_start(ap, fmt);
        if (vasprintf(&item, fmt, ap) < 0)
                item = NULL;
        va_end(ap);
        push_owned(s, item);
}

void strv_push_many(struct strv *s, ...) {
        va_list ap;
        va_start(ap, s);
        for (const char *item; (item = va_arg(ap, const char *));)
                strv_push(s, item);
        va_end(ap);
}

void strv_push_all(struct strv *s, char *const *items) {
        for (; items && *items; items++)
                strv_push(s, *items);
}

bool strv_contains(const struct strv *s, const char *item) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i], item) == 0)
                        return true;
        return false;
}

int strv_status(const struct strv *s) {
        return s->oom ? -ENOMEM : 0;
}

char *const *strv_items(const struct strv *s) {
        static char *const empty[] = { NULL };
        return s->v ? s->v : empty;
}

void strv_done(struct strv *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        *s = (struct strv) {};
}
