/* SPDX-License-Identifier: MIT */
#include "meta_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "macro.h"

#define META_MAX_SIZE (4u * 1024 * 1024)

struct meta_parser {
        yaml_parser_t yaml;
        struct ip_prefix *items;
        size_t n, cap;
        char *error;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct meta_parser *mp, const char *fmt, ...) {
        if (!mp->error) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(&mp->error, fmt, ap) < 0)
                        mp->error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

static int next_event(struct meta_parser *mp, yaml_event_t *ev) {
        if (!yaml_parser_parse(&mp->yaml, ev))
                return fail(mp, "not valid JSON at line %zu, column %zu: %s",
                            mp->yaml.problem_mark.line + 1, mp->yaml.problem_mark.column + 1,
                            mp->yaml.problem ? mp->yaml.problem : "syntax error");
        if (ev->type == YAML_ALIAS_EVENT) {
                yaml_event_delete(ev);
                return fail(mp, "aliases are not JSON");
        }
        return 0;
}

static int add_prefix(struct meta_parser *mp, const char *key, const char *text) {
        struct ip_prefix p;
        if (ip_prefix_parse(text, &p) < 0)
                return fail(mp, "\"%s\" in \"%s\" is not an address range", text, key);
        if (mp->n == mp->cap) {
                size_t cap = mp->cap ? mp->cap * 2 : 256;
                struct ip_prefix *items = realloc(mp->items, cap * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                mp->items = items;
                mp->cap = cap;
        }
        mp->items[mp->n++] = p;
        return 0;
}

/* The array under web/api/git: strings only. */
static int read_ranges(struct meta_parser *mp, const char *key) {
        yaml_event_t ev;
        int r = next_event(mp, &ev);
        if (r < 0)
                return r;
        bool is_seq = ev.type == YAML_SEQUENCE_START_EVENT;
        yaml_event_delete(&ev);
        if (!is_seq)
                return fail(mp, "\"%s\" is not an array", key);
        for (;;) {
                if ((r = next_event(mp, &ev)) < 0)
                        return r;
                if (ev.type == YAML_SEQUENCE_END_EVENT) {
                        yaml_event_delete(&ev);
                        return 0;
                }
                if (ev.type != YAML_SCALAR_EVENT) {
                        yaml_event_delete(&ev);
                        return fail(mp, "\"%s\" holds something other than strings", key);
                }
                r = add_prefix(mp, key, (const char *) ev.data.scalar.value);
                yaml_event_delete(&ev);
                if (r < 0)
                        return r;
        }
}

/* Any other key's value, however nested. */
static int skip_value(struct meta_parser *mp) {
        int depth = 0;
        do {
                yaml_event_t ev;
                int r = next_event(mp, &ev);
                if (r < 0)
                        return r;
                if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
                        depth++;
                else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
                        depth--;
                bool end = ev.type == YAML_STREAM_END_EVENT;
                yaml_event_delete(&ev);
                if (end)
                        return fail(mp, "the document ends inside a value");
        } while (depth > 0);
        return 0;
}

static int expect(struct meta_parser *mp, yaml_event_type_t type, const char *what) {
        yaml_event_t ev;
        int r = next_event(mp, &ev);
        if (r < 0)
                return r;
        bool ok = ev.type == type;
        yaml_event_delete(&ev);
        return ok ? 0 : fail(mp, "%s", what);
}

static int parse_document(struct meta_parser *mp, size_t *found_keys) {
        int r;
        if ((r = expect(mp, YAML_STREAM_START_EVENT, "no document")) < 0 ||
            (r = expect(mp, YAML_DOCUMENT_START_EVENT, "the document is empty")) < 0 ||
            (r = expect(mp, YAML_MAPPING_START_EVENT, "the document is not a JSON object")) < 0)
                return r;
        for (;;) {
                yaml_event_t ev;
                if ((r = next_event(mp, &ev)) < 0)
                        return r;
                if (ev.type == YAML_MAPPING_END_EVENT) {
                        yaml_event_delete(&ev);
                        return 0;
                }
                if (ev.type != YAML_SCALAR_EVENT) {
                        yaml_event_delete(&ev);
                        return fail(mp, "an object key is not a string");
                }
                char key[32];
                snprintf(key, sizeof(key), "%s", (const char *) ev.data.scalar.value);
                yaml_event_delete(&ev);
                if (strcmp(key, "web") == 0 || strcmp(key, "api") == 0 || strcmp(key, "git") == 0) {
                        (*found_keys)++;
                        r = read_ranges(mp, key);
                } else
                        r = skip_value(mp);
                if (r < 0)
                        return r;
        }
}

int meta_parse(const char *json, size_t len, struct ip_prefix **ret, size_t *ret_n, char **ret_error) {
        struct meta_parser mp = {0};
        size_t found_keys = 0;

        *ret_error = NULL;
        if (len > META_MAX_SIZE) {
                *ret_error = strdup("the document is larger than 4 MiB");
                return -EFBIG;
        }
        if (!yaml_parser_initialize(&mp.yaml))
                return -ENOMEM;
        yaml_parser_set_input_string(&mp.yaml, (const unsigned char *) json, len);
        int r = parse_document(&mp, &found_keys);
        yaml_parser_delete(&mp.yaml);
        if (r == 0 && (found_keys == 0 || mp.n == 0))
                r = fail(&mp, "no web, api or git ranges in the document");
        if (r < 0) {
                free(mp.items);
                *ret_error = mp.error ? mp.error : strdup(strerror(-r));
                return r;
        }
        qsort(mp.items, mp.n, sizeof(*mp.items), ip_prefix_compare);
        size_t unique = 0;
        for (size_t i = 0; i < mp.n; i++)
                if (unique == 0 || ip_prefix_compare(&mp.items[unique - 1], &mp.items[i]) != 0)
                        mp.items[unique++] = mp.items[i];
        r = meta_ranges_check(mp.items, unique, ret_error);
        if (r < 0) {
                free(mp.items);
                return r;
        }
        *ret = mp.items;
        *ret_n = unique;
        return 0;
}

int meta_ranges_check(const struct ip_prefix *list, size_t n, char **ret_error) {
        unsigned long long v4_addresses = 0;
        char buf[IP_PREFIX_STRLEN];
        int r = 0;
        *ret_error = NULL;
        if (n > META_MAX_RANGES)
                r = asprintf(ret_error, "not plausible as GitHub's ranges: %zu of them (%u at most)", n,
                             META_MAX_RANGES);
        for (size_t i = 0; r == 0 && i < n; i++) {
                const struct ip_prefix *p = &list[i];
                unsigned min = p->family == AF_INET ? META_MIN_LEN_V4 : META_MIN_LEN_V6;
                if (p->len < min)
                        r = asprintf(ret_error, "not plausible as GitHub's ranges: %s is wider than /%u",
                                     ip_prefix_format(p, buf), min);
                else if (p->family == AF_INET && (v4_addresses += 1ull << (32 - p->len)) > META_MAX_V4_ADDRESSES)
                        r = asprintf(ret_error, "not plausible as GitHub's ranges: more IPv4 addresses than a /8 holds (at %s)",
                                     ip_prefix_format(p, buf));
        }
        if (r == 0)
                return 0;
        if (r < 0)
                *ret_error = NULL;
        return -EINVAL;
}

int meta_load_snapshot(const char *path, struct ip_prefix **ret, size_t *ret_n, char **ret_error) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        *ret_error = NULL;
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = negative_errno();
                if (asprintf(ret_error, "cannot open %s: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        if (!S_ISREG(st.st_mode) || (size_t) st.st_size > META_MAX_SIZE) {
                if (asprintf(ret_error, "%s is not a regular file under 4 MiB", path) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        _cleanup_free_ char *buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        size_t got = 0;
        while (got < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        return meta_parse(buf, got, ret, ret_n, ret_error);
}
