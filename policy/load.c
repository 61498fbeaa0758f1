/* SPDX-License-Identifier: MIT */
/* Reading policy files from disk: one file, or a base plus a directory of
 * overrides. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "policy-internal.h"

static int file_error(struct policy_diags *diags, const char *path, int r, const char *what) {
        policy_diag_add(diags, POLICY_ERROR, path, 0, 0, "%s: %s", what, strerror(-r));
        return r;
}

static const char *file_type_name(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFIFO:
                return "FIFO";
        case S_IFCHR:
                return "character device";
        case S_IFBLK:
                return "block device";
        case S_IFSOCK:
                return "socket";
        case S_IFDIR:
                return "directory";
        default:
                return "special file";
        }
}

/* Reads at most POLICY_MAX_FILE_SIZE + 1 bytes, so a file that grows after
 * fstat() is still caught. */
static int read_all(int fd, size_t hint, char **ret, size_t *ret_len) {
        size_t cap = hint + 1, len = 0;
        if (cap > POLICY_MAX_FILE_SIZE + 1)
                cap = POLICY_MAX_FILE_SIZE + 1;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap > POLICY_MAX_FILE_SIZE)
                                break;
                        size_t grown_cap = cap * 2 > POLICY_MAX_FILE_SIZE + 1 ? POLICY_MAX_FILE_SIZE + 1 : cap * 2;
                        char *grown = realloc(buf, grown_cap);
                        if (!grown)
                                return -ENOMEM;
                        buf = grown;
                        cap = grown_cap;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int policy_parse_file(const char *path, struct policy **ret, struct policy_diags *diags) {
        struct stat st;
        _cleanup_free_ char *data = NULL;
        size_t len;

        /* Symlinks are followed: images and compose files commonly link or
         * bind-mount the policy into place, and the paths are root-owned.
         * O_NONBLOCK: opening a FIFO or a device waits for a writer or the
         * hardware; nothing may be waited on before we know it is a file. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return file_error(diags, path, negative_errno(), "cannot open the policy file");
        if (fstat(fd, &st) < 0)
                return file_error(diags, path, negative_errno(), "cannot stat the policy file");
        if (!S_ISREG(st.st_mode)) {
                policy_diag_add(diags, POLICY_ERROR, path, 0, 0,
                                "is a %s, not a regular file; a policy is read from a regular file only",
                                file_type_name(st.st_mode));
                return -EINVAL;
        }
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                return file_error(diags, path, negative_errno(), "cannot read the policy file");
        if (st.st_size > POLICY_MAX_FILE_SIZE) {
                policy_diag_add(diags, POLICY_ERROR, path, 0, 0,
                                "file is %lld bytes; a policy file may be at most %d bytes",
                                (long long) st.st_size, POLICY_MAX_FILE_SIZE);
                return -EFBIG;
        }
        int r = read_all(fd, (size_t) st.st_size, &data, &len);
        if (r < 0)
                return file_error(diags, path, r, "cannot read the policy file");
        /* An empty buffer still needs a valid pointer for libyaml. */
        return policy_parse_buffer(path, data ? data : "", len, ret, diags);
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool is_override_name(const char *name) {
        size_t n = strlen(name);
        return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

/* The *.yaml names in dir, sorted; *ret_n == 0 when the directory is missing. */
static int list_overrides(const char *dir, char ***ret, size_t *ret_n, struct policy_diags *diags) {
        char **names = NULL;
        size_t n = 0;
        DIR *d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                return file_error(diags, dir, negative_errno(), "cannot read the override directory");
        }
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d))) {
                if (!is_override_name(de->d_name))
                        continue;
                char *path, **slot;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                slot = policy_array_append(&names, &n, sizeof(char *));
                if (!slot) {
                        free(path);
                        r = -ENOMEM;
                        break;
                }
                *slot = path;
        }
        closedir(d);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                return r;
        }
        if (n > 0)
                qsort(names, n, sizeof(char *), compare_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

int policy_load_layered(const char *base_path, const char *override_dir, struct policy **ret,
                        struct policy_diags *diags) {
        _cleanup_policy_ struct policy *acc = NULL;
        char **names = NULL;
        size_t n = 0;
        int r, failed = 0;

        r = policy_parse_file(base_path, &acc, diags);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                failed = r;
        if (override_dir) {
                r = list_overrides(override_dir, &names, &n, diags);
                if (r < 0)
                        return r;
        }
        /* Every file is parsed even after a failure, to report all problems at once. */
        for (size_t i = 0; i < n && r != -ENOMEM; i++) {
                struct policy *layer = NULL, *merged = NULL;
                r = policy_parse_file(names[i], &layer, diags);
                if (r >= 0 && acc) {
                        r = policy_merge(acc, layer, &merged, diags);
                        if (r >= 0) {
                                policy_free(acc);
                                acc = merged;
                        }
                }
                policy_free(layer);
                if (r < 0 && !failed)
                        failed = r;
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (r == -ENOMEM)
                return r;
        if (failed)
                return failed;
        *ret = TAKE_PTR(acc);
        return 0;
}
