/* SPDX-License-Identifier: MIT */
#include "netmark.h"

#include <errno.h>
#include <sys/socket.h>

int netmark_socket(int fd, uint32_t mark) {
        if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
                return -errno;
        return 0;
}
