/* SPDX-License-Identifier: MIT */
/* Environment variable names. */
#pragma once

#include <stdbool.h>

/* True when name is a variable name as a shell takes it:
 * [A-Za-z_][A-Za-z0-9_]*, not empty. */
bool base_env_name_valid(const char *name);
