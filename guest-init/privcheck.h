/* The privilege rules of PID 1 (docs/security.md):
 * - security-relevant options are honoured only when the real uid is 0 and
 *   no privilege came from a file capability (AT_SECURE);
 * - PID 1 is not dumpable: the user can neither ptrace it nor read its
 *   environment;
 * - an engine that hands CAP_NET_ADMIN to every process of the container
 *   user (podman's ambient capabilities) would let any terminal flush the
 *   firewall: refuse to start there. */
#pragma once

#include "options.h"
#include "privdrop.h"

/* The image gives the init its capabilities as permitted only (file
 * capability "=p", no effective bit), so that exec never fails where the
 * engine withheld them and we can say so clearly instead. Make them
 * effective. */
int privcheck_raise_effective(void);

/* 0, -EINVAL for a refused option, -EPERM for an unsafe engine; logged. */
int privcheck_startup(const struct init_config *cfg);

/* The user CMD runs as: --user when root, else the real uid itself. */
int privcheck_target_user(const struct init_config *cfg, struct target_user *ret);

/* 0 if this process can program nftables; else logs why not and the fix,
 * and returns -EPERM. */
int privcheck_firewall_capable(void);
