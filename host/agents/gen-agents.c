/* SPDX-License-Identifier: MIT */
/* Build-time generator over images/agents.catalog (its header says what the
 * fields are). Two uses:
 *   gen-agents table CATALOG OUT.c OUT.h   agentbox's agent table
 *   gen-agents subst CATALOG IN OUT        IN with @AGENTS@ (names, spaces),
 *                                          @AGENTS_BAR@ (names, |) and
 *                                          @AGENTS_MAN@ (scdoc list) replaced
 * Both add the agent "none" (the base image, bash) after the catalog's. A
 * malformed line stops the build with its line number. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_AGENTS 64
#define N_FIELDS 8

enum { F_NAME, F_PACKAGE, F_VERSION, F_NODE, F_COMMAND, F_SERVICE, F_STATE, F_KEYS };
static const char *const field_names[N_FIELDS] = {
        "name", "package", "version", "node", "command", "service", "state", "keys",
};

struct entry {
        char *field[N_FIELDS];
};

static struct entry agents[MAX_AGENTS];
static size_t n_agents;

/* Fields become C string literals and shell words: no quotes, backslashes,
 * dollars or control characters. */
static bool field_ok(const char *s) {
        for (; *s; s++)
                if (!isgraph((unsigned char) *s) || strchr("\"\\$`'", *s))
                        return false;
        return true;
}

static bool name_ok(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!islower((unsigned char) *s) && !isdigit((unsigned char) *s) && *s != '-')
                        return false;
        return true;
}

static int parse_line(const char *path, unsigned lineno, char *line) {
        struct entry e = {};
        size_t n = 0;
        for (char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
                if (n == N_FIELDS) {
                        fprintf(stderr, "%s:%u: more than %d fields\n", path, lineno, N_FIELDS);
                        return -EINVAL;
                }
                if (!field_ok(tok)) {
                        fprintf(stderr, "%s:%u: %s '%s' has a character that is not allowed\n", path, lineno,
                                field_names[n], tok);
                        return -EINVAL;
                }
                e.field[n++] = strdup(tok);
        }
        if (n == 0)
                return 0;
        if (n != N_FIELDS) {
                fprintf(stderr, "%s:%u: %zu fields, expected %d (%s ... %s)\n", path, lineno, n, N_FIELDS,
                        field_names[0], field_names[N_FIELDS - 1]);
                return -EINVAL;
        }
        if (!name_ok(e.field[F_NAME]) || strcmp(e.field[F_NAME], "none") == 0 || strcmp(e.field[F_NAME], "all") == 0 ||
            strcmp(e.field[F_NAME], "base") == 0) {
                fprintf(stderr, "%s:%u: agent name '%s': lowercase letters, digits and -, not none, base or all\n",
                        path, lineno, e.field[F_NAME]);
                return -EINVAL;
        }
        for (size_t i = 0; i < n_agents; i++)
                if (strcmp(agents[i].field[F_NAME], e.field[F_NAME]) == 0) {
                        fprintf(stderr, "%s:%u: agent '%s' is listed twice\n", path, lineno, e.field[F_NAME]);
                        return -EINVAL;
                }
        for (int f = F_PACKAGE; f <= F_STATE; f++)
                if (f != F_NODE && strcmp(e.field[f], "-") == 0) {
                        fprintf(stderr, "%s:%u: agent '%s' needs a %s\n", path, lineno, e.field[F_NAME], field_names[f]);
                        return -EINVAL;
                }
        if (e.field[F_STATE][0] == '/' || strstr(e.field[F_STATE], "..")) {
                fprintf(stderr, "%s:%u: state '%s' must be a path under /home/dev without ..\n", path, lineno,
                        e.field[F_STATE]);
                return -EINVAL;
        }
        if (n_agents == MAX_AGENTS) {
                fprintf(stderr, "%s:%u: more than %d agents\n", path, lineno, MAX_AGENTS);
                return -E2BIG;
        }
        agents[n_agents++] = e;
        return 0;
}

static int read_catalog(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "gen-agents: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        char *line = NULL;
        size_t size = 0;
        unsigned lineno = 0;
        int r = 0;
        while (r == 0 && getline(&line, &size, f) >= 0) {
                lineno++;
                const char *s = line + strspn(line, " \t");
                if (*s != '#')
                        r = parse_line(path, lineno, line);
        }
        free(line);
        fclose(f);
        if (r == 0 && n_agents == 0) {
                fprintf(stderr, "%s: no agents\n", path);
                r = -EINVAL;
        }
        return r;
}

static void emit_keys(FILE *out, const char *keys) {
        fputs("(const char *const[]) { ", out);
        if (strcmp(keys, "-") != 0) {
                char *copy = strdup(keys);
                for (char *save = NULL, *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save))
                        fprintf(out, "\"%s\", ", k);
                free(copy);
        }
        fputs("NULL }", out);
}

