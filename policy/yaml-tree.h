/* SPDX-License-Identifier: MIT */
/* A YAML document as a small tree of scalars, sequences and mappings, each
 * with its 1-based line and column. Built from libyaml's event stream so that
 * anchors, aliases, tags and second documents are refused before anything is
 * expanded: no alias can multiply the input. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

enum yaml_tree_kind {
        YAML_TREE_SCALAR,
        YAML_TREE_SEQUENCE,
        YAML_TREE_MAPPING,
};

struct yaml_tree {
        enum yaml_tree_kind kind;
        unsigned line, column;
        /* scalar */
        char *value;
        size_t length;
        bool plain;             /* unquoted: may be null, a number, a boolean */
        /* sequence: children; mapping: key, value, key, value, ... */
        struct yaml_tree **children;
        size_t n_children;
};

/* Parse data into *ret (NULL for a document with no content, e.g. only
 * comments). Errors go to diags with file's name; returns -EINVAL then. */
int yaml_tree_parse(const char *file, const char *data, size_t len, struct yaml_tree **ret,
                    struct policy_diags *diags);
void yaml_tree_free(struct yaml_tree *t);

/* Whether a plain scalar is YAML's null ("", "~", "null", "Null", "NULL"). */
bool yaml_tree_is_null(const struct yaml_tree *t);
const char *yaml_tree_kind_name(const struct yaml_tree *t);
