/* SPDX-License-Identifier: MIT */
#include "denials.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "denial_file.h"
#include "json_string.h"
#include "log.h"
#include "log_budget.h"
#include "macro.h"

/* Destinations followed at once for their repeat counts; the least
 * recently seen makes room for a new one (about 80 KiB). */
#define DESTS_MAX 256
/* Addresses whose names are remembered; the least recently resolved makes
 * room (about 290 KiB when full, touched only as it fills). */
#define NAMES_MAX 1024
#define NAME_MAX_LEN 253

#define SUMMARY_SECONDS_DEFAULT 60u

#define USEC_PER_SEC 1000000u

struct name_seen {
        struct ip_prefix addr;
        uint64_t seen_usec;             /* 0: free */
        char name[NAME_MAX_LEN + 1];
};

enum dest_kind { DEST_CONNECT, DEST_DNS, DEST_NAME };

struct dest {
        bool used;
        enum dest_kind kind;
        /* connect: protocol, address, port; dns: the name and type; name:
         * address, port, the name asked for, and "TLS" or "HTTP" in qtype */
        uint8_t proto;
        struct ip_prefix dst;
        bool has_port;
        uint16_t port;
        char qtype[16];
        char name[NAME_MAX_LEN + 1];    /* dns: the query; connect: the name resolved, "" when none */
        unsigned other_names;           /* connect: further names resolved to the address */
        uint64_t name_seen_usec;
        enum denial_reason reason;
        bool has_uid;
        uint32_t uid;
        uint64_t last_seen_usec;        /* for the LRU */
        uint64_t reported_usec;         /* its last record */
        unsigned long pending;          /* denials since then */
        unsigned left_out_round;        /* the round its last line was left out in, + 1 */
};

struct denials {
        struct loop *loop;
        struct denials_config cfg;
        uint64_t summary_usec;
        struct denial_file *file;
        denials_judge_fn judge;
        void *judge_userdata;

        struct dest dests[DESTS_MAX];
        struct name_seen *names;        /* NAMES_MAX */
        bool names_forgot;              /* a name had to make room: "never" is no longer sure */

        /* The log as a whole; what it leaves out is counted below, by
         * denials and destinations, not by lines. */
        struct log_budget log;
        unsigned round;                 /* of "left out" lines */
        uint64_t left_out_since_usec;
        unsigned long left_out_denials, left_out_dests;
};

static void arm_timer(struct denials *d);

/* ---- names ------------------------------------------------------------- */

static bool same_address(const struct ip_prefix *a, const struct ip_prefix *b) {
        return a->family == b->family && memcmp(a->addr, b->addr, ip_prefix_addr_len(a)) == 0;
}

void denials_name_seen(struct denials *d, const struct ip_prefix *addr, const char *name) {
        if (!d || strlen(name) > NAME_MAX_LEN)
                return;
        struct name_seen *slot = NULL;
        for (size_t i = 0; i < NAMES_MAX; i++) {
                struct name_seen *e = &d->names[i];
                if (e->seen_usec && same_address(&e->addr, addr) && strcmp(e->name, name) == 0) {
                        slot = e;
                        break;
                }
                if (!slot || (slot->seen_usec && e->seen_usec < slot->seen_usec))
                        slot = e;       /* a free one, else the least recently resolved */
        }
        if (slot->seen_usec && !(same_address(&slot->addr, addr) && strcmp(slot->name, name) == 0))
                d->names_forgot = true;
        slot->addr = *addr;
        slot->seen_usec = loop_now_usec();
        strcpy(slot->name, name);
}

/* The name most recently resolved to addr, and how many others were. */
static const struct name_seen *names_lookup(const struct denials *d, const struct ip_prefix *addr, unsigned *ret_others) {
        const struct name_seen *best = NULL;
        unsigned n = 0;
        for (size_t i = 0; i < NAMES_MAX; i++) {
                const struct name_seen *e = &d->names[i];
                if (!e->seen_usec || !same_address(&e->addr, addr))
                        continue;
                n++;
                if (!best || e->seen_usec > best->seen_usec)
                        best = e;
        }
        *ret_others = n ? n - 1 : 0;
        return best;
}

/* ---- text ---------------------------------------------------------------- */

static const char *proto_name(uint8_t proto, char buf[static 16]) {
        switch (proto) {
        case IPPROTO_TCP: return "tcp";
        case IPPROTO_UDP: return "udp";
        case IPPROTO_ICMP: return "icmp";
        case IPPROTO_ICMPV6: return "icmpv6";
        case IPPROTO_SCTP: return "sctp";
        case IPPROTO_UDPLITE: return "udplite";
        default:
                snprintf(buf, 16, "proto-%u", proto);
                return buf;
        }
}

