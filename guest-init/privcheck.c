/* SPDX-License-Identifier: MIT */
#include "privcheck.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "macro.h"

static bool trusted_caller(void) {
        return getuid() == 0 && !getauxval(AT_SECURE);
}

static bool has_effective(int cap) {
        return privdrop_has_capability(cap, false);
}

static bool no_new_privs(void) {
        return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
}

int privcheck_raise_effective(void) {
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[2] = {};
        if (syscall(SYS_capget, &header, data) < 0)
                return -errno;
        data[0].effective = data[0].permitted;
        data[1].effective = data[1].permitted;
        return syscall(SYS_capset, &header, data) < 0 ? -errno : 0;
}

int privcheck_startup(const struct init_config *cfg) {
        if (!trusted_caller()) {
                /* Name the value refused as the caller's and what is in force
                 * as ours: the caller's path is not the policy in use. */
                const char *option = cfg->set_policy ? "--policy" : cfg->set_policy_dir ? "--policy-dir"
                                   : cfg->set_user ? "--user" : cfg->set_workdir ? "--workdir"
                                   : cfg->set_denials_dir ? "--denials-dir" : NULL;
                const char *value = cfg->set_policy ? cfg->policy_path : cfg->set_policy_dir ? cfg->policy_dir
                                  : cfg->set_user ? cfg->user : cfg->set_workdir ? cfg->workdir : cfg->denials_dir;
                if (option) {
                        log_error("%s '%s' refused: it is only honoured when the real uid is 0; the policy in use is "
                                  POLICY_DEFAULT_PATH " plus " POLICY_OVERRIDE_DIR "/*.yaml and CMD runs as the container user",
                                  option, value);
                        return -EINVAL;
                }
        }
        /* Not dumpable: /proc/1 becomes root's, so the user cannot ptrace us
         * or read our environment. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return log_error_errno(-errno, "Failed to make PID 1 undumpable: %m");

        if (getuid() == 0)
                return 0;
        /* Executing our file capability clears the ambient set but keeps the
         * inheritable one, which an engine must fill to hand out ambient
         * capabilities: either set betrays it. */
        bool ambient = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_ADMIN, 0, 0) == 1;
        bool inheritable = privdrop_has_capability(CAP_NET_ADMIN, true);
        if (ambient || inheritable || (has_effective(CAP_NET_ADMIN) && !getauxval(AT_SECURE))) {
                log_error("the container engine gives CAP_NET_ADMIN to every process of uid %u (as an ambient capability, which podman does), so any terminal in this container could flush the firewall; refusing to start. Use split mode (the firewall in a container of its own, the agent's container without any capability: agentbox run --split, or a podman pod as in docs/security.md), or Docker",
                          (unsigned) getuid());
                return -EPERM;
        }
        /* With privilege from the file capability, only the container's
         * PID 1 may program the rules; a terminal starting the binary again
         * gets nothing from it (`apply` has its own rule). */
        if (getauxval(AT_SECURE) && getpid() != 1) {
                log_error("agent-sandbox-init runs with its file capability only as the container's PID 1; the sandbox is already set up by it");
                return -EPERM;
        }
        return 0;
}

int privcheck_target_user(const struct init_config *cfg, struct target_user *ret) {
        if (getuid() == 0)
                return privdrop_resolve_user(cfg->user, ret);

        /* Unprivileged (the image's USER): CMD runs as ourselves. */
        struct target_user u = {.uid = getuid(), .gid = getgid()};
        struct passwd *pw = getpwuid(u.uid);
        snprintf(u.name, sizeof(u.name), "%s", pw ? pw->pw_name : "?");
        snprintf(u.home, sizeof(u.home), "%s", pw ? pw->pw_dir : "/");
        snprintf(u.shell, sizeof(u.shell), "%s", pw ? pw->pw_shell : "/bin/sh");
        int n = getgroups((int) ELEMENTSOF(u.groups), u.groups);
        u.n_groups = n < 0 ? 0 : n;
        *ret = u;
        return 0;
}

int privcheck_firewall_capable(void) {
        if (has_effective(CAP_NET_ADMIN))
                return 0;
        if (getuid() != 0 && no_new_privs())
                log_error("CAP_NET_ADMIN missing: no-new-privileges is set, which disables the file capability agent-sandbox-init needs; remove security_opt no-new-privileges (--security-opt no-new-privileges) from the container");
        else
                log_error("CAP_NET_ADMIN missing: run the container with --cap-add NET_ADMIN --cap-add SETPCAP (compose: cap_add: [NET_ADMIN, SETPCAP])");
        return -EPERM;
}

static uid_t system_user_uid(const char *name, uid_t fallback) {
        const struct passwd *pw = getpwnam(name);
        return pw ? pw->pw_uid : fallback;
}

void privcheck_resolver_user(uid_t *ret_uid, gid_t *ret_gid) {
        const struct passwd *pw = getpwnam(PRIVCHECK_RESOLVER_USER);
        *ret_uid = pw ? pw->pw_uid : PRIVCHECK_RESOLVER_UID_FALLBACK;
        *ret_gid = pw ? pw->pw_gid : PRIVCHECK_RESOLVER_UID_FALLBACK;
}

