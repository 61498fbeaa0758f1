/* SPDX-License-Identifier: MIT */
/* The resolver's DNS wire code: what a query may look like, the answers it
 * builds, and the checks an upstream answer must pass before a client sees
 * it. Packets are built byte by byte here so each test says exactly what
 * is on the wire. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "dns_wire.h"
#include "tap.h"

struct pkt {
        uint8_t b[2048];
        size_t n;
};

static void u8(struct pkt *p, unsigned v) {
        p->b[p->n++] = (uint8_t) v;
}

static void u16(struct pkt *p, unsigned v) {
        u8(p, v >> 8);
        u8(p, v & 0xff);
}

static void u32(struct pkt *p, uint32_t v) {
        u16(p, v >> 16);
        u16(p, v & 0xffff);
}

static void bytes(struct pkt *p, const void *d, size_t n) {
        memcpy(p->b + p->n, d, n);
        p->n += n;
}

/* "a.b" as labels; "" is the root. */
static void name(struct pkt *p, const char *dotted) {
        while (*dotted) {
                const char *dot = strchr(dotted, '.');
                size_t l = dot ? (size_t) (dot - dotted) : strlen(dotted);
                u8(p, (unsigned) l);
                bytes(p, dotted, l);
                dotted += l + (dot ? 1 : 0);
        }
        u8(p, 0);
}

static void header(struct pkt *p, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar) {
        p->n = 0;
        u16(p, id);
        u16(p, flags);
        u16(p, qd);
        u16(p, an);
        u16(p, ns);
        u16(p, ar);
}

static void opt(struct pkt *p, unsigned udp_size, unsigned rdlen) {
        u8(p, 0);
        u16(p, DNS_TYPE_OPT);
        u16(p, udp_size);
        u32(p, 0);
        u16(p, rdlen);
        for (unsigned i = 0; i < rdlen; i++)
                u8(p, 0);
}

static struct pkt query(unsigned id, const char *qname, unsigned qtype) {
        struct pkt p;
        header(&p, id, 0x0100, 1, 0, 0, 0);
        name(&p, qname);
        u16(&p, qtype);
        u16(&p, DNS_CLASS_IN);
        return p;
}

static int parse(const struct pkt *p, struct dns_query *q) {
        return dns_query_parse(p->b, p->n, q);
}

static void test_query_parse(void) {
        struct dns_query q;
        struct pkt p = query(0x1234, "Api.Example.TEST", DNS_TYPE_AAAA);
        TAP_CHECK(parse(&p, &q) == 0, "a plain query parses");
        TAP_CHECK_STR(q.name, "api.example.test", "the name is lower-cased text");
        TAP_CHECK(q.id == 0x1234 && q.rd && q.qtype == DNS_TYPE_AAAA && q.qclass == DNS_CLASS_IN,
                  "id, RD, type and class are read");
        TAP_CHECK(q.question_len == p.n - DNS_HEADER_SIZE &&
                  memcmp(q.question, p.b + DNS_HEADER_SIZE, q.question_len) == 0,
                  "the question is kept as sent, letter case included");
        TAP_CHECK(!q.has_edns && dns_udp_limit(&q) == 512 && !q.name_invalid, "no EDNS: 512 bytes");

        header(&p, 1, 0x0100, 1, 0, 0, 1);
        name(&p, "a.test");
        u16(&p, DNS_TYPE_A);
        u16(&p, DNS_CLASS_IN);
        opt(&p, 4096, 4);
        TAP_CHECK(parse(&p, &q) == 0 && q.has_edns && q.edns_udp_size == 4096, "an OPT record is noted");
        TAP_CHECK(dns_udp_limit(&q) == DNS_UDP_EDNS_MAX, "a large EDNS size is capped to 1232");
        header(&p, 1, 0x0100, 1, 0, 0, 1);
        name(&p, "a.test");
        u16(&p, DNS_TYPE_A);
        u16(&p, DNS_CLASS_IN);
        opt(&p, 300, 0);
        TAP_CHECK(parse(&p, &q) == 0 && dns_udp_limit(&q) == 512, "an EDNS size under 512 means 512");

        header(&p, 1, 0x0100, 1, 0, 0, 1);
        name(&p, "a.test");
        u16(&p, DNS_TYPE_A);
        u16(&p, DNS_CLASS_IN);
        opt(&p, 1232, 4);
        p.n--;
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "an OPT whose rdata runs past the end is FORMERR");

        p = query(7, "", DNS_TYPE_NS);
        TAP_CHECK(parse(&p, &q) == 0, "the root parses");
        TAP_CHECK_STR(q.name, ".", "the root is written as a dot");

        p = query(7, "x.test", DNS_TYPE_A);
        p.b[DNS_HEADER_SIZE + 1] = '.';
        TAP_CHECK(parse(&p, &q) == 0 && q.name_invalid, "a dot inside a label makes the name invalid");
        TAP_CHECK_STR(q.name, "?.test", "and is shown as '?'");
        p.b[DNS_HEADER_SIZE + 1] = 0;
        TAP_CHECK(parse(&p, &q) == 0 && q.name_invalid && strlen(q.name) == 6, "a NUL byte in a label too");
        p.b[DNS_HEADER_SIZE + 1] = '_';
        TAP_CHECK(parse(&p, &q) == 0 && !q.name_invalid, "an underscore is a name byte");
}