static const char *reason_text(const struct dest *e, char buf[static 64]) {
        char proto[16];
        switch (e->reason) {
        case DENIAL_PORT:
                if (e->proto == IPPROTO_TCP)
                        return "port not allowed for that address";
                snprintf(buf, 64, "%s not allowed to that address", proto_name(e->proto, proto));
                return buf;
        case DENIAL_EXPIRED:
                return "expired after its TTL";
        case DENIAL_QTYPE:
                return "the sandbox's resolver does not answer that type";
        case DENIAL_NAME_MISSING:
                return "names no server";
        case DENIAL_NAME_INVALID:
                return "the name is not a host name";
        case DENIAL_NAME_AMBIGUOUS:
                return "names more than one server";
        case DENIAL_NAME_MALFORMED:
                return "not a TLS ClientHello or HTTP/1.x request";
        case DENIAL_NAME_TOO_LONG:
                return "too long before the name";
        case DENIAL_NAME_TIMEOUT:
                return "incomplete when the wait ran out";
        case DENIAL_NAME_UNSUPPORTED:
                return "an upgrade or body framing the name check cannot follow";
        case DENIAL_NOT_IN_POLICY:
        default:
                return "not in the policy";
        }
}

static const char *address_text(const struct ip_prefix *a, char buf[static INET6_ADDRSTRLEN]) {
        if (!inet_ntop(a->family, a->addr, buf, INET6_ADDRSTRLEN))
                strcpy(buf, "?");
        return buf;
}

static unsigned seconds_since(uint64_t then_usec, uint64_t now_usec) {
        return now_usec > then_usec ? (unsigned) ((now_usec - then_usec) / USEC_PER_SEC) : 0;
}

/* "denied tcp 203.0.113.9:443 (evil.example, resolved 12 s ago) by uid
 * 1000: not in the policy", or "refused DNS query x.example (A): ..." */
static void human_line(const struct denials *d, const struct dest *e, uint64_t now, char *buf, size_t len) {
        char reason[64];
        if (e->kind == DEST_DNS) {
                snprintf(buf, len, "refused DNS query %s (%s): %s", e->name, e->qtype, reason_text(e, reason));
                return;
        }
        if (e->kind == DEST_NAME) {
                char addr[INET6_ADDRSTRLEN], uid[32] = "";
                bool v6 = e->dst.family == AF_INET6;
                if (e->has_uid)
                        snprintf(uid, sizeof(uid), " by uid %u", e->uid);
                snprintf(buf, len, "refused %s%s%s%s to %s%s%s:%u%s: %s", e->qtype,
                         e->name[0] ? (e->qtype[0] == 'T' ? " server name " : " Host ") : "",
                         e->name, e->name[0] ? "" : " connection", v6 ? "[" : "", address_text(&e->dst, addr),
                         v6 ? "]" : "", e->port, uid, reason_text(e, reason));
                return;
        }
        char proto[16], addr[INET6_ADDRSTRLEN], port[16] = "", names[NAME_MAX_LEN + 96], uid[32] = "";
        bool bracket = e->has_port && e->dst.family == AF_INET6;
        if (e->has_port)
                snprintf(port, sizeof(port), ":%u", e->port);
        if (e->name[0] && e->other_names)
                snprintf(names, sizeof(names), "%s and %u other name%s, resolved %u s ago", e->name, e->other_names,
                         e->other_names == 1 ? "" : "s", seconds_since(e->name_seen_usec, now));
        else if (e->name[0])
                snprintf(names, sizeof(names), "%s, resolved %u s ago", e->name, seconds_since(e->name_seen_usec, now));
        else
                snprintf(names, sizeof(names), "%s",
                         d->names_forgot ? "not among the names the sandbox resolved lately" : "never resolved in the sandbox");
        if (e->has_uid)
                snprintf(uid, sizeof(uid), " by uid %u", e->uid);
        snprintf(buf, len, "denied %s %s%s%s%s (%s)%s: %s", proto_name(e->proto, proto), bracket ? "[" : "",
                 address_text(&e->dst, addr), bracket ? "]" : "", port, names, uid, reason_text(e, reason));
}

/* One JSON line of the record: the contract of `agent-sandbox-init denials`
 * (docs/init.md), which host tools read. */
