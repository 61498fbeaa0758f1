/* SPDX-License-Identifier: MIT */
/* pktsum_fill_tcp(): the TCP checksum PID 1 writes into a packet it hands
 * back. A segment whose checksum is right sums, with its pseudo-header, to
 * all ones; a byte changed anywhere in it breaks that. IPv4 (with IP
 * options) and IPv6, odd and even lengths; what is not a whole TCP
 * packet is refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "pktsum.h"
#include "tap.h"

static uint32_t add16(uint32_t sum, const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i += 2)
                sum += (uint32_t) p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
        return sum;
}

/* Whether the segment's checksum is right, summed independently. */
static bool verifies(const uint8_t *pkt, size_t len, size_t ip_len, bool v6) {
        uint32_t sum = v6 ? add16(0, pkt + 8, 32) : add16(0, pkt + 12, 8);
        size_t seg = len - ip_len;
        sum += IPPROTO_TCP + (uint32_t) seg;
        sum = add16(sum, pkt + ip_len, seg);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return sum == 0xffff;
}

static size_t v4(uint8_t *p, unsigned options_words, size_t payload) {
        size_t ihl = 20 + options_words * 4, len = ihl + 32 + payload;
        memset(p, 0, len);
        p[0] = (uint8_t) (0x40 | (ihl / 4));
        p[2] = (uint8_t) (len >> 8), p[3] = (uint8_t) len;
        p[8] = 64, p[9] = IPPROTO_TCP;
        inet_pton(AF_INET, "10.1.2.3", p + 12);
        inet_pton(AF_INET, "203.0.113.5", p + 16);
        uint8_t *t = p + ihl;
        t[0] = 0xc3, t[1] = 0x51, t[2] = 0x01, t[3] = 0xbb;     /* 50001 -> 443 */
        t[4] = 0x12, t[7] = 0x77, t[12] = 8 << 4, t[13] = 0x18;
        for (size_t i = 0; i < payload; i++)
                t[32 + i] = (uint8_t) (i * 7 + 1);
        return len;
}

static size_t v6(uint8_t *p, size_t payload) {
        size_t len = 40 + 20 + payload;
        memset(p, 0, len);
        p[0] = 0x60;
        p[4] = (uint8_t) ((len - 40) >> 8), p[5] = (uint8_t) (len - 40);
        p[6] = IPPROTO_TCP, p[7] = 64;
        inet_pton(AF_INET6, "2001:db8::2", p + 8);
        inet_pton(AF_INET6, "2001:db8:2::10", p + 24);
        uint8_t *t = p + 40;
        t[1] = 80, t[3] = 80, t[12] = 5 << 4, t[13] = 0x18;
        for (size_t i = 0; i < payload; i++)
                t[20 + i] = (uint8_t) (255 - i);
        return len;
}

int main(void) {
        static uint8_t p[70000];
        size_t data = 0;
        for (unsigned opt = 0; opt <= 2; opt += 2)
                for (size_t payload = 36; payload <= 37; payload++) {
                        size_t len = v4(p, opt, payload);
                        TAP_CHECK(pktsum_tcp_payload(p, len, &data) == 0 && data == payload, "IPv4, %u option words: %zu bytes of data", opt, payload);
                        TAP_CHECK(pktsum_fill_tcp(p, len) == 0 && verifies(p, len, 20 + opt * 4, false), "IPv4, %u option words, %zu bytes: the checksum verifies", opt, payload);
                        p[len - 1] ^= 1;
                        TAP_CHECK(!verifies(p, len, 20 + opt * 4, false), "a changed byte breaks it");
                }
        size_t len = v6(p, 1001);
        TAP_CHECK(pktsum_fill_tcp(p, len) == 0 && verifies(p, len, 40, true), "IPv6, 1001 bytes: the checksum verifies");
        len = v4(p, 0, 65000);
        TAP_CHECK(pktsum_fill_tcp(p, len) == 0 && verifies(p, len, 20, false), "a 64 KB packet (one sent whole, segmented later)");
        len = v4(p, 0, 0);
        TAP_CHECK(pktsum_tcp_payload(p, len, &data) == 0 && data == 0, "a bare ACK has no data");
        TAP_CHECK(pktsum_tcp_payload(p, len - 1, &data) == -EINVAL, "a length other than the IP header's");
        p[9] = IPPROTO_UDP;
        TAP_CHECK(pktsum_fill_tcp(p, len) == -EINVAL, "not TCP");
        len = v6(p, 10);
        p[6] = 0;       /* a hop-by-hop header first */
        TAP_CHECK(pktsum_tcp_payload(p, len, &data) == -EINVAL, "IPv6 with an extension header");
        return tap_done();
}
