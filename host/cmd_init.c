/* SPDX-License-Identifier: MIT */
/* agentbox init: write the compose and/or devcontainer templates (embedded
 * at build time from compose/ and devcontainer/) into the project, each
 * with the seccomp profile it names; or, for a cluster, the Kubernetes
 * manifests of compose/kubernetes/. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "embed/embed.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "seccomp.h"
#include "userpolicy.h"
#include "verbutil.h"

#define TEMPLATE_IMAGE "agent-sandbox-base:local"
/* The file name the templates give the seccomp profile, beside them. */
#define TEMPLATE_SECCOMP_NAME "agent-sandbox-seccomp.json"

struct init_opts {
        const struct agent *agent;      /* NULL: none */
        bool mode_given;
        bool compose, devcontainer, kubernetes, split, force;
};

/* The devcontainer template: init-entrypoint (PID 1 stays the init) when
 * present, else the first devcontainer.json under devcontainer/. */
static const struct embed_file *devcontainer_template(void) {
        const struct embed_file *f = embed_find("devcontainer/init-entrypoint/devcontainer.json");
        for (size_t i = 0; !f && i < embed_n_files; i++) {
                const char *slash = strrchr(embed_files[i].name, '/');
                if (strncmp(embed_files[i].name, "devcontainer/", 13) == 0 && slash &&
                    strcmp(slash, "/devcontainer.json") == 0)
                        f = &embed_files[i];
        }
        return f;
}

/* The split-mode templates (the firewall in a container of its own). */
#define SPLIT_COMPOSE "compose/split/docker-compose.yml"
#define SPLIT_DEVCONTAINER "devcontainer/split/devcontainer.json"
#define SPLIT_DEVCONTAINER_COMPOSE "devcontainer/split/docker-compose.yml"

/* What --mode kubernetes writes into kubernetes/ of the project. */
static const char *const kubernetes_files[] = {
        "pod.yaml", "pod-native-sidecar.yaml", "job.yaml", "policy-configmap.yaml",
};

static const struct embed_file *compose_template(void) {
        const struct embed_file *f = embed_find("compose/docker-compose.yml");
        for (size_t i = 0; !f && i < embed_n_files; i++)
                if (strncmp(embed_files[i].name, "compose/", 8) == 0 && strstr(embed_files[i].name, ".y"))
                        f = &embed_files[i];
        return f;
}

/* The template with every TEMPLATE_IMAGE replaced by image. */
static char *with_image(const struct embed_file *t, const char *image) {
        size_t n = 0, k = strlen(TEMPLATE_IMAGE);
        for (const char *s = (const char *) t->data; (s = strstr(s, TEMPLATE_IMAGE)); s += k)
                n++;
        char *out = malloc(t->size + n * strlen(image) + 1);
        if (!out)
                return NULL;
        char *w = out;
        const char *s = (const char *) t->data;
        for (const char *hit; (hit = strstr(s, TEMPLATE_IMAGE)); s = hit + k) {
                w = mempcpy(w, s, (size_t) (hit - s));
                w = stpcpy(w, image);
        }
        strcpy(w, s);
        return out;
}

static int write_file(const char *path, const char *content, bool force) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (!slash)
                return log_oom();
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "cannot create %s: %m", dir);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL), 0644);
        if (fd < 0)
                return log_error_errno(negative_errno(), "cannot write %s: %m", path);
        int r = base_write_all(fd, content, strlen(content));
        if (r < 0)
                return log_error_errno(r, "writing %s failed: %m", path);
        return 0;
}

struct target {
        const struct embed_file *template;
        char *path;
};
#define MAX_TARGETS 8

/* The template at root/name, and the seccomp profile it names beside it
 * (the engine's client reads that file when the container is created). */
static int add_pair(struct target t[MAX_TARGETS], size_t *n, const struct embed_file *template, const char *root,
                    const char *name, const char *profile_name) {
        t[*n].template = template;
        if (asprintf(&t[*n].path, "%s/%s", root, name) < 0)
                return log_oom();
        ++*n;
        t[*n].template = embed_find(SECCOMP_PROFILE_EMBED);
        if (asprintf(&t[*n].path, "%s/%s", root, profile_name) < 0)
                return log_oom();
        ++*n;
        return 0;
}

