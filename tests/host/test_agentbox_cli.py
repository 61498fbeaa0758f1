# SPDX-License-Identifier: MIT
"""agentbox's command line against a fake engine (fake_engine.py) that
records every call: the engine argv each verb produces, what reaches the
engine's environment (and what never reaches its argv), exit codes, and the
files init, bump and policy write. The real-engine cases are in tests/e2e."""
import json
import os
import shutil
import signal
import stat
import subprocess
import time

import pytest



HERE = os.path.dirname(os.path.abspath(__file__))
from buildpaths import AGENTBOX, BUILD  # noqa: E402
from agentcatalog import catalog  # noqa: E402


class Box:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.project = tmp_path / "proj"
        self.project.mkdir()
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.xdg = tmp_path / "xdg"
        self.log = tmp_path / "engine.log"
        self.fake = tmp_path / "fake-docker"
        shutil.copy(os.path.join(HERE, "fake_engine.py"), self.fake)
        os.chmod(self.fake, 0o755)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.xdg),
            "AGENTBOX_ENGINE": str(self.fake),
            "FAKE_ENGINE_LOG": str(self.log),
            "FAKE_ENGINE_STATE": str(tmp_path / "engine.state"),
            "AGENTBOX_READY_TIMEOUT": "10",
        }

    def run(self, *args, cwd=None, env=None, stdin=subprocess.DEVNULL):
        e = dict(self.env, **(env or {}))
        return subprocess.run([AGENTBOX, *args], cwd=cwd or self.project, env=e, capture_output=True,
                              text=True, timeout=30, stdin=stdin)

    def calls(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def argvs(self):
        return [c["argv"] for c in self.calls()]

    def call(self, verb):
        found = [c for c in self.calls() if c["argv"][0] == verb]
        assert found, f"no '{verb}' call in {self.argvs()}"
        return found[-1]

    def name(self, path=None):
        out = self.run("status", "--json", cwd=path or self.project)
        return json.loads(out.stdout)["sandbox"]


@pytest.fixture
def box(tmp_path):
    return Box(tmp_path)


SECCOMP_PROFILE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "images", "seccomp.json")


def seccomp_file(box, argv):
    """The profile file a container-creating engine call names; it must be
    the repository's profile, in the user's cache folder."""
    opts = [a for a in argv if a.startswith("--security-opt=seccomp=")]
    assert len(opts) == 1, argv
    path = opts[0].split("=", 2)[2]
    assert os.path.dirname(path) == str(box.home / ".cache" / "agent-sandbox"), path
    with open(path) as got, open(SECCOMP_PROFILE) as want:
        assert got.read() == want.read()
    return path


def test_run_is_one_engine_call_whose_init_runs_the_command(box):
    r = box.run("run", "--", "true")
    assert r.returncode == 0, r.stderr
    assert [a[0] for a in box.argvs()] == ["run"], box.argvs()
    run = box.call("run")["argv"]
    real = os.path.realpath(box.project)
    name = run[run.index("--name") + 1]
    assert run[:3] == ["run", "--rm", "-i"] and run[3] == "--cidfile", "no -t: stdin is not a terminal"
    assert run[5:7] == ["--name", name]
    assert not os.path.exists(os.path.dirname(run[4])), "the container ID's directory is removed afterwards"
    for pair in (["--cap-drop", "ALL"], ["--cap-add", "NET_ADMIN"], ["--cap-add", "SETPCAP"],
                 ["--cap-add", "SETUID"], ["--cap-add", "SETGID"], ["--tmpfs", "/tmp"], ["--tmpfs", "/run"], ["--pids-limit", "512"], ["--memory", "4g"],
                 ["-v", f"{real}:/workspace"]):
        assert any(run[k:k + 2] == pair for k in range(len(run))), pair
    assert "--read-only" in run and f"--label=agentbox.project={real}" in run
    assert "no-new-privileges" not in " ".join(run)
    # The engine's client reads the profile when it creates the container.
    assert run.index(next(a for a in run if a.startswith("--security-opt="))) < run.index("agent-sandbox-base:local")
    path = seccomp_file(box, run)
    mtime = os.stat(path).st_mtime_ns
    assert box.run("run", "--", "true").returncode == 0
    assert seccomp_file(box, box.call("run")["argv"]) == path and os.stat(path).st_mtime_ns == mtime, \
        "an identical profile is not rewritten"
    # The init runs the command once its firewall is up, and ends the
    # container with it; the engine removes it (--rm).
    assert run[run.index("agent-sandbox-base:local"):] == ["agent-sandbox-base:local", "--exit-with-cmd",
                                                           "--log-level", "notice", "--", "true"]
    assert "sandbox ready" in r.stderr and "run:true" in r.stdout
    # The project's policy file exists from the start, so that `policy add`
    # and `reload` later reach the running sandbox through its mount.
    proj = box.xdg / "agent-sandbox" / "projects" / f"{name}.yaml"
    assert proj.exists()
    assert f"type=bind,src={proj},dst=/etc/agent-sandbox/policy.d/50-project.yaml,readonly" in run


def test_run_keep_creates_waits_execs_and_keeps(box):
    r = box.run("run", "--keep", "--", "true")
    assert r.returncode == 0, r.stderr
    assert [a[0] for a in box.argvs()] == ["container", "run", "logs", "exec"], box.argvs()
    run = box.call("run")["argv"]
    name = run[run.index("--name") + 1]
    assert run[:4] == ["run", "-d", "--name", name] and run[-1] == "agent-sandbox-base:local"
    seccomp_file(box, run)
    assert box.call("exec")["argv"] == ["exec", "-i", "-u", "dev", "-w", "/workspace", name, "true"]
    assert "sandbox ready" in r.stderr    # the init's lines are shown while waiting


def test_run_agent_uses_its_image_state_volume_and_command(box):
    r = box.run("run", "claude", "--keep")
    assert r.returncode == 0, r.stderr
    run = box.call("run")["argv"]
    assert run[-1] == "agent-sandbox-claude:local"
    vol = [run[i + 1] for i, a in enumerate(run) if a == "-v" and "agentbox-state" in run[i + 1]]
    assert len(vol) == 1 and vol[0].startswith("agentbox-state-claude-") and vol[0].endswith(":/home/dev/.claude")
    assert box.call("exec")["argv"][-1] == "claude"
    assert not [a for a in box.argvs() if a[0] == "rm"], "--keep must keep the sandbox"
    box.run("down")
    box.log.unlink()
    assert box.run("run", "codex").returncode == 0
    run = box.call("run")["argv"]
    assert run[-6:] == ["agent-sandbox-codex:local", "--exit-with-cmd", "--log-level", "notice", "--", "codex"]
    box.log.unlink()
    assert box.run("run", "-v", "--", "true").returncode == 0
    assert "--log-level" not in box.call("run")["argv"], "-v: the init logs every step"


