/* SPDX-License-Identifier: MIT */
#include "nft_sets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "macro.h"

/* nft's own datatype numbers, stored with the set so that `nft list`
 * prints addresses and ports instead of raw bytes. */
#define NFT_DATATYPE_IPV4_ADDR 7
#define NFT_DATATYPE_IPV6_ADDR 8
#define NFT_DATATYPE_INET_SERVICE 13

/* 1024 IPv6 interval elements take about 37 KiB: under the 64 KiB limit of
 * one attribute nest and under SBX_BATCH_MSG_MAX. */
#define ELEMS_PER_MSG 1024

static const struct nft_set_desc set_defs[_SBX_SET_MAX] = {
        [SBX_SET_ALLOWED_V4] = { "allowed_v4", SBX_SET_ALLOWED_V4, NFT_DATATYPE_IPV4_ADDR, 4, NFT_SET_INTERVAL },
        [SBX_SET_ALLOWED_V6] = { "allowed_v6", SBX_SET_ALLOWED_V6, NFT_DATATYPE_IPV6_ADDR, 16, NFT_SET_INTERVAL },
        [SBX_SET_TCP_PORTS] = { "allowed_tcp_ports", SBX_SET_TCP_PORTS, NFT_DATATYPE_INET_SERVICE, 2, 0 },
        [SBX_SET_DNS_V4] = { "dns_v4", SBX_SET_DNS_V4, NFT_DATATYPE_IPV4_ADDR, 4, NFT_SET_INTERVAL },
        [SBX_SET_DNS_V6] = { "dns_v6", SBX_SET_DNS_V6, NFT_DATATYPE_IPV6_ADDR, 16, NFT_SET_INTERVAL },
        [SBX_SET_LEARNED_V4] = { "learned_v4", SBX_SET_LEARNED_V4, NFT_DATATYPE_IPV4_ADDR, 4, NFT_SET_TIMEOUT },
        [SBX_SET_LEARNED_V6] = { "learned_v6", SBX_SET_LEARNED_V6, NFT_DATATYPE_IPV6_ADDR, 16, NFT_SET_TIMEOUT },
        [SBX_SET_BY_ADDRESS_V4] = { "by_address_v4", SBX_SET_BY_ADDRESS_V4, NFT_DATATYPE_IPV4_ADDR, 4, NFT_SET_INTERVAL },
        [SBX_SET_BY_ADDRESS_V6] = { "by_address_v6", SBX_SET_BY_ADDRESS_V6, NFT_DATATYPE_IPV6_ADDR, 16, NFT_SET_INTERVAL },
        [SBX_SET_NAME_CHECKED_PORTS] = { "name_checked_tcp_ports", SBX_SET_NAME_CHECKED_PORTS, NFT_DATATYPE_INET_SERVICE, 2, 0 },
};

const char *nft_set_name(enum sbx_set set) {
        return set_defs[set].name;
}

const struct nft_set_desc *nft_set_fixed(enum sbx_set set) {
        return &set_defs[set];
}

int nft_set_service(size_t index, const char *service, enum nft_service_set which, struct nft_set_desc *ret) {
        static const char *const suffix[_SBX_SERVICE_SET_MAX] = {
                [SBX_SERVICE_V4] = "v4", [SBX_SERVICE_V6] = "v6", [SBX_SERVICE_PORTS] = "tcp_ports",
        };
        /* "svc_" keeps a service's sets apart from the fixed ones whatever
         * the catalog names it. */
        int n = snprintf(ret->name, sizeof(ret->name), "svc_%s_%s", service, suffix[which]);
        if (n < 0 || (size_t) n >= sizeof(ret->name))
                return -ENAMETOOLONG;
        ret->id = _SBX_SET_MAX + (uint32_t) (index * _SBX_SERVICE_SET_MAX + which);
        ret->key_type = which == SBX_SERVICE_V4 ? NFT_DATATYPE_IPV4_ADDR
                      : which == SBX_SERVICE_V6 ? NFT_DATATYPE_IPV6_ADDR : NFT_DATATYPE_INET_SERVICE;
        ret->key_len = which == SBX_SERVICE_V4 ? 4 : which == SBX_SERVICE_V6 ? 16 : 2;
        ret->flags = which == SBX_SERVICE_PORTS ? 0 : NFT_SET_INTERVAL;
        return 0;
}

