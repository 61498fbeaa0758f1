/* SPDX-License-Identifier: MIT */
/* Names and ids shared by the files of the nftables layer (internal). */
#pragma once

#include <netinet/in.h>    /* before linux/netfilter.h, which would bring linux/in.h */
#include <linux/netfilter.h>

#define SBX_TABLE "agent_sandbox"
#define SBX_FAMILY NFPROTO_INET

/* Set ids let rules refer to sets created earlier in the same batch; the
 * kernel also accepts names, ids are what nft sends as well. */
enum sbx_set {
        SBX_SET_ALLOWED_V4 = 1,
        SBX_SET_ALLOWED_V6,
        SBX_SET_TCP_PORTS,
        SBX_SET_DNS_V4,
        SBX_SET_DNS_V6,
        /* Addresses the sandbox's resolver handed out, each with its own
         * timeout; a re-apply keeps them (the resolver owns them). */
        SBX_SET_LEARNED_V4,
        SBX_SET_LEARNED_V6,
        /* Destinations allowed by address (cidrs:, GitHub's meta ranges):
         * never sent through the name-checking proxy. */
        SBX_SET_BY_ADDRESS_V4,
        SBX_SET_BY_ADDRESS_V6,
        /* The ports whose connections to name-allowed destinations go
         * through the proxy. */
        SBX_SET_NAME_CHECKED_PORTS,
        _SBX_SET_MAX,
};

const char *nft_set_name(enum sbx_set set);
