/* The chains of table inet agent_sandbox and the rules in them (internal). */
#pragma once

#include "nft_batch.h"

/* Appends "add chain" for output and input, then their rules, to b.
 * Returns 0 or -ENOMEM (logged). */
int nft_rules_add_chains(struct nft_batch *b);
