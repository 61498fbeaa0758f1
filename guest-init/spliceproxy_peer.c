/* SPDX-License-Identifier: MIT */
#include "spliceproxy_peer.h"

#include <errno.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"

/* linux/netfilter_ipv4.h and ip6_tables.h, whose headers clash with the
 * C library's netinet/in.h. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

uint16_t spliceproxy_port_of(const struct sockaddr_storage *ss) {
        if (ss->ss_family == AF_INET)
                return ntohs(((const struct sockaddr_in *) ss)->sin_port);
        return ntohs(((const struct sockaddr_in6 *) ss)->sin6_port);
}

static bool v4_local(uint32_t a) {
        return (a >> 24) == 127 || (a >> 24) == 0;
}

int spliceproxy_original_dst(int fd, int family, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct sockaddr_storage dst = {0};
        socklen_t len = sizeof(dst);
        int r = family == AF_INET ? getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len)
                                  : getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len);
        if (r < 0)
                return -errno;
        /* Without a NAT the kernel reports the address the client reached:
         * the listener itself, which is loopback and refused below. */
        if (dst.ss_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *) &dst;
                if (v4_local(ntohl(sin->sin_addr.s_addr)))
                        return -EPERM;
                len = sizeof(*sin);
        } else if (dst.ss_family == AF_INET6) {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &dst;
                const struct in6_addr *a = &sin6->sin6_addr;
                if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
                        return -EPERM;
                if (IN6_IS_ADDR_V4MAPPED(a)) {
                        uint32_t v4;
                        memcpy(&v4, a->s6_addr + 12, 4);
                        if (v4_local(ntohl(v4)))
                                return -EPERM;
                }
                len = sizeof(*sin6);
        } else
                return -EAFNOSUPPORT;
        if (spliceproxy_port_of(&dst) == 0)
                return -EPERM;
        *ret = dst;
        *ret_len = len;
        return 0;
}

static void put_addr(const struct sockaddr_storage *ss, __be16 *port, __be32 addr[4]) {
        memset(addr, 0, 16);
        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;
                *port = sin->sin_port;
                memcpy(addr, &sin->sin_addr, 4);
        } else {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;
                *port = sin6->sin6_port;
                memcpy(addr, &sin6->sin6_addr, 16);
        }
}

int spliceproxy_client_uid(int fd, const struct sockaddr_storage *dst, uint32_t *ret) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        if (getpeername(fd, (struct sockaddr *) &peer, &len) < 0)
                return -errno;
        if (peer.ss_family != dst->ss_family)
                return -EAFNOSUPPORT;
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 req;
        } q = {
                .nlh = { .nlmsg_len = sizeof(q), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST },
                .req = { .sdiag_family = (uint8_t) peer.ss_family, .sdiag_protocol = IPPROTO_TCP,
                         .idiag_states = ~0u },
        };
        /* The client's socket: its own address and port as source, the
         * original destination as destination. */
        put_addr(&peer, &q.req.id.idiag_sport, q.req.id.idiag_src);
        put_addr(dst, &q.req.id.idiag_dport, q.req.id.idiag_dst);
        q.req.id.idiag_cookie[0] = q.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

        _cleanup_close_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (nl < 0)
                return -errno;
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        if (sendto(nl, &q, sizeof(q), 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;
        union { struct nlmsghdr nlh; char bytes[1024]; } buf;
        ssize_t n = recv(nl, &buf, sizeof(buf), 0);
        if (n < 0)
                return -errno;
        if ((size_t) n < sizeof(struct nlmsghdr) || buf.nlh.nlmsg_len > (size_t) n)
                return -EBADMSG;
        if (buf.nlh.nlmsg_type == NLMSG_ERROR)
                return -ENOENT;
        if (buf.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
            buf.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                return -EBADMSG;
        const struct inet_diag_msg *m = NLMSG_DATA(&buf.nlh);
        *ret = m->idiag_uid;
        return 0;
}
