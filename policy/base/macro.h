/* SPDX-License-Identifier: MIT */
/* Small helpers shared by every part: cleanup attributes and ownership
 * transfer, so that error paths cannot leak or double-free. Part of the
 * base library (policy/base/), below the policy library and both programs. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand a pointer or fd out of a scope whose cleanup would otherwise free it. */
#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tf = (fd); (fd) = -1; _tf; })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* errno as a negative value; never 0, so a failed call cannot look like success. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}
