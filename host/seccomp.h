/* SPDX-License-Identifier: MIT */
/* The sandbox's seccomp profile (images/seccomp.json, embedded at build
 * time): written to a file the engine's client can read, since `docker run
 * --security-opt seccomp=FILE` reads FILE on the client side. */
#pragma once

#define SECCOMP_PROFILE_EMBED "images/seccomp.json"

/* Where the profile lives: $XDG_CACHE_HOME/agent-sandbox (default
 * ~/.cache/agent-sandbox), named by a hash of its content so that two
 * agentbox versions never overwrite each other's. */
int seccomp_profile_dir(char **ret);

/* The profile's path under dir, written there (atomically, by rename) unless
 * a file of exactly that content is there already; prints one line and
 * returns -errno on failure. */
int seccomp_profile_write(const char *dir, char **ret_path);

/* seccomp_profile_write() in seccomp_profile_dir(). */
int seccomp_profile_install(char **ret_path);
