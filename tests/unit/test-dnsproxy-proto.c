/* SPDX-License-Identifier: MIT */
/* dnsproxy_msg_check() and the address conversions: every rule of the
 * message contract, broken one at a time, is refused with -EBADMSG and no
 * result. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsproxy_proto.h"
#include "tap.h"

static struct dnsproxy_msg allow_msg(void) {
        struct dnsproxy_msg m;
        memset(&m, 0, sizeof(m));
        m.type = DNSPROXY_ALLOW;
        m.seq = 7;
        m.ttl = 300;
        m.n_addrs = 2;
        strcpy(m.name, "a.b.example.com");
        m.addrs[0].family = AF_INET;
        inet_pton(AF_INET, "192.0.2.1", m.addrs[0].addr);
        m.addrs[1].family = AF_INET6;
        inet_pton(AF_INET6, "2001:db8::1", m.addrs[1].addr);
        return m;
}

static struct dnsproxy_msg allowed_msg(int32_t status) {
        struct dnsproxy_msg m;
        memset(&m, 0, sizeof(m));
        m.type = DNSPROXY_ALLOWED;
        m.seq = 7;
        m.status = status;
        return m;
}

static struct dnsproxy_msg refused_msg(void) {
        struct dnsproxy_msg m;
        memset(&m, 0, sizeof(m));
        m.type = DNSPROXY_REFUSED;
        m.seq = 9;
        m.qtype = 16;
        strcpy(m.name, "secret.attacker.example");
        return m;
}

static void accepted(const struct dnsproxy_msg *m, enum dnsproxy_msg_type type, const char *what) {
        const struct dnsproxy_msg *got = NULL;
        int r = dnsproxy_msg_check(m, sizeof(*m), type, &got);
        TAP_CHECK(r == 0 && got == m, "accepted: %s", what);
        if (r != 0)
                printf("#   r = %d\n", r);
}

static void rejected(const struct dnsproxy_msg *m, enum dnsproxy_msg_type type, const char *what) {
        const struct dnsproxy_msg *got = (const struct dnsproxy_msg *) 1;
        int r = dnsproxy_msg_check(m, sizeof(*m), type, &got);
        TAP_CHECK(r == -EBADMSG && got == (const struct dnsproxy_msg *) 1, "rejected: %s", what);
        if (r != -EBADMSG)
                printf("#   r = %d\n", r);
}

static void test_size_and_type(void) {
        struct dnsproxy_msg m = allow_msg(), *big = calloc(2, sizeof(m));
        const struct dnsproxy_msg *got = (const struct dnsproxy_msg *) 1;
        TAP_CHECK(dnsproxy_msg_check(&m, sizeof(m) - 1, DNSPROXY_ALLOW, &got) == -EBADMSG && got == (void *) 1,
                  "one byte short");
        TAP_CHECK(dnsproxy_msg_check(&m, 0, DNSPROXY_ALLOW, &got) == -EBADMSG && got == (void *) 1, "empty");
        memcpy(big, &m, sizeof(m));
        TAP_CHECK(dnsproxy_msg_check(big, sizeof(m) + 1, DNSPROXY_ALLOW, &got) == -EBADMSG && got == (void *) 1,
                  "one byte long");
        TAP_CHECK(dnsproxy_msg_check(big, 2 * sizeof(m), DNSPROXY_ALLOW, &got) == -EBADMSG && got == (void *) 1,
                  "two messages in one");
        free(big);
        rejected(&m, DNSPROXY_ALLOWED, "ALLOW where ALLOWED is expected");
        rejected(&m, DNSPROXY_REFUSED, "ALLOW where REFUSED is expected");
        struct dnsproxy_msg a = allowed_msg(0);
        rejected(&a, DNSPROXY_ALLOW, "ALLOWED where ALLOW is expected");
        for (uint32_t type = 0; type < 6; type++) {
                if (type == DNSPROXY_ALLOW)
                        continue;
                m.type = type;
                rejected(&m, DNSPROXY_ALLOW, "type 0, 2..5 for ALLOW");
        }
        m.type = 0x100 | DNSPROXY_ALLOW;
        rejected(&m, DNSPROXY_ALLOW, "type with a high bit set");
        m.type = DNSPROXY_ALLOW;
        TAP_CHECK(dnsproxy_msg_check(&m, sizeof(m), (enum dnsproxy_msg_type) 0, &got) == -EINVAL, "expected 0: -EINVAL");
        TAP_CHECK(dnsproxy_msg_check(&m, sizeof(m), (enum dnsproxy_msg_type) 4, &got) == -EINVAL, "expected 4: -EINVAL");
        TAP_CHECK(dnsproxy_msg_check(NULL, sizeof(m), DNSPROXY_ALLOW, &got) == -EINVAL, "NULL buffer: -EINVAL");
        _Alignas(8) unsigned char raw[sizeof(m) + 1];
        memcpy(raw + 1, &m, sizeof(m));
        TAP_CHECK(dnsproxy_msg_check(raw + 1, sizeof(m), DNSPROXY_ALLOW, &got) == -EINVAL && got == (void *) 1,
                  "misaligned buffer: -EINVAL");
        TAP_CHECK(dnsproxy_msg_check(&m, sizeof(m), DNSPROXY_ALLOW, NULL) == 0, "ret is optional");
}

static void test_names(void) {
        struct dnsproxy_msg m;
        static const enum dnsproxy_msg_type types[] = { DNSPROXY_ALLOW, DNSPROXY_REFUSED };
        for (size_t t = 0; t < 2; t++) {
                enum dnsproxy_msg_type type = types[t];
                const char *tn = type == DNSPROXY_ALLOW ? "ALLOW" : "REFUSED";
                char what[128];
#define MSG() (m = type == DNSPROXY_ALLOW ? allow_msg() : refused_msg())
                MSG();
                accepted(&m, type, tn);
                MSG();
                memset(m.name, 'a', DNSPROXY_NAME_MAX);
                snprintf(what, sizeof(what), "%s: a name of %d bytes", tn, DNSPROXY_NAME_MAX);
                accepted(&m, type, what);
                MSG();
                memset(m.name, 'a', sizeof(m.name));
                snprintf(what, sizeof(what), "%s: no NUL in the name", tn);
                rejected(&m, type, what);
                MSG();
                m.name[0] = '\0';
                snprintf(what, sizeof(what), "%s: empty name", tn);
                rejected(&m, type, what);
                MSG();
                memset(m.name + strlen(m.name) + 1, 'X', sizeof(m.name) - strlen(m.name) - 1);
                snprintf(what, sizeof(what), "%s: bytes after the NUL are not read", tn);
                accepted(&m, type, what);
                MSG();
                strcpy(m.name, ".");
                snprintf(what, sizeof(what), "%s: the root", tn);
                accepted(&m, type, what);
                static const char *const bad[] = {
                        "A.example.com", "a.Example.com", "a.example.COM", "a.example.com.", "a b.example.com",
                        "a\tb.example.com", "a\nb", "a\x7f" "b", "b\xc3\xbc" "cher", "a\x01", "\x80", "..",
                };
                for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                        MSG();
                        strcpy(m.name, bad[i]);
                        snprintf(what, sizeof(what), "%s: name %zu (upper case, trailing dot, space, control, non-ASCII)",
                                 tn, i);
                        rejected(&m, type, what);
                }
#undef MSG
        }
        /* printable ASCII is fine: PID 1 may log it, and checks ALLOW's
         * name against the policy itself */
        m = refused_msg();
        strcpy(m.name, "_dmarc.a\\.b\\000.example");
        accepted(&m, DNSPROXY_REFUSED, "REFUSED: escapes and underscores");
}

