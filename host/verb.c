/* SPDX-License-Identifier: MIT */
/* Verb table lookup, help and option-parsing conventions. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agentbox.h"
#include "log.h"

const struct verb *const agentbox_verbs[] = {
        &verb_init, &verb_run, &verb_shell, &verb_policy, &verb_reload, &verb_denied, &verb_allow, &verb_check,
        &verb_status, &verb_logs,
        &verb_down, &verb_prune, &verb_bump, &verb_doctor, &verb_agents, &verb_version, NULL,
};

const struct verb *agentbox_verb_find(const char *name) {
        for (const struct verb *const *v = agentbox_verbs; *v; v++)
                if (strcmp((*v)->name, name) == 0 || ((*v)->alias && strcmp((*v)->alias, name) == 0))
                        return *v;
        return NULL;
}

int verb_help(const struct verb *v) {
        fputs(v->usage, stdout);
        return AGENTBOX_EXIT_OK;
}

int verb_usage_error(const struct verb *v, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "agentbox %s: ", v->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "; see agentbox %s --help\n", v->name);
        return AGENTBOX_EXIT_USAGE;
}

int verb_oom(void) {
        log_oom();
        return AGENTBOX_EXIT_FAILURE;
}

int verb_split_command(int argc, char **argv, char ***ret_cmd) {
        *ret_cmd = NULL;
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--") == 0) {
                        *ret_cmd = argv + i + 1;
                        return i;
                }
        return argc;
}

static const char *long_name(const struct option *longopts, int val) {
        for (; longopts && longopts->name; longopts++)
                if (longopts->val == val && longopts->has_arg != no_argument)
                        return longopts->name;
        return NULL;
}

int verb_getopt(const struct verb *v, int argc, char **argv, const char *shortopts,
                const struct option *longopts) {
        opterr = 0;
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c != '?')
                return c;
        const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
        const char *name = optopt ? long_name(longopts, optopt) : NULL;
        bool is_short = optopt > 0 && optopt < 128 && strchr(shortopts, optopt);
        if (optopt && strncmp(arg, "--", 2) == 0 && name)
                verb_usage_error(v, "option --%s needs a value", name);
        else if (is_short)
                verb_usage_error(v, "option -%c needs a value", optopt);
        else if (optopt && optopt < 128 && strncmp(arg, "--", 2) != 0)
                verb_usage_error(v, "unknown option '-%c'", optopt);
        else
                verb_usage_error(v, "unknown option '%s'", arg);
        return '?';
}

void agentbox_engine_missing(const char *wanted) {
        log_error("container engine %s not installed: install docker.io (apt-get install docker.io) or podman, or point AGENTBOX_ENGINE at it",
                wanted);
}

int agentbox_engine(struct agentbox *ab, const struct engine **ret) {
        if (!ab->have_engine) {
                const char *wanted = NULL;
                if (engine_find(ab->engine_request, &ab->engine, &wanted) < 0) {
                        agentbox_engine_missing(wanted);
                        return AGENTBOX_EXIT_ENGINE;
                }
                ab->have_engine = true;
        }
        *ret = &ab->engine;
        return 0;
}
