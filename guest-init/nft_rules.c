/* SPDX-License-Identifier: MIT */
/* The two base chains. Both drop by policy; every accept below is a hole
 * made on purpose, and what is not accepted in output is rejected with a
 * reset or an ICMP error first, so that a blocked tool fails in
 * milliseconds instead of hanging until its own timeout.
 *
 * Rules are built from the kernel's expressions (meta, payload, cmp, ct,
 * bitwise, lookup, range, counter, reject, immediate), the same ones nft
 * would generate, so that `nft list ruleset` prints them readably. */
#include "nft_rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "nft.h"
#include "nft_defs.h"
#include "nft_expr.h"
#include "netmark.h"
#include "nft_sets.h"

/* The loopback device has this index in every network namespace. */
#define LOOPBACK_IFINDEX 1

static void match_u8(struct nft_rule_builder *rb, uint32_t meta_key, uint8_t value) {
        nft_expr_meta(rb, meta_key);
        nft_expr_cmp(rb, NFT_CMP_EQ, &value, sizeof(value));
}

static void match_ifindex(struct nft_rule_builder *rb, uint32_t meta_key, uint32_t ifindex) {
        nft_expr_meta(rb, meta_key);
        nft_expr_cmp(rb, NFT_CMP_EQ, &ifindex, sizeof(ifindex));
}

/* meta nfproto ipvX meta l4proto P: also what makes the payload offsets
 * below mean what they should. */
static void match_protocols(struct nft_rule_builder *rb, uint8_t nfproto, uint8_t l4proto) {
        match_u8(rb, NFT_META_NFPROTO, nfproto);
        match_u8(rb, NFT_META_L4PROTO, l4proto);
}

