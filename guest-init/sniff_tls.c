/* SPDX-License-Identifier: MIT */
/* The server_name of a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3). The
 * handshake message may be cut into several records, as TLS allows: the
 * fragments are joined before the message is read, so a name split across
 * records is found, not missed. */
#include <stdbool.h>
#include <string.h>

#include "sniff.h"

#define RECORD_HEADER 5
#define RECORD_HANDSHAKE 0x16
#define RECORD_PAYLOAD_MAX 16384u
#define HANDSHAKE_HEADER 4
#define HANDSHAKE_CLIENT_HELLO 1
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

enum sniff_result sniff_tls(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1]) {
        uint8_t hs[SNIFF_BYTES_MAX];
        size_t have = 0, need = 0;      /* need: the whole message, once its header is in */
        if (len > SNIFF_BYTES_MAX)
                len = SNIFF_BYTES_MAX;
        for (size_t pos = 0;;) {
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
        return client_hello((struct reader) { .p = hs + HANDSHAKE_HEADER, .left = need - HANDSHAKE_HEADER }, name);
}
