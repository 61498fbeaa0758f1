/* SPDX-License-Identifier: MIT */
#include "stderr_relay.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "fileio.h"

void stderr_relay_init(struct stderr_relay *r, int out_fd) {
        *r = (struct stderr_relay) { .out_fd = out_fd };
}

static void pass_on(const struct stderr_relay *r, const char *buf, size_t n) {
        (void) base_write_all(r->out_fd, buf, n);       /* our stderr is gone: nothing better to do */
}

/* One of the engine's failure lines, or the pointer to its usage that
 * follows them ("See 'docker run --help'."), or a blank line between. */
static bool is_engine_line(const char *line) {
        return engine_failure_kind(line) != ENGINE_FAILURE_UNKNOWN || strstr(line, " --help") ||
               line[strspn(line, " \t\r\n")] == '\0';
}

void stderr_relay_release(struct stderr_relay *r) {
        pass_on(r, r->held, r->held_len);
        r->held_len = 0;
        r->held[0] = '\0';
}

static void start_passing(struct stderr_relay *r) {
        stderr_relay_release(r);
        pass_on(r, r->line, r->line_len);
        r->line_len = 0;
        r->passing = true;
}

/* How the engines' own messages begin (docker, podman); blank lines and
 * docker's pointer to its usage come between and after them. Anything else
 * at the start of a line is the command's, and passes at once: a prompt
 * without a newline must not wait. */
static const char *const engine_starts[] = {
        "Error", "error", "docker: ", "Cannot connect", "Unable to find image", "Conflict",
        "See 'docker", "Run 'docker", "\n", "\r\n",
};

/* Whether the partial line can still become, or already is, the start of
 * an engine message. */
static bool may_be_engine_start(const char *line, size_t len) {
        for (size_t i = 0; i < sizeof(engine_starts) / sizeof(engine_starts[0]); i++) {
                size_t n = strlen(engine_starts[i]);
                if (strncmp(line, engine_starts[i], len < n ? len : n) == 0)
                        return true;
        }
        return false;
}

/* r->line holds a whole line (or as much of one as fits). */
static void judge_line(struct stderr_relay *r) {
        r->line[r->line_len] = '\0';
        if (!is_engine_line(r->line) || r->held_len + r->line_len >= sizeof(r->held)) {
                start_passing(r);
                return;
        }
        if (engine_failure_kind(r->line) == ENGINE_FAILURE_NAME_TAKEN)
                r->name_taken = true;
        memcpy(r->held + r->held_len, r->line, r->line_len + 1);
        r->held_len += r->line_len;
        r->line_len = 0;
}

static void keep_head(struct stderr_relay *r, const char *buf, size_t n) {
        size_t room = sizeof(r->head) - 1 - r->head_len;
        if (n > room)
                n = room;
        memcpy(r->head + r->head_len, buf, n);
        r->head_len += n;
        r->head[r->head_len] = '\0';
}

void stderr_relay_feed(struct stderr_relay *r, const char *buf, size_t n) {
        keep_head(r, buf, n);
        /* A line that starts like an engine message is held until its
         * newline: the engines write whole lines, so that delays nothing. */
        while (!r->passing && n > 0) {
                const char *nl = memchr(buf, '\n', n);
                size_t take = nl ? (size_t) (nl - buf) + 1 : n;
                size_t room = sizeof(r->line) - 1 - r->line_len;
                if (take > room)
                        take = room;
                memcpy(r->line + r->line_len, buf, take);
                r->line_len += take;
                buf += take;
                n -= take;
                if (r->line_len == sizeof(r->line) - 1 || !may_be_engine_start(r->line, r->line_len))
                        start_passing(r);       /* no engine says that much, or so */
                else if (r->line[r->line_len - 1] == '\n')
                        judge_line(r);
        }
        if (n > 0)
                pass_on(r, buf, n);
}

void stderr_relay_end(struct stderr_relay *r) {
        if (!r->passing && r->line_len > 0)
                judge_line(r);
}