static void test_query_refused(void) {
        struct dns_query q;
        struct pkt p = query(9, "a.test", DNS_TYPE_A);

        TAP_CHECK(dns_query_parse(p.b, 11, &q) == -ENODATA, "under 12 bytes: dropped");
        TAP_CHECK(dns_query_error_rcode(-ENODATA) == -1, "dropped means no answer");
        p.b[2] |= 0x80;
        TAP_CHECK(parse(&p, &q) == -ENODATA, "a response (QR=1) is dropped, no answer loops");
        p.b[2] = 0x10;                  /* opcode 2, STATUS */
        TAP_CHECK(parse(&p, &q) == -EOPNOTSUPP && q.id == 9, "another opcode: NOTIMP, id known");
        TAP_CHECK(dns_query_error_rcode(-EOPNOTSUPP) == DNS_RCODE_NOTIMP, "NOTIMP");

        p = query(9, "a.test", DNS_TYPE_A);
        p.b[5] = 0;
        TAP_CHECK(parse(&p, &q) == -EBADMSG && q.id == 9 && q.question_len == 0,
                  "no question: FORMERR with the id and no question");
        p.b[5] = 2;
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "two questions: FORMERR");
        p.b[5] = 1;
        p.b[7] = 1;
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "an answer record in a query: FORMERR");
        p.b[7] = 0;
        p.b[11] = 1;
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "an additional record that is missing: FORMERR");
        p.b[11] = 0;
        p.b[p.n++] = 0;
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "a trailing byte: FORMERR");
        p.n -= 3;
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "a cut class: FORMERR");

        /* A pointer to the start of the name: a loop if it were followed. */
        header(&p, 1, 0, 1, 0, 0, 0);
        u16(&p, 0xc00c);
        u16(&p, 1);
        u16(&p, 1);
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "a compression pointer (a loop) is refused");
        header(&p, 1, 0, 1, 0, 0, 0);
        u8(&p, 1);
        u8(&p, 'a');
        u16(&p, 0xc00c);
        u16(&p, 1);
        u16(&p, 1);
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "a pointer after a label is refused");
        header(&p, 1, 0, 1, 0, 0, 0);
        u8(&p, 0x40);
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "a reserved label type is refused");

        char label63[64], label64[65];
        memset(label63, 'a', 63);
        label63[63] = 0;
        memset(label64, 'b', 64);
        label64[64] = 0;
        p = query(1, label64, 1);
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "a 64-byte label is refused");

        char big[300];
        snprintf(big, sizeof(big), "%s.%s.%s.%.61s", label63, label63, label63, label63);
        p = query(1, big, 1);
        TAP_CHECK(parse(&p, &q) == 0 && strlen(q.name) == 253, "a 253-character name (255 on the wire) parses");
        snprintf(big, sizeof(big), "%s.%s.%s.%.62s", label63, label63, label63, label63);
        p = query(1, big, 1);
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "a 254-character name is refused");

        header(&p, 1, 0, 1, 0, 0, 0);
        u8(&p, 5);
        bytes(&p, "ab", 2);
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "a label running past the end is refused");
}

