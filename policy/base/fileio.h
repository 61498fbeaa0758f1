/* SPDX-License-Identifier: MIT */
/* Writing to descriptors and replacing files. Nothing here logs: each
 * function returns a negative errno for the caller to report with the
 * file's name. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Writes all size bytes of buf to fd, retrying after short writes and
 * EINTR. Returns 0, or -errno of the failed write (-EIO if write() returned
 * 0); how much was written before a failure is not reported. */
int base_write_all(int fd, const void *buf, size_t size);

/* Replaces path with size bytes of data and permission bits mode: they are
 * written to a hidden temporary file in path's directory (.NAME.XXXXXX),
 * synced, and renamed over path, so a reader sees the old file or the new
 * one, never part of one. A symlink at path is replaced, not followed.
 * Returns 0, or -errno of the call that failed (-ENOMEM if the name cannot
 * be built); then the temporary file is gone and path is as it was. */
int base_write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
