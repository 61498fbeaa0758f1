/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

struct loop_io {
        int fd;
        loop_io_fn fn;
        void *userdata;
        struct loop_io *next;
};

struct loop_timer {
        const void *owner;
        uint64_t deadline_usec;
        loop_timer_fn fn;
        void *userdata;
        bool armed;
};

/* A few components own a timer each (resolver, meta fetch, refresh,
 * self-check, grace period); a fixed table scanned linearly is simplest. */
#define LOOP_MAX_TIMERS 32

struct loop {
        int epoll_fd;
        struct loop_io *ios;
        struct loop_timer timers[LOOP_MAX_TIMERS];
        bool quit;
        int quit_code;
};

uint64_t loop_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

int loop_new(struct loop **ret) {
        struct loop *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epoll_fd < 0) {
                int r = negative_errno();
                free(l);
                return r;
        }
        *ret = l;
        return 0;
}

void loop_free(struct loop *l) {
        if (!l)
                return;
        while (l->ios) {
                struct loop_io *next = l->ios->next;
                free(l->ios);
                l->ios = next;
        }
        close(l->epoll_fd);
        free(l);
}

static struct loop_io **find_io(struct loop *l, int fd) {
        for (struct loop_io **p = &l->ios; *p; p = &(*p)->next)
                if ((*p)->fd == fd)
                        return p;
        return NULL;
}

int loop_add_io(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata) {
        if (find_io(l, fd))
                return -EEXIST;
        struct loop_io *io = calloc(1, sizeof(*io));
        if (!io)
                return -ENOMEM;
        *io = (struct loop_io) {.fd = fd, .fn = fn, .userdata = userdata, .next = l->ios};
        struct epoll_event ev = {.events = events, .data.ptr = io};
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = negative_errno();
                free(io);
                return r;
        }
        l->ios = io;
        return 0;
}

int loop_modify_io(struct loop *l, int fd, uint32_t events) {
        struct loop_io **p = find_io(l, fd);
        if (!p)
                return -ENOENT;
        struct epoll_event ev = {.events = events, .data.ptr = *p};
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0)
                return negative_errno();
        return 0;
}

int loop_remove_io(struct loop *l, int fd) {
        struct loop_io **p = find_io(l, fd);
        if (!p)
                return -ENOENT;
        struct loop_io *io = *p;
        /* The fd may already be closed (c-ares closes before telling us);
         * the kernel then dropped it from the epoll set by itself. */
        (void) epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        *p = io->next;
        free(io);
        return 0;
}

int loop_set_timer(struct loop *l, const void *owner, uint64_t deadline_usec,
                   loop_timer_fn fn, void *userdata) {
        struct loop_timer *free_slot = NULL;
        for (size_t i = 0; i < LOOP_MAX_TIMERS; i++) {
                struct loop_timer *t = &l->timers[i];
                if (t->armed && t->owner == owner) {
                        free_slot = t;
                        break;
                }
                if (!t->armed && !free_slot)
                        free_slot = t;
        }
        if (!free_slot)
                return -ENOSPC;
        *free_slot = (struct loop_timer) {
                .owner = owner, .deadline_usec = deadline_usec,
                .fn = fn, .userdata = userdata, .armed = true,
        };
        return 0;
}

void loop_cancel_timer(struct loop *l, const void *owner) {
        for (size_t i = 0; i < LOOP_MAX_TIMERS; i++)
                if (l->timers[i].armed && l->timers[i].owner == owner)
                        l->timers[i].armed = false;
}

/* Milliseconds until the earliest deadline, rounded up so we never wake
 * early and spin; -1 (sleep forever) when no timer is armed. */
static int next_timeout_ms(const struct loop *l, uint64_t now) {
        uint64_t earliest = UINT64_MAX;
        for (size_t i = 0; i < LOOP_MAX_TIMERS; i++)
                if (l->timers[i].armed && l->timers[i].deadline_usec < earliest)
                        earliest = l->timers[i].deadline_usec;
        if (earliest == UINT64_MAX)
                return -1;
        if (earliest <= now)
                return 0;
        uint64_t ms = (earliest - now + 999) / 1000;
        return ms > INT_MAX ? INT_MAX : (int) ms;
}

static int dispatch_timers(struct loop *l) {
        uint64_t now = loop_now_usec();
        for (size_t i = 0; i < LOOP_MAX_TIMERS; i++) {
                struct loop_timer *t = &l->timers[i];
                if (!t->armed || t->deadline_usec > now)
                        continue;
                t->armed = false;
                int r = t->fn(l, t->userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int loop_run_once(struct loop *l) {
        struct epoll_event events[16];
        int n = epoll_wait(l->epoll_fd, events, (int) ELEMENTSOF(events),
                           next_timeout_ms(l, loop_now_usec()));
        if (n < 0)
                return errno == EINTR ? 0 : negative_errno();

        for (int i = 0; i < n; i++) {
                struct loop_io *io = events[i].data.ptr;
                /* An earlier callback in this batch may have removed io. */
                bool live = false;
                for (struct loop_io *p = l->ios; p; p = p->next)
                        if (p == io) {
                                live = true;
                                break;
                        }
                if (!live)
                        continue;
                int r = io->fn(l, io->fd, events[i].events, io->userdata);
                if (r < 0)
                        return r;
        }
        return dispatch_timers(l);
}

int loop_run(struct loop *l) {
        while (!l->quit) {
                int r = loop_run_once(l);
                if (r < 0)
                        return r;
        }
        return l->quit_code;
}

void loop_quit(struct loop *l, int code) {
        l->quit = true;
        l->quit_code = code;
}

bool loop_quitting(const struct loop *l) {
        return l->quit;
}
