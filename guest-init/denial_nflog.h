/* SPDX-License-Identifier: MIT */
/* PID 1's end of the kernel's reports of refused packets: a
 * NETLINK_NETFILTER socket bound to the nfnetlink_log group that the rule
 * before the rejects sends to (nft.h, nft_policy.log_group), read on the
 * loop with libmnl. Only root of the network namespace's user namespace
 * (CAP_NET_ADMIN) can bind a group, so the sandbox user can neither read
 * these reports nor send fake ones; what it controls is the packet, which
 * denial_parse.c reads field by field. */
#pragma once

#include <stdint.h>

#include "denial_parse.h"
#include "loop.h"

/* "AS": a group nothing else in a container is likely to use. */
#define DENIAL_NFLOG_GROUP 0x4153

struct denial_nflog;

/* Binds the group, asking for the first SBX_DENIAL_LOG_SNAPLEN bytes of
 * each packet, and reads it on l; fn gets each packet, with its socket's
 * uid when it has one.
 * -errno, logged (EBUSY: another socket holds the group). */
int denial_nflog_open(struct loop *l, uint16_t group, denial_packet_fn fn, void *userdata,
                      struct denial_nflog **ret);

void denial_nflog_free(struct denial_nflog *n);
