/* The sets of table inet agent_sandbox and their elements (internal). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nft_batch.h"
#include "nft_defs.h"
#include "ranges.h"

/* "add set" for every set, empty. */
int nft_sets_add(struct nft_batch *b);

/* Elements of an interval set: per range a start element and, unless the
 * range reaches the top of the address space, an end element at last + 1.
 * Split over several messages, each well below the 64 KiB an attribute
 * nest can hold. */
int nft_sets_add_ranges(struct nft_batch *b, enum nft_set_ref set,
                        const struct ip_range *ranges, size_t n);

int nft_sets_add_ports(struct nft_batch *b, const uint16_t *ports, size_t n);

/* Removes every element of the set (a DELSETELEM naming no element). */
int nft_sets_flush(struct nft_batch *b, enum nft_set_ref set);
