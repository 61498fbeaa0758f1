/* SPDX-License-Identifier: MIT */
/* A string written as a JSON string literal. */
#pragma once

#include <stdio.h>

/* Writes s to f between double quotes: '"' and '\\' as \" and \\, every
 * control byte (0x00-0x1f and 0x7f) as \u00XX, every other byte as it is
 * (UTF-8 passes through unchanged; it is not validated). The result is also
 * a YAML double-quoted scalar with the same value. s NULL: writes null.
 * Errors are the stream's: check ferror(f) or fflush(f) afterwards. */
void base_json_write_string(FILE *f, const char *s);