static void test_allow_fields(void) {
        struct dnsproxy_msg m = allow_msg();
        m.ttl = 0;
        accepted(&m, DNSPROXY_ALLOW, "ALLOW: ttl 0");
        m.ttl = 0x7fffffff;
        accepted(&m, DNSPROXY_ALLOW, "ALLOW: ttl 2^31 - 1");
        m.ttl = 0x80000000u;
        rejected(&m, DNSPROXY_ALLOW, "ALLOW: ttl 2^31");
        m = allow_msg();
        m.status = -5;
        rejected(&m, DNSPROXY_ALLOW, "ALLOW: status set");
        m = allow_msg();
        m.qtype = 1;
        rejected(&m, DNSPROXY_ALLOW, "ALLOW: qtype set");
        m = allow_msg();
        m.n_addrs = 0;
        rejected(&m, DNSPROXY_ALLOW, "ALLOW: no address");
        m = allow_msg();
        for (size_t i = 0; i < DNSPROXY_ADDRS_MAX; i++) {
                memset(&m.addrs[i], 0, sizeof(m.addrs[i]));
                m.addrs[i].family = AF_INET;
                m.addrs[i].addr[0] = 192;
                m.addrs[i].addr[3] = (uint8_t) i;
        }
        m.n_addrs = DNSPROXY_ADDRS_MAX;
        accepted(&m, DNSPROXY_ALLOW, "ALLOW: DNSPROXY_ADDRS_MAX addresses");
        /* with a valid address right after the message, so that only the
         * count can refuse it */
        struct dnsproxy_msg *two = calloc(2, sizeof(m));
        if (two) {
                *two = m;
                two->n_addrs = DNSPROXY_ADDRS_MAX + 1;
                unsigned char *past = (unsigned char *) &two->addrs[DNSPROXY_ADDRS_MAX];
                past[0] = AF_INET;
                past[4] = 192;
                rejected(two, DNSPROXY_ALLOW, "ALLOW: DNSPROXY_ADDRS_MAX + 1 addresses");
                free(two);
        }
        m.n_addrs = DNSPROXY_ADDRS_MAX + 1;
        rejected(&m, DNSPROXY_ALLOW, "ALLOW: DNSPROXY_ADDRS_MAX + 1 addresses, on the stack");
        m.n_addrs = UINT16_MAX;
        rejected(&m, DNSPROXY_ALLOW, "ALLOW: 65535 addresses");
}

