/* SPDX-License-Identifier: MIT */
/* The engine's stderr relay of `agentbox run`: everything passes through
 * unchanged, except a stream whose first line says the sandbox's name is
 * taken, which is withheld whole however the bytes are split. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "stderr_relay.h"
#include "tap.h"

struct sink {
        int rd, wr;
};

static void sink_open(struct sink *s) {
        int p[2];
        if (pipe2(p, O_NONBLOCK) < 0)
                _exit(99);
        s->rd = p[0];
        s->wr = p[1];
}

/* Everything written so far, NUL-terminated; closes the sink. */
static const char *sink_take(struct sink *s) {
        static char buf[16384];
        ssize_t n = read(s->rd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(s->rd);
        close(s->wr);
        return buf;
}

/* Feed text in pieces of `step` bytes, then end the stream. */
static struct stderr_relay relay_text(struct sink *s, const char *text, size_t step) {
        struct stderr_relay r;
        sink_open(s);
        stderr_relay_init(&r, s->wr);
        for (size_t off = 0, n = strlen(text); off < n; off += step)
                stderr_relay_feed(&r, text + off, n - off < step ? n - off : step);
        stderr_relay_end(&r);
        return r;
}

static const char docker_conflict[] =
        "docker: Error response from daemon: Conflict. The container name \"/agentbox-p-0123abcd\" is already in use "
        "by container \"4f2c\". You have to remove (or rename) that container to be able to reuse that name.\n"
        "\n"
        "Run 'docker run --help' for more information\n";
static const char podman_conflict[] =
        "Error: creating container storage: the container name \"agentbox-p-0123abcd\" is already in use by 4f2c. "
        "You have to remove that container to be able to reuse that name: that name is already in use\n";
static const char daemon_down[] =
        "docker: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
        "See 'docker run --help'.\n";
static const char init_log[] =
        "agent-sandbox-init: reading /etc/agent-sandbox/policy.yaml\n"
        "agent-sandbox-init: sandbox ready in 23.0 ms\n"
        "a prompt without a newline $ ";
static const char pulled[] =
        "Unable to find image 'img:1' locally\n"
        "1: Pulling from library/img\n"
        "agent-sandbox-init: sandbox ready in 23.0 ms\n";

int main(void) {
        static const size_t steps[] = { 1, 7, 4096 };
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                struct sink s;
                struct stderr_relay r = relay_text(&s, init_log, steps[i]);
                TAP_CHECK_STR(sink_take(&s), init_log, "the init's lines and a partial last line pass unchanged");
                TAP_CHECK(r.passing && !r.name_taken && r.held_len == 0,
                          "an ordinary stream is passed on (pieces of %zu)", steps[i]);

                r = relay_text(&s, docker_conflict, steps[i]);
                TAP_CHECK_STR(sink_take(&s), "", "docker's name conflict is withheld whole");
                TAP_CHECK(r.name_taken, "docker's conflict is recognised (pieces of %zu)", steps[i]);
                TAP_CHECK_STR(r.held, docker_conflict, "what the engine said is kept for the caller");

                r = relay_text(&s, pulled, steps[i]);
                TAP_CHECK_STR(sink_take(&s), pulled, "a missing image that is then pulled: everything passes in order");
        }

        struct sink s;
        struct stderr_relay r = relay_text(&s, podman_conflict, 5);
        TAP_CHECK(r.name_taken && sink_take(&s)[0] == '\0', "podman's name conflict is recognised and withheld");

        r = relay_text(&s, daemon_down, 9);
        TAP_CHECK(!r.name_taken && !r.passing && sink_take(&s)[0] == '\0', "a daemon that is down: withheld");
        TAP_CHECK(engine_failure_kind(r.held) == ENGINE_FAILURE_DAEMON, "and kept for the one-line report");

        /* The engine did not fail after all (its exit code says so): the
         * caller releases what was withheld. */
        sink_open(&s);
        stderr_relay_init(&r, s.wr);
        stderr_relay_feed(&r, daemon_down, strlen(daemon_down));
        stderr_relay_end(&r);
        stderr_relay_release(&r);
        TAP_CHECK_STR(sink_take(&s), daemon_down, "released lines come out unchanged");

        /* A conflict later in the stream is the command's own output. */
        char later[512];
        snprintf(later, sizeof(later), "agent-sandbox-init: sandbox ready\n%s", docker_conflict);
        r = relay_text(&s, later, 3);
        TAP_CHECK_STR(sink_take(&s), later, "only the lines before the first other line can be the engine's");
        TAP_CHECK(!r.name_taken, "a conflict after the init's first line is not ours");

        /* The command's own output passes at once, even without a newline:
         * relayed byte by byte, each byte is out before the next comes. */
        sink_open(&s);
        stderr_relay_init(&r, s.wr);
        stderr_relay_feed(&r, ">", 1);
        stderr_relay_feed(&r, ">> ", 3);
        TAP_CHECK(r.passing, "a prompt is not held back");
        stderr_relay_end(&r);
        TAP_CHECK_STR(sink_take(&s), ">>> ", "and comes out unchanged");
        /* One that may still become an engine message waits for its newline. */
        sink_open(&s);
        stderr_relay_init(&r, s.wr);
        stderr_relay_feed(&r, "Err", 3);
        TAP_CHECK(!r.passing && r.line_len == 3, "'Err' may be the engine's: held");
        stderr_relay_feed(&r, "or: nothing of the engine's\n", 28);
        stderr_relay_end(&r);
        stderr_relay_release(&r);
        TAP_CHECK_STR(sink_take(&s), "Error: nothing of the engine's\n", "an unknown 'Error' line passes");

        /* A first line with no end in sight is passed on once the buffer is full. */
        static char longline[6000];
        memset(longline, 'x', sizeof(longline) - 1);
        r = relay_text(&s, longline, 1000);
        TAP_CHECK_STR(sink_take(&s), longline, "an endless first line still passes whole");

        r = relay_text(&s, "agentbox-unfinished", 4);
        TAP_CHECK_STR(sink_take(&s), "agentbox-unfinished", "a first line cut by the end of the stream passes");
        return tap_done();
}
