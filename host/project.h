/* SPDX-License-Identifier: MIT */
/* The project: the real path of the folder a sandbox is for, and the names
 * derived from it (container, state volumes, policy file). One sandbox per
 * project. */
#pragma once

#include <stdint.h>

#define PROJECT_BASENAME_MAX 40

struct project {
        char *path;             /* realpath of the folder */
        char *name;             /* agentbox-<basename sanitized>-<hash> */
        char hash[9];           /* 8 hex digits of a hash of path */
};

/* realpath of dir (NULL: the current directory); prints one line and
 * returns -errno when it does not exist or is not a directory. */
int project_open(const char *dir, struct project *ret);
void project_done(struct project *p);

/* The names for a real path; pure, for tests too. */
uint64_t project_hash(const char *path);
int project_names(const char *path, char **ret_name, char ret_hash[9]);

/* $XDG_CONFIG_HOME/agent-sandbox (default ~/.config/agent-sandbox). */
/* $XDG_VARIABLE/agent-sandbox, else ~/FALLBACK/agent-sandbox (HOME, else
 * the password database). 0, -ENOMEM, or -ENOENT (said on stderr). */
int project_xdg_dir(const char *xdg_variable, const char *fallback, char **ret);
int project_config_dir(char **ret);
/* The global user policy and this project's policy (may not exist). */
int project_policy_paths(const struct project *p, char **ret_global, char **ret_project);
/* agentbox-state-<agent>-<hash> */
int project_state_volume(const struct project *p, const char *agent, char **ret);
