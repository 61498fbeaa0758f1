/* SPDX-License-Identifier: MIT */
/* The denial parser reads what the sandbox user sent (the packet's headers)
 * inside what the kernel wraps around it: no input may make it read past
 * its buffer, and what it hands back must be one whole address. The same
 * bytes go in as a netlink datagram and as a bare packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "denial_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct denial_packet *p, void *userdata) {
        size_t *n = userdata;
        if ((p->dst.family == AF_INET && p->dst.len != 32) || (p->dst.family == AF_INET6 && p->dst.len != 128) ||
            (p->dst.family != AF_INET && p->dst.family != AF_INET6) || (p->has_port && p->has_icmp))
                abort();
        (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* A copy of exactly the input's size, aligned as a received datagram is. */
        void *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        size_t n = 0;
        int r = denial_parse_nflog(buf, size, check, &n);
        if (r < 0 || (size_t) r != n)
                abort();
        struct denial_packet p;
        if (denial_parse_packet(buf, size, &p) == 0)
                check(&p, &n);
        free(buf);
        return 0;
}