static void record(struct denials *d, const struct dest *e, unsigned long count, uint64_t now) {
        char line[DENIAL_LINE_MAX], reason[64], proto[16], addr[INET6_ADDRSTRLEN];
        if (!d->file)
                return;
        FILE *f = fmemopen(line, sizeof(line), "w");
        if (!f)
                return;
        fprintf(f, "{\"time\":%lld,\"kind\":\"%s\",\"proto\":", (long long) time(NULL),
                e->kind == DEST_DNS ? "dns" : e->kind == DEST_NAME ? "name" : "connect");
        base_json_write_string(f, e->kind == DEST_DNS ? e->qtype :
                                  e->kind == DEST_NAME ? (e->qtype[0] == 'T' ? "tls" : "http") : proto_name(e->proto, proto));
        if (e->kind == DEST_DNS)
                fputs(",\"dst\":null,\"port\":null", f);
        else {
                fprintf(f, ",\"dst\":\"%s\",\"port\":", address_text(&e->dst, addr));
                if (e->has_port)
                        fprintf(f, "%u", e->port);
                else
                        fputs("null", f);
        }
        fputs(",\"name\":", f);
        if (e->name[0])
                base_json_write_string(f, e->name);
        else
                fputs("null", f);
        if (e->kind == DEST_CONNECT && e->name[0])
                fprintf(f, ",\"resolved_ago\":%u", seconds_since(e->name_seen_usec, now));
        else
                fputs(",\"resolved_ago\":null", f);
        if (e->has_uid)
                fprintf(f, ",\"uid\":%u", e->uid);
        else
                fputs(",\"uid\":null", f);
        fputs(",\"reason\":", f);
        base_json_write_string(f, reason_text(e, reason));
        fprintf(f, ",\"count\":%lu}\n", count);
        long n = ftell(f);
        bool fits = fflush(f) == 0 && n > 0 && (size_t) n < sizeof(line);
        fclose(f);
        if (fits)
                denial_file_append(d->file, line, (size_t) n);
}

/* ---- the log's own limit -------------------------------------------------- */

/* The record always gets the line; the log gets it while the limit allows,
 * else it is counted for the next "left out" line. */
static void report(struct denials *d, struct dest *e, unsigned long count, uint64_t now) {
        unsigned since = seconds_since(e->reported_usec, now);
        unsigned long lines_left_out;
        record(d, e, count, now);
        e->reported_usec = now;
        e->pending = 0;
        if (log_budget_take(&d->log, now, &lines_left_out)) {
                char line[NAME_MAX_LEN + 512];
                human_line(d, e, now, line, sizeof(line));
                if (count > 1)
                        log_notice("%s; %lu times in the last %u s", line, count, since);
                else
                        log_notice("%s", line);
                return;
        }
        if (!d->left_out_denials)
                d->left_out_since_usec = now;
        d->left_out_denials += count;
        if (e->left_out_round != d->round + 1) {
                e->left_out_round = d->round + 1;
                d->left_out_dests++;
        }
}

static void report_left_out(struct denials *d, uint64_t now) {
        log_notice("%lu denial%s to %lu destination%s left out of this log in the last %u s (the log takes %u lines at once, then one every %u s); `agent-sandbox-init denials` lists them",
                   d->left_out_denials, d->left_out_denials == 1 ? "" : "s", d->left_out_dests,
                   d->left_out_dests == 1 ? "" : "s", seconds_since(d->left_out_since_usec, now),
                   LOG_BUDGET_BURST, LOG_BUDGET_INTERVAL_USEC / USEC_PER_SEC);
        d->left_out_denials = d->left_out_dests = 0;
        d->round++;
}

/* ---- destinations ---------------------------------------------------------- */

static bool dest_matches(const struct dest *e, const struct dest *key) {
        if (!e->used || e->kind != key->kind)
                return false;
        if (e->kind == DEST_DNS)
                return strcmp(e->name, key->name) == 0 && strcmp(e->qtype, key->qtype) == 0;
        if (e->kind == DEST_NAME)
                return strcmp(e->name, key->name) == 0 && strcmp(e->qtype, key->qtype) == 0 &&
                       e->port == key->port && e->reason == key->reason && same_address(&e->dst, &key->dst);
        return e->proto == key->proto && e->has_port == key->has_port && e->port == key->port &&
               same_address(&e->dst, &key->dst);
}

/* A repeat is counted; a new destination takes a free slot or the least
 * recently seen one's, whose pending count is reported first. */
static void dest_seen(struct denials *d, const struct dest *key, uint64_t now) {
        struct dest *slot = NULL;
        for (size_t i = 0; i < DESTS_MAX; i++) {
                struct dest *e = &d->dests[i];
                if (dest_matches(e, key)) {
                        e->pending++;
                        e->last_seen_usec = now;
                        e->has_uid = key->has_uid;
                        e->uid = key->uid;
                        arm_timer(d);
                        return;
                }
                if (!slot || (slot->used && (!e->used || e->last_seen_usec < slot->last_seen_usec)))
                        slot = e;
        }
        if (slot->used && slot->pending)
                report(d, slot, slot->pending, now);
        *slot = *key;
        slot->used = true;
        slot->last_seen_usec = now;
        if (key->kind == DEST_CONNECT) {
                const struct name_seen *n = names_lookup(d, &key->dst, &slot->other_names);
                if (n) {
                        strcpy(slot->name, n->name);
                        slot->name_seen_usec = n->seen_usec;
                }
                slot->reason = d->judge ? d->judge(&key->dst, n ? n->name : NULL, d->judge_userdata)
                                        : DENIAL_NOT_IN_POLICY;
        }
        report(d, slot, 1, now);
        arm_timer(d);
}

