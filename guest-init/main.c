/* SPDX-License-Identifier: MIT */
/* agent-sandbox-init: the PID 1 of every sandbox container. */
#include <string.h>

#include "cmd_apply.h"
#include "cmd_check_policy.h"
#include "cmd_denials.h"
#include "cmd_fetch_meta.h"
#include "cmd_health.h"
#include "privdrop.h"
#include "supervise.h"

int main(int argc, char **argv) {
        if (argc > 1 && strcmp(argv[1], "apply") == 0)
                return cmd_apply(argc - 1, argv + 1);
        /* The image's file capability applies to every subcommand; only PID 1
         * and apply program the firewall. The others parse what their caller
         * gives them, and hold nothing a bug in a parser could use. */
        if (argc > 1 && strcmp(argv[1], "check-policy") == 0)
                return privdrop_capabilities() < 0 ? 1 : cmd_check_policy(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "fetch-meta") == 0)
                return privdrop_capabilities() < 0 ? 1 : cmd_fetch_meta(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "denials") == 0)
                return privdrop_capabilities() < 0 ? 1 : cmd_denials(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "health") == 0)
                return privdrop_capabilities() < 0 ? 1 : cmd_health(argc - 1, argv + 1);
        return supervise_main(argc, argv);
}
