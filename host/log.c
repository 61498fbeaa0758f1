/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* One write per line: the engine's stderr may be relayed to the same
 * terminal at the same time. */
__attribute__((format(printf, 3, 0)))
static void log_line(const char *prefix, int error, const char *fmt, va_list ap) {
        int saved = errno;
        char *msg = NULL;
        if (error)
                errno = error < 0 ? -error : error;
        if (vasprintf(&msg, fmt, ap) >= 0)
                fprintf(stderr, "agentbox: %s%s\n", prefix, msg);
        else
                fprintf(stderr, "agentbox: %sout of memory while reporting an error\n", prefix);
        free(msg);
        errno = saved;
}

void log_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        log_line("", 0, fmt, ap);
        va_end(ap);
}

void log_notice(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        log_line("", 0, fmt, ap);
        va_end(ap);
}

void log_warning(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        log_line("warning: ", 0, fmt, ap);
        va_end(ap);
}

int log_error_errno(int error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        log_line("", error, fmt, ap);
        va_end(ap);
        return error;
}

int log_oom(void) {
        log_error("out of memory");
        return -ENOMEM;
}
