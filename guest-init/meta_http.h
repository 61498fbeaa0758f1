/* SPDX-License-Identifier: MIT */
/* One HTTP(S) GET of GitHub's meta document with libcurl, which is loaded
 * at run time (dlopen) by the process that fetches. PID 1 never maps it:
 * it runs this in a forked child without privileges (meta.c), so neither
 * the TLS stack nor its 30-odd libraries cost PID 1 memory, startup time
 * or attack surface. Blocking: only for a process of its own. */
#pragma once

#include <stddef.h>

#define META_MAX_BODY (4u * 1024 * 1024)

/* A TCP socket made (and marked as the init's own, netmark.h) before the
 * fetching process dropped the privilege that marking takes. */
struct meta_socket {
        int fd;                         /* -1 once handed to libcurl */
        int family;
};

struct meta_http_request {
        const char *url;
        /* When given, libcurl connects through these and opens no socket of
         * its own: the firewall lets the init's marked sockets out, and
         * nothing else of the fetch. */
        struct meta_socket *sockets;
        size_t n_sockets;
        const char *resolve;            /* "host:port:addr[,addr]" (CURLOPT_RESOLVE), or NULL */
        const char *ca_pem;             /* the only CAs to trust (PEM in memory), or NULL: the system's */
        size_t ca_pem_len;
        unsigned timeout_ms;            /* the whole transfer; 0: TIMEOUT_META_FETCH_MS */
};

/* 0 with the body (NUL-terminated; free it), or -errno with *ret_why (free
 * it) saying why, in words for the log. */
int meta_http_get(const struct meta_http_request *req, char **ret_body, size_t *ret_len, char **ret_why);

/* The PEM file of the CAs to trust, read whole (at most 1 MiB) so that it
 * can be read before a privilege drop. 0, or -errno with *ret_why. */
int meta_read_ca_file(const char *path, char **ret, size_t *ret_len, char **ret_why);

/* "host:port:addr,addr" for url (default port 443 for https, 80 for http),
 * into buf: 0, or -EINVAL (not a URL policy_url_parse accepts) / -ENOBUFS. */
struct ip_prefix;
int meta_resolve_entry(const char *url, const struct ip_prefix *addrs, size_t n, char *buf, size_t len);
