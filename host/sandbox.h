/* SPDX-License-Identifier: MIT */
/* The running sandbox of a project: the agents and their images, whether
 * the container exists, waiting for the init's "sandbox ready", and running
 * a command in it as dev. */
#pragma once

#include <stdbool.h>

#include "agentbox.h"
#include "strv.h"

#define SANDBOX_LABEL "agentbox.project"
#define SANDBOX_READY_TEXT "sandbox ready"
#define SANDBOX_READY_TIMEOUT_SEC 120

/* One agent of images/agents.catalog (the table is generated from it at
 * build time), or "none": the base image running bash. */
struct agent {
        const char *name;
        const char *image;
        const char *command;    /* what `run` starts by default */
        const char *state_dir;  /* under /home/dev, kept in a volume; NULL: none */
        const char *package;    /* npm package; NULL for none */
        const char *version;    /* the pinned release the image is built from */
        const char *node_engine; /* the runtime the pin declares; NULL: none declared */
        const char *service;    /* its policy catalog service; NULL for none */
        const char *const *keys; /* credential variables passed when set on the host */
};

/* By name ("base" is "none"); NULL when unknown. */
const struct agent *agent_find(const char *name);
/* "claude, codex, ..., none" */
const char *agent_names(void);
extern const struct agent agent_table[];

enum sandbox_state {
        SANDBOX_ABSENT,
        SANDBOX_RUNNING,
        SANDBOX_STOPPED,
};

/* 0 with *ret set, or an exit code (125) after printing the engine's failure. */
int sandbox_state(const struct engine *e, const char *name, enum sandbox_state *ret);

/* Follow the container's log until the init says it is ready (echoing each
 * line to stderr when echo is set). 0 when ready; otherwise prints the
 * init's last error line and returns 1. */
int sandbox_wait_ready(const struct engine *e, const char *name, bool echo, unsigned timeout_sec);

/* exec [-i] [-t] -u dev -w /workspace [-e NAME]... NAME CMD... */
int sandbox_exec_argv(const char *name, bool tty, char *const *env_names, char *const *cmd, struct strv *ret);

/* Run argv (engine arguments) with our terminal, forwarding SIGTERM/SIGHUP
 * to it; returns its exit code, or 125 when it could not start. */
int sandbox_run_attached(const struct engine *e, char *const *args, char *const *envp);

/* A file for the engine's --cidfile, in a directory of our own: the ID of
 * the container a run created, so that only that one is ever removed. */
struct sandbox_cidfile {
        char *dir, *path;
};
int sandbox_cidfile_new(struct sandbox_cidfile *ret);
void sandbox_cidfile_done(struct sandbox_cidfile *c);

/* Run args, a `run --rm --cidfile CID.path` of a fresh sandbox from image
 * whose init runs the command itself, with our terminal; the engine's
 * stderr is relayed (see stderr_relay.h). Returns the exit code (the
 * command's, the init's 1 when the sandbox could not be made ready, or the
 * engine's 125 after a line saying what to do). *ret_name_taken: a
 * container of that name exists already, and nothing was printed.
 * SIGTERM or SIGHUP end the command and remove the container this run
 * created (*ret_signalled). */
int sandbox_run_once(const struct engine *e, const struct sandbox_cidfile *cid, const char *image,
                     char *const *args, char *const *envp, bool *ret_name_taken, bool *ret_signalled);

/* 0 when the project's sandbox exists (and runs, with running); else
 * prints "no [running ]sandbox for PROJECT; start one with agentbox run"
 * (or the engine failure) and returns the exit code. */
int sandbox_require(const struct engine *e, const char *name, const char *project_path, bool running);

/* sandbox_run_attached() of an exec into the sandbox `name`, without asking
 * the engine first. When the exec fails as an engine does and the sandbox
 * turns out not to run, prints what sandbox_require() prints and
 * returns 1; otherwise the command's exit code. */
int sandbox_exec_attached(const struct engine *e, const char *name, const char *project_path, char *const *args,
                          char *const *envp);
