/* The environment CMD starts with: a short allowlist, never the init's
 * own environment (which the engine filled) and never loader variables. */
#pragma once

#include "privdrop.h"

#define ENVIRON_MAX 8

/* Fills env (NULL-terminated) with strings in storage. */
void environ_build(const struct target_user *u, char storage[ENVIRON_MAX][512], char *env[ENVIRON_MAX + 1]);
