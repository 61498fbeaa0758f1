/* SPDX-License-Identifier: MIT */
/* TLS bytes for the unit tests: ClientHellos with chosen server names, in
 * records of a chosen size. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sniff.h"

struct buf {
        uint8_t b[SNIFF_BYTES_MAX * 2];
        size_t n;
};

static inline void put(struct buf *b, const void *p, size_t n) {
        memcpy(b->b + b->n, p, n);
        b->n += n;
}

static inline void put_u8(struct buf *b, unsigned v) {
        b->b[b->n++] = (uint8_t) v;
}

static inline void put_u16(struct buf *b, unsigned v) {
        put_u8(b, v >> 8);
        put_u8(b, v & 0xff);
}

static inline void put_u24(struct buf *b, size_t v) {
        put_u8(b, (unsigned) (v >> 16) & 0xff);
        put_u16(b, (unsigned) v & 0xffff);
}

/* A server_name extension with these host names. */
static inline void sni_ext(struct buf *b, const char *const *names, size_t n) {
        size_t list = 0;
        for (size_t i = 0; i < n; i++)
                list += 3 + strlen(names[i]);
        put_u16(b, 0);
        put_u16(b, (unsigned) list + 2);
        put_u16(b, (unsigned) list);
        for (size_t i = 0; i < n; i++) {
                put_u8(b, 0);
                put_u16(b, (unsigned) strlen(names[i]));
                put(b, names[i], strlen(names[i]));
        }
}

/* The handshake message: a ClientHello with these extensions (NULL: none
 * at all). */
static inline void hello_message(struct buf *out, const struct buf *exts) {
        struct buf body = {0};
        static const uint8_t random[32] = {1, 2, 3};
        put_u16(&body, 0x0303);
        put(&body, random, sizeof(random));
        put_u8(&body, 0);                       /* session id */
        put_u16(&body, 4);
        put_u16(&body, 0x1301);
        put_u16(&body, 0xc02f);
        put_u8(&body, 1);
        put_u8(&body, 0);                       /* compression: null */
        if (exts) {
                put_u16(&body, (unsigned) exts->n);
                put(&body, exts->b, exts->n);
        }
        put_u8(out, 1);
        put_u24(out, body.n);
        put(out, body.b, body.n);
}

/* The message in records of at most frag bytes each. */
static inline void records(struct buf *out, const struct buf *msg, size_t frag) {
        for (size_t at = 0; at < msg->n; at += frag) {
                size_t n = msg->n - at < frag ? msg->n - at : frag;
                put_u8(out, 0x16);
                put_u16(out, 0x0301);
                put_u16(out, (unsigned) n);
                put(out, msg->b + at, n);
        }
}

/* The server's first record: a ServerHello, or with retry a
 * HelloRetryRequest (its random is RFC 8446 4.1.3's), 10 bytes of body
 * after the random. */
static inline void server_hello_record(struct buf *out, bool retry) {
        static const uint8_t retry_random[32] = {
                0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
                0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
        };
        static const uint8_t other_random[32] = {7};
        put_u8(out, 0x16);
        put_u16(out, 0x0303);
        put_u16(out, 4 + 2 + 32 + 10);
        put_u8(out, 2);
        put_u24(out, 2 + 32 + 10);
        put_u16(out, 0x0303);
        put(out, retry ? retry_random : other_random, 32);
        for (int i = 0; i < 10; i++)
                put_u8(out, 0);
}
