/* SPDX-License-Identifier: MIT */
#include "denials.h"

#include <sys/socket.h>

#include <stdint.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_string.h"
#include "policy.h"
#include "prefix.h"
#include "verbutil.h"

/* ---- one JSON line: a flat object of strings, integers and nulls ---- */

struct cursor {
        const char *s;
};

static void skip_space(struct cursor *c) {
        while (*c->s == ' ' || *c->s == '\t' || *c->s == '\r' || *c->s == '\n')
                c->s++;
}

static int hex4(const char *s, unsigned *ret) {
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
                char h = s[i];
                unsigned d = h >= '0' && h <= '9' ? (unsigned) (h - '0')
                           : h >= 'a' && h <= 'f' ? (unsigned) (h - 'a' + 10)
                           : h >= 'A' && h <= 'F' ? (unsigned) (h - 'A' + 10) : 16u;
                if (d == 16)
                        return -EINVAL;
                v = v * 16 + d;
        }
        *ret = v;
        return 0;
}

/* A string into buf (size n); too long is an error, not a truncation. A
 * \u escape beyond ASCII becomes '?': names and addresses are ASCII. */
static int parse_string(struct cursor *c, char *buf, size_t n) {
        if (*c->s != '"')
                return -EINVAL;
        size_t len = 0;
        for (c->s++; *c->s != '"'; c->s++) {
                char ch = *c->s;
                if (ch == '\0')
                        return -EINVAL;
                if (ch == '\\') {
                        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                        const char *k = *++c->s ? strchr(from, *c->s) : NULL;
                        unsigned u;
                        if (k)
                                ch = to[k - from];
                        else if (*c->s == 'u' && hex4(c->s + 1, &u) == 0) {
                                ch = u < 0x80 ? (char) u : '?';
                                c->s += 4;
                        } else
                                return -EINVAL;
                }
                if (len + 1 >= n)
                        return -EINVAL;
                buf[len++] = ch;
        }
        c->s++;
        buf[len] = '\0';
        return 0;
}

/* An integer, or null (*ret = -1). */
static int parse_int(struct cursor *c, int64_t *ret, bool nullable) {
        if (strncmp(c->s, "null", 4) == 0) {
                c->s += 4;
                *ret = -1;
                return nullable ? 0 : -EINVAL;
        }
        char *end;
        errno = 0;
        long long v = strtoll(c->s, &end, 10);
        if (end == c->s || errno || v < 0 || *end == '.' || *end == 'e' || *end == 'E')
                return -EINVAL;
        c->s = end;
        *ret = v;
        return 0;
}

static int parse_nullable_string(struct cursor *c, char *buf, size_t n) {
        if (strncmp(c->s, "null", 4) == 0) {
                c->s += 4;
                buf[0] = '\0';
                return 0;
        }
        return parse_string(c, buf, n);
}

/* A value of a key we do not know: a scalar only, skipped. */
static int skip_value(struct cursor *c) {
        char scratch[1024];
        int64_t i;
        if (*c->s == '"')
                return parse_string(c, scratch, sizeof(scratch));
        for (const char *lit = "null\0true\0false\0"; *lit; lit += strlen(lit) + 1)
                if (strncmp(c->s, lit, strlen(lit)) == 0) {
                        c->s += strlen(lit);
                        return 0;
                }
        return parse_int(c, &i, false);
}

enum { SEEN_TIME = 1, SEEN_KIND = 2, SEEN_COUNT = 4 };

