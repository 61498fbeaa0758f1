/* SPDX-License-Identifier: MIT */
/* Stands in for libcurl.so.4 in the meta-fetch child (dlopen'd there, found
 * through LD_LIBRARY_PATH): a compromise of the process that talks to the
 * network. On load it writes its own answer to PID 1's pipe, the one FIFO
 * the child holds open for writing, and exits before any real transfer. The
 * lines come from the META_FORGED_REPLY file named at build time (-D). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((constructor)) static void forge_reply(void) {
        static const char reply[] = META_FORGED_REPLY;
        for (int fd = 3; fd < 1024; fd++) {
                struct stat st;
                int flags = fcntl(fd, F_GETFL);
                if (flags < 0 || (flags & O_ACCMODE) != O_WRONLY || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
                        continue;
                if (write(fd, reply, strlen(reply)) < 0)
                        _exit(1);
                _exit(0);
        }
        _exit(1);
}
