/* SPDX-License-Identifier: MIT */
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed/embed.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "project.h"

int seccomp_profile_dir(char **ret) {
        return project_xdg_dir("XDG_CACHE_HOME", ".cache", ret);
}

/* mkdir -p, each new level 0700: the profile decides what the sandbox may
 * do, so nobody else gets to replace it. */
static int make_dirs(const char *dir) {
        _cleanup_free_ char *d = strdup(dir);
        if (!d)
                return log_oom();
        for (char *s = d + 1;; s++) {
                bool last = !(s = strchr(s, '/'));
                if (!last)
                        *s = '\0';
                if (mkdir(d, 0700) < 0 && errno != EEXIST)
                        return log_error_errno(negative_errno(), "cannot create %s for the seccomp profile: %m", d);
                if (last)
                        return 0;
                *s = '/';
        }
}

/* Whether path is a regular file holding exactly data. */
static bool has_content(const char *path, const unsigned char *data, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t) st.st_size != size)
                return false;
        _cleanup_free_ unsigned char *buf = malloc(size ? size : 1);
        size_t got = 0;
        while (buf && got < size) {
                ssize_t n = read(fd, buf + got, size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                got += (size_t) n;
        }
        return buf && memcmp(buf, data, size) == 0;
}


int seccomp_profile_write(const char *dir, char **ret_path) {
        const struct embed_file *f = embed_find(SECCOMP_PROFILE_EMBED);
        if (!f) {
                log_error("this build has no seccomp profile (" SECCOMP_PROFILE_EMBED ")");
                return -ENOENT;
        }
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/seccomp-%016llx.json", dir,
                     (unsigned long long) project_hash((const char *) f->data)) < 0)
                return log_oom();
        if (!has_content(path, f->data, f->size)) {
                int r = make_dirs(dir);
                /* Replaced whole: the engine's client of a concurrent run
                 * sees the old file or the new one, never half of one. */
                if (r == 0) {
                        r = base_write_file_atomic(path, f->data, f->size, 0644);
                        if (r < 0)
                                log_error_errno(r, "cannot write the seccomp profile %s: %m", path);
                }
                if (r < 0)
                        return r;
        }
        *ret_path = TAKE_PTR(path);
        return 0;
}

int seccomp_profile_install(char **ret_path) {
        _cleanup_free_ char *dir = NULL;
        int r = seccomp_profile_dir(&dir);
        return r < 0 ? r : seccomp_profile_write(dir, ret_path);
}
