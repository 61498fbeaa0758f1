/* SPDX-License-Identifier: MIT */
#include "loopback_listen.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "macro.h"

int loopback_listen(int family, int type, uint16_t port, int backlog, int *ret) {
        struct sockaddr_storage ss = {0};
        socklen_t len;
        if (family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
                *sin = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons(port),
                                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                len = sizeof(*sin);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
                *sin6 = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_port = htons(port),
                                                .sin6_addr = IN6ADDR_LOOPBACK_INIT };
                len = sizeof(*sin6);
        }
        _cleanup_close_ int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        if (family == AF_INET6)
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &ss, len) < 0)
                return -errno;
        if (type == SOCK_STREAM && listen(fd, backlog) < 0)
                return -errno;
        *ret = TAKE_FD(fd);
        return 0;
}
