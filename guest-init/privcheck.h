/* SPDX-License-Identifier: MIT */
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

/* -EINVAL (logged) when the sandbox user's uid or gid is that of PID 1's
 * own user, the resolver's or the name gate's: the firewall or the init
 * treat those apart. */
int privcheck_system_uids_apart(const struct target_user *user);

/* 0 if this process can program nftables; else logs why not and the fix,
 * and returns -EPERM. */
int privcheck_firewall_capable(void);

/* The roles of split mode (options.h). The firewall's container runs the
 * init as root (real uid 0, its capabilities from the engine) and nothing
 * of the user's. The agent's container must hold nothing: not uid 0, and
 * every capability set empty, the bounding set included, so that no
 * program (setuid or with a file capability) can give anything back;
 * no_new_privs is set here as well for everything we start. Logged; 0 or
 * -EPERM. */
int privcheck_firewall_role(void);
int privcheck_agent_role(void);

/* The system user whose uid PID 1 takes as its real and saved uid when it
 * runs as the sandbox user (privcheck_separate_uid), and the one the DNS
 * resolver child runs as; the image creates both. Where the name is
 * missing (tests outside the image) the fallback uid is used. */
#define PRIVCHECK_INIT_USER "agent-sandbox"
#define PRIVCHECK_INIT_UID_FALLBACK 901
#define PRIVCHECK_RESOLVER_USER "agent-sandbox-dns"
#define PRIVCHECK_RESOLVER_UID_FALLBACK 902
#define PRIVCHECK_PROXY_USER "agent-sandbox-proxy"
#define PRIVCHECK_PROXY_UID_FALLBACK 903

/* Under Docker PID 1 runs as the sandbox user's uid with a file
 * capability, and the kernel lets every process of that uid signal it
 * (kill, sigqueue with made-up sender fields, signals whose sender details
 * were dropped) and change its resource limits (prlimit), whatever
 * capabilities PID 1 holds. So PID 1 takes a real and saved uid of its own
 * (PRIVCHECK_INIT_USER) and keeps the user's as its effective uid: files
 * are read as before, PID 1 may still signal the user's processes (the
 * kernel compares the sender's effective uid with the target's real one),
 * but none of them may signal, prlimit or ptrace PID 1. Nothing to do when
 * the real uid is 0. Needs CAP_SETUID; logged, -errno. */
int privcheck_separate_uid(void);

/* The resolver child's user: PRIVCHECK_RESOLVER_USER, or the fallback uid
 * (also as its gid). */
void privcheck_resolver_user(uid_t *ret_uid, gid_t *ret_gid);

/* The same for the name gate child: PRIVCHECK_PROXY_USER. */
void privcheck_proxy_user(uid_t *ret_uid, gid_t *ret_gid);
