/* SPDX-License-Identifier: MIT */
#include "cmd_denials.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "denial_file.h"
#include "macro.h"

/* The record is the sandbox user's to write as well: read no more of a
 * file than PID 1 ever lets it grow to, with some slack. */
#define READ_MAX (2u * DENIAL_FILE_HALF)

static void usage(FILE *f) {
        fprintf(f,
                "Usage: agent-sandbox-init denials [--since SECONDS] [--dir DIR]\n"
                "\n"
                "Print the connections, DNS queries and names this sandbox refused, as JSON\n"
                "lines, oldest first: {\"time\", \"kind\" (connect|dns|name), \"proto\", \"dst\", \"port\",\n"
                "\"name\", \"resolved_ago\", \"uid\", \"reason\", \"count\"}. A line counts the\n"
                "denials since the previous line of the same destination.\n"
                "\n"
                "      --since SECONDS  only those of the last SECONDS seconds\n"
                "      --dir DIR        where PID 1 keeps the record (default: %s)\n",
                DENIAL_DIR_DEFAULT);
}

/* A line PID 1 wrote starts {"time":N, and is one object on one line;
 * anything else in the file was not written by PID 1 and is skipped. */
static bool line_time(const char *line, size_t len, long long *ret) {
        static const char prefix[] = "{\"time\":";
        if (len < sizeof(prefix) + 1 || memcmp(line, prefix, sizeof(prefix) - 1) != 0 || line[len - 1] != '}')
                return false;
        char *end;
        errno = 0;
        long long t = strtoll(line + sizeof(prefix) - 1, &end, 10);
        if (errno || end == line + sizeof(prefix) - 1 || *end != ',')
                return false;
        *ret = t;
        return true;
}

static int print_file(int dir_fd, const char *name, long long since) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        _cleanup_free_ char *buf = malloc(READ_MAX + 1);
        if (!buf)
                return -ENOMEM;
        size_t len = 0;
        while (len < READ_MAX) {
                ssize_t n = read(fd, buf + len, READ_MAX - len);
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        for (size_t start = 0; start < len;) {
                char *nl = memchr(buf + start, '\n', len - start);
                if (!nl)
                        break;          /* a line being written, or cut off */
                size_t n = (size_t) (nl - (buf + start));
                long long t;
                if (n <= DENIAL_LINE_MAX && line_time(buf + start, n, &t) && t >= since)
                        fwrite(buf + start, 1, n + 1, stdout);
                start += n + 1;
        }
        return 0;
}

int cmd_denials(int argc, char **argv) {
        static const struct option options[] = {
                {"since", required_argument, NULL, 's'},
                {"dir", required_argument, NULL, 'd'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *dir = DENIAL_DIR_DEFAULT;
        long long since = 0;
        int opt;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (opt) {
                case 's': {
                        char *end;
                        errno = 0;
                        long long s = strtoll(optarg, &end, 10);
                        if (errno || !*optarg || *end || s < 0) {
                                fprintf(stderr, "agent-sandbox-init: denials: --since takes whole seconds, not '%s'\n", optarg);
                                return 2;
                        }
                        since = (long long) time(NULL) - s;
                        break;
                }
                case 'd':
                        dir = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }
        _cleanup_close_ int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                if (errno == ENOENT)
                        return 0;       /* nothing refused yet, or not kept */
                fprintf(stderr, "agent-sandbox-init: denials: cannot open %s: %s\n", dir, strerror(errno));
                return 1;
        }
        /* Oldest first: the older file, then the current one. */
        const char *files[] = { DENIAL_FILE_OLDER, DENIAL_FILE_CURRENT };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                int r = print_file(dir_fd, files[i], since);
                if (r < 0) {
                        fprintf(stderr, "agent-sandbox-init: denials: cannot read %s/%s: %s\n", dir, files[i], strerror(-r));
                        return 1;
                }
        }
        return fflush(stdout) == 0 ? 0 : 1;
}
