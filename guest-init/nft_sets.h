/* SPDX-License-Identifier: MIT */
/* The sets of table inet agent_sandbox and their elements (internal). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft_batch.h"
#include "nft_defs.h"
#include "ranges.h"

/* A set of the table: name, the id that rules in the same batch refer to
 * it by, and its key. */
struct nft_set_desc {
        char name[64];
        uint32_t id;
        uint32_t key_type, key_len, flags;
};

const struct nft_set_desc *nft_set_fixed(enum sbx_set set);

/* The three sets of a service that adds ports (nft_policy.services):
 * svc_NAME_v4 and svc_NAME_v6 (interval, its destinations) and
 * svc_NAME_tcp_ports. index is the service's position, for the ids.
 * -ENAMETOOLONG for a name that does not fit. */
enum nft_service_set { SBX_SERVICE_V4, SBX_SERVICE_V6, SBX_SERVICE_PORTS, _SBX_SERVICE_SET_MAX };
int nft_set_service(size_t index, const char *service, enum nft_service_set which, struct nft_set_desc *ret);

/* "add set" for one set, empty (an existing one is kept as it is). */
int nft_set_add(struct nft_batch *b, const struct nft_set_desc *d);
int nft_set_add_ranges(struct nft_batch *b, const struct nft_set_desc *d,
                       const struct ip_range *ranges, size_t n);
int nft_set_add_ports(struct nft_batch *b, const struct nft_set_desc *d, const uint16_t *ports, size_t n);
int nft_set_flush(struct nft_batch *b, const struct nft_set_desc *d);

/* The same for the fixed sets (enum sbx_set). */
/* "add set" for every fixed set, empty. */
int nft_sets_add(struct nft_batch *b);

/* Elements of an interval set: per range a start element and, unless the
 * range reaches the top of the address space, an end element at last + 1.
 * Split over several messages, each well below the 64 KiB an attribute
 * nest can hold. */
int nft_sets_add_ranges(struct nft_batch *b, enum sbx_set set,
                        const struct ip_range *ranges, size_t n);

int nft_sets_add_ports(struct nft_batch *b, const uint16_t *ports, size_t n);

/* Elements with a timeout each, for the learned sets (NFT_SET_TIMEOUT): one
 * NEWSETELEM, or with remove one DELSETELEM (timeouts ignored). At most
 * 1024 elements. */
struct nft_timed_elem {
        uint8_t key[16];        /* the set's key_len bytes are used */
        uint64_t timeout_ms;
};
int nft_sets_timed(struct nft_batch *b, enum sbx_set set, const struct nft_timed_elem *te, size_t n,
                   bool remove);

/* Removes every element of the set (a DELSETELEM naming no element). */
int nft_sets_flush(struct nft_batch *b, enum sbx_set set);
