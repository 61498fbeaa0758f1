/* SPDX-License-Identifier: MIT */
/* agentbox policy: the user's policy layers, which live outside the project
 * (the agent can write the project; it must not widen its own firewall). */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "log.h"
#include "macro.h"
#include "userpolicy.h"
#include "verbutil.h"

static int policy_show(const struct userpolicy *u, bool json) {
        fprintf(stderr, "# the image's own policy lies under these layers and is not known here\n"
                        "# global:  %s%s\n# project: %s%s\n",
                u->global, u->have_global ? "" : " (absent)", u->project, u->have_project ? "" : " (absent)");
        _cleanup_policy_ struct policy *p = NULL;
        if (userpolicy_effective(u, &p) < 0) {
                log_error("the user policy has errors; agentbox policy validate shows them");
                return AGENTBOX_EXIT_FAILURE;
        }
        int r = json ? policy_write_json(p, stdout) : policy_write_yaml(p, stdout);
        if (r < 0) {
                log_error_errno(r, "cannot write the policy to standard output: %m");
                return AGENTBOX_EXIT_FAILURE;
        }
        return AGENTBOX_EXIT_OK;
}

static int policy_validate(const struct userpolicy *u, char **files) {
        const char *layers[] = { u->have_global ? u->global : NULL, u->have_project ? u->project : NULL };
        int code = 0;
        size_t n = 0;
        if (files && files[0]) {
                for (; *files; files++, n++)
                        if (userpolicy_validate_file(*files) < 0)
                                code = AGENTBOX_EXIT_FAILURE;
                        else
                                printf("%s: ok\n", *files);
                return code;
        }
        for (size_t i = 0; i < ELEMENTSOF(layers); i++) {
                if (!layers[i])
                        continue;
                n++;
                if (userpolicy_validate_file(layers[i]) < 0)
                        code = AGENTBOX_EXIT_FAILURE;
                else
                        printf("%s: ok\n", layers[i]);
        }
        if (n == 0)
                printf("no user policy files (%s, %s); the image's policy applies alone\n", u->global, u->project);
        return code;
}

static int policy_do(const char *sub, char **args, bool json, const struct project *p) {
        struct userpolicy u;
        if (userpolicy_open(p, &u) < 0)
                return AGENTBOX_EXIT_FAILURE;
        int code;
        if (strcmp(sub, "show") == 0)
                code = args[0] ? verb_usage_error(&verb_policy, "show takes no arguments") : policy_show(&u, json);
        else if (strcmp(sub, "validate") == 0)
                code = policy_validate(&u, args);
        else if (!args[0])
                code = verb_usage_error(&verb_policy, "%s needs at least one DOMAIN", sub);
        else {
                bool add = strcmp(sub, "add") == 0;
                code = userpolicy_edit(u.project, add ? args : NULL, add ? NULL : args) < 0 ? AGENTBOX_EXIT_FAILURE : 0;
                if (code == 0)
                        printf("apply it to a running sandbox with: agentbox reload\n");
        }
        userpolicy_done(&u);
        return code;
}

struct policy_opts {
        bool json;
};

static int policy_option(struct verb_call *c, int opt, char *arg) {
        struct policy_opts *o = c->opts;
        o->json = true;         /* --json, its only option */
        return VERB_CONTINUE;
}

/* Permuting: `policy add --dir D x.test` and `policy --dir D add x.test` both work. */
static int policy_check(struct verb_call *c) {
        const struct policy_opts *o = c->opts;
        const char *sub = c->args[0];
        if (!sub)
                return verb_usage_error(&verb_policy, "say show, validate, add or remove");
        if (strcmp(sub, "show") && strcmp(sub, "validate") && strcmp(sub, "add") && strcmp(sub, "remove"))
                return verb_usage_error(&verb_policy, "unknown subcommand '%s' (show, validate, add, remove)", sub);
        if (o->json && strcmp(sub, "show") != 0)
                return verb_usage_error(&verb_policy, "--json goes with show");
        return VERB_CONTINUE;
}

static int cmd_policy(struct verb_call *c) {
        const struct policy_opts *o = c->opts;
        return policy_do(c->args[0], c->args + 1, o->json, &c->project);
}

const struct verb verb_policy = {
        .name = "policy",
        .summary = "show, validate or edit the user's policy for this project",
        .usage =
                "Usage: agentbox policy show [--json] [--dir D]\n"
                "       agentbox policy validate [FILE...]\n"
                "       agentbox policy add DOMAIN... [--dir D]\n"
                "       agentbox policy remove DOMAIN... [--dir D]\n\n"
                "Your policy lives outside the project, where the agent cannot edit it:\n"
                "  $XDG_CONFIG_HOME/agent-sandbox/policy.yaml                (every project)\n"
                "  $XDG_CONFIG_HOME/agent-sandbox/projects/SANDBOX.yaml      (this project)\n"
                "(XDG_CONFIG_HOME defaults to ~/.config). agentbox run mounts them read-only\n"
                "into the sandbox's /etc/agent-sandbox/policy.d, over the image's policy.\n\n"
                "  show       the user layers merged and expanded (the image's part is not known here)\n"
                "  validate   check FILEs, or the user layers, and print diagnostics\n"
                "  add        allow DOMAINs (or *.DOMAIN) in this project's file\n"
                "  remove     take DOMAINs out of this project's file\n\n"
                "After add or remove, agentbox reload applies the change to a running sandbox.\n",
        .needs = VERB_NEEDS_PROJECT,
        .longopts = (const struct option[]) { { "json", no_argument, NULL, 'j' }, {} },
        .opts_size = sizeof(struct policy_opts),
        .option = policy_option,
        .check = policy_check,
        .run = cmd_policy,
};
