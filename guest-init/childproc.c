/* SPDX-License-Identifier: MIT */
#include "childproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "environ.h"

void childproc_detach(const char *name) {
        sigset_t none;
        /* Out of PID 1's session and process group: a ^Z or ^C typed at the
         * container's terminal is not for us. */
        (void) setsid();
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        signal(SIGTSTP, SIG_IGN);
        signal(SIGTTIN, SIG_IGN);
        signal(SIGTTOU, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        (void) prctl(PR_SET_NAME, name, 0, 0, 0);
}

int childproc_keep_fds(int *fds, size_t n) {
        /* First out of the way of 3.., then into place: a target slot may
         * hold another of the fds. */
        for (size_t i = 0; i < n; i++) {
                if (fds[i] < 0)
                        continue;
                int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + (int) n);
                if (moved < 0)
                        return -errno;
                fds[i] = moved;
        }
        for (size_t i = 0; i < n; i++) {
                if (fds[i] < 0)
                        continue;
                int target = 3 + (int) i;
                if (dup3(fds[i], target, O_CLOEXEC) < 0)
                        return -errno;
                fds[i] = target;
        }
        int first = 3 + (int) n;
        if (close_range((unsigned) first, ~0U, 0) == 0)
                return 0;
        long max = sysconf(_SC_OPEN_MAX);       /* kernels before 5.9 */
        for (int fd = first; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
                (void) close(fd);
        return 0;
}

void childproc_scrub_environment(void) {
        char *region;
        size_t len;

        for (char **e = environ; e && *e; e++)
                explicit_bzero(*e, strlen(*e));
        if (environ_original_region(&region, &len) == 0)
                explicit_bzero(region, len);
        (void) clearenv();
}
