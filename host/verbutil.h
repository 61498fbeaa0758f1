/* The common shape of the small verbs: options --dir and --help (plus the
 * verb's own), then the project and the engine. */
#pragma once

#include <stdio.h>

#include "agentbox.h"
#include "project.h"

/* Open the project at dir and find the engine; returns 0 or an exit code. */
int verb_open(struct agentbox *ab, const char *dir, struct project *p, const struct engine **e);

/* Run args, inheriting our stdout/stderr; report the engine failure when it
 * fails. Returns 0 or an exit code. */
int verb_engine_passthrough(const struct engine *e, char *const *args, const char *what);

/* Run args capturing stdout into *ret_out; reports failures. 0 or exit code. */
int verb_engine_capture(const struct engine *e, char *const *args, const char *what, char **ret_out);

/* s as a JSON string (with quotes), or null for NULL. */
void json_write_string(FILE *f, const char *s);