/* th dport: the destination port sits at the same offset in TCP and UDP. */
static void load_dport(struct nft_rule_builder *rb) {
        nft_expr_payload(rb, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
}

static void load_daddr(struct nft_rule_builder *rb, uint8_t nfproto) {
        if (nfproto == NFPROTO_IPV4)
                nft_expr_payload(rb, NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
        else
                nft_expr_payload(rb, NFT_PAYLOAD_NETWORK_HEADER, 24, 16);
}

/* IPv6 neighbour discovery: solicitation (135) and advertisement (136).
 * Conntrack leaves these untracked, so "established" never covers them,
 * and without them no IPv6 neighbour is ever resolved: IPv6 would not work
 * at all. Hop limit 255 is what RFC 4861 requires of genuine ND and limits
 * the hole to the local link. Router advertisements are left out on purpose:
 * container networks configure IPv6 statically, and accepting them would
 * let anything on the bridge redirect the default route. MLD is not needed
 * either: a bridge without a querier floods multicast. */
static void match_neighbour_discovery(struct nft_rule_builder *rb) {
        uint8_t hoplimit = 255;
        match_protocols(rb, NFPROTO_IPV6, IPPROTO_ICMPV6);
        nft_expr_payload(rb, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
        nft_expr_range_u8(rb, 135, 136);
        nft_expr_payload(rb, NFT_PAYLOAD_NETWORK_HEADER, 7, 1);
        nft_expr_cmp(rb, NFT_CMP_EQ, &hoplimit, sizeof(hoplimit));
}

typedef void (*rule_body_t)(struct nft_rule_builder *rb, const struct nft_policy *p);

struct rule_def {
        const char *comment;
        rule_body_t body;
        bool with_resolver_only;        /* only when nft_policy.resolver_port is set */
        bool with_gate_only;            /* only when nft_policy.gate_queue is set */
};

static int rules_add(struct nft_batch *b, const char *chain, const struct rule_def *defs, size_t n,
                     const struct nft_policy *p) {
        for (size_t i = 0; i < n; i++) {
                struct nft_rule_builder rb;
                if (defs[i].with_resolver_only && !p->resolver_port)
                        continue;
                if (defs[i].with_gate_only && !p->gate_queue)
                        continue;
                int r = nft_rule_begin(&rb, chain, defs[i].comment);
                if (r == 0) {
                        defs[i].body(&rb, p);
                        r = nft_rule_end(b, &rb, chain, defs[i].comment);
                }
                if (r < 0) {
                        if (rb.r)
                                nftnl_rule_free(rb.r);
                        return log_error_errno(r, "nftables: building rule \"%s\" failed: %m", defs[i].comment);
                }
        }
        return 0;
}

static void body_oif_lo(struct nft_rule_builder *rb, const struct nft_policy *p) {
        match_ifindex(rb, NFT_META_OIF, LOOPBACK_IFINDEX);
        nft_expr_verdict(rb, NF_ACCEPT);
}

static void body_iif_lo(struct nft_rule_builder *rb, const struct nft_policy *p) {
        match_ifindex(rb, NFT_META_IIF, LOOPBACK_IFINDEX);
        nft_expr_verdict(rb, NF_ACCEPT);
}

/* Every accept below marks its flow, and only marked flows count as
 * established: a connection opened before the rules were in place (in the
 * instant between the container's start and the init's first act) or let
 * through by anything but these rules has no mark, and its next packet is
 * refused. Refreshes and reloads keep the mark: what was allowed when it
 * opened stays up. */
static void accept_with_mark(struct nft_rule_builder *rb, uint32_t ct_mark) {
        nft_expr_ct_set_mark(rb, ct_mark);
        nft_expr_verdict(rb, NF_ACCEPT);
}

static void accept_and_mark(struct nft_rule_builder *rb) {
        accept_with_mark(rb, NETMARK_CT_ALLOWED);
}

/* Replies of allowed connections, and the ICMP errors that belong to them
 * (unreachable, packet too big: conntrack marks those "related"), which
 * path MTU discovery and fast failure depend on. */
static void body_established(struct nft_rule_builder *rb, const struct nft_policy *p) {
        uint32_t family = NETMARK_CT_FAMILY;
        nft_expr_ct_state_any(rb, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
        nft_expr_ct(rb, NFT_CT_MARK);
        nft_expr_and(rb, NETMARK_CT_MASK);
        nft_expr_cmp(rb, NFT_CMP_EQ, &family, sizeof(family));
        nft_expr_verdict(rb, NF_ACCEPT);
}

static void match_skuid(struct nft_rule_builder *rb, uint32_t op, uint32_t uid) {
        nft_expr_meta(rb, NFT_META_SKUID);
        nft_expr_cmp(rb, op, &uid, sizeof(uid));
}

static void match_direction(struct nft_rule_builder *rb, uint8_t dir) {
        nft_expr_ct(rb, NFT_CT_DIRECTION);
        nft_expr_cmp(rb, NFT_CMP_EQ, &dir, sizeof(dir));
}

/* A reply on a flow that an accept rule marked ct_mark (the init's or the
 * resolver's DNS), sent by a local process other than root: only a DNS
 * server in this namespace may answer them (dockerd's embedded DNS, uid 0).
 * Where a configured resolver is a local address nobody listens on, the
 * user could otherwise bind it and answer. */
static void local_reply_on_flows_of(struct nft_rule_builder *rb, uint32_t ct_mark) {
        match_direction(rb, IP_CT_DIR_REPLY);
        nft_expr_ct(rb, NFT_CT_MARK);
        nft_expr_cmp(rb, NFT_CMP_EQ, &ct_mark, sizeof(ct_mark));
        match_skuid(rb, NFT_CMP_NEQ, 0);
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

static void match_init_socket(struct nft_rule_builder *rb, uint32_t op) {
        uint32_t mark = NETMARK_INIT_SOCKET;
        nft_expr_meta(rb, NFT_META_MARK);
        nft_expr_cmp(rb, op, &mark, sizeof(mark));
}

/* The loopback is where a DNS answer can be forged: Docker's embedded DNS
 * is 127.0.0.11, and the sandbox user may bind port 53 on it (Docker sets
 * ip_unprivileged_port_start=0) or on any address (IP_FREEBIND). A packet
 * it starts from port 53 leaves a conntrack entry whose reply direction a
 * later query of the init's would match, skipping Docker's DNAT and
 * reaching the user's socket. So nothing but the init's own sockets may
 * start a flow from port 53 or from 127.0.0.11: answers are replies, never
 * originals. */
static void forged_dns(struct nft_rule_builder *rb, uint8_t l4proto) {
        uint16_t port = htons(53);
        match_direction(rb, IP_CT_DIR_ORIGINAL);
        match_init_socket(rb, NFT_CMP_NEQ);
        match_u8(rb, NFT_META_L4PROTO, l4proto);
        nft_expr_payload(rb, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2);
        nft_expr_cmp(rb, NFT_CMP_EQ, &port, sizeof(port));
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

static void body_forged_dns_udp(struct nft_rule_builder *rb, const struct nft_policy *p) { forged_dns(rb, IPPROTO_UDP); }
static void body_forged_dns_tcp(struct nft_rule_builder *rb, const struct nft_policy *p) { forged_dns(rb, IPPROTO_TCP); }

static void body_forged_docker_dns(struct nft_rule_builder *rb, const struct nft_policy *p) {
        struct in_addr docker_dns = { .s_addr = htonl(0x7f00000b) };   /* 127.0.0.11 */
        match_direction(rb, IP_CT_DIR_ORIGINAL);
        match_init_socket(rb, NFT_CMP_NEQ);
        match_u8(rb, NFT_META_NFPROTO, NFPROTO_IPV4);
        nft_expr_payload(rb, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
        nft_expr_cmp(rb, NFT_CMP_EQ, &docker_dns, sizeof(docker_dns));
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

/* The init only ever starts flows: a packet of its sockets that conntrack
 * takes for a reply belongs to a flow somebody else prepared. */
static void body_init_reply(struct nft_rule_builder *rb, const struct nft_policy *p) {
        match_init_socket(rb, NFT_CMP_EQ);
        match_direction(rb, IP_CT_DIR_REPLY);
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

/* A flow an exemption opened (the init's, the resolver's, uid 0's DNS)
 * goes on only from whom it exempted. Its conntrack entry outlives the
 * socket: another user who binds the same address and port after the
 * socket closed would send on it, skipping the redirect to the resolver
 * and the rules that opened it, and the "established" rule would take
 * the packets for the flow's own. Packets without a full socket (the
 * kernel's, a socket in TIME_WAIT) end the rule at the uid and pass. */
static void flow_sent_by_another(struct nft_rule_builder *rb, uint32_t ct_mark) {
        match_direction(rb, IP_CT_DIR_ORIGINAL);
        nft_expr_ct(rb, NFT_CT_MARK);
        nft_expr_cmp(rb, NFT_CMP_EQ, &ct_mark, sizeof(ct_mark));
}

static void body_init_flow_others(struct nft_rule_builder *rb, const struct nft_policy *p) {
        flow_sent_by_another(rb, NETMARK_CT_INIT);
        match_init_socket(rb, NFT_CMP_NEQ);
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

static void body_resolver_flow_others(struct nft_rule_builder *rb, const struct nft_policy *p) {
        flow_sent_by_another(rb, NETMARK_CT_RESOLVER);
        match_skuid(rb, NFT_CMP_NEQ, p->resolver_uid);
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

static void body_root_dns_flow_others(struct nft_rule_builder *rb, const struct nft_policy *p) {
        flow_sent_by_another(rb, NETMARK_CT_ROOT_DNS);
        match_skuid(rb, NFT_CMP_NEQ, 0);
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

/* The init's own DNS queries and the meta fetch: what it needs to build
 * the rules, also while the table allows nothing else yet. */
/* The resolver's upstream queries, like the init's: only on flows it
 * started, and no local process but root answers them. */
static void body_resolver_reply(struct nft_rule_builder *rb, const struct nft_policy *p) {
        uint16_t port = htons(53);
        match_skuid(rb, NFT_CMP_EQ, p->resolver_uid);
        match_direction(rb, IP_CT_DIR_REPLY);
        load_dport(rb);
        nft_expr_cmp(rb, NFT_CMP_EQ, &port, sizeof(port));
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

static void body_resolver_flow_local_reply(struct nft_rule_builder *rb, const struct nft_policy *p) {
        local_reply_on_flows_of(rb, NETMARK_CT_RESOLVER);
}

/* A packet the NAT chain redirected: the output hook reports the device
 * it was routed to before its destination changed, so the loopback rule
 * does not see it; what it goes to now is the resolver's port on the
 * loopback address. */
static void to_loopback_port(struct nft_rule_builder *rb, uint8_t nfproto, uint16_t port_host_order) {
        uint16_t port = htons(port_host_order);
        struct in_addr lo4 = { .s_addr = htonl(INADDR_LOOPBACK) };
        struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT;
        load_daddr(rb, nfproto);
        if (nfproto == NFPROTO_IPV4)
                nft_expr_cmp(rb, NFT_CMP_EQ, &lo4, sizeof(lo4));
        else
                nft_expr_cmp(rb, NFT_CMP_EQ, &lo6, sizeof(lo6));
        load_dport(rb);
        nft_expr_cmp(rb, NFT_CMP_EQ, &port, sizeof(port));
        nft_expr_verdict(rb, NF_ACCEPT);
}

/* Whatever the protocol: anything to loopback is allowed anyway. */
static void to_resolver(struct nft_rule_builder *rb, const struct nft_policy *p, uint8_t nfproto) {
        match_u8(rb, NFT_META_NFPROTO, nfproto);
        to_loopback_port(rb, nfproto, p->resolver_port);
}

static void body_to_resolver4(struct nft_rule_builder *rb, const struct nft_policy *p) { to_resolver(rb, p, NFPROTO_IPV4); }
static void body_to_resolver6(struct nft_rule_builder *rb, const struct nft_policy *p) { to_resolver(rb, p, NFPROTO_IPV6); }

/* A configured DNS server on this side of the firewall (Docker's embedded
 * DNS at 127.0.0.11, reached through the loopback) also listens on ports
 * of its own, which its NAT rule for port 53 leads to: a query sent there
 * directly would skip the sandbox's resolver. Only the resolver, the init
 * and root (dockerd itself) talk to the configured servers on any port
 * but the resolver's. */
static void dns_server_direct(struct nft_rule_builder *rb, const struct nft_policy *p, uint8_t nfproto,
                              enum sbx_set set) {
        uint32_t init_mark = NETMARK_INIT_SOCKET;
        uint16_t port = htons(p->resolver_port);
        match_u8(rb, NFT_META_NFPROTO, nfproto);
        load_daddr(rb, nfproto);
        nft_expr_lookup(rb, set);
        match_skuid(rb, NFT_CMP_NEQ, 0);
        match_skuid(rb, NFT_CMP_NEQ, p->resolver_uid);
        nft_expr_meta(rb, NFT_META_MARK);
        nft_expr_cmp(rb, NFT_CMP_NEQ, &init_mark, sizeof(init_mark));
        load_dport(rb);
        nft_expr_cmp(rb, NFT_CMP_NEQ, &port, sizeof(port));
        nft_expr_counter(rb);
        nft_expr_reject(rb, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
}

static void body_dns_server_direct4(struct nft_rule_builder *rb, const struct nft_policy *p) { dns_server_direct(rb, p, NFPROTO_IPV4, SBX_SET_DNS_V4); }
static void body_dns_server_direct6(struct nft_rule_builder *rb, const struct nft_policy *p) { dns_server_direct(rb, p, NFPROTO_IPV6, SBX_SET_DNS_V6); }

static void body_init_socket(struct nft_rule_builder *rb, const struct nft_policy *p) {
        match_init_socket(rb, NFT_CMP_EQ);
        accept_with_mark(rb, NETMARK_CT_INIT);
}

static void body_init_flow_local_reply(struct nft_rule_builder *rb, const struct nft_policy *p) {
        local_reply_on_flows_of(rb, NETMARK_CT_INIT);
}

static void body_invalid(struct nft_rule_builder *rb, const struct nft_policy *p) {
        nft_expr_ct_state_any(rb, NF_CT_STATE_INVALID_BIT);
        nft_expr_verdict(rb, NF_DROP);
}

static void body_nd(struct nft_rule_builder *rb, const struct nft_policy *p) {
        match_neighbour_discovery(rb);
        nft_expr_verdict(rb, NF_ACCEPT);
}

/* With the sandbox's resolver, only its user asks the configured servers:
 * everybody else's DNS was redirected to it (chain dns_redirect). */
static void dns(struct nft_rule_builder *rb, const struct nft_policy *p, uint8_t nfproto, uint8_t l4proto,
                enum sbx_set set) {
        uint16_t port = htons(53);
        if (p->resolver_port)
                match_skuid(rb, NFT_CMP_EQ, p->resolver_uid);
        match_protocols(rb, nfproto, l4proto);
        load_dport(rb);
        nft_expr_cmp(rb, NFT_CMP_EQ, &port, sizeof(port));
        load_daddr(rb, nfproto);
        nft_expr_lookup(rb, set);
        accept_with_mark(rb, p->resolver_port ? NETMARK_CT_RESOLVER : NETMARK_CT_ALLOWED);
}

static void body_dns_udp4(struct nft_rule_builder *rb, const struct nft_policy *p) { dns(rb, p, NFPROTO_IPV4, IPPROTO_UDP, SBX_SET_DNS_V4); }
static void body_dns_tcp4(struct nft_rule_builder *rb, const struct nft_policy *p) { dns(rb, p, NFPROTO_IPV4, IPPROTO_TCP, SBX_SET_DNS_V4); }
static void body_dns_udp6(struct nft_rule_builder *rb, const struct nft_policy *p) { dns(rb, p, NFPROTO_IPV6, IPPROTO_UDP, SBX_SET_DNS_V6); }
static void body_dns_tcp6(struct nft_rule_builder *rb, const struct nft_policy *p) { dns(rb, p, NFPROTO_IPV6, IPPROTO_TCP, SBX_SET_DNS_V6); }

/* dockerd's sockets carry no mark; the init's probes do, so that they meet
 * what the user meets when the init itself runs as root. */
static void root_dns(struct nft_rule_builder *rb, uint8_t l4proto) {
        uint32_t root = 0, no_mark = 0;
        uint16_t port = htons(53);
        nft_expr_meta(rb, NFT_META_SKUID);
        nft_expr_cmp(rb, NFT_CMP_EQ, &root, sizeof(root));
        nft_expr_meta(rb, NFT_META_MARK);
        nft_expr_cmp(rb, NFT_CMP_EQ, &no_mark, sizeof(no_mark));
        match_u8(rb, NFT_META_L4PROTO, l4proto);
        load_dport(rb);
        nft_expr_cmp(rb, NFT_CMP_EQ, &port, sizeof(port));
        accept_with_mark(rb, NETMARK_CT_ROOT_DNS);
}

static void body_root_dns_udp(struct nft_rule_builder *rb, const struct nft_policy *p) { root_dns(rb, IPPROTO_UDP); }
static void body_root_dns_tcp(struct nft_rule_builder *rb, const struct nft_policy *p) { root_dns(rb, IPPROTO_TCP); }

static const struct rule_def root_dns_rules[] = {
        { "DNS over UDP from uid 0: Docker's embedded resolver forwarding upstream", body_root_dns_udp },
        { "DNS over TCP from uid 0: Docker's embedded resolver forwarding upstream", body_root_dns_tcp },
};

/* tcp dport @ports ip(6) daddr @addrs accept: the policy's ports to
 * everything it allows, and each service's ports to its own destinations. */
static void allowed_to(struct nft_rule_builder *rb, uint8_t nfproto, const struct nft_set_desc *ports,
                       const struct nft_set_desc *addrs) {
        match_protocols(rb, nfproto, IPPROTO_TCP);
        load_dport(rb);
        nft_expr_lookup_set(rb, ports->name, ports->id);
        load_daddr(rb, nfproto);
        nft_expr_lookup_set(rb, addrs->name, addrs->id);
        accept_and_mark(rb);
}

/* The policy's ports on what it allows; with the name gate, not its
 * name-checked ports: those went to the gate (or, allowed by address,
 * are accepted below). The gate's rule and this one look the sets up
 * apart, for the same packet: an address the resolver adds between the
 * two lookups must not let a connection past the gate, so a name-checked
 * port never reaches an accept here. */
static void allowed(struct nft_rule_builder *rb, const struct nft_policy *p, uint8_t nfproto, enum sbx_set set) {
        match_protocols(rb, nfproto, IPPROTO_TCP);
        load_dport(rb);
        nft_expr_lookup(rb, SBX_SET_TCP_PORTS);
        if (p->gate_queue)
                nft_expr_lookup_not(rb, SBX_SET_NAME_CHECKED_PORTS);
        load_daddr(rb, nfproto);
        nft_expr_lookup(rb, set);
        accept_and_mark(rb);
}

static void body_allowed4(struct nft_rule_builder *rb, const struct nft_policy *p) { allowed(rb, p, NFPROTO_IPV4, SBX_SET_ALLOWED_V4); }
static void body_learned4(struct nft_rule_builder *rb, const struct nft_policy *p) { allowed(rb, p, NFPROTO_IPV4, SBX_SET_LEARNED_V4); }
static void body_learned6(struct nft_rule_builder *rb, const struct nft_policy *p) { allowed(rb, p, NFPROTO_IPV6, SBX_SET_LEARNED_V6); }
static void body_allowed6(struct nft_rule_builder *rb, const struct nft_policy *p) { allowed(rb, p, NFPROTO_IPV6, SBX_SET_ALLOWED_V6); }

/* Name-checked ports of destinations allowed by address (cidrs:,
 * GitHub's meta ranges): the gate never sees them. (The init's own
 * sockets were accepted above.) */
static void by_address(struct nft_rule_builder *rb, uint8_t nfproto, enum sbx_set set) {
        match_protocols(rb, nfproto, IPPROTO_TCP);
        load_dport(rb);
        nft_expr_lookup(rb, SBX_SET_NAME_CHECKED_PORTS);
        load_daddr(rb, nfproto);
        nft_expr_lookup(rb, set);
        accept_and_mark(rb);
}

static void body_by_address4(struct nft_rule_builder *rb, const struct nft_policy *p) { by_address(rb, NFPROTO_IPV4, SBX_SET_BY_ADDRESS_V4); }
static void body_by_address6(struct nft_rule_builder *rb, const struct nft_policy *p) { by_address(rb, NFPROTO_IPV6, SBX_SET_BY_ADDRESS_V6); }


/* The name gate (namegate.h): a new TCP connection to a name-checked
 * port of a destination the policy allows because of a name (not by
 * address) goes direct, but its packets go through the gate's queue, the
 * SYN first (so the gate knows where the byte streams start), until the
 * gate has read what it must: the TLS ClientHello and the server's first
 * record, or every HTTP request (the server's side goes free after the
 * first). Its verdicts come back as packet marks (netmark.h) that the
 * rules at the top of the chains turn into the flow's ct mark. Without a
 * program on the queue its packets are dropped: checked traffic fails
 * closed. The init's own sockets are not name-checked. */
static void gate_flow(struct nft_rule_builder *rb, const struct nft_policy *p, uint8_t nfproto, enum sbx_set set) {
        match_protocols(rb, nfproto, IPPROTO_TCP);
        load_dport(rb);
        nft_expr_lookup(rb, SBX_SET_NAME_CHECKED_PORTS);
        load_daddr(rb, nfproto);
        nft_expr_lookup(rb, set);
        nft_expr_lookup_not(rb, nfproto == NFPROTO_IPV4 ? SBX_SET_BY_ADDRESS_V4 : SBX_SET_BY_ADDRESS_V6);
        match_init_socket(rb, NFT_CMP_NEQ);
        nft_expr_ct_set_mark(rb, NETMARK_CT_GATE_BOTH);
        nft_expr_counter(rb);
        nft_expr_queue(rb, p->gate_queue);
}

static void body_gate_allowed4(struct nft_rule_builder *rb, const struct nft_policy *p) { gate_flow(rb, p, NFPROTO_IPV4, SBX_SET_ALLOWED_V4); }
static void body_gate_allowed6(struct nft_rule_builder *rb, const struct nft_policy *p) { gate_flow(rb, p, NFPROTO_IPV6, SBX_SET_ALLOWED_V6); }
static void body_gate_learned4(struct nft_rule_builder *rb, const struct nft_policy *p) { gate_flow(rb, p, NFPROTO_IPV4, SBX_SET_LEARNED_V4); }
static void body_gate_learned6(struct nft_rule_builder *rb, const struct nft_policy *p) { gate_flow(rb, p, NFPROTO_IPV6, SBX_SET_LEARNED_V6); }

static void match_packet_mark(struct nft_rule_builder *rb, uint32_t mark) {
        nft_expr_meta(rb, NFT_META_MARK);
        nft_expr_cmp(rb, NFT_CMP_EQ, &mark, sizeof(mark));
}

static void match_ct_mark(struct nft_rule_builder *rb, uint32_t mark) {
        nft_expr_ct(rb, NFT_CT_MARK);
        nft_expr_cmp(rb, NFT_CMP_EQ, &mark, sizeof(mark));
}

/* A verdict's mark becomes the flow's, and leaves the packet. */
static void gate_verdict(struct nft_rule_builder *rb, uint32_t packet_mark, uint32_t ct_mark) {
        match_packet_mark(rb, packet_mark);
        nft_expr_meta_set_mark(rb, 0);
        nft_expr_ct_set_mark(rb, ct_mark);
}

static void body_gate_passed(struct nft_rule_builder *rb, const struct nft_policy *p) {
        gate_verdict(rb, NETMARK_GATE_PASS, NETMARK_CT_GATE_PASSED);
        nft_expr_verdict(rb, NF_ACCEPT);
}

static void body_gate_client(struct nft_rule_builder *rb, const struct nft_policy *p) {
        gate_verdict(rb, NETMARK_GATE_CLIENT, NETMARK_CT_GATE_CLIENT);
        nft_expr_verdict(rb, NF_ACCEPT);
}

/* The client's packet that was refused answers it with a reset at once;
 * a server's packet is dropped, and the client's next one meets the
 * refused flow's reset. */
static void body_gate_refuse_reset(struct nft_rule_builder *rb, const struct nft_policy *p) {
        match_u8(rb, NFT_META_L4PROTO, IPPROTO_TCP);
        gate_verdict(rb, NETMARK_GATE_REFUSE, NETMARK_CT_GATE_REFUSED);
        nft_expr_counter(rb);
        nft_expr_reject(rb, NFT_REJECT_TCP_RST, 0);
}

static void body_gate_refuse_drop(struct nft_rule_builder *rb, const struct nft_policy *p) {
        gate_verdict(rb, NETMARK_GATE_REFUSE, NETMARK_CT_GATE_REFUSED);
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

/* The client's packets only: the reset a reject sends the client belongs
 * to the flow as well (its reply direction), and must go. */
static void body_gate_refused_reset(struct nft_rule_builder *rb, const struct nft_policy *p) {
        uint8_t original = IP_CT_DIR_ORIGINAL;
        match_u8(rb, NFT_META_L4PROTO, IPPROTO_TCP);
        match_ct_mark(rb, NETMARK_CT_GATE_REFUSED);
        nft_expr_ct(rb, NFT_CT_DIRECTION);
        nft_expr_cmp(rb, NFT_CMP_EQ, &original, sizeof(original));
        nft_expr_reject(rb, NFT_REJECT_TCP_RST, 0);
}

static void body_gate_refused_drop(struct nft_rule_builder *rb, const struct nft_policy *p) {
        match_ct_mark(rb, NETMARK_CT_GATE_REFUSED);
        nft_expr_verdict(rb, NF_DROP);
}

static void gate_queued(struct nft_rule_builder *rb, const struct nft_policy *p, uint32_t ct_mark) {
        match_ct_mark(rb, ct_mark);
        nft_expr_queue(rb, p->gate_queue);
}

static void body_gate_both_queued(struct nft_rule_builder *rb, const struct nft_policy *p) { gate_queued(rb, p, NETMARK_CT_GATE_BOTH); }
static void body_gate_client_queued(struct nft_rule_builder *rb, const struct nft_policy *p) { gate_queued(rb, p, NETMARK_CT_GATE_CLIENT); }

/* reg1 (4 bytes, as loaded) & mask == value, both given as bytes. */
static void match_bytes4(struct nft_rule_builder *rb, const uint8_t mask[4], const uint8_t value[4]) {
        uint32_t m, v;
        memcpy(&m, mask, 4);
        memcpy(&v, value, 4);
        nft_expr_and(rb, m);
        nft_expr_cmp(rb, NFT_CMP_EQ, &v, sizeof(v));
}

/* A plain HTTP flow's client side goes through the gate for as long as it
 * lasts, but its ACKs carry nothing to check, and a download sends one for
 * every few segments: a packet whose IP length is exactly its headers'
 * (no IP options, no IPv6 extension header: those still go to the gate),
 * with no SYN, FIN or RST, passes without it. One rule per TCP header
 * length (data offset 5 to 15), as the kernel's rules cannot add two
 * fields. */
static int gate_bare_ack_rules_add(struct nft_batch *b, const struct nft_policy *p) {
        if (!p->gate_queue)
                return 0;
        for (uint8_t nfproto = NFPROTO_IPV4;; nfproto = NFPROTO_IPV6) {
                for (unsigned doff = 5; doff <= 15; doff++) {
                        char comment[128];
                        snprintf(comment, sizeof(comment), "a plain HTTP flow's bare ACKs (IPv%c, TCP header %u bytes) "
                                 "pass the name gate by", nfproto == NFPROTO_IPV4 ? '4' : '6', doff * 4);
                        struct nft_rule_builder rb;
                        int r = nft_rule_begin(&rb, "output", comment);
                        if (r < 0)
                                return log_error_errno(r, "nftables: building rule \"%s\" failed: %m", comment);
                        match_protocols(&rb, nfproto, IPPROTO_TCP);
                        match_ct_mark(&rb, NETMARK_CT_GATE_CLIENT);
                        if (nfproto == NFPROTO_IPV4) {
                                unsigned total = 20 + doff * 4;
                                /* version 4, header 5 words; the total length */
                                nft_expr_payload(&rb, NFT_PAYLOAD_NETWORK_HEADER, 0, 4);
                                match_bytes4(&rb, (const uint8_t[4]) { 0xff, 0, 0xff, 0xff },
                                             (const uint8_t[4]) { 0x45, 0, (uint8_t) (total >> 8), (uint8_t) total });
                        } else {
                                unsigned payload = doff * 4;
                                /* the payload length; TCP right after the fixed header */
                                nft_expr_payload(&rb, NFT_PAYLOAD_NETWORK_HEADER, 4, 4);
                                match_bytes4(&rb, (const uint8_t[4]) { 0xff, 0xff, 0xff, 0 },
                                             (const uint8_t[4]) { (uint8_t) (payload >> 8), (uint8_t) payload, IPPROTO_TCP, 0 });
                        }
                        /* the data offset; no FIN, SYN or RST */
                        nft_expr_payload(&rb, NFT_PAYLOAD_TRANSPORT_HEADER, 12, 4);
                        match_bytes4(&rb, (const uint8_t[4]) { 0xf0, 0x07, 0, 0 },
                                     (const uint8_t[4]) { (uint8_t) (doff << 4), 0, 0, 0 });
                        nft_expr_verdict(&rb, NF_ACCEPT);
                        r = nft_rule_end(b, &rb, "output", comment);
                        if (r < 0) {
                                if (rb.r)
                                        nftnl_rule_free(rb.r);
                                return log_error_errno(r, "nftables: building rule \"%s\" failed: %m", comment);
                        }
                }
                if (nfproto == NFPROTO_IPV6)
                        return 0;
        }
}

/* A service's ports reach only its own addresses: one rule per family
 * over that service's sets (nft.h, struct nft_service). */
static int service_rules_add(struct nft_batch *b, const struct nft_service *services, size_t n) {
        for (size_t i = 0; i < n; i++)
                for (enum nft_service_set fam = SBX_SERVICE_V4; fam <= SBX_SERVICE_V6; fam++) {
                        struct nft_set_desc ports, addrs;
                        char comment[128];
                        struct nft_rule_builder rb = {0};
                        int r = nft_set_service(i, services[i].name, SBX_SERVICE_PORTS, &ports);
                        if (r == 0)
                                r = nft_set_service(i, services[i].name, fam, &addrs);
                        snprintf(comment, sizeof(comment), "TCP ports %s adds, to %s's own IPv%c destinations only",
                                 services[i].name, services[i].name, fam == SBX_SERVICE_V4 ? '4' : '6');
                        if (r == 0)
                                r = nft_rule_begin(&rb, "output", comment);
                        if (r == 0) {
                                allowed_to(&rb, fam == SBX_SERVICE_V4 ? NFPROTO_IPV4 : NFPROTO_IPV6, &ports, &addrs);
                                r = nft_rule_end(b, &rb, "output", comment);
                        }
                        if (r < 0) {
                                if (rb.r)
                                        nftnl_rule_free(rb.r);
                                return log_error_errno(r, "nftables: building rule \"%s\" failed: %m", comment);
                        }
                }
        return 0;
}

static void body_reject_tcp(struct nft_rule_builder *rb, const struct nft_policy *p) {
        match_u8(rb, NFT_META_L4PROTO, IPPROTO_TCP);
        nft_expr_counter(rb);
        nft_expr_reject(rb, NFT_REJECT_TCP_RST, 0);
}

static void body_reject_other(struct nft_rule_builder *rb, const struct nft_policy *p) {
        nft_expr_counter(rb);
        nft_expr_reject(rb, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
}

/* A rule of its own, with no verdict, before the rejects: beyond the
 * limit only the log is skipped, and the packet goes on to be rejected.
 * The limit keeps a flood of refused packets from becoming a flood of
 * netlink messages to PID 1; the counters of the rejects still count all. */
static void body_log_denial(struct nft_rule_builder *rb, const struct nft_policy *p) {
        /* Only what a process sent: the kernel's own packets (IPv6
         * multicast listener reports, neighbour traffic) are nobody's
         * attempt, and would only be noise in the list. Loading the socket's
         * uid fails, ending the rule, for a packet without a socket. */
        uint32_t zero = 0;
        nft_expr_meta(rb, NFT_META_SKUID);
        nft_expr_cmp(rb, NFT_CMP_GTE, &zero, sizeof(zero));
        nft_expr_limit(rb, SBX_DENIAL_LOG_RATE, SBX_DENIAL_LOG_BURST);
        nft_expr_log_group(rb, p->log_group, SBX_DENIAL_LOG_SNAPLEN);
}

static const struct rule_def log_rules[] = {
        { "blocked: headers to the init's denial log, at most 50 a second", body_log_denial },
};

static void body_counted_drop(struct nft_rule_builder *rb, const struct nft_policy *p) {
        nft_expr_counter(rb);
        nft_expr_verdict(rb, NF_DROP);
}

/* Traffic to 127.0.0.11 (Docker's embedded DNS, which Docker's own NAT
 * rules redirect to another port on the same address) and to any address of
 * the container itself leaves through lo, so the first rule covers it
 * before and after that NAT: no resolver entry is needed for it. */
static const struct rule_def output_rules[] = {
        { "the name gate passed the flow: checked for good", body_gate_passed, false, true },
        { "the name gate passed a request: the server's side goes free", body_gate_client, false, true },
        { "refused by the name gate: reset", body_gate_refuse_reset, false, true },
        { "a flow the name gate refused: reset", body_gate_refused_reset, false, true },
        { "flows still being name-checked: through the name gate", body_gate_both_queued, false, true },
        /* here: gate_bare_ack_rules_add() */
        { "flows whose requests are name-checked: through the name gate", body_gate_client_queued, false, true },
        { "nothing but the init starts a UDP flow from port 53", body_forged_dns_udp },
        { "nothing but the init starts a TCP flow from port 53", body_forged_dns_tcp },
        { "nothing but the init starts a flow from Docker's DNS address", body_forged_docker_dns },
        { "the init's sockets only on flows they started", body_init_reply },
        { "the init's flows carry on only from the init's sockets", body_init_flow_others },
        { "the resolver's flows carry on only from the resolver", body_resolver_flow_others, true },
        { "uid 0's DNS flows carry on only from uid 0", body_root_dns_flow_others },
        { "replies on the init's flows from a local process only from root", body_init_flow_local_reply },
        { "the resolver's upstream queries only on flows it started", body_resolver_reply, true },
        { "replies on the resolver's flows from a local process only from root", body_resolver_flow_local_reply, true },
        { "the init's own DNS queries and meta fetch", body_init_socket },
        { "a configured DNS server only through the sandbox's resolver (IPv4)", body_dns_server_direct4, true },
        { "a configured DNS server only through the sandbox's resolver (IPv6)", body_dns_server_direct6, true },
        { "loopback, including Docker's DNS at 127.0.0.11", body_oif_lo },
        { "DNS redirected to the sandbox's resolver (IPv4)", body_to_resolver4, true },
        { "DNS redirected to the sandbox's resolver (IPv6)", body_to_resolver6, true },
        { "replies and errors of allowed connections", body_established },
        { "IPv6 neighbour discovery on the local link", body_nd },
        { "invalid packets", body_invalid },
        { "DNS over UDP to a configured resolver (IPv4)", body_dns_udp4 },
        { "DNS over TCP to a configured resolver (IPv4)", body_dns_tcp4 },
        { "DNS over UDP to a configured resolver (IPv6)", body_dns_udp6 },
        { "DNS over TCP to a configured resolver (IPv6)", body_dns_tcp6 },
        { "name-checked ports of allowed IPv4 destinations: through the name gate", body_gate_allowed4, false, true },
        { "name-checked ports of allowed IPv6 destinations: through the name gate", body_gate_allowed6, false, true },
        { "name-checked ports of IPv4 addresses the resolver handed out: through the name gate", body_gate_learned4, false, true },
        { "name-checked ports of IPv6 addresses the resolver handed out: through the name gate", body_gate_learned6, false, true },
        { "name-checked ports of IPv4 destinations allowed by address", body_by_address4, false, true },
        { "name-checked ports of IPv6 destinations allowed by address", body_by_address6, false, true },
        { "allowed TCP ports on allowed IPv4 destinations", body_allowed4 },
        { "allowed TCP ports on allowed IPv6 destinations", body_allowed6 },
        { "allowed TCP ports on IPv4 addresses the sandbox's resolver handed out", body_learned4 },
        { "allowed TCP ports on IPv6 addresses the sandbox's resolver handed out", body_learned6 },
        { "blocked TCP: reset, so the connection fails at once", body_reject_tcp },
        { "blocked: administratively prohibited, so it fails at once", body_reject_other },
};

/* Nothing listens for the outside world in the sandbox: only replies and
 * loopback come in. */
/* The gate's rules after loopback: the reset a refusal sends the sandbox's
 * client comes in there, on the refused flow. */
static const struct rule_def input_rules[] = {
        { "loopback", body_iif_lo },
        { "the name gate passed the flow: checked for good", body_gate_passed, false, true },
        { "the name gate passed the server's first record: its side goes free", body_gate_client, false, true },
        { "refused by the name gate", body_gate_refuse_drop, false, true },
        { "a flow the name gate refused", body_gate_refused_drop, false, true },
        { "the server's side of flows still being name-checked: through the name gate", body_gate_both_queued, false, true },
        { "replies and errors of allowed connections", body_established },
        { "IPv6 neighbour discovery on the local link", body_nd },
        { "everything else", body_counted_drop },
};

struct chain_def {
        const char *name, *type;
        uint32_t hook;
        int32_t priority;
        uint32_t policy;
};

/* Filter chains drop by policy. The NAT chain that sends DNS to the
 * sandbox's resolver runs before Docker's own DNAT of 127.0.0.11 (priority
 * -100): the first NAT a flow gets is the one it keeps. */
static const struct chain_def chains[] = {
        { "output", "filter", NF_INET_LOCAL_OUT, 0, NF_DROP },
        { "input", "filter", NF_INET_LOCAL_IN, 0, NF_DROP },
        { "dns_redirect", "nat", NF_INET_LOCAL_OUT, -110, NF_ACCEPT },
};

static int chain_add(struct nft_batch *b, const struct chain_def *d) {
        struct nftnl_chain *c = nftnl_chain_alloc();
        struct nlmsghdr *nlh = NULL;
        const char *name = d->name;
        if (c) {
                nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, SBX_TABLE);
                nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, SBX_FAMILY);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, d->type);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, d->hook);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, d->priority);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, d->policy);
                nlh = nft_batch_msg(b, NFT_MSG_NEWCHAIN, SBX_FAMILY, NLM_F_CREATE,
                                    "adding chain %s (%s, hook %s, policy %s)", name, d->type,
                                    d->hook == NF_INET_LOCAL_OUT ? "output" : "input",
                                    d->policy == NF_DROP ? "drop" : "accept");
        }
        if (nlh) {
                nftnl_chain_nlmsg_build_payload(nlh, c);
                nft_batch_msg_end(b, nlh);
        }
        if (c)
                nftnl_chain_free(c);
        return nlh ? 0 : log_error_errno(-ENOMEM, "nftables: building chain %s failed: %m", name);
}

/* Deletes every rule of the chain: a DELRULE naming no rule. */
static int chain_flush(struct nft_batch *b, const char *name) {
        struct nftnl_rule *rule = nftnl_rule_alloc();
        struct nlmsghdr *nlh = NULL;
        if (rule) {
                nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, SBX_TABLE);
                nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, name);
                nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, SBX_FAMILY);
                nlh = nft_batch_msg(b, NFT_MSG_DELRULE, SBX_FAMILY, 0,
                                    "removing the previous rules of chain %s", name);
        }
        if (nlh) {
                nftnl_rule_nlmsg_build_payload(nlh, rule);
                nft_batch_msg_end(b, nlh);
        }
        if (rule)
                nftnl_rule_free(rule);
        return nlh ? 0 : log_error_errno(-ENOMEM, "nftables: building a flush of chain %s failed: %m", name);
}

/* Every DNS packet of anything but the resolver, uid 0 (Docker's embedded
 * DNS forwarding from dockerd's sockets) and the init's marked sockets goes
 * to the resolver on loopback, whatever address it was sent to. */
static void redirect_dns(struct nft_rule_builder *rb, const struct nft_policy *p, uint8_t l4proto) {
        uint32_t no_mark = 0;
        uint16_t dns = htons(53);
        nft_expr_meta(rb, NFT_META_MARK);
        nft_expr_cmp(rb, NFT_CMP_EQ, &no_mark, sizeof(no_mark));
        match_skuid(rb, NFT_CMP_NEQ, 0);
        match_skuid(rb, NFT_CMP_NEQ, p->resolver_uid);
        match_u8(rb, NFT_META_L4PROTO, l4proto);
        load_dport(rb);
        nft_expr_cmp(rb, NFT_CMP_EQ, &dns, sizeof(dns));
        nft_expr_redirect(rb, p->resolver_port);
}

static void body_redirect_udp(struct nft_rule_builder *rb, const struct nft_policy *p) { redirect_dns(rb, p, IPPROTO_UDP); }
static void body_redirect_tcp(struct nft_rule_builder *rb, const struct nft_policy *p) { redirect_dns(rb, p, IPPROTO_TCP); }

static const struct rule_def redirect_rules[] = {
        { "DNS over UDP to the sandbox's resolver, whatever its destination", body_redirect_udp, true },
        { "DNS over TCP to the sandbox's resolver, whatever its destination", body_redirect_tcp, true },
};

int nft_rules_add_chains(struct nft_batch *b, const struct nft_policy *p) {
        int r = 0;
        for (size_t i = 0; r == 0 && i < ELEMENTSOF(chains); i++)
                r = chain_add(b, &chains[i]);
        for (size_t i = 0; r == 0 && i < ELEMENTSOF(chains); i++)
                r = chain_flush(b, chains[i].name);
        if (r < 0)
                return r;
        /* The bare ACKs after the gate's first five, before the reject rules at
         * the end of the chain. */
        size_t n_gate_top = 5, n_before_reject = ELEMENTSOF(output_rules) - 2;
        r = rules_add(b, "output", output_rules, n_gate_top, p);
        if (r == 0)
                r = gate_bare_ack_rules_add(b, p);
        if (r == 0)
                r = rules_add(b, "output", output_rules + n_gate_top, n_before_reject - n_gate_top, p);
        if (r == 0)
                r = service_rules_add(b, p->services, p->n_services);
        if (r == 0 && p->root_dns_forwarding)
                r = rules_add(b, "output", root_dns_rules, ELEMENTSOF(root_dns_rules), p);
        if (r == 0 && p->log_group)
                r = rules_add(b, "output", log_rules, ELEMENTSOF(log_rules), p);
        if (r == 0)
                r = rules_add(b, "output", output_rules + n_before_reject, 2, p);
        if (r == 0)
                r = rules_add(b, "input", input_rules, ELEMENTSOF(input_rules), p);
        if (r == 0)
                r = rules_add(b, "dns_redirect", redirect_rules, ELEMENTSOF(redirect_rules), p);
        return r;
}
