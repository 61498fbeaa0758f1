/* SPDX-License-Identifier: MIT */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "envname.h"
#include "log.h"

static void print_help(void) {
        printf("Usage: agent-sandbox-init [OPTIONS] [-- CMD ARGS...]\n"
               "       agent-sandbox-init apply [--log-format FORMAT]\n"
               "       agent-sandbox-init check-policy [--json] FILE...\n"
               "       agent-sandbox-init denials [--since SECONDS]\n"
               "       agent-sandbox-init fetch-meta --output FILE [--url URL]   (build host)\n"
               "\n"
               "PID 1 of an agent-sandbox container: programs the egress firewall from\n"
               "%s, proves it with self-checks, then runs CMD as the\n"
               "unprivileged user (or, without CMD, supervises terminals attached with\n"
               "`docker exec`).\n"
               "\n"
               "      --role ROLE           sandbox (default): firewall and user in this container;\n"
               "                            firewall: the firewall alone, for a container that\n"
               "                            shares its network namespace with the agent's (as root);\n"
               "                            agent: the user's container beside it, without any\n"
               "                            privilege: prove the firewall from here, then run CMD\n"
               "      --firewall-wait SECONDS  agent role: how long to wait for the firewall\n"
               "                            (default: 120)\n"
               "  -u, --user NAME|UID:GID   user for CMD (default: dev)        [real uid 0 only]\n"
               "  -w, --workdir DIR         working directory of CMD           [real uid 0 only]\n"
               "      --policy FILE         base policy (default: %s) [real uid 0 only]\n"
               "      --policy-dir DIR      override directory (default: %s) [real uid 0 only]\n"
               "      --grace SECONDS       after SIGTERM, wait this long before SIGKILL (default: 10)\n"
               "  -g, --process-group       forward signals to CMD's whole process group\n"
               "      --pass-env NAME       give CMD the variable NAME from this environment\n"
               "      --exit-with-cmd       when CMD ends, end the container (and its terminals)\n"
               "      --log-format FORMAT   text (default) or json\n"
               "      --log-level LEVEL     error, warning, notice (ready, reloads, problems) or info (default)\n"
               "      --denials-dir DIR     where refused connections and queries are recorded\n"
               "                            (default: /tmp/agent-sandbox)    [real uid 0 only]\n"
               "      --denial-summary-seconds N  how often repeats are summarised (default: 60)\n"
               "  -h, --help                show this help\n"
               "      --version             show the version\n",
               POLICY_DEFAULT_PATH, POLICY_DEFAULT_PATH, POLICY_OVERRIDE_DIR);
}

static int parse_seconds(const char *option, const char *text, unsigned min, unsigned *ret) {
        char *end;
        unsigned long v = strtoul(text, &end, 10);
        if (!*text || *end || v < min || v > 3600 || text[0] == '-') {
                log_error("%s takes whole seconds from %u to 3600, not '%s'", option, min, text);
                return -1;
        }
        *ret = (unsigned) v;
        return 0;
}

