/* SPDX-License-Identifier: MIT */
/* The machine-readable denial record: one JSON object per line, in two
 * files of a directory, DENIAL_FILE_CURRENT and DENIAL_FILE_OLDER. Lines are
 * appended to the current one; when the next line would take it past
 * DENIAL_FILE_HALF bytes it is renamed over the older one and a new one is
 * started. So both together never exceed twice that, the oldest lines go
 * first, and a reader gets every line oldest first by reading the older file
 * and then the current one. (A ring in one file would need a header and a
 * reader that copes with a wrap in the middle of a line; two append-only
 * files are read with cat.)
 *
 * The directory is the sandbox user's too (PID 1's effective uid is that
 * user's under Docker): the record is for information, not evidence. */
#pragma once

#include <stddef.h>

/* /tmp: the one place that is writable by the sandbox user under agentbox
 * and compose (a tmpfs there) and in devcontainers (no tmpfs; /run is
 * root's). */
#define DENIAL_DIR_DEFAULT "/tmp/agent-sandbox"
#define DENIAL_FILE_CURRENT "denials.jsonl"
#define DENIAL_FILE_OLDER "denials.jsonl.1"
#define DENIAL_FILE_HALF (256u * 1024u)
/* A record line is never longer (names are at most 253 bytes). */
#define DENIAL_LINE_MAX 1024u

struct denial_file;

/* Creates dir (0755) if missing and opens the current file for appending.
 * A directory or file that is a symbolic link, a file that is not a regular
 * file, and a directory owned by another user than PID 1's effective one
 * (or root) are refused. -errno, logged. */
int denial_file_open(const char *dir, struct denial_file **ret);

/* Appends one line (with its newline) in one write, rotating first when it
 * would not fit. A failure is logged (the 1st, 2nd, 4th... time) and the
 * line dropped: the record is not worth stopping anything for. */
void denial_file_append(struct denial_file *f, const char *line, size_t len);

void denial_file_free(struct denial_file *f);
