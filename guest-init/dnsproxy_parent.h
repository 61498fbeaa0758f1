/* SPDX-License-Identifier: MIT */
/* PID 1's side of the sandbox's DNS resolver (dnsproxy.h): the listening
 * sockets on loopback, held for the life of the sandbox so that nobody else
 * can take the port and queries wait in them while the child restarts; the
 * child, forked under its own user without any capability and restarted
 * with backoff when it dies; and every DNSPROXY_ALLOW it sends, checked
 * (the name against the policy, each address against the rebinding guard)
 * and put into the learned sets with a timeout before it is acknowledged.
 * Refused queries join the denial stream (denials.h), by name. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

/* Where the resolver listens: 127.0.0.1 and ::1. Above 1023 so that PID 1
 * needs no CAP_NET_BIND_SERVICE, below the ephemeral range so that no
 * connection of the sandbox holds it already. */
#define DNSPROXY_PORT 1053

struct policy;
struct guard;
struct denials;
struct ip_prefix;

struct dnsproxy_parent_config {
        const char *resolv_conf;        /* the upstream servers; NULL: /etc/resolv.conf */
        uint16_t port;
        uid_t uid;                      /* the resolver's own user */
        gid_t gid;
        /* Refused queries go there, and the names of the addresses handed
         * out; NULL: neither is reported. */
        struct denials *denials;
};

struct dnsproxy_parent;

/* Takes the listening sockets; the child starts with dnsproxy_parent_use().
 * -errno, logged (a port somebody else holds is an error: fail closed). */
int dnsproxy_parent_new(struct loop *l, const struct dnsproxy_parent_config *cfg, struct dnsproxy_parent **ret);

/* (Re)starts the child for this policy (expanded; it and the guard must
 * outlive their use here, until the next call or the free). What it
 * learned under an earlier policy is forgotten: the rules of the new one
 * emptied the learned sets in their own transaction (nft_policy's
 * flush_learned). */
int dnsproxy_parent_use(struct dnsproxy_parent *d, const struct policy *policy, struct guard *guard);

/* Whether the rules allow addr without a learned entry. */
typedef bool (*dnsproxy_static_fn)(const struct ip_prefix *addr, void *userdata);
/* When the learned table is full, an answer's addresses that fn allows
 * need no entry (without it, every answer then fails). */
void dnsproxy_parent_set_static(struct dnsproxy_parent *d, dnsproxy_static_fn fn, void *userdata);

/* Whether the rules allow addr now because the resolver handed it out. */
bool dnsproxy_parent_allows(const struct dnsproxy_parent *d, const struct ip_prefix *addr);

/* The child's pid while one runs, else 0 (not one of the user's processes). */
pid_t dnsproxy_parent_child(void);

/* Stops the child; NULL is fine. */
void dnsproxy_parent_free(struct dnsproxy_parent *d);
