/* SPDX-License-Identifier: MIT */
/* PID 1's supervision of one privilege-separated child (the DNS resolver,
 * the name gate): forked with a control socket, its first steps done
 * (childproc.h, then its own user without any capability, not dumpable,
 * killed with PID 1), watched through a pidfd, and started again when it
 * dies: after the shortest backoff if it had run for a minute, else after
 * one twice the last, up to a ceiling. Meanwhile what it serves fails closed: the
 * caller's listening sockets stay in place but nobody answers them. The
 * supervisor reaps (supervise.c); this only watches. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

/* Descriptors a child may take besides its control socket. */
#define CHILDSUP_KEEP_MAX 8

/* In the child, its privileges dropped: fds are the caller's keep_fds
 * renumbered from 3 (-1 stays -1), then the control socket. The child
 * exits 1 on a negative return, else 0. */
typedef int (*childsup_main_fn)(const int *fds, void *userdata);

struct childsup_config {
        const char *name;               /* "DNS resolver": every line about it names it */
        const char *comm;               /* what `ps` shows: "dns-resolver" */
        const char *while_down;         /* what fails until it is back: "DNS fails" */
        uid_t uid;                      /* the child's own user */
        gid_t gid;
        uint16_t port;                  /* where it serves on loopback, for the log */
        const int *keep_fds;            /* read at each fork; the caller's, which must outlive this */
        size_t n_keep_fds;              /* at most CHILDSUP_KEEP_MAX */
        childsup_main_fn child_main;
        loop_io_fn on_control;          /* PID 1's end of the control socket is readable */
        void *userdata;                 /* for both */
        pid_t *published_pid;           /* set to the child's pid while one runs, else 0; may be NULL */
};

struct childsup {
        struct loop *loop;
        struct childsup_config cfg;
        bool wanted;                    /* started and not stopped since: restart when it dies */
        pid_t pid;                      /* 0: no child */
        int control_fd;                 /* our end; -1 without a child */
        int pidfd;
        uint64_t started_usec;
        unsigned backoff_ms;
};

void childsup_init(struct childsup *c, struct loop *l, const struct childsup_config *cfg);

/* Starts the child now, the backoff reset (a new policy: a fresh start).
 * A child still running must be stopped or forgotten first. -errno,
 * logged; the child is then not restarted until the next call. */
int childsup_start(struct childsup *c);

/* Kills the child, if any, and cancels a pending restart. */
void childsup_stop(struct childsup *c);

/* The child broke its protocol: killed, and started again after the
 * shortest backoff. */
void childsup_restart(struct childsup *c);

/* Lets the running child go unwatched and unkilled, its control socket
 * closed: for a caller that took over its pidfd (a dup) to let it finish. */
void childsup_forget(struct childsup *c);

/* The running child's pidfd, else -1. */
int childsup_pidfd(const struct childsup *c);