static int parse_member(struct cursor *c, struct denial *d, unsigned *seen) {
        char key[32];
        int64_t v = 0;
        int r;
        if (parse_string(c, key, sizeof(key)) < 0)
                return -EINVAL;
        skip_space(c);
        if (*c->s++ != ':')
                return -EINVAL;
        skip_space(c);
        if (strcmp(key, "time") == 0) {
                r = parse_int(c, &d->time, false);
                *seen |= SEEN_TIME;
        } else if (strcmp(key, "kind") == 0) {
                r = parse_string(c, d->kind, sizeof(d->kind));
                *seen |= SEEN_KIND;
        } else if (strcmp(key, "proto") == 0)
                r = parse_nullable_string(c, d->proto, sizeof(d->proto));
        else if (strcmp(key, "dst") == 0)
                r = parse_nullable_string(c, d->dst, sizeof(d->dst));
        else if (strcmp(key, "name") == 0)
                r = parse_nullable_string(c, d->name, sizeof(d->name));
        else if (strcmp(key, "reason") == 0)
                r = parse_nullable_string(c, d->reason, sizeof(d->reason));
        else if (strcmp(key, "port") == 0) {
                r = parse_int(c, &v, true);
                d->port = r == 0 && v <= 65535 ? (int) v : (r = -EINVAL);
        } else if (strcmp(key, "resolved_ago") == 0)
                r = parse_int(c, &d->resolved_ago, true);
        else if (strcmp(key, "uid") == 0)
                r = parse_int(c, &d->uid, true);
        else if (strcmp(key, "count") == 0) {
                r = parse_int(c, &d->count, false);
                *seen |= SEEN_COUNT;
        } else
                r = skip_value(c);
        return r;
}

int denial_parse_line(const char *line, struct denial *ret) {
        struct denial d = { .port = -1, .resolved_ago = -1, .uid = -1, .count = 1 };
        struct cursor c = { line };
        unsigned seen = 0;
        skip_space(&c);
        if (*c.s++ != '{')
                return -EINVAL;
        skip_space(&c);
        while (*c.s != '}') {
                if (parse_member(&c, &d, &seen) < 0)
                        return -EINVAL;
                skip_space(&c);
                if (*c.s == ',') {
                        c.s++;
                        skip_space(&c);
                } else if (*c.s != '}')
                        return -EINVAL;
        }
        c.s++;
        skip_space(&c);
        if (*c.s || (seen & (SEEN_TIME | SEEN_KIND)) != (SEEN_TIME | SEEN_KIND) || d.count < 1)
                return -EINVAL;
        if (strcmp(d.kind, "connect") != 0 && strcmp(d.kind, "dns") != 0 && strcmp(d.kind, "name") != 0)
                return -EINVAL;
        *ret = d;
        return 0;
}

/* ---- grouping ---- */

/* The group key: kind, proto, name (or nothing), address, port. */
static int key_compare(const struct denial *a, const struct denial *b) {
        int r = strcmp(a->kind, b->kind);
        if (r == 0)
                r = strcmp(a->proto, b->proto);
        if (r == 0)
                r = strcmp(a->name, b->name);
        if (r == 0)
                r = strcmp(a->dst, b->dst);
        if (r == 0)
                r = (a->port > b->port) - (a->port < b->port);
        return r;
}

/* By key, then oldest first, so the last of a run is the group's newest. */
static int record_compare(const void *x, const void *y) {
        const struct denial *a = *(const struct denial *const *) x, *b = *(const struct denial *const *) y;
        int r = key_compare(a, b);
        return r ? r : (a->time > b->time) - (a->time < b->time);
}

/* Newest first; ties by key, so the order is stable whatever the input's. */
static int group_compare(const void *x, const void *y) {
        const struct denial_group *a = x, *b = y;
        if (a->last.time != b->last.time)
                return a->last.time < b->last.time ? 1 : -1;
        return key_compare(&a->last, &b->last);
}

int denials_group(const struct denial *v, size_t n, struct denial_group **ret, size_t *ret_n) {
        const struct denial **order = calloc(n + 1, sizeof(*order));
        struct denial_group *g = calloc(n + 1, sizeof(*g));
        if (!order || !g) {
                free(order);
                free(g);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                order[i] = &v[i];
        qsort(order, n, sizeof(*order), record_compare);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (k == 0 || key_compare(&g[k - 1].last, order[i]) != 0)
                        g[k++] = (struct denial_group) { .first = order[i]->time };
                g[k - 1].last = *order[i];
                /* Saturating: the counts come from the sandbox. */
                g[k - 1].count = order[i]->count > INT64_MAX - g[k - 1].count ? INT64_MAX
                                                                               : g[k - 1].count + order[i]->count;
        }
        free(order);
        qsort(g, k, sizeof(*g), group_compare);
        *ret = g;
        *ret_n = k;
        return 0;
}

