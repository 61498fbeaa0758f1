/* SPDX-License-Identifier: MIT */
/* What the verbs share once the dispatcher has set them up: running the
 * engine with its failures reported. */
#pragma once

#include <stdio.h>

#include "agentbox.h"
#include "project.h"

/* Run args, inheriting our stdout/stderr; report the engine failure when it
 * fails. Returns 0 or an exit code. */
int verb_engine_passthrough(const struct engine *e, char *const *args, const char *what);

/* Run args capturing stdout into *ret_out; reports failures. 0 or exit code. */
int verb_engine_capture(const struct engine *e, char *const *args, const char *what, char **ret_out);