void denials_packet(const struct denial_packet *p, void *userdata) {
        struct denials *d = userdata;
        if (p->mark == d->cfg.ignore_mark && p->mark != 0)
                return;
        struct dest key = {
                .kind = DEST_CONNECT, .proto = p->proto, .dst = p->dst,
                .has_port = p->has_port, .port = p->port, .has_uid = p->has_uid, .uid = p->uid,
        };
        dest_seen(d, &key, loop_now_usec());
}

void denials_name(struct denials *d, const char *kind, const char *name, const struct ip_prefix *dst,
                  uint16_t port, bool has_uid, uint32_t uid, enum denial_reason reason) {
        struct dest key = {
                .kind = DEST_NAME, .reason = reason, .proto = IPPROTO_TCP, .dst = *dst,
                .has_port = true, .port = port, .has_uid = has_uid, .uid = uid,
        };
        if (!d || (name && strlen(name) > NAME_MAX_LEN) || strlen(kind) >= sizeof(key.qtype))
                return;
        strcpy(key.name, name ? name : "");
        strcpy(key.qtype, kind);
        dest_seen(d, &key, loop_now_usec());
}

void denials_dns(struct denials *d, const char *name, const char *qtype, enum denial_reason reason) {
        struct dest key = { .kind = DEST_DNS, .reason = reason };
        if (!d || strlen(name) > NAME_MAX_LEN || strlen(qtype) >= sizeof(key.qtype))
                return;
        strcpy(key.name, name);
        strcpy(key.qtype, qtype);
        dest_seen(d, &key, loop_now_usec());
}

/* ---- the one timer ---------------------------------------------------------- */

static int timer_due(struct loop *l, void *userdata) {
        struct denials *d = userdata;
        uint64_t now = loop_now_usec();
        for (size_t i = 0; i < DESTS_MAX; i++) {
                struct dest *e = &d->dests[i];
                if (e->used && e->pending && e->reported_usec + d->summary_usec <= now)
                        report(d, e, e->pending, now);
        }
        if (d->left_out_denials && d->left_out_since_usec + d->summary_usec <= now)
                report_left_out(d, now);
        arm_timer(d);
        return 0;
}

/* Armed only while something waits to be reported: with nothing pending
 * PID 1 sleeps. */
static void arm_timer(struct denials *d) {
        uint64_t due = UINT64_MAX;
        for (size_t i = 0; i < DESTS_MAX; i++) {
                const struct dest *e = &d->dests[i];
                if (e->used && e->pending && e->reported_usec + d->summary_usec < due)
                        due = e->reported_usec + d->summary_usec;
        }
        if (d->left_out_denials && d->left_out_since_usec + d->summary_usec < due)
                due = d->left_out_since_usec + d->summary_usec;
        if (due == UINT64_MAX) {
                loop_cancel_timer(d->loop, d);
                return;
        }
        int r = loop_set_timer(d->loop, d, due, timer_due, d);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the denial summary timer (%m); repeated denials are summarised with the next new one");
}

/* ---- the interface ---------------------------------------------------------- */

int denials_new(struct loop *l, const struct denials_config *cfg, struct denials **ret) {
        struct denials *d = calloc(1, sizeof(*d));
        if (!d)
                return log_oom();
        d->names = calloc(NAMES_MAX, sizeof(*d->names));
        if (!d->names) {
                free(d);
                return log_oom();
        }
        d->loop = l;
        d->cfg = *cfg;
        d->summary_usec = (uint64_t) (cfg->summary_seconds ? cfg->summary_seconds : SUMMARY_SECONDS_DEFAULT) * USEC_PER_SEC;
        /* Without the record the log still names every denial it takes. */
        (void) denial_file_open(cfg->dir ? cfg->dir : DENIAL_DIR_DEFAULT, &d->file);
        *ret = d;
        return 0;
}

void denials_set_judge(struct denials *d, denials_judge_fn fn, void *userdata) {
        d->judge = fn;
        d->judge_userdata = userdata;
}

void denials_free(struct denials *d) {
        if (!d)
                return;
        loop_cancel_timer(d->loop, d);
        denial_file_free(d->file);
        free(d->names);
        free(d);
}
