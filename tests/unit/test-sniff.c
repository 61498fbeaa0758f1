/* SPDX-License-Identifier: MIT */
/* sniff_tls() and sniff_http(): the name a connection asks for, from its
 * first bytes. Every way of splitting a valid ClientHello (across records,
 * cut short) gives the same name or "more", never another answer; every
 * way of naming two hosts, or one two ways, is refused. */
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"
#include "tap.h"
#include "tls_build.h"

static enum sniff_result tls_with_names(const char *const *names, size_t n, bool twice, char name[static SNIFF_NAME_MAX + 1]) {
        struct buf exts = {0}, msg = {0}, rec = {0};
        put_u16(&exts, 0x002b);                 /* supported_versions, before it */
        put_u16(&exts, 3);
        put_u8(&exts, 2);
        put_u16(&exts, 0x0304);
        if (n)
                sni_ext(&exts, names, n);
        if (twice)
                sni_ext(&exts, names, 1);
        hello_message(&msg, &exts);
        records(&rec, &msg, 16384);
        return sniff_tls(rec.b, rec.n, name);
}

static void test_tls(void) {
        char name[SNIFF_NAME_MAX + 1];
        const char *one[] = { "API.Example.COM" }, *two[] = { "a.example", "b.example" };
        TAP_CHECK(tls_with_names(one, 1, false, name) == SNIFF_NAME && strcmp(name, "api.example.com") == 0,
                  "the server name, lower-cased");
        TAP_CHECK(tls_with_names(NULL, 0, false, name) == SNIFF_NO_NAME, "extensions without server_name: no name");
        TAP_CHECK(tls_with_names(two, 2, false, name) == SNIFF_AMBIGUOUS, "two host names in one extension");
        TAP_CHECK(tls_with_names(one, 1, true, name) == SNIFF_AMBIGUOUS, "two server_name extensions");
        const char *ip[] = { "203.0.113.9" }, *dot[] = { "a.example." }, *bad[] = { "a b.example" }, *empty[] = { "" };
        TAP_CHECK(tls_with_names(ip, 1, false, name) == SNIFF_BAD_NAME, "an address is no host name");
        TAP_CHECK(tls_with_names(dot, 1, false, name) == SNIFF_BAD_NAME, "a trailing dot is refused");
        TAP_CHECK(tls_with_names(bad, 1, false, name) == SNIFF_BAD_NAME, "a space is refused");
        TAP_CHECK(tls_with_names(empty, 1, false, name) == SNIFF_BAD_NAME, "an empty name is refused");

        struct buf msg = {0}, rec = {0};
        hello_message(&msg, NULL);
        records(&rec, &msg, 16384);
        TAP_CHECK(sniff_tls(rec.b, rec.n, name) == SNIFF_NO_NAME, "no extensions at all: no name");

        /* Every fragment size, and every cut of the bytes. */
        struct buf exts = {0};
        sni_ext(&exts, one, 1);
        msg.n = 0;
        hello_message(&msg, &exts);
        bool frag_ok = true, cut_ok = true;
        for (size_t frag = 1; frag <= msg.n; frag++) {
                rec.n = 0;
                records(&rec, &msg, frag);
                if (rec.n > SNIFF_BYTES_MAX)
                        continue;
                frag_ok &= sniff_tls(rec.b, rec.n, name) == SNIFF_NAME && strcmp(name, "api.example.com") == 0;
                for (size_t cut = 0; cut < rec.n; cut++)
                        cut_ok &= sniff_tls(rec.b, cut, name) == SNIFF_NEED_MORE;
        }
        TAP_CHECK(frag_ok, "the same name in records of any size from 1 byte");
        TAP_CHECK(cut_ok, "any cut of it asks for more, and names nothing");

        rec.n = 0;
        records(&rec, &msg, 16384);
        rec.b[0] = 0x17;
        TAP_CHECK(sniff_tls(rec.b, rec.n, name) == SNIFF_MALFORMED, "application data first");
        TAP_CHECK(sniff_tls(rec.b, 1, name) == SNIFF_MALFORMED, "refused at its first byte");
        rec.b[0] = 0x16;
        rec.b[5] = 2;
        TAP_CHECK(sniff_tls(rec.b, rec.n, name) == SNIFF_MALFORMED, "a ServerHello");
        rec.b[5] = 1;
        rec.b[3] = rec.b[4] = 0;
        TAP_CHECK(sniff_tls(rec.b, rec.n, name) == SNIFF_MALFORMED, "an empty record");

        /* A message longer than the proxy waits for. */
        struct buf big = {0};
        put_u8(&big, 0x16);
        put_u16(&big, 0x0301);
        put_u16(&big, 4);
        put_u8(&big, 1);
        put_u24(&big, SNIFF_BYTES_MAX);
        TAP_CHECK(sniff_tls(big.b, big.n, name) == SNIFF_MALFORMED, "a ClientHello over the limit");
}

