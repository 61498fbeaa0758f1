/* SPDX-License-Identifier: MIT */
/* namegate_msg_check(): every rule of the refusal report, broken one at
 * a time, is refused with -EBADMSG. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "namegate_proto.h"
#include "tap.h"

static struct namegate_msg good(void) {
        struct namegate_msg m;
        memset(&m, 0, sizeof(m));
        m.type = NAMEGATE_VERDICT;
        m.id = 7;
        m.verdict = NAMEGATE_REFUSE;
        m.report = 1;
        m.kind = NAMEGATE_TLS;
        m.why = NAMEGATE_NOT_IN_POLICY;
        m.port = 443;
        m.family = AF_INET;
        m.has_uid = 1;
        m.uid = 1000;
        inet_pton(AF_INET, "203.0.113.9", m.addr);
        strcpy(m.name, "x.example");
        return m;
}

static int check(const struct namegate_msg *m) {
        return namegate_msg_check(m, sizeof(*m), NULL);
}

int main(void) {
        struct namegate_msg m = good();
        TAP_CHECK(check(&m) == 0, "a refusal by name passes");
        m.why = NAMEGATE_NO_NAME;
        m.name[0] = '\0';
        TAP_CHECK(check(&m) == 0, "a refusal without a name passes");
        TAP_CHECK(namegate_msg_check(&m, sizeof(m) - 1, NULL) == -EBADMSG, "short");
        m = good(); m.type = 3;
        TAP_CHECK(check(&m) == -EBADMSG, "unknown type");
        memset(&m, 0, sizeof(m));
        m.type = NAMEGATE_FULL;
        m.uid = 12;
        TAP_CHECK(check(&m) == 0, "a full report passes");
        m.uid = 0;
        TAP_CHECK(check(&m) == -EBADMSG, "a full report counting nothing");
        m.uid = 12;
        m.port = 443;
        TAP_CHECK(check(&m) == -EBADMSG, "a full report with another field set");
        m = good(); m.type = NAMEGATE_FULL;
        TAP_CHECK(check(&m) == -EBADMSG, "a refusal's fields in a full report");
        m = good(); m.kind = 3;
        TAP_CHECK(check(&m) == -EBADMSG, "unknown kind");
        m = good(); m.why = _NAMEGATE_WHY_MAX;
        TAP_CHECK(check(&m) == -EBADMSG, "unknown reason");
        m = good(); m.port = 0;
        TAP_CHECK(check(&m) == -EBADMSG, "port 0");
        m = good(); m.family = AF_UNIX;
        TAP_CHECK(check(&m) == -EBADMSG, "unknown family");
        m = good(); m.addr[15] = 1;
        TAP_CHECK(check(&m) == -EBADMSG, "bytes past an IPv4 address");
        m = good(); m.report = 2;
        TAP_CHECK(check(&m) == -EBADMSG, "report 2");
        m = good(); m.verdict = NAMEGATE_ACCEPT;
        TAP_CHECK(check(&m) == -EBADMSG, "a report with a verdict other than a refusal");
        memset(&m, 0, sizeof(m));
        m.type = NAMEGATE_VERDICT;
        m.id = 9;
        for (unsigned v = NAMEGATE_ACCEPT; v < _NAMEGATE_VERDICT_MAX; v++) {
                m.verdict = (uint8_t) v;
                TAP_CHECK(check(&m) == 0, "verdict %u without a report", v);
        }
        m.verdict = _NAMEGATE_VERDICT_MAX;
        TAP_CHECK(check(&m) == -EBADMSG, "an unknown verdict");
        m.verdict = 0;
        TAP_CHECK(check(&m) == -EBADMSG, "verdict 0");
        m.verdict = NAMEGATE_REFUSE;
        m.port = 443;
        TAP_CHECK(check(&m) == -EBADMSG, "a report's field without report 1");
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
        m = good(); m.why = NAMEGATE_MALFORMED;
        TAP_CHECK(check(&m) == -EBADMSG, "a name where none belongs");
        return tap_done();
}
