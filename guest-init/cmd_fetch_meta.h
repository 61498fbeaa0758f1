/* SPDX-License-Identifier: MIT */
#pragma once

/* `agent-sandbox-init fetch-meta --output FILE`: fetch GitHub's meta
 * document with the same code PID 1 uses, check that it yields the github
 * service's ranges, and write it where the image build picks it up as the
 * snapshot. Run on the build host by images/build.sh, never in a sandbox. */
int cmd_fetch_meta(int argc, char **argv);
