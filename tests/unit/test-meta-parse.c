/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meta_http.h"
#include "meta_parse.h"
#include "tap.h"

static void check_ok(const char *doc, const char *const *want, size_t n_want, const char *what) {
        struct ip_prefix *p = NULL;
        size_t n = 0;
        char *error = NULL;
        int r = meta_parse(doc, strlen(doc), &p, &n, &error);
        TAP_CHECK(r == 0, "%s parses (%s)", what, error ? error : "no error");
        TAP_CHECK(n == n_want, "%s: %zu ranges, want %zu", what, n, n_want);
        for (size_t i = 0; r == 0 && i < n && i < n_want; i++) {
                char buf[IP_PREFIX_STRLEN];
                TAP_CHECK_STR(ip_prefix_format(&p[i], buf), want[i], what);
        }
        free(p);
        free(error);
}

static void check_rejected(const char *doc, const char *message, const char *what) {
        struct ip_prefix *p = NULL;
        size_t n = 0;
        char *error = NULL;
        int r = meta_parse(doc, strlen(doc), &p, &n, &error);
        TAP_CHECK(r < 0, "%s is rejected", what);
        TAP_CHECK(error && strstr(error, message), "%s: error \"%s\" mentions \"%s\"", what,
                  error ? error : "(none)", message);
        free(p);
        free(error);
}

/* The entry that pins curl to the addresses our resolver found: the URL
 * read by policy_url_parse, an IPv6 host in brackets as curl wants it. */
static void resolve_entries(void) {
        struct ip_prefix a[2];
        char buf[256];
        ip_prefix_parse("192.0.2.7", &a[0]);
        ip_prefix_parse("2001:db8::7", &a[1]);
        TAP_CHECK(meta_resolve_entry("https://meta.test/meta", a, 2, buf, sizeof(buf)) == 0, "entry for a name");
        TAP_CHECK_STR(buf, "meta.test:443:192.0.2.7,[2001:db8::7]", "host, default port, both families");
        TAP_CHECK(meta_resolve_entry("http://meta.test:8080", a, 1, buf, sizeof(buf)) == 0, "entry for http");
        TAP_CHECK_STR(buf, "meta.test:8080:192.0.2.7", "explicit port");
        TAP_CHECK(meta_resolve_entry("https://[2001:db8::7]:8443/meta", &a[1], 1, buf, sizeof(buf)) == 0,
                  "entry for an IPv6 literal");
        TAP_CHECK_STR(buf, "[2001:db8::7]:8443:[2001:db8::7]", "IPv6 host in brackets");
        TAP_CHECK(meta_resolve_entry("https://:443/meta", a, 1, buf, sizeof(buf)) == -EINVAL, "empty host refused");
        TAP_CHECK(meta_resolve_entry("https://u:p@meta.test/meta", a, 1, buf, sizeof(buf)) == -EINVAL,
                  "userinfo refused");
        TAP_CHECK(meta_resolve_entry("https://meta.test/meta", a, 2, buf, 20) == -ENOBUFS, "short buffer");
}

int main(void) {
        resolve_entries();
        static const char *const escaped[] = {"198.51.100.0/24", "203.0.113.0/24", "2001:db8:1::/48"};
        check_ok("{\"verifiable_password_authentication\": false,"
                 " \"ssh_key_fingerprints\": {\"SHA256_RSA\": \"x\"},"
                 " \"hooks\": [\"192.0.2.0\\/24\"],"
                 " \"web\": [\"203.0.113.0\\/24\"],"
                 " \"api\": [\"\\u0031\\u0039\\u0038.51.100.0/24\", \"203.0.113.0/24\"],"
                 " \"git\": [\"2001:db8:1::/48\"]}",
                 escaped, 3, "escapes, other keys, duplicates");
        check_rejected("{\"web\": \"192.0.2.0/24\"}", "\"web\" is not an array", "a string for web");
        check_rejected("{\"api\": [\"192.0.2.1/24\"]}", "not an address range", "host bits set");
        check_rejected("{\"git\": [{\"a\": 1}]}", "other than strings", "an object in git");
        check_rejected("[\"192.0.2.0/24\"]", "not a JSON object", "an array document");
        check_rejected("", "empty", "an empty document");
        check_rejected("{\"hooks\": [\"192.0.2.0/24\"]}", "no web, api or git", "no used keys");
        check_rejected("{\"web\": [\"192.0.2.0/24\"", "not valid JSON", "truncated");
        check_rejected("{\"web\": &a [\"192.0.2.0/24\"], \"api\": *a}", "alias", "an alias");

        /* The bounds no real document comes near: what a taken-over fetch
         * child would need to open the firewall wide. */
        static const char *const widest[] = {"10.0.0.0/12", "2001:d00::/24"};
        check_ok("{\"web\": [\"10.0.0.0/12\", \"2001:d00::/24\"]}", widest, 2, "ranges at the width bounds");
        check_rejected("{\"web\": [\"0.0.0.0/1\"]}", "0.0.0.0/1 is wider than /12", "half the IPv4 internet");
        check_rejected("{\"git\": [\"2000::/3\"]}", "2000::/3 is wider than /24", "the IPv6 internet");
        struct ip_prefix many[20];
        for (int i = 0; i < 20; i++)
                ip_prefix_parse((const char *[]) {"16.0.0.0/12", "32.0.0.0/12", "48.0.0.0/12", "64.0.0.0/12",
                                                  "80.0.0.0/12", "96.0.0.0/12", "112.0.0.0/12", "128.0.0.0/12",
                                                  "144.0.0.0/12", "160.0.0.0/12", "176.0.0.0/12", "192.0.0.0/12",
                                                  "208.0.0.0/12", "1.0.0.0/12", "2.0.0.0/12", "3.0.0.0/12",
                                                  "4.0.0.0/12", "5.0.0.0/12", "6.0.0.0/12", "7.0.0.0/12"}[i],
                                &many[i]);
        char *error = NULL;
        TAP_CHECK(meta_ranges_check(many, 16, &error) == 0, "16 /12s are a /8's worth: accepted");
        free(error);
        TAP_CHECK(meta_ranges_check(many, 17, &error) < 0 && error && strstr(error, "than a /8 holds"),
                  "a 17th /12 is more IPv4 than a /8 holds: %s", error ? error : "(none)");
        free(error);
        static struct ip_prefix lots[META_MAX_RANGES + 1];
        for (size_t i = 0; i < META_MAX_RANGES + 1; i++)
                ip_prefix_parse("2001:db8::/64", &lots[i]);
        TAP_CHECK(meta_ranges_check(lots, META_MAX_RANGES, &error) == 0, "%u ranges are accepted", META_MAX_RANGES);
        free(error);
        TAP_CHECK(meta_ranges_check(lots, META_MAX_RANGES + 1, &error) < 0, "one more is not");
        free(error);
        return tap_done();
}
