/* SPDX-License-Identifier: MIT */
/* The name check's decisions over a whole connection (namecheck.h), run as
 * a carrier of its bytes follows it (namecheck_run.h): every HTTP request head
 * and chunk line, the TLS server's first record and a second ClientHello.
 * Whatever the bytes, no check passes granting nothing (the carrier would
 * spin), no more bytes pass than there are, a refusal that names a name
 * names one of the checker's alphabet, and nothing reads past the bytes.
 * Input: a byte whose low bit chooses TLS, two bytes of the client's
 * length (big-endian, cut to what there is), the client's bytes, then the
 * server's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_name.h"
#include "namecheck_run.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct policy *policy(void) {
        static struct policy *p;
        static const char text[] = "domains: [ok.test, \"*.ok.test\"]\n";
        if (!p) {
                struct policy_diags d = {0};
                if (policy_parse_buffer("fuzz.yaml", text, strlen(text), &p, &d) < 0 || policy_expand(p, &d) < 0)
                        abort();
                policy_diags_clear(&d);
        }
        return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 3)
                return 0;
        enum namegate_kind kind = data[0] & 1 ? NAMEGATE_TLS : NAMEGATE_HTTP;
        size_t client_len = (size_t) data[1] << 8 | data[2];
        data += 3, size -= 3;
        if (client_len > size)
                client_len = size;
        /* Copies of exactly the bytes, so ASan sees any read past them. */
        uint8_t *client = malloc(client_len ? client_len : 1), *server = malloc(size - client_len ? size - client_len : 1);
        if (!client || !server)
                abort();
        memcpy(client, data, client_len);
        memcpy(server, data + client_len, size - client_len);
        struct namecheck_outcome o = namecheck_run(policy(), kind, client, client_len, server, size - client_len);
        if (o.empty_pass || o.up > client_len || o.down > size - client_len)
                abort();
        if (o.end == NAMECHECK_REFUSE && o.why == NAMEGATE_NOT_IN_POLICY)
                check_name(o.name);
        free(client);
        free(server);
        return 0;
}
