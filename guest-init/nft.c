/* SPDX-License-Identifier: MIT */
#include "nft.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "nft_batch.h"
#include "nft_defs.h"
#include "nft_rules.h"
#include "nft_sets.h"
#include "ranges.h"

static void nft_batch_freep(struct nft_batch *b) {
        nft_batch_free(b);
}

static int table_add(struct nft_batch *b) {
        struct nftnl_table *t = nftnl_table_alloc();
        struct nlmsghdr *nlh = NULL;
        if (t) {
                nftnl_table_set_str(t, NFTNL_TABLE_NAME, SBX_TABLE);
                nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, SBX_FAMILY);
                nlh = nft_batch_msg(b, NFT_MSG_NEWTABLE, SBX_FAMILY, NLM_F_CREATE,
                                    "adding table inet " SBX_TABLE);
        }
        if (nlh) {
                nftnl_table_nlmsg_build_payload(nlh, t);
                nft_batch_msg_end(b, nlh);
        }
        if (t)
                nftnl_table_free(t);
        return nlh ? 0 : log_error_errno(-ENOMEM, "nftables: building the table message failed: %m");
}

/* Merged ranges of both families, freed together. */
struct merged {
        struct ip_range *v4, *v6;
        size_t n_v4, n_v6;
};

static void merged_free(struct merged *m) {
        free(m->v4);
        free(m->v6);
}

static int merge(const struct ip_prefix *p, size_t n, struct merged *ret, const char *what) {
        int r = ip_ranges_merge(p, n, AF_INET, &ret->v4, &ret->n_v4);
        if (r == 0)
                r = ip_ranges_merge(p, n, AF_INET6, &ret->v6, &ret->n_v6);
        if (r < 0)
                return log_error_errno(r, "nftables: merging %zu %s failed: %m", n, what);
        return 0;
}

static int add_allowed(struct nft_batch *b, const struct merged *m) {
        int r = nft_sets_add_ranges(b, SBX_SET_ALLOWED_V4, m->v4, m->n_v4);
        if (r == 0)
                r = nft_sets_add_ranges(b, SBX_SET_ALLOWED_V6, m->v6, m->n_v6);
        return r;
}

static int add_by_address(struct nft_batch *b, const struct ip_prefix *p, size_t n) {
        _cleanup_(merged_free) struct merged m = {0};
        int r = merge(p, n, &m, "destinations allowed by address");
        if (r == 0)
                r = nft_sets_add_ranges(b, SBX_SET_BY_ADDRESS_V4, m.v4, m.n_v4);
        if (r == 0)
                r = nft_sets_add_ranges(b, SBX_SET_BY_ADDRESS_V6, m.v6, m.n_v6);
        return r;
}

/* The sets of service i: with create, "add set" for all three and the
 * ports; always the flush and refill of its address sets. */
static int service_sets(struct nft_batch *b, size_t i, const struct nft_service *svc, bool create,
                        struct nft_stats *stats) {
        _cleanup_(merged_free) struct merged m = {0};
        struct nft_set_desc d[_SBX_SERVICE_SET_MAX];
        int r = 0;
        for (enum nft_service_set w = 0; r == 0 && w < _SBX_SERVICE_SET_MAX; w++)
                r = nft_set_service(i, svc->name, w, &d[w]);
        if (r < 0)
                return log_error_errno(r, "nftables: the sets of service %s cannot be named: %m", svc->name);
        char what[96];
        snprintf(what, sizeof(what), "destinations of service %s", svc->name);
        r = merge(svc->allowed, svc->n_allowed, &m, what);
        for (enum nft_service_set w = 0; create && r == 0 && w < _SBX_SERVICE_SET_MAX; w++)
                r = nft_set_add(b, &d[w]);
        if (create && r == 0)
                r = nft_set_flush(b, &d[SBX_SERVICE_PORTS]);
        if (r == 0)
                r = nft_set_flush(b, &d[SBX_SERVICE_V4]);
        if (r == 0)
                r = nft_set_flush(b, &d[SBX_SERVICE_V6]);
        if (create && r == 0)
                r = nft_set_add_ports(b, &d[SBX_SERVICE_PORTS], svc->tcp_ports, svc->n_tcp_ports);
        if (r == 0)
                r = nft_set_add_ranges(b, &d[SBX_SERVICE_V4], m.v4, m.n_v4);
        if (r == 0)
                r = nft_set_add_ranges(b, &d[SBX_SERVICE_V6], m.v6, m.n_v6);
        if (r == 0) {
                stats->service_v4_intervals += m.n_v4;
                stats->service_v6_intervals += m.n_v6;
        }
        return r;
}