static void test_local_answers(void) {
        struct dns_query q;
        struct pkt p = query(0xbeef, "No.Test", DNS_TYPE_A);
        parse(&p, &q);
        uint8_t out[600];
        int n = dns_build_local_answer(&q, DNS_RCODE_NXDOMAIN, out, sizeof(out));
        TAP_CHECK(n == (int) p.n, "NXDOMAIN: header and question");
        TAP_CHECK(out[0] == 0xbe && out[1] == 0xef, "the client's id");
        TAP_CHECK(out[2] == 0x81 && out[3] == 0x83, "QR, RD echoed, RA, NXDOMAIN");
        TAP_CHECK(out[5] == 1 && out[7] == 0 && out[9] == 0 && out[11] == 0, "one question, no records");
        TAP_CHECK(memcmp(out + 12, p.b + 12, p.n - 12) == 0, "the question as sent");

        p.b[2] = 0;                     /* RD off */
        parse(&p, &q);
        n = dns_build_local_answer(&q, DNS_RCODE_REFUSED, out, sizeof(out));
        TAP_CHECK(n > 0 && out[2] == 0x80 && out[3] == 0x85, "RD off stays off; REFUSED");

        header(&p, 3, 0x0100, 1, 0, 0, 1);
        name(&p, "a.test");
        u16(&p, DNS_TYPE_HTTPS);
        u16(&p, DNS_CLASS_IN);
        opt(&p, 1232, 0);
        parse(&p, &q);
        n = dns_build_local_answer(&q, DNS_RCODE_NOERROR, out, sizeof(out));
        TAP_CHECK(n == (int) p.n && out[3] == 0x80 && out[11] == 1, "NOERROR no data, with an OPT for an EDNS client");

        p = query(4, "a.test", DNS_TYPE_A);
        p.b[5] = 0;
        TAP_CHECK(parse(&p, &q) == -EBADMSG, "a broken query...");
        n = dns_build_local_answer(&q, DNS_RCODE_FORMERR, out, sizeof(out));
        TAP_CHECK(n == DNS_HEADER_SIZE && out[3] == 0x81 && out[5] == 0, "...gets a FORMERR header alone");
        TAP_CHECK(dns_build_local_answer(&q, DNS_RCODE_FORMERR, out, 11) == -ENOBUFS, "a short buffer is refused");
}

/* An answer to "www.ok.test A": a CNAME to "edge.ok.test" and two A
 * records there, names compressed as servers do. */
static struct pkt answer_cname(unsigned id, unsigned qtype) {
        struct pkt p;
        header(&p, id, 0x8180, 1, 3, 0, 0);
        name(&p, "www.ok.test");
        u16(&p, qtype);
        u16(&p, DNS_CLASS_IN);
        u16(&p, 0xc00c);                /* www.ok.test */
        u16(&p, DNS_TYPE_CNAME);
        u16(&p, DNS_CLASS_IN);
        u32(&p, 100);
        u16(&p, 7);
        u8(&p, 4);
        bytes(&p, "edge", 4);
        u16(&p, 0xc010);                /* ok.test */
        size_t edge = p.n - 7;
        for (int i = 1; i <= 2; i++) {
                u16(&p, 0xc000 | (unsigned) edge);
                u16(&p, qtype);
                u16(&p, DNS_CLASS_IN);
                u32(&p, i == 1 ? 300 : 60);
                if (qtype == DNS_TYPE_A) {
                        u16(&p, 4);
                        u8(&p, 192); u8(&p, 0); u8(&p, 2); u8(&p, (unsigned) i);
                } else {
                        struct in6_addr a;
                        inet_pton(AF_INET6, i == 1 ? "2001:db8::1" : "2001:db8::2", &a);
                        u16(&p, 16);
                        bytes(&p, &a, 16);
                }
        }
        return p;
}

