/* SPDX-License-Identifier: MIT */
/* Names and ids shared by the files of the nftables layer (internal). */
#pragma once

#include <netinet/in.h>    /* before linux/netfilter.h, which would bring linux/in.h */
#include <linux/netfilter.h>

#define NFT_TABLE "agent_sandbox"
#define NFT_FAMILY NFPROTO_INET

/* Set ids let rules refer to sets created earlier in the same batch; the
 * kernel also accepts names, ids are what nft sends as well. */
enum nft_set_ref {
        NFT_SET_ALLOWED_V4 = 1,
        NFT_SET_ALLOWED_V6,
        NFT_SET_TCP_PORTS,
        NFT_SET_DNS_V4,
        NFT_SET_DNS_V6,
        /* Addresses the sandbox's resolver handed out, each with its own
         * timeout; a re-apply keeps them (the resolver owns them). */
        NFT_SET_LEARNED_V4,
        NFT_SET_LEARNED_V6,
        _NFT_SET_MAX,
};

const char *nft_set_name(enum nft_set_ref set);
