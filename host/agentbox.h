/* What every verb shares: the engine (found on first use), the verb table
 * entry with its help text, and the option-parsing conventions. */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "engine.h"

struct agentbox {
        const char *engine_request;     /* --engine, or NULL */
        struct engine engine;
        bool have_engine;
};

/* The engine, found on first use. Prints one line and returns
 * AGENTBOX_EXIT_ENGINE when there is none; 0 otherwise. */
int agentbox_engine(struct agentbox *ab, const struct engine **ret);
/* Print the "engine not installed" line for what was looked for. */
void agentbox_engine_missing(const char *wanted);

struct verb {
        const char *name;
        const char *alias;      /* or NULL */
        const char *summary;    /* one line for `agentbox --help` */
        const char *usage;      /* the full `agentbox VERB --help` text */
        int (*run)(struct agentbox *ab, int argc, char **argv);
};

extern const struct verb verb_init, verb_run, verb_shell, verb_policy, verb_reload, verb_status,
        verb_logs, verb_down, verb_prune, verb_bump, verb_doctor, verb_version;
extern const struct verb *const agentbox_verbs[];   /* NULL-terminated */
const struct verb *agentbox_verb_find(const char *name);

/* Print the verb's help; returns 0. */
int verb_help(const struct verb *v);
/* "agentbox VERB: message; see agentbox VERB --help" on stderr; returns 2. */
__attribute__((format(printf, 2, 3)))
int verb_usage_error(const struct verb *v, const char *fmt, ...);

/* "agentbox: out of memory"; returns AGENTBOX_EXIT_FAILURE. */
int verb_oom(void);

/* Parsing result of a verb's options: continue, or exit with the code. */
#define VERB_CONTINUE (-1)

/* Cut argv at the first "--": returns the count before it and sets *ret_cmd
 * to what follows (NULL when there is no "--"). */
int verb_split_command(int argc, char **argv, char ***ret_cmd);

/* getopt_long with agentbox's messages: returns the option, -1 at the end,
 * or '?' after printing the usage error (the caller returns 2). */
int verb_getopt(const struct verb *v, int argc, char **argv, const char *shortopts,
                const struct option *longopts);
