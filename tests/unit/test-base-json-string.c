/* SPDX-License-Identifier: MIT */
/* base_json_write_string: every control byte escaped (DEL included), quote
 * and backslash escaped, every other byte, UTF-8 included, as it is. */
#include <stdio.h>
#include <stdlib.h>

#include "json_string.h"
#include "tap.h"

static char *escaped(const char *s) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        if (!f)
                abort();
        base_json_write_string(f, s);
        if (fclose(f) != 0)
                abort();
        return out;
}

static void check(const char *in, const char *want, const char *what) {
        char *got = escaped(in);
        TAP_CHECK_STR(got, want, what);
        free(got);
}

int main(void) {
        check("", "\"\"", "empty string");
        check("plain text 0-9 ~", "\"plain text 0-9 ~\"", "printable ASCII as it is");
        check(NULL, "null", "NULL is null");
        check("a\"b", "\"a\\\"b\"", "double quote");
        check("a\\b", "\"a\\\\b\"", "backslash");
        check("\x7f", "\"\\u007f\"", "DEL (0x7f)");
        check("\x7e\x20", "\"~ \"", "0x7e and 0x20 as they are");
        check("a\0b", "\"a\"", "stops at the first NUL");

        int all = 1;
        for (int c = 0x01; c < 0x20; c++) {
                char in[2] = { (char) c, 0 }, want[16];
                snprintf(want, sizeof(want), "\"\\u%04x\"", c);
                char *got = escaped(in);
                if (strcmp(got, want) != 0) {
                        printf("# 0x%02x: got %s, want %s\n", c, got, want);
                        all = 0;
                }
                free(got);
        }
        TAP_CHECK(all, "every byte 0x01-0x1f as \\u00XX");
        check("tab\there\nline", "\"tab\\u0009here\\u000aline\"", "control bytes inside text");

        /* é, €, U+1F600: two, three and four bytes. */
        check("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
              "UTF-8 passes through");
        check("\xff\x80", "\"\xff\x80\"", "bytes >= 0x80 are not touched, valid UTF-8 or not");
        return tap_done();
}
