/* SPDX-License-Identifier: MIT */
#include "dns_wire.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"

#define FLAG_QR 0x8000u
#define FLAG_OPCODE_MASK 0x7800u
#define FLAG_TC 0x0200u
#define FLAG_RD 0x0100u
#define FLAG_RA 0x0080u
#define OPCODE_QUERY 0

static uint16_t get16(const uint8_t *p) {
        return (uint16_t) ((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

static uint8_t ascii_lower(uint8_t c) {
        return c >= 'A' && c <= 'Z' ? (uint8_t) (c + ('a' - 'A')) : c;
}

static bool host_name_byte(uint8_t c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Walks one uncompressed name at buf[*off]: every length byte must be a
 * plain label length (0..63), so there is no pointer to follow and the
 * walk ends within 255 bytes. With text, writes the name as
 * struct dns_query.name describes. */
static int name_walk(const uint8_t *buf, size_t len, size_t *off, char *text, bool *ret_invalid) {
        size_t p = *off, t = 0;
        bool invalid = false;

        for (;;) {
                if (p >= len)
                        return -EBADMSG;
                uint8_t l = buf[p];
                if (l == 0) {
                        p++;
                        break;
                }
                if (l > DNS_LABEL_MAX)          /* a pointer (0xc0) or a reserved type */
                        return -EBADMSG;
                if (p + 1 + l > len || p + 1 + l - *off + 1 > DNS_NAME_WIRE_MAX)
                        return -EBADMSG;
                if (t > 0) {
                        if (text)
                                text[t] = '.';
                        t++;
                }
                for (size_t i = 0; i < l; i++) {
                        uint8_t c = ascii_lower(buf[p + 1 + i]);
                        if (!host_name_byte(c)) {
                                c = '?';
                                invalid = true;
                        }
                        if (text)
                                text[t] = (char) c;
                        t++;
                }
                p += 1 + l;
        }
        /* 255 wire bytes hold at most 253 text characters; checked anyway. */
        if (t > DNS_NAME_TEXT_MAX)
                return -EBADMSG;
        if (text) {
                if (t == 0)
                        text[t++] = '.';
                text[t] = '\0';
        }
        if (ret_invalid)
                *ret_invalid = invalid;
        *off = p;
        return 0;
}

/* The one additional record a query may carry: an OPT (RFC 6891) with the
 * root as its name, whose rdata must end exactly at the message's end. */
static int parse_opt(const uint8_t *buf, size_t len, size_t off, struct dns_query *q) {
        if (off + 11 > len || buf[off] != 0 || get16(buf + off + 1) != DNS_TYPE_OPT)
                return -EBADMSG;
        size_t rdlen = get16(buf + off + 9);
        if (off + 11 + rdlen != len)
                return -EBADMSG;
        q->has_edns = true;
        q->edns_udp_size = get16(buf + off + 3);
        return 0;
}

int dns_query_parse(const uint8_t *buf, size_t len, struct dns_query *ret) {
        *ret = (struct dns_query) {};
        if (len < DNS_HEADER_SIZE)
                return -ENODATA;
        uint16_t flags = get16(buf + 2);
        if (flags & FLAG_QR)
                return -ENODATA;
        ret->id = get16(buf);
        ret->rd = flags & FLAG_RD;
        if ((flags & FLAG_OPCODE_MASK) >> 11 != OPCODE_QUERY)
                return -EOPNOTSUPP;

        uint16_t qd = get16(buf + 4), an = get16(buf + 6), ns = get16(buf + 8), ar = get16(buf + 10);
        if (qd != 1 || an != 0 || ns != 0 || ar > 1)
                return -EBADMSG;

        size_t off = DNS_HEADER_SIZE;
        int r = name_walk(buf, len, &off, ret->name, &ret->name_invalid);
        if (r < 0)
                return r;
        if (off + 4 > len)
                return -EBADMSG;
        ret->qtype = get16(buf + off);
        ret->qclass = get16(buf + off + 2);
        off += 4;
        /* ≤ 255 + 4 bytes by name_walk's bound. */
        ret->question_len = off - DNS_HEADER_SIZE;
        memcpy(ret->question, buf + DNS_HEADER_SIZE, ret->question_len);

        if (ar == 1)
                return parse_opt(buf, len, off, ret);
        return off == len ? 0 : -EBADMSG;
}

int dns_query_error_rcode(int error) {
        switch (error) {
        case -EOPNOTSUPP:
                return DNS_RCODE_NOTIMP;
        case -EBADMSG:
                return DNS_RCODE_FORMERR;
        default:
                return -1;
        }
}

int dns_build_local_answer(const struct dns_query *q, int rcode, uint8_t *buf, size_t size) {
        bool opt = q->has_edns && rcode != DNS_RCODE_FORMERR;
        size_t need = DNS_HEADER_SIZE + q->question_len + (opt ? 11 : 0);
        if (size < need || rcode < 0 || rcode > 15)
                return -ENOBUFS;
        put16(buf, q->id);
        put16(buf + 2, (uint16_t) (FLAG_QR | (q->rd ? FLAG_RD : 0) | FLAG_RA | (unsigned) rcode));
        put16(buf + 4, q->question_len > 0 ? 1 : 0);
        put16(buf + 6, 0);
        put16(buf + 8, 0);
        put16(buf + 10, opt ? 1 : 0);
        memcpy(buf + DNS_HEADER_SIZE, q->question, q->question_len);
        if (opt) {
                uint8_t *o = buf + DNS_HEADER_SIZE + q->question_len;
                o[0] = 0;                                       /* root */
                put16(o + 1, DNS_TYPE_OPT);
                put16(o + 3, DNS_UDP_EDNS_MAX);                 /* what we take */
                memset(o + 5, 0, 4);                            /* ext-rcode, version 0, flags */
                put16(o + 9, 0);                                /* no options */
        }
        return (int) need;
}

int dns_answer_check(const uint8_t *buf, size_t len, const struct dns_query *q, int expected_id) {
        if (len < DNS_HEADER_SIZE + q->question_len || q->question_len == 0)
                return -EBADMSG;
        uint16_t flags = get16(buf + 2);
        if (!(flags & FLAG_QR) || (flags & FLAG_OPCODE_MASK) != 0 || get16(buf + 4) != 1)
                return -EBADMSG;
        if (expected_id >= 0 && get16(buf) != (uint16_t) expected_id)
                return -EBADMSG;

        /* The answer's question must be literal (no pointer) and the same
         * length as ours; then a byte-wise case-insensitive comparison is
         * exact, because length bytes (≤ 63) are never letters. */
        size_t off = DNS_HEADER_SIZE;
        if (name_walk(buf, len, &off, NULL, NULL) < 0 || off + 4 > len)
                return -EBADMSG;
        if (off + 4 - DNS_HEADER_SIZE != q->question_len)
                return -EBADMSG;
        for (size_t i = 0; i < q->question_len; i++)
                if (ascii_lower(buf[DNS_HEADER_SIZE + i]) != ascii_lower(q->question[i]))
                        return -EBADMSG;
        return 0;
}

static int ares_error_to_errno(int status) {
        return status == ARES_ENOMEM ? -ENOMEM : -EBADMSG;
}

int dns_answer_addresses(const uint8_t *buf, size_t len, struct dns_addr *out, size_t max,
                         size_t *ret_n) {
        struct ares_addrttl a[32];
        struct ares_addr6ttl a6[32];
        size_t n = 0;

        if (len > DNS_TCP_MSG_MAX)
                return -EBADMSG;
        /* c-ares fills at most *naddrttls entries; the rest are not lost
         * to the client, only not allowed (see dns_wire.h). */
        int na = (int) (max < ELEMENTSOF(a) ? max : ELEMENTSOF(a));
        int status = ares_parse_a_reply(buf, (int) len, NULL, a, &na);
        if (status == ARES_SUCCESS) {
                for (int i = 0; i < na && n < max; i++, n++) {
                        out[n] = (struct dns_addr) {.family = AF_INET, .ttl = a[i].ttl < 0 ? 0 : (uint32_t) a[i].ttl};
                        memcpy(out[n].addr, &a[i].ipaddr, 4);
                }
        } else if (status != ARES_ENODATA && status != ARES_ENOTFOUND)
                return ares_error_to_errno(status);

        int na6 = (int) (max - n < ELEMENTSOF(a6) ? max - n : ELEMENTSOF(a6));
        if (na6 > 0) {
                status = ares_parse_aaaa_reply(buf, (int) len, NULL, a6, &na6);
                if (status == ARES_SUCCESS) {
                        for (int i = 0; i < na6 && n < max; i++, n++) {
                                out[n] = (struct dns_addr) {.family = AF_INET6, .ttl = a6[i].ttl < 0 ? 0 : (uint32_t) a6[i].ttl};
                                memcpy(out[n].addr, &a6[i].ip6addr, 16);
                        }
                } else if (status != ARES_ENODATA && status != ARES_ENOTFOUND)
                        return ares_error_to_errno(status);
        }
        *ret_n = n;
        return 0;
}

void dns_answer_for_client(uint8_t *buf, size_t len, const struct dns_query *q) {
        if (len < DNS_HEADER_SIZE + q->question_len)
                return;
        put16(buf, q->id);
        uint16_t flags = get16(buf + 2);
        flags = (uint16_t) ((flags & ~FLAG_RD) | (q->rd ? FLAG_RD : 0));
        put16(buf + 2, flags);
        memcpy(buf + DNS_HEADER_SIZE, q->question, q->question_len);
}

size_t dns_udp_limit(const struct dns_query *q) {
        if (!q->has_edns || q->edns_udp_size <= DNS_UDP_PLAIN_MAX)
                return DNS_UDP_PLAIN_MAX;
        return q->edns_udp_size < DNS_UDP_EDNS_MAX ? q->edns_udp_size : DNS_UDP_EDNS_MAX;
}

size_t dns_truncate(uint8_t *buf, size_t len, const struct dns_query *q, size_t limit) {
        if (len <= limit || len < DNS_HEADER_SIZE + q->question_len)
                return len;
        put16(buf + 2, (uint16_t) (get16(buf + 2) | FLAG_TC));
        put16(buf + 6, 0);
        put16(buf + 8, 0);
        put16(buf + 10, 0);
        return DNS_HEADER_SIZE + q->question_len;
}

const char *dns_type_name(uint16_t type, char *buf, size_t size) {
        static const struct {
                uint16_t type;
                const char *name;
        } names[] = {
                {DNS_TYPE_A, "A"}, {DNS_TYPE_NS, "NS"}, {DNS_TYPE_CNAME, "CNAME"},
                {DNS_TYPE_SOA, "SOA"}, {DNS_TYPE_PTR, "PTR"}, {DNS_TYPE_MX, "MX"},
                {DNS_TYPE_TXT, "TXT"}, {DNS_TYPE_AAAA, "AAAA"}, {DNS_TYPE_SRV, "SRV"},
                {DNS_TYPE_SVCB, "SVCB"}, {DNS_TYPE_HTTPS, "HTTPS"}, {DNS_TYPE_ANY, "ANY"},
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (names[i].type == type)
                        return names[i].name;
        snprintf(buf, size, "TYPE%u", type);
        return buf;
}
