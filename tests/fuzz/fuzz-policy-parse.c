/* SPDX-License-Identifier: MIT */
/* libFuzzer target: any bytes through the whole policy pipeline a policy file
 * takes in check-policy and in PID 1: parse, merge with itself, expand,
 * write YAML and JSON, then parse the YAML output again (it must be valid). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static void write_both(const struct policy *p) {
        policy_write_yaml(p, devnull);
        policy_write_json(p, devnull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct policy_diags diags = {0};
        struct policy *p = NULL, *merged = NULL, *again = NULL;

        if (!devnull)
                devnull = fopen("/dev/null", "we");
        if (!devnull)
                abort();
        if (policy_parse_buffer("fuzz.yaml", (const char *) data, size, &p, &diags) == 0) {
                write_both(p);
                if (policy_merge(p, p, &merged, &diags) == 0 && policy_expand(merged, &diags) == 0) {
                        char *out = NULL;
                        size_t len = 0;
                        FILE *f = open_memstream(&out, &len);
                        if (!f)
                                abort();
                        policy_write_yaml(merged, f);
                        fclose(f);
                        write_both(merged);
                        /* The writer's output must always be a valid policy. */
                        struct policy_diags d2 = {0};
                        if (policy_parse_buffer("again.yaml", out, len, &again, &d2) != 0) {
                                policy_diags_print(&d2, stderr);
                                fprintf(stderr, "%s", out);
                                abort();
                        }
                        policy_diags_clear(&d2);
                        free(out);
                }
        }
        policy_diags_print(&diags, devnull);
        policy_free(again);
        policy_free(merged);
        policy_free(p);
        policy_diags_clear(&diags);
        return 0;
}
