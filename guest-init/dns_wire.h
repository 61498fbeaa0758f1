/* SPDX-License-Identifier: MIT */
/* The few pieces of DNS wire format the sandbox's resolver (dnsproxy.c)
 * needs and c-ares 1.18.1 does not offer: reading a client's query,
 * building the answers it gives locally, checking that an upstream answer
 * is for our question, and adapting that answer for the client. Addresses
 * and TTLs come from c-ares' own parsers (ares_parse_a_reply,
 * ares_parse_aaaa_reply), which follow CNAME chains.
 *
 * Every function here reads bytes from the agent or the network: each
 * bound is checked before the byte is read, names are walked without
 * compression pointers (a query has no reason to use them, and refusing
 * them makes loops impossible), and nothing allocates. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_SIZE 12
#define DNS_NAME_WIRE_MAX 255                   /* RFC 1035 2.3.4 */
#define DNS_NAME_TEXT_MAX 253                   /* the same name without its dots' overhead */
#define DNS_LABEL_MAX 63
#define DNS_QUESTION_WIRE_MAX (DNS_NAME_WIRE_MAX + 4)
#define DNS_UDP_PLAIN_MAX 512                   /* without EDNS (RFC 1035 4.2.1) */
/* The largest answer we send a UDP client however large its EDNS buffer:
 * the DNS flag day 2020 size, which avoids IP fragmentation. */
#define DNS_UDP_EDNS_MAX 1232
#define DNS_TCP_MSG_MAX 65535

enum {
        DNS_RCODE_NOERROR = 0,
        DNS_RCODE_FORMERR = 1,
        DNS_RCODE_SERVFAIL = 2,
        DNS_RCODE_NXDOMAIN = 3,
        DNS_RCODE_NOTIMP = 4,
        DNS_RCODE_REFUSED = 5,
};

enum {
        DNS_TYPE_A = 1,
        DNS_TYPE_NS = 2,
        DNS_TYPE_CNAME = 5,
        DNS_TYPE_SOA = 6,
        DNS_TYPE_PTR = 12,
        DNS_TYPE_MX = 15,
        DNS_TYPE_TXT = 16,
        DNS_TYPE_AAAA = 28,
        DNS_TYPE_SRV = 33,
        DNS_TYPE_OPT = 41,
        DNS_TYPE_SVCB = 64,
        DNS_TYPE_HTTPS = 65,
        DNS_TYPE_ANY = 255,
};

#define DNS_CLASS_IN 1

/* A client's query, as far as we answer it. */
struct dns_query {
        uint16_t id;
        bool rd;                                /* recursion desired: echoed */
        uint16_t qtype, qclass;
        /* Lower case, labels joined by '.', no trailing dot; "." for the
         * root. A byte that cannot be in a host name ([a-z0-9_-] only; a
         * '.' inside a label included) is written as '?', so the text is
         * printable, never longer than the wire name, and such a name
         * (name_invalid) matches no policy entry. */
        char name[DNS_NAME_TEXT_MAX + 1];
        bool name_invalid;
        /* The question section as the client sent it (its letter case is
         * echoed back); 0 when the header was readable but not the question. */
        uint8_t question[DNS_QUESTION_WIRE_MAX];
        size_t question_len;
        bool has_edns;
        uint16_t edns_udp_size;                 /* as sent; meaningful with has_edns */
};

/* Parses a query. 0 when it is one we can answer, else:
 *   -ENODATA     no header, or a response (QR=1): drop it silently, so that
 *                two resolvers cannot answer each other in a loop
 *   -EOPNOTSUPP  an opcode other than QUERY: answer NOTIMP
 *   -EBADMSG     anything else malformed (not exactly one question, a
 *                compression pointer, a label over 63 bytes, a name over
 *                253 characters, records other than one OPT, trailing
 *                bytes): answer FORMERR
 * On every error but -ENODATA, ret->id and ret->rd are set and
 * ret->question_len is 0 or the question's length, so an answer can be
 * built. The class is not checked here (dns_query_parse leaves it to the
 * caller, which answers a non-IN class REFUSED). */
int dns_query_parse(const uint8_t *buf, size_t len, struct dns_query *ret);

/* The rcode to answer a dns_query_parse() error with, or -1: drop. */
int dns_query_error_rcode(int error);

/* Builds an answer with no records: header (q's id and RD, QR, RA, rcode),
 * q's question when it was readable, and an OPT record when the client
 * used EDNS (RFC 6891 6.1.1: a responder answers EDNS with EDNS).
 * NOERROR with it is "no data" (what we answer for HTTPS/SVCB). Returns
 * the length, or -ENOBUFS when size is too small (it never is with
 * DNS_UDP_PLAIN_MAX). */
int dns_build_local_answer(const struct dns_query *q, int rcode, uint8_t *buf, size_t size);

/* Whether an upstream answer is for q's question: QR set, opcode QUERY,
 * exactly one question, and that question equal to q's (the name compared
 * case-insensitively, uncompressed, type and class the same). When
 * expected_id is ≥ 0 the id must equal it too; c-ares' ares_send() sets
 * its own random id on the query and matches the answer to it itself, so
 * the resolver passes -1. 0 or -EBADMSG. */
int dns_answer_check(const uint8_t *buf, size_t len, const struct dns_query *q, int expected_id);

/* An address from an answer, with its TTL (the smallest along the CNAME
 * chain that led to it). */
struct dns_addr {
        int family;                             /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        uint32_t ttl;
};

/* The A and AAAA addresses the answer gives for its question's name,
 * following CNAME chains, through ares_parse_a_reply() and
 * ares_parse_aaaa_reply(); at most max of them (more are left out: a
 * client that uses those finds them blocked). *ret_n may be 0 (NXDOMAIN,
 * no data). -EBADMSG when c-ares cannot parse the answer: the client
 * might read it differently, so the caller must not release it. */
int dns_answer_addresses(const uint8_t *buf, size_t len, struct dns_addr *out, size_t max,
                         size_t *ret_n);

/* Makes an upstream answer (checked with dns_answer_check()) the client's:
 * its id, its RD bit and its question bytes (same length and name; only
 * the letter case may differ). */
void dns_answer_for_client(uint8_t *buf, size_t len, const struct dns_query *q);

/* The largest answer the client takes over UDP: 512, or its EDNS size
 * capped to DNS_UDP_EDNS_MAX. */
size_t dns_udp_limit(const struct dns_query *q);

/* When len > limit, cuts the answer to its header and question with TC
 * set and the record counts zeroed (RFC 2181 9), so the client retries
 * over TCP. Returns the new length (len when it fits). The answer must
 * have passed dns_answer_check() for q. */
size_t dns_truncate(uint8_t *buf, size_t len, const struct dns_query *q, size_t limit);

/* "A", "AAAA", ... or "TYPE123" in buf (≥ 12 bytes). */
const char *dns_type_name(uint16_t type, char *buf, size_t size);
