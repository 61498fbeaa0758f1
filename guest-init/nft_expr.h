/* SPDX-License-Identifier: MIT */
/* Building one nftables rule from the kernel's expressions, all working on
 * register 1 (internal to the nftables layer). An allocation failure is
 * remembered in the builder and reported by nft_rule_end(). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nft_batch.h"
#include "nft_defs.h"

struct nftnl_rule;

struct nft_rule_builder {
        struct nftnl_rule *r;
        bool oom;
};

/* A rule for the chain, carrying comment as nft stores one. */
int nft_rule_begin(struct nft_rule_builder *rb, const char *chain, const char *comment);
/* Appends the rule to the batch ("adding rule \"comment\" to chain c")
 * and frees it. Returns 0 or -ENOMEM. */
int nft_rule_end(struct nft_batch *b, struct nft_rule_builder *rb, const char *chain, const char *comment);

void nft_expr_meta(struct nft_rule_builder *rb, uint32_t key);
void nft_expr_payload(struct nft_rule_builder *rb, uint32_t base, uint32_t offset, uint32_t len);
void nft_expr_cmp(struct nft_rule_builder *rb, uint32_t op, const void *data, uint32_t len);
void nft_expr_range_u8(struct nft_rule_builder *rb, uint8_t from, uint8_t to);
void nft_expr_lookup(struct nft_rule_builder *rb, enum sbx_set set);
/* Matches when register 1 is not in the set. */
void nft_expr_lookup_not(struct nft_rule_builder *rb, enum sbx_set set);
/* Loads a conntrack key (NFT_CT_DIRECTION, NFT_CT_MARK, ...) */
void nft_expr_ct(struct nft_rule_builder *rb, uint32_t key);
/* ct mark set mark */
void nft_expr_ct_set_mark(struct nft_rule_builder *rb, uint32_t mark);
/* A set by name and the id it has in this batch (a service's set). */
void nft_expr_lookup_set(struct nft_rule_builder *rb, const char *name, uint32_t id);
/* redirect to :port (host byte order) on loopback, in a NAT chain */
void nft_expr_redirect(struct nft_rule_builder *rb, uint16_t port);
/* meta mark set mark */
void nft_expr_meta_set_mark(struct nft_rule_builder *rb, uint32_t mark);
/* queue to queue_num, without bypass: with no program bound to the queue
 * the packet is dropped. The xtables NFQUEUE target through nft_compat,
 * which kernels have wherever iptables-nft works, where nft's own queue
 * expression (CONFIG_NFT_QUEUE) is often left out; nft lists it as
 * "queue num N" all the same. */
void nft_expr_queue(struct nft_rule_builder *rb, uint16_t queue_num);
/* reg1 = reg1 & mask (4 bytes) */
void nft_expr_and(struct nft_rule_builder *rb, uint32_t mask);
/* ct state & bits != 0 */
void nft_expr_ct_state_any(struct nft_rule_builder *rb, uint32_t bits);
void nft_expr_counter(struct nft_rule_builder *rb);
void nft_expr_verdict(struct nft_rule_builder *rb, int verdict);
void nft_expr_reject(struct nft_rule_builder *rb, uint32_t type, uint8_t code);
/* limit rate RATE/second burst BURST packets: the rest of the rule is
 * skipped (the next rule runs) for packets beyond it. */
void nft_expr_limit(struct nft_rule_builder *rb, uint64_t per_second, uint32_t burst);
/* log group GROUP snaplen SNAPLEN: the packet's first bytes to nfnetlink_log. */
void nft_expr_log_group(struct nft_rule_builder *rb, uint16_t group, uint32_t snaplen);