/* ---- durations ---- */

int denials_parse_duration(const char *text, uint64_t *ret) {
        static const struct { char unit; uint64_t seconds; } units[] = {
                { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
        };
        uint64_t v = 0;
        const char *s = text;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        if (s == text || v == 0 || !s[0] || s[1])
                return -EINVAL;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (units[i].unit == *s) {
                        /* Ten years is plenty, and keeps the product far from overflow. */
                        if (v > 3650 * 86400 / units[i].seconds)
                                return -EINVAL;
                        *ret = v * units[i].seconds;
                        return 0;
                }
        return -EINVAL;
}

/* ---- what would allow it ---- */

/* The init's reasons (guest-init/denials.c) for which allowing the name
 * would change nothing: the name is allowed already. */
static bool fix_by_reason(const struct denial *d, struct denial_fix *ret) {
        if (strcmp(d->kind, "connect") == 0 && strcmp(d->reason, "port not allowed for that address") == 0 &&
            d->port > 0 && d->port <= 65535) {
                snprintf(ret->policy_line, sizeof(ret->policy_line), "ports: [%d]", d->port);
                snprintf(ret->note, sizeof(ret->note),
                         "the address is allowed, TCP port %d is not: ports: opens it to every allowed destination",
                         d->port);
                return true;
        }
        if (strcmp(d->kind, "connect") == 0 && strstr(d->reason, " not allowed to that address")) {
                snprintf(ret->note, sizeof(ret->note),
                         "the address is allowed for TCP only; the sandbox sends no other protocol out but DNS through its resolver");
                return true;
        }
        if (strcmp(d->reason, "expired after its TTL") == 0) {
                snprintf(ret->policy_line, sizeof(ret->policy_line), "dns: {grace: 600}");
                snprintf(ret->note, sizeof(ret->note),
                         "the name is allowed; the program kept this address past its TTL and dns.grace: a longer grace covers it");
                return true;
        }
        if (strcmp(d->kind, "dns") == 0 && strcmp(d->reason, "the sandbox's resolver does not answer that type") == 0) {
                snprintf(ret->note, sizeof(ret->note),
                         "the name is allowed; the sandbox's resolver answers only A, AAAA and CNAME queries");
                return true;
        }
        return false;
}

void denial_fix(const struct denial *d, bool managed, struct denial_fix *ret) {
        *ret = (struct denial_fix) {};
        if (fix_by_reason(d, ret))
                return;
        if (d->name[0] && policy_hostname_valid(d->name, NULL)) {
                if (managed)
                        snprintf(ret->command, sizeof(ret->command), "agentbox allow %s", d->name);
                snprintf(ret->policy_line, sizeof(ret->policy_line), "domains: [\"%s\"]", d->name);
                return;
        }
        if (d->name[0]) {
                snprintf(ret->note, sizeof(ret->note), "not a host name a policy can list");
                return;
        }
        struct ip_prefix a;
        char buf[IP_PREFIX_STRLEN];
        /* The record is the sandbox's to write: only what the init records,
         * one address, becomes a policy line, never a range such as 0/0. */
        if (ip_prefix_parse(d->dst, &a) < 0 || a.len != (a.family == AF_INET ? 32 : 128)) {
                snprintf(ret->note, sizeof(ret->note), "no name and no single address to allow");
                return;
        }
        snprintf(ret->policy_line, sizeof(ret->policy_line), "cidrs: [\"%s\"]", ip_prefix_format(&a, buf));
        /* The name gate's refusal of a connection that named no host:
         * only an address under cidrs: is not name-checked. */
        if (strcmp(d->kind, "name") == 0)
                snprintf(ret->note, sizeof(ret->note),
                         "it named no host the policy could allow: under cidrs: the address is not name-checked, and anything reaches it");
        else
                snprintf(ret->note, sizeof(ret->note),
                         "a literal address, never resolved in the sandbox: allow the name the agent meant instead when you know it");
}

/* ---- output ---- */

/* value with every byte that is not printable ASCII as '?' (what the init
 * records is ASCII; the record is the sandbox's to write, and a reader of
 * this JSON may print it on a terminal or insist on valid UTF-8). */
static void json_member(FILE *f, const char *key, const char *value, bool first) {
        char safe[512];
        size_t i = 0;
        for (; value && value[i] && i + 1 < sizeof(safe); i++)
                safe[i] = value[i] >= 0x20 && value[i] < 0x7f ? value[i] : '?';
        safe[i] = '\0';
        fprintf(f, "%s\"%s\": ", first ? "" : ", ", key);
        base_json_write_string(f, value && value[0] ? safe : NULL);
}

static void json_int(FILE *f, const char *key, int64_t v) {
        if (v < 0)
                fprintf(f, ", \"%s\": null", key);
        else
                fprintf(f, ", \"%s\": %lld", key, (long long) v);
}

void denial_group_write_json(const struct denial_group *g, const struct denial_fix *fix, FILE *f) {
        const struct denial *d = &g->last;
        fputc('{', f);
        json_member(f, "name", d->name, true);
        json_member(f, "kind", d->kind, false);
        json_member(f, "proto", d->proto, false);
        json_member(f, "dst", d->dst, false);
        json_int(f, "port", d->port);
        json_int(f, "count", g->count);
        json_int(f, "first", g->first);
        json_int(f, "last", d->time);
        json_int(f, "uid", d->uid);
        json_member(f, "reason", d->reason, false);
        json_member(f, "allow", fix->command, false);
        json_member(f, "policy_line", fix->policy_line, false);
        json_member(f, "note", fix->note, false);
        fputs("}\n", f);
}

/* s with every byte that is not printable ASCII as '?': the text comes from
 * the sandbox and must not drive the terminal. */
static void write_safe(FILE *f, const char *s) {
        for (; *s; s++)
                fputc(*s >= 0x20 && *s < 0x7f ? *s : '?', f);
}

void denial_group_write_text(const struct denial_group *g, const struct denial_fix *fix, FILE *f) {
        const struct denial *d = &g->last;
        char when[32] = "?";
        time_t t = (time_t) d->time;
        struct tm tm;
        if (localtime_r(&t, &tm))
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(f, "%s  %5lld x  ", when, (long long) g->count);
        if (strcmp(d->kind, "dns") == 0) {
                fputs("DNS query ", f);
                write_safe(f, d->name);
                fputs(" (", f);
                write_safe(f, d->proto);
                fputc(')', f);
        } else {
                write_safe(f, d->proto);
                fputc(' ', f);
                write_safe(f, d->name[0] ? d->name : d->dst);
                if (d->port >= 0)
                        fprintf(f, ":%d", d->port);
                if (d->name[0] && d->dst[0]) {
                        fputs(" (", f);
                        write_safe(f, d->dst);
                        fputc(')', f);
                } else if (!d->name[0] && strcmp(d->kind, "name") != 0)
                        fputs(" (never resolved in the sandbox)", f);
        }
        if (d->reason[0]) {
                fputs(": ", f);
                write_safe(f, d->reason);
        }
        fputc('\n', f);
        if (fix->command[0]) {
                fputs("    allow it: ", f);
                write_safe(f, fix->command);
        } else if (fix->policy_line[0]) {
                fputs("    allow it: ", f);
                write_safe(f, fix->policy_line);
                fputs(" in a policy file, then reload", f);
        }
        if (fix->note[0])
                fprintf(f, "%s(%s)", fix->command[0] || fix->policy_line[0] ? "  " : "    ", fix->note);
        fputc('\n', f);
}