/* A set object naming the set; what element messages are built from. */
static struct nftnl_set *set_object(const struct nft_set_desc *d) {
        struct nftnl_set *s = nftnl_set_alloc();
        if (!s)
                return NULL;
        nftnl_set_set_str(s, NFTNL_SET_TABLE, SBX_TABLE);
        nftnl_set_set_str(s, NFTNL_SET_NAME, d->name);
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, SBX_FAMILY);
        return s;
}

int nft_set_add(struct nft_batch *b, const struct nft_set_desc *d) {
        struct nftnl_set *s = set_object(d);
        struct nlmsghdr *nlh = NULL;
        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_ID, d->id);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->key_type);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->key_len);
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, d->flags);
                nlh = nft_batch_msg(b, NFT_MSG_NEWSET, SBX_FAMILY, NLM_F_CREATE, "adding set %s", d->name);
        }
        if (nlh) {
                nftnl_set_nlmsg_build_payload(nlh, s);
                nft_batch_msg_end(b, nlh);
        }
        if (s)
                nftnl_set_free(s);
        if (!nlh)
                return log_error_errno(-ENOMEM, "nftables: building set %s failed: %m", d->name);
        return 0;
}

int nft_sets_add(struct nft_batch *b) {
        for (enum sbx_set set = 1; set < _SBX_SET_MAX; set++) {
                int r = nft_set_add(b, &set_defs[set]);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct elem {
        uint8_t key[16];
        bool end;
        uint64_t timeout_ms;    /* 0: none (sets without NFT_SET_TIMEOUT) */
};

static int elem_add(struct nftnl_set *s, const struct elem *e, uint32_t key_len) {
        struct nftnl_set_elem *se = nftnl_set_elem_alloc();
        if (!se)
                return -ENOMEM;
        nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY, e->key, key_len);
        if (e->end)
                nftnl_set_elem_set_u32(se, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
        if (e->timeout_ms)
                nftnl_set_elem_set_u64(se, NFTNL_SET_ELEM_TIMEOUT, e->timeout_ms);
        nftnl_set_elem_add(s, se);
        return 0;
}

/* One NEWSETELEM (or DELSETELEM) message holding elems[0..n). */
static int elems_msg_type(struct nft_batch *b, uint16_t type, const struct nft_set_desc *d,
                          const struct elem *elems, size_t n, const char *detail) {
        struct nftnl_set *s = set_object(d);
        struct nlmsghdr *nlh = NULL;
        int r = s ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++)
                r = elem_add(s, &elems[i], d->key_len);
        if (r == 0)
                nlh = nft_batch_msg(b, type, SBX_FAMILY, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0,
                                    "%s %zu elements%s %s set %s", type == NFT_MSG_NEWSETELEM ? "adding" : "removing",
                                    n, detail, type == NFT_MSG_NEWSETELEM ? "to" : "from", d->name);
        if (nlh) {
                nftnl_set_elems_nlmsg_build_payload(nlh, s);
                nft_batch_msg_end(b, nlh);
        }
        if (s)
                nftnl_set_free(s);
        if (!nlh)
                return log_error_errno(-ENOMEM, "nftables: building elements of set %s failed: %m", d->name);
        return 0;
}

static int elems_msg(struct nft_batch *b, const struct nft_set_desc *d, const struct elem *elems, size_t n,
                     const char *detail) {
        return elems_msg_type(b, NFT_MSG_NEWSETELEM, d, elems, n, detail);
}

int nft_sets_timed(struct nft_batch *b, enum sbx_set set, const struct nft_timed_elem *te, size_t n,
                   bool remove) {
        const struct nft_set_desc *d = &set_defs[set];
        if (n == 0)
                return 0;
        if (n > ELEMS_PER_MSG)
                return log_error_errno(-E2BIG, "nftables: %zu elements for set %s in one message: %m", n, d->name);
        _cleanup_free_ struct elem *elems = calloc(n, sizeof(*elems));
        if (!elems)
                return log_error_errno(-ENOMEM, "nftables: building elements of set %s failed: %m", d->name);
        for (size_t i = 0; i < n; i++) {
                memcpy(elems[i].key, te[i].key, d->key_len);
                elems[i].timeout_ms = remove ? 0 : te[i].timeout_ms;
        }
        return elems_msg_type(b, remove ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, d, elems, n, "");
}

/* The start/end element list of merged ranges, as nft sends it: for a set
 * that starts empty, an end element at address 0 closes the space below
 * the first range (older kernels' interval lookups rely on it). */
static struct elem *ranges_to_elems(const struct ip_range *ranges, size_t n, size_t key_len,
                                    size_t *ret_n) {
        struct elem *e = calloc(2 * n + 1, sizeof(*e));
        size_t k = 0;
        static const uint8_t zero[16];
        if (!e)
                return NULL;
        if (memcmp(ranges[0].first, zero, key_len) != 0)
                e[k++].end = true;
        for (size_t i = 0; i < n; i++) {
                memcpy(e[k++].key, ranges[i].first, key_len);
                if (ip_range_end(&ranges[i], e[k].key))
                        e[k++].end = true;
        }
        *ret_n = k;
        return e;
}

int nft_sets_add_ranges(struct nft_batch *b, enum sbx_set set,
                        const struct ip_range *ranges, size_t n) {
        return nft_set_add_ranges(b, &set_defs[set], ranges, n);
}

int nft_set_add_ranges(struct nft_batch *b, const struct nft_set_desc *d,
                       const struct ip_range *ranges, size_t n) {
        size_t key_len = d->key_len, n_elems;
        if (n == 0)
                return 0;
        _cleanup_free_ struct elem *elems = ranges_to_elems(ranges, n, key_len, &n_elems);
        if (!elems)
                return log_error_errno(-ENOMEM, "nftables: building elements of set %s failed: %m", d->name);
        for (size_t at = 0; at < n_elems; at += ELEMS_PER_MSG) {
                size_t count = n_elems - at < ELEMS_PER_MSG ? n_elems - at : ELEMS_PER_MSG;
                char first[IP_RANGE_STRLEN], detail[2 * IP_RANGE_STRLEN];
                /* Name where the message starts, so an error can be found
                 * in the policy: ranges are sorted. */
                size_t range_index = (at + 1) / 2;
                if (range_index >= n)
                        range_index = n - 1;
                snprintf(detail, sizeof(detail), " (from range %s, %zu ranges in all)",
                         ip_range_format(&ranges[range_index], first), n);
                int r = elems_msg(b, d, elems + at, count, detail);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int port_compare(const void *a, const void *b) {
        uint16_t x = *(const uint16_t *) a, y = *(const uint16_t *) b;
        return (x > y) - (x < y);
}

int nft_sets_add_ports(struct nft_batch *b, const uint16_t *ports, size_t n) {
        return nft_set_add_ports(b, &set_defs[SBX_SET_TCP_PORTS], ports, n);
}

int nft_set_add_ports(struct nft_batch *b, const struct nft_set_desc *d, const uint16_t *ports, size_t n) {
        if (n == 0)
                return 0;
        _cleanup_free_ uint16_t *sorted = calloc(n, sizeof(*sorted));
        _cleanup_free_ struct elem *elems = calloc(n, sizeof(*elems));
        if (!sorted || !elems)
                return log_error_errno(-ENOMEM, "nftables: building the port set %s failed: %m", d->name);
        memcpy(sorted, ports, n * sizeof(*ports));
        qsort(sorted, n, sizeof(*sorted), port_compare);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && sorted[i] == sorted[i - 1])
                        continue;
                uint16_t be = htons(sorted[i]);
                memcpy(elems[k++].key, &be, sizeof(be));
        }
        for (size_t at = 0; at < k; at += ELEMS_PER_MSG) {
                size_t count = k - at < ELEMS_PER_MSG ? k - at : ELEMS_PER_MSG;
                int r = elems_msg(b, d, elems + at, count, "");
                if (r < 0)
                        return r;
        }
        return 0;
}

int nft_sets_flush(struct nft_batch *b, enum sbx_set set) {
        return nft_set_flush(b, &set_defs[set]);
}

int nft_set_flush(struct nft_batch *b, const struct nft_set_desc *d) {
        struct nftnl_set *s = set_object(d);
        struct nlmsghdr *nlh = NULL;
        if (s)
                nlh = nft_batch_msg(b, NFT_MSG_DELSETELEM, SBX_FAMILY, 0,
                                    "flushing set %s of table inet " SBX_TABLE, d->name);
        if (nlh) {
                nftnl_set_elems_nlmsg_build_payload(nlh, s);
                nft_batch_msg_end(b, nlh);
        }
        if (s)
                nftnl_set_free(s);
        return nlh ? 0 : log_error_errno(-ENOMEM, "nftables: building a flush of set %s failed: %m", d->name);
}
