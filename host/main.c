/* SPDX-License-Identifier: MIT */
/* agentbox: the host launcher. Global options, then one verb. */
#include <stdio.h>
#include <string.h>

#include "agentbox.h"
#include "config.h"
#include "log.h"

static void usage(FILE *f) {
        fputs("Usage: agentbox [--engine docker|podman|PATH] VERB [OPTIONS]\n\n"
              "Run AI coding agents in a locked-down container, one sandbox per project.\n\n"
              "Verbs:\n", f);
        for (const struct verb *const *v = agentbox_verbs; *v; v++)
                fprintf(f, "  %-9s %s\n", (*v)->name, (*v)->summary);
        fputs("\nGlobal options:\n"
              "  --engine E   docker, podman or a path (default: $AGENTBOX_ENGINE, else docker, else podman)\n"
              "  --help       this help; `agentbox help VERB` or `agentbox VERB --help` for a verb\n"
              "  --version    the version\n\n"
              "Exit codes: 0 ok, 1 failure, 2 usage, 125 engine problem, else the command's.\n", f);
}

static int help_verb(const char *name) {
        const struct verb *v = agentbox_verb_find(name);
        if (!v) {
                log_error("unknown verb '%s'; see agentbox --help", name);
                return AGENTBOX_EXIT_USAGE;
        }
        return verb_help(v);
}

int main(int argc, char **argv) {
        struct agentbox ab = {};
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        usage(stdout);
                        return AGENTBOX_EXIT_OK;
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("agentbox %s\n", AGENT_SANDBOX_VERSION);
                        return AGENTBOX_EXIT_OK;
                } else if (strcmp(argv[i], "--engine") == 0 && i + 1 < argc) {
                        ab.engine_request = argv[++i];
                } else if (strcmp(argv[i], "--engine") == 0) {
                        log_error("--engine needs a value (docker, podman or a path); see agentbox --help");
                        return AGENTBOX_EXIT_USAGE;
                } else if (strncmp(argv[i], "--engine=", 9) == 0) {
                        ab.engine_request = argv[i] + 9;
                } else {
                        log_error("unknown global option '%s'; see agentbox --help", argv[i]);
                        return AGENTBOX_EXIT_USAGE;
                }
        }
        if (i >= argc) {
                usage(stderr);
                return AGENTBOX_EXIT_USAGE;
        }
        if (strcmp(argv[i], "help") == 0) {
                if (i + 1 >= argc) {
                        usage(stdout);
                        return AGENTBOX_EXIT_OK;
                }
                return help_verb(argv[i + 1]);
        }
        const struct verb *v = agentbox_verb_find(argv[i]);
        if (!v) {
                log_error("unknown verb '%s'; see agentbox --help", argv[i]);
                return AGENTBOX_EXIT_USAGE;
        }
        int r = verb_dispatch(&ab, v, argc - i, argv + i);
        engine_done(&ab.engine);
        fflush(stdout);
        return r;
}
