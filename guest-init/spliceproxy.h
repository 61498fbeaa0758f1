/* SPDX-License-Identifier: MIT */
/* The sandbox's name-checking splice proxy: a child of PID 1 that holds no
 * privilege. nftables redirects to it the TCP connections to the
 * name-checked ports (policy name_check:) of destinations the policy allows
 * because of a name; it peeks at the first bytes without consuming them (a
 * TLS ClientHello or an HTTP/1.x request head, sniff.h), and when the name
 * they carry is allowed it connects to the original destination
 * (SO_ORIGINAL_DST) and splices both directions through a pipe each: the
 * bytes it peeked go through unchanged, nothing is decrypted. Otherwise
 * the client gets a reset and PID 1 a SPLICEPROXY_REFUSED.
 *
 * What PID 1 does before it calls spliceproxy_main() in the forked child,
 * as for the resolver (dnsproxy.h): the listening sockets on 127.0.0.1 and
 * ::1, a SOCK_SEQPACKET control socket, every other fd closed, the
 * environment wiped, the proxy's own user with every capability set
 * empty, no_new_privs, not dumpable. Its outgoing connections are exempt
 * from the redirect by that user (meta skuid) and meet the same filter
 * rules as the client's.
 *
 * Bounded: one peek buffer for all connections; per connection a small
 * struct, and two pipes once it is spliced; connections that say nothing
 * are closed after hello_timeout_ms, spliced ones idle for idle_timeout_ms;
 * deadlines are kept in lists ordered by construction, so an idle proxy
 * sleeps until the next one. */
#pragma once

struct policy;

struct spliceproxy_config {
        int listen4_fd, listen6_fd;     /* listening TCP sockets, or -1 */
        int control_fd;                 /* SOCK_SEQPACKET to PID 1 */
        const struct policy *policy;    /* expanded */

        /* 0 takes the default in brackets (timeouts.h). */
        unsigned hello_timeout_ms;      /* [TIMEOUT_PROXY_HELLO_MS] */
        unsigned connect_timeout_ms;    /* [TIMEOUT_PROXY_CONNECT_MS] */
        unsigned idle_timeout_ms;       /* [TIMEOUT_PROXY_IDLE_MS] */
        unsigned max_conns;             /* [SPLICEPROXY_CONNS_MAX], and what the fd limit allows */
};

#define SPLICEPROXY_CONNS_MAX 8192u

/* Runs until PID 1 closes the control socket (0), or fails to start or
 * its loop fails (-errno, stderr says why). Takes every fd in cfg. */
int spliceproxy_main(const struct spliceproxy_config *cfg);
