/* SPDX-License-Identifier: MIT */
/* Checks on the messages between PID 1 and the resolver child: whatever the
 * other side sends, a message that passes has every field in range, so the
 * receiver's code after the check never meets an unterminated name, an
 * address count past the array or an address of an unknown family. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsproxy_proto.h"

#define DNSPROXY_TTL_MAX 0x7fffffffu            /* RFC 2181 8: TTLs are 31 bits */
#define DNSPROXY_ERRNO_MAX 4095                 /* the kernel's MAX_ERRNO */

/* 1..DNSPROXY_NAME_MAX printable bytes without upper case, NUL-terminated in
 * the array: what PID 1 may print in a log line and match against the
 * policy. No trailing dot, except the root itself. */
static bool name_ok(const char name[static DNSPROXY_NAME_MAX + 1]) {
        const char *end = memchr(name, '\0', DNSPROXY_NAME_MAX + 1);
        if (!end || end == name)
                return false;
        for (const unsigned char *c = (const unsigned char *) name; c < (const unsigned char *) end; c++)
                if (*c <= ' ' || *c >= 0x7f || (*c >= 'A' && *c <= 'Z'))
                        return false;
        return end[-1] != '.' || end - name == 1;
}

static bool addr_ok(const struct dnsproxy_addr *a) {
        static const uint8_t zero[16];
        if (memcmp(a->pad, zero, sizeof(a->pad)) != 0)
                return false;
        if (a->family == AF_INET)
                return memcmp(a->addr + 4, zero, sizeof(a->addr) - 4) == 0;
        return a->family == AF_INET6;
}

static bool allow_ok(const struct dnsproxy_msg *m) {
        if (m->status != 0 || m->qtype != 0 || m->ttl > DNSPROXY_TTL_MAX || !name_ok(m->name))
                return false;
        if (m->n_addrs < 1 || m->n_addrs > DNSPROXY_ADDRS_MAX)
                return false;
        for (size_t i = 0; i < m->n_addrs; i++)
                if (!addr_ok(&m->addrs[i]))
                        return false;
        return true;
}

static bool allowed_ok(const struct dnsproxy_msg *m) {
        return m->status <= 0 && m->status >= -DNSPROXY_ERRNO_MAX && m->ttl <= DNSPROXY_TTL_MAX &&
               (m->status == 0 || m->ttl == 0) && m->qtype == 0 && m->n_addrs == 0;
}

static bool refused_ok(const struct dnsproxy_msg *m) {
        return m->status == 0 && m->ttl == 0 && m->n_addrs == 0 && name_ok(m->name);
}

int dnsproxy_msg_check(const void *buf, size_t len, enum dnsproxy_msg_type expected,
                       const struct dnsproxy_msg **ret) {
        if (expected != DNSPROXY_ALLOW && expected != DNSPROXY_ALLOWED && expected != DNSPROXY_REFUSED)
                return -EINVAL;
        if (!buf || (uintptr_t) buf % _Alignof(struct dnsproxy_msg) != 0)
                return -EINVAL;
        if (len != sizeof(struct dnsproxy_msg))
                return -EBADMSG;
        const struct dnsproxy_msg *m = buf;
        if (m->type != (uint32_t) expected)
                return -EBADMSG;
        bool ok = expected == DNSPROXY_ALLOW   ? allow_ok(m) :
                  expected == DNSPROXY_ALLOWED ? allowed_ok(m) :
                                                 refused_ok(m);
        if (!ok)
                return -EBADMSG;
        if (ret)
                *ret = m;
        return 0;
}

uint64_t dnsproxy_lifetime(uint32_t ttl, unsigned min_ttl, unsigned grace) {
        uint64_t seconds = ttl < min_ttl ? min_ttl : ttl;
        if (seconds > DNSPROXY_TTL_CEILING)
                seconds = DNSPROXY_TTL_CEILING;
        return seconds + grace;
}

void dnsproxy_addr_to_prefix(const struct dnsproxy_addr *a, struct ip_prefix *ret) {
        ip_prefix_from_addr(a->family == AF_INET ? AF_INET : AF_INET6, a->addr, ret);
}

int dnsproxy_addr_from_prefix(const struct ip_prefix *p, struct dnsproxy_addr *ret) {
        if (!(p->family == AF_INET && p->len == 32) && !(p->family == AF_INET6 && p->len == 128))
                return -EINVAL;
        *ret = (struct dnsproxy_addr) { .family = p->family };
        memcpy(ret->addr, p->addr, ip_prefix_addr_len(p));
        return 0;
}
