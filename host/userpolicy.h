/* SPDX-License-Identifier: MIT */
/* The user's policy layers, kept outside the project so the agent cannot
 * edit them: $XDG_CONFIG_HOME/agent-sandbox/policy.yaml (global) and
 * $XDG_CONFIG_HOME/agent-sandbox/projects/<sandbox name>.yaml (this project).
 * The image's own policy lies under both; it is not known on the host. */
#pragma once

#include <stdbool.h>

#include "policy.h"
#include "project.h"

struct userpolicy {
        char *global, *project;         /* paths */
        bool have_global, have_project; /* the files exist */
};

int userpolicy_open(const struct project *p, struct userpolicy *ret);
void userpolicy_done(struct userpolicy *u);

/* Create the project's file (an empty domains list) when it does not exist,
 * so that `run` always mounts it and later `policy add` + `reload` reach a
 * running sandbox. 0 or -errno. */
int userpolicy_ensure_project(struct userpolicy *u);

/* Parse and expand one file, printing its diagnostics to stderr; 0 when
 * it has no errors, -EINVAL otherwise. */
int userpolicy_validate_file(const char *path);

/* The existing layers merged and expanded (an empty policy when none exist);
 * diagnostics go to stderr. */
int userpolicy_effective(const struct userpolicy *u, struct policy **ret);
/* The same layered over base (the image's policy, taken over; NULL: none). */
int userpolicy_effective_on(const struct userpolicy *u, struct policy *base, struct policy **ret);

/* Rewrite the file at path (created when missing) with domains added and
 * removed. The new text goes to a temporary file and is checked by the
 * parser first; then a new file is renamed into place, while an existing
 * one is rewritten in place, since a running sandbox has that very inode
 * bind-mounted. Prints what changed and the file written; 0 or -errno. */
int userpolicy_edit(const char *path, char *const *add, char *const *remove);

/* "*.example.com" or "example.com", per policy_hostname_valid; prints why not. */
bool userpolicy_domain_valid(const char *domain);
