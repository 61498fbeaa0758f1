/* SPDX-License-Identifier: MIT */
/* The container engine CLI (docker or podman): found once, run with an
 * argv (never through a shell), its output captured when asked, and its
 * failures turned into one line that says what to do. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "strv.h"

/* Exit codes of agentbox (docs/agentbox.md). Anything else is the exit code
 * of the command that ran in the sandbox. */
#define AGENTBOX_EXIT_OK 0
#define AGENTBOX_EXIT_FAILURE 1
#define AGENTBOX_EXIT_USAGE 2
#define AGENTBOX_EXIT_ENGINE 125

struct engine {
        char *path;             /* the executable that is run */
        bool podman;            /* podman semantics (ambient capabilities, ...) */
};

/* Where the engine comes from: `requested` (--engine), else $AGENTBOX_ENGINE,
 * else docker on PATH, else podman on PATH. A value with a '/' is a path,
 * otherwise a name looked up on PATH. -ENOENT when nothing usable exists;
 * *ret_wanted (if given) then names what was looked for. */
int engine_find(const char *requested, struct engine *ret, const char **ret_wanted);
void engine_done(struct engine *e);

enum {
        ENGINE_CAPTURE_OUT = 1 << 0,    /* stdout into result.out */
        ENGINE_CAPTURE_ERR = 1 << 1,    /* stderr into result.err */
        ENGINE_QUIET_OUT = 1 << 2,      /* stdout to /dev/null */
};

struct engine_result {
        int exit_code;          /* the engine's exit code; 128+N when killed by signal N */
        char *out, *err;        /* NUL-terminated captures, or NULL */
};
void engine_result_done(struct engine_result *r);

/* Run the engine with args (argv without argv[0]) and environment envp
 * (NULL: ours), wait for it. Returns 0 when it ran (see r->exit_code),
 * -errno when it could not be started. */
int engine_run(const struct engine *e, char *const *args, char *const *envp, unsigned flags,
               struct engine_result *r);

/* Start the engine with stdout and stderr on one pipe, for following a log
 * stream; the caller reads *ret_fd and reaps *ret_pid. */
int engine_spawn_reader(const struct engine *e, char *const *args, pid_t *ret_pid, int *ret_fd);

/* Start the engine with our stdin and stdout and environment envp (NULL:
 * ours), its stderr on a pipe; the caller reads *ret_fd and reaps *ret_pid. */
int engine_spawn_stderr_pipe(const struct engine *e, char *const *args, char *const *envp, pid_t *ret_pid,
                             int *ret_fd);

/* Wait for pid; returns its exit code (128+N for signal N) or -errno. */
int engine_wait(pid_t pid);

enum engine_failure {
        ENGINE_FAILURE_UNKNOWN,
        ENGINE_FAILURE_DAEMON,          /* not running, not reachable, not allowed */
        ENGINE_FAILURE_NO_IMAGE,
        ENGINE_FAILURE_NO_CONTAINER,
        ENGINE_FAILURE_NOT_RUNNING,
        ENGINE_FAILURE_NAME_TAKEN,
        ENGINE_FAILURE_PORT,
        ENGINE_FAILURE_OLD_INIT,        /* the image's init predates this agentbox */
        ENGINE_FAILURE_OTHER,
};
enum engine_failure engine_failure_kind(const char *stderr_text);

/* What to do about a failure the engine reported on stderr; NULL when the
 * table knows nothing about it. */
const char *engine_failure_hint(const char *stderr_text);

/* Print one line "agentbox: WHAT: hint" (or the engine's last stderr line
 * when no hint applies) and return AGENTBOX_EXIT_ENGINE. */
int engine_report_failure(const struct engine *e, const char *what, const struct engine_result *r);

/* The engine could not be started at all (err: -errno from engine_run() or
 * engine_spawn_reader()): print one line and return AGENTBOX_EXIT_ENGINE. */
int engine_report_spawn_error(const struct engine *e, int err);
