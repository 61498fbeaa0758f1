/* SPDX-License-Identifier: MIT */
#pragma once

/* `agent-sandbox-init apply`: program the firewall, run the self-checks,
 * print the summary and exit 0, or non-zero with the reason. For a
 * devcontainer's postStartCommand, where PID 1 is not ours. */
int cmd_apply(int argc, char **argv);
