/* SPDX-License-Identifier: MIT */
/* The command line of agent-sandbox-init in its PID 1 role. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Which part of the sandbox this PID 1 is (docs/architecture.md, split
 * mode): all of it, or one of the two containers that share a network
 * namespace. */
enum init_role {
        ROLE_SANDBOX,           /* the firewall and the user's processes in one container */
        ROLE_FIREWALL,          /* the firewall alone, as root; nothing of the user's runs here */
        ROLE_AGENT,             /* the user's side: no privilege; proves the firewall, then supervises */
};

struct init_config {
        enum init_role role;
        unsigned firewall_wait_seconds; /* agent role: how long the firewall may take to appear */
        const char *user;               /* NAME or UID:GID */
        const char *workdir;            /* NULL: /workspace if present, else HOME */
        unsigned grace_seconds;
        bool process_group;             /* forward signals to the child's group */
        const char *policy_path;
        const char *policy_dir;
        char **cmd;                     /* NULL: supervise only (compose mode) */
        bool exit_with_cmd;             /* CMD's end ends the container, terminals too */
        const char *denials_dir;        /* the denial record; NULL: DENIAL_DIR_DEFAULT */
        unsigned denial_summary_seconds;        /* 0: the default, a minute */
        const char **pass_env;          /* names CMD gets from our environment */
        size_t n_pass_env;
        /* which security-relevant options the command line set */
        bool set_user, set_workdir, set_policy, set_policy_dir, set_denials_dir, set_role;
};

/* 0, or 2 for a usage error (already reported); 1 when --help/--version
 * were handled and the caller should exit 0. */
int options_parse(int argc, char **argv, struct init_config *ret);
void options_done(struct init_config *c);
