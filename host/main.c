/* agentbox: the host launcher. */
#include <stdio.h>
#include <string.h>

#include "config.h"

int main(int argc, char **argv) {
        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: agentbox VERB [OPTIONS]\n\n"
                       "  --help      show this help\n"
                       "  --version   show the version\n");
                return 0;
        }
        if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
                printf("agentbox %s\n", AGENT_SANDBOX_VERSION);
                return 0;
        }
        fprintf(stderr, "agentbox: unknown or unimplemented verb; see agentbox --help\n");
        return 2;
}
