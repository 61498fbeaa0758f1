/* SPDX-License-Identifier: MIT */
#include "nfqueue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "macro.h"

/* A datagram holds one queued packet of up to 64 KiB and its attributes. */
#define COPY_RANGE 0xffffu
#define DATAGRAM_MAX (COPY_RANGE + 4096u)
/* Room for bursts of queued packets while PID 1 is busy: beyond it the
 * kernel drops them (fail closed) and the senders retransmit. */
#define SOCKET_BUFFER (4u << 20)

static struct nlmsghdr *put_header(char *buf, uint16_t type, uint16_t queue_num, uint16_t flags, uint32_t seq) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = seq;
        struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        *g = (struct nfgenmsg) { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0, .res_id = htons(queue_num) };
        return nlh;
}

/* One configuration message, sent and acknowledged. */
static int configure_one(struct mnl_socket *nl, struct nlmsghdr *nlh) {
        char buf[8192];
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n < 0)
                return negative_errno();
        if (mnl_cb_run(buf, (size_t) n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
                return negative_errno();
        return 0;
}

static int configure(struct mnl_socket *nl, uint16_t queue_num) {
        char buf[8192];
        uint32_t seq = (uint32_t) time(NULL);
        struct nlmsghdr *nlh = put_header(buf, NFQNL_MSG_CONFIG, queue_num, NLM_F_ACK, seq++);
        struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND };
        mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(cmd), &cmd);
        int r = configure_one(nl, nlh);
        if (r < 0)
                return r;
        nlh = put_header(buf, NFQNL_MSG_CONFIG, queue_num, NLM_F_ACK, seq++);
        struct nfqnl_msg_config_params params = { .copy_range = htonl(COPY_RANGE), .copy_mode = NFQNL_COPY_PACKET };
        mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(params), &params);
        mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(NFQUEUE_MAX_LEN));
        uint32_t flags = NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID;
        mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
        mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
        return configure_one(nl, nlh);
}

int nfqueue_open(uint16_t queue_num, struct mnl_socket **ret) {
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl)
                return negative_errno();
        int one = 1, size = SOCKET_BUFFER;
        int r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? negative_errno() : 0;
        /* An overrun drops packets (the senders retransmit); it need not
         * fail the next read as well. */
        if (r == 0)
                (void) mnl_socket_setsockopt(nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));
        if (r == 0)
                (void) setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
        if (r == 0)
                r = configure(nl, queue_num);
        int fd = mnl_socket_get_fd(nl);
        if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                r = negative_errno();
        if (r < 0) {
                mnl_socket_close(nl);
                return r;
        }
        *ret = nl;
        return 0;
}

struct read_ctx {
        nfqueue_packet_fn fn;
        void *userdata;
};

static int attr_cb(const struct nlattr *a, void *data) {
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, NFQA_MAX) > 0)
                tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static int packet_cb(const struct nlmsghdr *nlh, void *data) {
        struct read_ctx *ctx = data;
        const struct nlattr *tb[NFQA_MAX + 1] = {0};
        if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0)
                return MNL_CB_OK;
        if (!tb[NFQA_PACKET_HDR] || mnl_attr_get_payload_len(tb[NFQA_PACKET_HDR]) < sizeof(struct nfqnl_msg_packet_hdr))
                return MNL_CB_OK;
        struct nfqnl_msg_packet_hdr ph;
        memcpy(&ph, mnl_attr_get_payload(tb[NFQA_PACKET_HDR]), sizeof(ph));
        struct nfqueue_packet p = {
                .id = ntohl(ph.packet_id), .hook = ph.hook, .l3proto = ntohs(ph.hw_protocol),
        };
        if (tb[NFQA_PAYLOAD]) {
                p.bytes = mnl_attr_get_payload(tb[NFQA_PAYLOAD]);
                p.len = mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]);
        }
        p.whole_len = tb[NFQA_CAP_LEN] && mnl_attr_get_payload_len(tb[NFQA_CAP_LEN]) >= 4
                              ? ntohl(mnl_attr_get_u32(tb[NFQA_CAP_LEN]))
                              : (uint32_t) p.len;
        if (tb[NFQA_UID] && mnl_attr_get_payload_len(tb[NFQA_UID]) >= 4) {
                p.has_uid = true;
                p.uid = ntohl(mnl_attr_get_u32(tb[NFQA_UID]));
        }
        ctx->fn(&p, ctx->userdata);
        return MNL_CB_OK;
}

int nfqueue_read(struct mnl_socket *nl, nfqueue_packet_fn fn, void *userdata) {
        /* Aligned: the attributes are read in place. */
        static union { struct nlmsghdr h; char bytes[DATAGRAM_MAX]; } buf;
        ssize_t n = recv(mnl_socket_get_fd(nl), &buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -EAGAIN;
        struct read_ctx ctx = { fn, userdata };
        /* Errors the kernel reports for verdicts (a packet id it no longer
         * holds) come back here too: not this read's failure. */
        (void) mnl_cb_run(&buf, (size_t) n, 0, 0, packet_cb, &ctx);
        return 0;
}

int nfqueue_verdict(struct mnl_socket *nl, uint16_t queue_num, uint32_t id, uint32_t verdict, uint32_t mark,
                    const void *payload, size_t payload_len) {
        /* Aligned for the headers built in place. */
        static union { struct nlmsghdr h; char bytes[COPY_RANGE + 512u]; } buf;
        /* An attribute's length, its 4-byte header included, is 16 bits. */
        if (payload && payload_len > 0xffffu - 4u)
                return -EMSGSIZE;
        struct nlmsghdr *nlh = put_header(buf.bytes, NFQNL_MSG_VERDICT, queue_num, 0, 0);
        struct nfqnl_msg_verdict_hdr vh = { .verdict = htonl(verdict), .id = htonl(id) };
        mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(vh), &vh);
        if (mark)
                mnl_attr_put_u32(nlh, NFQA_MARK, htonl(mark));
        if (payload)
                mnl_attr_put(nlh, NFQA_PAYLOAD, (uint16_t) payload_len, payload);
        if (send(mnl_socket_get_fd(nl), nlh, nlh->nlmsg_len, MSG_DONTWAIT) < 0)
                return negative_errno();
        return 0;
}
