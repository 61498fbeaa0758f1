/* SPDX-License-Identifier: MIT */
/* agentbox check: would the project's sandbox let a connection to HOST[:PORT]
 * through, and which policy entry decides it. Computed on the host from the
 * policy files, as the init would: the image's own policy (read from the
 * running sandbox) under the user's layers. */
#include <stdio.h>
#include <string.h>

#include "checkdest.h"
#include "cmds.h"
#include "log.h"
#include "macro.h"
#include "userpolicy.h"
#include "verbutil.h"

#define CHECK_IMAGE_POLICY "/etc/agent-sandbox/policy.yaml"

static int check_check(struct verb_call *c) {
        struct check_target *t = c->opts;
        const char *reason = NULL;
        if (!c->args[0])
                return verb_usage_error(c->verb, "name the HOST[:PORT] to check");
        if (c->args[1])
                return verb_usage_error(c->verb, "one HOST[:PORT] at a time ('%s' is extra)", c->args[1]);
        if (check_parse_target(c->args[0], t, &reason) < 0)
                return verb_usage_error(c->verb, "'%s': %s", c->args[0], reason);
        return VERB_CONTINUE;
}

/* The image's policy from the project's running sandbox; NULL (with a line
 * saying so) when there is no engine or no running sandbox: the user's
 * layers are then all that is known. */
static int image_policy(struct verb_call *c, struct policy **ret) {
        *ret = NULL;
        struct agentbox *ab = c->ab;
        if (!ab->have_engine && engine_find(ab->engine_request, &ab->engine, NULL) == 0)
                ab->have_engine = true;
        char firewall[sizeof(((struct split_names *) 0)->firewall)] = "";
        if (ab->have_engine)
                firewall_container(&ab->engine, c->project.name, firewall);
        char *const args[] = { "exec", firewall, "cat", CHECK_IMAGE_POLICY, NULL };
        struct engine_result r = {};
        if (!ab->have_engine || engine_run(&ab->engine, args, NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r) < 0 ||
            r.exit_code != 0 || !r.out) {
                fprintf(stderr, "# no running sandbox for %s: the image's own policy is left out, only your "
                                "files count\n", c->project.path);
                engine_result_done(&r);
                return 0;
        }
        struct policy_diags d = {};
        int k = policy_parse_buffer(CHECK_IMAGE_POLICY " (the image's)", r.out, strlen(r.out), ret, &d);
        policy_diags_print(&d, stderr);
        policy_diags_clear(&d);
        engine_result_done(&r);
        if (k < 0)
                log_error("the sandbox's %s does not parse", CHECK_IMAGE_POLICY);
        return k;
}

static int cmd_check(struct verb_call *c) {
        const struct check_target *t = c->opts;
        struct policy *base = NULL;
        if (image_policy(c, &base) < 0)
                return AGENTBOX_EXIT_FAILURE;
        struct userpolicy u;
        if (userpolicy_open(&c->project, &u) < 0) {
                policy_free(base);
                return AGENTBOX_EXIT_FAILURE;
        }
        _cleanup_policy_ struct policy *p = NULL;
        int r = userpolicy_effective_on(&u, base, &p);
        userpolicy_done(&u);
        if (r < 0) {
                log_error("the policy has errors; agentbox policy validate shows them");
                return AGENTBOX_EXIT_FAILURE;
        }
        struct check_result res;
        check_destination(p, t, &res);
        if (t->port >= 0)
                printf("%s%s%s:%d %s\n", t->is_address && strchr(t->host, ':') ? "[" : "", t->host,
                       t->is_address && strchr(t->host, ':') ? "]" : "", t->port, res.why);
        else
                printf("%s %s\n", t->host, res.why);
        return res.allowed ? AGENTBOX_EXIT_OK : AGENTBOX_EXIT_FAILURE;
}

const struct verb verb_check = {
        .name = "check",
        .summary = "say whether the sandbox's policy allows HOST[:PORT], and by which entry",
        .usage =
                "Usage: agentbox check HOST[:PORT] [--dir D]\n\n"
                "Say whether the project's sandbox may connect to HOST (a name, or an IPv4 or\n"
                "IPv6 address; [IPV6]:PORT with a port) and which entry of which file allows\n"
                "it, or why not. A name is matched against domains: and the services' domains\n"
                "as the sandbox's resolver matches it, an address against cidrs:, a port\n"
                "against ports: (or the service's own ports for its destinations).\n\n"
                "The policy is computed on the host: the image's own policy, read from the\n"
                "running sandbox, under your files (agentbox policy show). With no running\n"
                "sandbox only your files count, and stderr says so. Addresses the sandbox\n"
                "learned from allowed names, and GitHub's published ranges, are not seen.\n\n"
                "Exit code: 0 allowed, 1 refused (or a policy with errors), 2 usage.\n",
        .needs = VERB_NEEDS_PROJECT,
        .opts_size = sizeof(struct check_target),
        .check = check_check,
        .run = cmd_check,
};
