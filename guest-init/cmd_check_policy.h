/* SPDX-License-Identifier: MIT */
/* "agent-sandbox-init check-policy [--json] FILE...": validate policy files
 * layered in order and print the effective policy. */
#pragma once

/* argv[0] is "check-policy". Returns the exit status: 0 valid, 1 invalid,
 * 2 usage error. */
int cmd_check_policy(int argc, char **argv);
