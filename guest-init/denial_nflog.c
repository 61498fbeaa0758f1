/* SPDX-License-Identifier: MIT */
#include "denial_nflog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "nft.h"

/* Datagrams read per wake-up: the rule sends at most 50 packets a second
 * after a burst of 100, so this drains a burst in two rounds and leaves the
 * loop to its other work in between. */
#define READS_PER_WAKEUP 64
/* With a queue threshold of 1 a datagram holds one report of a few hundred
 * bytes; a longer one is cut, and its last message skipped. */
#define DATAGRAM_MAX 8192

struct denial_nflog {
        struct loop *loop;
        struct mnl_socket *nl;
        denial_packet_fn fn;
        void *userdata;
        unsigned long overruns;         /* reports the socket buffer could not take */
};

/* One NFULNL_MSG_CONFIG: bind the group, copy the packet's first bytes,
 * and send each packet at once rather than batched
 * (a queue threshold of 1), so the first denial is logged when it happens
 * and no kernel timer holds reports back. The deprecated per-family binds
 * (NFULNL_CFG_CMD_PF_BIND) are not sent: kernels since 3.17 ignore them,
 * and on older ones they would change what the LOG target does. No flag
 * asks for the uid: nfnetlink_log adds NFULA_UID whenever the packet has a
 * socket with a file (unlike nfnetlink_queue's NFQA_CFG_F_UID_GID). */
static int configure(struct mnl_socket *nl, uint16_t group) {
        char buf[DATAGRAM_MAX];
        uint32_t seq = (uint32_t) time(NULL);
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = seq;
        struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
        *nfg = (struct nfgenmsg) { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0, .res_id = htons(group) };
        struct nfulnl_msg_config_cmd cmd = { .command = NFULNL_CFG_CMD_BIND };
        mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
        struct nfulnl_msg_config_mode mode = { .copy_range = htonl(SBX_DENIAL_LOG_SNAPLEN),
                                               .copy_mode = NFULNL_COPY_PACKET };
        mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
        mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1));

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n < 0)
                return negative_errno();
        if (mnl_cb_run(buf, (size_t) n, seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
                return negative_errno();
        return 0;
}

static void count_overrun(struct denial_nflog *n) {
        /* The 1st, 2nd, 4th, 8th...: a flood does not become a flood of these. */
        n->overruns++;
        if ((n->overruns & (n->overruns - 1)) == 0)
                log_warning("the kernel's reports of refused packets came faster than PID 1 read them; %lu times some were lost (the rejects' counters in `nft list ruleset` count every one)",
                            n->overruns);
}

static int on_readable(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct denial_nflog *n = userdata;
        /* Aligned: the parser reads netlink headers in place. */
        union { struct nlmsghdr h; char bytes[DATAGRAM_MAX]; } buf;
        for (int i = 0; i < READS_PER_WAKEUP; i++) {
                ssize_t len = recv(fd, &buf, sizeof(buf), MSG_DONTWAIT);
                if (len < 0 && errno == ENOBUFS) {
                        count_overrun(n);
                        continue;
                }
                if (len <= 0)
                        return 0;       /* EAGAIN: drained; anything else: try at the next report */
                (void) denial_parse_nflog(&buf, (size_t) len, n->fn, n->userdata);
        }
        return 0;
}

int denial_nflog_open(struct loop *l, uint16_t group, denial_packet_fn fn, void *userdata,
                      struct denial_nflog **ret) {
        _cleanup_free_ struct denial_nflog *n = calloc(1, sizeof(*n));
        if (!n)
                return log_oom();
        *n = (struct denial_nflog) { .loop = l, .fn = fn, .userdata = userdata };
        n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!n->nl)
                return log_warning_errno(negative_errno(), "Failed to open a netfilter netlink socket for the denial log: %m");
        int r = mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0 ? negative_errno() : 0;
        if (r == 0)
                r = configure(n->nl, group);
        /* Blocking only for the acknowledgement above; the loop reads. */
        int fd = mnl_socket_get_fd(n->nl);
        if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                r = negative_errno();
        if (r == 0)
                r = loop_add_io(l, fd, EPOLLIN, on_readable, n);
        if (r < 0) {
                mnl_socket_close(n->nl);
                return log_warning_errno(r, "Failed to bind nfnetlink_log group %u for the denial log: %m%s", group,
                                         r == -EBUSY ? " (another socket of this network namespace holds it)" : "");
        }
        *ret = TAKE_PTR(n);
        return 0;
}

void denial_nflog_free(struct denial_nflog *n) {
        if (!n)
                return;
        (void) loop_remove_io(n->loop, mnl_socket_get_fd(n->nl));
        mnl_socket_close(n->nl);
        free(n);
}
