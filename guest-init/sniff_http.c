/* SPDX-License-Identifier: MIT */
/* The Host of an HTTP/1.x request head (RFC 9112 3, RFC 9110 7.2), and
 * how its body is framed (RFC 9112 6), so that the proxy can find the next
 * request's head. Only the head is read, and it must be complete (up to
 * its empty line) before a name is returned: a second Host further down
 * would otherwise go unseen. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "sniff.h"

#define METHOD_MAX 20
/* Below 10^18 and 2^60: no sum of them overflows the proxy's counts. */
#define CONTENT_LENGTH_DIGITS_MAX 18
#define CHUNK_SIZE_DIGITS_MAX 15

static bool is_tchar(uint8_t c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Bytes that never belong in a request head: control characters other
 * than tab, CR and LF, and DEL. Refused as soon as they arrive. */
static bool is_forbidden(uint8_t c) {
        return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

/* Methods whose content has no defined meaning (RFC 9110 9.3.1, 9.3.2,
 * 9.3.5), is forbidden (9.3.8) or is not used (OPTIONS: a CORS preflight
 * has none): many servers answer them without reading a body, and would
 * then read that body as the next request, whose Host the proxy never saw
 * (request smuggling). Such a request with a body is refused. A server
 * that skips the body of another method is not covered
 * (docs/security.md). */
static bool method_has_no_body(const uint8_t *buf, size_t len) {
        static const char *const methods[] = { "GET ", "HEAD ", "DELETE ", "TRACE ", "OPTIONS " };
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
                if (len >= strlen(methods[i]) && memcmp(buf, methods[i], strlen(methods[i])) == 0)
                        return true;
        return false;
}

static bool ieq(const uint8_t *s, size_t len, const char *lit) {
        if (strlen(lit) != len)
                return false;
        for (size_t i = 0; i < len; i++) {
                uint8_t c = s[i] >= 'A' && s[i] <= 'Z' ? (uint8_t) (s[i] - 'A' + 'a') : s[i];
                if (c != (uint8_t) lit[i])
                        return false;
        }
        return true;
}

/* host[:port] → the host's name; an IPv6 literal or anything else that is
 * not a host name is SNIFF_BAD_NAME. */
static enum sniff_result authority_name(const uint8_t *s, size_t len, char name[static SNIFF_NAME_MAX + 1]) {
        size_t host = len;
        for (size_t i = 0; i < len; i++)
                if (s[i] == ':') {
                        host = i;
                        break;
                }
        if (host < len) {
                size_t digits = len - host - 1;
                if (digits == 0 || digits > 5)
                        return SNIFF_BAD_NAME;
                for (size_t i = host + 1; i < len; i++)
                        if (s[i] < '0' || s[i] > '9')
                                return SNIFF_BAD_NAME;
        }
        return sniff_copy_name(s, host, name);
}

/* The request line: METHOD SP target SP HTTP/1.x. For an absolute-form
 * target, its host into uri_name (*has_uri set). */
static enum sniff_result request_line(const uint8_t *s, size_t len, bool *has_uri,
                                      char uri_name[static SNIFF_NAME_MAX + 1]) {
        const uint8_t *sp1 = memchr(s, ' ', len);
        if (!sp1 || sp1 == s || len < 10)
                return SNIFF_MALFORMED;
        const uint8_t *version = s + len - 8;
        if (memcmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1') || version[-1] != ' ')
                return SNIFF_MALFORMED;
        const uint8_t *target = sp1 + 1, *target_end = version - 1;
        if (target >= target_end || memchr(target, ' ', (size_t) (target_end - target)))
                return SNIFF_MALFORMED;
        /* A tunnel's target is whatever host it names, past any check of
         * ours on the bytes that follow: not passed on. */
        if ((size_t) (sp1 - s) == 7 && memcmp(s, "CONNECT", 7) == 0)
                return SNIFF_MALFORMED;
        *has_uri = false;
        if (target[0] == '/' || (target_end - target == 1 && target[0] == '*'))
                return SNIFF_NEED_MORE;         /* fine: the name comes from Host */
        const uint8_t *scheme_end = memchr(target, ':', (size_t) (target_end - target));
        if (!scheme_end || target_end - scheme_end < 3 || memcmp(scheme_end, "://", 3) != 0)
                return SNIFF_MALFORMED;
        const uint8_t *auth = scheme_end + 3, *auth_end = auth;
        while (auth_end < target_end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
                auth_end++;
        if (memchr(auth, '@', (size_t) (auth_end - auth)))
                return SNIFF_AMBIGUOUS;         /* userinfo: which part is the host depends on the reader */
        *has_uri = true;
        enum sniff_result r = authority_name(auth, (size_t) (auth_end - auth), uri_name);
        return r == SNIFF_NAME ? SNIFF_NEED_MORE : r;
}

/* Content-Length: 1..CONTENT_LENGTH_DIGITS_MAX digits, nothing else (not
 * a list of equal values, which servers read differently). */
static bool content_length(const uint8_t *v, size_t len, uint64_t *ret) {
        uint64_t n = 0;
        if (len == 0 || len > CONTENT_LENGTH_DIGITS_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (v[i] < '0' || v[i] > '9')
                        return false;
                n = n * 10 + (uint64_t) (v[i] - '0');
        }
        *ret = n;
        return true;
}

/* One header field that decides how the body is framed, or whether the
 * connection stays HTTP/1.x at all; others are SNIFF_NEED_MORE. */
static enum sniff_result framing_field(const uint8_t *field, size_t field_len, const uint8_t *v, size_t v_len,
                                       struct sniff_http_head *head, bool *has_length, bool *has_chunked) {
        if (ieq(field, field_len, "upgrade"))
                return SNIFF_UNSUPPORTED;       /* after a 101 the bytes are no longer requests */
        if (ieq(field, field_len, "content-length")) {
                if (*has_length)
                        return SNIFF_AMBIGUOUS;
                *has_length = true;
                return content_length(v, v_len, &head->content_length) ? SNIFF_NEED_MORE : SNIFF_MALFORMED;
        }
        if (ieq(field, field_len, "transfer-encoding")) {
                if (*has_chunked)
                        return SNIFF_AMBIGUOUS;
                *has_chunked = true;
                /* Only chunked alone: a list of codings ends in chunked or
                 * is read to the close, and servers differ on both. */
                return ieq(v, v_len, "chunked") ? SNIFF_NEED_MORE : SNIFF_UNSUPPORTED;
        }
        return SNIFF_NEED_MORE;
}

enum sniff_result sniff_http(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1]) {
        struct sniff_http_head head;
        return sniff_http_request(buf, len, name, &head);
}

enum sniff_result sniff_http_request(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1],
                                     struct sniff_http_head *ret) {
        struct sniff_http_head head = {};
        bool has_length = false, has_chunked = false;
        if (len > SNIFF_BYTES_MAX)
                len = SNIFF_BYTES_MAX;
        /* A method is a token in capitals by convention; insisting on it
         * refuses binary protocols at their first byte. */
        for (size_t i = 0; i < len; i++) {
                if (buf[i] == ' ' && i > 0)
                        break;
                if (i >= METHOD_MAX || buf[i] < 'A' || buf[i] > 'Z')
                        return SNIFF_MALFORMED;
        }
        /* Only the head is ours to judge: the body after it may be any
         * bytes. */
        for (size_t i = 0; i + 3 < len; i++)
                if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
                        len = i + 4;
                        break;
                }
        for (size_t i = 0; i < len; i++)
                if (is_forbidden(buf[i]))
                        return SNIFF_MALFORMED;
        /* Every line ends in CRLF: a bare CR or LF is read differently by
         * different servers. */
        for (size_t i = 0; i < len; i++) {
                if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n')
                        return SNIFF_MALFORMED;
                if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
                        return SNIFF_MALFORMED;
        }
        const uint8_t *eol = NULL;
        for (size_t i = 0; i + 1 < len; i++)
                if (buf[i] == '\r') {
                        eol = buf + i;
                        break;
                }
        if (!eol)
                return SNIFF_NEED_MORE;
        bool has_uri = false;
        char uri_name[SNIFF_NAME_MAX + 1];
        enum sniff_result r = request_line(buf, (size_t) (eol - buf), &has_uri, uri_name);
        if (r != SNIFF_NEED_MORE)
                return r;

        bool has_host = false;
        enum sniff_result host = SNIFF_NO_NAME;
        const uint8_t *line = eol + 2;
        for (;;) {
                size_t left = len - (size_t) (line - buf);
                const uint8_t *end = NULL;
                for (size_t i = 0; i + 1 < left; i++)
                        if (line[i] == '\r') {
                                end = line + i;
                                break;
                        }
                if (!end)
                        return SNIFF_NEED_MORE;
                if (end == line)
                        break;                  /* the empty line: the head is complete */
                size_t n = (size_t) (end - line), colon = 0;
                if (line[0] == ' ' || line[0] == '\t')
                        return SNIFF_MALFORMED; /* obs-fold */
                while (colon < n && is_tchar(line[colon]))
                        colon++;
                if (colon == 0 || colon == n || line[colon] != ':')
                        return SNIFF_MALFORMED;
                const uint8_t *v = line + colon + 1, *v_end = end;
                while (v < v_end && (*v == ' ' || *v == '\t'))
                        v++;
                while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
                        v_end--;
                if (ieq(line, colon, "host")) {
                        if (has_host)
                                return SNIFF_AMBIGUOUS;
                        has_host = true;
                        host = v == v_end ? SNIFF_NO_NAME : authority_name(v, (size_t) (v_end - v), name);
                } else {
                        enum sniff_result f = framing_field(line, colon, v, (size_t) (v_end - v), &head,
                                                            &has_length, &has_chunked);
                        if (f != SNIFF_NEED_MORE)
                                return f;
                }
                line = end + 2;
        }
        /* Both: a server may frame by either (request smuggling). */
        if (has_length && has_chunked)
                return SNIFF_AMBIGUOUS;
        head.head_len = (size_t) (line + 2 - buf);
        head.body = has_chunked ? SNIFF_BODY_CHUNKED : has_length ? SNIFF_BODY_LENGTH : SNIFF_BODY_NONE;
        if ((has_chunked || (has_length && head.content_length > 0)) && method_has_no_body(buf, len))
                return SNIFF_AMBIGUOUS;
        if (host != SNIFF_NAME)
                return host == SNIFF_NO_NAME && has_uri ? SNIFF_AMBIGUOUS : host;
        if (has_uri && strcmp(uri_name, name) != 0)
                return SNIFF_AMBIGUOUS;
        *ret = head;
        return SNIFF_NAME;
}

static int hex_value(uint8_t c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int sniff_http_chunk_size(const uint8_t *buf, size_t len, uint64_t *ret_size, size_t *ret_line_len) {
        uint64_t size = 0;
        size_t i = 0;
        for (; i < len && hex_value(buf[i]) >= 0; i++) {
                if (i >= CHUNK_SIZE_DIGITS_MAX)
                        return -EBADMSG;
                size = size << 4 | (uint64_t) hex_value(buf[i]);
        }
        if (i == len)
                return -EAGAIN;
        /* No extension, no whitespace: what follows the digits is CRLF. */
        if (i == 0 || buf[i] != '\r' || (i + 1 < len && buf[i + 1] != '\n'))
                return -EBADMSG;
        if (i + 1 == len)
                return -EAGAIN;
        *ret_size = size;
        *ret_line_len = i + 2;
        return 0;
}
