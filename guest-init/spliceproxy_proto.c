/* SPDX-License-Identifier: MIT */
#include "spliceproxy_proto.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

static bool name_ok(const char name[static SNIFF_NAME_MAX + 1], bool expected) {
        const char *end = memchr(name, '\0', SNIFF_NAME_MAX + 1);
        if (!end)
                return false;
        if (!expected)
                return end == name;
        if (end == name)
                return false;
        for (const char *c = name; c < end; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_'))
                        return false;
        return true;
}

static bool full_ok(const struct spliceproxy_msg *m) {
        static const struct spliceproxy_msg zero;
        return m->uid != 0 && !m->kind && !m->why && !m->port && !m->family && !m->has_uid && !m->pad[0] &&
               !m->pad[1] && memcmp(m->addr, zero.addr, sizeof(m->addr)) == 0 &&
               memcmp(m->name, zero.name, sizeof(m->name)) == 0;
}

int spliceproxy_msg_check(const void *buf, size_t len, const struct spliceproxy_msg **ret) {
        static const uint8_t zero[16];
        if (!buf || (uintptr_t) buf % _Alignof(struct spliceproxy_msg) != 0)
                return -EINVAL;
        if (len != sizeof(struct spliceproxy_msg))
                return -EBADMSG;
        const struct spliceproxy_msg *m = buf;
        if (m->type == SPLICEPROXY_FULL) {
                if (!full_ok(m))
                        return -EBADMSG;
                if (ret)
                        *ret = m;
                return 0;
        }
        if (m->type != SPLICEPROXY_REFUSED)
                return -EBADMSG;
        if (m->kind != SPLICEPROXY_TLS && m->kind != SPLICEPROXY_HTTP)
                return -EBADMSG;
        if (m->why < SPLICEPROXY_NOT_IN_POLICY || m->why >= _SPLICEPROXY_WHY_MAX || m->port == 0)
                return -EBADMSG;
        if (m->family == AF_INET) {
                if (memcmp(m->addr + 4, zero, 12) != 0)
                        return -EBADMSG;
        } else if (m->family != AF_INET6)
                return -EBADMSG;
        if (m->pad[0] || m->pad[1] || m->has_uid > 1 || (!m->has_uid && m->uid))
                return -EBADMSG;
        if (!name_ok(m->name, m->why == SPLICEPROXY_NOT_IN_POLICY))
                return -EBADMSG;
        if (ret)
                *ret = m;
        return 0;
}

const char *spliceproxy_kind_text(enum spliceproxy_kind k) {
        return k == SPLICEPROXY_TLS ? "TLS" : "HTTP";
}
