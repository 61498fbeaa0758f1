/* SPDX-License-Identifier: MIT */
/* The sandbox's name gate: a child of PID 1 that holds no privilege and
 * decides, packet by packet, whether the TCP connections to name-checked
 * ports (policy name_check:) of destinations the policy allows because of
 * a name carry an allowed name. Such a connection goes direct: nftables
 * queues its packets (nft_rules.c) and PID 1 hands each to this child
 * (namegate_proto.h), whose verdict PID 1 gives the kernel. The child
 * follows the connection's two byte streams from their SYNs and runs them
 * through the name check (namecheck.h) as they come: bytes within what the
 * last check vouched for pass at once; a packet whose bytes a check still
 * waits on is held (no verdict yet) until the check decides, so nothing
 * of a refused request or ClientHello reaches the server. Once a flow needs
 * no more checks (a TLS server's first record seen), a verdict tells the
 * kernel, and its packets no longer come here: a checked connection runs
 * at the kernel's speed. Nothing is decrypted.
 *
 * What PID 1 does before it calls namegate_main() in the forked child, as
 * for the resolver (dnsproxy.h): a SOCK_SEQPACKET control socket, every
 * other fd closed, the environment wiped, the gate's own user with every
 * capability set empty, no_new_privs, not dumpable.
 *
 * Fail closed: a packet of a flow whose SYN this child did not see (it
 * started after it), or that it cannot follow (a gap, IPv6 extension
 * headers, urgent data while a check is due, the end of a stream in the
 * middle of a check), is refused. Bounded: a flow costs a small struct,
 * and a check buffer of at most SNIFF_BYTES_MAX per side only while it
 * holds packets; held packets wait at most hello_timeout_ms. */
#pragma once

struct policy;

struct namegate_config {
        int control_fd;                 /* SOCK_SEQPACKET to PID 1 */
        const struct policy *policy;    /* expanded */

        /* 0 takes the default in brackets (timeouts.h). */
        unsigned hello_timeout_ms;      /* [TIMEOUT_GATE_CHECK_MS]: a check waiting on bytes */
        unsigned idle_timeout_ms;       /* [TIMEOUT_GATE_IDLE_MS]: a flow before its first check, silent */
        unsigned max_flows;             /* [NAMEGATE_FLOWS_MAX] */
};

#define NAMEGATE_FLOWS_MAX 8192u

/* Runs until PID 1 closes the control socket (0), or fails to start or
 * its loop fails (-errno, stderr says why). Takes cfg->control_fd. */
int namegate_main(const struct namegate_config *cfg);
