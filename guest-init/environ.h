/* The environment CMD starts with: a short allowlist, plus only the
 * variables the command line names with --pass-env. Never the rest of the
 * init's own environment, which the engine filled. */
#pragma once

#include <stddef.h>

#include "privdrop.h"

#define ENVIRON_BASE_MAX 6      /* HOME USER LOGNAME SHELL PATH TERM */

/* The environment we were started with, as the kernel holds it in
 * /proc/self/environ: in secure-execution mode (our file capability) the
 * dynamic loader drops variables such as TMPDIR from `environ` to protect
 * us, but CMD runs without privileges and gets what it was passed.
 * NULL-terminated list into one buffer; free both. -errno on failure. */
int environ_read_original(char **ret_buf, char ***ret_list);

/* Fills env (room for ENVIRON_BASE_MAX + n_pass + 1 pointers, NULL-
 * terminated) with the allowlist, written into storage, and with the
 * "NAME=value" entries of `from` for each name in pass (a name that is
 * unset is left out; one of the allowlist's names replaces its value). */
void environ_build(const struct target_user *u, char *const *from, const char *const *pass, size_t n_pass,
                   char storage[ENVIRON_BASE_MAX][512], char **env);
