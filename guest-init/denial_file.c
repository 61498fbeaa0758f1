/* SPDX-License-Identifier: MIT */
#include "denial_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

struct denial_file {
        char *dir;
        int dir_fd;
        int fd;                 /* -1 after a failed rotation: the next append tries again */
        unsigned long failures;
};

/* O_NONBLOCK: a FIFO put in the file's place must not hold PID 1. */
static int open_current(struct denial_file *f, int extra_flags) {
        _cleanup_close_ int fd = openat(f->dir_fd, DENIAL_FILE_CURRENT,
                                        O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | extra_flags,
                                        0644);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        return TAKE_FD(fd);
}

int denial_file_open(const char *dir, struct denial_file **ret) {
        _cleanup_free_ struct denial_file *f = calloc(1, sizeof(*f));
        if (!f)
                return log_oom();
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_warning_errno(negative_errno(), "Failed to create %s for the denial record: %m", dir);
        _cleanup_close_ int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir_fd < 0)
                return log_warning_errno(negative_errno(), "Failed to open %s for the denial record: %m", dir);
        struct stat st;
        if (fstat(dir_fd, &st) < 0)
                return log_warning_errno(negative_errno(), "Failed to read %s: %m", dir);
        /* Somebody else's directory could hold links we would write through. */
        if (st.st_uid != geteuid() && st.st_uid != 0)
                return log_warning_errno(-EPERM, "%s belongs to uid %u, not to PID 1's uid %u; the denial record is not kept",
                                         dir, (unsigned) st.st_uid, (unsigned) geteuid());
        f->dir_fd = dir_fd;
        int fd = open_current(f, 0);
        if (fd < 0)
                return log_warning_errno(fd, "Failed to open %s/%s for the denial record: %m", dir, DENIAL_FILE_CURRENT);
        f->fd = fd;
        f->dir = strdup(dir);
        if (!f->dir) {
                close(fd);
                return log_oom();
        }
        TAKE_FD(dir_fd);
        *ret = TAKE_PTR(f);
        return 0;
}

static void failed(struct denial_file *f, int error, const char *what) {
        f->failures++;
        if ((f->failures & (f->failures - 1)) == 0)
                log_warning_errno(error, "Failed to %s the denial record in %s (%m); %lu records lost so far",
                                  what, f->dir, f->failures);
}

/* The current file becomes the older one, replacing it, and a new current
 * one is started: never more than two files' worth. */
static int rotate(struct denial_file *f) {
        if (f->fd >= 0) {
                close(f->fd);
                f->fd = -1;
        }
        if (renameat(f->dir_fd, DENIAL_FILE_CURRENT, f->dir_fd, DENIAL_FILE_OLDER) < 0 && errno != ENOENT)
                return negative_errno();
        int fd = open_current(f, O_TRUNC);
        if (fd < 0)
                return fd;
        f->fd = fd;
        return 0;
}

void denial_file_append(struct denial_file *f, const char *line, size_t len) {
        struct stat st;
        if (!f || len == 0 || len > DENIAL_LINE_MAX)
                return;
        /* The size on disk, not a count of our own: somebody else may have
         * written to the file, or emptied it; and a file somebody removed
         * (no link left) would swallow every record until it filled. */
        if (f->fd < 0 || fstat(f->fd, &st) < 0 || st.st_nlink == 0 ||
            (size_t) st.st_size + len > DENIAL_FILE_HALF) {
                int r = rotate(f);
                if (r < 0) {
                        failed(f, r, "rotate");
                        return;
                }
        }
        ssize_t n = write(f->fd, line, len);
        if (n < 0)
                failed(f, negative_errno(), "write to");
        else if ((size_t) n != len)
                failed(f, -ENOSPC, "write to");
}

void denial_file_free(struct denial_file *f) {
        if (!f)
                return;
        if (f->fd >= 0)
                close(f->fd);
        close(f->dir_fd);
        free(f->dir);
        free(f);
}
