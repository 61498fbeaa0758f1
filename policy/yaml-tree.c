/* SPDX-License-Identifier: MIT */
#include "yaml-tree.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "macro.h"

/* A policy needs three levels; anything much deeper is garbage or an attack
 * on memory, and the node cap bounds a flat list of tiny entries. */
#define YAML_TREE_MAX_DEPTH 32
#define YAML_TREE_MAX_NODES 100000

struct builder {
        const char *file;
        struct policy_diags *diags;
        struct yaml_tree *root;
        struct yaml_tree *stack[YAML_TREE_MAX_DEPTH];
        size_t depth;
        size_t nodes;
        unsigned documents;
};

void yaml_tree_free(struct yaml_tree *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n_children; i++)
                yaml_tree_free(t->children[i]);
        free(t->children);
        free(t->value);
        free(t);
}

bool yaml_tree_is_null(const struct yaml_tree *t) {
        if (t->kind != YAML_TREE_SCALAR || !t->plain)
                return false;
        return t->length == 0 || strcmp(t->value, "~") == 0 || strcmp(t->value, "null") == 0 ||
               strcmp(t->value, "Null") == 0 || strcmp(t->value, "NULL") == 0;
}

const char *yaml_tree_kind_name(const struct yaml_tree *t) {
        switch (t->kind) {
        case YAML_TREE_SEQUENCE:
                return "a list";
        case YAML_TREE_MAPPING:
                return "a mapping";
        default:
                return yaml_tree_is_null(t) ? "an empty value" : "a scalar";
        }
}

/* Line and column (1-based, in characters) of a byte offset. */
static void offset_position(const char *data, size_t len, size_t offset, unsigned *line,
                            unsigned *column) {
        unsigned l = 1, c = 1;
        for (size_t i = 0; i < offset && i < len; i++) {
                unsigned char b = (unsigned char) data[i];
                if (b == '\n') {
                        l++;
                        c = 1;
                } else if ((b & 0xc0) != 0x80)
                        c++;
        }
        *line = l;
        *column = c;
}

/* Length of the valid UTF-8 sequence at s (strict: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_sequence_length(const unsigned char *s, size_t left) {
        unsigned char b = s[0];
        size_t n;
        uint32_t cp;
        if (b < 0x80)
                return 1;
        if (b >= 0xc2 && b <= 0xdf)
                n = 2, cp = b & 0x1f;
        else if (b >= 0xe0 && b <= 0xef)
                n = 3, cp = b & 0x0f;
        else if (b >= 0xf0 && b <= 0xf4)
                n = 4, cp = b & 0x07;
        else
                return 0;
        if (left < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

/* libyaml's own message for bad UTF-8 has no position a user can act on, so
 * the input is checked here first. */
static int check_utf8(const char *file, const char *data, size_t len, struct policy_diags *diags) {
        const unsigned char *s = (const unsigned char *) data;
        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence_length(s + i, len - i);
                if (n == 0) {
                        unsigned line, column;
                        offset_position(data, len, i, &line, &column);
                        policy_diag_add(diags, POLICY_ERROR, file, line, column,
                                        "invalid UTF-8 (byte 0x%02x); a policy file must be UTF-8 text",
                                        s[i]);
                        return -EINVAL;
                }
                i += n;
        }
        return 0;
}

static int report_parser_error(struct builder *b, const yaml_parser_t *parser, const char *data,
                               size_t len) {
        unsigned line, column;
        const char *problem = parser->problem ? parser->problem : "unknown problem";

        switch (parser->error) {
        case YAML_MEMORY_ERROR:
                return -ENOMEM;
        case YAML_READER_ERROR:
                offset_position(data, len, parser->problem_offset, &line, &column);
                if (parser->problem_value >= 0)
                        policy_diag_add(b->diags, POLICY_ERROR, b->file, line, column,
                                        "invalid character U+%04X: %s", (unsigned) parser->problem_value,
                                        problem);
                else
                        policy_diag_add(b->diags, POLICY_ERROR, b->file, line, column,
                                        "unreadable input: %s", problem);
                return -EINVAL;
        default:
                line = (unsigned) parser->problem_mark.line + 1;
                column = (unsigned) parser->problem_mark.column + 1;
                if (parser->context)
                        policy_diag_add(b->diags, POLICY_ERROR, b->file, line, column,
                                        "YAML syntax error: %s (%s at line %u, column %u)", problem,
                                        parser->context, (unsigned) parser->context_mark.line + 1,
                                        (unsigned) parser->context_mark.column + 1);
                else
                        policy_diag_add(b->diags, POLICY_ERROR, b->file, line, column,
                                        "YAML syntax error: %s", problem);
                return -EINVAL;
        }
}

static int error_at(struct builder *b, const yaml_mark_t *mark, const char *message) {
        policy_diag_add(b->diags, POLICY_ERROR, b->file, (unsigned) mark->line + 1,
                        (unsigned) mark->column + 1, "%s", message);
        return -EINVAL;
}

