/* SPDX-License-Identifier: MIT */
/* The sandbox's DNS resolver: a child of PID 1 that holds no privilege,
 * answers the sandbox's queries for names the policy allows, refuses the
 * others locally, and asks PID 1 (dnsproxy_proto.h) to allow every
 * address it hands out before the client sees the answer.
 *
 * What PID 1 does before it calls dnsproxy_main() in the forked child:
 *   - creates the listening sockets on 127.0.0.1 and ::1 (port 53, or the
 *     port its nftables redirect targets): UDP bound, TCP bound and
 *     listen()ing; any of them may be -1 (e.g. no IPv6); at least one
 *   - creates socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC) and passes
 *     one end as control_fd, closing its own copy of that end
 *   - closes every other fd it holds (signalfd, netlink, its own c-ares
 *     sockets, the agent's pty) and resets signal mask and dispositions
 *   - drops privilege: the resolver's own user and group, no
 *     supplementary groups, every capability set empty, no_new_privs,
 *     PR_SET_DUMPABLE 0
 * The child inherits PID 1's memory, so the policy is passed by pointer;
 * to change the policy PID 1 closes its end of the control socket (the
 * child exits 0) and starts a new child.
 *
 * What PID 1 does while it runs: reads each DNSPROXY_ALLOW, checks it and
 * answers one DNSPROXY_ALLOWED with the same seq (status 0 only when every
 * address is in the sets); logs each DNSPROXY_REFUSED. The child never
 * blocks on the control socket: a refusal notice that does not fit is
 * dropped (and counted on stderr), an ALLOW that does not fit makes that
 * answer SERVFAIL. */
#pragma once

#include <stdint.h>

struct policy;

struct dnsproxy_config {
        int udp4_fd, udp6_fd;           /* bound UDP sockets, or -1 */
        int tcp4_fd, tcp6_fd;           /* listening TCP sockets, or -1 */
        int control_fd;                 /* SOCK_SEQPACKET to PID 1 */
        const struct policy *policy;    /* expanded (policy_expand()) */
        const char *resolv_conf;        /* the upstream servers; NULL: /etc/resolv.conf */

        /* 0 takes the default in brackets (timeouts.h). */
        unsigned upstream_timeout_ms;   /* per try [TIMEOUT_DNS_TRY_MS] */
        unsigned upstream_tries;        /* [DNS_TRIES] */
        unsigned allow_timeout_ms;      /* wait for PID 1's DNSPROXY_ALLOWED [TIMEOUT_DNS_ALLOW_MS] */
        unsigned max_inflight;          /* queries in flight; beyond: SERVFAIL [1024] */
        unsigned max_tcp_clients;       /* [64]; beyond, new connections are closed */
        unsigned tcp_idle_timeout_ms;   /* [TIMEOUT_DNS_TCP_IDLE_MS] */
};

/* Runs the resolver until PID 1 closes the control socket: then returns 0.
 * A negative errno when it cannot start (stderr says why) or the loop
 * fails; the caller _exit()s with 0 or 1 accordingly. Takes ownership of
 * every fd in cfg. */
int dnsproxy_main(const struct dnsproxy_config *cfg);
