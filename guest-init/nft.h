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
};

struct nft_stats {
        size_t v4_intervals, v6_intervals;      /* allowed destinations after merging */
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

/* Whether table inet agent_sandbox exists: 1, 0, or -errno. */
int nft_table_exists(void);
