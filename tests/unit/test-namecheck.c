/* SPDX-License-Identifier: MIT */
/* namecheck.h: which bytes of a connection's two streams pass, and where it
 * is refused (namecheck_run.h runs a connection as the gate follows it);
 * for every cut of the client's bytes, nothing past a check that has not
 * passed gets through. */
#include <stdio.h>
#include <string.h>

#include "namecheck.h"
#include "namecheck_run.h"
#include "policy.h"
#include "policy_load.h"
#include "tap.h"
#include "tls_build.h"

static struct namecheck_outcome run(const struct policy *p, enum namegate_kind kind, const struct buf *client,
                          const struct buf *server) {
        return namecheck_run(p, kind, client->b, client->n, server->b, server->n);
}

static void text(struct buf *b, const char *s) {
        put(b, s, strlen(s));
}

/* A literal's bytes, NULs and all. */
#define BYTES(b, lit) put(b, lit, sizeof(lit) - 1)

static void hello(struct buf *b, const char *name) {
        const char *names[] = { name };
        struct buf exts = {0}, msg = {0};
        sni_ext(&exts, names, 1);
        hello_message(&msg, &exts);
        records(b, &msg, 16384);
}

/* No cut of the client's bytes lets more than limit of them through. */
static bool no_cut_passes_more(const struct policy *p, enum namegate_kind kind, const struct buf *client,
                               const struct buf *server, size_t limit) {
        static struct buf cut;
        for (size_t n = 0; n <= client->n; n++) {
                memcpy(cut.b, client->b, n);
                cut.n = n;
                struct namecheck_outcome o = run(p, kind, &cut, server);
                if (o.up > limit || o.empty_pass) {
                        printf("#   cut at %zu: %zu bytes passed (limit %zu), empty pass %d\n", n, o.up, limit, o.empty_pass);
                        return false;
                }
        }
        return true;
}

static const char first_get[] = "GET /a HTTP/1.1\r\nHost: ok.test\r\n\r\n";
static const char evil_get[] = "GET /b HTTP/1.1\r\nHost: evil.test\r\n\r\n";

