/* SPDX-License-Identifier: MIT */
/* The name a connection asks for, read from its first bytes without
 * consuming them: the server_name of a TLS ClientHello, or the Host of an
 * HTTP/1.x request. Pure functions over a buffer, with no allocation and no
 * state, so the splice proxy can peek the socket again as more bytes arrive
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
};

/* A TLS ClientHello, possibly over several handshake records; for ECH the
 * outer (public) name is what is returned: the inner one is encrypted. */
enum sniff_result sniff_tls(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1]);

/* An HTTP/1.0 or 1.1 request head up to its empty line: the Host header
 * (port removed), which an absolute-form request target must agree with. */
enum sniff_result sniff_http(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1]);

/* Copies a host name of 1..SNIFF_NAME_MAX bytes into name, lower-cased:
 * labels of [A-Za-z0-9-_], no empty label, no trailing dot, not all
 * digits and dots (an address is not a name). SNIFF_NAME or SNIFF_BAD_NAME. */
enum sniff_result sniff_copy_name(const uint8_t *s, size_t len, char name[static SNIFF_NAME_MAX + 1]);

/* "TLS server name", "HTTP Host", for messages. */
const char *sniff_result_text(enum sniff_result r);
