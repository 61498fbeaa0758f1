/* SPDX-License-Identifier: MIT */
#include "nft_expr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <stdlib.h>
#include <string.h>

static struct nftnl_expr *expr_new(struct nft_rule_builder *rb, const char *name) {
        struct nftnl_expr *e = nftnl_expr_alloc(name);
        if (!e)
                rb->oom = true;
        return e;
}

static void expr_add(struct nft_rule_builder *rb, struct nftnl_expr *e) {
        if (e)
                nftnl_rule_add_expr(rb->r, e);
}

void nft_expr_meta(struct nft_rule_builder *rb, uint32_t key) {
        struct nftnl_expr *e = expr_new(rb, "meta");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        }
        expr_add(rb, e);
}

void nft_expr_payload(struct nft_rule_builder *rb, uint32_t base, uint32_t offset, uint32_t len) {
        struct nftnl_expr *e = expr_new(rb, "payload");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        }
        expr_add(rb, e);
}

void nft_expr_cmp(struct nft_rule_builder *rb, uint32_t op, const void *data, uint32_t len) {
        struct nftnl_expr *e = expr_new(rb, "cmp");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
                nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        }
        expr_add(rb, e);
}

void nft_expr_range_u8(struct nft_rule_builder *rb, uint8_t from, uint8_t to) {
        struct nftnl_expr *e = expr_new(rb, "range");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
                nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &from, 1);
                nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &to, 1);
        }
        expr_add(rb, e);
}

void nft_expr_lookup(struct nft_rule_builder *rb, enum sbx_set set) {
        nft_expr_lookup_set(rb, nft_set_name(set), set);
}

void nft_expr_lookup_not(struct nft_rule_builder *rb, enum sbx_set set) {
        struct nftnl_expr *e = expr_new(rb, "lookup");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
                nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, nft_set_name(set));
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set);
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
        }
        expr_add(rb, e);
}

void nft_expr_lookup_set(struct nft_rule_builder *rb, const char *name, uint32_t id) {
        struct nftnl_expr *e = expr_new(rb, "lookup");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
                nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, name);
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
        }
        expr_add(rb, e);
}

void nft_expr_ct(struct nft_rule_builder *rb, uint32_t key) {
        struct nftnl_expr *e = expr_new(rb, "ct");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        }
        expr_add(rb, e);
}

/* reg1 = mark, then the key of expression name ("ct" or "meta") set from
 * it: the two marks are set the same way. */
static void set_mark(struct nft_rule_builder *rb, const char *name, uint16_t key_attr, uint32_t key,
                     uint16_t sreg_attr, uint32_t mark) {
        struct nftnl_expr *e = expr_new(rb, "immediate");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
                nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &mark, sizeof(mark));
        }
        expr_add(rb, e);
        e = expr_new(rb, name);
        if (e) {
                nftnl_expr_set_u32(e, key_attr, key);
                nftnl_expr_set_u32(e, sreg_attr, NFT_REG_1);
        }
        expr_add(rb, e);
}

void nft_expr_ct_set_mark(struct nft_rule_builder *rb, uint32_t mark) {
        set_mark(rb, "ct", NFTNL_EXPR_CT_KEY, NFT_CT_MARK, NFTNL_EXPR_CT_SREG, mark);
}

void nft_expr_meta_set_mark(struct nft_rule_builder *rb, uint32_t mark) {
        set_mark(rb, "meta", NFTNL_EXPR_META_KEY, NFT_META_MARK, NFTNL_EXPR_META_SREG, mark);
}

void nft_expr_queue(struct nft_rule_builder *rb, uint16_t queue_num) {
        struct xt_NFQ_info_v3 info = { .queuenum = queue_num, .queues_total = 1 };
        struct nftnl_expr *e = expr_new(rb, "target");
        if (e) {
                nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
                nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
                /* libnftnl takes the pointer and frees it with the rule. */
                void *copy = malloc(sizeof(info));
                if (!copy) {
                        rb->oom = true;
                        nftnl_expr_free(e);
                        return;
                }
                memcpy(copy, &info, sizeof(info));
                nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, copy, sizeof(info));
        }
        expr_add(rb, e);
}