static void test_http(const struct policy *p) {
        static struct buf c, s, none;
        c.n = s.n = 0;
        text(&c, first_get);
        text(&c, "GET /c HTTP/1.1\r\nHost: www.ok.test\r\n\r\n");
        text(&s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        struct namecheck_outcome o = run(p, NAMEGATE_HTTP, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_MORE && o.up == c.n && o.down == s.n, "two allowed requests and the answer pass");

        c.n = 0;
        text(&c, first_get);
        text(&c, evil_get);
        o = run(p, NAMEGATE_HTTP, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_REFUSE && o.why == NAMEGATE_NOT_IN_POLICY && strcmp(o.name, "evil.test") == 0 &&
                  o.up == strlen(first_get), "the second request's Host is checked, and refused by name");
        TAP_CHECK(no_cut_passes_more(p, NAMEGATE_HTTP, &c, &s, strlen(first_get)),
                  "no cut passes a byte of the refused request");

        o = run(p, NAMEGATE_HTTP, &c, &none);
        TAP_CHECK(o.down == 0, "the server's side is not open before a request passed");
        c.n = 0;
        text(&c, "GET / HTTP/1.1\r\n\r\n");
        o = run(p, NAMEGATE_HTTP, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_REFUSE && o.why == NAMEGATE_NO_NAME && o.up == 0 && o.down == 0,
                  "a request naming no host: nothing passes either way");

        /* A body that looks like a request is a body. */
        c.n = 0;
        char post[200];
        snprintf(post, sizeof(post), "POST / HTTP/1.1\r\nHost: ok.test\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(evil_get), evil_get);
        text(&c, post);
        text(&c, first_get);
        o = run(p, NAMEGATE_HTTP, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_MORE && o.up == c.n, "a body of known length passes unread, the next head is read");
        text(&c, evil_get);
        o = run(p, NAMEGATE_HTTP, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_REFUSE && o.up == strlen(post) + strlen(first_get), "and the one after it");
}

static void test_http_chunked(const struct policy *p) {
        static struct buf c, s;
        c.n = s.n = 0;
        static const char chunked[] = "POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      "5\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        text(&c, chunked);
        text(&c, evil_get);
        struct namecheck_outcome o = run(p, NAMEGATE_HTTP, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_REFUSE && o.why == NAMEGATE_NOT_IN_POLICY && o.up == strlen(chunked),
                  "a chunked body is followed chunk by chunk to the next head");
        TAP_CHECK(no_cut_passes_more(p, NAMEGATE_HTTP, &c, &s, strlen(chunked)),
                  "no cut of a chunked body passes the next head");

        c.n = 0;
        text(&c, "POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n");
        o = run(p, NAMEGATE_HTTP, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_REFUSE && o.why == NAMEGATE_MALFORMED, "trailer fields are refused");
        c.n = 0;
        text(&c, "POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY");
        o = run(p, NAMEGATE_HTTP, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_REFUSE && o.why == NAMEGATE_MALFORMED, "a chunk longer than its size line");
}

static void test_tls(const struct policy *p) {
        static struct buf c, s, sh;
        c.n = s.n = sh.n = 0;
        hello(&c, "ok.test");
        size_t hello_len = c.n;
        BYTES(&c, "\x17\x03\x03\x00\x05" "early");
        struct namecheck_outcome o = run(p, NAMEGATE_TLS, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_MORE && o.up == hello_len,
                  "an allowed ClientHello passes, what follows waits for the server's first record");
        server_hello_record(&s, false);
        BYTES(&s, "\x17\x03\x03\x00\x02" "ok");
        o = run(p, NAMEGATE_TLS, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_MORE && o.up == c.n && o.down == s.n, "a ServerHello opens both sides for good");

        c.n = 0;
        hello(&c, "evil.test");
        o = run(p, NAMEGATE_TLS, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_REFUSE && o.why == NAMEGATE_NOT_IN_POLICY && strcmp(o.name, "evil.test") == 0 &&
                  o.up == 0 && o.down == 0, "another name: refused by name, nothing passes");

        c.n = 0;
        hello(&c, "ok.test");
        BYTES(&c, "\x17\x03\x03\x00\x05" "early");
        s.n = 0;
        text(&s, "HTTP/1.1 200 OK\r\n\r\n");
        o = run(p, NAMEGATE_TLS, &c, &s);
        TAP_CHECK(o.end == NAMECHECK_BROKEN && o.up == hello_len && o.down == 0,
                  "a server's first record that is not TLS ends the connection, nothing of it passes");
}

static void test_tls_retry(const struct policy *p) {
        static struct buf c, s, retry_ok, retry_other, retry_evil;
        c.n = s.n = 0;
        hello(&c, "ok.test");
        size_t first = c.n;
        server_hello_record(&s, true);
        BYTES(&c, "\x14\x03\x03\x00\x01\x01");           /* ChangeCipherSpec */
        retry_ok = c, retry_other = c, retry_evil = c;
        hello(&retry_ok, "ok.test");
        hello(&retry_other, "www.ok.test");
        hello(&retry_evil, "evil.test");

        struct namecheck_outcome o = run(p, NAMEGATE_TLS, &retry_ok, &s);
        TAP_CHECK(o.end == NAMECHECK_MORE && o.up == retry_ok.n && o.down == s.n,
                  "after a HelloRetryRequest the second ClientHello naming the same server passes");
        o = run(p, NAMEGATE_TLS, &retry_other, &s);
        TAP_CHECK(o.end == NAMECHECK_REFUSE && o.why == NAMEGATE_AMBIGUOUS && o.up == first,
                  "a second ClientHello naming another allowed server is refused");
        o = run(p, NAMEGATE_TLS, &retry_evil, &s);
        TAP_CHECK(o.end == NAMECHECK_REFUSE && o.why == NAMEGATE_NOT_IN_POLICY && strcmp(o.name, "evil.test") == 0,
                  "one naming a server the policy does not allow is refused by name");
        TAP_CHECK(no_cut_passes_more(p, NAMEGATE_TLS, &retry_evil, &s, first),
                  "no cut passes a byte of the refused second ClientHello");
}

int main(void) {
        struct policy *p = load("domains: [ok.test, \"*.ok.test\"]\n");
        TAP_CHECK(p != NULL, "policy loads");
        if (!p)
                return tap_done();
        test_http(p);
        test_http_chunked(p);
        test_tls(p);
        test_tls_retry(p);
        policy_free(p);
        return tap_done();
}
