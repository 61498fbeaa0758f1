/* SPDX-License-Identifier: MIT */
#include "sandbox.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agents-names.h"
#include "attach.h"
#include "log.h"
#include "macro.h"

const struct agent *agent_find(const char *name) {
        if (strcmp(name, "base") == 0)
                name = "none";
        for (const struct agent *a = agent_table; a->name; a++)
                if (strcmp(a->name, name) == 0)
                        return a;
        return NULL;
}

const char *agent_names(void) {
        return AGENT_NAMES;
}

int sandbox_state(const struct engine *e, const char *name, enum sandbox_state *ret) {
        char *const args[] = { "container", "inspect", "--format", "{{.State.Running}}", (char *) name, NULL };
        struct engine_result r = {};
        int k = engine_run(e, args, NULL, ENGINE_CAPTURE_OUT | ENGINE_CAPTURE_ERR, &r);
        if (k < 0)
                return engine_report_spawn_error(e, k);
        int code = 0;
        if (r.exit_code == 0)
                *ret = strncmp(r.out, "true", 4) == 0 ? SANDBOX_RUNNING : SANDBOX_STOPPED;
        else if (engine_failure_kind(r.err) == ENGINE_FAILURE_NO_CONTAINER)
                *ret = SANDBOX_ABSENT;
        else
                code = engine_report_failure(e, "inspecting the sandbox", &r);
        engine_result_done(&r);
        return code;
}

int sandbox_exec_argv(const char *name, bool tty, char *const *env_names, char *const *cmd, struct strv *ret) {
        struct strv a = {};
        strv_push_many(&a, "exec", "-i", NULL);
        if (tty)
                strv_push(&a, "-t");
        strv_push_many(&a, "-u", "dev", "-w", "/workspace", NULL);
        for (; env_names && *env_names; env_names++)
                strv_push_many(&a, "-e", *env_names, NULL);
        strv_push(&a, name);
        strv_push_all(&a, cmd);
        int r = strv_status(&a);
        if (r < 0) {
                strv_done(&a);
                return r;
        }
        *ret = a;
        return 0;
}

int sandbox_run_attached(const struct engine *e, char *const *args, char *const *envp) {
        struct stderr_relay relay;
        int code = attach_run(e, args, envp, ATTACH_FORWARD, &relay, NULL);
        if (code < 0)
                return engine_report_spawn_error(e, code);
        stderr_relay_release(&relay);
        return code;
}

static bool is_error_line(const char *line) {
        return strstr(line, ": error: ") || strstr(line, "\"level\":\"error\"");
}

struct ready_reader {
        char buf[8192];
        size_t len;
        char last_error[1024];
        bool echo, ready;
};

/* Consume complete lines in the buffer. */
static void ready_lines(struct ready_reader *rr) {
        char *start = rr->buf, *nl;
        while (!rr->ready && (nl = memchr(start, '\n', rr->len - (size_t) (start - rr->buf)))) {
                *nl = '\0';
                if (rr->echo)
                        fprintf(stderr, "%s\n", start);
                if (is_error_line(start))
                        snprintf(rr->last_error, sizeof(rr->last_error), "%.1000s", start);
                if (strstr(start, SANDBOX_READY_TEXT))
                        rr->ready = true;
                start = nl + 1;
        }
        rr->len -= (size_t) (start - rr->buf);
        memmove(rr->buf, start, rr->len);
        if (rr->len == sizeof(rr->buf) - 1)
                rr->len = 0;    /* an endless line: drop it */
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int read_until_ready(int fd, struct ready_reader *rr, unsigned timeout_sec) {
        int64_t deadline = now_ms() + (int64_t) timeout_sec * 1000;
        while (!rr->ready) {
                int64_t left = deadline - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int n = poll(&p, 1, (int) left);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n <= 0)
                        continue;
                ssize_t got = read(fd, rr->buf + rr->len, sizeof(rr->buf) - 1 - rr->len);
                if (got < 0 && errno != EINTR)
                        return -errno;
                if (got == 0)
                        return -EPIPE;  /* the stream ended: the container is gone */
                if (got > 0) {
                        rr->len += (size_t) got;
                        ready_lines(rr);
                }
        }
        return 0;
}

int sandbox_wait_ready(const struct engine *e, const char *name, bool echo, unsigned timeout_sec) {
        char *const args[] = { "logs", "-f", (char *) name, NULL };
        struct ready_reader rr = { .echo = echo };
        pid_t pid;
        int fd;
        int r = engine_spawn_reader(e, args, &pid, &fd);
        if (r < 0)
                return engine_report_spawn_error(e, r);
        r = read_until_ready(fd, &rr, timeout_sec);
        if (r == 0 || r == -ETIMEDOUT)
                kill(pid, SIGTERM);
        close(fd);
        engine_wait(pid);
        if (r == 0)
                return 0;
        if (r == -ETIMEDOUT)
                log_error("the sandbox %s did not report ready within %u s; see agentbox logs",
                        name, timeout_sec);
        else if (rr.last_error[0])
                log_error("the sandbox %s stopped before it was ready: %s", name, rr.last_error);
        else
                log_error("the sandbox %s stopped before it was ready; see agentbox logs", name);
        return AGENTBOX_EXIT_FAILURE;
}

static int report_not_running(enum sandbox_state st, const char *project_path) {
        log_error("no %ssandbox for %s; start one with agentbox run",
                st == SANDBOX_STOPPED ? "running " : "", project_path);
        return AGENTBOX_EXIT_FAILURE;
}

int sandbox_require(const struct engine *e, const char *name, const char *project_path, bool running) {
        enum sandbox_state st;
        int code = sandbox_state(e, name, &st);
        if (code)
                return code;
        if (st == SANDBOX_RUNNING || (st == SANDBOX_STOPPED && !running))
                return 0;
        return report_not_running(st, project_path);
}

int sandbox_exec_attached(const struct engine *e, const char *name, const char *project_path, char *const *args,
                          char *const *envp) {
        /* Asking the engine first would cost a whole engine call on every
         * attach. The engine's own lines at the start of stderr are held
         * back instead: when the exec failed the way the engine fails
         * (docker 1, podman 125) saying there is no such (running)
         * container, and the engine confirms it, one line of ours replaces
         * them. Anything else is the command's, passed on unchanged. */
        struct stderr_relay relay;
        int code = attach_run(e, args, envp, ATTACH_FORWARD, &relay, NULL);
        if (code < 0)
                return engine_report_spawn_error(e, code);
        enum engine_failure kind = relay.held_len ? engine_failure_kind(relay.held) : ENGINE_FAILURE_UNKNOWN;
        if ((code != 1 && code != AGENTBOX_EXIT_ENGINE) || kind == ENGINE_FAILURE_UNKNOWN) {
                stderr_relay_release(&relay);
                return code;
        }
        if (kind != ENGINE_FAILURE_NO_CONTAINER && kind != ENGINE_FAILURE_NOT_RUNNING)
                return engine_report_failure(e, "attaching to the sandbox",
                                             &(struct engine_result) { .exit_code = code, .err = relay.held });
        enum sandbox_state st;
        int k = sandbox_state(e, name, &st);
        if (k)
                return k;
        if (st == SANDBOX_RUNNING) {
                stderr_relay_release(&relay);
                return code;
        }
        return report_not_running(st, project_path);
}
