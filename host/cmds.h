/* SPDX-License-Identifier: MIT */
/* What the verbs expose for unit tests: option parsing into a struct and
 * the exact engine argv they build. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentbox.h"
#include "project.h"
#include "sandbox.h"
#include "strv.h"

struct run_opts {
        const char *agent;      /* as given, or NULL (none) */
        const char *image;
        const char *policy;     /* --policy FILE */
        struct strv env;        /* -e requests */
        const char *env_file;
        struct strv expose;     /* ports, validated */
        const char *network;    /* --network, or NULL: the engine's default */
        struct strv dns;        /* --dns servers */
        bool keep;
        bool verbose;           /* -v: every step of the init's start */
        /* --split: the firewall in a container of its own (split.h); the
         * sandbox container is then the agent's, with no capability. */
        bool split;
        char **cmd;             /* after "--", or NULL */
};
/* Frees a struct run_opts that verb_parse(&verb_run, ...) filled. */
void run_opts_done(void *opts);

/* The -e requests of a run: the agent's credential variables that are set
 * in host_env (a->keys), then the user's -e requests. */
int run_env_requests(const struct agent *a, const struct run_opts *o, char *const *host_env, struct strv *ret);

/* The files mounted into /etc/agent-sandbox/policy.d (NULL: not mounted). */
struct run_policy_mounts {
        const char *global;     /* -> 00-global.yaml */
        const char *project;    /* -> 50-project.yaml */
        const char *user;       /* --policy -> user.yaml */
};

/* The command a fresh sandbox's init runs itself (`run --rm`). */
struct run_command {
        bool tty;                       /* -t: stdin is a terminal */
        bool verbose;                   /* the init logs every step, not only "sandbox ready" */
        const char *cidfile;            /* --cidfile: where the engine writes the container's ID */
        char *const *env_names;         /* -e NAME for the engine, --pass-env NAME for the init */
        char *const *cmd;
};

/* The engine argv creating the sandbox for project p: `run -d ... IMAGE`
 * when once is NULL; otherwise `run --rm -i [-t] [--cidfile F] ... [-e NAME]... IMAGE
 * --exit-with-cmd [--log-level notice] [--pass-env NAME]... -- CMD...`.
 * seccomp: the profile's file (seccomp_profile_install()); required, as
 * no sandbox may start without it. */
int run_create_argv(const struct run_opts *o, const struct project *p, const struct agent *a, const char *image,
                    const char *seccomp, const struct run_policy_mounts *m, const struct run_command *once,
                    struct strv *ret);

/* --mount of each policy file into /etc/agent-sandbox/policy.d (m may be NULL). */
void run_push_policy_mounts(struct strv *v, const struct run_policy_mounts *m);

/* Split mode (--split): the containers beside the agent's, named after
 * the sandbox: NAME-network holds the network namespace (as a pod's
 * pause container does), NAME-firewall runs `agent-sandbox-init --role
 * firewall` in it as root with NET_ADMIN, SETPCAP, SETUID and SETGID. */
struct split_names {
        char network[300];
        char firewall[300];
};
void split_names(const char *name, struct split_names *ret);
int split_network_argv(const struct run_opts *o, const struct project *p, const char *image, struct strv *ret);
int split_firewall_argv(const struct run_opts *o, const struct project *p, const char *image, const char *seccomp,
                        const struct run_policy_mounts *m, struct strv *ret);
/* Start both (removing leftovers of an earlier run first) and wait for
 * the firewall's "sandbox ready": 0, or an exit code after saying why. */
int split_start(const struct engine *e, const struct run_opts *o, const struct project *p, const char *image,
                const char *seccomp, const struct run_policy_mounts *m, unsigned timeout_sec);
/* Remove both, if they exist; quiet. */
void split_remove(const struct engine *e, const char *name);
/* Whether the project's sandbox runs in split mode (its firewall exists). */
bool split_present(const struct engine *e, const char *name);
/* The container whose init runs the project's firewall (its denials, its
 * log of the firewall's setup, the policy it enforces): NAME-firewall in
 * split mode, else the sandbox NAME itself. */
void firewall_container(const struct engine *e, const char *name, char ret[static sizeof(((struct split_names *) 0)->firewall)]);

/* A --mount value for a read-only or read-write bind, quoted for the
 * engine's CSV parser when the path needs it. */
int mount_bind_arg(const char *src, const char *dst, bool readonly, char **ret);

/* Simple verbs: the engine argv for a sandbox name. */
int reload_argv(const char *name, struct strv *ret);
int reload_split_argv(const char *firewall, struct strv *ret);
/* SIGHUP to the running sandbox `name`, then its init's lines about the
 * reload on stderr: 0 applied, 1 rejected, 125 engine problem. */
int reload_sandbox(const struct engine *e, const char *name);
/* exec CONTAINER /usr/sbin/agent-sandbox-init denials [--since SECONDS] */
int denied_argv(const char *container, uint64_t since, struct strv *ret);
int logs_argv(const char *name, bool follow, struct strv *ret);
int down_argv(const char *name, struct strv *ret);
int prune_list_argv(struct strv *ret);
int status_argv(const char *name, struct strv *ret);

/* The span of the image reference in a compose (YAML) or devcontainer
 * (JSON) line: `image: REF`, `image: ${VAR:-REF}`, `"image": "REF"`. */
bool bump_find_ref(const char *line, bool json, size_t *ret_start, size_t *ret_end);
