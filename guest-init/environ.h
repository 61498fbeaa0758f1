/* SPDX-License-Identifier: MIT */
/* The environment CMD starts with: a short allowlist, plus only the
 * variables the command line names with --pass-env. Never the rest of the
 * init's own environment, which the engine filled. */
#pragma once

#include <stddef.h>

#include "privdrop.h"

#define ENVIRON_BASE_MAX 6      /* HOME USER LOGNAME SHELL PATH TERM */

/* Where the kernel put the environment strings we were started with
 * (env_start and env_end of /proc/self/stat; they live on our stack). In
 * secure-execution mode (our file capability) the dynamic loader drops
 * variables such as TMPDIR from `environ` to protect us, but leaves the
 * strings; CMD runs without privileges and gets what it was passed.
 * /proc/self/environ shows the same bytes but is root's while we are not
 * dumpable, so a non-root PID 1 cannot open it. -errno on failure. */
#define ENVIRON_REGION_MAX (64u << 20)
int environ_original_region(char **ret_start, size_t *ret_len);

/* The "NAME=value" strings of that region, as a NULL-terminated list that
 * points into it; free the list only. -errno on failure. */
int environ_read_original(char ***ret_list);

/* Fills env (room for ENVIRON_BASE_MAX + n_pass + 1 pointers, NULL-
 * terminated) with the allowlist, written into storage, and with the
 * "NAME=value" entries of `from` for each name in pass (a name that is
 * unset is left out; one of the allowlist's names replaces its value). */
void environ_build(const struct target_user *u, char *const *from, const char *const *pass, size_t n_pass,
                   char storage[ENVIRON_BASE_MAX][512], char **env);
