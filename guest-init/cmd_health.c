/* SPDX-License-Identifier: MIT */
#include "cmd_health.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "readiness.h"

int cmd_health(int argc, char **argv) {
        if (argc > 1) {
                bool help = strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0;
                fprintf(help ? stdout : stderr,
                        "Usage: agent-sandbox-init health\n"
                        "\n"
                        "Exit 0 when PID 1 of this container reports its firewall in place and\n"
                        "self-checked, 1 when not (yet), 2 on a usage error. For the engine's\n"
                        "health check: compose's depends_on condition service_healthy and\n"
                        "`docker compose up --wait` start nothing before the rules are in.\n");
                return help ? 0 : 2;
        }
        const char *why = NULL;
        int r = readiness_check(&why);
        if (r > 0) {
                puts("ready");
                return 0;
        }
        if (r < 0)
                fprintf(stderr, "agent-sandbox-init: health: asking the init failed: %s\n", strerror(-r));
        else
                fprintf(stderr, "agent-sandbox-init: health: not ready: %s\n", why);
        return 1;
}
