/* SPDX-License-Identifier: MIT */
/* The one parser of the http(s) URLs a policy may name (github.meta_url):
 * check-policy, the firewall and the meta fetch read a URL the same way,
 * so a URL the checker accepts is one the init can use. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "policy.h"

static bool url_char_ok(char c) {
        /* No spaces or control characters: curl would encode or refuse
         * them, and a log line quoting the URL would mislead. */
        return (unsigned char) c > ' ' && c != 0x7f;
}

static int url_fail(const char **ret_reason, const char *reason) {
        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}

/* host, "[v6]" or either with ":port", from the authority (len bytes). */
static int url_authority(const char *a, size_t len, struct policy_url *u, const char **ret_reason) {
        const char *host = a, *port = NULL;
        size_t host_len;

        if (memchr(a, '@', len))
                return url_fail(ret_reason, "user names and passwords do not belong in the URL");
        if (len > 0 && a[0] == '[') {
                const char *close = memchr(a, ']', len);
                if (!close)
                        return url_fail(ret_reason, "an IPv6 address must be closed with ']'");
                host = a + 1;
                host_len = (size_t) (close - host);
                if (close + 1 < a + len) {
                        if (close[1] != ':')
                                return url_fail(ret_reason, "only \":PORT\" may follow an IPv6 address in brackets");
                        port = close + 2;
                }
                u->host_is_ipv6 = true;
        } else {
                const char *colon = memchr(a, ':', len);
                if (colon && memchr(colon + 1, ':', len - (size_t) (colon + 1 - a)))
                        return url_fail(ret_reason, "an IPv6 address must be written in brackets, as in https://[2001:db8::1]/");
                host_len = colon ? (size_t) (colon - a) : len;
                if (colon)
                        port = colon + 1;
        }
        if (host_len == 0)
                return url_fail(ret_reason, "the host name is empty");
        if (host_len >= sizeof(u->host))
                return url_fail(ret_reason, "the host name is longer than 253 characters");
        memcpy(u->host, host, host_len);
        u->host[host_len] = '\0';

        struct in6_addr a6;
        struct in_addr a4;
        if (u->host_is_ipv6) {
                if (inet_pton(AF_INET6, u->host, &a6) != 1)
                        return url_fail(ret_reason, "the host in brackets is not an IPv6 address");
        } else if (inet_pton(AF_INET, u->host, &a4) != 1 && !policy_hostname_valid(u->host, NULL)) {
                return url_fail(ret_reason, "the host is neither a valid host name nor an IPv4 address");
        }

        if (port) {
                char text[8];
                size_t port_len = (size_t) (a + len - port);
                if (port_len == 0 || port_len >= sizeof(text))
                        return url_fail(ret_reason, "the port is not a number from 1 to 65535");
                memcpy(text, port, port_len);
                text[port_len] = '\0';
                if (!policy_port_parse(text, &u->port))
                        return url_fail(ret_reason, "the port is not a number from 1 to 65535");
        }
        return 0;
}

int policy_url_parse(const char *text, struct policy_url *ret, const char **ret_reason) {
        struct policy_url u = {0};
        const char *rest;

        if (strncmp(text, "https://", 8) == 0) {
                u.https = true;
                rest = text + 8;
        } else if (strncmp(text, "http://", 7) == 0) {
                rest = text + 7;
        } else {
                return url_fail(ret_reason, "expected an http:// or https:// URL");
        }
        if (strlen(text) > POLICY_URL_MAX)
                return url_fail(ret_reason, "the URL is longer than 2048 characters");
        for (const char *c = text; *c; c++)
                if (!url_char_ok(*c))
                        return url_fail(ret_reason, "the URL contains a space or a control character");

        size_t authority_len = strcspn(rest, "/?#");
        int r = url_authority(rest, authority_len, &u, ret_reason);
        if (r < 0)
                return r;
        if (u.port == 0)
                u.port = u.https ? 443 : 80;
        u.path = rest + authority_len;
        if (ret_reason)
                *ret_reason = NULL;
        *ret = u;
        return 0;
}
