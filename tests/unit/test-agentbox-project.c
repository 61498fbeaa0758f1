/* SPDX-License-Identifier: MIT */
/* Sandbox names: stable, distinct per path, safe for the engine whatever
 * the folder is called. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "project.h"
#include "tap.h"

static char *name_of(const char *path) {
        char *name = NULL, hash[9];
        if (project_names(path, &name, hash) < 0)
                return NULL;
        return name;
}

/* What docker accepts as a container name, and what agentbox promises. */
static int engine_safe(const char *name) {
        regex_t re;
        regcomp(&re, "^agentbox-[a-z0-9]+(-[a-z0-9]+)*-[0-9a-f]{8}$", REG_EXTENDED | REG_NOSUB);
        int ok = regexec(&re, name, 0, NULL, 0) == 0;
        regfree(&re);
        return ok;
}

int main(void) {
        static const char *const paths[] = {
                "/home/u/my project", "/home/u/my project2", "/home/v/my project", "/tmp/ünïcödé",
                "/tmp/日本語", "/", "/srv/a:b,c\"d'e$(x)", "/tmp/---", "/tmp/UPPER_case.Dir",
        };
        char *names[sizeof(paths) / sizeof(paths[0])];
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                names[i] = name_of(paths[i]);
                TAP_CHECK(names[i] && engine_safe(names[i]), "engine-safe name for '%s': %s", paths[i],
                          names[i] ? names[i] : "(null)");
        }
        char *again = name_of("/home/u/my project");
        TAP_CHECK_STR(names[0], again, "the same path gives the same name");
        free(again);
        TAP_CHECK(strncmp(names[0], "agentbox-my-project-", 20) == 0, "spaces become one dash: %s", names[0]);
        for (size_t i = 0; i < 3; i++)
                for (size_t j = i + 1; j < 3; j++)
                        TAP_CHECK(strcmp(names[i], names[j]) != 0, "distinct paths, distinct names: %s / %s", names[i], names[j]);
        TAP_CHECK(strncmp(names[4], "agentbox-project-", 17) == 0, "a name with no ASCII letters: %s", names[4]);
        TAP_CHECK(strncmp(names[5], "agentbox-root-", 14) == 0, "the root folder: %s", names[5]);
        TAP_CHECK(strncmp(names[8], "agentbox-upper-case-dir-", 24) == 0, "lower case: %s", names[8]);

        char long_path[5000] = "/data";
        for (int i = 0; i < 40; i++)
                strcat(long_path, "/very-long-folder-name-for-a-deep-tree-of-folders");
        strcat(long_path, "/and-a-basename-that-is-much-longer-than-forty-characters-in-all");
        char *long_name = name_of(long_path);
        TAP_CHECK(long_name && strlen(long_name) <= 9 + PROJECT_BASENAME_MAX + 1 + 8 && engine_safe(long_name),
                  "a long path gives a bounded name: %s", long_name ? long_name : "(null)");
        long_path[strlen(long_path) - 1] = 'X';
        char *long_name2 = name_of(long_path);
        TAP_CHECK(long_name2 && strcmp(long_name, long_name2) != 0, "paths differing past the cut still differ");

        struct project p = { .name = "agentbox-p-0123abcd", .hash = "0123abcd" };
        char *vol = NULL;
        TAP_CHECK(project_state_volume(&p, "claude", &vol) == 0 && vol && strcmp(vol, "agentbox-state-claude-0123abcd") == 0,
                  "state volume name");
        setenv("XDG_CONFIG_HOME", "/cfg", 1);
        char *global = NULL, *proj = NULL;
        project_policy_paths(&p, &global, &proj);
        TAP_CHECK_STR(global, "/cfg/agent-sandbox/policy.yaml", "global policy under XDG_CONFIG_HOME");
        TAP_CHECK_STR(proj, "/cfg/agent-sandbox/projects/agentbox-p-0123abcd.yaml", "project policy by sandbox name");
        setenv("XDG_CONFIG_HOME", "relative/ignored", 1);
        setenv("HOME", "/home/x", 1);
        free(global);
        free(proj);
        project_policy_paths(&p, &global, NULL);
        TAP_CHECK_STR(global, "/home/x/.config/agent-sandbox/policy.yaml", "a relative XDG_CONFIG_HOME is ignored");

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                free(names[i]);
        free(long_name);
        free(long_name2);
        free(vol);
        free(global);
        return tap_done();
}
