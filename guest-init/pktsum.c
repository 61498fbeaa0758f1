/* SPDX-License-Identifier: MIT */
#include "pktsum.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

struct layout {
        size_t ip_len, tcp_len;
        unsigned version;
};

static int layout_of(const uint8_t *p, size_t len, struct layout *ret) {
        if (len < 1)
                return -EINVAL;
        if (p[0] >> 4 == 4) {
                size_t ihl = (size_t) (p[0] & 0x0f) * 4;
                if (len < 20 || ihl < 20 || p[9] != IPPROTO_TCP || ((size_t) p[2] << 8 | p[3]) != len)
                        return -EINVAL;
                *ret = (struct layout) { .ip_len = ihl, .version = 4 };
        } else if (p[0] >> 4 == 6) {
                if (len < 40 || p[6] != IPPROTO_TCP || ((size_t) p[4] << 8 | p[5]) + 40 != len)
                        return -EINVAL;
                *ret = (struct layout) { .ip_len = 40, .version = 6 };
        } else
                return -EINVAL;
        if (len < ret->ip_len + 20)
                return -EINVAL;
        ret->tcp_len = (size_t) (p[ret->ip_len + 12] >> 4) * 4;
        if (ret->tcp_len < 20 || len < ret->ip_len + ret->tcp_len)
                return -EINVAL;
        return 0;
}

int pktsum_tcp_payload(const uint8_t *pkt, size_t len, size_t *ret) {
        struct layout l;
        int r = layout_of(pkt, len, &l);
        if (r < 0)
                return r;
        *ret = len - l.ip_len - l.tcp_len;
        return 0;
}

/* The one's complement sum of n bytes, as 16-bit words in network order. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n) {
        for (size_t i = 0; i + 1 < n; i += 2)
                sum += (uint32_t) p[i] << 8 | p[i + 1];
        if (n & 1)
                sum += (uint32_t) p[n - 1] << 8;
        return sum;
}

int pktsum_fill_tcp(uint8_t *pkt, size_t len) {
        struct layout l;
        int r = layout_of(pkt, len, &l);
        if (r < 0)
                return r;
        size_t segment = len - l.ip_len;
        uint32_t sum = 0;
        /* The pseudo-header: addresses, protocol, TCP length. */
        if (l.version == 4)
                sum = sum16(sum, pkt + 12, 8);
        else
                sum = sum16(sum, pkt + 8, 32);
        sum += IPPROTO_TCP;
        sum += (uint32_t) (segment >> 16) + (uint32_t) (segment & 0xffff);
        uint8_t *tcp = pkt + l.ip_len;
        tcp[16] = tcp[17] = 0;
        sum = sum16(sum, tcp, segment);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        uint16_t check = (uint16_t) ~sum;
        tcp[16] = (uint8_t) (check >> 8);
        tcp[17] = (uint8_t) check;
        return 0;
}
