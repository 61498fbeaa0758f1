/* SPDX-License-Identifier: MIT */
#include "aresloop.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

static int on_timeout(struct loop *l, void *userdata) {
        struct aresloop *a = userdata;
        /* With no fd given, c-ares only handles what has timed out. */
        ares_process_fd(a->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        aresloop_arm_timer(a);
        return 0;
}

void aresloop_arm_timer(struct aresloop *a) {
        struct timeval tv;
        if (!ares_timeout(a->channel, NULL, &tv)) {
                loop_cancel_timer(a->loop, a);
                return;
        }
        uint64_t deadline = loop_now_usec() + (uint64_t) tv.tv_sec * 1000000u + (uint64_t) tv.tv_usec;
        (void) loop_set_timer(a->loop, a, deadline, on_timeout, a);
}

static int on_io(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct aresloop *a = userdata;
        ares_socket_t rfd = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
        ares_socket_t wfd = (events & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
        ares_process_fd(a->channel, rfd, wfd);
        aresloop_arm_timer(a);
        return 0;
}

/* c-ares tells us which of its sockets to watch, and when it closed one. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable) {
        struct aresloop *a = data;
        uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
        if (!readable && !writable) {
                (void) loop_remove_io(a->loop, fd);
                return;
        }
        if (loop_modify_io(a->loop, fd, events) == -ENOENT)
                (void) loop_add_io(a->loop, fd, events, on_io, a);
}

int aresloop_init(struct aresloop *a, struct loop *l, const char *resolv_conf, unsigned timeout_ms,
                  unsigned tries) {
        *a = (struct aresloop) { .loop = l };
        struct ares_options opts = {
                .sock_state_cb = on_sock_state,
                .sock_state_cb_data = a,
                .timeout = (int) timeout_ms,
                .tries = (int) tries,
                .resolvconf_path = (char *) resolv_conf,
        };
        int optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_RESOLVCONF;
        int status = ares_init_options(&a->channel, &opts, optmask);
        if (status != ARES_SUCCESS)
                a->channel = NULL;
        return status;
}

void aresloop_done(struct aresloop *a) {
        if (!a->channel)
                return;
        loop_cancel_timer(a->loop, a);
        ares_destroy(a->channel);
        a->channel = NULL;
}