static enum sniff_result http(const char *text, char name[static SNIFF_NAME_MAX + 1]) {
        return sniff_http((const uint8_t *) text, strlen(text), name);
}

static void test_http(void) {
        char name[SNIFF_NAME_MAX + 1];
        TAP_CHECK(http("GET / HTTP/1.1\r\nHost: A.Example:8080\r\nAccept: */*\r\n\r\n", name) == SNIFF_NAME &&
                  strcmp(name, "a.example") == 0, "Host, port dropped, lower-cased");
        TAP_CHECK(http("GET / HTTP/1.1\r\nhOsT:a.example \r\n\r\n", name) == SNIFF_NAME, "any case, any spacing");
        TAP_CHECK(http("GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n", name) == SNIFF_NAME,
                  "absolute form agreeing with Host");
        TAP_CHECK(http("GET http://b.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n", name) == SNIFF_AMBIGUOUS,
                  "absolute form naming another host");
        TAP_CHECK(http("GET http://b.example/x HTTP/1.1\r\n\r\n", name) == SNIFF_AMBIGUOUS, "absolute form without Host");
        TAP_CHECK(http("GET http://u@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", name) == SNIFF_AMBIGUOUS,
                  "userinfo");
        TAP_CHECK(http("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", name) == SNIFF_AMBIGUOUS,
                  "two Host headers");
        TAP_CHECK(http("GET / HTTP/1.0\r\n\r\n", name) == SNIFF_NO_NAME, "no Host");
        TAP_CHECK(http("GET / HTTP/1.1\r\nHost:\r\n\r\n", name) == SNIFF_NO_NAME, "empty Host");
        TAP_CHECK(http("GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n", name) == SNIFF_BAD_NAME, "an IPv6 literal");
        TAP_CHECK(http("GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n", name) == SNIFF_BAD_NAME, "an IPv4 literal");
        TAP_CHECK(http("GET / HTTP/1.1\r\nX: 1\r\n Host: b.example\r\n\r\n", name) == SNIFF_MALFORMED, "obs-fold");
        TAP_CHECK(http("GET / HTTP/1.1\nHost: a.example\n\n", name) == SNIFF_MALFORMED, "bare LF");
        TAP_CHECK(http("GET / HTTP/1.1\r\nHost : a.example\r\n\r\n", name) == SNIFF_MALFORMED, "space before the colon");
        TAP_CHECK(http("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example\r\n\r\n", name) == SNIFF_MALFORMED,
                  "CONNECT");
        TAP_CHECK(http("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", name) == SNIFF_MALFORMED, "the HTTP/2 preface");
        TAP_CHECK(http("get / HTTP/1.1\r\n", name) == SNIFF_MALFORMED, "a method in lower case");
        TAP_CHECK(http("\x16\x03\x01", name) == SNIFF_MALFORMED, "TLS on the HTTP port, at its first byte");
        TAP_CHECK(http("GET / HTTP/1.1\r\nHost: a.ex\x01mple\r\n\r\n", name) == SNIFF_MALFORMED, "a control byte");
        TAP_CHECK(http("POST / HTTP/1.1\r\nHost: a.example\r\n\r\n\x00\x01\xff\n", name) == SNIFF_NAME,
                  "the body after the head may be any bytes");
        static const char full[] = "GET /x HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t\r\n\r\n";
        bool cut_ok = true;
        for (size_t cut = 0; cut < strlen(full); cut++)
                cut_ok &= sniff_http((const uint8_t *) full, cut, name) == SNIFF_NEED_MORE;
        TAP_CHECK(cut_ok, "any cut of a head asks for more");
}