def test_run_exit_code_is_the_commands(box):
    r = box.run("run", "--", "sh", "-c", "exit 7")
    assert r.returncode == 7
    assert [a[0] for a in box.argvs()] == ["run"]


def test_run_joins_a_running_sandbox_and_leaves_it(box):
    assert box.run("run", "--keep", "--", "true").returncode == 0
    box.log.unlink()
    r = box.run("run", "--", "true")
    assert r.returncode == 0, r.stderr
    # The fresh run finds the name taken, asks, and joins: the engine's
    # "Conflict" is not shown, and nothing is removed.
    assert [a[0] for a in box.argvs()] == ["run", "container", "logs", "exec"]
    assert "Conflict" not in r.stderr and "docker run --help" not in r.stderr, r.stderr
    assert "exec:true" in r.stdout


def test_run_removes_a_stopped_leftover_and_starts_afresh(box):
    assert box.run("run", "--keep", "--", "true", env={"FAKE_ENGINE_MODE": "crash"}).returncode == 1
    box.log.unlink()
    r = box.run("run", "--", "true")
    assert r.returncode == 0, r.stderr
    assert [a[0] for a in box.argvs()] == ["run", "container", "rm", "run"]
    assert "Conflict" not in r.stderr


def test_secrets_only_by_exact_name_and_never_in_argv(box):
    env = {"MY_API_KEY": "s3cret-key", "MY_COLOR": "blue", "GITHUB_TOKEN": "ghp_secretvalue",
           "UNNAMED": "nope", "DB_PASSWORD": "hunter2"}
    r = box.run("run", "-e", "GITHUB_TOKEN", "-e", "MY_*", "-e", "EXTRA=literal-value", "--", "true", env=env)
    assert r.returncode == 0, r.stderr
    call = box.call("run")
    argv = call["argv"]
    image = argv.index("agent-sandbox-base:local")
    names = [argv[i + 1] for i, a in enumerate(argv[:image]) if a == "-e"]
    assert sorted(names) == ["EXTRA", "GITHUB_TOKEN", "MY_COLOR"]
    passed = [argv[i + 1] for i, a in enumerate(argv) if a == "--pass-env"]
    assert sorted(passed) == sorted(names), "the init hands exactly those to the command"
    assert all(argv.index("--pass-env") > image for _ in passed)
    assert call["env"]["GITHUB_TOKEN"] == "ghp_secretvalue"
    assert call["env"]["EXTRA"] == "literal-value"
    for c in box.calls():
        joined = " ".join(c["argv"])
        for secret in ("s3cret-key", "ghp_secretvalue", "hunter2", "literal-value", "nope"):
            assert secret not in joined


def test_run_agent_passes_its_own_key_variables_when_set(box):
    """The catalog's key variables of the agent pass without -e, by name
    only; another agent's do not, and an unset one is not named."""
    claude = next(a for a in catalog() if a.name == "claude")
    set_key, unset_key = claude.keys[0], claude.keys[1]
    env = {set_key: "sk-ant-value", "OPENAI_API_KEY": "sk-openai-value"}
    r = box.run("run", "claude", "--", "true", env=env)
    assert r.returncode == 0, r.stderr
    call = box.call("run")
    argv = call["argv"]
    names = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
    assert names == [set_key], argv
    assert call["env"][set_key] == "sk-ant-value"
    assert unset_key not in names and "OPENAI_API_KEY" not in names
    assert all("sk-ant-value" not in " ".join(a) for a in box.argvs())
    box.log.unlink()
    r = box.run("run", "--", "true", env=env)
    assert r.returncode == 0, r.stderr
    assert "-e" not in box.call("run")["argv"], "none passes no key"


def test_agents_lists_the_catalog_with_image_states(box):
    """One line per catalog agent plus none, each with its pin, service and
    image state: built (label = pin), outdated (label = another release),
    missing."""
    agents = catalog()
    built, outdated, missing = agents[0], agents[1], agents[2]
    env = {"FAKE_ENGINE_IMAGE_PINS": f"agent-sandbox-{built.name}:local={built.version},"
                                     f"agent-sandbox-{outdated.name}:local=0.0.1-old",
           "FAKE_ENGINE_MISSING_IMAGES": f"agent-sandbox-{missing.name}:local"}
    r = box.run("agents", env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:5] == ["AGENT", "COMMAND", "PACKAGE@PIN", "SERVICE", "IMAGE"]
    rows = {ln.split()[0]: ln for ln in lines[1:]}
    assert list(rows) == [a.name for a in agents] + ["none"]
    for a in agents:
        cols = rows[a.name].split()
        assert cols[1:4] == [a.command, f"{a.package}@{a.version}", a.service], rows[a.name]
        assert cols[-1] == ",".join(a.keys), rows[a.name]
    assert rows[built.name].split()[4] == "built"
    assert "outdated (built from 0.0.1-old" in rows[outdated.name]
    assert rows[missing.name].split()[4] == "missing"
    inspected = [c["argv"][-1] for c in box.calls() if c["argv"][:2] == ["image", "inspect"]]
    assert inspected == [f"agent-sandbox-{a.name}:local" for a in agents] + ["agent-sandbox-base:local"]
    r = box.run("agents", env={"FAKE_ENGINE_MODE": "daemon-down"})
    assert r.returncode == 125


def test_env_file_rules(box, tmp_path):
    loose = tmp_path / "loose.env"
    loose.write_text("API_TOKEN=abc\n")
    os.chmod(loose, 0o644)
    r = box.run("run", "--env-file", str(loose), "--", "true")
    assert r.returncode == 1 and "chmod 600" in r.stderr
    inside = box.project / "secrets.env"
    inside.write_text("API_TOKEN=abc\n")
    os.chmod(inside, 0o600)
    r = box.run("run", "--env-file", str(inside), "--", "true")
    assert r.returncode == 1 and "inside the project" in r.stderr
    assert box.argvs() == [], "nothing may start after a refused env file"
    good = tmp_path / "good.env"
    good.write_text("# comment\nAPI_TOKEN=tok-value-123\nexport PLAIN=1\n")
    os.chmod(good, 0o600)
    r = box.run("run", "--env-file", str(good), "--", "true")
    assert r.returncode == 0, r.stderr
    c = box.call("run")
    assert ["-e", "API_TOKEN"] == c["argv"][c["argv"].index("API_TOKEN") - 1:c["argv"].index("API_TOKEN") + 1]
    assert c["env"]["API_TOKEN"] == "tok-value-123" and c["env"]["PLAIN"] == "1"
    assert all("tok-value-123" not in " ".join(a) for a in box.argvs())


