/* SPDX-License-Identifier: MIT */
/* The server_name of a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3). The
 * handshake message may be cut into several records, as TLS allows: the
 * fragments are joined before the message is read, so a name split across
 * records is found, not missed. Also the server's first record, to tell a
 * HelloRetryRequest (after which the client sends a second ClientHello). */
#include <stdbool.h>
#include <string.h>

#include "sniff.h"

#define RECORD_HEADER 5
#define RECORD_CHANGE_CIPHER_SPEC 0x14
#define RECORD_ALERT 0x15
#define RECORD_HANDSHAKE 0x16
#define RECORD_PAYLOAD_MAX 16384u
#define HANDSHAKE_HEADER 4
#define HANDSHAKE_CLIENT_HELLO 1
#define HANDSHAKE_SERVER_HELLO 2
#define EXT_SERVER_NAME 0
#define NAME_TYPE_HOST 0

/* A cursor over bytes that never reads past its end. */
struct reader {
        const uint8_t *p;
        size_t left;
};

static bool take(struct reader *r, size_t n, const uint8_t **ret) {
        if (r->left < n)
                return false;
        if (ret)
                *ret = r->p;
        r->p += n;
        r->left -= n;
        return true;
}

static bool take_u8(struct reader *r, size_t *ret) {
        const uint8_t *b;
        if (!take(r, 1, &b))
                return false;
        *ret = b[0];
        return true;
}

static bool take_u16(struct reader *r, size_t *ret) {
        const uint8_t *b;
        if (!take(r, 2, &b))
                return false;
        *ret = (size_t) b[0] << 8 | b[1];
        return true;
}

/* A length-prefixed block as a reader of its own. */
static bool take_block(struct reader *r, size_t len_bytes, struct reader *ret) {
        size_t n;
        if (!(len_bytes == 1 ? take_u8(r, &n) : take_u16(r, &n)))
                return false;
        ret->p = r->p;
        ret->left = n;
        return take(r, n, NULL);
}

static enum sniff_result server_name_ext(struct reader ext, char name[static SNIFF_NAME_MAX + 1]) {
        struct reader list;
        bool found = false;
        if (!take_block(&ext, 2, &list) || ext.left != 0 || list.left == 0)
                return SNIFF_MALFORMED;
        while (list.left > 0) {
                size_t type;
                struct reader host;
                if (!take_u8(&list, &type) || !take_block(&list, 2, &host))
                        return SNIFF_MALFORMED;
                /* RFC 6066 defines host_name only, and forbids two names of
                 * one type: a server could pick either. */
                if (type != NAME_TYPE_HOST)
                        return SNIFF_MALFORMED;
                if (found)
                        return SNIFF_AMBIGUOUS;
                found = true;
                enum sniff_result r = sniff_copy_name(host.p, host.left, name);
                if (r != SNIFF_NAME)
                        return r;
        }
        return SNIFF_NAME;
}

static enum sniff_result client_hello(struct reader body, char name[static SNIFF_NAME_MAX + 1]) {
        struct reader skip, exts;
        size_t version;
        if (!take_u16(&body, &version) || (version >> 8) != 3)
                return SNIFF_MALFORMED;
        if (!take(&body, 32, NULL))                                     /* random */
                return SNIFF_MALFORMED;
        if (!take_block(&body, 1, &skip) || skip.left > 32)             /* legacy_session_id */
                return SNIFF_MALFORMED;
        if (!take_block(&body, 2, &skip) || skip.left < 2 || skip.left % 2)     /* cipher_suites */
                return SNIFF_MALFORMED;
        if (!take_block(&body, 1, &skip) || skip.left < 1)              /* compression methods */
                return SNIFF_MALFORMED;
        if (body.left == 0)
                return SNIFF_NO_NAME;                                   /* no extensions at all */
        if (!take_block(&body, 2, &exts) || body.left != 0)
                return SNIFF_MALFORMED;
        enum sniff_result found = SNIFF_NO_NAME;
        while (exts.left > 0) {
                size_t type;
                struct reader data;
                if (!take_u16(&exts, &type) || !take_block(&exts, 2, &data))
                        return SNIFF_MALFORMED;
                if (type != EXT_SERVER_NAME)
                        continue;
                if (found != SNIFF_NO_NAME)
                        return SNIFF_AMBIGUOUS;                         /* two server_name extensions */
                found = server_name_ext(data, name);
                if (found != SNIFF_NAME)
                        return found;
        }
        return found;
}

/* The ClientHello at the start of buf, joined from its records; *ret_len
 * the bytes of the records it came in, *ret_whole whether it ends where
 * its last record does (nothing else shares a record with it). */
