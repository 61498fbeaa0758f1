/* SPDX-License-Identifier: MIT */
#include "readiness.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

/* Leading NUL: the abstract namespace, which belongs to the network
 * namespace and needs no writable file system. */
static const char readiness_name[] = "\0agent-sandbox/ready";

static socklen_t readiness_address(struct sockaddr_un *sa) {
        *sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
        memcpy(sa->sun_path, readiness_name, sizeof(readiness_name) - 1);
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + sizeof(readiness_name) - 1);
}

static int readiness_on_connect(struct loop *l, int fd, uint32_t events, void *userdata) {
        for (;;) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (c < 0)
                        return 0;       /* EAGAIN, or a client already gone */
                close(c);
        }
}

/* Bound, not listening: a connect is refused (not ready) until announced. */
static int readiness_fd = -1;

int readiness_reserve(void) {
        struct sockaddr_un sa;
        socklen_t len = readiness_address(&sa);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create the readiness socket: %m");
        if (bind(fd, (struct sockaddr *) &sa, len) < 0) {
                int r = -errno;
                close(fd);
                return log_error_errno(r, "Failed to take the readiness socket @agent-sandbox/ready: %m%s",
                                       r == -EADDRINUSE ? " (another process of the network namespace holds the name); the health check will report the sandbox as not ready" : "");
        }
        readiness_fd = fd;
        return 0;
}

int readiness_announce(struct loop *l) {
        if (readiness_fd < 0)
                return -EBADF;          /* reserving it failed, and said so */
        if (listen(readiness_fd, 16) < 0)
                return log_error_errno(-errno, "Failed to listen on the readiness socket: %m");
        int r = loop_add_io(l, readiness_fd, EPOLLIN, readiness_on_connect, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the readiness socket: %m");
        return 0;
}

int readiness_check(const char **ret_why) {
        struct sockaddr_un sa;
        socklen_t len = readiness_address(&sa);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, len) < 0) {
                if (errno != ECONNREFUSED && errno != ENOENT)
                        return -errno;
                *ret_why = "the init has not reported the firewall ready (yet)";
                return 0;
        }
        struct ucred cred;
        socklen_t cred_len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0)
                return -errno;
        if (cred.pid != 1) {
                *ret_why = "the readiness socket is held by a process other than the init";
                return 0;
        }
        return 1;
}
