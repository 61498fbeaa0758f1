/* SPDX-License-Identifier: MIT */
/* agentbox bump: pin the image references of the project's compose and
 * devcontainer files to what is on this machine now (a registry digest, or
 * the image ID when the image was built here and has none). */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "verbutil.h"

#define BUMP_MARK "agentbox bump: "

bool bump_find_ref(const char *line, bool json, size_t *ret_start, size_t *ret_end) {
        const char *s = line + strspn(line, " \t");
        const char *key = json ? "\"image\"" : "image";
        if (strncmp(s, key, strlen(key)) != 0)
                return false;
        s += strlen(key);
        s += strspn(s, " \t");
        if (*s++ != ':')
                return false;
        s += strspn(s, " \t");
        if (*s == '"' || *s == '\'')
                s++;
        if (strncmp(s, "${", 2) == 0) {
                const char *dflt = strstr(s, ":-");
                const char *close = strchr(s, '}');
                if (!dflt || !close || dflt > close)
                        return false;
                *ret_start = (size_t) (dflt + 2 - line);
                *ret_end = (size_t) (close - line);
        } else {
                size_t n = strcspn(s, "\"' \t#,\n");
                if (n == 0)
                        return false;
                *ret_start = (size_t) (s - line);
                *ret_end = *ret_start + n;
        }
        return *ret_end > *ret_start && !memchr(line + *ret_start, '$', *ret_end - *ret_start);
}

/* "sha256:ID[ DIGEST...]" from image inspect -> the pin and whether it is a digest. */
static int resolve_pin(const struct engine *e, const char *source, char **ret, bool *is_digest) {
        char *const args[] = { "image", "inspect", "--format", "{{.Id}}{{range .RepoDigests}} {{.}}{{end}}",
                               (char *) source, NULL };
        char what[512];
        snprintf(what, sizeof(what), "looking up the image %s", source);
        _cleanup_free_ char *out = NULL;
        int code = verb_engine_capture(e, args, what, &out);
        if (code)
                return code;
        char *save = NULL, *id = strtok_r(out, " \n", &save), *digest = strtok_r(NULL, " \n", &save);
        if (!id) {
                log_error("%s: %s image inspect printed no image ID; see %s image inspect %s", what, e->path, e->path,
                          source);
                return AGENTBOX_EXIT_ENGINE;
        }
        *is_digest = digest != NULL;
        *ret = strdup(digest ? digest : id);
        if (!*ret) {
                log_oom();
                return AGENTBOX_EXIT_FAILURE;
        }
        return 0;
}

/* The image name recorded by an earlier bump, else the reference itself. */
static char *bump_source(const char *line, size_t start, size_t end) {
        const char *mark = strstr(line, BUMP_MARK);
        if (mark) {
                mark += strlen(BUMP_MARK);
                return strndup(mark, strcspn(mark, " \t\n"));
        }
        return strndup(line + start, end - start);
}

static int bump_line(const struct engine *e, const char *file, unsigned lineno, const char *line, bool json,
                     FILE *out, unsigned *changed) {
        size_t start, end;
        if (!bump_find_ref(line, json, &start, &end)) {
                fputs(line, out);
                return 0;
        }
        _cleanup_free_ char *source = bump_source(line, start, end);
        _cleanup_free_ char *pin = NULL;
        bool digest = false;
        if (!source) {
                log_oom();
                return AGENTBOX_EXIT_FAILURE;
        }
        int code = resolve_pin(e, source, &pin, &digest);
        if (code)
                return code;
        const char *mark = strstr(line, json ? "//" : "#");
        size_t keep = mark && (size_t) (mark - line) > end ? (size_t) (mark - line) : strcspn(line, "\n");
        while (keep > end && (line[keep - 1] == ' ' || line[keep - 1] == '\t'))
                keep--;
        fprintf(out, "%.*s%s%.*s  %s " BUMP_MARK "%s\n", (int) start, line, pin, (int) (keep - end), line + end,
                json ? "//" : "#", source);
        printf("%s:%u: %s -> %s%s\n", file, lineno, source, pin,
               digest ? "" : " (image ID: no registry digest exists locally, so this pin holds on this machine only)");
        (*changed)++;
        return 0;
}

