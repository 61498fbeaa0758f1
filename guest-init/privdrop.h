/* SPDX-License-Identifier: MIT */
/* Who CMD runs as, and the irreversible drop to that user in the child
 * between fork and exec, in the order that leaves nothing behind: the
 * bounding set (while CAP_SETPCAP is still ours), supplementary groups,
 * gid, uid, the ambient set, the other capability sets, then keepcaps off
 * and no_new_privs; last, a check that no capability is left. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct target_user {
        uid_t uid;
        gid_t gid;
        char name[64];
        char home[256];
        char shell[256];
        gid_t groups[64];
        int n_groups;
};

/* NAME or UID:GID, looked up in the container's passwd/group. -ENOENT for
 * an unknown name; logged. */
int privdrop_resolve_user(const char *spec, struct target_user *ret);

/* In the child only. Returns -errno (after printing why to stderr) if any
 * step fails or any capability is left afterwards. */
int privdrop_apply(const struct target_user *u);

/* Whether cap is in our effective (or, with inheritable, our inheritable)
 * set; false when it cannot be read. */
bool privdrop_has_capability(int cap, bool inheritable);

/* For the subcommands that read files and answers their caller chooses
 * (check-policy, fetch-meta): empty the effective, permitted, inheritable
 * and ambient sets, and the bounding set when we hold CAP_SETPCAP, so that
 * a bug in a parser reaches no privilege. Keeps the uid. Logged; -errno. */
int privdrop_capabilities(void);
