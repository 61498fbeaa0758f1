/* SPDX-License-Identifier: MIT */
#include "envfilter.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "envname.h"
#include "log.h"
#include "macro.h"

static const char *const secret_patterns[] = {
        "*_TOKEN", "*_API_KEY", "*_SECRET*", "*PASSWORD*", "AWS_*", "GITHUB_TOKEN", "SSH_AUTH_SOCK",
};

bool envfilter_secret_like(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(secret_patterns); i++)
                if (fnmatch(secret_patterns[i], name, FNM_CASEFOLD) == 0)
                        return true;
        return false;
}

static bool path_inside(const char *path, const char *dir) {
        size_t n = strlen(dir);
        if (strcmp(dir, "/") == 0)
                return true;
        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int envfilter_check_env_file(const char *path, const char *project_path) {
        _cleanup_free_ char *real = realpath(path, NULL);
        struct stat st;
        if (!real || stat(real, &st) < 0)
                return log_error_errno(negative_errno(), "--env-file %s: %m", path);
        if (!S_ISREG(st.st_mode)) {
                log_error("--env-file %s is not a regular file", path);
                return -EINVAL;
        }
        if (st.st_mode & 077) {
                log_error("--env-file %s is readable by others (mode %04o): run chmod 600 %s",
                        path, (unsigned) (st.st_mode & 07777), path);
                return -EPERM;
        }
        if (project_path && path_inside(real, project_path)) {
                log_error("--env-file %s is inside the project, where the agent can read it: move it out of %s",
                        path, project_path);
                return -EPERM;
        }
        return 0;
}

static void add_assign(struct envfilter *f, const char *name, const char *value) {
        if (!strv_contains(&f->names, name))
                strv_push(&f->names, name);
        /* A later assignment of the same name wins: drop the earlier one. */
        size_t n = strlen(name);
        for (size_t i = 0; i < f->assign.n; i++)
                if (strncmp(f->assign.v[i], name, n) == 0 && f->assign.v[i][n] == '=')
                        f->assign.v[i][0] = '\0';
        strv_pushf(&f->assign, "%s=%s", name, value);
}

static const char *env_get(char *const *env, const char *name) {
        size_t n = strlen(name);
        for (; env && *env; env++)
                if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
                        return *env + n + 1;
        return NULL;
}

static int add_glob(struct envfilter *f, const char *pattern, char *const *host_env) {
        for (char *const *e = host_env; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                if (!eq)
                        continue;
                _cleanup_free_ char *name = strndup(*e, (size_t) (eq - *e));
                if (!name)
                        return log_oom();
                if (fnmatch(pattern, name, 0) == 0 && base_env_name_valid(name) && !envfilter_secret_like(name))
                        add_assign(f, name, eq + 1);
        }
        return 0;
}

static int add_request(struct envfilter *f, const char *req, char *const *host_env) {
        const char *eq = strchr(req, '=');
        _cleanup_free_ char *name = eq ? strndup(req, (size_t) (eq - req)) : strdup(req);
        if (!name)
                return log_oom();
        if (!eq && strpbrk(name, "*?["))
                return add_glob(f, name, host_env);
        if (!base_env_name_valid(name)) {
                log_error("-e %s: not a variable name (letters, digits and _)", name);
                return -EINVAL;
        }
        const char *value = eq ? eq + 1 : env_get(host_env, name);
        if (!value) {
                log_warning("-e %s: %s is not set here; not passed", name, name);
                return 0;
        }
        add_assign(f, name, value);
        return 0;
}

static int read_env_file(struct envfilter *f, const char *path) {
        _cleanup_fclose_ FILE *file = fopen(path, "re");
        if (!file)
                return log_error_errno(negative_errno(), "--env-file %s: %m", path);
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned lineno = 0;
        for (ssize_t len; (len = getline(&line, &size, file)) >= 0;) {
                lineno++;
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                        line[--len] = '\0';
                const char *s = line + strspn(line, " \t");
                if (!*s || *s == '#')
                        continue;
                if (strncmp(s, "export ", 7) == 0)
                        s += 7;
                const char *eq = strchr(s, '=');
                _cleanup_free_ char *name = eq ? strndup(s, (size_t) (eq - s)) : NULL;
                if (eq && !name)
                        return log_oom();
                if (!eq || !base_env_name_valid(name)) {
                        log_error("%s:%u: expected NAME=VALUE", path, lineno);
                        return -EINVAL;
                }
                add_assign(f, name, eq + 1);
        }
        return 0;
}

int envfilter_resolve(char *const *requests, const char *env_file, const char *project_path,
                      char *const *host_env, struct envfilter *ret) {
        struct envfilter f = {};
        int r = 0;
        if (env_file) {
                r = envfilter_check_env_file(env_file, project_path);
                if (r == 0)
                        r = read_env_file(&f, env_file);
        }
        for (; r == 0 && requests && *requests; requests++)
                r = add_request(&f, *requests, host_env);
        if (r == 0 && (strv_status(&f.names) < 0 || strv_status(&f.assign) < 0))
                r = log_oom();
        if (r < 0) {
                envfilter_done(&f);
                return r;
        }
        *ret = f;
        return 0;
}

void envfilter_done(struct envfilter *f) {
        strv_done(&f->names);
        strv_done(&f->assign);
}

int envfilter_child_env(const struct envfilter *f, char *const *host_env, struct strv *ret) {
        struct strv out = {};
        for (char *const *e = host_env; e && *e; e++) {
                const char *eq = strchr(*e, '=');
                bool replaced = false;
                for (size_t i = 0; eq && i < f->assign.n && !replaced; i++)
                        replaced = strncmp(f->assign.v[i], *e, (size_t) (eq - *e + 1)) == 0;
                if (!replaced)
                        strv_push(&out, *e);
        }
        for (size_t i = 0; i < f->assign.n; i++)
                if (f->assign.v[i][0])
                        strv_push(&out, f->assign.v[i]);
        int r = strv_status(&out);
        if (r < 0) {
                strv_done(&out);
                return r;
        }
        *ret = out;
        return 0;
}
