/* SPDX-License-Identifier: MIT */
/* Validation of single values: host names, ports, and the small text checks
 * the parser uses to explain what is wrong with a value. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "policy-internal.h"

static bool label_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static bool all_digits(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char) s[i]))
                        return false;
        return true;
}

bool policy_hostname_valid(const char *name, const char **ret_reason) {
        const char *reason = NULL;
        size_t len = strlen(name);

        /* One trailing dot is the absolute form of the same name. */
        if (len > 0 && name[len - 1] == '.')
                len--;
        if (len == 0)
                reason = "is empty";
        else if (len > 253)
                reason = "is longer than 253 characters";

        const char *label = name, *last_label = name;
        size_t last_len = 0;
        for (size_t i = 0; !reason && i <= len; i++) {
                if (i < len && name[i] != '.') {
                        if (!label_char_ok(name[i]))
                                reason = "contains a character other than letters, digits, '-' and '.'";
                        continue;
                }
                size_t n = (size_t) (name + i - label);
                if (n == 0)
                        reason = "has an empty label (a leading dot or two dots in a row)";
                else if (n > 63)
                        reason = "has a label longer than 63 characters";
                else if (label[0] == '-' || label[n - 1] == '-')
                        reason = "has a label that starts or ends with '-'";
                last_label = label;
                last_len = n;
                label = name + i + 1;
        }
        /* No top-level domain is all digits (RFC 3696 2); such a name is a
         * mistyped address, which the firewall would never resolve. */
        if (!reason && last_len > 0 && all_digits(last_label, last_len))
                reason = "ends in an all-numeric label, which no host name has";

        if (ret_reason)
                *ret_reason = reason;
        return !reason;
}

bool policy_port_parse(const char *text, uint16_t *ret) {
        size_t n = strlen(text);
        unsigned long v = 0;
        if (n == 0 || n > 5 || text[0] == '0' || !all_digits(text, n))
                return false;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (unsigned long) (text[i] - '0');
        if (v < 1 || v > 65535)
                return false;
        *ret = (uint16_t) v;
        return true;
}

bool policy_looks_like_ip(const char *text) {
        struct ip_prefix p;
        unsigned char buf[16];
        char copy[64];
        if (ip_prefix_parse(text, &p) == 0)
                return true;
        size_t n = strcspn(text, "/");
        if (n == 0 || n >= sizeof(copy))
                return false;
        memcpy(copy, text, n);
        copy[n] = '\0';
        return inet_pton(AF_INET, copy, buf) == 1 || inet_pton(AF_INET6, copy, buf) == 1;
}

long policy_first_non_ascii(const char *text) {
        for (const char *c = text; *c; c++)
                if ((unsigned char) *c >= 0x80)
                        return c - text;
        return -1;
}

/* Optimal string alignment distance: a swapped pair ("domian") counts as one
 * edit, as it does for the typist. */
unsigned policy_edit_distance(const char *a, const char *b, unsigned max) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned d[33][33];
        if (la > 32 || lb > 32)
                return max + 1;
        for (size_t i = 0; i <= la; i++)
                d[i][0] = (unsigned) i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = (unsigned) j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        unsigned cost = tolower((unsigned char) a[i - 1]) != tolower((unsigned char) b[j - 1]);
                        unsigned best = d[i - 1][j - 1] + cost;
                        if (d[i - 1][j] + 1 < best)
                                best = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < best)
                                best = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                            d[i - 2][j - 2] + 1 < best)
                                best = d[i - 2][j - 2] + 1;
                        d[i][j] = best;
                }
        return d[la][lb] > max ? max + 1 : d[la][lb];
}