static void test_answer_check(void) {
        struct dns_query q;
        struct pkt qp = query(0x4242, "WWW.ok.test", DNS_TYPE_A);
        parse(&qp, &q);
        struct pkt a = answer_cname(0x9999, DNS_TYPE_A);

        TAP_CHECK(dns_answer_check(a.b, a.n, &q, -1) == 0, "an answer to our question passes (case aside)");
        TAP_CHECK(dns_answer_check(a.b, a.n, &q, 0x9999) == 0, "with its id");
        TAP_CHECK(dns_answer_check(a.b, a.n, &q, 0x9998) == -EBADMSG, "another id fails");
        a.b[2] &= 0x7f;
        TAP_CHECK(dns_answer_check(a.b, a.n, &q, -1) == -EBADMSG, "QR=0 fails");
        a = answer_cname(1, DNS_TYPE_AAAA);
        TAP_CHECK(dns_answer_check(a.b, a.n, &q, -1) == -EBADMSG, "another type fails");
        a = answer_cname(1, DNS_TYPE_A);
        a.b[13] = 'x';
        TAP_CHECK(dns_answer_check(a.b, a.n, &q, -1) == -EBADMSG, "another name fails");
        a = answer_cname(1, DNS_TYPE_A);
        a.b[5] = 2;
        TAP_CHECK(dns_answer_check(a.b, a.n, &q, -1) == -EBADMSG, "two questions fail");
        TAP_CHECK(dns_answer_check(a.b, 20, &q, -1) == -EBADMSG, "a cut answer fails");

        struct pkt c;
        header(&c, 1, 0x8180, 1, 0, 0, 0);
        u16(&c, 0xc00c);
        u16(&c, DNS_TYPE_A);
        u16(&c, DNS_CLASS_IN);
        TAP_CHECK(dns_answer_check(c.b, c.n, &q, -1) == -EBADMSG, "a compressed (looping) question fails");

        /* Shorter name whose bytes match ours as far as they go. */
        struct dns_query q2;
        struct pkt qp2 = query(1, "www.ok.testx", DNS_TYPE_A);
        parse(&qp2, &q2);
        a = answer_cname(1, DNS_TYPE_A);
        TAP_CHECK(dns_answer_check(a.b, a.n, &q2, -1) == -EBADMSG, "a question of another length fails");
}

