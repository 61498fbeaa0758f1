/* SPDX-License-Identifier: MIT */
#include "readiness.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

/* Leading NUL: the abstract namespace, which belongs to the network
 * namespace and needs no writable file system. In split mode two
 * containers share the namespace, so each role has a name of its own: the
 * firewall's init (or the one-container sandbox's) holds the first, the
 * agent's init the second. */
static const char firewall_name[] = "\0agent-sandbox/ready";
static const char agent_name[] = "\0agent-sandbox/agent-ready";

static socklen_t readiness_address(struct sockaddr_un *sa, bool agent) {
        const char *name = agent ? agent_name : firewall_name;
        size_t len = agent ? sizeof(agent_name) - 1 : sizeof(firewall_name) - 1;
        *sa = (struct sockaddr_un) { .sun_family = AF_UNIX };
        memcpy(sa->sun_path, name, len);
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len);
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

int readiness_reserve(bool agent) {
        struct sockaddr_un sa;
        socklen_t len = readiness_address(&sa, agent);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create the readiness socket: %m");
        if (bind(fd, (struct sockaddr *) &sa, len) < 0) {
                int r = -errno;
                close(fd);
                return log_error_errno(r, "Failed to take the readiness socket @agent-sandbox/%s: %m%s",
                                       agent ? "agent-ready" : "ready",
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

/* Connects to one of the names; *ret_cred is the listener's, as the kernel
 * recorded it when it listened and translated into our namespaces: a pid
 * outside our pid namespace reads as 0. 1 with cred, 0 when nobody
 * listens, 2 when the holder accepts no more connections, -errno. */
static int readiness_peer(bool agent, struct ucred *ret_cred) {
        struct sockaddr_un sa;
        socklen_t len = readiness_address(&sa, agent);
        /* Non-blocking: a holder that never accepts fills its backlog, and
         * a blocking connect would then wait for it forever. */
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, len) < 0)
                return errno == ECONNREFUSED || errno == ENOENT ? 0 : errno == EAGAIN ? 2 : -errno;
        socklen_t cred_len = sizeof(*ret_cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ret_cred, &cred_len) < 0)
                return -errno;
        return 1;
}

/* Only PID 1 of our own pid namespace counts: in split mode the other
 * container's init (and any process of the user's that took a name) reads
 * as pid 0 or as a pid other than 1. */
int readiness_check(const char **ret_why) {
        struct ucred cred;
        *ret_why = "the init has not reported the firewall ready (yet)";
        for (int agent = 0; agent <= 1; agent++) {
                int r = readiness_peer(agent, &cred);
                if (r < 0)
                        return r;
                if (r == 1 && cred.pid == 1)
                        return 1;
                if (r > 0 && !agent)
                        *ret_why = "the readiness socket is held by a process other than the init (PID 1 of this container)";
        }
        return 0;
}

int readiness_firewall_check(const char **ret_why) {
        struct ucred cred;
        int r = readiness_peer(false, &cred);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret_why = "no firewall in this network namespace has reported ready (yet)";
                return 0;
        }
        if (r == 2) {
                *ret_why = "the firewall's readiness name is held by a process that accepts no connections";
                return 0;
        }
        /* Nothing in the agent's container can act as uid 0: it runs as the
         * sandbox user with no capability and no_new_privs. */
        if (cred.uid != 0) {
                *ret_why = "the firewall's readiness socket is held by a process that is not root";
                return 0;
        }
        return 1;
}
