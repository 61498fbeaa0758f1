/* SPDX-License-Identifier: MIT */
/* spliceproxy_msg_check(): every rule of the refusal report, broken one at
 * a time, is refused with -EBADMSG. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "spliceproxy_proto.h"
#include "tap.h"

static struct spliceproxy_msg good(void) {
        struct spliceproxy_msg m;
        memset(&m, 0, sizeof(m));
        m.type = SPLICEPROXY_REFUSED;
        m.kind = SPLICEPROXY_TLS;
        m.why = SPLICEPROXY_NOT_IN_POLICY;
        m.port = 443;
        m.family = AF_INET;
        m.has_uid = 1;
        m.uid = 1000;
        inet_pton(AF_INET, "203.0.113.9", m.addr);
        strcpy(m.name, "x.example");
        return m;
}

static int check(const struct spliceproxy_msg *m) {
        return spliceproxy_msg_check(m, sizeof(*m), NULL);
}

int main(void) {
        struct spliceproxy_msg m = good();
        TAP_CHECK(check(&m) == 0, "a refusal by name passes");
        m.why = SPLICEPROXY_NO_NAME;
        m.name[0] = '\0';
        TAP_CHECK(check(&m) == 0, "a refusal without a name passes");
        TAP_CHECK(spliceproxy_msg_check(&m, sizeof(m) - 1, NULL) == -EBADMSG, "short");
        m = good(); m.type = 3;
        TAP_CHECK(check(&m) == -EBADMSG, "unknown type");
        memset(&m, 0, sizeof(m));
        m.type = SPLICEPROXY_FULL;
        m.uid = 12;
        TAP_CHECK(check(&m) == 0, "a full report passes");
        m.uid = 0;
        TAP_CHECK(check(&m) == -EBADMSG, "a full report counting nothing");
        m.uid = 12;
        m.port = 443;
        TAP_CHECK(check(&m) == -EBADMSG, "a full report with another field set");
        m = good(); m.type = SPLICEPROXY_FULL;
        TAP_CHECK(check(&m) == -EBADMSG, "a refusal's fields in a full report");
        m = good(); m.kind = 3;
        TAP_CHECK(check(&m) == -EBADMSG, "unknown kind");
        m = good(); m.why = _SPLICEPROXY_WHY_MAX;
        TAP_CHECK(check(&m) == -EBADMSG, "unknown reason");
        m = good(); m.port = 0;
        TAP_CHECK(check(&m) == -EBADMSG, "port 0");
        m = good(); m.family = AF_UNIX;
        TAP_CHECK(check(&m) == -EBADMSG, "unknown family");
        m = good(); m.addr[15] = 1;
        TAP_CHECK(check(&m) == -EBADMSG, "bytes past an IPv4 address");
        m = good(); m.pad[1] = 1;
        TAP_CHECK(check(&m) == -EBADMSG, "padding");
        m = good(); m.has_uid = 0;
        TAP_CHECK(check(&m) == -EBADMSG, "a uid without has_uid");
        m = good(); m.has_uid = 2;
        TAP_CHECK(check(&m) == -EBADMSG, "has_uid 2");
        m = good(); memset(m.name, 'a', sizeof(m.name));
        TAP_CHECK(check(&m) == -EBADMSG, "an unterminated name");
        m = good(); strcpy(m.name, "X.example");
        TAP_CHECK(check(&m) == -EBADMSG, "upper case");
        m = good(); strcpy(m.name, "x.example\n");
        TAP_CHECK(check(&m) == -EBADMSG, "a newline, which would forge a log line");
        m = good(); m.name[0] = '\0';
        TAP_CHECK(check(&m) == -EBADMSG, "not in the policy, but no name");
        m = good(); m.why = SPLICEPROXY_MALFORMED;
        TAP_CHECK(check(&m) == -EBADMSG, "a name where none belongs");
        return tap_done();
}
