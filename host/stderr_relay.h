/* SPDX-License-Identifier: MIT */
/* The engine's stderr during `run --rm` or `exec`, passed on to ours as it
 * arrives, except the engine's own failure lines at its start: those (lines
 * that begin the way docker's and podman's messages do, and then prove to
 * be a failure the hint table knows) are withheld,
 * so that agentbox can say in one line what to do (or, when the sandbox's
 * name is taken, join that sandbox without a misleading "Conflict"). The
 * first line that is not the engine's (the init's log, pull progress)
 * releases everything withheld, in order, and from then on bytes pass
 * through untouched. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct stderr_relay {
        int out_fd;
        bool passing;           /* past the engine's lines: everything passes */
        bool name_taken;        /* a withheld line said the name is taken */
        char line[2048];        /* the current line, until its newline */
        size_t line_len;
        char held[8192];        /* withheld engine lines, NUL-terminated */
        size_t held_len;
        char head[4096];        /* the stream's first bytes, whatever became of them */
        size_t head_len;
};

void stderr_relay_init(struct stderr_relay *r, int out_fd);
void stderr_relay_feed(struct stderr_relay *r, const char *buf, size_t n);
/* The stream ended; a last line without its newline is judged like the rest. */
void stderr_relay_end(struct stderr_relay *r);
/* Write out what is still withheld (the engine did not fail after all). */
void stderr_relay_release(struct stderr_relay *r);
