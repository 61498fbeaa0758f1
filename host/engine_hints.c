/* SPDX-License-Identifier: MIT */
/* The one place where the engine's stderr is read for meaning. The docker
 * and podman CLIs report most failures with exit code 125 (or 1) and a
 * sentence; the sentence is the only thing that tells "daemon down" from
 * "image missing", so this table maps those sentences to what the user
 * should do. Keep every pattern here. */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "log.h"

struct engine_hint {
        const char *pattern;    /* case-insensitive substring of stderr */
        enum engine_failure kind;
        const char *hint;
};

static const struct engine_hint hints[] = {
        { "permission denied while trying to connect to the docker daemon", ENGINE_FAILURE_DAEMON,
          "you may not use the Docker daemon: add yourself to the docker group (or run as root)" },
        { "cannot connect to the docker daemon", ENGINE_FAILURE_DAEMON,
          "the Docker daemon is not running: start dockerd (systemctl start docker, or `dockerd &`)" },
        { "is the docker daemon running", ENGINE_FAILURE_DAEMON,
          "the Docker daemon is not running: start dockerd (systemctl start docker, or `dockerd &`)" },
        { "error during connect", ENGINE_FAILURE_DAEMON,
          "the Docker daemon is not reachable: start dockerd or check DOCKER_HOST" },
        { "cannot connect to podman", ENGINE_FAILURE_DAEMON,
          "the podman service is not reachable: check CONTAINER_HOST or run podman locally" },
        { "unable to find image", ENGINE_FAILURE_NO_IMAGE,
          "the image is not on this machine: build it with images/build.sh" },
        { "no such image", ENGINE_FAILURE_NO_IMAGE,
          "the image is not on this machine: build it with images/build.sh" },
        { "pull access denied", ENGINE_FAILURE_NO_IMAGE,
          "the image is not on this machine: build it with images/build.sh" },
        { "image not known", ENGINE_FAILURE_NO_IMAGE,
          "the image is not on this machine: build it with images/build.sh" },
        { "port is already allocated", ENGINE_FAILURE_PORT,
          "a port given to --expose is already in use on the host: pick another one" },
        { "address already in use", ENGINE_FAILURE_PORT,
          "a port given to --expose is already in use on the host: pick another one" },
        { "is already in use by container", ENGINE_FAILURE_NAME_TAKEN,
          "a container with the sandbox's name already exists: remove it with agentbox down" },
        { "that name is already in use", ENGINE_FAILURE_NAME_TAKEN,     /* podman */
          "a container with the sandbox's name already exists: remove it with agentbox down" },
        { "no such container", ENGINE_FAILURE_NO_CONTAINER,
          "no sandbox is running for this project: start one with agentbox run" },
        { "no container with name or id", ENGINE_FAILURE_NO_CONTAINER,
          "no sandbox is running for this project: start one with agentbox run" },
        { "is not running", ENGINE_FAILURE_NOT_RUNNING,
          "the sandbox is not running: start it with agentbox run" },
        /* agentbox run puts only its own options before CMD's "--": one the
         * init does not know means an image built before that option. */
        { "agent-sandbox-init: unrecognized option '", ENGINE_FAILURE_OLD_INIT,
          "the image's agent-sandbox-init is older than this agentbox: rebuild the image (images/build.sh)" },
        { "no space left on device", ENGINE_FAILURE_OTHER,
          "the disk is full: free space (agentbox prune --volumes removes stopped sandboxes and their state)" },
        { "oci runtime", ENGINE_FAILURE_OTHER,
          "the container runtime failed: for podman use runc (see docs/agentbox.md); for docker check the daemon log" },
        { "executable file not found", ENGINE_FAILURE_OTHER,
          "the command does not exist in the image: check its name, or use a different agent image" },
};

static const char *find_ci(const char *haystack, const char *needle) {
        size_t n = strlen(needle);
        for (; *haystack; haystack++)
                if (strncasecmp(haystack, needle, n) == 0)
                        return haystack;
        return NULL;
}

static const struct engine_hint *lookup(const char *stderr_text) {
        if (!stderr_text)
                return NULL;
        for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
                if (find_ci(stderr_text, hints[i].pattern))
                        return &hints[i];
        return NULL;
}

const char *engine_failure_hint(const char *stderr_text) {
        const struct engine_hint *h = lookup(stderr_text);
        return h ? h->hint : NULL;
}

enum engine_failure engine_failure_kind(const char *stderr_text) {
        const struct engine_hint *h = lookup(stderr_text);
        return h ? h->kind : ENGINE_FAILURE_UNKNOWN;
}

/* The last non-empty line of text, without its newline, into buf; docker's
 * closing pointer to its usage ("See 'docker run --help'.") does not count. */
static const char *last_line(const char *text, char *buf, size_t size) {
        const char *end = text + strlen(text);
        for (;;) {
                while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
                        end--;
                const char *start = end;
                while (start > text && start[-1] != '\n')
                        start--;
                snprintf(buf, size, "%.*s", (int) (end - start), start);
                if (start == text || !strstr(buf, " --help"))
                        return buf;
                end = start;
        }
}

int engine_report_failure(const struct engine *e, const char *what, const struct engine_result *r) {
        const char *hint = engine_failure_hint(r->err);
        char line[512];
        if (hint)
                log_error("%s: %s", what, hint);
        else if (r->err && *last_line(r->err, line, sizeof(line)))
                log_error("%s failed (%s exited with %d): %s", what, e->path, r->exit_code, line);
        else
                log_error("%s failed: %s exited with %d", what, e->path, r->exit_code);
        return AGENTBOX_EXIT_ENGINE;
}

int engine_report_spawn_error(const struct engine *e, int err) {
        log_error_errno(err, "could not run %s: %m", e->path);
        return AGENTBOX_EXIT_ENGINE;
}
