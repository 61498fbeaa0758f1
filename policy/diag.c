/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

int policy_diag_add(struct policy_diags *d, enum policy_severity severity, const char *file,
                    unsigned line, unsigned column, const char *fmt, ...) {
        struct policy_diag *items = realloc(d->items, (d->n + 1) * sizeof(*items));
        if (!items)
                return -ENOMEM;
        d->items = items;

        struct policy_diag *diag = &items[d->n];
        *diag = (struct policy_diag) { .severity = severity, .line = line, .column = column };
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&diag->message, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        if (file) {
                diag->file = strdup(file);
                if (!diag->file) {
                        free(diag->message);
                        return -ENOMEM;
                }
        }
        d->n++;
        if (severity == POLICY_ERROR)
                d->n_errors++;
        return 0;
}

int policy_diag_at(struct policy_diags *d, enum policy_severity severity, const struct policy *p,
                   const struct policy_pos *pos, const char *fmt, ...) {
        char *message;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        const char *file = pos->source == POLICY_SOURCE_CATALOG ? NULL : policy_pos_file(p, pos);
        int r = policy_diag_add(d, severity, file, pos->line, pos->column, "%s", message);
        free(message);
        return r;
}

void policy_diags_print(const struct policy_diags *d, FILE *f) {
        for (size_t i = 0; i < d->n; i++) {
                const struct policy_diag *x = &d->items[i];
                const char *kind = x->severity == POLICY_ERROR ? "error" : "warning";
                if (x->file && x->line > 0)
                        fprintf(f, "%s:%u:%u: %s: %s\n", x->file, x->line, x->column, kind, x->message);
                else if (x->file)
                        fprintf(f, "%s: %s: %s\n", x->file, kind, x->message);
                else
                        fprintf(f, "%s: %s\n", kind, x->message);
        }
}

void policy_diags_clear(struct policy_diags *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].file);
                free(d->items[i].message);
        }
        free(d->items);
        *d = (struct policy_diags) {0};
}