def test_run_mounts_user_policy_layers_read_only(box, tmp_path):
    assert box.run("policy", "add", "one.test").returncode == 0
    glob = box.xdg / "agent-sandbox" / "policy.yaml"
    glob.write_text("domains:\n  - global.test\n")
    extra = tmp_path / "extra.yaml"
    extra.write_text("domains:\n  - extra.test\n")
    r = box.run("run", "--policy", str(extra), "--", "true")
    assert r.returncode == 0, r.stderr
    run = box.call("run")["argv"]
    mounts = [run[i + 1] for i, a in enumerate(run) if a == "--mount"]
    name = run[run.index("--name") + 1]
    proj = box.xdg / "agent-sandbox" / "projects" / f"{name}.yaml"
    assert mounts == [
        f"type=bind,src={glob},dst=/etc/agent-sandbox/policy.d/00-global.yaml,readonly",
        f"type=bind,src={proj},dst=/etc/agent-sandbox/policy.d/50-project.yaml,readonly",
        f"type=bind,src={extra},dst=/etc/agent-sandbox/policy.d/user.yaml,readonly",
    ]


def test_run_refuses_a_broken_policy(box, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("domians:\n  - x.test\n")
    r = box.run("run", "--policy", str(bad), "--", "true")
    assert r.returncode == 1
    assert "bad.yaml" in r.stderr
    assert "run" not in [a[0] for a in box.argvs()]


def test_run_failures_map_to_one_line(box):
    r = box.run("run", "--", "true", env={"FAKE_ENGINE_MODE": "daemon-down"})
    assert r.returncode == 125 and "start dockerd" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    box.log.unlink()
    r = box.run("run", "codex", "--", "true", env={"FAKE_ENGINE_MODE": "no-image"})
    assert r.returncode == 125 and "images/build.sh" in r.stderr and "agent-sandbox-codex:local" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = box.run("run", "--", "true", env={"AGENTBOX_ENGINE": str(box.tmp / "missing")})
    assert r.returncode == 125 and "install docker.io" in r.stderr
    for mode in ("daemon-down", "no-image"):
        r = box.run("run", "--keep", "--", "true", env={"FAKE_ENGINE_MODE": mode})
        assert r.returncode == 125 and len(r.stderr.strip().splitlines()) == 1, (mode, r.stderr)


def test_run_shows_the_inits_error_when_it_fails(box):
    r = box.run("run", "--", "true", env={"FAKE_ENGINE_MODE": "crash"})
    assert r.returncode == 1
    assert "unknown key 'domian'" in r.stderr and "nothing was started" in r.stderr
    assert [a[0] for a in box.argvs()] == ["run"]
    box.log.unlink()
    r = box.run("run", "--keep", "--", "true", env={"FAKE_ENGINE_MODE": "crash"})
    assert r.returncode == 1
    assert "stopped before it was ready" in r.stderr and "unknown key 'domian'" in r.stderr
    assert "exec" not in [a[0] for a in box.argvs()]


def test_signal_while_the_name_is_taken_leaves_the_other_sandbox_alone(box):
    """A run that finds the project's sandbox started elsewhere created
    nothing: a SIGTERM at that moment removes nothing and joins nothing."""
    assert box.run("run", "--keep", "--", "true").returncode == 0
    box.log.unlink()
    env = dict(box.env, FAKE_ENGINE_SLOW_CONFLICT="1.5")
    p = subprocess.Popen([AGENTBOX, "run", "--", "true"], cwd=box.project, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not (box.log.exists() and box.argvs()) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=20)
    assert [a[0] for a in box.argvs()] == ["run"], box.argvs()
    assert box.run("status").returncode == 0, "the kept sandbox still runs"


@pytest.mark.parametrize("option", ["--exit-with-cmd", "--log-level"])
def test_run_names_an_image_older_than_agentbox(box, option):
    r = box.run("run", "--", "true", env={"FAKE_ENGINE_MODE": "old-init", "FAKE_ENGINE_OLD_OPTION": option})
    assert r.returncode == 1, r.stderr
    assert f"unrecognized option '{option}'" in r.stderr, "the init's own words stay"
    assert r.stderr.strip().splitlines()[-1] == ("agentbox: agent-sandbox-base:local: the image's agent-sandbox-init "
                                                 "is older than this agentbox: rebuild the image (images/build.sh)")


def test_run_ends_and_removes_its_sandbox_on_sigterm_and_sighup(box):
    for sig in (signal.SIGTERM, signal.SIGHUP):
        box.log.unlink(missing_ok=True)
        p = subprocess.Popen([AGENTBOX, "run", "--", "sleep", "30"], cwd=box.project, env=box.env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not (box.log.exists() and box.argvs()) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)     # the fake engine is in its sleep
        p.send_signal(sig)
        out, err = p.communicate(timeout=20)
        verbs = [a[0] for a in box.argvs()]
        assert verbs == ["run", "rm"], (sig, verbs, err)
        name = box.call("run")["argv"][box.call("run")["argv"].index("--name") + 1]
        assert box.call("rm")["argv"] == ["rm", "-f", f"cid-of-{name}"], "by the ID of the container it made"
        assert p.returncode == 128 + signal.SIGTERM, (sig, p.returncode, err)


def test_odd_project_paths(box, tmp_path):
    odd = tmp_path / "my proj: ünï,\"x\""
    odd.mkdir()
    r = box.run("run", "--", "true", cwd=odd)
    assert r.returncode == 0, r.stderr
    run = box.call("run")["argv"]
    name = run[run.index("--name") + 1]
    assert name.startswith("agentbox-my-proj-n-x-") and len(name.rsplit("-", 1)[1]) == 8
    real = os.path.realpath(odd)
    # ':' cannot go through -v: the project goes through --mount, CSV-quoted.
    quoted = '"src=' + real.replace('"', '""') + '"'
    assert f"type=bind,{quoted},dst=/workspace" in run
    assert f"--label=agentbox.project={real}" in run


def test_usage_errors(box):
    for args in (["frob"], ["run", "--bogus"], ["run", "martian"], ["run", "--expose", "70000"],
                 ["policy"], ["policy", "frob"], ["init", "--mode", "swarm"], ["status", "extra"],
                 ["--bogus-global", "status"], ["run", "claude", "codex"]):
        r = box.run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    assert box.argvs() == []
    r = box.run("run", "--dir", str(box.tmp / "nope"), "--", "true")
    assert r.returncode == 1 and "nope" in r.stderr


def test_help_for_every_verb(box):
    for verb in ("init", "run", "shell", "exec", "policy", "reload", "denied", "allow", "check", "status", "logs",
                 "down", "prune", "bump", "doctor", "version"):
        a = box.run(verb, "--help")
        b = box.run("help", verb)
        assert a.returncode == 0 and b.returncode == 0 and a.stdout == b.stdout and "Usage: agentbox" in a.stdout


def test_init_writes_and_refuses_to_overwrite(box):
    r = box.run("init", "--agent", "claude", "--mode", "both")
    assert r.returncode == 0, r.stderr
    compose = box.project / "docker-compose.yml"
    dc = box.project / ".devcontainer" / "devcontainer.json"
    assert "agent-sandbox-claude:local" in compose.read_text()
    assert "agent-sandbox-base:local" not in compose.read_text()
    assert '"image": "agent-sandbox-claude:local"' in dc.read_text()
    assert "docker-compose up -d" in r.stdout and "wrote" in r.stdout
    assert (box.home / ".config" / "agent-sandbox" / "policy.d").is_dir()
    compose.write_text("mine\n")
    r = box.run("init", "--agent", "claude")
    assert r.returncode == 1 and "--force" in r.stderr
    assert compose.read_text() == "mine\n"
    r = box.run("init", "--agent", "codex", "--force")
    assert r.returncode == 0
    assert "agent-sandbox-codex:local" in compose.read_text()


def test_init_kubernetes_and_split_templates(box):
    r = box.run("init", "--agent", "claude", "--mode", "kubernetes")
    assert r.returncode == 0, r.stderr
    for name in ("pod.yaml", "pod-native-sidecar.yaml", "job.yaml", "policy-configmap.yaml"):
        text = (box.project / "kubernetes" / name).read_text()
        assert "agent-sandbox-base:local" not in text, name
    pod = (box.project / "kubernetes" / "pod.yaml").read_text()
    assert "image: agent-sandbox-claude:local" in pod and '["--role", "agent"]' in pod
    assert not (box.project / "docker-compose.yml").exists()
    r = box.run("init", "--mode", "both", "--split")
    assert r.returncode == 0, r.stderr
    compose = (box.project / "docker-compose.yml").read_text()
    assert 'network_mode: "service:network"' in compose and "condition: service_healthy" in compose
    assert (box.project / "agent-sandbox-seccomp.json").exists()
    dc = (box.project / ".devcontainer" / "devcontainer.json").read_text()
    assert '"service": "agent"' in dc
    assert "..:/workspace" in (box.project / ".devcontainer" / "docker-compose.yml").read_text()
    assert box.argvs() == []


def test_shell_needs_a_running_sandbox(box):
    r = box.run("shell")
    assert r.returncode == 1 and "no sandbox for" in r.stderr and "agentbox run" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, "the engine's own line is replaced, not added to"
    assert [a[0] for a in box.argvs()] == ["exec", "container"], "the engine is asked only after exec failed"
    assert box.run("run", "--keep", "--", "true", env={"FAKE_ENGINE_MODE": "crash"}).returncode == 1
    r = box.run("shell")
    assert r.returncode == 1 and "no running sandbox for" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    box.run("down")
    assert box.run("run", "--keep", "--", "true").returncode == 0
    name = box.name()
    box.log.unlink()
    r = box.run("exec", "--", "ls", "-l")
    assert r.returncode == 0, r.stderr
    assert box.argvs() == [["exec", "-i", "-u", "dev", "-w", "/workspace", name, "ls", "-l"]], \
        "one engine call per attach"
    r = box.run("shell", "--", "sh", "-c", "exit 1")
    assert r.returncode == 1 and "no sandbox" not in r.stderr, "the command's own 1 is passed on"
    # The command's own words pass unchanged, even when they read like the
    # engine's: the engine is asked, and the sandbox runs.
    r = box.run("shell", "--", "say-to-stderr", "Error: No such container: mine", "1")
    assert r.returncode == 1 and r.stderr == "Error: No such container: mine\n", r.stderr
    r = box.run("shell", "--", "sh", "-c", "exit 125")
    assert r.returncode == 125 and "no sandbox" not in r.stderr
    r = box.run("shell")
    assert box.call("exec")["argv"][-2:] == [name, "bash"]


def test_reload_status_logs_down(box):
    assert box.run("run", "--keep", "--", "true").returncode == 0
    name = box.name()
    r = box.run("reload")
    assert r.returncode == 0, r.stderr
    assert box.call("kill")["argv"] == ["kill", "-s", "HUP", name]
    assert "reloading the policy" in r.stderr and "sandbox ready in 3.0" in r.stderr
    assert "old-reload" not in r.stderr, "only the last reload's lines are shown"
    r = box.run("status")
    assert r.returncode == 0 and "running" in r.stdout and "agent-sandbox-base:local" in r.stdout
    r = box.run("logs", "-f")
    assert r.returncode == 0 and box.call("logs")["argv"] == ["logs", "-f", name]
    r = box.run("down")
    assert r.returncode == 0 and f"removed the running sandbox {name}" in r.stdout
    assert box.call("rm")["argv"] == ["rm", "-f", name]
    r = box.run("status", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["state"] == "none"
    r = box.run("down")
    assert r.returncode == 0 and "nothing to remove" in r.stdout


def test_prune(box):
    assert box.run("run", "--keep", "--", "true", env={"FAKE_ENGINE_MODE": "crash"}).returncode == 1
    r = box.run("prune", "--volumes")
    assert r.returncode == 0, r.stderr
    ps = box.call("ps")["argv"]
    assert "label=agentbox.project" in ps and "status=exited" in ps
    assert box.call("rm")["argv"][:1] == ["rm"] and box.call("rm")["argv"][1].startswith("agentbox-proj-")
    assert "removed volume agentbox-state-claude-0123abcd" in r.stdout
    assert "kept volume agentbox-state-codex-4567cdef" in r.stdout
    assert not any(a[:2] == ["volume", "rm"] and a[2] == "unrelated-volume" for a in box.argvs())
    box.log.unlink()
    assert box.run("prune").returncode == 0
    assert not any(a[0] == "volume" for a in box.argvs())


def test_bump_pins_image_id_or_digest(box):
    assert box.run("init", "--agent", "gemini", "--mode", "both").returncode == 0
    r = box.run("bump")
    assert r.returncode == 0, r.stderr
    compose = (box.project / "docker-compose.yml").read_text()
    assert "${AGENT_SANDBOX_IMAGE:-sha256:" + "ab" * 32 + "}" in compose
    assert "# agentbox bump: agent-sandbox-gemini:local" in compose
    assert "image ID" in r.stdout and "this machine only" in r.stdout
    r = box.run("bump", env={"FAKE_ENGINE_DIGEST": "1"})
    assert r.returncode == 0
    dc = (box.project / ".devcontainer" / "devcontainer.json").read_text()
    assert '"image": "agent-sandbox-gemini@sha256:' + "cd" * 32 + '",' in dc
    assert dc.count("agentbox bump:") == 1
    assert box.call("image")["argv"][-1] == "agent-sandbox-gemini:local"
    r = box.run("bump", env={"FAKE_ENGINE_MISSING_IMAGES": "agent-sandbox-gemini:local"})
    assert r.returncode == 125 and "images/build.sh" in r.stderr


def test_doctor_engine_missing_and_daemon_down(box):
    r = box.run("doctor", env={"AGENTBOX_ENGINE": str(box.tmp / "no-such-engine")})
    assert r.returncode == 125
    assert "not installed" in r.stdout and "install docker.io" in r.stdout
    r = box.run("doctor", env={"FAKE_ENGINE_MODE": "daemon-down"})
    assert r.returncode == 125
    assert "daemon not running" in r.stdout and "start dockerd" in r.stdout
    r = box.run("doctor")
    assert r.returncode == 0, r.stdout
    assert "image agent-sandbox-base:local present" in r.stdout and "init starts" in r.stdout
    seccomp_file(box, box.call("run")["argv"])     # the init's start is checked as run starts it
    r = box.run("doctor", env={"FAKE_ENGINE_MISSING_IMAGES": "agent-sandbox-base:local"})
    assert r.returncode == 1 and "build it with images/build.sh" in r.stdout


def test_doctor_warns_about_podman(box):
    podman = box.tmp / "podman"
    shutil.copy(box.fake, podman)
    r = box.run("--engine", str(podman), "doctor")
    assert "ambient" in r.stdout and "warning" in r.stdout


def test_policy_add_remove_show_validate(box):
    name = box.name()
    box.log.unlink()
    r = box.run("policy", "add", "Foo.test", "*.bar.test")
    assert r.returncode == 0, r.stderr
    files = list((box.xdg / "agent-sandbox" / "projects").glob("*.yaml"))
    assert len(files) == 1 and files[0].name == name + ".yaml"
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o644
    text = files[0].read_text()
    assert "foo.test" in text and "*.bar.test" in text
    r = box.run("policy", "add", "foo.test")
    assert "already" in r.stdout
    r = box.run("policy", "show", "--json")
    assert r.returncode == 0
    shown = json.loads(r.stdout)
    assert "foo.test" in shown["domains"] and "*.bar.test" in shown["domains"]
    assert "not known" in r.stderr
    r = box.run("policy", "remove", "foo.test")
    assert r.returncode == 0 and "removed foo.test" in r.stdout
    assert "foo.test" not in files[0].read_text().replace("bar.test", "")
    r = box.run("policy", "add", "bad_host.test")
    assert r.returncode == 1 and "bad_host.test" in r.stderr
    assert "bad_host" not in files[0].read_text()
    assert box.run("policy", "validate").returncode == 0
    bad = box.tmp / "bad.yaml"
    bad.write_text("domains:\n  - ok.test\nservicez: [github]\n")
    r = box.run("policy", "validate", str(bad))
    assert r.returncode == 1 and f"{bad}:3" in r.stderr
    assert box.argvs() == [], "policy never needs the engine"


def test_policy_add_keeps_other_keys(box):
    assert box.run("policy", "add", "a.test").returncode == 0
    f = next((box.xdg / "agent-sandbox" / "projects").glob("*.yaml"))
    f.write_text("services: [github]\ndomains:\n  - a.test\nports: [443, 8443]\n")
    assert box.run("policy", "add", "b.test").returncode == 0
    shown = json.loads(box.run("policy", "show", "--json").stdout)
    assert 8443 in shown["ports"] and "github" in shown["services"] and "b.test" in shown["domains"]


def test_naming_is_per_project(box, tmp_path):
    other = tmp_path / "other" / "proj"
    other.mkdir(parents=True)
    a, b = box.name(), box.name(other)
    assert a != b and a.startswith("agentbox-proj-") and b.startswith("agentbox-proj-")
    assert box.name(box.project / ".") == a


def test_policy_edit_keeps_the_inode_a_sandbox_has_mounted(box):
    """run bind-mounts the file itself; a rename would hide the edit from a
    running sandbox, so an existing file is rewritten in place."""
    assert box.run("policy", "add", "a.test").returncode == 0
    f = next((box.xdg / "agent-sandbox" / "projects").glob("*.yaml"))
    inode = f.stat().st_ino
    assert box.run("policy", "add", "b.test").returncode == 0
    assert box.run("policy", "remove", "a.test").returncode == 0
    assert f.stat().st_ino == inode
    assert "b.test" in f.read_text() and "a.test" not in f.read_text()
    assert [p.name for p in f.parent.iterdir()] == [f.name], "no temporary file is left behind"


def test_bash_completion(box):
    # Generated from host/completion/agentbox.bash.in and the agent catalog.
    script = os.path.join(BUILD, "host", "completion", "agentbox")

    def complete(*words):
        line = " ".join(words)
        cmd = (f"source '{script}'; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _agentbox; "
               "printf '%s\\n' \"${COMPREPLY[@]}\"")
        return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=10).stdout.split()

    assert complete("agentbox", "ru") == ["run"]
    assert set(complete("agentbox", "run", "c")) == {a.name for a in catalog() if a.name.startswith("c")}
    assert set(complete("agentbox", "init", "--agent", "")) == {a.name for a in catalog()} | {"none"}
    assert complete("agentbox", "ag") == ["agents"]
    assert complete("agentbox", "policy", "") == ["show", "validate", "add", "remove", "--dir", "--help"]
    assert complete("agentbox", "--engine", "pod") == ["podman"]
    assert complete("agentbox", "init", "--mode", "dev") == ["devcontainer"]
    assert complete("agentbox", "de") == ["denied"]
    assert complete("agentbox", "al") == ["allow"]
    assert complete("agentbox", "ch") == ["check"]
    assert complete("agentbox", "denied", "--") == ["--json", "--follow", "--since", "--dir", "--help"]


def test_init_writes_the_embedded_templates_verbatim(box):
    """The binary carries compose/ and devcontainer/ as they are in the tree
    (embedded at build time), with only the image changed."""
    root = os.path.dirname(os.path.dirname(HERE))
    assert box.run("init", "--agent", "opencode", "--mode", "both").returncode == 0
    for src, dst in (("compose/docker-compose.yml", "docker-compose.yml"),
                     ("devcontainer/init-entrypoint/devcontainer.json", ".devcontainer/devcontainer.json")):
        with open(os.path.join(root, src)) as f:
            want = f.read().replace("agent-sandbox-base:local", "agent-sandbox-opencode:local")
        assert (box.project / dst).read_text() == want, dst
    # Each template names its seccomp profile beside it, and init writes it.
    assert '"seccomp=agent-sandbox-seccomp.json"' in (box.project / "docker-compose.yml").read_text()
    assert "seccomp=${localWorkspaceFolder}/.devcontainer/agent-sandbox-seccomp.json" in \
        (box.project / ".devcontainer" / "devcontainer.json").read_text()
    with open(SECCOMP_PROFILE) as f:
        want = f.read()
    for dst in ("agent-sandbox-seccomp.json", ".devcontainer/agent-sandbox-seccomp.json"):
        assert (box.project / dst).read_text() == want, dst


PROJECT_VERBS = ("init", "run", "shell", "exec", "policy", "reload", "denied", "allow", "check", "status", "logs",
                 "down", "bump")
ENGINE_VERBS = ("run", "shell", "reload", "denied", "allow", "status", "logs", "down", "bump", "prune")


# A positional each verb needs to get past its own checks.
VERB_ARGS = {"policy": ["show"], "allow": ["a.test"], "check": ["a.test"]}


def test_help_before_anything_is_set_up(box):
    """-h and --help print the verb's help wherever they stand among its
    options, with no project, engine or sandbox needed."""
    missing = str(box.tmp / "nope")
    for verb in PROJECT_VERBS + ("prune", "doctor", "version"):
        for flag in ("-h", "--help"):
            r = box.run(verb, flag, env={"AGENTBOX_ENGINE": missing})
            assert r.returncode == 0 and r.stdout.startswith("Usage: agentbox") and r.stderr == "", (verb, flag, r)
    r = box.run("status", "--json", "--help", "--dir", missing)
    assert r.returncode == 0 and r.stdout == box.run("help", "status").stdout
    assert box.argvs() == []
    # After the options end, --help is the command's own.
    r = box.run("shell", "ls", "--help")
    assert box.call("exec")["argv"][-2:] == ["ls", "--help"], r.stderr


def test_a_missing_project_folder_is_one_line_before_the_engine(box):
    missing = box.tmp / "nope"
    for verb in PROJECT_VERBS:
        r = box.run(verb, "--dir", str(missing), *VERB_ARGS.get(verb, []))
        assert r.returncode == 1, (verb, r.stderr)
        assert r.stderr == f"agentbox: project folder {missing}: No such file or directory\n", (verb, r.stderr)
    assert box.argvs() == [], "no verb asks the engine before it has its project"


def test_no_engine_is_one_line_with_exit_125(box):
    for verb in ENGINE_VERBS:
        r = box.run(verb, *VERB_ARGS.get(verb, []), env={"AGENTBOX_ENGINE": "no-such-engine"})
        assert r.returncode == 125, (verb, r.stderr)
        assert r.stderr == ("agentbox: container engine no-such-engine not installed: install docker.io "
                            "(apt-get install docker.io) or podman, or point AGENTBOX_ENGINE at it\n"), (verb, r.stderr)
    for verb in ("init", "version"):
        assert box.run(verb, env={"AGENTBOX_ENGINE": "no-such-engine"}).returncode == 0, verb


def test_verbs_needing_a_sandbox_say_how_to_start_one(box):
    no_sandbox = f"agentbox: no sandbox for {box.project}; start one with agentbox run\n"
    for verb in ("reload", "logs"):
        r = box.run(verb)
        assert r.returncode == 1 and r.stderr == no_sandbox, (verb, r.stderr)
    assert [a[0] for a in box.argvs()] == ["container", "container"], "only the state is asked, nothing is sent"
    assert box.run("run", "--keep", "--", "true", env={"FAKE_ENGINE_MODE": "crash"}).returncode == 1
    box.log.unlink()
    r = box.run("reload")
    assert r.returncode == 1 and r.stderr == f"agentbox: no running sandbox for {box.project}; start one with agentbox run\n"
    assert "kill" not in [a[0] for a in box.argvs()], "no SIGHUP to a stopped sandbox"
    r = box.run("logs")
    assert r.returncode == 0, "a stopped sandbox's log is still there to read"
    assert box.call("logs")["argv"] == ["logs", box.name()]


def test_only_verbs_with_a_project_take_dir(box):
    for verb in ("prune", "doctor", "version"):
        r = box.run(verb, "--dir", str(box.project))
        assert r.returncode == 2 and r.stderr == f"agentbox {verb}: unknown option '--dir'; see agentbox {verb} --help\n"
    for verb in PROJECT_VERBS:
        r = box.run(verb, "--dir")
        name = "shell" if verb == "exec" else verb     # an alias is named by its verb
        assert r.returncode == 2 and r.stderr == f"agentbox {name}: option --dir needs a value; see agentbox {name} --help\n"


# ---- denied, allow, check ----

def denial(t, name=None, dst="203.0.113.9", port=443, proto="tcp", kind="connect", count=1,
           reason="not in the policy", uid=1000):
    """One line as `agent-sandbox-init denials` prints it (the guest's contract)."""
    return json.dumps({"time": t, "kind": kind, "proto": proto, "dst": dst if kind == "connect" else None,
                       "port": port if kind == "connect" else None, "name": name,
                       "resolved_ago": 12 if name and kind == "connect" else None, "uid": uid,
                       "reason": reason, "count": count})


def write_denials(box, *lines):
    path = box.tmp / "denials.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    box.env["FAKE_ENGINE_DENIALS"] = str(path)
    box.env["TZ"] = "UTC"
    return path


def test_denied_groups_by_name_and_destination_newest_first(box):
    assert box.run("run", "--keep", "--", "true").returncode == 0
    name = box.name()
    now = int(time.time())
    write_denials(box,
                  denial(now - 300, name="evil.example", count=2),
                  denial(now - 200, dst="198.51.100.7", port=22),
                  denial(now - 100, kind="dns", proto="A", name="x.attacker.example", reason="refused DNS query"),
                  denial(now - 50, name="evil.example", count=3),
                  "not json", denial(now - 10, dst="2001:db8::5", port=443, proto="udp"))
    box.log.unlink()
    r = box.run("denied")
    assert r.returncode == 0, r.stderr
    assert box.call("exec")["argv"] == ["exec", name, "/usr/sbin/agent-sandbox-init", "denials"]
    lines = r.stdout.splitlines()
    heads = [line for line in lines if not line.startswith("    ")]
    assert len(heads) == 4, r.stdout
    # Newest first; evil.example's two records are one group of 5.
    assert "udp 2001:db8::5:443 (never resolved in the sandbox)" in heads[0]
    assert "5 x  tcp evil.example:443 (203.0.113.9): not in the policy" in heads[1]
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - 50)) in heads[1]
    assert "DNS query x.attacker.example (A)" in heads[2]
    assert "tcp 198.51.100.7:22 (never resolved" in heads[3]
    fixes = [line for line in lines if line.startswith("    ")]
    assert fixes[0].startswith('    allow it: cidrs: ["2001:db8::5/128"] in a policy file') and "literal address" in fixes[0]
    assert fixes[1] == "    allow it: agentbox allow evil.example"
    assert fixes[2] == "    allow it: agentbox allow x.attacker.example"
    assert 'cidrs: ["198.51.100.7/32"]' in fixes[3]
    assert "skipped 1 line" in r.stderr


