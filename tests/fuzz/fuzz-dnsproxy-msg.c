/* SPDX-License-Identifier: MIT */
/* PID 1 checks every message the resolver child sends, and the child every
 * reply: whatever the bytes, the check must not read past them, and a
 * message it accepts must hold what the contract promises. The input is
 * one message as it comes off the socket (the seed corpus holds valid ones
 * of each type). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsproxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const struct dnsproxy_msg *m, enum dnsproxy_msg_type type) {
        if (m->type != (uint32_t) type)
                abort();
        if (type == DNSPROXY_ALLOWED) {
                if (m->n_addrs != 0 || m->status > 0)
                        abort();
                return;
        }
        size_t n = strnlen(m->name, sizeof(m->name));
        if (n == 0 || n > DNSPROXY_NAME_MAX || m->n_addrs > DNSPROXY_ADDRS_MAX)
                abort();
        for (size_t i = 0; i < n; i++)
                if (m->name[i] >= 'A' && m->name[i] <= 'Z')
                        abort();
        for (size_t i = 0; i < m->n_addrs; i++) {
                struct ip_prefix p;
                struct dnsproxy_addr back;
                dnsproxy_addr_to_prefix(&m->addrs[i], &p);
                if (dnsproxy_addr_from_prefix(&p, &back) != 0 || memcmp(&back, &m->addrs[i], sizeof(back)) != 0)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const enum dnsproxy_msg_type types[] = { DNSPROXY_ALLOW, DNSPROXY_ALLOWED, DNSPROXY_REFUSED };
        /* A buffer of exactly size bytes, aligned as a received one is, so
         * that ASan sees any read past the datagram. */
        void *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        if (size)
                memcpy(buf, data, size);
        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
                const struct dnsproxy_msg *m = NULL;
                int r = dnsproxy_msg_check(buf, size, types[t], &m);
                if (r == 0)
                        check_accepted(m, types[t]);
                else if (m)
                        abort();
        }
        free(buf);
        return 0;
}
