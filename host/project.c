/* SPDX-License-Identifier: MIT */
#include "project.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fnv1a.h"
#include "log.h"
#include "macro.h"

/* FNV-1a: stable across versions and machines, which is all the name needs. */
uint64_t project_hash(const char *path) {
        return base_fnv1a(BASE_FNV1A_OFFSET, path, strlen(path));
}

/* Lower-case [a-z0-9], anything else one '-', no leading/trailing '-'. */
static void sanitize(const char *in, char *out, size_t size) {
        size_t n = 0;
        for (const unsigned char *c = (const unsigned char *) in; *c && n + 1 < size; c++) {
                char x = (*c >= 'A' && *c <= 'Z') ? (char) (*c - 'A' + 'a') : (char) *c;
                bool ok = (x >= 'a' && x <= 'z') || (x >= '0' && x <= '9');
                if (ok)
                        out[n++] = x;
                else if (n > 0 && out[n - 1] != '-')
                        out[n++] = '-';
        }
        while (n > 0 && out[n - 1] == '-')
                n--;
        out[n] = '\0';
        if (n == 0)
                snprintf(out, size, "project");
}

int project_names(const char *path, char **ret_name, char ret_hash[9]) {
        const char *base = strrchr(path, '/');
        base = base && base[1] ? base + 1 : (base ? "root" : path);
        char clean[PROJECT_BASENAME_MAX + 1];
        sanitize(base, clean, sizeof(clean));
        uint64_t h = project_hash(path);
        snprintf(ret_hash, 9, "%08x", (unsigned) ((h >> 32) ^ h));
        if (asprintf(ret_name, "agentbox-%s-%s", clean, ret_hash) < 0)
                return -ENOMEM;
        return 0;
}

int project_open(const char *dir, struct project *ret) {
        const char *what = dir ? dir : ".";
        _cleanup_free_ char *path = realpath(what, NULL);
        if (!path)
                return log_error_errno(negative_errno(), "project folder %s: %m", what);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
                log_error("project folder %s is not a directory", path);
                return -ENOTDIR;
        }
        /* A newline would break the engine's label and log output. */
        if (strchr(path, '\n')) {
                log_error("the project path contains a newline; rename the folder");
                return -EINVAL;
        }
        *ret = (struct project) {};
        if (project_names(path, &ret->name, ret->hash) < 0)
                return log_oom();
        ret->path = TAKE_PTR(path);
        return 0;
}

void project_done(struct project *p) {
        free(p->path);
        free(p->name);
        *p = (struct project) {};
}

int project_xdg_dir(const char *xdg_variable, const char *fallback, char **ret) {
        const char *xdg = getenv(xdg_variable);
        if (xdg && xdg[0] == '/')
                return asprintf(ret, "%s/agent-sandbox", xdg) < 0 ? log_oom() : 0;
        const char *home = getenv("HOME");
        if (!home || home[0] != '/') {
                struct passwd *pw = getpwuid(getuid());
                home = pw ? pw->pw_dir : NULL;
        }
        if (!home) {
                log_error("no home directory: set HOME or %s", xdg_variable);
                return -ENOENT;
        }
        return asprintf(ret, "%s/%s/agent-sandbox", home, fallback) < 0 ? log_oom() : 0;
}

int project_config_dir(char **ret) {
        return project_xdg_dir("XDG_CONFIG_HOME", ".config", ret);
}

int project_policy_paths(const struct project *p, char **ret_global, char **ret_project) {
        _cleanup_free_ char *dir = NULL;
        int r = project_config_dir(&dir);
        if (r < 0)
                return r;
        if (ret_global && asprintf(ret_global, "%s/policy.yaml", dir) < 0)
                return log_oom();
        if (ret_project && asprintf(ret_project, "%s/projects/%s.yaml", dir, p->name) < 0)
                return log_oom();
        return 0;
}

int project_state_volume(const struct project *p, const char *agent, char **ret) {
        return asprintf(ret, "agentbox-state-%s-%s", agent, p->hash) < 0 ? -ENOMEM : 0;
}