static void test_addresses(void) {
        struct dns_addr addrs[8];
        size_t n = 99;
        char buf[INET6_ADDRSTRLEN];

        struct pkt a = answer_cname(1, DNS_TYPE_A);
        TAP_CHECK(dns_answer_addresses(a.b, a.n, addrs, 8, &n) == 0 && n == 2, "two A through a CNAME");
        TAP_CHECK(addrs[0].family == AF_INET, "IPv4");
        TAP_CHECK_STR(inet_ntop(AF_INET, addrs[0].addr, buf, sizeof(buf)), "192.0.2.1", "the first address");
        TAP_CHECK(addrs[0].ttl == 100 && addrs[1].ttl == 60, "TTL: the smallest along the chain");
        TAP_CHECK(dns_answer_addresses(a.b, a.n, addrs, 1, &n) == 0 && n == 1, "at most max addresses");

        a = answer_cname(1, DNS_TYPE_AAAA);
        TAP_CHECK(dns_answer_addresses(a.b, a.n, addrs, 8, &n) == 0 && n == 2 && addrs[1].family == AF_INET6,
                  "two AAAA through a CNAME");
        TAP_CHECK_STR(inet_ntop(AF_INET6, addrs[1].addr, buf, sizeof(buf)), "2001:db8::2", "the second address");

        struct pkt nx;
        header(&nx, 1, 0x8183, 1, 0, 0, 0);
        name(&nx, "no.ok.test");
        u16(&nx, DNS_TYPE_A);
        u16(&nx, DNS_CLASS_IN);
        TAP_CHECK(dns_answer_addresses(nx.b, nx.n, addrs, 8, &n) == 0 && n == 0, "NXDOMAIN: no address, no error");

        /* An A record for a name outside the chain is not the question's. */
        struct pkt other;
        header(&other, 1, 0x8180, 1, 1, 0, 0);
        name(&other, "www.ok.test");
        u16(&other, DNS_TYPE_A);
        u16(&other, DNS_CLASS_IN);
        name(&other, "elsewhere.test");
        u16(&other, DNS_TYPE_A);
        u16(&other, DNS_CLASS_IN);
        u32(&other, 60);
        u16(&other, 4);
        u32(&other, 0xc6336401);
        TAP_CHECK(dns_answer_addresses(other.b, other.n, addrs, 8, &n) == 0 && n == 0,
                  "an address for another name is not taken");

        /* A record whose owner name points at itself. */
        struct pkt loop;
        header(&loop, 1, 0x8180, 1, 1, 0, 0);
        name(&loop, "www.ok.test");
        u16(&loop, DNS_TYPE_A);
        u16(&loop, DNS_CLASS_IN);
        size_t here = loop.n;
        u16(&loop, 0xc000 | (unsigned) here);
        u16(&loop, DNS_TYPE_A);
        u16(&loop, DNS_CLASS_IN);
        u32(&loop, 60);
        u16(&loop, 4);
        u32(&loop, 0xc0000201);
        TAP_CHECK(dns_answer_addresses(loop.b, loop.n, addrs, 8, &n) == -EBADMSG, "a compression loop is an error");
        TAP_CHECK(dns_answer_addresses(a.b, a.n - 3, addrs, 8, &n) == -EBADMSG, "a cut record is an error");
}

static void test_client_answer(void) {
        struct dns_query q;
        struct pkt qp = query(0x0102, "WWW.Ok.Test", DNS_TYPE_A);
        qp.b[2] = 0;                    /* RD off */
        parse(&qp, &q);
        struct pkt a = answer_cname(0xffff, DNS_TYPE_A);
        dns_answer_for_client(a.b, a.n, &q);
        TAP_CHECK(a.b[0] == 0x01 && a.b[1] == 0x02, "the client's id");
        TAP_CHECK((a.b[2] & 0x01) == 0 && (a.b[2] & 0x80), "the client's RD bit, QR kept");
        TAP_CHECK(memcmp(a.b + 12, qp.b + 12, q.question_len) == 0, "the client's letter case");

        size_t len = a.n;
        TAP_CHECK(dns_truncate(a.b, len, &q, 512) == len, "an answer that fits is left alone");
        struct pkt big = a;
        memset(big.b + big.n, 0, 600);
        big.n += 600;
        size_t cut = dns_truncate(big.b, big.n, &q, 512);
        TAP_CHECK(cut == DNS_HEADER_SIZE + q.question_len, "over 512: header and question only");
        TAP_CHECK((big.b[2] & 0x02) && big.b[7] == 0 && big.b[9] == 0 && big.b[11] == 0 && big.b[5] == 1,
                  "TC set, no records, the question kept");
}

static void test_type_names(void) {
        char buf[16];
        TAP_CHECK_STR(dns_type_name(DNS_TYPE_AAAA, buf, sizeof(buf)), "AAAA", "AAAA");
        TAP_CHECK_STR(dns_type_name(DNS_TYPE_TXT, buf, sizeof(buf)), "TXT", "TXT");
        TAP_CHECK_STR(dns_type_name(4242, buf, sizeof(buf)), "TYPE4242", "an unknown type by number");
}

int main(void) {
        test_query_parse();
        test_query_refused();
        test_local_answers();
        test_answer_check();
        test_addresses();
        test_client_answer();
        test_type_names();
        return tap_done();
}
