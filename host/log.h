/* SPDX-License-Identifier: MIT */
/* agentbox's own lines on stderr, "agentbox: ...": one per failure, written
 * where the failure is known, naming what and how to fix it. The callers
 * return an exit code or -errno; the helpers keep errno as it was, so a
 * message never changes what the caller returns. */
#pragma once

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What agentbox does that the user should know, not a failure. */
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "agentbox: warning: ...": something was skipped, the verb goes on. */
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print with errno set to -error for %m, whatever stdio did to errno
 * before; returns error, so a failure site reads
 * `return log_error_errno(r, "cannot write %s: %m", path);`. */
int log_error_errno(int error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "agentbox: out of memory"; returns -ENOMEM. */
int log_oom(void);