void privcheck_proxy_user(uid_t *ret_uid, gid_t *ret_gid) {
        const struct passwd *pw = getpwnam(PRIVCHECK_PROXY_USER);
        *ret_uid = pw ? pw->pw_uid : PRIVCHECK_PROXY_UID_FALLBACK;
        *ret_gid = pw ? pw->pw_gid : PRIVCHECK_PROXY_UID_FALLBACK;
}

/* The system users whose uid the firewall or the init treat apart: the
 * DNS redirect exempts the resolver's, the name gate's child could be
 * signalled or traced by a user of its uid, and PID 1's own uid may signal
 * PID 1. A sandbox user sharing any of them would share that (and could
 * signal the child), so refuse; the gid too, since group-owned files and
 * sockets follow it. */
int privcheck_system_uids_apart(const struct target_user *user) {
        struct {
                const char *name;
                uid_t uid;
                gid_t gid;
        } sys[3] = {
                {PRIVCHECK_INIT_USER, PRIVCHECK_INIT_UID_FALLBACK, PRIVCHECK_INIT_UID_FALLBACK},
                {PRIVCHECK_RESOLVER_USER},
                {PRIVCHECK_PROXY_USER},
        };
        const struct passwd *pw = getpwnam(PRIVCHECK_INIT_USER);
        if (pw) {
                sys[0].uid = pw->pw_uid;
                sys[0].gid = pw->pw_gid;
        }
        privcheck_resolver_user(&sys[1].uid, &sys[1].gid);
        privcheck_proxy_user(&sys[2].uid, &sys[2].gid);
        for (size_t i = 0; i < ELEMENTSOF(sys); i++) {
                if (user->uid != sys[i].uid && user->gid != sys[i].gid)
                        continue;
                log_error("the sandbox user %s (uid %u, gid %u) shares the %s of the system user %s (uid %u, gid %u), which the firewall exempts; "
                          "refusing to start. Give the sandbox user another uid and gid (--user, or DEV_UID/DEV_GID when building the image)",
                          user->name, (unsigned) user->uid, (unsigned) user->gid,
                          user->uid == sys[i].uid ? "uid" : "gid", sys[i].name,
                          (unsigned) sys[i].uid, (unsigned) sys[i].gid);
                return -EINVAL;
        }
        return 0;
}

int privcheck_separate_uid(void) {
        uid_t user = getuid();
        if (user == 0)
                return 0;
        if (!has_effective(CAP_SETUID)) {
                log_error("CAP_SETUID missing: run the container with --cap-add SETUID --cap-add SETGID (compose: cap_add: [NET_ADMIN, SETPCAP, SETUID, SETGID]); agent-sandbox-init needs it to keep the sandbox user from signalling it");
                return -EPERM;
        }
        uid_t own = system_user_uid(PRIVCHECK_INIT_USER, PRIVCHECK_INIT_UID_FALLBACK);
        if (own == user || own == 0) {
                log_error("the user %s has uid %u, the sandbox user's or root's; give it a uid of its own in the image",
                          PRIVCHECK_INIT_USER, (unsigned) own);
                return -EINVAL;
        }
        if (setresuid(own, user, own) < 0)
                return log_error_errno(-errno, "Failed to take uid %u as PID 1's real and saved uid: %m", (unsigned) own);
        /* A change of uid resets the dumpable flag to the system's default. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return log_error_errno(-errno, "Failed to make PID 1 undumpable: %m");
        return 0;
}

int privcheck_firewall_role(void) {
        if (getuid() != 0 || getauxval(AT_SECURE)) {
                log_error("--role firewall runs as root in a container of its own (user root, cap_drop ALL, cap_add NET_ADMIN, SETPCAP, SETUID, SETGID); this one runs as uid %u",
                          (unsigned) getuid());
                return -EPERM;
        }
        return 0;
}

/* The capability sets of /proc/self/status that are not all zero, as
 * "CapBnd 00000000a80425fb" words in buf; false when it cannot be read. */
static bool capability_sets_nonzero(char *buf, size_t len) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        size_t used = 0;
        buf[0] = '\0';
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long v;
                char name[16];
                if (strncmp(line, "Cap", 3) != 0 || sscanf(line, "%15[^:]:%llx", name, &v) != 2 || v == 0)
                        continue;
                if (used < len)
                        used += (size_t) snprintf(buf + used, len - used, "%s%s %016llx", used ? ", " : "", name, v);
        }
        return true;
}

int privcheck_agent_role(void) {
        char held[256];
        uid_t ruid, euid, suid;
        if (getresuid(&ruid, &euid, &suid) < 0 || ruid == 0 || euid == 0 || suid == 0) {
                log_error("--role agent runs as the sandbox user, never as root: run the agent's container with user dev (compose: user: dev; Kubernetes: runAsUser)");
                return -EPERM;
        }
        if (!capability_sets_nonzero(held, sizeof(held)))
                return log_error_errno(-EPERM, "Failed to read this process's capability sets from /proc/self/status");
        if (held[0]) {
                log_error("the agent's container holds capabilities (%s): start it with every capability dropped, the bounding set included (--cap-drop ALL; compose: cap_drop: [ALL]; Kubernetes: capabilities: {drop: [ALL]})",
                          held);
                return -EPERM;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(-errno, "Failed to set no_new_privs: %m");
        return 0;
}
