/* SPDX-License-Identifier: MIT */
/* The one event loop of PID 1: epoll over every fd we wait on (signalfd,
 * c-ares sockets, the meta fetch child's pipe, self-check sockets, the
 * health check's listening socket) plus a handful of deadlines. It sleeps
 * until an fd is ready or the earliest deadline is due, so an idle init
 * makes no wake-ups at all. No threads. Netlink to nf_tables is a blocking
 * request and reply outside the loop; curl runs only in the meta child. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* Called with the epoll events that fired. A negative return is logged by
 * the caller of loop_run() and stops the loop. */
typedef int (*loop_io_fn)(struct loop *l, int fd, uint32_t events, void *userdata);

/* Called once when the deadline passes; the timer is disarmed first, so the
 * callback may re-arm it. */
typedef int (*loop_timer_fn)(struct loop *l, void *userdata);

int loop_new(struct loop **ret);
void loop_free(struct loop *l);

/* fd must not be registered yet; events are EPOLLIN/EPOLLOUT/... */
int loop_add_io(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata);
int loop_modify_io(struct loop *l, int fd, uint32_t events);
int loop_remove_io(struct loop *l, int fd);

/* Timers are identified by the caller's pointer `owner`: one timer per
 * owner; setting it again moves the deadline. deadline_usec is on the
 * CLOCK_MONOTONIC scale of loop_now_usec(). */
int loop_set_timer(struct loop *l, const void *owner, uint64_t deadline_usec,
                   loop_timer_fn fn, void *userdata);
void loop_cancel_timer(struct loop *l, const void *owner);

uint64_t loop_now_usec(void);

/* Wait once (until an fd is ready or a deadline is due) and dispatch.
 * Returns a callback's negative error, or 0. */
int loop_run_once(struct loop *l);

/* Dispatch until loop_quit() or an error. Returns the error, or the code
 * passed to loop_quit(). */
int loop_run(struct loop *l);
void loop_quit(struct loop *l, int code);
bool loop_quitting(const struct loop *l);