static const char *or_null(const char *s, char *buf, size_t size) {
        if (strcmp(s, "-") == 0)
                return "NULL";
        snprintf(buf, size, "\"%s\"", s);
        return buf;
}

static int write_table(const char *out_c, const char *out_h) {
        FILE *c = fopen(out_c, "we"), *h = fopen(out_h, "we");
        if (!c || !h) {
                fprintf(stderr, "gen-agents: %s: %s\n", c ? out_h : out_c, strerror(errno));
                return -errno;
        }
        fprintf(h, "/* Generated by gen-agents from images/agents.catalog; do not edit. */\n#pragma once\n\n");
        fprintf(h, "#define AGENT_NAMES \"");
        for (size_t i = 0; i < n_agents; i++)
                fprintf(h, "%s, ", agents[i].field[F_NAME]);
        fprintf(h, "none\"\n#define AGENT_NAMES_BAR \"");
        for (size_t i = 0; i < n_agents; i++)
                fprintf(h, "%s|", agents[i].field[F_NAME]);
        fprintf(h, "none\"\n#define AGENT_COUNT %zu\n", n_agents);

        fprintf(c, "/* Generated by gen-agents from images/agents.catalog; do not edit. */\n"
                   "#include <stddef.h>\n\n#include \"sandbox.h\"\n\nconst struct agent agent_table[] = {\n");
        for (size_t i = 0; i < n_agents; i++) {
                char **f = agents[i].field, node[256];
                fprintf(c, "        {\n                .name = \"%s\",\n                .image = \"agent-sandbox-%s:local\",\n"
                           "                .command = \"%s\",\n                .state_dir = \"%s\",\n"
                           "                .package = \"%s\",\n                .version = \"%s\",\n"
                           "                .node_engine = %s,\n                .service = \"%s\",\n                .keys = ",
                        f[F_NAME], f[F_NAME], f[F_COMMAND], f[F_STATE], f[F_PACKAGE], f[F_VERSION],
                        or_null(f[F_NODE], node, sizeof(node)), f[F_SERVICE]);
                emit_keys(c, f[F_KEYS]);
                fprintf(c, ",\n        },\n");
        }
        fprintf(c, "        { .name = \"none\", .image = \"agent-sandbox-base:local\", .command = \"bash\",\n"
                   "          .keys = (const char *const[]) { NULL } },\n        { NULL },\n};\n");
        int r = 0;
        if (fclose(c) != 0 || fclose(h) != 0)
                r = -EIO;
        return r;
}

static void put_list(FILE *out, const char *sep) {
        for (size_t i = 0; i < n_agents; i++)
                fprintf(out, "%s%s", agents[i].field[F_NAME], sep);
        fputs("none", out);
}

/* One scdoc list item per agent. */
static void put_man(FILE *out) {
        for (size_t i = 0; i < n_agents; i++) {
                char **f = agents[i].field;
                fprintf(out, "- *%s*: %s %s, runs *%s*, service *%s*, state in ~/%s", f[F_NAME], f[F_PACKAGE],
                        f[F_VERSION], f[F_COMMAND], f[F_SERVICE], f[F_STATE]);
                if (strcmp(f[F_KEYS], "-") != 0) {
                        fputs(", passes ", out);
                        for (const char *k = f[F_KEYS]; *k; k++)
                                fputs(*k == ',' ? ", " : (char[]) { *k, 0 }, out);
                }
                fputc('\n', out);
        }
        fputs("- *none*: the base image, runs *bash*", out);
}

static int subst(const char *in_path, const char *out_path) {
        FILE *in = fopen(in_path, "re");
        FILE *out = in ? fopen(out_path, "we") : NULL;
        if (!in || !out) {
                fprintf(stderr, "gen-agents: %s: %s\n", in ? out_path : in_path, strerror(errno));
                return -errno;
        }
        char *line = NULL;
        size_t size = 0;
        while (getline(&line, &size, in) >= 0)
                for (const char *s = line; *s;) {
                        if (strncmp(s, "@AGENTS@", 8) == 0)
                                put_list(out, " "), s += 8;
                        else if (strncmp(s, "@AGENTS_BAR@", 12) == 0)
                                put_list(out, "|"), s += 12;
                        else if (strncmp(s, "@AGENTS_MAN@", 12) == 0)
                                put_man(out), s += 12;
                        else
                                fputc(*s++, out);
                }
        free(line);
        fclose(in);
        return fclose(out) == 0 ? 0 : -EIO;
}

int main(int argc, char **argv) {
        if (argc == 5 && strcmp(argv[1], "table") == 0)
                return read_catalog(argv[2]) < 0 || write_table(argv[3], argv[4]) < 0;
        if (argc == 5 && strcmp(argv[1], "subst") == 0)
                return read_catalog(argv[2]) < 0 || subst(argv[3], argv[4]) < 0;
        fprintf(stderr, "usage: gen-agents table CATALOG OUT.c OUT.h | subst CATALOG IN OUT\n");
        return 2;
}
