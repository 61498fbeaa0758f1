/* SPDX-License-Identifier: MIT */
#include "agentimage.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define VERSION_LABEL "org.agent-sandbox.agent-version"

int agent_image_state(const struct engine *e, const struct agent *a, enum agent_image_state *ret,
                      char **ret_built_version) {
        char *const args[] = { "image", "inspect", "--format", "{{index .Config.Labels \"" VERSION_LABEL "\"}}",
                               (char *) a->image, NULL };
        struct engine_result r = {};
        int k = engine_run(e, args, NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r);
        if (k < 0)
                return engine_report_spawn_error(e, k);
        int code = 0;
        char *built = NULL;
        if (r.exit_code == 0) {
                size_t n = strcspn(r.out, "\n");
                /* Docker prints "<no value>" for a missing label, podman "". */
                if (n > 0 && strncmp(r.out, "<no value>", n) != 0)
                        built = strndup(r.out, n);
                /* The base image has no pin: present is all it can be. */
                *ret = !a->version || (built && strcmp(built, a->version) == 0) ? AGENT_IMAGE_BUILT
                                                                                 : AGENT_IMAGE_OUTDATED;
        } else if (engine_failure_kind(r.err) == ENGINE_FAILURE_NO_IMAGE)
                *ret = AGENT_IMAGE_MISSING;
        else
                code = engine_report_failure(e, "inspecting an agent image", &r);
        engine_result_done(&r);
        if (code == 0)
                *ret_built_version = built;
        else
                free(built);
        return code;
}

const char *agent_image_state_name(enum agent_image_state s) {
        switch (s) {
        case AGENT_IMAGE_BUILT:
                return "built";
        case AGENT_IMAGE_MISSING:
                return "missing";
        case AGENT_IMAGE_OUTDATED:
                return "outdated";
        default:
                return "?";
        }
}