static enum sniff_result head(const char *text, struct sniff_http_head *ret) {
        char name[SNIFF_NAME_MAX + 1];
        return sniff_http_request((const uint8_t *) text, strlen(text), name, ret);
}

static int chunk(const char *text, uint64_t *size, size_t *line) {
        return sniff_http_chunk_size((const uint8_t *) text, strlen(text), size, line);
}

/* The framing the proxy follows to find each next request head. */
static void test_http_framing(void) {
        struct sniff_http_head h;
        static const char get[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\nGET /next";
        TAP_CHECK(head(get, &h) == SNIFF_NAME && h.head_len == strlen(get) - strlen("GET /next") &&
                  h.body == SNIFF_BODY_NONE, "no length: no body, the head's length");
        TAP_CHECK(head("POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 12\r\n\r\n", &h) == SNIFF_NAME &&
                  h.body == SNIFF_BODY_LENGTH && h.content_length == 12, "Content-Length");
        TAP_CHECK(head("POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: Chunked\r\n\r\n", &h) == SNIFF_NAME &&
                  h.body == SNIFF_BODY_CHUNKED, "chunked");
        TAP_CHECK(head("POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", &h) ==
                  SNIFF_AMBIGUOUS, "both lengths");
        TAP_CHECK(head("POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &h) ==
                  SNIFF_AMBIGUOUS, "two Content-Length");
        TAP_CHECK(head("POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3, 3\r\n\r\n", &h) == SNIFF_MALFORMED &&
                  head("POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: -1\r\n\r\n", &h) == SNIFF_MALFORMED &&
                  head("POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 1234567890123456789\r\n\r\n", &h) ==
                  SNIFF_MALFORMED, "a list, a sign, 19 digits");
        TAP_CHECK(head("POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &h) ==
                  SNIFF_UNSUPPORTED, "a coding other than chunked alone");
        TAP_CHECK(head("GET / HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", &h) ==
                  SNIFF_UNSUPPORTED && head("GET / HTTP/1.1\r\nHost: a.example\r\nupgrade: h2c\r\n\r\n", &h) ==
                  SNIFF_UNSUPPORTED, "Upgrade");
        TAP_CHECK(head("GET / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 44\r\n\r\n", &h) == SNIFF_AMBIGUOUS &&
                  head("HEAD / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n", &h) ==
                  SNIFF_AMBIGUOUS && head("DELETE /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 1\r\n\r\n", &h) ==
                  SNIFF_AMBIGUOUS && head("TRACE / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2\r\n\r\n", &h) ==
                  SNIFF_AMBIGUOUS && head("OPTIONS /api HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2\r\n\r\n", &h) ==
                  SNIFF_AMBIGUOUS, "a body on GET, HEAD, DELETE, TRACE, OPTIONS (a server may not read it)");
        TAP_CHECK(head("GET / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0\r\n\r\n", &h) == SNIFF_NAME &&
                  head("GETX / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\n", &h) == SNIFF_NAME,
                  "Content-Length 0 on GET; a method that only starts like one");
        uint64_t size = 0;
        size_t line = 0;
        TAP_CHECK(chunk("1aF\r\ndata", &size, &line) == 0 && size == 0x1af && line == 5, "a chunk size");
        TAP_CHECK(chunk("0\r\n", &size, &line) == 0 && size == 0 && line == 3, "the last chunk");
        TAP_CHECK(chunk("1a", &size, &line) == -EAGAIN && chunk("1a\r", &size, &line) == -EAGAIN, "cut");
        TAP_CHECK(chunk("1a;ext=1\r\n", &size, &line) == -EBADMSG && chunk(" 1a\r\n", &size, &line) == -EBADMSG &&
                  chunk("1a \r\n", &size, &line) == -EBADMSG && chunk("\r\n", &size, &line) == -EBADMSG &&
                  chunk("1a\rx", &size, &line) == -EBADMSG, "extensions, spaces, no digits, a bare CR");
        TAP_CHECK(chunk("fffffffffffffff\r\n", &size, &line) == 0 && chunk("1000000000000000\r\n", &size, &line) ==
                  -EBADMSG, "at most 15 digits");
}

/* The server's first record, and the client's second ClientHello. */
static void test_tls_retry(void) {
        struct buf sh = {0};
        server_hello_record(&sh, true);
        bool cut_ok = true;
        for (size_t cut = 0; cut < 5 + 4 + 2 + 32; cut++)
                cut_ok &= sniff_tls_server_hello(sh.b, cut) == SNIFF_SERVER_NEED_MORE;
        TAP_CHECK(cut_ok && sniff_tls_server_hello(sh.b, sh.n) == SNIFF_SERVER_RETRY, "a HelloRetryRequest");
        sh.b[5 + 4 + 2] ^= 1;
        TAP_CHECK(sniff_tls_server_hello(sh.b, sh.n) == SNIFF_SERVER_OTHER, "another random: a ServerHello");
        static const uint8_t alert[] = {0x15, 3, 3, 0, 2, 2, 40};
        TAP_CHECK(sniff_tls_server_hello(alert, sizeof(alert)) == SNIFF_SERVER_OTHER, "an alert");
        static const uint8_t tiny[] = {0x16, 3, 3, 0, 4, 2, 0, 0, 0};
        TAP_CHECK(sniff_tls_server_hello(tiny, sizeof(tiny)) == SNIFF_SERVER_MALFORMED &&
                  sniff_tls_server_hello((const uint8_t *) "HTTP/1.1", 8) == SNIFF_SERVER_MALFORMED,
                  "a record too short for the random; not TLS");

        char name[SNIFF_NAME_MAX + 1];
        static const char *const one[] = {"a.example"};
        struct buf exts = {0}, msg = {0}, rec = {0}, both = {0};
        sni_ext(&exts, one, 1);
        hello_message(&msg, &exts);
        records(&rec, &msg, 100);
        size_t used = 0;
        TAP_CHECK(sniff_tls_hello(rec.b, rec.n, name, &used) == SNIFF_NAME && used == rec.n,
                  "the records of a ClientHello, counted");
        static const uint8_t ccs[] = {0x14, 3, 3, 0, 1, 1};
        put(&both, ccs, sizeof(ccs));
        put(&both, rec.b, rec.n);
        TAP_CHECK(sniff_tls_retry_hello(both.b, both.n, name, &used) == SNIFF_NAME && used == both.n &&
                  strcmp(name, "a.example") == 0, "ChangeCipherSpec, then the second ClientHello");
        TAP_CHECK(sniff_tls_retry_hello(both.b, 3, name, &used) == SNIFF_NEED_MORE, "a cut ChangeCipherSpec");
        both.b[5] = 2;
        TAP_CHECK(sniff_tls_retry_hello(both.b, both.n, name, &used) == SNIFF_MALFORMED, "another ChangeCipherSpec");
        /* A record holding the ClientHello and more: the more would pass unread. */
        struct buf longer = {0};
        put(&longer, msg.b, msg.n);
        put_u8(&longer, 0x16);
        struct buf tail = {0};
        records(&tail, &longer, 16384);
        TAP_CHECK(sniff_tls_hello(tail.b, tail.n, name, &used) == SNIFF_MALFORMED &&
                  sniff_tls(tail.b, tail.n, name) == SNIFF_NAME, "bytes after the ClientHello in its record");
}

int main(void) {
        test_tls();
        test_http();
        test_http_framing();
        test_tls_retry();
        return tap_done();
}
