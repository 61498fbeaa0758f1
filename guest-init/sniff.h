/* SPDX-License-Identifier: MIT */
/* The name a connection asks for, read from its first bytes without
 * consuming them: the server_name of a TLS ClientHello, or the Host of an
 * HTTP/1.x request. Pure functions over a buffer, with no allocation and no
 * state, so the name gate can parse a stream again as more bytes arrive
 * and call them over; each bounded by the buffer it is given (at most
 * SNIFF_BYTES_MAX bytes are ever looked at).
 *
 * Strict on purpose: where two readings of the same bytes are possible (two
 * server names, two Host headers, an absolute URI naming another host than
 * Host, a header folded over two lines, a bare LF) the bytes are refused
 * rather than one reading guessed: the server must not see a different
 * name from the one checked. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* What the proxy waits for at most: a ClientHello or request head that
 * does not fit is refused. */
#define SNIFF_BYTES_MAX 16384u
#define SNIFF_NAME_MAX 253

enum sniff_result {
        SNIFF_NEED_MORE,        /* so far well formed, but incomplete */
        SNIFF_NAME,             /* name holds the lower-case host name */
        SNIFF_NO_NAME,          /* well formed, and names no host */
        SNIFF_BAD_NAME,         /* names something that is no host name (an address, bytes) */
        SNIFF_AMBIGUOUS,        /* names more than one, or names it two ways */
        SNIFF_MALFORMED,        /* not what this parser reads */
        SNIFF_UNSUPPORTED,      /* well formed, but what follows could not be checked (an upgrade) */
};

/* A TLS ClientHello, possibly over several handshake records; for ECH the
 * outer (public) name is what is returned: the inner one is encrypted. */
enum sniff_result sniff_tls(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1]);

/* sniff_tls, for a ClientHello that must be followed by nothing in its
 * last record (the proxy passes exactly its records on, then looks at what
 * comes next); *ret_len, set with a name, is the bytes of those records. */
enum sniff_result sniff_tls_hello(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1],
                                  size_t *ret_len);

/* The second ClientHello, after a HelloRetryRequest: sniff_tls_hello
 * after an optional ChangeCipherSpec record, which *ret_len counts. */
enum sniff_result sniff_tls_retry_hello(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1],
                                        size_t *ret_len);

enum sniff_server_hello {
        SNIFF_SERVER_NEED_MORE,
        SNIFF_SERVER_RETRY,             /* a HelloRetryRequest: a second ClientHello comes */
        SNIFF_SERVER_OTHER,             /* a ServerHello that is none, or an alert */
        SNIFF_SERVER_MALFORMED,
};

/* The server's first record: the ServerHello's random (in that record,
 * not joined over several) tells a HelloRetryRequest (RFC 8446 4.1.3). */
enum sniff_server_hello sniff_tls_server_hello(const uint8_t *buf, size_t len);

/* An HTTP/1.0 or 1.1 request head up to its empty line: the Host header
 * (port removed), which an absolute-form request target must agree with. */
enum sniff_result sniff_http(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1]);

enum sniff_body {
        SNIFF_BODY_NONE,
        SNIFF_BODY_LENGTH,              /* content_length bytes */
        SNIFF_BODY_CHUNKED,             /* chunks (sniff_http_chunk_size), the last of size 0 */
};

struct sniff_http_head {
        size_t head_len;                /* up to and with the empty line */
        enum sniff_body body;
        uint64_t content_length;        /* SNIFF_BODY_LENGTH: below 10^18 */
};

/* sniff_http, and with a name *ret, so that the next request's head can be
 * found and checked in turn. Refused besides: Upgrade (SNIFF_UNSUPPORTED:
 * after a 101 the bytes are no longer requests), a Transfer-Encoding other
 * than chunked alone (SNIFF_UNSUPPORTED), two Content-Length or two
 * Transfer-Encoding fields, or both (SNIFF_AMBIGUOUS), a Content-Length
 * that is not 1..18 digits (SNIFF_MALFORMED). */
enum sniff_result sniff_http_request(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1],
                                     struct sniff_http_head *ret);

/* The size line of a chunk: 1..15 hex digits and CRLF, no extension and
 * no whitespace. 0 with the chunk's size and the line's length, -EAGAIN
 * when it may still come whole, -EBADMSG. */
int sniff_http_chunk_size(const uint8_t *buf, size_t len, uint64_t *ret_size, size_t *ret_line_len);

/* Copies a host name of 1..SNIFF_NAME_MAX bytes into name, lower-cased:
 * labels of [A-Za-z0-9-_], no empty label, no trailing dot, not all
 * digits and dots (an address is not a name). SNIFF_NAME or SNIFF_BAD_NAME. */
enum sniff_result sniff_copy_name(const uint8_t *s, size_t len, char name[static SNIFF_NAME_MAX + 1]);

/* "TLS server name", "HTTP Host", for messages. */
const char *sniff_result_text(enum sniff_result r);
