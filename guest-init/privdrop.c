/* SPDX-License-Identifier: MIT */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

static void copy_string(char *dst, size_t len, const char *src) {
        snprintf(dst, len, "%s", src ? src : "");
}

static int parse_id(const char *text, unsigned long *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(text, &end, 10);
        if (!*text || *end || errno || v >= 0xFFFFFFFFul || text[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

int privdrop_resolve_user(const char *spec, struct target_user *ret) {
        struct target_user u = {0};
        const char *colon = strchr(spec, ':');
        struct passwd *pw;

        if (colon) {
                char uid_text[32];
                unsigned long uid, gid;
                snprintf(uid_text, sizeof(uid_text), "%.*s", (int) (colon - spec), spec);
                if (parse_id(uid_text, &uid) < 0 || parse_id(colon + 1, &gid) < 0) {
                        log_error("--user %s: expected NAME or UID:GID with numeric ids", spec);
                        return -EINVAL;
                }
                u.uid = (uid_t) uid;
                u.gid = (gid_t) gid;
                pw = getpwuid(u.uid);
                copy_string(u.name, sizeof(u.name), pw ? pw->pw_name : uid_text);
                copy_string(u.home, sizeof(u.home), pw ? pw->pw_dir : "/");
                copy_string(u.shell, sizeof(u.shell), pw ? pw->pw_shell : "/bin/sh");
                u.groups[0] = u.gid;
                u.n_groups = 1;
        } else {
                pw = getpwnam(spec);
                if (!pw) {
                        log_error("user '%s' does not exist in this container's /etc/passwd; create it in the image or pass --user UID:GID",
                                  spec);
                        return -ENOENT;
                }
                u.uid = pw->pw_uid;
                u.gid = pw->pw_gid;
                copy_string(u.name, sizeof(u.name), pw->pw_name);
                copy_string(u.home, sizeof(u.home), pw->pw_dir);
                copy_string(u.shell, sizeof(u.shell), pw->pw_shell);
                u.n_groups = (int) ELEMENTSOF(u.groups);
                if (getgrouplist(pw->pw_name, pw->pw_gid, u.groups, &u.n_groups) < 0) {
                        log_error("user '%s' is in more than %zu groups", spec, ELEMENTSOF(u.groups));
                        return -E2BIG;
                }
        }
        if (u.uid == 0) {
                log_error("refusing to run the sandboxed command as root (--user %s); name an unprivileged user", spec);
                return -EPERM;
        }
        *ret = u;
        return 0;
}

static int last_cap(void) {
        FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
        int v = CAP_LAST_CAP;
        if (f) {
                if (fscanf(f, "%d", &v) != 1)
                        v = CAP_LAST_CAP;
                fclose(f);
        }
        return v;
}

/* Every Cap* line of /proc/self/status must read all zeros (CapBnd only
 * when with_bounding). */
static int verify_no_capabilities(bool with_bounding) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        int bad = 0;
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long v;
                if (!with_bounding && strncmp(line, "CapBnd:", 7) == 0)
                        continue;
                if (strncmp(line, "Cap", 3) == 0 && sscanf(strchr(line, ':') + 1, "%llx", &v) == 1 && v != 0) {
                        fprintf(stderr, "agent-sandbox-init: error: capability left after the drop: %s", line);
                        bad = -EPERM;
                }
        }
        fclose(f);
        return bad;
}

#define CHILD_FAIL(what) \
        do { \
                int _e = errno; \
                fprintf(stderr, "agent-sandbox-init: error: %s failed: %s\n", what, strerror(_e)); \
                return -_e; \
        } while (0)

bool privdrop_has_capability(int cap, bool inheritable) {
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[2] = {};
        if (syscall(SYS_capget, &header, data) < 0)
                return false;
        uint32_t set = inheritable ? data[CAP_TO_INDEX(cap)].inheritable : data[CAP_TO_INDEX(cap)].effective;
        return set & CAP_TO_MASK(cap);
}

int privdrop_apply(const struct target_user *u) {
        bool root = geteuid() == 0;

        /* The bounding set is what any later exec could regain. Empty it
         * first, while we still hold CAP_SETPCAP: as root, setresuid below
         * clears our capabilities; from the file capability we keep it.
         * One that is not in the set is left alone: dropping it would
         * take CAP_SETPCAP, which an init that holds nothing (split mode's
         * agent role, bounding set already empty) does not have. */
        for (int cap = 0; cap <= last_cap(); cap++)
                if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
                    errno != EINVAL)
                        CHILD_FAIL("dropping the capability bounding set");

        /* Supplementary groups need CAP_SETGID (root has it; the image's
         * file capability gives it too); without it the groups are the
         * ones we have, which are already the user's own. */
        if ((root || privdrop_has_capability(CAP_SETGID, false)) && setgroups((size_t) u->n_groups, u->groups) < 0)
                CHILD_FAIL("setgroups");
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                CHILD_FAIL("setresgid");
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                CHILD_FAIL("setresuid");

        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                CHILD_FAIL("clearing ambient capabilities");
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[2] = {};
        if (syscall(SYS_capset, &header, data) < 0)
                CHILD_FAIL("clearing capabilities");
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                CHILD_FAIL("setting no_new_privs");
        return verify_no_capabilities(true);
}

int privdrop_capabilities(void) {
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[2] = {};

        /* From the file capability CAP_SETPCAP is permitted only; it must be
         * effective to empty the bounding set. */
        if (syscall(SYS_capget, &header, data) < 0)
                return log_error_errno(-errno, "Failed to read our capabilities: %m");
        data[0].effective = data[0].permitted;
        data[1].effective = data[1].permitted;
        if (syscall(SYS_capset, &header, data) < 0)
                return log_error_errno(-errno, "Failed to raise our capabilities to drop them: %m");
        /* Without CAP_SETPCAP (any unprivileged caller) the bounding set
         * cannot shrink, and there is nothing in it we could use. */
        bool bounding = data[CAP_TO_INDEX(CAP_SETPCAP)].permitted & CAP_TO_MASK(CAP_SETPCAP);
        for (int cap = 0; bounding && cap <= last_cap(); cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                        return log_error_errno(-errno, "Failed to empty the capability bounding set: %m");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return log_error_errno(-errno, "Failed to clear the ambient capabilities: %m");
        memset(data, 0, sizeof(data));
        if (syscall(SYS_capset, &header, data) < 0)
                return log_error_errno(-errno, "Failed to drop our capabilities: %m");
        return verify_no_capabilities(bounding);
}