static enum sniff_result read_hello(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1],
                                    size_t *ret_len, bool *ret_whole) {
        uint8_t hs[SNIFF_BYTES_MAX];
        size_t have = 0, need = 0;      /* need: the whole message, once its header is in */
        bool record_done = false;
        if (len > SNIFF_BYTES_MAX)
                len = SNIFF_BYTES_MAX;
        size_t pos = 0;
        for (;;) {
                if (need && have >= need)
                        break;
                if (len - pos < RECORD_HEADER) {
                        /* What is there must already look like a record. */
                        if (len - pos >= 1 && buf[pos] != RECORD_HANDSHAKE)
                                return SNIFF_MALFORMED;
                        if (len - pos >= 2 && buf[pos + 1] != 3)
                                return SNIFF_MALFORMED;
                        return SNIFF_NEED_MORE;
                }
                size_t rlen = (size_t) buf[pos + 3] << 8 | buf[pos + 4];
                if (buf[pos] != RECORD_HANDSHAKE || buf[pos + 1] != 3 || rlen == 0 || rlen > RECORD_PAYLOAD_MAX)
                        return SNIFF_MALFORMED;
                pos += RECORD_HEADER;
                size_t avail = len - pos < rlen ? len - pos : rlen;
                if (avail > sizeof(hs) - have)
                        return SNIFF_MALFORMED;
                memcpy(hs + have, buf + pos, avail);
                have += avail;
                pos += avail;
                record_done = avail == rlen;
                if (!need && have >= HANDSHAKE_HEADER) {
                        if (hs[0] != HANDSHAKE_CLIENT_HELLO)
                                return SNIFF_MALFORMED;
                        need = HANDSHAKE_HEADER + ((size_t) hs[1] << 16 | (size_t) hs[2] << 8 | hs[3]);
                        if (need > sizeof(hs))
                                return SNIFF_MALFORMED;         /* larger than we wait for */
                }
                if (avail < rlen && !(need && have >= need))
                        return SNIFF_NEED_MORE;                 /* the record goes on past the buffer */
        }
        *ret_len = pos;
        *ret_whole = record_done && have == need;
        return client_hello((struct reader) { .p = hs + HANDSHAKE_HEADER, .left = need - HANDSHAKE_HEADER }, name);
}

enum sniff_result sniff_tls(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1]) {
        size_t used;
        bool whole;
        return read_hello(buf, len, name, &used, &whole);
}

enum sniff_result sniff_tls_hello(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1],
                                  size_t *ret_len) {
        size_t used = 0;
        bool whole = false;
        enum sniff_result r = read_hello(buf, len, name, &used, &whole);
        if (r == SNIFF_NEED_MORE || r == SNIFF_MALFORMED)
                return r;
        /* Bytes sharing the last record with the ClientHello would pass
         * with it unread. */
        if (!whole)
                return SNIFF_MALFORMED;
        *ret_len = used;
        return r;
}

enum sniff_result sniff_tls_retry_hello(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1],
                                        size_t *ret_len) {
        /* The one ChangeCipherSpec record a TLS 1.3 client may send for
         * middleboxes (RFC 8446 D.4), in the only form it has. */
        static const uint8_t ccs[] = { RECORD_CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1 };
        size_t skip = 0;
        if (len >= 1 && buf[0] == RECORD_CHANGE_CIPHER_SPEC) {
                if (memcmp(buf, ccs, len < sizeof(ccs) ? len : sizeof(ccs)) != 0)
                        return SNIFF_MALFORMED;
                if (len < sizeof(ccs))
                        return SNIFF_NEED_MORE;
                skip = sizeof(ccs);
        }
        size_t used = 0;
        enum sniff_result r = sniff_tls_hello(buf + skip, len - skip, name, &used);
        *ret_len = skip + used;
        return r;
}

enum sniff_server_hello sniff_tls_server_hello(const uint8_t *buf, size_t len) {
        /* SHA-256 of "HelloRetryRequest": the random of every
         * HelloRetryRequest (RFC 8446 4.1.3). */
        static const uint8_t retry_random[32] = {
                0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
                0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
        };
        const size_t random_at = RECORD_HEADER + HANDSHAKE_HEADER + 2;
        if (len >= 1 && buf[0] == RECORD_ALERT)
                return SNIFF_SERVER_OTHER;      /* the server ends the handshake */
        if ((len >= 1 && buf[0] != RECORD_HANDSHAKE) || (len >= 2 && buf[1] != 3))
                return SNIFF_SERVER_MALFORMED;
        if (len < RECORD_HEADER)
                return SNIFF_SERVER_NEED_MORE;
        /* Not joined over records: a ServerHello cut before its random is
         * refused rather than waited for. */
        size_t rlen = (size_t) buf[3] << 8 | buf[4];
        if (rlen < random_at + sizeof(retry_random) - RECORD_HEADER)
                return SNIFF_SERVER_MALFORMED;
        if (len < random_at + sizeof(retry_random))
                return SNIFF_SERVER_NEED_MORE;
        if (buf[RECORD_HEADER] != HANDSHAKE_SERVER_HELLO || buf[RECORD_HEADER + HANDSHAKE_HEADER] != 3)
                return SNIFF_SERVER_MALFORMED;
        return memcmp(buf + random_at, retry_random, sizeof(retry_random)) == 0 ? SNIFF_SERVER_RETRY
                                                                                : SNIFF_SERVER_OTHER;
}
