/* agentbox version */
#include <stdio.h>

#include "agentbox.h"
#include "config.h"

static int cmd_version(struct agentbox *ab, int argc, char **argv) {
        static const struct option longopts[] = { { "help", no_argument, NULL, 'h' }, {} };
        for (int c; (c = verb_getopt(&verb_version, argc, argv, "h", longopts)) != -1;)
                if (c == 'h')
                        return verb_help(&verb_version);
                else
                        return AGENTBOX_EXIT_USAGE;
        if (optind < argc)
                return verb_usage_error(&verb_version, "unexpected '%s'", argv[optind]);
        printf("agentbox %s\n", AGENT_SANDBOX_VERSION);
        return AGENTBOX_EXIT_OK;
}

const struct verb verb_version = {
        .name = "version",
        .summary = "print the version",
        .usage = "Usage: agentbox version\n\nPrint agentbox's version.\n",
        .run = cmd_version,
};
