/* SPDX-License-Identifier: MIT */
/* PID 1's side of the name-checking splice proxy (spliceproxy.h): the
 * listening sockets on loopback, held for the life of the sandbox (while
 * the child restarts, redirected connections wait in them or, once the
 * backlog is full, are refused: checked traffic fails closed, never
 * open); the child, forked under its own user without any capability and
 * restarted with backoff when it dies; and its refusal reports, checked
 * and put into the denial stream by name. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

/* Where the proxy listens: 127.0.0.1 and ::1, beside the resolver's port
 * and for the same reasons (dnsproxy_parent.h). */
#define SPLICEPROXY_PORT 1054

struct policy;
struct denials;

struct spliceproxy_parent_config {
        uint16_t port;
        uid_t uid;                      /* the proxy's own user */
        gid_t gid;
        struct denials *denials;        /* refusals go there; NULL: only counted */
};

struct spliceproxy_parent;

/* Takes the listening sockets; the child starts with spliceproxy_parent_use().
 * -errno, logged. */
int spliceproxy_parent_new(struct loop *l, const struct spliceproxy_parent_config *cfg,
                           struct spliceproxy_parent **ret);

/* (Re)starts the child for this policy (expanded; it must outlive its use
 * here, until the next call or the free). */
int spliceproxy_parent_use(struct spliceproxy_parent *s, const struct policy *policy);

/* The child's pid while one runs, else 0. */
pid_t spliceproxy_parent_child(void);

/* Whether pid is the child or one of an earlier policy still finishing
 * its connections: processes of ours, not of the user's. */
bool spliceproxy_parent_owns(pid_t pid);

void spliceproxy_parent_free(struct spliceproxy_parent *s);