void nft_expr_redirect(struct nft_rule_builder *rb, uint16_t port) {
        uint16_t be = htons(port);
        struct nftnl_expr *e = expr_new(rb, "immediate");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
                nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &be, sizeof(be));
        }
        expr_add(rb, e);
        e = expr_new(rb, "redir");
        if (e)
                nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
        expr_add(rb, e);
}

void nft_expr_and(struct nft_rule_builder *rb, uint32_t mask) {
        uint32_t zero = 0;
        struct nftnl_expr *e = expr_new(rb, "bitwise");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(mask));
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
        }
        expr_add(rb, e);
}

/* ct state & bits != 0: the state is one bit per value, host byte order. */
void nft_expr_ct_state_any(struct nft_rule_builder *rb, uint32_t bits) {
        uint32_t zero = 0;
        nft_expr_ct(rb, NFT_CT_STATE);
        struct nftnl_expr *e = expr_new(rb, "bitwise");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(bits));
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &bits, sizeof(bits));
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
        }
        expr_add(rb, e);
        nft_expr_cmp(rb, NFT_CMP_NEQ, &zero, sizeof(zero));
}

void nft_expr_counter(struct nft_rule_builder *rb) {
        expr_add(rb, expr_new(rb, "counter"));
}

void nft_expr_verdict(struct nft_rule_builder *rb, int v) {
        struct nftnl_expr *e = expr_new(rb, "immediate");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t) v);
        }
        expr_add(rb, e);
}

void nft_expr_reject(struct nft_rule_builder *rb, uint32_t type, uint8_t code) {
        struct nftnl_expr *e = expr_new(rb, "reject");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
                nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
        }
        expr_add(rb, e);
}

void nft_expr_limit(struct nft_rule_builder *rb, uint64_t per_second, uint32_t burst) {
        struct nftnl_expr *e = expr_new(rb, "limit");
        if (e) {
                nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, per_second);
                nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
                nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
                nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
        }
        expr_add(rb, e);
}

void nft_expr_log_group(struct nft_rule_builder *rb, uint16_t group, uint32_t snaplen) {
        struct nftnl_expr *e = expr_new(rb, "log");
        if (e) {
                nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, snaplen);
        }
        expr_add(rb, e);
}

int nft_rule_begin(struct nft_rule_builder *rb, const char *chain, const char *comment) {
        *rb = (struct nft_rule_builder) { .r = nftnl_rule_alloc() };
        if (!rb->r)
                return -ENOMEM;
        nftnl_rule_set_str(rb->r, NFTNL_RULE_TABLE, SBX_TABLE);
        nftnl_rule_set_str(rb->r, NFTNL_RULE_CHAIN, chain);
        nftnl_rule_set_u32(rb->r, NFTNL_RULE_FAMILY, SBX_FAMILY);

        /* A comment, as `nft add rule ... comment "..."` stores it, so that
         * whoever lists the ruleset sees why each rule is there. */
        struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 16);
        if (!ud)
                return -ENOMEM;
        if (!nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment)) {
                nftnl_udata_buf_free(ud);
                return -ENOBUFS;        /* a comment longer than nft allows */
        }
        nftnl_rule_set_data(rb->r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
        nftnl_udata_buf_free(ud);
        return 0;
}

int nft_rule_end(struct nft_batch *b, struct nft_rule_builder *rb, const char *chain, const char *comment) {
        struct nlmsghdr *nlh = NULL;
        if (!rb->oom)
                nlh = nft_batch_msg(b, NFT_MSG_NEWRULE, SBX_FAMILY, NLM_F_CREATE | NLM_F_APPEND,
                                    "adding rule \"%s\" to chain %s", comment, chain);
        if (nlh) {
                nftnl_rule_nlmsg_build_payload(nlh, rb->r);
                nft_batch_msg_end(b, nlh);
        }
        nftnl_rule_free(rb->r);
        rb->r = NULL;
        return nlh ? 0 : -ENOMEM;
}
