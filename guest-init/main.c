/* agent-sandbox-init: the PID 1 of every sandbox container. */
#include <stdio.h>
#include <string.h>

#include "cmd_apply.h"
#include "cmd_check_policy.h"
#include "config.h"

static void print_help(void) {
        printf("Usage: agent-sandbox-init [OPTIONS] [-- CMD ARGS...]\n"
               "       agent-sandbox-init check-policy [--json] FILE...\n"
               "\n"
               "  -h, --help      show this help\n"
               "      --version   show the version\n");
}

int main(int argc, char **argv) {
        if (argc > 1 && strcmp(argv[1], "apply") == 0)
                return cmd_apply(argc - 1, argv + 1);
        if (argc > 1 && strcmp(argv[1], "check-policy") == 0)
                return cmd_check_policy(argc - 1, argv + 1);
        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                print_help();
                return 0;
        }
        if (argc > 1 && strcmp(argv[1], "--version") == 0) {
                printf("agent-sandbox-init %s\n", AGENT_SANDBOX_VERSION);
                return 0;
        }
        fprintf(stderr, "agent-sandbox-init: not implemented yet; see --help\n");
        return 2;
}
