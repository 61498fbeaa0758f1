/* The command line of agent-sandbox-init in its PID 1 role. */
#pragma once

#include <stdbool.h>

struct init_config {
        const char *user;               /* NAME or UID:GID */
        const char *workdir;            /* NULL: /workspace if present, else HOME */
        unsigned grace_seconds;
        bool process_group;             /* forward signals to the child's group */
        const char *policy_path;
        const char *policy_dir;
        char **cmd;                     /* NULL: supervise only (compose mode) */
        /* which security-relevant options the command line set */
        bool set_user, set_workdir, set_policy;
};

/* 0, or 2 for a usage error (already reported); 1 when --help/--version
 * were handled and the caller should exit 0. */
int options_parse(int argc, char **argv, struct init_config *ret);
