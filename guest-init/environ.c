#include "environ.h"

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

void environ_build(const struct target_user *u, char storage[ENVIRON_MAX][512], char *env[ENVIRON_MAX + 1]) {
        size_t n = 0;
        snprintf(storage[n++], 512, "HOME=%s", u->home);
        snprintf(storage[n++], 512, "USER=%s", u->name);
        snprintf(storage[n++], 512, "LOGNAME=%s", u->name);
        snprintf(storage[n++], 512, "SHELL=%s", u->shell);
        snprintf(storage[n++], 512, "PATH=%s", SAFE_PATH);
        const char *term = getenv("TERM");
        if (term_is_sane(term))
                snprintf(storage[n++], 512, "TERM=%s", term);
        for (size_t i = 0; i < n; i++)
                env[i] = storage[i];
        env[n] = NULL;
}
