/* SPDX-License-Identifier: MIT */
/* agent-sandbox-init denials [--since SECONDS] [--dir DIR]: the denial
 * record (denial_file.h) as JSON lines, oldest first, for `docker exec`
 * and the host's `agentbox denied`. */
#pragma once

int cmd_denials(int argc, char **argv);
