/* SPDX-License-Identifier: MIT */
/* Whether an agent's image is built, and from its catalog pin: agent images
 * carry the pin they were built from in the label
 * org.agent-sandbox.agent-version (images/agent/Dockerfile). */
#pragma once

#include "engine.h"
#include "sandbox.h"

enum agent_image_state {
        AGENT_IMAGE_BUILT,      /* present, built from the catalog's pin */
        AGENT_IMAGE_MISSING,
        AGENT_IMAGE_OUTDATED,   /* present, built from another release */
};

/* 0 with *ret set (and *ret_built_version, to free, the label's value when
 * the image is present; NULL when it has none); or an exit code (125)
 * after printing the engine's failure. */
int agent_image_state(const struct engine *e, const struct agent *a, enum agent_image_state *ret,
                      char **ret_built_version);

const char *agent_image_state_name(enum agent_image_state s);
