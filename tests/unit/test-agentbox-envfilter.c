/* SPDX-License-Identifier: MIT */
/* Environment filtering: nothing passes unless named; secret-looking names
 * only by their exact name; values stay out of the engine's argv. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envfilter.h"
#include "tap.h"

static char *host_env[] = {
        "HOME=/home/u", "LC_ALL=C.UTF-8", "LC_API_KEY=lc-secret", "MY_TOKEN=tok", "MY_COLOR=blue",
        "AWS_REGION=eu", "PATH=/bin", NULL,
};

static char *joined(const struct strv *v) {
        static char buf[1024];
        buf[0] = '\0';
        for (size_t i = 0; i < v->n; i++) {
                if (!v->v[i][0])
                        continue;
                strcat(buf, buf[0] ? " " : "");
                strcat(buf, v->v[i]);
        }
        return buf;
}

static void check(char **req, const char *want_names, const char *what) {
        struct envfilter f = {};
        int r = envfilter_resolve(req, NULL, "/proj", host_env, &f);
        TAP_CHECK(r == 0, "%s: resolves", what);
        TAP_CHECK_STR(joined(&f.names), want_names, what);
        envfilter_done(&f);
}

static void secrets(void) {
        static const char *const secret[] = {
                "FOO_TOKEN", "OPENAI_API_KEY", "MY_SECRET_THING", "CLIENT_SECRET", "DB_PASSWORD", "PASSWORD",
                "AWS_REGION", "GITHUB_TOKEN", "SSH_AUTH_SOCK", "github_token", "anthropic_api_key",
        };
        static const char *const plain[] = { "HOME", "LANG", "TERM", "TOKENIZER", "MY_COLOR", "API_KEYS_DIR", "SSH_AGENT_PID" };
        for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
                TAP_CHECK(envfilter_secret_like(secret[i]), "%s looks like a secret", secret[i]);
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
                TAP_CHECK(!envfilter_secret_like(plain[i]), "%s does not look like a secret", plain[i]);
}

static void requests(void) {
        check((char *[]) { NULL }, "", "nothing named, nothing passes");
        check((char *[]) { "LC_*", NULL }, "LC_ALL", "a glob skips secret-looking LC_API_KEY");
        check((char *[]) { "MY_*", NULL }, "MY_COLOR", "a glob never matches MY_TOKEN");
        check((char *[]) { "*", NULL }, "HOME LC_ALL MY_COLOR PATH", "even '*' passes no secret");
        check((char *[]) { "MY_TOKEN", "LC_API_KEY", NULL }, "MY_TOKEN LC_API_KEY", "exact names pass secrets");
        check((char *[]) { "NOT_SET", NULL }, "", "a variable that is not set is skipped");
        check((char *[]) { "HOME", "HOME", NULL }, "HOME", "no duplicates");

        struct envfilter f = {};
        TAP_CHECK(envfilter_resolve((char *[]) { "X=1", "X=2", NULL }, NULL, "/proj", host_env, &f) == 0, "NAME=VALUE");
        TAP_CHECK_STR(joined(&f.names), "X", "NAME=VALUE passes by name");
        struct strv env = {};
        envfilter_child_env(&f, host_env, &env);
        int n_x = 0;
        for (size_t i = 0; i < env.n; i++)
                n_x += strncmp(env.v[i], "X=", 2) == 0;
        TAP_CHECK(n_x == 1 && strv_contains(&env, "X=2"), "the child environment has the last value once");
        TAP_CHECK(strv_contains(&env, "HOME=/home/u"), "the engine keeps its own environment");
        strv_done(&env);
        envfilter_done(&f);

        TAP_CHECK(envfilter_resolve((char *[]) { "1BAD", NULL }, NULL, "/proj", host_env, &f) == -EINVAL,
                  "an invalid name is refused");
        TAP_CHECK(envfilter_resolve((char *[]) { "A-B=1", NULL }, NULL, "/proj", host_env, &f) == -EINVAL,
                  "an invalid name with a value is refused");
}

static void env_files(void) {
        char dir[] = "/tmp/test-envfilter-XXXXXX";
        if (!mkdtemp(dir))
                return;
        char proj[300], inside[400], outside[400];
        snprintf(proj, sizeof(proj), "%s/proj", dir);
        snprintf(inside, sizeof(inside), "%s/proj/.env", dir);
        snprintf(outside, sizeof(outside), "%s/agent.env", dir);
        mkdir(proj, 0755);
        FILE *f = fopen(outside, "w");
        fputs("# comment\n\nAPI_TOKEN=abc=def\nexport PLAIN=1\n", f);
        fclose(f);
        chmod(outside, 0644);
        TAP_CHECK(envfilter_check_env_file(outside, proj) == -EPERM, "a group/world-readable env file is refused");
        /* The group alone is enough to refuse: in a shared home the group
         * may hold other users. */
        static const mode_t group_modes[] = { 0640, 0620, 0610, 0604 };
        for (size_t i = 0; i < sizeof(group_modes) / sizeof(group_modes[0]); i++) {
                chmod(outside, group_modes[i]);
                TAP_CHECK(envfilter_check_env_file(outside, proj) == -EPERM, "an env file of mode %04o is refused",
                          (unsigned) group_modes[i]);
        }
        chmod(outside, 0600);
        TAP_CHECK(envfilter_check_env_file(outside, proj) == 0, "a 0600 file outside the project is accepted");
        f = fopen(inside, "w");
        fputs("A=1\n", f);
        fclose(f);
        chmod(inside, 0600);
        TAP_CHECK(envfilter_check_env_file(inside, proj) == -EPERM, "an env file inside the project is refused");
        struct envfilter ef = {};
        TAP_CHECK(envfilter_resolve(NULL, outside, proj, host_env, &ef) == 0, "env file read");
        TAP_CHECK_STR(joined(&ef.names), "API_TOKEN PLAIN", "env file names pass");
        TAP_CHECK_STR(joined(&ef.assign), "API_TOKEN=abc=def PLAIN=1", "env file values go to the environment");
        envfilter_done(&ef);
        f = fopen(outside, "w");
        fputs("no equals sign\n", f);
        fclose(f);
        TAP_CHECK(envfilter_resolve(NULL, outside, proj, host_env, &ef) == -EINVAL, "a malformed env file is refused");
        unlink(inside);
        unlink(outside);
        rmdir(proj);
        rmdir(dir);
}

int main(void) {
        secrets();
        requests();
        env_files();
        return tap_done();
}