def test_denied_json_shape(box):
    assert box.run("run", "--keep", "--", "true").returncode == 0
    now = int(time.time())
    write_denials(box, denial(now - 60, name="a.test"), denial(now - 30, name="a.test", count=4),
                  denial(now - 20, name="b.test", dst="192.0.2.1", port=8443, uid=None))
    r = box.run("denied", "--json")
    assert r.returncode == 0, r.stderr
    groups = [json.loads(line) for line in r.stdout.splitlines()]
    assert [g["name"] for g in groups] == ["b.test", "a.test"]
    assert groups[1] == {"name": "a.test", "kind": "connect", "proto": "tcp", "dst": "203.0.113.9", "port": 443,
                         "count": 5, "first": now - 60, "last": now - 30, "uid": 1000, "reason": "not in the policy",
                         "allow": "agentbox allow a.test", "policy_line": 'domains: ["a.test"]', "note": None}
    assert groups[0]["uid"] is None and groups[0]["port"] == 8443


def test_denied_treats_the_record_as_the_sandboxs_to_write(box):
    """The record lives where the sandbox user can write: a forged range is
    never offered as a policy line, control bytes reach no terminal or JSON
    reader, and forged counts do not overflow."""
    assert box.run("run", "--keep", "--", "true").returncode == 0
    now = int(time.time())
    path = write_denials(box, denial(now - 30, dst="0.0.0.0/0"),
                         denial(now - 20, dst="198.51.100.9", count=9223372036854775807),
                         denial(now - 19, dst="198.51.100.9", count=9223372036854775807))
    with open(path, "a", encoding="latin-1") as f:
        f.write(json.dumps({"time": now - 10, "kind": "dns", "proto": "A", "dst": None, "port": None,
                            "name": "c1\u009b2J\u202ex.test", "resolved_ago": None, "uid": None,
                            "reason": "not in the policy\u001b]0;title\u0007", "count": 1}) + "\n")
    r = box.run("denied")
    assert r.returncode == 0, r.stderr
    assert "0.0.0.0/0" not in r.stdout.replace("tcp 0.0.0.0/0:443", ""), r.stdout
    assert 'cidrs: ["0.0.0.0/0"]' not in r.stdout
    assert "\x1b" not in r.stdout and "\x9b" not in r.stdout and "\u202e" not in r.stdout
    r = box.run("denied", "--json")
    out = r.stdout.encode()
    assert all(b < 0x7f for b in out), out
    groups = [json.loads(line) for line in r.stdout.splitlines()]
    ranges = [g for g in groups if g["dst"] == "0.0.0.0/0"]
    assert ranges and ranges[0]["policy_line"] is None, ranges
    big = [g for g in groups if g["dst"] == "198.51.100.9"]
    assert big[0]["count"] == 9223372036854775807, big


