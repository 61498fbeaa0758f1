#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A stand-in for the docker CLI, for agentbox's CLI tests: it records its
argv and environment (one JSON line per call to $FAKE_ENGINE_LOG), keeps the
containers it "created" in $FAKE_ENGINE_STATE and prints what docker prints
for the calls agentbox makes (a `run --rm --name` plays the init running
CMD: `sh -c 'exit N'` exits N, `sleep S` sleeps). Failure modes via
$FAKE_ENGINE_MODE: daemon-down, no-image, crash (the init fails before
"sandbox ready"), old-init (an image whose init lacks --exit-with-cmd).
In a container, `agent-sandbox-init denials` prints $FAKE_ENGINE_DENIALS and
`cat /etc/agent-sandbox/policy.yaml` $FAKE_ENGINE_IMAGE_POLICY."""
import json
import os
import sys

DAEMON_DOWN = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
               "Is the docker daemon running?\n")


def load():
    try:
        with open(os.environ["FAKE_ENGINE_STATE"]) as f:
            return json.load(f)
    except (KeyError, FileNotFoundError):
        return {"containers": {}}


def save(state):
    with open(os.environ["FAKE_ENGINE_STATE"], "w") as f:
        json.dump(state, f)


def fail(text, code=1):
    sys.stderr.write(text)
    sys.exit(code)


def run_once(args, mode, containers):
    """`run --rm -i ... IMAGE --exit-with-cmd [--pass-env N]... -- CMD`: the
    init's log on stderr, then CMD's effect; nothing is kept."""
    name = args[args.index("--name") + 1]
    sep = args.index("--")
    image = args[args.index("--exit-with-cmd") - 1]
    if name in containers:
        if os.environ.get("FAKE_ENGINE_SLOW_CONFLICT"):
            import time
            time.sleep(float(os.environ["FAKE_ENGINE_SLOW_CONFLICT"]))
        fail(f'docker: Error response from daemon: Conflict. The container name "/{name}" is already in use '
             f'by container "abc". You have to remove (or rename) that container to be able to reuse that name.\n'
             f"See 'docker run --help'.\n", 125)
    if mode == "no-image":
        fail(f"Unable to find image '{image}' locally\ndocker: Error response from daemon: pull access denied for "
             f"{image}, repository does not exist\n", 125)
    if mode == "old-init":
        fail(f"agent-sandbox-init: unrecognized option '{os.environ.get('FAKE_ENGINE_OLD_OPTION', '--exit-with-cmd')}'\n"
             "agent-sandbox-init: error: see agent-sandbox-init --help\n", 2)
    if mode == "crash":
        fail("agent-sandbox-init: reading the policy\n"
             "agent-sandbox-init: error: /etc/agent-sandbox/policy.yaml:3:5: unknown key 'domian'\n"
             "agent-sandbox-init: error: the sandbox is not ready; nothing was started\n", 1)
    if "--cidfile" in args:
        with open(args[args.index("--cidfile") + 1], "x") as f:
            f.write(f"cid-of-{name}\n")
    sys.stderr.write("agent-sandbox-init: firewall up\nagent-sandbox-init: sandbox ready in 5.0 ms\n")
    cmd = args[sep + 1:]
    if cmd[:2] == ["sh", "-c"] and cmd[2].startswith("exit "):
        sys.exit(int(cmd[2].split()[1]))
    if cmd[:1] == ["sleep"]:
        import time
        time.sleep(float(cmd[1]))
    print("run:" + " ".join(cmd))


def denials(args):
    """`agent-sandbox-init denials [--since SECONDS]`: the JSON lines of
    $FAKE_ENGINE_DENIALS (a file the test writes), those of the last SECONDS
    only; $FAKE_ENGINE_DENIALS unset plays an init without the subcommand."""
    path = os.environ.get("FAKE_ENGINE_DENIALS")
    if not path:
        fail("agent-sandbox-init: error: not PID 1\n", 1)
    since = int(args[args.index("--since") + 1]) if "--since" in args else None
    import time
    with open(path) as f:
        for line in f:
            if since is None or not line.strip().startswith("{"):
                sys.stdout.write(line)
            elif json.loads(line)["time"] >= time.time() - since:
                sys.stdout.write(line)


def main(args):
    with open(os.environ["FAKE_ENGINE_LOG"], "a") as f:
        f.write(json.dumps({"argv": args, "env": dict(os.environ)}) + "\n")
    mode = os.environ.get("FAKE_ENGINE_MODE", "")
    if mode == "daemon-down":
        # `docker run` reports its own failures with 125, other verbs with 1.
        if args[0] == "run":
            fail("docker: " + DAEMON_DOWN + "\nRun 'docker run --help' for more information\n", 125)
        fail(DAEMON_DOWN)
    state = load()
    containers = state["containers"]
    verb = args[0]
    if verb == "version":
        print("20.10.24+dfsg1")
    elif verb == "container" and args[1] == "inspect":
        name, fmt = args[-1], args[3]
        if name not in containers:
            fail(f"Error: No such container: {name}\n")
        c = containers[name]
        if fmt == "{{.State.Running}}":
            print("true" if c["running"] else "false")
        else:
            print("\t".join(["running" if c["running"] else "exited", c["image"], "2026-01-01T00:00:00Z",
                             "0123456789abcdef0123"]))
    elif verb == "run" and "--rm" in args and "--name" in args:
        run_once(args, mode, containers)
    elif verb == "run" and "--rm" in args:
        print("agent-sandbox-init 0.1.0")
    elif verb == "run":
        name = args[args.index("--name") + 1]
        if mode == "no-image":
            fail(f"Unable to find image '{args[-1]}' locally\nError response from daemon: pull access denied for "
                 f"{args[-1]}, repository does not exist\n", 125)
        if name in containers:
            fail(f'docker: Error response from daemon: Conflict. The container name "/{name}" is already in use '
                 f'by container "abc".\n', 125)
        containers[name] = {"running": mode != "crash", "image": args[-1]}
        save(state)
        print("0123456789abcdef0123456789abcdef")
    elif verb == "logs":
        if mode == "crash":
            sys.stderr.write("agent-sandbox-init: reading the policy\n"
                             "agent-sandbox-init: error: /etc/agent-sandbox/policy.yaml:3:5: unknown key 'domian'\n")
        elif "--since" in args:
            # An earlier reload inside the same time window comes first.
            sys.stderr.write("agent-sandbox-init: reloading the policy from /etc/agent-sandbox/policy.yaml\n"
                             "agent-sandbox-init: resolve done: old-reload\n"
                             "agent-sandbox-init: sandbox ready in 4.0 ms\n"
                             "agent-sandbox-init: reloading the policy from /etc/agent-sandbox/policy.yaml\n"
                             "agent-sandbox-init: sandbox ready in 3.0 ms\n")
        else:
            sys.stderr.write("agent-sandbox-init: firewall up\nagent-sandbox-init: sandbox ready in 5.0 ms\n")
    elif verb == "exec":
        name = next((a for a in args if a in containers), None) or \
            next((a for a in args if a.startswith("agentbox-")), None)
        if name not in containers:
            fail(f"Error: No such container: {name}\n")
        if not containers[name]["running"]:
            fail(f"Error response from daemon: Container 0123456789ab is not running\n")
        cmd = args[args.index(name) + 1:]
        if cmd[:2] == ["/usr/sbin/agent-sandbox-init", "denials"]:
            denials(cmd[2:])
            return
        if cmd == ["cat", "/etc/agent-sandbox/policy.yaml"]:
            sys.stdout.write(os.environ.get("FAKE_ENGINE_IMAGE_POLICY", "services: [github]\n"))
            return
        if cmd[:2] == ["sh", "-c"] and cmd[2].startswith("exit "):
            sys.exit(int(cmd[2].split()[1]))
        if cmd[:1] == ["say-to-stderr"]:        # say-to-stderr TEXT CODE
            fail(cmd[1] + "\n", int(cmd[2]))
        print("exec:" + " ".join(cmd))
    elif verb == "rm":
        for name in [a for a in args[1:] if not a.startswith("-")]:
            if name not in containers and "-f" not in args:
                fail(f"Error: No such container: {name}\n")
            containers.pop(name, None)
            print(name)
        save(state)
    elif verb == "kill":
        print(args[-1])
    elif verb == "ps" and any(a.startswith("label=") and "=" in a[6:] for a in args):
        # `ps --filter label=K=V --format '{{.Names}}\t{{.Label "com.docker.compose.service"}}'`:
        # running containers with that label (tests put labels in the state file).
        key, value = next(a for a in args if a.startswith("label="))[6:].split("=", 1)
        for name, c in containers.items():
            labels = c.get("labels", {})
            if c["running"] and labels.get(key) == value:
                print(name + "\t" + labels.get("com.docker.compose.service", ""))
    elif verb == "ps":
        for name, c in containers.items():
            if not c["running"]:
                print(name)
    elif verb == "volume" and args[1] == "ls":
        print("agentbox-state-claude-0123abcd\nagentbox-state-codex-4567cdef\nunrelated-volume")
    elif verb == "volume" and args[1] == "rm":
        if args[2].endswith("4567cdef"):
            fail(f"Error response from daemon: remove {args[2]}: volume is in use\n")
        print(args[2])
    elif verb == "image" and args[1] == "inspect":
        image = args[-1]
        missing = os.environ.get("FAKE_ENGINE_MISSING_IMAGES", "").split(",")
        if image in missing:
            fail(f"Error: No such image: {image}\n")
        if "org.agent-sandbox.agent-version" in " ".join(args):
            # $FAKE_ENGINE_IMAGE_PINS: IMAGE=VERSION,... the label each carries.
            pins = dict(p.split("=", 1) for p in os.environ.get("FAKE_ENGINE_IMAGE_PINS", "").split(",") if "=" in p)
            print(pins.get(image, "<no value>"))
            return
        line = "sha256:" + "ab" * 32
        if os.environ.get("FAKE_ENGINE_DIGEST"):
            line += f" {image.split(':')[0]}@sha256:" + "cd" * 32
        print(line)
    else:
        fail(f"fake engine: unexpected call {args}\n", 99)


if __name__ == "__main__":
    main(sys.argv[1:])
