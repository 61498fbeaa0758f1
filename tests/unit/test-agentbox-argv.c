/* SPDX-License-Identifier: MIT */
/* Option parsing per verb and the exact engine argv each verb builds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "tap.h"

#define ARGV(...) ((char *[]) { __VA_ARGS__, NULL })
#define ARGC(...) ((int) (sizeof((char *[]) { __VA_ARGS__ }) / sizeof(char *)))

static char *joined(char *const *v) {
        static char buf[4096];
        buf[0] = '\0';
        for (; v && *v; v++) {
                strcat(buf, buf[0] ? " " : "");
                strcat(buf, *v);
        }
        return buf;
}

/* The dispatcher's parse of one verb, as `agentbox VERB ...` runs it. */
static int parse(const struct verb *v, int argc, char **argv, void *opts, struct verb_call *c) {
        *c = (struct verb_call) { .opts = opts };
        return verb_parse(v, argc, argv, c);
}

static struct verb_call call;
#define PARSE_RUN(o, ...) parse(&verb_run, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), &call)
#define PARSE_SHELL(...) parse(&verb_shell, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), NULL, &call)

static void run_options(void) {
        struct run_opts o;
        TAP_CHECK(PARSE_RUN(&o, "run") == VERB_CONTINUE && !o.agent && !o.cmd && !o.keep, "run: defaults");
        run_opts_done(&o);

        int r = PARSE_RUN(&o, "run", "claude", "--keep", "-e", "A", "--env", "B=1", "--expose", "8080", "--image", "img",
                          "--policy", "/p.yaml", "--env-file", "/e", "--dir", "/d", "--network", "n1", "--dns", "192.0.2.53",
                          "--", "sh", "-c", "exit 7");
        TAP_CHECK(r == VERB_CONTINUE, "run: every option");
        TAP_CHECK_STR(o.agent, "claude", "run: agent");
        TAP_CHECK(o.keep, "run: --keep");
        TAP_CHECK_STR(joined(strv_items(&o.env)), "A B=1", "run: -e in order");
        TAP_CHECK_STR(joined(strv_items(&o.expose)), "8080", "run: --expose");
        TAP_CHECK_STR(o.image, "img", "run: --image");
        TAP_CHECK_STR(o.policy, "/p.yaml", "run: --policy");
        TAP_CHECK_STR(o.env_file, "/e", "run: --env-file");
        TAP_CHECK_STR(call.dir, "/d", "run: --dir");
        TAP_CHECK_STR(o.network, "n1", "run: --network");
        TAP_CHECK_STR(joined(strv_items(&o.dns)), "192.0.2.53", "run: --dns");
        TAP_CHECK_STR(joined(o.cmd), "sh -c exit 7", "run: the command after --");
        run_opts_done(&o);

        TAP_CHECK(PARSE_RUN(&o, "run", "--keep", "codex") == VERB_CONTINUE && strcmp(o.agent, "codex") == 0 && o.keep,
                  "run: options before the agent");
        run_opts_done(&o);
        TAP_CHECK(PARSE_RUN(&o, "run", "--", "--keep") == VERB_CONTINUE && !o.keep && strcmp(o.cmd[0], "--keep") == 0,
                  "run: options after -- belong to the command");
        run_opts_done(&o);
        TAP_CHECK(PARSE_RUN(&o, "run", "base") == VERB_CONTINUE, "run: base is an alias of none");
        run_opts_done(&o);

        static const char *const bad[][4] = {
                { "run", "--bogus" }, { "run", "martian" }, { "run", "claude", "codex" }, { "run", "--expose", "0" },
                { "run", "--expose", "http" }, { "run", "--" }, { "run", "--image" }, { "run", "-x" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *argv[5] = {};
                int argc = 0;
                for (; argc < 4 && bad[i][argc]; argc++)
                        argv[argc] = (char *) bad[i][argc];
                TAP_CHECK(parse(&verb_run, argc, argv, &o, &call) == AGENTBOX_EXIT_USAGE, "run: usage error for '%s %s'",
                          argv[1], argv[2] ? argv[2] : "");
                run_opts_done(&o);
        }
}

static void shell_options(void) {
        TAP_CHECK(PARSE_SHELL("shell") == VERB_CONTINUE && !call.cmd, "shell: bash by default");
        TAP_CHECK(PARSE_SHELL("exec", "--", "ls", "-l") == VERB_CONTINUE, "exec -- CMD");
        TAP_CHECK_STR(joined(call.cmd), "ls -l", "exec: the command");
        TAP_CHECK(PARSE_SHELL("shell", "--dir", "/x", "ls", "-l") == VERB_CONTINUE && strcmp(call.dir, "/x") == 0,
                  "shell: --dir then a command without --");
        TAP_CHECK_STR(joined(call.cmd), "ls -l", "shell: options of the command stay its own");
        TAP_CHECK(PARSE_SHELL("shell", "ls", "--help") == VERB_CONTINUE, "shell: --help after the command is the command's");
        TAP_CHECK_STR(joined(call.cmd), "ls --help", "shell: the command's --help");
        TAP_CHECK(PARSE_SHELL("shell", "--nope") == AGENTBOX_EXIT_USAGE, "shell: unknown option");
        TAP_CHECK(PARSE_SHELL("shell", "ls", "--", "x") == AGENTBOX_EXIT_USAGE, "shell: a word before -- and a command");
}

static void engine_argv(void) {
        struct project p = { .path = "/home/u/my project", .name = "agentbox-my-project-0123abcd", .hash = "0123abcd" };
        struct run_opts o = { .network = "testnet" };
        strv_push(&o.expose, "8080");
        strv_push(&o.dns, "198.18.7.2");
        struct run_policy_mounts m = { .global = "/c/policy.yaml", .project = "/c/projects/x.yaml", .user = "/u,1.yaml" };
        struct strv v = {};
        TAP_CHECK(run_create_argv(&o, &p, agent_find("claude"), "agent-sandbox-claude:local", "/c/seccomp.json", &m, NULL, &v) == 0, "run argv built");
        TAP_CHECK_STR(joined(strv_items(&v)),
                      "run -d --name agentbox-my-project-0123abcd --label=agentbox.project=/home/u/my project"
                      " --label=agentbox.agent=claude --cap-drop ALL --cap-add NET_ADMIN --cap-add SETPCAP --cap-add SETUID --cap-add SETGID --read-only"
                      " --tmpfs /tmp:exec --tmpfs /run --sysctl net.ipv4.ip_unprivileged_port_start=1024 --pids-limit 512 --memory 4g --security-opt=seccomp=/c/seccomp.json --network=testnet --dns=198.18.7.2"
                      " --publish=127.0.0.1:8080:8080"
                      " -v /home/u/my project:/workspace -v agentbox-state-claude-0123abcd:/home/dev/.claude"
                      " --tmpfs /home/dev/.cache:exec,mode=1777 --tmpfs /home/dev/.config:mode=1777 --tmpfs /home/dev/.local/state:mode=1777"
                      " --mount type=bind,src=/c/policy.yaml,dst=/etc/agent-sandbox/policy.d/00-global.yaml,readonly"
                      " --mount type=bind,src=/c/projects/x.yaml,dst=/etc/agent-sandbox/policy.d/50-project.yaml,readonly"
                      " --mount type=bind,\"src=/u,1.yaml\",dst=/etc/agent-sandbox/policy.d/user.yaml,readonly"
                      " agent-sandbox-claude:local",
                      "run argv for claude with every policy layer");
        strv_done(&v);
        run_opts_done(&o);
        o = (struct run_opts) {};

        struct project odd = { .path = "/w/a:b\"c", .name = "agentbox-a-b-c-0123abcd", .hash = "0123abcd" };
        run_create_argv(&o, &odd, agent_find("none"), "agent-sandbox-base:local", "/s.json", NULL, NULL, &v);
        TAP_CHECK_STR(joined(strv_items(&v)),
                      "run -d --name agentbox-a-b-c-0123abcd --label=agentbox.project=/w/a:b\"c --label=agentbox.agent=none"
                      " --cap-drop ALL --cap-add NET_ADMIN --cap-add SETPCAP --cap-add SETUID --cap-add SETGID --read-only --tmpfs /tmp --tmpfs /run --sysctl net.ipv4.ip_unprivileged_port_start=1024"
                      " --pids-limit 512 --memory 4g --security-opt=seccomp=/s.json --mount type=bind,\"src=/w/a:b\"\"c\",dst=/workspace"
                      " agent-sandbox-base:local",
                      "a path with ':' goes through --mount, CSV-quoted; no state volume for none");
        strv_done(&v);

        /* A fresh sandbox for one command: the init runs it, with the named
         * variables (values never on the command line) and ends with it. */
        struct run_command once = { .tty = true, .cidfile = "/run/user/1/agentbox-x/cid", .env_names = ARGV("A", "B"),
                                    .cmd = ARGV("sh", "-c", "exit 7") };
        TAP_CHECK(run_create_argv(&o, &odd, agent_find("none"), "agent-sandbox-base:local", "/s.json", NULL, &once, &v) == 0,
                  "run --rm argv built");
        TAP_CHECK_STR(joined(strv_items(&v)),
                      "run --rm -i -t --cidfile /run/user/1/agentbox-x/cid --name agentbox-a-b-c-0123abcd"
                      " --label=agentbox.project=/w/a:b\"c"
                      " --label=agentbox.agent=none"
                      " --cap-drop ALL --cap-add NET_ADMIN --cap-add SETPCAP --cap-add SETUID --cap-add SETGID --read-only --tmpfs /tmp --tmpfs /run --sysctl net.ipv4.ip_unprivileged_port_start=1024"
                      " --pids-limit 512 --memory 4g --security-opt=seccomp=/s.json --mount type=bind,\"src=/w/a:b\"\"c\",dst=/workspace"
                      " -e A -e B agent-sandbox-base:local --exit-with-cmd --log-level notice"
                      " --pass-env A --pass-env B -- sh -c exit 7",
                      "run --rm argv: -e names for the engine, --pass-env for the init, CMD after --");
        strv_done(&v);
        once = (struct run_command) { .verbose = true, .cmd = ARGV("bash") };
        run_create_argv(&o, &odd, agent_find("none"), "img", "/s.json", NULL, &once, &v);
        TAP_CHECK_STR(joined(strv_items(&v)),
                      "run --rm -i --name agentbox-a-b-c-0123abcd --label=agentbox.project=/w/a:b\"c"
                      " --label=agentbox.agent=none"
                      " --cap-drop ALL --cap-add NET_ADMIN --cap-add SETPCAP --cap-add SETUID --cap-add SETGID --read-only --tmpfs /tmp --tmpfs /run --sysctl net.ipv4.ip_unprivileged_port_start=1024"
                      " --pids-limit 512 --memory 4g --security-opt=seccomp=/s.json --mount type=bind,\"src=/w/a:b\"\"c\",dst=/workspace"
                      " img --exit-with-cmd -- bash",
                      "run --rm argv without a terminal (no -t) or variables; verbose: every step logged");
        strv_done(&v);

        TAP_CHECK(run_create_argv(&o, &odd, agent_find("none"), "img", NULL, NULL, &once, &v) == -EINVAL,
                  "no sandbox argv without the seccomp profile");

        sandbox_exec_argv("n", false, ARGV("A", "B"), ARGV("claude"), &v);
        TAP_CHECK_STR(joined(strv_items(&v)), "exec -i -u dev -w /workspace -e A -e B n claude", "exec argv, no TTY");
        strv_done(&v);
        sandbox_exec_argv("n", true, NULL, ARGV("bash"), &v);
        TAP_CHECK_STR(joined(strv_items(&v)), "exec -i -t -u dev -w /workspace n bash", "exec argv with a TTY");
        strv_done(&v);
        reload_argv("n", &v);
        TAP_CHECK_STR(joined(strv_items(&v)), "kill -s HUP n", "reload argv");
        strv_done(&v);
        logs_argv("n", true, &v);
        TAP_CHECK_STR(joined(strv_items(&v)), "logs -f n", "logs -f argv");
        strv_done(&v);
        down_argv("n", &v);
        TAP_CHECK_STR(joined(strv_items(&v)), "rm -f n", "down argv");
        strv_done(&v);
        prune_list_argv(&v);
        TAP_CHECK_STR(joined(strv_items(&v)),
                      "ps -a --filter label=agentbox.project --filter status=exited --filter status=created --format {{.Names}}",
                      "prune lists stopped agentbox containers by label");
        strv_done(&v);
        status_argv("n", &v);
        TAP_CHECK(v.n == 5 && strcmp(v.v[0], "container") == 0 && strcmp(v.v[4], "n") == 0, "status argv");
        strv_done(&v);
}

static void bump_refs(void) {
        size_t s, e;
        const char *l1 = "    image: ${AGENT_SANDBOX_IMAGE:-agent-sandbox-base:local}\n";
        TAP_CHECK(bump_find_ref(l1, false, &s, &e) && strncmp(l1 + s, "agent-sandbox-base:local", e - s) == 0 &&
                          e - s == 24,
                  "bump: the default of ${VAR:-REF}");
        const char *l2 = "  \"image\": \"agent-sandbox-base:local\",\n";
        TAP_CHECK(bump_find_ref(l2, true, &s, &e) && e - s == 24 && strncmp(l2 + s, "agent-sandbox-base:local", 24) == 0,
                  "bump: a JSON image");
        const char *l3 = "image: \"repo/x:1\" # note\n";
        TAP_CHECK(bump_find_ref(l3, false, &s, &e) && e - s == 8, "bump: a quoted YAML image");
        TAP_CHECK(!bump_find_ref("# image: x\n", false, &s, &e), "bump: comments are not references");
        TAP_CHECK(!bump_find_ref("image: ${ONLY_VAR}\n", false, &s, &e), "bump: a bare variable is left alone");
        TAP_CHECK(!bump_find_ref("images: x\n", false, &s, &e), "bump: other keys are left alone");
}

int main(void) {
        run_options();
        shell_options();
        engine_argv();
        bump_refs();
        return tap_done();
}
