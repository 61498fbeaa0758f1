/* SPDX-License-Identifier: MIT */
/* The kernel's packet queue (nfnetlink_queue) over libmnl: binding one
 * queue of this network namespace, reading the packets nftables sends it,
 * and giving each its verdict. PID 1's, as both need CAP_NET_ADMIN at
 * the time of each call; what the packets say is none of this file's
 * business: it reads the kernel's framing around them (netlink attributes)
 * and hands their bytes on. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mnl_socket;

struct nfqueue_packet {
        uint32_t id;                    /* for the verdict */
        uint8_t hook;                   /* NF_INET_LOCAL_OUT, NF_INET_LOCAL_IN */
        uint16_t l3proto;               /* ETH_P_IP, ETH_P_IPV6 (host order) */
        const uint8_t *bytes;           /* the IP packet, as far as it was copied */
        size_t len;
        uint32_t whole_len;             /* the packet's length, which len may fall short of */
        bool has_uid;
        uint32_t uid;                   /* the owner of the packet's socket */
};

/* The queue's length in packets: beyond it the kernel drops what would be
 * queued (the senders retransmit), as no bypass is asked for. */
#define NFQUEUE_MAX_LEN 4096u

/* Opens a netfilter netlink socket, binds queue_num and configures it:
 * whole packets up to 64 KiB, as the stack built them (GSO: a large send
 * is one packet, not one per segment), with their socket's uid. The
 * socket is non-blocking afterwards. -errno, with the kernel's answer. */
int nfqueue_open(uint16_t queue_num, struct mnl_socket **ret);

typedef void (*nfqueue_packet_fn)(const struct nfqueue_packet *p, void *userdata);

/* Reads one datagram and calls fn for each packet in it. 0 when one was
 * read, -EAGAIN when there was none, -ENOBUFS when the socket overran
 * (packets the kernel could not deliver were dropped), else -errno. */
int nfqueue_read(struct mnl_socket *nl, nfqueue_packet_fn fn, void *userdata);

/* verdict: NF_ACCEPT, NF_DROP, or NF_REPEAT with mark set on the packet
 * first (mark 0: unchanged). payload (NULL: none): the packet's bytes
 * from its IP header on, which replace the kernel's (they must be of the
 * packet's length, their checksums final). -errno when the kernel did not
 * take it (the packet then waits in the queue). */
int nfqueue_verdict(struct mnl_socket *nl, uint16_t queue_num, uint32_t id, uint32_t verdict, uint32_t mark,
                    const void *payload, size_t payload_len);
