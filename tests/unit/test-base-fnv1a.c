/* SPDX-License-Identifier: MIT */
/* base_fnv1a: the published FNV-1a 64-bit values (a name derived from it
 * must not change between versions), and a hash continued in pieces equal
 * to the hash of the whole. */
#include <string.h>

#include "fnv1a.h"
#include "tap.h"

static uint64_t of(const char *s) {
        return base_fnv1a(BASE_FNV1A_OFFSET, s, strlen(s));
}

int main(void) {
        TAP_CHECK(of("") == 0xcbf29ce484222325ull, "the empty string is the offset basis");
        TAP_CHECK(of("a") == 0xaf63dc4c8601ec8cull, "\"a\" (%016llx)", (unsigned long long) of("a"));
        TAP_CHECK(of("foobar") == 0x85944171f73967e8ull, "\"foobar\" (%016llx)", (unsigned long long) of("foobar"));
        uint64_t h = base_fnv1a(BASE_FNV1A_OFFSET, "foo", 3);
        TAP_CHECK(base_fnv1a(h, "bar", 3) == of("foobar"), "continued over a second piece");
        unsigned char zero[16] = {0};
        TAP_CHECK(base_fnv1a(BASE_FNV1A_OFFSET, zero, sizeof(zero)) != base_fnv1a(BASE_FNV1A_OFFSET, zero, 4),
                  "zero bytes count");
        return tap_done();
}
