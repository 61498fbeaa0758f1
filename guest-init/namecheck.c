/* SPDX-License-Identifier: MIT */
/* The name check's decisions (namecheck.h). */
#include "namecheck.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* What a side's next check reads. */
enum next {
        NEXT_HOLD,                      /* nothing of its own: it waits for the other side's check */
        NEXT_TLS_HELLO,                 /* client: the ClientHello */
        NEXT_TLS_SERVER_HELLO,          /* server: its first record, a HelloRetryRequest or not */
        NEXT_TLS_RETRY_HELLO,           /* client: the second ClientHello, naming the first's server */
        NEXT_HTTP_HEAD,                 /* client: the next request head */
        NEXT_HTTP_CHUNK_SIZE,           /* client: a chunk's size line */
        NEXT_HTTP_CHUNK_END,            /* client: the CRLF after a chunk's data */
        NEXT_HTTP_LAST_CHUNK_END,       /* client: the CRLF after the last chunk (no trailer fields) */
};

static void open_side(struct namecheck_side *s) {
        s->budget = NAMECHECK_OPEN;
        s->next = NEXT_HOLD;
}

void namecheck_init(struct namecheck *nc, enum namegate_kind kind) {
        *nc = (struct namecheck) {
                .kind = (uint8_t) kind,
                .up.next = kind == NAMEGATE_TLS ? NEXT_TLS_HELLO : NEXT_HTTP_HEAD,
                .down.next = NEXT_HOLD,
        };
}

void namecheck_done(struct namecheck *nc) {
        free(nc->tls_name);
        nc->tls_name = NULL;
}

bool namecheck_holds(const struct namecheck_side *s) {
        return s->next == NEXT_HOLD;
}

static enum namegate_why why_of(enum sniff_result r) {
        switch (r) {
        case SNIFF_NAME: return NAMEGATE_NOT_IN_POLICY;
        case SNIFF_NO_NAME: return NAMEGATE_NO_NAME;
        case SNIFF_BAD_NAME: return NAMEGATE_BAD_NAME;
        case SNIFF_AMBIGUOUS: return NAMEGATE_AMBIGUOUS;
        case SNIFF_NEED_MORE: return NAMEGATE_TOO_LONG;
        case SNIFF_UNSUPPORTED: return NAMEGATE_UNSUPPORTED;
        case SNIFF_MALFORMED: default: return NAMEGATE_MALFORMED;
        }
}

static enum namecheck_result refuse(enum sniff_result r, enum namegate_why *ret_why) {
        *ret_why = why_of(r);
        return NAMECHECK_REFUSE;
}

/* The client's first bytes: a ClientHello whose records pass, after which
 * the client waits for the server's first record. */
static enum namecheck_result check_hello(struct namecheck *nc, const struct policy *policy, const uint8_t *buf,
                                         size_t len, enum namegate_why *ret_why, char *name) {
        size_t hello_len = 0;
        enum sniff_result r = sniff_tls_hello(buf, len, name, &hello_len);
        if (r == SNIFF_NEED_MORE)
                return NAMECHECK_MORE;
        if (r != SNIFF_NAME || !policy_name_allowed(policy, name, NULL))
                return refuse(r, ret_why);
        nc->tls_name = strdup(name);
        if (!nc->tls_name)
                return NAMECHECK_BROKEN;
        nc->up.budget = hello_len;
        nc->up.next = NEXT_HOLD;
        nc->down.next = NEXT_TLS_SERVER_HELLO;
        return NAMECHECK_PASS;
}

static enum namecheck_result check_server_hello(struct namecheck *nc, const uint8_t *buf, size_t len) {
        switch (sniff_tls_server_hello(buf, len)) {
        case SNIFF_SERVER_NEED_MORE:
                return NAMECHECK_MORE;
        case SNIFF_SERVER_RETRY:
                /* The client's next flight is a second ClientHello. */
                open_side(&nc->down);
                nc->up.next = NEXT_TLS_RETRY_HELLO;
                return NAMECHECK_PASS;
        case SNIFF_SERVER_OTHER:
                open_side(&nc->down);
                open_side(&nc->up);
                namecheck_done(nc);
                return NAMECHECK_PASS;
        case SNIFF_SERVER_MALFORMED:
        default:
                return NAMECHECK_BROKEN;        /* not TLS: the client gets no unchecked reply */
        }
}

/* The second ClientHello must name the first's server: a server may take
 * the second's name (OpenSSL does) and serve that site. */
