/* SPDX-License-Identifier: MIT */
/* base_env_name_valid: the names a shell takes, and nothing else (both
 * programs pass environment variables by these names). */
#include "envname.h"
#include "tap.h"

int main(void) {
        static const char *const good[] = { "A", "_", "PATH", "api_token", "_X1", "a9_B", NULL };
        static const char *const bad[] = { "", "1A", "9", "A-B", "A=B", "A B", "A.B", "\xc3\xa9", "A\n", "$A", NULL };
        for (const char *const *n = good; *n; n++)
                TAP_CHECK(base_env_name_valid(*n), "valid: '%s'", *n);
        /* Described by index: a name with a newline would break the TAP line. */
        for (const char *const *n = bad; *n; n++)
                TAP_CHECK(!base_env_name_valid(*n), "refused: bad[%d]", (int) (n - bad));
        return tap_done();
}