/* Replaces path whole, keeping its permission bits. */
static int write_over(const char *path, const char *data, size_t len) {
        struct stat st;
        if (stat(path, &st) < 0)
                return negative_errno();
        return base_write_file_atomic(path, data, len, st.st_mode & 07777);
}

static int bump_file(const struct engine *e, const char *path, unsigned *changed) {
        _cleanup_fclose_ FILE *in = fopen(path, "re");
        if (!in && errno == ENOENT)
                return 0;       /* the project has no such file */
        if (!in) {
                log_error_errno(negative_errno(), "cannot read %s: %m", path);
                return AGENTBOX_EXIT_FAILURE;
        }
        bool json = strstr(path, ".json") != NULL;
        char *buf = NULL;
        size_t size = 0, cap = 0;
        FILE *out = open_memstream(&buf, &size);
        if (!out) {
                log_oom();
                return AGENTBOX_EXIT_FAILURE;
        }
        _cleanup_free_ char *line = NULL;
        unsigned lineno = 0, before = *changed;
        int code = 0;
        while (code == 0 && getline(&line, &cap, in) >= 0)
                code = bump_line(e, path, ++lineno, line, json, out, changed);
        fclose(out);
        int r = code == 0 && *changed > before ? write_over(path, buf, size) : 0;
        if (r < 0) {
                log_error_errno(r, "could not rewrite %s: %m", path);
                code = AGENTBOX_EXIT_FAILURE;
        }
        free(buf);
        return code;
}

static int bump_project(const struct engine *e, const char *root) {
        static const char *const patterns[] = {
                "docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml",
                ".devcontainer/devcontainer.json", ".devcontainer/*/devcontainer.json",
        };
        unsigned changed = 0;
        for (size_t i = 0; i < ELEMENTSOF(patterns); i++) {
                _cleanup_free_ char *pattern = NULL;
                glob_t g = {};
                if (asprintf(&pattern, "%s/%s", root, patterns[i]) < 0) {
                        log_oom();
                        return AGENTBOX_EXIT_FAILURE;
                }
                /* The root may contain glob characters: only the last part is a pattern. */
                int r = strchr(patterns[i], '*') ? glob(pattern, GLOB_NOESCAPE, NULL, &g) : GLOB_NOMATCH;
                int code = 0;
                if (r == 0)
                        for (size_t k = 0; code == 0 && k < g.gl_pathc; k++)
                                code = bump_file(e, g.gl_pathv[k], &changed);
                else if (!strchr(patterns[i], '*'))
                        code = bump_file(e, pattern, &changed);
                globfree(&g);
                if (code)
                        return code;
        }
        if (changed == 0)
                printf("no image references found in %s (agentbox init writes them)\n", root);
        return 0;
}

static int cmd_bump(struct verb_call *c) {
        return bump_project(c->engine, c->project.path);
}

const struct verb verb_bump = {
        .name = "bump",
        .summary = "pin image references in the project's compose/devcontainer files",
        .usage =
                "Usage: agentbox bump [--dir D]\n\n"
                "Replace each image reference in docker-compose.yml, compose.yaml and\n"
                ".devcontainer/**/devcontainer.json with what this machine has now: the\n"
                "registry digest (name@sha256:...), or the image ID when the image was built\n"
                "here and has no digest (then the pin holds on this machine only; it says so).\n"
                "A comment records the name, so running bump again after a rebuild re-pins.\n",
        .needs = VERB_NEEDS_PROJECT | VERB_NEEDS_ENGINE,
        .run = cmd_bump,
};
