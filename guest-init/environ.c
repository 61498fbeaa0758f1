#include "environ.h"

#include <errno.h>
#include <stdbool.h>
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

int environ_read_original(char **ret_buf, char ***ret_list) {
        FILE *f = fopen("/proc/self/environ", "re");
        if (!f)
                return -errno;
        char *buf = NULL;
        size_t len = 0;
        for (;;) {
                char *grown = realloc(buf, len + 4096 + 1);
                if (!grown) {
                        free(buf);
                        fclose(f);
                        return -ENOMEM;
                }
                buf = grown;
                size_t n = fread(buf + len, 1, 4096, f);
                len += n;
                if (n < 4096)
                        break;
        }
        fclose(f);
        buf[len] = '\0';
        size_t count = 0;
        for (size_t i = 0; i < len; i++)
                count += buf[i] == '\0';
        char **list = calloc(count + 2, sizeof(*list));
        if (!list) {
                free(buf);
                return -ENOMEM;
        }
        size_t k = 0;
        for (char *e = buf; e < buf + len; e += strlen(e) + 1)
                if (*e)
                        list[k++] = e;
        *ret_buf = buf;
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
