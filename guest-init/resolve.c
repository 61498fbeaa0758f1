/* SPDX-License-Identifier: MIT */
#include "resolve.h"

#include <ares.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "aresloop.h"
#include "log.h"
#include "macro.h"
#include "netmark.h"
#include "timeouts.h"

struct resolver {
        struct loop *loop;
        struct aresloop ares;
        size_t pending;
        unsigned tries;
        bool mark_sockets;
        bool mark_failure_logged;
};

struct resolve_query {
        struct resolver *resolver;
        char *name;
        resolve_done_fn done;
        void *userdata;
};

void resolver_udp_buffer_grow(int fd) {
        int size = RESOLVER_UDP_RCVBUF;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* c-ares opens its sockets without close-on-exec; the agent must not
 * inherit PID 1's DNS sockets. */
static int resolver_sock_configure(ares_socket_t fd, int type, void *data) {
        struct resolver *r = data;
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
                return -1;
        if (r->mark_sockets) {
                int m = netmark_socket(fd, NETMARK_INIT_SOCKET);
                if (m < 0) {
                        if (!r->mark_failure_logged)
                                log_error_errno(m, "Failed to mark a DNS socket as the init's own (SO_MARK): %m; the firewall refuses its queries");
                        r->mark_failure_logged = true;
                        return -1;
                }
        }
        if (type == SOCK_DGRAM)
                resolver_udp_buffer_grow(fd);
        return 0;
}

int resolver_new(struct loop *l, const struct resolver_config *cfg, struct resolver **ret) {
        static bool library_ready;
        if (!library_ready) {
                if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
                        return -ENOMEM;
                library_ready = true;
        }
        struct resolver *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->loop = l;
        r->tries = cfg->tries ? cfg->tries : DNS_TRIES;
        r->mark_sockets = cfg->mark_sockets;

        int status = aresloop_init(&r->ares, l, cfg->resolv_conf ? cfg->resolv_conf : "/etc/resolv.conf",
                                   cfg->timeout_ms ? cfg->timeout_ms : TIMEOUT_DNS_TRY_MS, r->tries);
        if (status != ARES_SUCCESS) {
                free(r);
                return status == ARES_ENOMEM ? -ENOMEM : status == ARES_EFILE ? -ENOENT : -EINVAL;
        }
        ares_set_socket_configure_callback(r->ares.channel, resolver_sock_configure, r);
        *ret = r;
        return 0;
}

static int status_to_errno(int status) {
        switch (status) {
        case ARES_SUCCESS:
                return 0;
        case ARES_ENOTFOUND:
                return -ENOENT;
        case ARES_ENODATA:
                return -ENODATA;
        case ARES_ETIMEOUT:
                return -ETIMEDOUT;
        case ARES_ECONNREFUSED:
                return -ECONNREFUSED;
        case ARES_EDESTRUCTION:
        case ARES_ECANCELLED:
                return -ECANCELED;
        case ARES_ENOMEM:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

static const char *status_text(int status) {
        switch (status) {
        case ARES_ENOTFOUND:
                return "no such domain (NXDOMAIN)";
        case ARES_ENODATA:
                return "the name has no A or AAAA record";
        case ARES_ETIMEOUT:
                return "no answer from the DNS server (timed out)";
        case ARES_ECONNREFUSED:
                return "the DNS server refused the query";
        case ARES_ESERVFAIL:
                return "the DNS server failed (SERVFAIL)";
        default:
                return ares_strerror(status);
        }
}

/* Sorted unique host prefixes and the smallest TTL from c-ares' answer. */
static int collect_addresses(const struct ares_addrinfo *ai, struct ip_prefix **ret,
                             size_t *ret_n, uint32_t *ret_ttl) {
        size_t n = 0, k = 0;
        uint32_t ttl = UINT32_MAX;
        for (const struct ares_addrinfo_node *node = ai ? ai->nodes : NULL; node; node = node->ai_next)
                n++;
        struct ip_prefix *addrs = calloc(n + 1, sizeof(*addrs));
        if (!addrs)
                return -ENOMEM;
        for (const struct ares_addrinfo_node *node = ai ? ai->nodes : NULL; node; node = node->ai_next) {
                if (node->ai_family == AF_INET)
                        ip_prefix_from_addr(AF_INET, &((const struct sockaddr_in *) node->ai_addr)->sin_addr, &addrs[k]);
                else if (node->ai_family == AF_INET6)
                        ip_prefix_from_addr(AF_INET6, &((const struct sockaddr_in6 *) node->ai_addr)->sin6_addr, &addrs[k]);
                else
                        continue;
                k++;
                if (node->ai_ttl >= 0 && (uint32_t) node->ai_ttl < ttl)
                        ttl = (uint32_t) node->ai_ttl;
        }
        qsort(addrs, k, sizeof(*addrs), ip_prefix_compare);
        size_t unique = 0;
        for (size_t i = 0; i < k; i++)
                if (unique == 0 || ip_prefix_compare(&addrs[unique - 1], &addrs[i]) != 0)
                        addrs[unique++] = addrs[i];
        *ret = addrs;
        *ret_n = unique;
        *ret_ttl = ttl == UINT32_MAX ? 0 : ttl;
        return 0;
}

static void resolver_on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai) {
        struct resolve_query *q = arg;
        _cleanup_free_ struct ip_prefix *addrs = NULL;
        struct resolve_result res = {.name = q->name, .error = status_to_errno(status)};

        if (res.error == 0) {
                res.error = collect_addresses(ai, &addrs, &res.n_addrs, &res.ttl);
                if (res.error == 0 && res.n_addrs == 0) {
                        res.error = -ENODATA;
                        status = ARES_ENODATA;
                }
                res.addrs = addrs;
        }
        if (res.error < 0)
                res.error_text = status_text(status);
        if (ai)
                ares_freeaddrinfo(ai);
        q->resolver->pending--;
        q->done(&res, q->userdata);
        free(q->name);
        free(q);
}

int resolver_resolve(struct resolver *r, const char *name, resolve_done_fn done, void *userdata) {
        struct resolve_query *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        *q = (struct resolve_query) {.resolver = r, .name = strdup(name), .done = done, .userdata = userdata};
        if (!q->name) {
                free(q);
                return -ENOMEM;
        }
        /* NOSORT: sorting would connect() a probe socket to every answer. */
        struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT};
        r->pending++;
        ares_getaddrinfo(r->ares.channel, name, NULL, &hints, resolver_on_answer, q);
        aresloop_arm_timer(&r->ares);
        return 0;
}

int resolver_servers(struct resolver *r, struct ip_prefix **ret, size_t *ret_n) {
        struct ares_addr_port_node *servers = NULL;
        if (ares_get_servers_ports(r->ares.channel, &servers) != ARES_SUCCESS)
                return -ENOMEM;
        size_t n = 0, k = 0;
        for (struct ares_addr_port_node *s = servers; s; s = s->next)
                n++;
        struct ip_prefix *out = calloc(n + 1, sizeof(*out));
        if (!out) {
                ares_free_data(servers);
                return -ENOMEM;
        }
        for (struct ares_addr_port_node *s = servers; s; s = s->next) {
                if (s->family == AF_INET)
                        ip_prefix_from_addr(AF_INET, &s->addr.addr4, &out[k++]);
                else if (s->family == AF_INET6)
                        ip_prefix_from_addr(AF_INET6, &s->addr.addr6, &out[k++]);
        }
        ares_free_data(servers);
        *ret = out;
        *ret_n = k;
        return 0;
}

size_t resolver_pending(const struct resolver *r) {
        return r->pending;
}

void resolver_free(struct resolver *r) {
        if (!r)
                return;
        /* Runs every outstanding callback with ARES_EDESTRUCTION. */
        aresloop_done(&r->ares);
        free(r);
}
