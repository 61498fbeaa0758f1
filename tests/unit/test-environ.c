/* SPDX-License-Identifier: MIT */
/* environ: the environment CMD gets. The test runs itself again with an
 * environment of its choosing, then removes one name with unsetenv() as the
 * dynamic loader does in secure-execution mode: the name must still be
 * found in what the kernel recorded. A third run has no environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "environ.h"
#include "tap.h"

extern char **environ;

static const char *find(char *const *env, const char *entry) {
        for (; env && *env; env++)
                if (strcmp(*env, entry) == 0)
                        return *env;
        return NULL;
}

static size_t count_named(char *const *env, const char *name) {
        size_t n = 0, len = strlen(name);
        for (; env && *env; env++)
                n += strncmp(*env, name, len) == 0 && (*env)[len] == '=';
        return n;
}

static char long_value[10001];

static void check_original(void) {
        char **orig = NULL;
        char *region;
        size_t len;

        TAP_CHECK(getenv("TMPDIR") && unsetenv("TMPDIR") == 0 && !getenv("TMPDIR"),
                  "TMPDIR removed from environ, as the loader does");
        TAP_CHECK(environ_original_region(&region, &len) == 0 && len > 0 && region[len - 1] == '\0',
                  "the kernel's environment region is found and ends in NUL");
        TAP_CHECK(environ_read_original(&orig) == 0, "environ_read_original succeeds");
        TAP_CHECK(find(orig, "TMPDIR=/tmp/mine"), "a name removed from environ is still in the original");
        TAP_CHECK(find(orig, "KEEP=1"), "an ordinary name is there");
        TAP_CHECK(!find(orig, "NO_EQUALS_SIGN"), "an entry without '=' is not a variable");
        TAP_CHECK(count_named(orig, "LONG") == 1 && find(orig, long_value), "a 10,000-byte entry is whole");

        struct target_user u = { .uid = 1000, .gid = 1000, .name = "dev", .home = "/home/dev", .shell = "/bin/sh" };
        const char *pass[] = { "TMPDIR", "HOME", "UNSET_ONE", "LONG" };
        char storage[ENVIRON_BASE_MAX][512];
        char *env[ENVIRON_BASE_MAX + 4 + 1];
        environ_build(&u, orig, pass, 4, storage, env);
        TAP_CHECK(find(env, "TMPDIR=/tmp/mine"), "a passed name removed by the loader reaches CMD");
        TAP_CHECK(find(env, "HOME=/from-engine") && count_named(env, "HOME") == 1,
                  "a passed allowlist name replaces its value once");
        TAP_CHECK(count_named(env, "UNSET_ONE") == 0, "a passed name that is unset is left out");
        TAP_CHECK(find(env, long_value), "a long value is passed whole");
        TAP_CHECK(find(env, "USER=dev") && find(env, "SHELL=/bin/sh") && find(env, "TERM=xterm-256color"),
                  "the allowlist comes from the target user and a sane TERM");
        TAP_CHECK(count_named(env, "KEEP") == 0, "a name not passed stays out");
        free(orig);
}

static void check_term(void) {
        struct target_user u = { .name = "dev", .home = "/home/dev", .shell = "/bin/sh" };
        char *from[] = { "TERM=xterm;rm -rf /", NULL };
        char storage[ENVIRON_BASE_MAX][512];
        char *env[ENVIRON_BASE_MAX + 1];
        environ_build(&u, from, NULL, 0, storage, env);
        TAP_CHECK(count_named(env, "TERM") == 0, "a TERM that is not a terminfo name is dropped");
}

/* --pass-env NAME passes NAME only: never a longer name that starts with it,
 * nor a shorter one it starts with. */
static void check_pass_whole_names(void) {
        struct target_user u = { .name = "dev", .home = "/home/dev", .shell = "/bin/sh" };
        char *from[] = { "API_TOKEN=secret", "AP=short", "TERMINAL_SECRET=x", "TERM=xterm", NULL };
        const char *pass[] = { "API", "API_TOKEN_2", "TERMINAL" };
        char storage[ENVIRON_BASE_MAX][512];
        char *env[ENVIRON_BASE_MAX + 3 + 1];
        environ_build(&u, from, pass, 3, storage, env);
        TAP_CHECK(count_named(env, "API_TOKEN") == 0 && count_named(env, "AP") == 0,
                  "--pass-env API passes neither API_TOKEN nor AP");
        TAP_CHECK(count_named(env, "TERMINAL_SECRET") == 0, "--pass-env TERMINAL does not pass TERMINAL_SECRET");
        TAP_CHECK(find(env, "TERM=xterm") && count_named(env, "TERM") == 1, "TERM is still TERM");
        for (char **e = env; *e; e++)
                TAP_CHECK(strstr(*e, "secret") == NULL, "no secret value in CMD's environment (%s)", *e);
}

int main(int argc, char **argv) {
        memcpy(long_value, "LONG=", 5);
        memset(long_value + 5, 'x', sizeof(long_value) - 6);
        if (argc < 2) {
                char *env[] = { "KEEP=1", "TMPDIR=/tmp/mine", "NO_EQUALS_SIGN", "HOME=/from-engine",
                                "TERM=xterm-256color", long_value, NULL };
                char *args[] = { argv[0], "again", NULL };
                execve("/proc/self/exe", args, env);
                TAP_CHECK(0, "re-exec with a chosen environment");
                return tap_done();
        }
        if (strcmp(argv[1], "empty") == 0) {
                /* Third run: counts so far in argv[2..3], no environment. */
                char **orig = NULL;
                tap_count = atoi(argv[2]);
                tap_failed = atoi(argv[3]);
                TAP_CHECK(environ_read_original(&orig) == 0 && orig && !orig[0],
                          "an empty environment is an empty list, not an error");
                free(orig);
                return tap_done();
        }
        check_original();
        check_term();
        check_pass_whole_names();
        char count[16], failed[16];
        snprintf(count, sizeof(count), "%d", tap_count);
        snprintf(failed, sizeof(failed), "%d", tap_failed);
        char *args[] = { argv[0], "empty", count, failed, NULL };
        char *none[] = { NULL };
        fflush(stdout);
        execve("/proc/self/exe", args, none);
        TAP_CHECK(0, "re-exec with an empty environment");
        return tap_done();
}