int options_parse(int argc, char **argv, struct init_config *ret) {
        enum { OPT_VERSION = 256, OPT_POLICY, OPT_POLICY_DIR, OPT_GRACE, OPT_LOG_FORMAT, OPT_LOG_LEVEL, OPT_PASS_ENV, OPT_EXIT_WITH_CMD,
               OPT_DENIALS_DIR, OPT_DENIAL_SUMMARY, OPT_ROLE, OPT_FIREWALL_WAIT };
        static const struct option options[] = {
                {"user", required_argument, NULL, 'u'},
                {"workdir", required_argument, NULL, 'w'},
                {"policy", required_argument, NULL, OPT_POLICY},
                {"policy-dir", required_argument, NULL, OPT_POLICY_DIR},
                {"grace", required_argument, NULL, OPT_GRACE},
                {"process-group", no_argument, NULL, 'g'},
                {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
                {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
                {"pass-env", required_argument, NULL, OPT_PASS_ENV},
                {"exit-with-cmd", no_argument, NULL, OPT_EXIT_WITH_CMD},
                {"denials-dir", required_argument, NULL, OPT_DENIALS_DIR},
                {"denial-summary-seconds", required_argument, NULL, OPT_DENIAL_SUMMARY},
                {"role", required_argument, NULL, OPT_ROLE},
                {"firewall-wait", required_argument, NULL, OPT_FIREWALL_WAIT},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {},
        };
        struct init_config c = {
                .user = "dev",
                .grace_seconds = 10,
                .firewall_wait_seconds = 120,
                .policy_path = POLICY_DEFAULT_PATH,
                .policy_dir = POLICY_OVERRIDE_DIR,
        };
        int opt;

        /* '+': stop at the first non-option, so CMD's own flags stay its own. */
        while ((opt = getopt_long(argc, argv, "+u:w:gh", options, NULL)) >= 0) {
                switch (opt) {
                case 'u':
                        c.user = optarg;
                        c.set_user = true;
                        break;
                case 'w':
                        c.workdir = optarg;
                        c.set_workdir = true;
                        break;
                case OPT_POLICY:
                        c.policy_path = optarg;
                        c.set_policy = true;
                        break;
                case OPT_POLICY_DIR:
                        c.policy_dir = optarg;
                        c.set_policy_dir = true;
                        break;
                case OPT_GRACE:
                        if (parse_seconds("--grace", optarg, 0, &c.grace_seconds) < 0) {
                                options_done(&c);
                                return 2;
                        }
                        break;
                case 'g':
                        c.process_group = true;
                        break;
                case OPT_LOG_FORMAT:
                        if (log_set_format_name(optarg) < 0) {
                                options_done(&c);
                                return 2;
                        }
                        break;
                case OPT_LOG_LEVEL:
                        if (log_set_max_level_name(optarg) < 0) {
                                options_done(&c);
                                return 2;
                        }
                        break;
                case OPT_PASS_ENV:
                        if (!base_env_name_valid(optarg)) {
                                log_error("--pass-env takes a variable name ([A-Za-z_][A-Za-z0-9_]*), not '%s'", optarg);
                                options_done(&c);
                                return 2;
                        }
                        if (!c.pass_env && !(c.pass_env = calloc((size_t) argc, sizeof(*c.pass_env)))) {
                                log_oom();
                                return 2;
                        }
                        c.pass_env[c.n_pass_env++] = optarg;    /* at most one per argv word */
                        break;
                case OPT_EXIT_WITH_CMD:
                        c.exit_with_cmd = true;
                        break;
                case OPT_DENIALS_DIR:
                        c.denials_dir = optarg;
                        c.set_denials_dir = true;
                        break;
                case OPT_DENIAL_SUMMARY: {
                        char *end;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (!*optarg || *end || optarg[0] == '-' || v < 1 || v > 3600) {
                                log_error("--denial-summary-seconds takes whole seconds from 1 to 3600, not '%s'", optarg);
                                options_done(&c);
                                return 2;
                        }
                        c.denial_summary_seconds = (unsigned) v;
                        break;
                }
                case OPT_ROLE:
                        if (strcmp(optarg, "sandbox") == 0)
                                c.role = ROLE_SANDBOX;
                        else if (strcmp(optarg, "firewall") == 0)
                                c.role = ROLE_FIREWALL;
                        else if (strcmp(optarg, "agent") == 0)
                                c.role = ROLE_AGENT;
                        else {
                                log_error("--role takes sandbox, firewall or agent, not '%s'", optarg);
                                options_done(&c);
                                return 2;
                        }
                        c.set_role = true;
                        break;
                case OPT_FIREWALL_WAIT:
                        if (parse_seconds("--firewall-wait", optarg, 1, &c.firewall_wait_seconds) < 0) {
                                options_done(&c);
                                return 2;
                        }
                        break;
                case 'h':
                        print_help();
                        options_done(&c);
                        return 1;
                case OPT_VERSION:
                        printf("agent-sandbox-init %s\n", AGENT_SANDBOX_VERSION);
                        options_done(&c);
                        return 1;
                default:
                        log_error("see agent-sandbox-init --help");
                        options_done(&c);
                        return 2;
                }
        }
        if (optind < argc)
                c.cmd = argv + optind;
        if ((c.exit_with_cmd || c.n_pass_env) && !c.cmd) {
                log_error("--exit-with-cmd and --pass-env apply to CMD, and no CMD was given (put it after --)");
                options_done(&c);
                return 2;
        }
        if (c.role == ROLE_FIREWALL && c.cmd) {
                log_error("--role firewall runs nothing of the user's: give CMD to the agent container, not this one");
                options_done(&c);
                return 2;
        }
        *ret = c;
        return 0;
}

void options_done(struct init_config *c) {
        free(c->pass_env);
        c->pass_env = NULL;
        c->n_pass_env = 0;
}
