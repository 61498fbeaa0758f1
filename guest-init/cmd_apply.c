/* SPDX-License-Identifier: MIT */
#include "cmd_apply.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "config.h"
#include "firewall.h"
#include "log.h"
#include "loop.h"
#include "nft.h"
#include "privcheck.h"

struct apply_state {
        struct loop *loop;
        int error;
};

static void apply_ready(int error, void *userdata) {
        struct apply_state *s = userdata;
        s->error = error;
        loop_quit(s->loop, 0);
}

static void apply_help(void) {
        printf("Usage: agent-sandbox-init apply [--log-format text|json]\n"
               "       agent-sandbox-init apply --policy FILE [--policy-dir DIR] [--meta-snapshot FILE]\n"
               "                                                    (these three: real uid 0 only)\n"
               "\n"
               "Program the sandbox firewall from %s (plus %s/*.yaml),\n"
               "run the self-checks and exit 0 when the sandbox holds.\n", POLICY_DEFAULT_PATH,
               POLICY_OVERRIDE_DIR);
}

int cmd_apply(int argc, char **argv) {
        static const struct option options[] = {
                {"policy", required_argument, NULL, 'p'},
                {"policy-dir", required_argument, NULL, 'd'},
                {"log-format", required_argument, NULL, 'l'},
                {"meta-snapshot", required_argument, NULL, 'm'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct firewall_config cfg = {
                .policy_path = POLICY_DEFAULT_PATH,
                .override_dir = POLICY_OVERRIDE_DIR,
                .meta_snapshot_path = META_SNAPSHOT_PATH,
                .keep_refreshing = false,
        };
        /* Gained privilege from a file capability: the caller may be the
         * agent itself, so nothing on the command line decides what the
         * firewall allows. Only root may point us at another policy. */
        bool trusted_caller = getuid() == 0 && !getauxval(AT_SECURE);
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                case 'd':
                case 'm':
                        if (!trusted_caller) {
                                log_error("--%s '%s' refused: it is only honoured when the real uid is 0; the policy in use is "
                                          POLICY_DEFAULT_PATH " plus " POLICY_OVERRIDE_DIR "/*.yaml",
                                          c == 'p' ? "policy" : c == 'd' ? "policy-dir" : "meta-snapshot", optarg);
                                return 2;
                        }
                        if (c == 'p')
                                cfg.policy_path = optarg;
                        else if (c == 'd')
                                cfg.override_dir = optarg;
                        else
                                cfg.meta_snapshot_path = optarg;
                        break;
                case 'l':
                        if (log_set_format_name(optarg) < 0)
                                return 2;
                        break;
                case 'h':
                        apply_help();
                        return 0;
                default:
                        return 2;
                }
        }
        if (optind < argc) {
                log_error("apply takes no arguments ('%s'); see agent-sandbox-init apply --help", argv[optind]);
                return 2;
        }

        (void) privcheck_raise_effective();
        int r = privcheck_firewall_capable();
        if (r < 0)
                return 1;

        /* A second apply by the user would re-resolve and could widen what
         * is open; the rules are in place, so only root may replace them.
         * Not knowing is no licence to go on: any error refuses, for root
         * too (nft_table_exists said why). */
        r = nft_table_exists();
        if (r < 0) {
                log_error("refusing to apply: cannot tell whether the firewall is already in place");
                return 1;
        }
        if (r > 0 && getuid() != 0) {
                log_error("the firewall is already in place (table inet agent_sandbox exists); restart the container to apply the policy again");
                return 1;
        }

        struct apply_state state = {.error = -EINPROGRESS};
        struct firewall *fw = NULL;
        r = loop_new(&state.loop);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m"), 1;
        /* firewall_start reported its own failure. */
        r = firewall_start(state.loop, &cfg, apply_ready, &state, &fw);
        if (r >= 0) {
                r = loop_run(state.loop);
                if (r < 0)
                        log_error_errno(r, "The event loop failed: %m");
        }
        if (r >= 0)
                r = state.error;
        firewall_free(fw);
        loop_free(state.loop);
        return r < 0 ? 1 : 0;
}
