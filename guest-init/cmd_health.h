/* SPDX-License-Identifier: MIT */
/* agent-sandbox-init health: exit 0 when the sandbox's firewall is in place
 * and self-checked, 1 when not (yet); for HEALTHCHECK / compose healthcheck. */
#pragma once

int cmd_health(int argc, char **argv);
