/* SPDX-License-Identifier: MIT */
/* Everything the resolver parses from a packet: a client's query, and an
 * upstream answer checked against a question and read for its addresses.
 * No input may crash, read out of bounds, leak, or yield a name that
 * breaks the promises of dns_wire.h. The first byte picks how the rest is
 * used: as a query, or as an answer to a query built from a fixed name. */
#include <ares.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const struct dns_query *q) {
        size_t n = strlen(q->name);
        if (n == 0 || n > DNS_NAME_TEXT_MAX || q->question_len > DNS_QUESTION_WIRE_MAX)
                abort();
        for (size_t i = 0; i < n; i++) {
                char c = q->name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                      c == '.' || c == '?'))
                        abort();
                if (c == '?' && !q->name_invalid)
                        abort();
        }
}

static void fuzz_query(const uint8_t *data, size_t size) {
        struct dns_query q;
        int r = dns_query_parse(data, size, &q);
        if (r == 0)
                check_name(&q);
        if (r == 0 || dns_query_error_rcode(r) >= 0) {
                uint8_t out[DNS_HEADER_SIZE + DNS_QUESTION_WIRE_MAX + 11];
                int n = dns_build_local_answer(&q, r == 0 ? DNS_RCODE_NXDOMAIN : dns_query_error_rcode(r),
                                               out, sizeof(out));
                if (n < DNS_HEADER_SIZE)
                        abort();
                /* What we answer must read back as a response to the same question. */
                if (r == 0 && dns_answer_check(out, (size_t) n, &q, q.id) != 0)
                        abort();
        }
}

static void fuzz_answer(const uint8_t *data, size_t size, uint16_t qtype) {
        static const uint8_t question[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                                          "\x03www\x02ok\x04test\x00\x00\x01\x00\x01";
        uint8_t qbuf[sizeof(question) - 1];
        memcpy(qbuf, question, sizeof(qbuf));
        qbuf[sizeof(qbuf) - 3] = (uint8_t) qtype;
        struct dns_query q;
        if (dns_query_parse(qbuf, sizeof(qbuf), &q) != 0)
                abort();

        uint8_t *copy = malloc(size ? size : 1);
        if (!copy)
                return;
        memcpy(copy, data, size);
        if (dns_answer_check(copy, size, &q, -1) == 0) {
                dns_answer_for_client(copy, size, &q);
                if (dns_answer_check(copy, size, &q, q.id) != 0)
                        abort();
                size_t cut = dns_truncate(copy, size, &q, DNS_UDP_PLAIN_MAX);
                if (cut > size || (size > DNS_UDP_PLAIN_MAX && cut != DNS_HEADER_SIZE + q.question_len))
                        abort();
        }
        struct dns_addr addrs[32];
        size_t n = 0;
        if (dns_answer_addresses(data, size, addrs, 32, &n) == 0) {
                if (n > 32)
                        abort();
                for (size_t i = 0; i < n; i++)
                        if (addrs[i].family != AF_INET && addrs[i].family != AF_INET6)
                                abort();
        }
        free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        switch (data[0] % 3) {
        case 0:
                fuzz_query(data + 1, size - 1);
                break;
        case 1:
                fuzz_answer(data + 1, size - 1, DNS_TYPE_A);
                break;
        default:
                fuzz_answer(data + 1, size - 1, DNS_TYPE_AAAA);
                break;
        }
        return 0;
}