static enum namecheck_result check_retry_hello(struct namecheck *nc, const struct policy *policy, const uint8_t *buf,
                                               size_t len, enum namegate_why *ret_why, char *name) {
        size_t used = 0;
        enum sniff_result r = sniff_tls_retry_hello(buf, len, name, &used);
        if (r == SNIFF_NEED_MORE)
                return NAMECHECK_MORE;
        if (r == SNIFF_NAME && nc->tls_name && strcmp(name, nc->tls_name) == 0) {
                open_side(&nc->up);
                namecheck_done(nc);
                return NAMECHECK_PASS;
        }
        if (r == SNIFF_NAME && policy_name_allowed(policy, name, NULL)) {
                *ret_why = NAMEGATE_AMBIGUOUS;
                return NAMECHECK_REFUSE;
        }
        return refuse(r, ret_why);
}

/* A request whose head passed passes whole: its head, and a body of known
 * length; a chunked body chunk by chunk. The first opens the server's
 * side. */
static enum namecheck_result check_http_head(struct namecheck *nc, const struct policy *policy, const uint8_t *buf,
                                             size_t len, enum namegate_why *ret_why, char *name) {
        struct sniff_http_head head;
        enum sniff_result r = sniff_http_request(buf, len, name, &head);
        if (r == SNIFF_NEED_MORE)
                return NAMECHECK_MORE;
        if (r != SNIFF_NAME || !policy_name_allowed(policy, name, NULL))
                return refuse(r, ret_why);
        nc->up.budget = head.head_len + (head.body == SNIFF_BODY_LENGTH ? head.content_length : 0);
        nc->up.next = head.body == SNIFF_BODY_CHUNKED ? NEXT_HTTP_CHUNK_SIZE : NEXT_HTTP_HEAD;
        if (nc->down.next == NEXT_HOLD && nc->down.budget == 0)
                open_side(&nc->down);
        return NAMECHECK_PASS;
}

static enum namecheck_result check_chunk(struct namecheck *nc, const uint8_t *buf, size_t len,
                                         enum namegate_why *ret_why) {
        struct namecheck_side *s = &nc->up;
        if (s->next == NEXT_HTTP_CHUNK_SIZE) {
                uint64_t size;
                size_t line;
                int r = sniff_http_chunk_size(buf, len, &size, &line);
                if (r == -EAGAIN)
                        return NAMECHECK_MORE;
                if (r < 0)
                        return refuse(SNIFF_MALFORMED, ret_why);
                s->budget = line + size;
                s->next = size ? NEXT_HTTP_CHUNK_END : NEXT_HTTP_LAST_CHUNK_END;
                return NAMECHECK_PASS;
        }
        /* After the last chunk, the empty line at once: trailer fields are
         * refused, as a head field would be. */
        if (len == 0)
                return NAMECHECK_MORE;
        if (buf[0] != '\r' || (len >= 2 && buf[1] != '\n'))
                return refuse(SNIFF_MALFORMED, ret_why);
        if (len < 2)
                return NAMECHECK_MORE;
        s->budget = 2;
        s->next = s->next == NEXT_HTTP_CHUNK_END ? NEXT_HTTP_CHUNK_SIZE : NEXT_HTTP_HEAD;
        return NAMECHECK_PASS;
}

enum namecheck_result namecheck_side(struct namecheck *nc, bool server, const struct policy *policy,
                                     const uint8_t *buf, size_t len, enum namegate_why *ret_why,
                                     char name[static SNIFF_NAME_MAX + 1]) {
        name[0] = '\0';
        switch ((server ? &nc->down : &nc->up)->next) {
        case NEXT_HOLD:
                return NAMECHECK_MORE;
        case NEXT_TLS_HELLO:
                return check_hello(nc, policy, buf, len, ret_why, name);
        case NEXT_TLS_SERVER_HELLO:
                return check_server_hello(nc, buf, len);
        case NEXT_TLS_RETRY_HELLO:
                return check_retry_hello(nc, policy, buf, len, ret_why, name);
        case NEXT_HTTP_HEAD:
                return check_http_head(nc, policy, buf, len, ret_why, name);
        case NEXT_HTTP_CHUNK_SIZE:
        case NEXT_HTTP_CHUNK_END:
        case NEXT_HTTP_LAST_CHUNK_END:
                return check_chunk(nc, buf, len, ret_why);
        default:
                return NAMECHECK_BROKEN;
        }
}
