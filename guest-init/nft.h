/* SPDX-License-Identifier: MIT */
/* The sandbox firewall: table inet agent_sandbox, programmed through
 * libnftnl/libmnl in single atomic transactions. Output is denied by
 * default, and what is denied is rejected at once (TCP reset, ICMP
 * administratively prohibited) so that tools fail in milliseconds; allowed
 * are loopback, replies of allowed connections, IPv6 neighbour discovery,
 * DNS to the configured resolvers, and the allowed TCP ports on the allowed
 * destinations. Input takes only loopback and replies. IPv4 and IPv6 are
 * treated alike.
 *
 * Errors: every function returns -errno and has logged one line naming the
 * step the kernel refused. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "prefix.h"

/* Ports that one service adds, open only to that service's own
 * destinations: sets svc_NAME_v4, svc_NAME_v6 (interval) and
 * svc_NAME_tcp_ports, and per family the rule
 * "tcp dport @svc_NAME_tcp_ports ip daddr @svc_NAME_v4 accept".
 * Ports for every allowed destination are nft_policy.tcp_ports. */
struct nft_service {
        const char *name;                       /* catalog name, [a-z0-9_-] */
        const struct ip_prefix *allowed;        /* its destinations; may overlap, duplicate, nest */
        size_t n_allowed;
        const uint16_t *tcp_ports;              /* host byte order */
        size_t n_tcp_ports;
};

struct nft_policy {
        const struct ip_prefix *allowed;        /* destinations, IPv4 and IPv6 mixed; may overlap, duplicate, nest */
        size_t n_allowed;
        const uint16_t *tcp_ports;              /* allowed destination TCP ports, host byte order */
        size_t n_tcp_ports;
        const struct ip_prefix *resolvers;      /* DNS servers allowed on UDP and TCP port 53 */
        size_t n_resolvers;
        /* Docker's embedded DNS (127.0.0.11) forwards queries upstream from
         * sockets dockerd (uid 0) opens inside this network namespace: let
         * DNS from uid 0 out, or name resolution stops once the rules are in.
         * Nothing of the user's runs as uid 0. */
        bool root_dns_forwarding;
        /* The sandbox's DNS resolver (dnsproxy.c) listens on loopback on
         * this port (0: none, DNS goes to the configured servers as sent):
         * every DNS packet of anything but the resolver's uid, uid 0 and
         * the init's own sockets is redirected to it, and only the
         * resolver's uid may send DNS to the configured servers. */
        uint16_t resolver_port;
        uint32_t resolver_uid;
        /* The name gate (namegate.h) reads this queue (0: none): new TCP
         * connections to name_checked_ports of a destination in the allowed
         * or learned sets but not in by_address go through it until it has
         * read their names, except the init's own sockets.
         * name_checked_ports must be ports the policy allows to every
         * destination. by_address is what the policy allows by address
         * (cidrs:, GitHub's meta ranges), which the gate never sees. */
        uint16_t gate_queue;
        const uint16_t *name_checked_ports;
        size_t n_name_checked_ports;
        const struct ip_prefix *by_address;
        size_t n_by_address;
        /* Empty the sets of the resolver's answers in the same transaction
         * (a new policy: it may not allow their names). Otherwise they are
         * kept. */
        bool flush_learned;
        /* Before the reject rules, a rule that sends the headers of what is
         * refused to this nfnetlink_log group (0: none), at most
         * SBX_DENIAL_LOG_RATE a second after a burst of
         * SBX_DENIAL_LOG_BURST, for PID 1's denial log (denial_nflog.h). */
        uint16_t log_group;
        /* Keep the list the same from one apply to the next (every catalog
         * service that adds ports, empty when unused): sets of a service
         * left out stay in the table, unreferenced. */
        const struct nft_service *services;
        size_t n_services;
};

#define SBX_DENIAL_LOG_RATE 50
#define SBX_DENIAL_LOG_BURST 100
/* Enough for an IPv4 header with options, or IPv6's, and the first 8
 * bytes of TCP, UDP or ICMP: the ports or the type. */
#define SBX_DENIAL_LOG_SNAPLEN 80

struct nft_stats {
        size_t v4_intervals, v6_intervals;      /* allowed destinations after merging */
        size_t service_v4_intervals, service_v6_intervals;     /* the services' sets written, summed */
        size_t messages;                        /* netlink messages in the batch, BEGIN and END included */
};

/* Creates table inet agent_sandbox, or replaces its rules and set contents,
 * in one transaction: until the kernel commits it the old rules stay in
 * force, a failure leaves them as they were, and connections the old and
 * new policies both allow are never interrupted. Applying twice leaves one
 * table. */
int nft_apply_policy(const struct nft_policy *p, struct nft_stats *ret_stats);

/* Replaces only the contents of allowed_v4 and allowed_v6 in one
 * transaction (after DNS answers change). Established connections are not
 * affected: they are accepted by conntrack state, not by address. The table
 * must exist (-ENOENT otherwise). */
int nft_update_allowed(const struct ip_prefix *allowed, size_t n_allowed, struct nft_stats *ret_stats);

/* The same for any of the address sets, in one transaction: allowed_v4/_v6
 * when update_allowed, and svc_NAME_v4/_v6 of each service given (pass only
 * those whose addresses changed; their ports are not touched). A refresh
 * that changes one name of one service costs BEGIN, END and per pair of
 * sets two flushes and the elements. */
struct nft_sets_update {
        bool update_allowed;
        const struct ip_prefix *allowed;
        size_t n_allowed;
        const struct nft_service *services;
        size_t n_services;
};
int nft_update_sets(const struct nft_sets_update *u, struct nft_stats *ret_stats);

/* Addresses the sandbox's resolver handed out: each added to learned_v4 or
 * learned_v6 with its own timeout, after the elements of del are removed
 * (an element added again keeps its first timeout on older kernels, so one
 * that must live longer is replaced), in one transaction. At most 1024 of
 * each. Established connections to an address that expires stay up. */
struct nft_learned {
        struct ip_prefix addr;          /* a /32 or /128 */
        uint64_t timeout_ms;
};
int nft_learned_update(const struct nft_learned *add, size_t n_add, const struct nft_learned *del, size_t n_del);

/* Whether table inet agent_sandbox exists: 1, 0, or -errno. */
int nft_table_exists(void);
