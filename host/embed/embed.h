/* SPDX-License-Identifier: MIT */
/* Files from compose/ and devcontainer/ and images/seccomp.json, embedded
 * at build time by gen-embed (a meson custom_target); names are relative to
 * the source root, e.g. "compose/docker-compose.yml". */
#pragma once

#include <stddef.h>
#include <string.h>

struct embed_file {
        const char *name;
        const unsigned char *data;      /* NUL-terminated */
        size_t size;                    /* without the NUL */
};

extern const struct embed_file embed_files[];
extern const size_t embed_n_files;

static inline const struct embed_file *embed_find(const char *name) {
        for (size_t i = 0; i < embed_n_files; i++)
                if (strcmp(embed_files[i].name, name) == 0)
                        return &embed_files[i];
        return NULL;
}
