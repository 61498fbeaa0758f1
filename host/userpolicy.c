/* SPDX-License-Identifier: MIT */
#include "userpolicy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

static bool exists(const char *path) {
        return access(path, F_OK) == 0;
}

int userpolicy_open(const struct project *p, struct userpolicy *ret) {
        *ret = (struct userpolicy) {};
        int r = project_policy_paths(p, &ret->global, &ret->project);
        if (r < 0) {
                userpolicy_done(ret);
                return r;
        }
        ret->have_global = exists(ret->global);
        ret->have_project = exists(ret->project);
        return 0;
}

void userpolicy_done(struct userpolicy *u) {
        free(u->global);
        free(u->project);
        *u = (struct userpolicy) {};
}

/* What the parser made of a file (r, p): expanded, its diagnostics printed
 * and cleared. -EINVAL when there was an error. */
static int check_parsed(int r, struct policy *p, struct policy_diags *d) {
        if (r == 0)
                r = policy_expand(p, d);
        policy_diags_print(d, stderr);
        bool bad = r < 0 || policy_diags_has_errors(d);
        policy_diags_clear(d);
        return bad ? -EINVAL : 0;
}

int userpolicy_validate_file(const char *path) {
        struct policy_diags d = {};
        _cleanup_policy_ struct policy *p = NULL;
        int r = policy_parse_file(path, &p, &d);
        return check_parsed(r, p, &d);
}

/* The same check for bytes that would become the file at path. */
static int validate_buffer(const char *path, const char *data, size_t size) {
        struct policy_diags d = {};
        _cleanup_policy_ struct policy *p = NULL;
        int r = policy_parse_buffer(path, data, size, &p, &d);
        return check_parsed(r, p, &d);
}

static int layer(struct policy **acc, const char *path, struct policy_diags *d) {
        struct policy *p = NULL;
        int r = policy_parse_file(path, &p, d);
        if (r < 0)
                return r;
        if (!*acc) {
                *acc = p;
                return 0;
        }
        struct policy *merged = NULL;
        r = policy_merge(*acc, p, &merged, d);
        policy_free(p);
        if (r < 0)
                return r;
        policy_free(*acc);
        *acc = merged;
        return 0;
}

int userpolicy_effective(const struct userpolicy *u, struct policy **ret) {
        return userpolicy_effective_on(u, NULL, ret);
}

int userpolicy_effective_on(const struct userpolicy *u, struct policy *base, struct policy **ret) {
        struct policy_diags d = {};
        struct policy *acc = base;
        int r = 0;
        if (u->have_global)
                r = layer(&acc, u->global, &d);
        if (r == 0 && u->have_project)
                r = layer(&acc, u->project, &d);
        if (r == 0 && !acc)
                r = policy_new(&acc);
        if (r == 0)
                r = policy_expand(acc, &d);
        policy_diags_print(&d, stderr);
        policy_diags_clear(&d);
        if (r < 0) {
                policy_free(acc);
                return r;
        }
        *ret = acc;
        return 0;
}

bool userpolicy_domain_valid(const char *domain) {
        const char *name = strncmp(domain, "*.", 2) == 0 ? domain + 2 : domain;
        const char *reason = NULL;
        if (policy_hostname_valid(name, &reason))
                return true;
        log_error("'%s' is not a valid host name: %s", domain, reason ? reason : "invalid");
        return false;
}

/* Domain as written in a policy file ("*.x" for wildcards), lower case, no trailing dot. */
static char *normalize(const char *domain) {
        char *s = strdup(domain);
        if (!s)
                return NULL;
        for (char *c = s; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char) (*c - 'A' + 'a');
        size_t n = strlen(s);
        if (n > 1 && s[n - 1] == '.')
                s[n - 1] = '\0';
        return s;
}

/* Put the checked bytes into the existing file at path, keeping its inode:
 * `agentbox run` bind-mounts the file itself into the sandbox, and a bind
 * mount stays on the inode it was made with, so a rename would leave the
 * running sandbox reading the old policy after a reload. */
static int write_in_place(const char *path, const char *data, size_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        int r = base_write_all(fd, data, size);
        if (r == 0 && fsync(fd) < 0)
                r = negative_errno();
        return r;
}

/* p as YAML, checked by the parser before anything is written: a file it
 * rejects is never put in place. */
static int write_policy_file(const char *path, const struct policy *p) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&data, &size);
        if (!f)
                return log_oom();
        fputs("# agentbox policy for one project (edited by `agentbox policy add/remove`).\n", f);
        int r = policy_write_yaml(p, f);
        if (fclose(f) != 0 && r == 0)
                r = -ENOMEM;
        if (r == 0 && validate_buffer(path, data, size) < 0)
                r = -EINVAL;
        /* The sandbox's init runs as dev and reads the mounted file: policy
         * files are not secret, they must be world-readable. */
        if (r == 0)
                r = access(path, F_OK) == 0 ? write_in_place(path, data, size)
                                            : base_write_file_atomic(path, data, size, 0644);
        if (r < 0)
                log_error_errno(r, "could not write %s: %m", path);
        return r;
}

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return log_oom();
        for (char *s = dir + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(negative_errno(), "cannot create %s: %m", dir);
                *s = '/';
        }
        return 0;
}

