/* SPDX-License-Identifier: MIT */
/* The chains of table inet agent_sandbox and the rules in them (internal). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "nft.h"
#include "nft_batch.h"

/* Appends to b: "add chain" for output and input (creating them, or
 * keeping the existing ones and their hooks), the removal of all their
 * current rules, then the rules of p: root_dns_forwarding, services
 * (after the allowed rules), the resolver's (resolver_port). Returns 0 or
 * -ENOMEM (logged). */
int nft_rules_add_chains(struct nft_batch *b, const struct nft_policy *p);
