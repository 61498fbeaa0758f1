/* SPDX-License-Identifier: MIT */
/* Fetch GitHub's meta ranges over HTTPS from PID 1's event loop: a child
 * without privileges does the transfer and the parsing (meta_http.h), PID 1
 * reads back the ranges; bounded by a timeout; fall back to the snapshot
 * baked into the image, and say why. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "loop.h"
#include "prefix.h"

struct meta_config {
        const char *url;
        const char *ca_file;            /* NULL: the system's CA store */
        unsigned timeout_ms;            /* the whole transfer; 0: TIMEOUT_META_FETCH_MS */
        const char *snapshot_path;
        /* The URL's host, already resolved by our own resolver and passed
         * the rebinding guard: the fetch connects to these and nothing else. */
        const struct ip_prefix *host_addrs;
        size_t n_host_addrs;
        /* Connect through sockets marked as the init's own (netmark.h),
         * made before the child drops privileges: the firewall lets them
         * out even while it allows nothing else. */
        bool mark_sockets;
};

struct meta_result {
        int error;                      /* 0, or both live and snapshot failed */
        const char *source;             /* "live" or "snapshot" */
        struct ip_prefix *prefixes;
        size_t n_prefixes;
        char *why_live_failed;          /* NULL when the live fetch worked */
};

/* Called once, from the loop; res is valid during the call only. */
typedef void (*meta_done_fn)(const struct meta_result *res, void *userdata);

struct meta_fetch;

int meta_fetch_start(struct loop *l, const struct meta_config *cfg, meta_done_fn done, void *userdata,
                     struct meta_fetch **ret);
/* Cancels a fetch still running; NULL is fine. */
void meta_fetch_free(struct meta_fetch *m);

/* The pid of the fetch child while one runs, else 0. */
pid_t meta_fetch_child(void);