/* The table is replaced in place, in one transaction: "add" of the table,
 * sets and chains creates them or keeps the existing ones, every rule and
 * element is removed, and the new ones are added. The kernel switches from
 * the old rules and elements to the new ones at commit, at once, so a
 * re-apply has no moment without rules, and a failure leaves the old ones.
 *
 * Why not nft's "add table; delete table; add table" idiom: with it the
 * sets are new objects, and on current kernels (seen on 6.18) a new
 * interval set publishes its lookup data only at the end of the commit,
 * after the new rules went live; connections to allowed addresses made in
 * that instant were rejected (17 of 14,000 during 1,600 re-applies). Safe,
 * since nothing leaks, but tools failed for no reason. Keeping the objects
 * avoids it; the table is written only by this code, so there are no
 * objects of another layout to clean up. */
static int build_policy(struct nft_batch *b, const struct nft_policy *p,
                        const struct merged *allowed, const struct merged *dns, struct nft_stats *stats) {
        int r = table_add(b);
        if (r == 0)
                r = nft_sets_add(b);
        /* The learned sets belong to the resolver's answers: a re-apply
         * keeps them, a new policy empties them here, with its rules, so
         * that no connection finds the new rules and the old answers. */
        for (enum sbx_set set = 1; r == 0 && set < _SBX_SET_MAX; set++)
                if (p->flush_learned || (set != SBX_SET_LEARNED_V4 && set != SBX_SET_LEARNED_V6))
                        r = nft_sets_flush(b, set);
        /* Before the rules that look them up. */
        for (size_t i = 0; r == 0 && i < p->n_services; i++)
                r = service_sets(b, i, &p->services[i], true, stats);
        if (r == 0)
                r = nft_rules_add_chains(b, p);
        if (r == 0)
                r = add_allowed(b, allowed);
        if (r == 0)
                r = nft_sets_add_ports(b, p->tcp_ports, p->n_tcp_ports);
        if (r == 0)
                r = nft_sets_add_ranges(b, SBX_SET_DNS_V4, dns->v4, dns->n_v4);
        if (r == 0)
                r = nft_sets_add_ranges(b, SBX_SET_DNS_V6, dns->v6, dns->n_v6);
        if (r == 0)
                r = add_by_address(b, p->by_address, p->n_by_address);
        if (r == 0)
                r = nft_set_add_ports(b, nft_set_fixed(SBX_SET_NAME_CHECKED_PORTS), p->name_checked_ports,
                                      p->n_name_checked_ports);
        return r;
}

/* Sends the batch; on success completes stats with what was sent and hands
 * them out. */
static int commit_counted(struct nft_batch *b, const struct merged *allowed, struct nft_stats *stats,
                          struct nft_stats *ret_stats) {
        int r = nft_batch_commit(b);
        if (r < 0)
                return r;
        stats->v4_intervals = allowed->n_v4;
        stats->v6_intervals = allowed->n_v6;
        stats->messages = nft_batch_messages(b);
        if (ret_stats)
                *ret_stats = *stats;
        return 0;
}

int nft_apply_policy(const struct nft_policy *p, struct nft_stats *ret_stats) {
        _cleanup_(merged_free) struct merged allowed = {0}, dns = {0};
        _cleanup_(nft_batch_freep) struct nft_batch b = {0};

        int r = merge(p->allowed, p->n_allowed, &allowed, "allowed destinations");
        if (r == 0)
                r = merge(p->resolvers, p->n_resolvers, &dns, "resolvers");
        if (r < 0)
                return r;
        if (nft_batch_init(&b) < 0)
                return log_error_errno(-ENOMEM, "nftables: out of memory building the batch");
        struct nft_stats stats = {0};
        r = build_policy(&b, p, &allowed, &dns, &stats);
        return r < 0 ? r : commit_counted(&b, &allowed, &stats, ret_stats);
}

int nft_update_allowed(const struct ip_prefix *prefixes, size_t n, struct nft_stats *ret_stats) {
        struct nft_sets_update u = {.update_allowed = true, .allowed = prefixes, .n_allowed = n};
        return nft_update_sets(&u, ret_stats);
}

