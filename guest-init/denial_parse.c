/* SPDX-License-Identifier: MIT */
#include "denial_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <string.h>

#define IPV4_HEADER_MIN 20
#define IPV6_HEADER 40

static uint16_t be16_at(const uint8_t *p) {
        return (uint16_t) ((p[0] << 8) | p[1]);
}

/* The first bytes of the transport header at data[off..len). */
static void parse_transport(const uint8_t *data, size_t len, size_t off, struct denial_packet *p) {
        size_t left = off <= len ? len - off : 0;
        switch (p->proto) {
        case IPPROTO_TCP:
        case IPPROTO_UDP:
        case IPPROTO_UDPLITE:
        case IPPROTO_SCTP:
                /* Source port, then destination port: the same in all four. */
                if (left >= 4) {
                        p->port = be16_at(data + off + 2);
                        p->has_port = true;
                }
                break;
        case IPPROTO_ICMP:
        case IPPROTO_ICMPV6:
                if (left >= 2) {
                        p->icmp_type = data[off];
                        p->icmp_code = data[off + 1];
                        p->has_icmp = true;
                }
                break;
        default:
                break;
        }
}

int denial_parse_packet(const uint8_t *data, size_t len, struct denial_packet *ret) {
        struct denial_packet p = {0};
        if (len < 1)
                return -EBADMSG;
        switch (data[0] >> 4) {
        case 4: {
                size_t ihl = (size_t) (data[0] & 0x0f) * 4;
                if (len < IPV4_HEADER_MIN || ihl < IPV4_HEADER_MIN || ihl > len)
                        return -EBADMSG;
                p.proto = data[9];
                ip_prefix_from_addr(AF_INET, data + 16, &p.dst);
                /* A later fragment carries no transport header. */
                if ((be16_at(data + 6) & 0x1fff) == 0)
                        parse_transport(data, len, ihl, &p);
                break;
        }
        case 6:
                if (len < IPV6_HEADER)
                        return -EBADMSG;
                p.proto = data[6];
                ip_prefix_from_addr(AF_INET6, data + 24, &p.dst);
                /* Extension headers are not walked: the next header named
                 * in the fixed header is all that is reported. */
                parse_transport(data, len, IPV6_HEADER, &p);
                break;
        default:
                return -EBADMSG;
        }
        *ret = p;
        return 0;
}

struct nflog_attrs {
        const struct nlattr *tb[NFULA_MAX + 1];
};

static int attr_cb(const struct nlattr *attr, void *data) {
        struct nflog_attrs *a = data;
        uint16_t type = mnl_attr_get_type(attr);
        if (mnl_attr_type_valid(attr, NFULA_MAX) < 0)
                return MNL_CB_OK;       /* newer than us: not needed */
        if ((type == NFULA_UID || type == NFULA_MARK) && mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
                return MNL_CB_ERROR;
        a->tb[type] = attr;
        return MNL_CB_OK;
}

static bool nflog_packet(const struct nlmsghdr *nlh, struct denial_packet *ret) {
        struct nflog_attrs a = {0};
        /* The attributes are walked up to the aligned end of the message:
         * an unaligned length could make libmnl read past it. */
        if (nlh->nlmsg_len % MNL_ALIGNTO != 0 ||
            nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)))
                return false;
        if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, &a) < 0 || !a.tb[NFULA_PAYLOAD])
                return false;
        if (denial_parse_packet(mnl_attr_get_payload(a.tb[NFULA_PAYLOAD]),
                                mnl_attr_get_payload_len(a.tb[NFULA_PAYLOAD]), ret) < 0)
                return false;
        if (a.tb[NFULA_UID]) {
                ret->uid = ntohl(mnl_attr_get_u32(a.tb[NFULA_UID]));
                ret->has_uid = true;
        }
        if (a.tb[NFULA_MARK])
                ret->mark = ntohl(mnl_attr_get_u32(a.tb[NFULA_MARK]));
        return true;
}

int denial_parse_nflog(const void *buf, size_t len, denial_packet_fn fn, void *userdata) {
        int n = 0;
        /* Not mnl_nlmsg_ok()/mnl_nlmsg_next(): libmnl 1.0.4 compares the
         * length as an int, so a length past 2 GiB passes as negative and
         * the next header is looked for far outside the buffer. */
        for (size_t off = 0; len - off >= sizeof(struct nlmsghdr);) {
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) ((const char *) buf + off);
                struct denial_packet p;
                if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - off)
                        break;          /* shorter than its header claims */
                if (nlh->nlmsg_type == ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) && nflog_packet(nlh, &p)) {
                        fn(&p, userdata);
                        n++;
                }
                size_t step = MNL_ALIGN(nlh->nlmsg_len);
                if (step >= len - off)
                        break;
                off += step;
        }
        return n;
}