static void test_addresses(void) {
        struct dnsproxy_msg m = allow_msg();
        /* the entries past n_addrs are not read */
        m.addrs[2].family = 99;
        m.addrs[DNSPROXY_ADDRS_MAX - 1].pad[0] = 1;
        accepted(&m, DNSPROXY_ALLOW, "unused address entries are ignored");
        m.n_addrs = 3;
        rejected(&m, DNSPROXY_ALLOW, "the same entry, once used, is read");

        static const uint8_t families[] = { 0, AF_UNIX, AF_PACKET, AF_INET6 + 1, 255 };
        for (size_t i = 0; i < sizeof(families); i++) {
                m = allow_msg();
                m.addrs[1].family = families[i];
                rejected(&m, DNSPROXY_ALLOW, "family other than AF_INET and AF_INET6");
        }
        for (size_t b = 4; b < 16; b++) {
                m = allow_msg();
                m.addrs[0].addr[b] = 1;
                rejected(&m, DNSPROXY_ALLOW, "IPv4: a byte past the fourth set");
        }
        for (size_t b = 0; b < 3; b++) {
                m = allow_msg();
                m.addrs[0].pad[b] = 0x80;
                rejected(&m, DNSPROXY_ALLOW, "IPv4: pad set");
                m = allow_msg();
                m.addrs[1].pad[b] = 1;
                rejected(&m, DNSPROXY_ALLOW, "IPv6: pad set");
        }
        m = allow_msg();
        memset(m.addrs[1].addr, 0xff, 16);
        accepted(&m, DNSPROXY_ALLOW, "IPv6: every byte is address");
}

