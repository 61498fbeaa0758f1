/* SPDX-License-Identifier: MIT */
#include "environ.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAFE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A TERM value is a terminfo name: anything else is not passed on. */
static bool term_is_sane(const char *t) {
        if (!t || !*t || strlen(t) > 64)
                return false;
        for (const char *c = t; *c; c++)
                if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') || ('0' <= *c && *c <= '9') ||
                      *c == '-' || *c == '.' || *c == '+' || *c == '_'))
                        return false;
        return true;
}

/* Field `n` (1-based, as proc(5) counts) of /proc/self/stat as a number.
 * The command name in field 2 may hold spaces and ')': count from the last
 * ')'. */
static int stat_field(const char *stat, int n, unsigned long long *ret) {
        const char *p = strrchr(stat, ')');
        if (!p)
                return -EIO;
        p++;
        for (int field = 3; field <= n; field++) {
                while (*p == ' ')
                        p++;
                if (!*p)
                        return -EIO;
                if (field == n) {
                        char *end;
                        errno = 0;
                        *ret = strtoull(p, &end, 10);
                        return errno || end == p ? -EIO : 0;
                }
                p = strchr(p, ' ');
                if (!p)
                        return -EIO;
        }
        return -EIO;
}

int environ_original_region(char **ret_start, size_t *ret_len) {
        char stat[4096];
        unsigned long long start, end;
        FILE *f = fopen("/proc/self/stat", "re");
        if (!f)
                return -errno;
        size_t n = fread(stat, 1, sizeof(stat) - 1, f);
        fclose(f);
        stat[n] = '\0';
        if (stat_field(stat, 50, &start) < 0 || stat_field(stat, 51, &end) < 0)
                return -EIO;
        /* Zero when the kernel withholds them; the strings end in NUL (an
         * empty environment is an empty region). */
        if (start == 0 || end < start || end - start > ENVIRON_REGION_MAX)
                return -EIO;
        char *region = (char *) (uintptr_t) start;
        if (end > start && region[end - start - 1] != '\0')
                return -EIO;
        *ret_start = region;
        *ret_len = end - start;
        return 0;
}

int environ_read_original(char ***ret_list) {
        char *region;
        size_t len;
        int r = environ_original_region(&region, &len);
        if (r < 0)
                return r;
        size_t count = 0;
        for (size_t i = 0; i < len; i++)
                count += region[i] == '\0';
        char **list = calloc(count + 1, sizeof(*list));
        if (!list)
                return -ENOMEM;
        size_t k = 0;
        for (char *e = region; e < region + len; e += strlen(e) + 1)
                if (*e && strchr(e, '='))
                        list[k++] = e;
        *ret_list = list;
        return 0;
}

/* The "NAME=value" entry of env for name, or NULL. */
static char *entry_of(char *const *env, const char *name) {
        size_t len = strlen(name);
        for (; env && *env; env++)
                if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
                        return *env;
        return NULL;
}

void environ_build(const struct target_user *u, char *const *from, const char *const *pass, size_t n_pass,
                   char storage[ENVIRON_BASE_MAX][512], char **env) {
        size_t n = 0;
        snprintf(storage[n++], 512, "HOME=%s", u->home);
        snprintf(storage[n++], 512, "USER=%s", u->name);
        snprintf(storage[n++], 512, "LOGNAME=%s", u->name);
        snprintf(storage[n++], 512, "SHELL=%s", u->shell);
        snprintf(storage[n++], 512, "PATH=%s", SAFE_PATH);
        const char *term = entry_of(from, "TERM");
        if (term && term_is_sane(term + 5))
                snprintf(storage[n++], 512, "%s", term);
        for (size_t i = 0; i < n; i++)
                env[i] = storage[i];
        /* Passed entries point into `from` as they are: a value may be longer
         * than any fixed buffer (tokens often are). */
        for (size_t i = 0; i < n_pass; i++) {
                char *e = entry_of(from, pass[i]);
                if (!e)
                        continue;
                char **same = NULL;
                for (size_t k = 0; k < n && !same; k++)
                        if (strncmp(env[k], pass[i], strlen(pass[i])) == 0 && env[k][strlen(pass[i])] == '=')
                                same = &env[k];
                if (same)
                        *same = e;
                else
                        env[n++] = e;
        }
        env[n] = NULL;
}
