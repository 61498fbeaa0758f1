/* SPDX-License-Identifier: MIT */
/* FNV-1a, 64 bits: a fast hash of a few bytes for a table's slot or a name
 * that must not change between versions and machines. Not for a table a
 * client fills with keys of its choosing, unless h starts from a random
 * seed and the result is mixed further (dnsproxy_grants.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The standard starting value; any other (a seed) works the same way. */
#define BASE_FNV1A_OFFSET 0xcbf29ce484222325ull

/* h continued over len bytes of data: base_fnv1a(BASE_FNV1A_OFFSET, ...)
 * is the FNV-1a of data; the result may be passed on to hash more. */
static inline uint64_t base_fnv1a(uint64_t h, const void *data, size_t len) {
        const unsigned char *p = data;
        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 0x100000001b3ull;
        return h;
}
