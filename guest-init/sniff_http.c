/* SPDX-License-Identifier: MIT */
/* The Host of an HTTP/1.x request head (RFC 9112 3, RFC 9110 7.2). Only
 * the head is read, and it must be complete (up to its empty line) before
 * a name is returned: a second Host further down would otherwise go
 * unseen. */
#include <stdbool.h>
#include <string.h>

#include "sniff.h"

#define METHOD_MAX 20

static bool is_tchar(uint8_t c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Bytes that never belong in a request head: control characters other
 * than tab, CR and LF, and DEL. Refused as soon as they arrive. */
static bool is_forbidden(uint8_t c) {
        return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
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

enum sniff_result sniff_http(const uint8_t *buf, size_t len, char name[static SNIFF_NAME_MAX + 1]) {
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
        for (const uint8_t *line = eol + 2;;) {
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
                if (ieq(line, colon, "host")) {
                        if (has_host)
                                return SNIFF_AMBIGUOUS;
                        has_host = true;
                        const uint8_t *v = line + colon + 1, *v_end = end;
                        while (v < v_end && (*v == ' ' || *v == '\t'))
                                v++;
                        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
                                v_end--;
                        host = v == v_end ? SNIFF_NO_NAME : authority_name(v, (size_t) (v_end - v), name);
                }
                line = end + 2;
        }
        if (host != SNIFF_NAME)
                return host == SNIFF_NO_NAME && has_uri ? SNIFF_AMBIGUOUS : host;
        if (has_uri && strcmp(uri_name, name) != 0)
                return SNIFF_AMBIGUOUS;
        return SNIFF_NAME;
}
