/* SPDX-License-Identifier: MIT */
/* The name gate's parsers of the first bytes of a connection (sniff.h):
 * whatever the bytes, neither reads past them nor past SNIFF_BYTES_MAX, and
 * a name either returns is 1..253 bytes of lower-case letters, digits,
 * '-', '_' and '.', NUL-terminated. The first input byte chooses the
 * parser, the rest is the connection's bytes (the seed corpus holds real
 * ClientHellos and requests). A cut of bytes that gave a name asks for
 * more or gives the same answer: the gate parses again as bytes arrive,
 * and an earlier peek must never have let through something else. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_name.h"
#include "sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char name[SNIFF_NAME_MAX + 1], again[SNIFF_NAME_MAX + 1];
        if (size < 1)
                return 0;
        bool tls = data[0] & 1;
        data++, size--;
        /* A copy of exactly the bytes, so ASan sees any read past them. */
        uint8_t *copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        enum sniff_result r = tls ? sniff_tls(copy, size, name) : sniff_http(copy, size, name);
        if (r == SNIFF_NAME) {
                check_name(name);
                size_t cut = size / 2;
                enum sniff_result early = tls ? sniff_tls(copy, cut, again) : sniff_http(copy, cut, again);
                if (early != SNIFF_NEED_MORE && !(early == SNIFF_NAME && strcmp(name, again) == 0))
                        abort();
        }
        /* The checks after the first: lengths within the bytes given. */
        size_t used = 0, line = 0;
        uint64_t chunk_size;
        struct sniff_http_head head;
        if (tls) {
                if (sniff_tls_retry_hello(copy, size, again, &used) == SNIFF_NAME && (used > size || used == 0))
                        abort();
                (void) sniff_tls_server_hello(copy, size);
        } else {
                if (sniff_http_request(copy, size, again, &head) == SNIFF_NAME &&
                    (head.head_len > size || head.head_len == 0 || head.content_length >= 1000000000000000000ull))
                        abort();
                if (sniff_http_chunk_size(copy, size, &chunk_size, &line) == 0 &&
                    (line > size || line < 3 || chunk_size >> 60))
                        abort();
        }
        free(copy);
        return 0;
}