/* Anchors, aliases and tags have no meaning in a policy; refusing them on
 * sight means no alias is ever expanded (no "billion laughs"). */
static int check_node_properties(struct builder *b, const yaml_event_t *e, const yaml_char_t *anchor,
                                 const yaml_char_t *tag) {
        if (anchor)
                return error_at(b, &e->start_mark,
                                "YAML anchors (&name) are not allowed in a policy file; write each value out");
        if (tag)
                return error_at(b, &e->start_mark,
                                "YAML tags (!tag) are not allowed in a policy file; remove the tag");
        return 0;
}

static int attach(struct builder *b, const yaml_event_t *e, struct yaml_tree *node) {
        if (++b->nodes > YAML_TREE_MAX_NODES) {
                yaml_tree_free(node);
                return error_at(b, &e->start_mark, "too many entries (more than 100000) in one policy file");
        }
        node->line = (unsigned) e->start_mark.line + 1;
        node->column = (unsigned) e->start_mark.column + 1;
        if (b->depth == 0) {
                if (b->root) {
                        yaml_tree_free(node);
                        return error_at(b, &e->start_mark, "unexpected second top-level value");
                }
                b->root = node;
                return 0;
        }
        struct yaml_tree *parent = b->stack[b->depth - 1];
        struct yaml_tree **c = realloc(parent->children, (parent->n_children + 1) * sizeof(*c));
        if (!c) {
                yaml_tree_free(node);
                return -ENOMEM;
        }
        parent->children = c;
        c[parent->n_children++] = node;
        return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *e) {
        int r = check_node_properties(b, e, e->data.scalar.anchor, e->data.scalar.tag);
        if (r < 0)
                return r;
        struct yaml_tree *node = calloc(1, sizeof(*node));
        if (!node)
                return -ENOMEM;
        node->kind = YAML_TREE_SCALAR;
        node->length = e->data.scalar.length;
        node->value = malloc(node->length + 1);
        if (!node->value) {
                free(node);
                return -ENOMEM;
        }
        memcpy(node->value, e->data.scalar.value, node->length);
        node->value[node->length] = '\0';
        node->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return attach(b, e, node);
}

static int on_collection_start(struct builder *b, const yaml_event_t *e, enum yaml_tree_kind kind,
                               const yaml_char_t *anchor, const yaml_char_t *tag) {
        int r = check_node_properties(b, e, anchor, tag);
        if (r < 0)
                return r;
        if (b->depth >= YAML_TREE_MAX_DEPTH)
                return error_at(b, &e->start_mark, "nesting deeper than 32 levels; a policy needs three");
        struct yaml_tree *node = calloc(1, sizeof(*node));
        if (!node)
                return -ENOMEM;
        node->kind = kind;
        r = attach(b, e, node);
        if (r < 0)
                return r;
        b->stack[b->depth++] = node;
        return 0;
}

/* One event; returns 1 at the end of the stream. */
static int on_event(struct builder *b, const yaml_event_t *e) {
        switch (e->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (++b->documents > 1)
                        return error_at(b, &e->start_mark,
                                        "a second YAML document (---); a policy file holds exactly one");
                return 0;
        case YAML_ALIAS_EVENT:
                return error_at(b, &e->start_mark,
                                "YAML aliases (*name) are not allowed in a policy file; write each value out");
        case YAML_SCALAR_EVENT:
                return on_scalar(b, e);
        case YAML_SEQUENCE_START_EVENT:
                return on_collection_start(b, e, YAML_TREE_SEQUENCE, e->data.sequence_start.anchor,
                                           e->data.sequence_start.tag);
        case YAML_MAPPING_START_EVENT:
                return on_collection_start(b, e, YAML_TREE_MAPPING, e->data.mapping_start.anchor,
                                           e->data.mapping_start.tag);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                if (b->depth > 0)
                        b->depth--;
                return 0;
        case YAML_STREAM_END_EVENT:
                return 1;
        default:
                return 0;
        }
}

int yaml_tree_parse(const char *file, const char *data, size_t len, struct yaml_tree **ret,
                    struct policy_diags *diags) {
        struct builder b = { .file = file, .diags = diags };
        yaml_parser_t parser;
        int r;

        r = check_utf8(file, data, len, diags);
        if (r < 0)
                return r;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) data, len);
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

        for (;;) {
                yaml_event_t event;
                if (!yaml_parser_parse(&parser, &event)) {
                        r = report_parser_error(&b, &parser, data, len);
                        break;
                }
                r = on_event(&b, &event);
                yaml_event_delete(&event);
                if (r != 0)
                        break;
        }
        yaml_parser_delete(&parser);
        if (r < 0) {
                yaml_tree_free(b.root);
                return r;
        }
        *ret = b.root;
        return 0;
}
