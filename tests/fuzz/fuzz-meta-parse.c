/* SPDX-License-Identifier: MIT */
/* The GitHub meta parser reads what the network sends: no input may crash
 * it, leak, or hand back a range that does not parse. */
#include <stdint.h>
#include <stdlib.h>

#include "meta_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ip_prefix *prefixes = NULL;
        size_t n = 0;
        char *error = NULL;
        if (meta_parse((const char *) data, size, &prefixes, &n, &error) == 0) {
                for (size_t i = 0; i < n; i++) {
                        char buf[IP_PREFIX_STRLEN];
                        struct ip_prefix back;
                        if (ip_prefix_parse(ip_prefix_format(&prefixes[i], buf), &back) != 0)
                                abort();
                }
        }
        free(prefixes);
        free(error);
        return 0;
}
