/* SPDX-License-Identifier: MIT */
/* Host name, port and URL validators. */
#include <errno.h>
#include <string.h>

#include "policy.h"
#include "tap.h"

static void valid(const char *name) {
        TAP_CHECK(policy_hostname_valid(name, NULL), "valid: %s", name);
}

static void url_ok(const char *text, bool https, const char *host, bool v6, uint16_t port, const char *path) {
        struct policy_url u;
        const char *reason = "x";
        bool ok = policy_url_parse(text, &u, &reason) == 0;
        TAP_CHECK(ok && reason == NULL && u.https == https && strcmp(u.host, host) == 0 && u.host_is_ipv6 == v6 &&
                          u.port == port && strcmp(u.path, path) == 0,
                  "url: %s", text);
        if (!ok)
                printf("#   reason: %s\n", reason);
}

static void url_bad(const char *text, const char *want_reason) {
        struct policy_url u = {.port = 7};
        const char *reason = NULL;
        int r = policy_url_parse(text, &u, &reason);
        bool ok = r == -EINVAL && reason && strstr(reason, want_reason) && u.port == 7;
        TAP_CHECK(ok, "bad url: \"%s\" (%s)", text, want_reason);
        if (!ok)
                printf("#   r=%d reason: %s\n", r, reason ? reason : "(none)");
}

static void urls(void) {
        url_ok("https://api.github.com/meta", true, "api.github.com", false, 443, "/meta");
        url_ok("http://meta.test", false, "meta.test", false, 80, "");
        url_ok("https://meta.test:8443/meta?x=1#f", true, "meta.test", false, 8443, "/meta?x=1#f");
        url_ok("https://meta.test?x", true, "meta.test", false, 443, "?x");
        url_ok("https://192.0.2.1:8443/meta", true, "192.0.2.1", false, 8443, "/meta");
        url_ok("https://[2001:db8::1]/meta", true, "2001:db8::1", true, 443, "/meta");
        url_ok("http://[::1]:8080", false, "::1", true, 8080, "");

        url_bad("ftp://example.com/meta", "http:// or https://");
        url_bad("HTTPS://example.com/meta", "http:// or https://");
        url_bad("https:/example.com", "http:// or https://");
        url_bad("https://", "host name is empty");
        url_bad("https:///meta", "host name is empty");
        url_bad("https://:443/meta", "host name is empty");
        url_bad("https://[]/meta", "host name is empty");
        url_bad("https://user@example.com/meta", "user names and passwords");
        url_bad("https://user:pw@example.com/meta", "user names and passwords");
        url_bad("https://example.com:/meta", "port");
        url_bad("https://example.com:0/meta", "port");
        url_bad("https://example.com:65536/meta", "port");
        url_bad("https://example.com:443x/meta", "port");
        url_bad("https://example.com:+443/meta", "port");
        url_bad("https://example.com:00000443/meta", "port");
        url_bad("https://2001:db8::1/meta", "in brackets");
        url_bad("https://[2001:db8::1/meta", "closed with ']'");
        url_bad("https://[2001:db8::1]x/meta", "only \":PORT\"");
        url_bad("https://[example.com]/meta", "not an IPv6 address");
        url_bad("https://[192.0.2.1]/meta", "not an IPv6 address");
        url_bad("https://exa_mple.com/meta", "neither a valid host name");
        url_bad("https://-example.com/meta", "neither a valid host name");
        url_bad("https://192.0.2/meta", "neither a valid host name");
        url_bad("https://example.com/a b", "space or a control character");
        url_bad("https://example.com/\x7f", "space or a control character");

        char long_url[POLICY_URL_MAX + 2];
        strcpy(long_url, "https://example.com/");
        memset(long_url + 20, 'a', sizeof(long_url) - 21);
        long_url[sizeof(long_url) - 1] = '\0';
        url_bad(long_url, "longer than 2048");
        long_url[POLICY_URL_MAX] = '\0';
        url_ok(long_url, true, "example.com", false, 443, long_url + 19);
}

static void invalid(const char *name, const char *want_reason) {
        const char *reason = NULL;
        bool ok = policy_hostname_valid(name, &reason);
        TAP_CHECK(!ok && reason && strcmp(reason, want_reason) == 0, "invalid: \"%s\" (%s)", name, want_reason);
        if (ok || !reason || strcmp(reason, want_reason) != 0)
                printf("#   reason: %s\n", reason ? reason : "(none)");
}

int main(void) {
        char buf[300];

        valid("example.com");
        valid("API.Example.COM");
        valid("a.b-c.d0");
        valid("localhost");
        valid("example.com.");
        valid("xn--bcher-kva.example");
        valid("1password.com");
        memset(buf, 'a', 63);
        strcpy(buf + 63, ".com");
        valid(buf);

        invalid("", "is empty");
        invalid(".", "is empty");
        invalid("example..com", "has an empty label (a leading dot or two dots in a row)");
        invalid(".example.com", "has an empty label (a leading dot or two dots in a row)");
        invalid("example.com..", "has an empty label (a leading dot or two dots in a row)");
        invalid("-a.com", "has a label that starts or ends with '-'");
        invalid("a-.com", "has a label that starts or ends with '-'");
        invalid("a_b.com", "contains a character other than letters, digits, '-' and '.'");
        invalid("a b.com", "contains a character other than letters, digits, '-' and '.'");
        invalid("*.example.com", "contains a character other than letters, digits, '-' and '.'");
        invalid("b\xc3\xbc" "cher.example", "contains a character other than letters, digits, '-' and '.'");
        invalid("192.0.2.1", "ends in an all-numeric label, which no host name has");
        memset(buf, 'a', 64);
        strcpy(buf + 64, ".com");
        invalid(buf, "has a label longer than 63 characters");
        /* 4 labels of 63 plus 3 dots = 255 > 253 */
        for (int i = 0; i < 4; i++) {
                memset(buf + i * 64, 'a', 63);
                buf[i * 64 + 63] = '.';
        }
        buf[255] = '\0';
        invalid(buf, "is longer than 253 characters");
        /* exactly 253 characters is fine */
        buf[253] = '\0';
        buf[252] = 'a';
        valid(buf);

        uint16_t port = 0;
        TAP_CHECK(policy_port_parse("443", &port) && port == 443, "port 443");
        TAP_CHECK(policy_port_parse("1", &port) && port == 1, "port 1");
        TAP_CHECK(policy_port_parse("65535", &port) && port == 65535, "port 65535");
        const char *bad[] = { "0", "65536", "443abc", "4.4", "-1", "+443", "0443", "", " 443", "99999999999" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                TAP_CHECK(!policy_port_parse(bad[i], &port), "port \"%s\" rejected", bad[i]);
        urls();
        return tap_done();
}
