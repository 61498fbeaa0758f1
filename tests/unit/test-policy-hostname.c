/* Host name and port validators. */
#include <string.h>

#include "policy.h"
#include "tap.h"

static void valid(const char *name) {
        TAP_CHECK(policy_hostname_valid(name, NULL), "valid: %s", name);
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
        return tap_done();
}
