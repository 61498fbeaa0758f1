/* SPDX-License-Identifier: MIT */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"

extern char **environ;

static bool is_executable_file(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The full path of `name` on $PATH, or NULL. */
static char *find_on_path(const char *name) {
        const char *path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return NULL;
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                char *full = NULL;
                if (asprintf(&full, "%s/%s", *dir ? dir : ".", name) < 0)
                        return NULL;
                if (is_executable_file(full))
                        return full;
                free(full);
        }
        return NULL;
}

static int resolve(const char *wanted, struct engine *ret) {
        char *path = strchr(wanted, '/') ? (is_executable_file(wanted) ? strdup(wanted) : NULL)
                                         : find_on_path(wanted);
        if (!path)
                return -ENOENT;
        const char *base = strrchr(path, '/');
        *ret = (struct engine) { .path = path, .podman = strstr(base ? base + 1 : path, "podman") != NULL };
        return 0;
}

int engine_find(const char *requested, struct engine *ret, const char **ret_wanted) {
        const char *wanted = requested && *requested ? requested : getenv("AGENTBOX_ENGINE");
        if (wanted && *wanted) {
                if (ret_wanted)
                        *ret_wanted = wanted;
                return resolve(wanted, ret);
        }
        if (ret_wanted)
                *ret_wanted = "docker or podman";
        if (resolve("docker", ret) == 0)
                return 0;
        return resolve("podman", ret);
}

void engine_done(struct engine *e) {
        free(e->path);
        e->path = NULL;
}

void engine_result_done(struct engine_result *r) {
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
}

static int setup_attr(posix_spawnattr_t *attr) {
        sigset_t def, none;
        /* agentbox ignores some signals while a child runs; the child must not inherit that. */
        sigemptyset(&def);
        sigaddset(&def, SIGINT);
        sigaddset(&def, SIGQUIT);
        sigaddset(&def, SIGTERM);
        sigaddset(&def, SIGHUP);
        sigaddset(&def, SIGPIPE);
        sigemptyset(&none);
        int r = posix_spawnattr_init(attr);
        if (r)
                return -r;
        posix_spawnattr_setsigdefault(attr, &def);
        posix_spawnattr_setsigmask(attr, &none);
        posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        return 0;
}

static int spawn(const struct engine *e, char *const *args, char *const *envp,
                 posix_spawn_file_actions_t *fa, pid_t *ret_pid) {
        struct strv argv = {};
        strv_push(&argv, e->path);
        strv_push_all(&argv, args);
        int r = strv_status(&argv);
        if (r == 0) {
                posix_spawnattr_t attr;
                r = setup_attr(&attr);
                if (r == 0) {
                        r = -posix_spawn(ret_pid, e->path, fa, &attr, strv_items(&argv),
                                         envp ? envp : environ);
                        posix_spawnattr_destroy(&attr);
                }
        }
        strv_done(&argv);
        return r;
}

int engine_wait(pid_t pid) {
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

struct capture {
        int fd;
        char *buf;
        size_t len, cap;
};

static int capture_read(struct capture *c) {
        if (c->len + 4096 + 1 > c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 8192;
                char *b = realloc(c->buf, cap);
                if (!b)
                        return -ENOMEM;
                c->buf = b;
                c->cap = cap;
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : -errno;
        c->len += (size_t) n;
        c->buf[c->len] = '\0';
        return n > 0;
}

/* Read both pipes until both reach EOF. */
static int drain(struct capture *c, size_t n) {
        for (;;) {
                struct pollfd p[2];
                size_t k = 0;
                for (size_t i = 0; i < n; i++)
                        if (c[i].fd >= 0)
                                p[k++] = (struct pollfd) { .fd = c[i].fd, .events = POLLIN };
                if (k == 0)
                        return 0;
                if (poll(p, k, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (size_t i = 0; i < n; i++) {
                        if (c[i].fd < 0)
                                continue;
                        for (size_t j = 0; j < k; j++) {
                                if (p[j].fd != c[i].fd || !p[j].revents)
                                        continue;
                                int r = capture_read(&c[i]);
                                if (r < 0)
                                        return r;
                                if (r == 0) {
                                        close(c[i].fd);
                                        c[i].fd = -1;
                                }
                        }
                }
        }
}

static int open_capture(posix_spawn_file_actions_t *fa, int target, struct capture *c, int *child_end) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        c->fd = p[0];
        *child_end = p[1];
        return -posix_spawn_file_actions_adddup2(fa, p[1], target);
}

int engine_run(const struct engine *e, char *const *args, char *const *envp, unsigned flags,
               struct engine_result *r) {
        struct capture cap[2] = { { .fd = -1 }, { .fd = -1 } };
        int child_ends[2] = { -1, -1 };
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int ret = -posix_spawn_file_actions_init(&fa);
        if (ret < 0)
                return ret;
        if (flags & ENGINE_CAPTURE_OUT)
                ret = open_capture(&fa, STDOUT_FILENO, &cap[0], &child_ends[0]);
        else if (flags & ENGINE_QUIET_OUT)
                ret = -posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        if (ret == 0 && (flags & ENGINE_CAPTURE_ERR))
                ret = open_capture(&fa, STDERR_FILENO, &cap[1], &child_ends[1]);
        if (ret == 0)
                ret = spawn(e, args, envp, &fa, &pid);
        posix_spawn_file_actions_destroy(&fa);
        for (size_t i = 0; i < 2; i++)
                if (child_ends[i] >= 0)
                        close(child_ends[i]);
        if (ret == 0)
                ret = drain(cap, 2);
        for (size_t i = 0; i < 2; i++)
                if (cap[i].fd >= 0)
                        close(cap[i].fd);
        if (ret == 0) {
                int code = engine_wait(pid);
                ret = code < 0 ? code : 0;
                *r = (struct engine_result) { .exit_code = code };
                /* An empty capture is "", not NULL, so callers can always read it. */
                if (flags & ENGINE_CAPTURE_OUT)
                        r->out = cap[0].buf ? TAKE_PTR(cap[0].buf) : strdup("");
                if (flags & ENGINE_CAPTURE_ERR)
                        r->err = cap[1].buf ? TAKE_PTR(cap[1].buf) : strdup("");
        }
        free(cap[0].buf);
        free(cap[1].buf);
        return ret;
}

/* Start the engine with the write end of a new pipe as its stderr and, for
 * a log reader, as its stdout too, with stdin from /dev/null. */
static int spawn_piped(const struct engine *e, char *const *args, char *const *envp, bool reader, pid_t *ret_pid,
                       int *ret_fd) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_t fa;
        int r = -posix_spawn_file_actions_init(&fa);
        if (r == 0) {
                r = -posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
                if (r == 0 && reader)
                        r = -posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
                if (r == 0 && reader)
                        r = -posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
                if (r == 0)
                        r = spawn(e, args, envp, &fa, ret_pid);
                posix_spawn_file_actions_destroy(&fa);
        }
        close(p[1]);
        if (r < 0) {
                close(p[0]);
                return r;
        }
        *ret_fd = p[0];
        return 0;
}

int engine_spawn_reader(const struct engine *e, char *const *args, pid_t *ret_pid, int *ret_fd) {
        return spawn_piped(e, args, NULL, true, ret_pid, ret_fd);
}

int engine_spawn_stderr_pipe(const struct engine *e, char *const *args, char *const *envp, pid_t *ret_pid,
                             int *ret_fd) {
        return spawn_piped(e, args, envp, false, ret_pid, ret_fd);
}
