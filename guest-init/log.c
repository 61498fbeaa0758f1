/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json_string.h"
#include "loop.h"

static enum log_format log_format = LOG_FORMAT_TEXT;
static enum log_level log_max_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
        [LOG_LEVEL_ERROR] = "error",
        [LOG_LEVEL_WARNING] = "warning",
        [LOG_LEVEL_NOTICE] = "notice",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_DEBUG] = "debug",
};

void log_set_format(enum log_format format) {
        log_format = format;
}

int log_set_format_name(const char *name) {
        if (strcmp(name, "json") == 0)
                log_set_format(LOG_FORMAT_JSON);
        else if (strcmp(name, "text") == 0)
                log_set_format(LOG_FORMAT_TEXT);
        else {
                log_error("--log-format takes text or json, not '%s'", name);
                return -EINVAL;
        }
        return 0;
}

void log_set_max_level(enum log_level level) {
        log_max_level = level;
}

int log_set_max_level_name(const char *name) {
        for (enum log_level l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_INFO; l++)
                if (strcmp(name, level_names[l]) == 0) {
                        log_set_max_level(l);
                        return 0;
                }
        log_error("--log-level takes error, warning, notice or info, not '%s'", name);
        return -EINVAL;
}

__attribute__((format(printf, 4, 0)))
static void log_emit(enum log_level level, const char *step, double duration_ms,
                     const char *fmt, va_list ap) {
        char text[2048];
        vsnprintf(text, sizeof(text), fmt, ap);

        /* One write per line: several processes share this stderr. */
        char line[2300];
        FILE *f = fmemopen(line, sizeof(line), "w");
        if (!f)
                return;
        if (log_format == LOG_FORMAT_JSON) {
                fprintf(f, "{\"level\":\"%s\"", level_names[level]);
                if (step) {
                        fputs(",\"step\":", f);
                        base_json_write_string(f, step);
                        fprintf(f, ",\"duration_ms\":%.1f", duration_ms);
                }
                fputs(",\"message\":", f);
                base_json_write_string(f, text);
                fputs("}\n", f);
        } else {
                fputs("agent-sandbox-init: ", f);
                if (level < LOG_LEVEL_NOTICE)
                        fprintf(f, "%s: ", level_names[level]);
                if (step)
                        fprintf(f, "%s done in %.1f ms: ", step, duration_ms);
                fprintf(f, "%s\n", text);
        }
        long n = ftell(f);
        fclose(f);
        if (n > 0) {
                line[sizeof(line) - 2] = '\n';
                fwrite(line, 1, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1, stderr);
                fflush(stderr);
        }
}

void log_msg(enum log_level level, const char *fmt, ...) {
        if (level > log_max_level)
                return;
        va_list ap;
        va_start(ap, fmt);
        log_emit(level, NULL, 0, fmt, ap);
        va_end(ap);
}

int log_errno(enum log_level level, int error, const char *fmt, ...) {
        if (level <= log_max_level) {
                int saved = errno;
                errno = error < 0 ? -error : error;
                va_list ap;
                va_start(ap, fmt);
                log_emit(level, NULL, 0, fmt, ap);
                va_end(ap);
                errno = saved;
        }
        return error;
}

int log_oom_internal(const char *func) {
        if (LOG_LEVEL_ERROR <= log_max_level) {
                char line[160];
                int n = log_format == LOG_FORMAT_JSON
                                ? snprintf(line, sizeof(line),
                                           "{\"level\":\"error\",\"message\":\"out of memory in %s\"}\n", func)
                                : snprintf(line, sizeof(line), "agent-sandbox-init: error: out of memory in %s\n", func);
                if (n > 0)
                        fwrite(line, 1, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1, stderr);
        }
        return -ENOMEM;
}

void log_step(const char *step, uint64_t started_usec, const char *fmt, ...) {
        if (LOG_LEVEL_INFO > log_max_level)
                return;
        double ms = (double) (loop_now_usec() - started_usec) / 1000.0;
        va_list ap;
        va_start(ap, fmt);
        log_emit(LOG_LEVEL_INFO, step, ms, fmt, ap);
        va_end(ap);
}