static bool domain_is(const struct policy_domain *d, const char *written) {
        bool wild = strncmp(written, "*.", 2) == 0;
        return d->wildcard == wild && strcmp(d->name, wild ? written + 2 : written) == 0;
}

static bool listed(char *const *list, const struct policy_domain *d) {
        for (; list && *list; list++) {
                _cleanup_free_ char *n = normalize(*list);
                if (n && domain_is(d, n))
                        return true;
        }
        return false;
}

static int load_or_new(const char *path, struct policy **ret) {
        if (access(path, F_OK) < 0)
                return policy_new(ret);
        struct policy_diags d = {};
        int r = policy_parse_file(path, ret, &d);
        policy_diags_print(&d, stderr);
        policy_diags_clear(&d);
        if (r < 0)
                log_error("%s has errors; fix them first", path);
        return r;
}

/* The new domain list: the old one minus `remove`, plus `add`. Names point
 * into the old policy or into owned (which keeps them alive). */
static int build_domains(const struct policy *p, char *const *add, char *const *remove, struct strv *owned,
                         struct policy_domain **ret, size_t *ret_n) {
        size_t n_add = 0;
        for (char *const *a = add; a && *a; a++)
                n_add++;
        struct policy_domain *v = calloc(p->n_domains + n_add + 1, sizeof(*v));
        if (!v)
                return log_oom();
        size_t n = 0;
        for (size_t i = 0; i < p->n_domains; i++) {
                if (listed(remove, &p->domains[i]))
                        printf("removed %s%s\n", p->domains[i].wildcard ? "*." : "", p->domains[i].name);
                else
                        v[n++] = (struct policy_domain) { .name = p->domains[i].name, .wildcard = p->domains[i].wildcard };
        }
        for (char *const *rm = remove; rm && *rm; rm++) {
                bool found = false;
                for (size_t i = 0; i < p->n_domains && !found; i++) {
                        _cleanup_free_ char *x = normalize(*rm);
                        found = x && domain_is(&p->domains[i], x);
                }
                if (!found)
                        printf("%s was not in the policy\n", *rm);
        }
        for (char *const *a = add; a && *a; a++) {
                _cleanup_free_ char *x = normalize(*a);
                if (!x) {
                        free(v);
                        return log_oom();
                }
                bool wild = strncmp(x, "*.", 2) == 0;
                struct policy_domain cand = { .name = wild ? x + 2 : x, .wildcard = wild };
                bool dup = false;
                for (size_t i = 0; i < n && !dup; i++)
                        dup = v[i].wildcard == cand.wildcard && strcmp(v[i].name, cand.name) == 0;
                if (dup) {
                        printf("%s is already in the policy\n", x);
                        continue;
                }
                strv_push(owned, cand.name);
                if (strv_status(owned) < 0) {
                        free(v);
                        return log_oom();
                }
                v[n++] = (struct policy_domain) { .name = owned->v[owned->n - 1], .wildcard = wild };
                printf("added %s\n", x);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int userpolicy_edit(const char *path, char *const *add, char *const *remove) {
        for (char *const *a = add; a && *a; a++)
                if (!userpolicy_domain_valid(*a))
                        return -EINVAL;
        _cleanup_policy_ struct policy *p = NULL;
        int r = load_or_new(path, &p);
        if (r < 0)
                return r;
        _cleanup_strv_ struct strv owned = {};
        struct policy_domain *domains = NULL;
        size_t n = 0;
        r = build_domains(p, add, remove, &owned, &domains, &n);
        if (r < 0)
                return r;
        r = mkdir_parents(path);
        if (r == 0) {
                /* Write through the library's own emitter so every other key
                 * the user put in the file stays; the list is ours only for
                 * the duration of the write. */
                struct policy_domain *old = p->domains;
                size_t old_n = p->n_domains;
                p->domains = domains;
                p->n_domains = n;
                r = write_policy_file(path, p);
                p->domains = old;
                p->n_domains = old_n;
        }
        free(domains);
        if (r == 0)
                printf("wrote %s\n", path);
        return r;
}

int userpolicy_ensure_project(struct userpolicy *u) {
        if (u->have_project)
                return 0;
        int r = mkdir_parents(u->project);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(u->project, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "cannot create %s: %m", u->project);
        static const char text[] = "# agentbox policy for one project: agentbox policy add DOMAIN, then agentbox reload.\n"
                                   "domains: []\n";
        if (fd >= 0 && fchmod(fd, 0644) < 0)
                return log_error_errno(negative_errno(), "cannot write %s: %m", u->project);
        r = fd >= 0 ? base_write_all(fd, text, sizeof(text) - 1) : 0;
        if (r < 0)
                return log_error_errno(r, "cannot write %s: %m", u->project);
        u->have_project = true;
        return 0;
}