static void test_allowed_refused_fields(void) {
        struct dnsproxy_msg m = allowed_msg(0);
        accepted(&m, DNSPROXY_ALLOWED, "ALLOWED: status 0");
        m = allowed_msg(-EPERM);
        accepted(&m, DNSPROXY_ALLOWED, "ALLOWED: status -EPERM");
        m = allowed_msg(-4095);
        accepted(&m, DNSPROXY_ALLOWED, "ALLOWED: status -4095");
        m = allowed_msg(-4096);
        rejected(&m, DNSPROXY_ALLOWED, "ALLOWED: status -4096");
        m = allowed_msg(1);
        rejected(&m, DNSPROXY_ALLOWED, "ALLOWED: status 1");
        m = allowed_msg(INT32_MIN);
        rejected(&m, DNSPROXY_ALLOWED, "ALLOWED: status INT32_MIN");
        m = allowed_msg(0);
        memset(m.name, 'Z', sizeof(m.name));
        memset(m.addrs, 0xff, sizeof(m.addrs));
        accepted(&m, DNSPROXY_ALLOWED, "ALLOWED: name and addrs are not read");
        m = allowed_msg(0);
        m.ttl = 0x7fffffff;
        accepted(&m, DNSPROXY_ALLOWED, "ALLOWED: status 0 with the longest ttl");
        m.ttl = 0x80000000u;
        rejected(&m, DNSPROXY_ALLOWED, "ALLOWED: ttl past 2^31 - 1");
        m = allowed_msg(-EPERM);
        m.ttl = 1;
        rejected(&m, DNSPROXY_ALLOWED, "ALLOWED: ttl with an error status");
        m = allowed_msg(0);
        m.qtype = 1;
        rejected(&m, DNSPROXY_ALLOWED, "ALLOWED: qtype set");
        m = allowed_msg(0);
        m.n_addrs = 1;
        rejected(&m, DNSPROXY_ALLOWED, "ALLOWED: n_addrs set");

        m = refused_msg();
        m.qtype = UINT16_MAX;
        accepted(&m, DNSPROXY_REFUSED, "REFUSED: any qtype");
        m.qtype = 0;
        accepted(&m, DNSPROXY_REFUSED, "REFUSED: qtype 0");
        m = refused_msg();
        m.status = -1;
        rejected(&m, DNSPROXY_REFUSED, "REFUSED: status set");
        m = refused_msg();
        m.ttl = 1;
        rejected(&m, DNSPROXY_REFUSED, "REFUSED: ttl set");
        m = refused_msg();
        m.n_addrs = 1;
        m.addrs[0].family = AF_INET;
        rejected(&m, DNSPROXY_REFUSED, "REFUSED: n_addrs set");
}

static void test_prefix(void) {
        struct dnsproxy_msg m = allow_msg();
        struct ip_prefix p;
        char buf[IP_PREFIX_STRLEN];
        dnsproxy_addr_to_prefix(&m.addrs[0], &p);
        TAP_CHECK_STR(ip_prefix_format(&p, buf), "192.0.2.1/32", "IPv4 address to a /32");
        dnsproxy_addr_to_prefix(&m.addrs[1], &p);
        TAP_CHECK_STR(ip_prefix_format(&p, buf), "2001:db8::1/128", "IPv6 address to a /128");

        struct dnsproxy_addr a, want = m.addrs[0];
        memset(&a, 0xaa, sizeof(a));
        TAP_CHECK(ip_prefix_parse("192.0.2.1", &p) == 0 && dnsproxy_addr_from_prefix(&p, &a) == 0 &&
                  memcmp(&a, &want, sizeof(a)) == 0, "a /32 to an address, the rest zero");
        want = m.addrs[1];
        TAP_CHECK(ip_prefix_parse("2001:db8::1", &p) == 0 && dnsproxy_addr_from_prefix(&p, &a) == 0 &&
                  memcmp(&a, &want, sizeof(a)) == 0, "a /128 to an address");
        memset(&a, 0xaa, sizeof(a));
        struct dnsproxy_addr untouched = a;
        TAP_CHECK(ip_prefix_parse("192.0.2.0/24", &p) == 0 && dnsproxy_addr_from_prefix(&p, &a) == -EINVAL &&
                  memcmp(&a, &untouched, sizeof(a)) == 0, "a /24 is no address");
        TAP_CHECK(ip_prefix_parse("2001:db8::/127", &p) == 0 && dnsproxy_addr_from_prefix(&p, &a) == -EINVAL,
                  "a /127 is no address");
        p = (struct ip_prefix) { .family = AF_UNIX, .len = 32 };
        TAP_CHECK(dnsproxy_addr_from_prefix(&p, &a) == -EINVAL, "an unknown family is no address");
        p = (struct ip_prefix) { .family = AF_INET, .len = 128 };
        TAP_CHECK(dnsproxy_addr_from_prefix(&p, &a) == -EINVAL, "IPv4 with length 128 is no address");

        /* an address put into a message passes the check */
        m = allow_msg();
        m.n_addrs = 1;
        TAP_CHECK(ip_prefix_parse("198.51.100.7", &p) == 0 && dnsproxy_addr_from_prefix(&p, &m.addrs[0]) == 0,
                  "converted into a message");
        accepted(&m, DNSPROXY_ALLOW, "a converted address");
}

int main(void) {
        test_size_and_type();
        test_names();
        test_allow_fields();
        test_addresses();
        test_allowed_refused_fields();
        test_prefix();
        return tap_done();
}