int nft_update_sets(const struct nft_sets_update *u, struct nft_stats *ret_stats) {
        _cleanup_(merged_free) struct merged allowed = {0};
        _cleanup_(nft_batch_freep) struct nft_batch b = {0};
        struct nft_stats stats = {0};
        int r = 0;

        if (u->update_allowed)
                r = merge(u->allowed, u->n_allowed, &allowed, "allowed destinations");
        if (r < 0)
                return r;
        if (nft_batch_init(&b) < 0)
                return log_error_errno(-ENOMEM, "nftables: out of memory building the batch");
        /* Flush and refill in one transaction: lookups see the old contents
         * until the commit and the new ones after it, never an empty set. */
        if (u->update_allowed) {
                r = nft_sets_flush(&b, SBX_SET_ALLOWED_V4);
                if (r == 0)
                        r = nft_sets_flush(&b, SBX_SET_ALLOWED_V6);
                if (r == 0)
                        r = add_allowed(&b, &allowed);
        }
        /* Set names are what matters here; ids only tie rules to sets
         * created in the same batch. */
        for (size_t i = 0; r == 0 && i < u->n_services; i++)
                r = service_sets(&b, i, &u->services[i], false, &stats);
        return r < 0 ? r : commit_counted(&b, &allowed, &stats, ret_stats);
}

/* Per family: the elements to remove (replaced with a later expiry) go
 * first, then every element to add, in the same transaction. */
static int learned_family(struct nft_batch *b, int family, const struct nft_learned *add, size_t n_add,
                          const struct nft_learned *del, size_t n_del) {
        enum sbx_set set = family == AF_INET ? SBX_SET_LEARNED_V4 : SBX_SET_LEARNED_V6;
        size_t key_len = family == AF_INET ? 4 : 16;
        _cleanup_free_ struct nft_timed_elem *te = calloc(n_add + n_del + 1, sizeof(*te));
        if (!te)
                return log_oom();
        for (int pass = 0; pass < 2; pass++) {
                const struct nft_learned *list = pass == 0 ? del : add;
                size_t n = pass == 0 ? n_del : n_add, k = 0;
                for (size_t i = 0; i < n; i++)
                        if (list[i].addr.family == family) {
                                memcpy(te[k].key, list[i].addr.addr, key_len);
                                te[k++].timeout_ms = list[i].timeout_ms;
                        }
                int r = nft_sets_timed(b, set, te, k, pass == 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

int nft_learned_update(const struct nft_learned *add, size_t n_add, const struct nft_learned *del, size_t n_del) {
        _cleanup_(nft_batch_freep) struct nft_batch b = {0};
        /* On the path of every new answer, which waits for it: no acks to
         * build and read back, the outcome is known when sendmsg() returns
         * (nft_batch_init_errors_only). */
        if (nft_batch_init_errors_only(&b) < 0)
                return log_oom();
        int r = learned_family(&b, AF_INET, add, n_add, del, n_del);
        if (r == 0)
                r = learned_family(&b, AF_INET6, add, n_add, del, n_del);
        if (r == 0)
                r = nft_batch_commit(&b);
        return r;
}

int nft_table_exists(void) {
        _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
        char buf[16384];
        uint32_t seq = (uint32_t) time(NULL);

        int r = nft_socket_open(&nl);
        if (r < 0)
                return r;
        struct nftnl_table *t = nftnl_table_alloc();
        if (!t)
                return log_error_errno(-ENOMEM, "nftables: out of memory");
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, SBX_TABLE);
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, SBX_FAMILY, NLM_F_ACK, seq);
        nftnl_table_nlmsg_build_payload(nlh, t);
        nftnl_table_free(t);

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return log_error_errno(negative_errno(), "nftables: asking for table inet " SBX_TABLE " failed: %m");
        /* The table comes back (if it exists), then the ack or the error. */
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return log_error_errno(negative_errno(),
                                               "nftables: reading table inet " SBX_TABLE " failed: %m");
                r = mnl_cb_run(buf, (size_t) n, seq, mnl_socket_get_portid(nl), NULL, NULL);
                if (r == MNL_CB_STOP)
                        return 1;
                if (r < 0 && errno == ENOENT)
                        return 0;
                if (r < 0) {
                        r = negative_errno();
                        if (r == -EPERM)
                                return log_error_errno(r, "nftables: reading table inet " SBX_TABLE " failed: %m; "
                                                       "this needs CAP_NET_ADMIN (docker run --cap-add=NET_ADMIN)");
                        return log_error_errno(r, "nftables: reading table inet " SBX_TABLE " failed: %m");
                }
        }
}
