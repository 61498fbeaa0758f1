/* SPDX-License-Identifier: MIT */
/* What every verb shares: the engine (found on first use), the verb table
 * entry with its help text and what it needs, and the option-parsing
 * conventions. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "project.h"

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

/* What a verb needs before it runs, as git's builtins declare RUN_SETUP:
 * the dispatcher sets it up in this order and, when something is missing,
 * prints the one line that says how to get it; the verb never sees the
 * failure. */
enum {
        VERB_NEEDS_PROJECT = 1 << 0,    /* --dir D (default: .), opened as call->project */
        VERB_NEEDS_ENGINE = 1 << 1,     /* call->engine */
        VERB_NEEDS_SANDBOX = 1 << 2,    /* the project's sandbox exists, running or not (implies both above) */
        VERB_NEEDS_RUNNING = 1 << 3,    /* the project's sandbox runs (implies both above) */
        VERB_TAKES_COMMAND = 1 << 4,    /* "--" ends the options; what follows is call->cmd */
};

struct verb;

/* One invocation of a verb: what the dispatcher parsed and set up. */
struct verb_call {
        const struct verb *verb;
        struct agentbox *ab;
        void *opts;                     /* the verb's own options: opts_size bytes, zeroed */
        const char *dir;                /* --dir, or NULL */
        char **args;                    /* the positionals, NULL-terminated */
        char **cmd;                     /* after "--" (VERB_TAKES_COMMAND), or NULL */
        struct project project;         /* VERB_NEEDS_PROJECT */
        bool have_project;
        const struct engine *engine;    /* VERB_NEEDS_ENGINE */
};

struct verb {
        const char *name;
        const char *alias;      /* or NULL */
        const char *summary;    /* one line for `agentbox --help` */
        const char *usage;      /* the full `agentbox VERB --help` text */
        unsigned needs;         /* VERB_NEEDS_* and VERB_TAKES_COMMAND */
        /* The verb's own options for getopt_long (a leading '+' ends them at
         * the first positional); -h, --help and (with a project) --dir are
         * the dispatcher's. */
        const char *shortopts;
        const struct option *longopts;
        size_t opts_size;
        /* One of its options: VERB_CONTINUE, or an exit code after printing why. */
        int (*option)(struct verb_call *c, int opt, char *arg);
        /* The positionals, before anything is set up: VERB_CONTINUE or an
         * exit code. NULL: the verb takes none. */
        int (*check)(struct verb_call *c);
        int (*run)(struct verb_call *c);
        void (*done)(void *opts);       /* frees what option() kept, or NULL */
};

/* Parse argv (argv[0] is the verb) into c, whose opts the caller provides:
 * VERB_CONTINUE, or the exit code after the help or a usage error. */
int verb_parse(const struct verb *v, int argc, char **argv, struct verb_call *c);
/* Parse, set up what the verb needs, run it; returns the exit code. */
int verb_dispatch(struct agentbox *ab, const struct verb *v, int argc, char **argv);

extern const struct verb verb_init, verb_run, verb_shell, verb_policy, verb_reload, verb_denied, verb_allow,
        verb_check, verb_status,
        verb_logs, verb_down, verb_prune, verb_bump, verb_doctor, verb_agents, verb_version;
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
/* The option value of --dir. */
#define VERB_OPT_DIR 0x100
