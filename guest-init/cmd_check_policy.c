/* SPDX-License-Identifier: MIT */
#include "cmd_check_policy.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

static void check_policy_usage(FILE *f) {
        fprintf(f, "Usage: agent-sandbox-init check-policy [--json] FILE...\n"
                   "\n"
                   "Validate policy files, layered in order (the first is the base, later ones\n"
                   "override it), expand the service catalog and print the effective policy.\n"
                   "Diagnostics go to stderr as FILE:LINE:COLUMN: error|warning: message.\n"
                   "\n"
                   "      --json    print the effective policy as JSON instead of YAML\n"
                   "  -h, --help    show this help\n"
                   "\n"
                   "Exit status: 0 valid, 1 invalid, 2 usage error.\n");
}

/* All files are parsed even after one fails, so every problem is reported. */
static int load_all(char **files, int n, struct policy **ret, struct policy_diags *diags) {
        struct policy *acc = NULL;
        int failed = 0;
        for (int i = 0; i < n; i++) {
                struct policy *layer = NULL, *merged = NULL;
                int r = policy_parse_file(files[i], &layer, diags);
                if (r == -ENOMEM) {
                        policy_free(acc);
                        return r;
                }
                if (r < 0) {
                        failed = r;
                        continue;
                }
                if (!acc) {
                        acc = layer;
                        continue;
                }
                r = policy_merge(acc, layer, &merged, diags);
                policy_free(layer);
                if (r < 0) {
                        policy_free(acc);
                        return r;
                }
                policy_free(acc);
                acc = merged;
        }
        if (failed) {
                policy_free(acc);
                return failed;
        }
        *ret = acc;
        return 0;
}

int cmd_check_policy(int argc, char **argv) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool json = false;
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        check_policy_usage(stdout);
                        return 0;
                default:
                        check_policy_usage(stderr);
                        return 2;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "check-policy: no policy file given\n");
                check_policy_usage(stderr);
                return 2;
        }

        struct policy_diags diags = {0};
        struct policy *p = NULL;
        int r = load_all(argv + optind, argc - optind, &p, &diags);
        if (r >= 0)
                r = policy_expand(p, &diags);
        policy_diags_print(&diags, stderr);
        if (r == -ENOMEM)
                fprintf(stderr, "check-policy: out of memory\n");
        if (r < 0 || policy_diags_has_errors(&diags)) {
                policy_diags_clear(&diags);
                policy_free(p);
                return 1;
        }
        r = json ? policy_write_json(p, stdout) : policy_write_yaml(p, stdout);
        policy_diags_clear(&diags);
        policy_free(p);
        if (r < 0) {
                fprintf(stderr, "check-policy: cannot write the policy: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
