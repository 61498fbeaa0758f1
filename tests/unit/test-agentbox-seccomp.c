/* SPDX-License-Identifier: MIT */
/* The seccomp profile agentbox hands to the engine: written where missing,
 * left alone (same inode) when it is already right, replaced when its
 * content is not the embedded profile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed/embed.h"
#include "seccomp.h"
#include "tap.h"

static int same_as_embedded(const char *path) {
        const struct embed_file *f = embed_find(SECCOMP_PROFILE_EMBED);
        FILE *in = fopen(path, "re");
        if (!f || !in)
                return 0;
        char *buf = malloc(f->size + 2);
        size_t n = buf ? fread(buf, 1, f->size + 1, in) : 0;
        fclose(in);
        int ok = buf && n == f->size && memcmp(buf, f->data, n) == 0;
        free(buf);
        return ok;
}

int main(void) {
        char base[] = "/tmp/agentbox-seccomp-XXXXXX";
        TAP_CHECK(mkdtemp(base), "temporary directory");
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/cache/agent-sandbox", base);

        const struct embed_file *f = embed_find(SECCOMP_PROFILE_EMBED);
        TAP_CHECK(f && strstr((const char *) f->data, "io_uring_setup"), "the profile is embedded");

        char *path = NULL;
        TAP_CHECK(seccomp_profile_write(dir, &path) == 0 && path, "written into a directory that did not exist");
        TAP_CHECK(path && same_as_embedded(path), "with the embedded content");
        struct stat a = {}, b = {}, d = {};
        stat(path, &a);
        stat(dir, &d);
        TAP_CHECK((d.st_mode & 07777) == 0700, "its directory is the user's alone");

        char *again = NULL;
        TAP_CHECK(seccomp_profile_write(dir, &again) == 0 && again && strcmp(again, path) == 0, "same path again");
        stat(path, &b);
        TAP_CHECK(a.st_ino == b.st_ino, "an identical file is not rewritten");
        free(again);

        FILE *w = fopen(path, "we");
        fputs("{\"defaultAction\": \"SCMP_ACT_ALLOW\"}\n", w);
        fclose(w);
        again = NULL;
        TAP_CHECK(seccomp_profile_write(dir, &again) == 0 && same_as_embedded(path), "a changed file is replaced");
        free(again);

        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        free(path);
        TAP_CHECK(system(cmd) == 0, "cleaned up");
        return tap_done();
}
