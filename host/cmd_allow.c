/* SPDX-License-Identifier: MIT */
/* agentbox allow: `policy add` and `reload` in one step, for the names
 * `agentbox denied` lists. Every name is checked before anything is
 * written, and nothing is written unless the sandbox runs to take it. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "log.h"
#include "macro.h"
#include "prefix.h"
#include "userpolicy.h"
#include "verbutil.h"

/* A literal address is no name: say what would allow it instead. */
static bool allow_name_valid(const char *name) {
        struct ip_prefix a;
        char buf[IP_PREFIX_STRLEN];
        if (ip_prefix_parse(name, &a) == 0) {
                log_error("'%s' is an address, not a name: allow it with the line cidrs: [\"%s\"] in the "
                          "project's policy file (agentbox policy show names it), then agentbox reload",
                          name, ip_prefix_format(&a, buf));
                return false;
        }
        return userpolicy_domain_valid(name);
}

static int allow_check(struct verb_call *c) {
        if (!c->args[0])
                return verb_usage_error(c->verb, "name at least one host to allow");
        bool ok = true;
        for (char **a = c->args; *a; a++)
                ok &= allow_name_valid(*a);
        return ok ? VERB_CONTINUE : AGENTBOX_EXIT_USAGE;
}

static int cmd_allow(struct verb_call *c) {
        struct userpolicy u;
        if (userpolicy_open(&c->project, &u) < 0)
                return AGENTBOX_EXIT_FAILURE;
        int r = userpolicy_edit(u.project, c->args, NULL);
        userpolicy_done(&u);
        if (r < 0)
                return AGENTBOX_EXIT_FAILURE;
        fflush(stdout);
        return reload_sandbox(c->engine, c->project.name);
}

const struct verb verb_allow = {
        .name = "allow",
        .summary = "allow host names in this project's policy and reload the running sandbox",
        .usage =
                "Usage: agentbox allow NAME... [--dir D]\n\n"
                "Add each NAME (example.com, or *.example.com for it and every name under it)\n"
                "to the project's policy file, as agentbox policy add does, then reload the\n"
                "running sandbox, as agentbox reload does, and print the init's lines about\n"
                "the reload: its self-check, and what the rules now allow.\n\n"
                "Every name is checked first: a name the policy cannot hold, or an address\n"
                "(which goes under cidrs:), stops the command before anything is written.\n"
                "The sandbox must run; for the next start alone, use agentbox policy add.\n\n"
                "Exit code: 0 applied, 1 rejected or no running sandbox, 2 usage or a bad\n"
                "name, 125 engine problem.\n",
        .needs = VERB_NEEDS_RUNNING,
        .check = allow_check,
        .run = cmd_allow,
};
