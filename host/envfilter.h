/* SPDX-License-Identifier: MIT */
/* Which host environment variables reach the sandbox. Nothing passes unless
 * named: `-e NAME` (value from the host environment), `-e NAME=VALUE`, a
 * glob `-e 'LC_*'` (which never matches a secret-looking name), or a
 * --env-file (mode 0600, outside the project). Values never go on the
 * engine's command line: the engine gets `-e NAME` and finds the value in
 * its own environment. */
#pragma once

#include <stdbool.h>

#include "strv.h"

/* Names like *_TOKEN, *_API_KEY, *_SECRET*, *PASSWORD*, AWS_*, GITHUB_TOKEN,
 * SSH_AUTH_SOCK (case-insensitive): they pass only when named exactly. */
bool envfilter_secret_like(const char *name);

/* Refuse an env file that others can read or that lives inside the project
 * (the agent could read it there). Prints one line; 0 or -errno. */
int envfilter_check_env_file(const char *path, const char *project_path);

struct envfilter {
        struct strv names;      /* the `-e NAME` list for the engine, in order, no duplicates */
        struct strv assign;     /* NAME=VALUE the engine's environment must carry */
};
void envfilter_done(struct envfilter *f);

/* Resolve the -e requests against host_env and read env_file (may be NULL).
 * Prints one line and returns -EINVAL on a bad request. */
int envfilter_resolve(char *const *requests, const char *env_file, const char *project_path,
                      char *const *host_env, struct envfilter *ret);

/* host_env with every variable of f->assign replaced by its value there. */
int envfilter_child_env(const struct envfilter *f, char *const *host_env, struct strv *ret);
