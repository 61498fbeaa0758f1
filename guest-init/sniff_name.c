/* SPDX-License-Identifier: MIT */
#include <stdbool.h>

#include "sniff.h"

enum sniff_result sniff_copy_name(const uint8_t *s, size_t len, char name[static SNIFF_NAME_MAX + 1]) {
        bool only_digits = true;
        size_t label = 0;
        if (len == 0 || len > SNIFF_NAME_MAX)
                return SNIFF_BAD_NAME;
        for (size_t i = 0; i < len; i++) {
                uint8_t c = s[i];
                if (c == '.') {
                        if (label == 0)
                                return SNIFF_BAD_NAME;  /* empty label, or a trailing/leading dot */
                        label = 0;
                        name[i] = '.';
                        continue;
                }
                if (c >= 'A' && c <= 'Z')
                        c = (uint8_t) (c - 'A' + 'a');
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
                        return SNIFF_BAD_NAME;
                if (++label > 63)
                        return SNIFF_BAD_NAME;
                only_digits &= c >= '0' && c <= '9';
                name[i] = (char) c;
        }
        if (label == 0 || only_digits)
                return SNIFF_BAD_NAME;
        name[len] = '\0';
        return SNIFF_NAME;
}

const char *sniff_result_text(enum sniff_result r) {
        switch (r) {
        case SNIFF_NEED_MORE: return "incomplete";
        case SNIFF_NAME: return "a name";
        case SNIFF_NO_NAME: return "no server name";
        case SNIFF_BAD_NAME: return "a server name that is not a host name";
        case SNIFF_AMBIGUOUS: return "more than one server name";
        case SNIFF_UNSUPPORTED: return "what the name check cannot follow";
        case SNIFF_MALFORMED: default: return "neither a TLS ClientHello nor an HTTP/1.x request";
        }
}