static int add_one(struct target t[MAX_TARGETS], size_t *n, const struct embed_file *template, const char *root,
                   const char *name) {
        t[*n].template = template;
        if (asprintf(&t[*n].path, "%s/%s", root, name) < 0)
                return log_oom();
        ++*n;
        return 0;
}

static int collect(const struct init_opts *o, const char *root, struct target t[MAX_TARGETS], size_t *n) {
        *n = 0;
        if (o->compose && add_pair(t, n, o->split ? embed_find(SPLIT_COMPOSE) : compose_template(), root,
                                   "docker-compose.yml", TEMPLATE_SECCOMP_NAME) < 0)
                return -ENOMEM;
        if (o->devcontainer && o->split &&
            (add_one(t, n, embed_find(SPLIT_DEVCONTAINER), root, ".devcontainer/devcontainer.json") < 0 ||
             add_one(t, n, embed_find(SPLIT_DEVCONTAINER_COMPOSE), root, ".devcontainer/docker-compose.yml") < 0))
                return -ENOMEM;
        if (o->devcontainer && !o->split &&
            add_pair(t, n, devcontainer_template(), root, ".devcontainer/devcontainer.json",
                     ".devcontainer/" TEMPLATE_SECCOMP_NAME) < 0)
                return -ENOMEM;
        for (size_t i = 0; o->kubernetes && i < ELEMENTSOF(kubernetes_files); i++) {
                char src[128], dst[128];
                snprintf(src, sizeof(src), "compose/kubernetes/%s", kubernetes_files[i]);
                snprintf(dst, sizeof(dst), "kubernetes/%s", kubernetes_files[i]);
                if (add_one(t, n, embed_find(src), root, dst) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < *n; i++) {
                if (!t[i].template) {
                        log_error("this build has no template for %s (built without compose/ or devcontainer/)",
                                t[i].path);
                        return -ENOENT;
                }
                if (!o->force && access(t[i].path, F_OK) == 0) {
                        log_error("%s exists; use --force to overwrite it", t[i].path);
                        return -EEXIST;
                }
        }
        return 0;
}

static void print_next(const struct init_opts *o, const struct project *p) {
        struct userpolicy u = {};
        if (userpolicy_open(p, &u) == 0)
                printf("\nYour policy additions live outside the project, where the agent cannot edit them:\n"
                       "  agentbox run:              %s (agentbox policy add DOMAIN)\n"
                       "                             and %s for every project\n"
                       "  compose and devcontainer:  ~/.config/agent-sandbox/policy.d/*.yaml\n",
                       u.project, u.global);
        userpolicy_done(&u);
        printf("\nNext:\n");
        if (o->kubernetes)
                printf("  kubectl apply -f kubernetes/policy-configmap.yaml -f kubernetes/pod.yaml\n"
                       "  (Kubernetes 1.29 and later: pod-native-sidecar.yaml, or job.yaml for a batch run;\n"
                       "   see docs/kubernetes.md)\n"
                       "  kubectl exec -it agent-sandbox -c agent -- bash\n");
        if (o->compose)
                printf("  docker-compose up -d && docker-compose exec agent %s\n",
                       o->agent->state_dir ? o->agent->command : "bash");
        if (o->devcontainer)
                printf("  devcontainer up --workspace-folder . (or \"Reopen in Container\" in VS Code)\n");
        printf("  or without these files: agentbox run %s\n", o->agent->name);
}

/* compose and devcontainer bind-mount this directory: create it (readable
 * by the sandbox's dev user) so the engine does not make a root-owned one. */
static void ensure_policy_dir(void) {
        const char *home = getenv("HOME");
        _cleanup_free_ char *dir = NULL;
        if (!home || asprintf(&dir, "%s/.config/agent-sandbox/policy.d", home) < 0)
                return;
        for (char *s = dir + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                (void) mkdir(dir, 0755);
                *s = '/';
        }
        if (mkdir(dir, 0755) == 0)
                printf("created %s\n", dir);
}

static int init_write(const struct init_opts *o, const struct project *p) {
        struct target t[MAX_TARGETS] = {};
        size_t n = 0;
        int code = collect(o, p->path, t, &n) < 0 ? AGENTBOX_EXIT_FAILURE : 0;
        for (size_t i = 0; code == 0 && i < n; i++) {
                _cleanup_free_ char *content = with_image(t[i].template, o->agent->image);
                if (!content)
                        code = (log_oom(), AGENTBOX_EXIT_FAILURE);
                else if (write_file(t[i].path, content, o->force) < 0)
                        code = AGENTBOX_EXIT_FAILURE;
                else
                        printf("wrote %s (image %s)\n", t[i].path, o->agent->image);
        }
        for (size_t i = 0; i < MAX_TARGETS; i++)
                free(t[i].path);
        if (code == 0) {
                ensure_policy_dir();
                print_next(o, p);
        }
        return code;
}

static int parse_mode(struct init_opts *o, const char *mode) {
        o->compose = strcmp(mode, "compose") == 0 || strcmp(mode, "both") == 0;
        o->devcontainer = strcmp(mode, "devcontainer") == 0 || strcmp(mode, "both") == 0;
        o->kubernetes = strcmp(mode, "kubernetes") == 0;
        if (!o->compose && !o->devcontainer && !o->kubernetes)
                return verb_usage_error(&verb_init, "--mode takes compose, devcontainer, both or kubernetes, not '%s'",
                                        mode);
        return VERB_CONTINUE;
}

static int init_option(struct verb_call *c, int opt, char *arg) {
        struct init_opts *o = c->opts;
        switch (opt) {
        case 'a':
                o->agent = agent_find(arg);
                if (!o->agent)
                        return verb_usage_error(&verb_init, "unknown agent '%s' (one of %s)", arg, agent_names());
                return VERB_CONTINUE;
        case 'm':
                o->mode_given = true;
                return parse_mode(o, arg);
        case 'f':
                o->force = true;
                return VERB_CONTINUE;
        case 's':
                o->split = true;
                return VERB_CONTINUE;
        default:
                return AGENTBOX_EXIT_USAGE;
        }
}

static int cmd_init(struct verb_call *c) {
        struct init_opts *o = c->opts;
        /* The options start zeroed: the defaults are set here. */
        if (!o->agent)
                o->agent = agent_find("none");
        if (!o->mode_given)
                o->compose = true;
        return init_write(o, &c->project);
}

const struct verb verb_init = {
        .name = "init",
        .summary = "write docker-compose.yml and/or .devcontainer/devcontainer.json for the sandbox",
        .usage =
                "Usage: agentbox init [--agent claude|codex|gemini|opencode|none]\n"
                "                     [--mode compose|devcontainer|both|kubernetes] [--split]\n"
                "                     [--dir D] [--force]\n\n"
                "Write the sandbox templates into the project: docker-compose.yml (mode compose,\n"
                "the default) and/or .devcontainer/devcontainer.json, with the agent's image, each\n"
                "with the seccomp profile it uses beside it (agent-sandbox-seccomp.json); with\n"
                "--split, the split-mode templates (the firewall in a container of its own, the\n"
                "agent's container with no capability). Mode kubernetes writes kubernetes/: a Pod,\n"
                "a Pod and a Job with the firewall as a native sidecar, and the policy ConfigMap\n"
                "(docs/kubernetes.md). Existing files are never overwritten without --force.\n",
        .needs = VERB_NEEDS_PROJECT,
        .shortopts = "f",
        .longopts = (const struct option[]) {
                { "agent", required_argument, NULL, 'a' },
                { "mode", required_argument, NULL, 'm' },
                { "force", no_argument, NULL, 'f' },
                { "split", no_argument, NULL, 's' },
                {},
        },
        .opts_size = sizeof(struct init_opts),
        .option = init_option,
        .run = cmd_init,
};
