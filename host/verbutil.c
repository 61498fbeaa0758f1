/* SPDX-License-Identifier: MIT */
#include "verbutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int verb_engine_passthrough(const struct engine *e, char *const *args, const char *what) {
        struct engine_result r = {};
        int k = engine_run(e, args, NULL, ENGINE_CAPTURE_ERR, &r);
        if (k < 0)
                return engine_report_spawn_error(e, k);
        int code = 0;
        if (r.exit_code != 0)
                code = engine_report_failure(e, what, &r);
        else if (r.err)
                fputs(r.err, stderr);
        engine_result_done(&r);
        return code;
}

int verb_engine_capture(const struct engine *e, char *const *args, const char *what, char **ret_out) {
        struct engine_result r = {};
        int k = engine_run(e, args, NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r);
        if (k < 0)
                return engine_report_spawn_error(e, k);
        int code = 0;
        if (r.exit_code != 0)
                code = engine_report_failure(e, what, &r);
        else
                *ret_out = r.out, r.out = NULL;
        engine_result_done(&r);
        return code;
}
