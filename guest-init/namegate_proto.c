/* SPDX-License-Identifier: MIT */
#include "namegate_proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
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

/* Every byte from the report flag on is 0. */
static bool no_report(const struct namegate_msg *m) {
        static const struct namegate_msg zero;
        return memcmp(&m->report, &zero.report, sizeof(*m) - offsetof(struct namegate_msg, report)) == 0;
}

static bool report_ok(const struct namegate_msg *m) {
        static const uint8_t zero[16];
        if (m->kind != NAMEGATE_TLS && m->kind != NAMEGATE_HTTP)
                return false;
        if (m->why < NAMEGATE_NOT_IN_POLICY || m->why >= _NAMEGATE_WHY_MAX || m->port == 0)
                return false;
        if (m->family == AF_INET) {
                if (memcmp(m->addr + 4, zero, 12) != 0)
                        return false;
        } else if (m->family != AF_INET6)
                return false;
        if (m->has_uid > 1 || (!m->has_uid && m->uid))
                return false;
        return name_ok(m->name, m->why == NAMEGATE_NOT_IN_POLICY);
}

static bool full_ok(const struct namegate_msg *m) {
        struct namegate_msg copy = *m;
        copy.uid = 0;
        return m->uid != 0 && m->id == 0 && m->verdict == 0 && no_report(&copy);
}

int namegate_msg_check(const void *buf, size_t len, const struct namegate_msg **ret) {
        if (!buf || (uintptr_t) buf % _Alignof(struct namegate_msg) != 0)
                return -EINVAL;
        if (len != sizeof(struct namegate_msg))
                return -EBADMSG;
        const struct namegate_msg *m = buf;
        bool ok;
        if (m->type == NAMEGATE_FULL)
                ok = full_ok(m);
        else if (m->type == NAMEGATE_VERDICT)
                ok = m->verdict >= NAMEGATE_ACCEPT && m->verdict < _NAMEGATE_VERDICT_MAX &&
                     (m->verdict == NAMEGATE_REFUSE && m->report == 1 ? report_ok(m) : no_report(m));
        else
                ok = false;
        if (!ok)
                return -EBADMSG;
        if (ret)
                *ret = m;
        return 0;
}

const char *namegate_kind_text(enum namegate_kind k) {
        return k == NAMEGATE_TLS ? "TLS" : "HTTP";
}
