/* SPDX-License-Identifier: MIT */
/* Logging of PID 1: one line per event on stderr, which is what `docker
 * logs` shows. Plain text for people, --log-format=json for machines. */
#pragma once

#include <stdint.h>

/* NOTICE is what a person starting a command wants to see when all goes
 * well: that the sandbox is ready. The steps before it are INFO. */
enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_NOTICE, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_set_format(enum log_format format);
/* "text" or "json" from --log-format; -EINVAL (reported) otherwise. */
int log_set_format_name(const char *name);
void log_set_max_level(enum log_level level);
/* "error", "warning", "notice" or "info" from --log-level; -EINVAL
 * (reported) otherwise. */
int log_set_max_level_name(const char *name);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs with errno set to -error so the message may use %m; returns error,
 * which must be negative, so callers can write `return log_errno(r, ...)`. */
int log_errno(enum log_level level, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Out of memory in func, as one error line written without allocating
 * (the usual path needs memory); returns -ENOMEM, so callers can write
 * `return log_oom();` at the failure site. */
int log_oom_internal(const char *func);
#define log_oom() log_oom_internal(__func__)

/* A startup step that finished: "<step> done in 12.3 ms: <details>". */
void log_step(const char *step, uint64_t started_usec, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_error_errno(r, ...) log_errno(LOG_LEVEL_ERROR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_errno(LOG_LEVEL_WARNING, (r), __VA_ARGS__)