def test_denied_since_is_passed_in_seconds(box):
    assert box.run("run", "--keep", "--", "true").returncode == 0
    now = int(time.time())
    write_denials(box, denial(now - 7200, name="old.test"), denial(now - 30, name="new.test"))
    for text, seconds in (("30s", "30"), ("5m", "300"), ("2h", "7200"), ("1d", "86400")):
        r = box.run("denied", "--since", text)
        assert r.returncode == 0, r.stderr
        assert box.call("exec")["argv"][-2:] == ["--since", seconds], text
    r = box.run("denied", "--since", "5m")
    assert "new.test" in r.stdout and "old.test" not in r.stdout
    box.log.unlink()
    for bad in ("5", "5x", "m", "0s", "-5m", "1h30m", "99999999999999999999d"):
        r = box.run("denied", "--since", bad)
        assert r.returncode == 2 and "30s, 5m, 2h or 1d" in r.stderr, (bad, r.stderr)
    assert box.argvs() == [], "a bad duration stops before the engine"


def test_denied_follow_prints_new_denials(box):
    assert box.run("run", "--keep", "--", "true").returncode == 0
    now = int(time.time())
    path = write_denials(box, denial(now - 30, name="first.test"))
    p = subprocess.Popen([AGENTBOX, "denied", "--follow"], cwd=box.project, env=dict(box.env),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "first.test" in p.stdout.readline()
        assert "agentbox allow first.test" in p.stdout.readline()
        with open(path, "a") as f:
            f.write(denial(int(time.time()), name="second.test") + "\n")
        assert "second.test" in p.stdout.readline()
        assert "agentbox allow second.test" in p.stdout.readline()
        deadline = time.time() + 10     # a further poll, whose answer holds both again
        while len(denial_polls(box)) < 4 and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        p.kill()
        rest, _ = p.communicate()
    polls = denial_polls(box)
    assert len(polls) >= 4 and all(a[-2] == "--since" for a in polls[1:]), polls
    assert rest == "", "a denial printed once is not printed again"


def denial_polls(box):
    return [a for a in box.argvs() if a[0] == "exec" and "denials" in a]


def test_denied_finds_compose_and_devcontainer_sandboxes(box):
    real = os.path.realpath(box.project)
    now = int(time.time())
    write_denials(box, denial(now - 5, name="c.test"))
    state = {"containers": {
        "proj-db-1": {"running": True, "image": "postgres",
                      "labels": {"com.docker.compose.project.working_dir": real, "com.docker.compose.service": "db"}},
        "proj-agent-1": {"running": True, "image": "agent-sandbox-base:local",
                         "labels": {"com.docker.compose.project.working_dir": real,
                                    "com.docker.compose.service": "agent"}},
        "elsewhere-agent-1": {"running": True, "image": "agent-sandbox-base:local",
                              "labels": {"com.docker.compose.project.working_dir": "/other"}}}}
    (box.tmp / "engine.state").write_text(json.dumps(state))
    r = box.run("denied")
    assert r.returncode == 0, r.stderr
    assert box.call("exec")["argv"][:4] == ["exec", "proj-agent-1", "/usr/sbin/agent-sandbox-init", "denials"]
    assert 'allow it: domains: ["c.test"] in a policy file' in r.stdout and "agentbox allow" not in r.stdout
    assert "policy.d" in r.stderr
    state = {"containers": {"vsc-proj-abc": {"running": True, "image": "agent-sandbox-base:local",
                                             "labels": {"devcontainer.local_folder": real}}}}
    (box.tmp / "engine.state").write_text(json.dumps(state))
    r = box.run("denied", "--json")
    assert r.returncode == 0, r.stderr
    assert box.call("exec")["argv"][1] == "vsc-proj-abc"
    assert json.loads(r.stdout)["allow"] is None
    # The split template: its firewall service records the denials, whether
    # compose lists it before or after the agent.
    for order in (("agent", "firewall", "network"), ("firewall", "agent", "network")):
        state = {"containers": {f"proj-{svc}-1": {"running": True, "image": "agent-sandbox-base:local",
                                                  "labels": {"com.docker.compose.project.working_dir": real,
                                                             "com.docker.compose.service": svc}}
                                for svc in order}}
        (box.tmp / "engine.state").write_text(json.dumps(state))
        r = box.run("denied")
        assert r.returncode == 0, r.stderr
        assert box.call("exec")["argv"][1] == "proj-firewall-1", order


def test_denied_without_a_sandbox_or_an_init_that_records(box):
    r = box.run("denied")
    assert r.returncode == 1
    assert r.stderr.startswith(f"agentbox: no running sandbox for {box.project}") and "agentbox run" in r.stderr
    assert "exec" not in [a[0] for a in box.argvs()]
    assert box.run("run", "--keep", "--", "true").returncode == 0
    r = box.run("denied")       # FAKE_ENGINE_DENIALS unset: an image without the subcommand
    assert r.returncode == 1 and "images/build.sh" in r.stderr and len(r.stderr.splitlines()) == 1


def test_allow_adds_and_reloads(box):
    assert box.run("run", "--keep", "--", "true").returncode == 0
    name = box.name()
    box.log.unlink()
    r = box.run("allow", "New.test", "*.wild.test")
    assert r.returncode == 0, r.stderr
    assert "added new.test" in r.stdout and "added *.wild.test" in r.stdout
    # The reload's own output: the init's lines from the last reload on.
    assert box.call("kill")["argv"] == ["kill", "-s", "HUP", name]
    assert "reloading the policy" in r.stderr and "sandbox ready in 3.0" in r.stderr and "old-reload" not in r.stderr
    shown = json.loads(box.run("policy", "show", "--json").stdout)
    assert "new.test" in shown["domains"] and "*.wild.test" in shown["domains"]
    r = box.run("allow", "new.test")
    assert r.returncode == 0 and "already in the policy" in r.stdout


def test_allow_refuses_bad_names_before_writing(box):
    assert box.run("run", "--keep", "--", "true").returncode == 0
    box.log.unlink()
    r = box.run("allow", "good.test", "bad_host.test")
    assert r.returncode == 2 and "'bad_host.test' is not a valid host name" in r.stderr
    r = box.run("allow", "203.0.113.9")
    assert r.returncode == 2 and 'cidrs: ["203.0.113.9/32"]' in r.stderr
    r = box.run("allow")
    assert r.returncode == 2
    assert box.argvs() == [] and not (box.xdg / "agent-sandbox" / "projects").exists() or \
        "good.test" not in next((box.xdg / "agent-sandbox" / "projects").glob("*.yaml")).read_text()


def test_allow_needs_a_running_sandbox(box):
    r = box.run("allow", "a.test")
    assert r.returncode == 1 and r.stderr == f"agentbox: no sandbox for {box.project}; start one with agentbox run\n"
    assert not list((box.xdg / "agent-sandbox").glob("projects/*.yaml")), "nothing is written"


def write_policy(box, text):
    f = box.xdg / "agent-sandbox" / "projects" / f"{box.name()}.yaml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    return f


def test_check_exit_codes_and_the_matching_entry(box):
    f = write_policy(box, "domains:\n  - exact.test\n  - '*.example.com'\ncidrs:\n  - 192.0.2.0/24\n"
                          "  - 2001:db8::/32\nports: [443, 8443]\n")
    cases = [
        ("api.example.com", 0, f'allowed by domains: "*.example.com" in {f}:3'),
        ("api.example.com:8443", 0, f"port 8443 by ports: in {f}:7"),
        ("exact.test:443", 0, f'allowed by domains: "exact.test" in {f}:2'),
        ("api.example.com:80", 1, "refused: port 80 is not allowed to api.example.com (443, 8443)"),
        ("badexample.com", 1, "refused: no domains: entry or service covers badexample.com"),
        ("192.0.2.55:443", 0, f'allowed by cidrs: "192.0.2.0/24" in {f}:5'),
        ("[2001:db8::1]:8443", 0, f'allowed by cidrs: "2001:db8::/32" in {f}:6'),
        ("198.51.100.1", 1, "refused: no cidrs: entry contains 198.51.100.1"),
    ]
    for target, code, text in cases:
        r = box.run("check", target)
        assert r.returncode == code and text in r.stdout, (target, r.stdout, r.stderr)
        assert "image's own policy is left out" in r.stderr
    for bad in ("", "a.test:0", "a.test:99999", "bad_host", "[::1", "a.test b.test"):
        r = box.run("check", *bad.split(" ")) if bad else box.run("check")
        assert r.returncode == 2, (bad, r.stdout, r.stderr)


def test_check_includes_the_images_policy_from_the_running_sandbox(box):
    write_policy(box, "domains: [mine.test]\n")
    assert box.run("check", "github.com:22").returncode == 1, "no sandbox: the image's github is not known"
    assert box.run("run", "--keep", "--", "true").returncode == 0
    r = box.run("check", "github.com:22")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert 'allowed by service "github" in /etc/agent-sandbox/policy.yaml (the image\'s):1' in r.stdout
    assert "port 22 is service \"github\"'s" in r.stdout
    assert box.call("exec")["argv"] == ["exec", box.name(), "cat", "/etc/agent-sandbox/policy.yaml"]
    r = box.run("check", "mine.test:22")
    assert r.returncode == 1 and "port 22 is not allowed" in r.stdout, "github's port is github's alone"
    r = box.run("check", "mine.test")
    assert r.returncode == 0 and "default port" not in r.stdout
    r = box.run("check", "mine.test:443")
    assert r.returncode == 0 and "default port" in r.stdout
