/* The messages between PID 1 and the sandbox's DNS resolver child
 * (dnsproxy.c), over a SOCK_SEQPACKET socketpair: one message per datagram,
 * fixed size, checked field by field by the receiver. The child holds no
 * privilege and parses bytes from the agent and the network; PID 1 holds
 * CAP_NET_ADMIN and trusts nothing in these messages: it checks the name
 * against the policy and every address against the rebinding guard before
 * it adds anything to the firewall.
 *
 * child → PID 1   DNSPROXY_ALLOW: "these addresses answer this allowed name"
 * PID 1 → child   DNSPROXY_ALLOWED: the same seq; status 0 when every
 *                 address accepted is in the sets (the child then releases
 *                 the answer), or -errno (the child answers SERVFAIL)
 * child → PID 1   DNSPROXY_REFUSED: a query it answered locally because
 *                 the name is not allowed (for the log); no reply */
#pragma once

#include <stdint.h>

#define DNSPROXY_NAME_MAX 253                   /* text form, no trailing dot */
#define DNSPROXY_ADDRS_MAX 32                   /* addresses per ALLOW */

enum dnsproxy_msg_type {
        DNSPROXY_ALLOW = 1,
        DNSPROXY_ALLOWED = 2,
        DNSPROXY_REFUSED = 3,
};

struct dnsproxy_addr {
        uint8_t family;                         /* AF_INET or AF_INET6 */
        uint8_t pad[3];
        uint8_t addr[16];                       /* IPv4 in the first 4 bytes */
};

struct dnsproxy_msg {
        uint32_t type;                          /* enum dnsproxy_msg_type */
        uint32_t seq;                           /* chosen by the child, echoed */
        int32_t status;                         /* DNSPROXY_ALLOWED: 0 or -errno */
        uint32_t ttl;                           /* seconds, the smallest of the answer */
        uint16_t qtype;                         /* DNSPROXY_REFUSED: the query's type */
        uint16_t n_addrs;                       /* ≤ DNSPROXY_ADDRS_MAX */
        char name[DNSPROXY_NAME_MAX + 1];       /* NUL-terminated, lower case */
        struct dnsproxy_addr addrs[DNSPROXY_ADDRS_MAX];
};
