# SPDX-License-Identifier: MIT
"""agentbox against the real Docker engine, on the fake internet of
dockerenv (an --internal network with its own DNS for .test names). The
sandbox image is the test base image with a test policy baked in, so that
nothing tries to reach a real host."""
import json
import os
import re
import signal
import subprocess
import time

import pytest


from buildpaths import AGENTBOX
from dockerenv import IMAGE, ROOT, SECCOMP_PROBE, SECCOMP_REFUSED, docker


pytestmark = pytest.mark.needs_images


def base_policy(env):
    return (f"domains: [allowed.test]\ncidrs: [{env.allowed_ip}/32]\nports: [80]\n"
            "selfcheck: {allowed: allowed.test:80}\n")


@pytest.fixture(scope="module")
def test_image(dockerenv, tmp_path_factory):
    """IMAGE with the test policy as its base policy."""
    ctx = tmp_path_factory.mktemp("agentbox-image")
    (ctx / "policy.yaml").write_text(base_policy(dockerenv))
    (ctx / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY policy.yaml /etc/agent-sandbox/policy.yaml\n")
    tag = f"agent-sandbox-agentbox-e2e:{dockerenv.tag}"
    docker("build", "-q", "-t", tag, str(ctx), timeout=300)
    yield tag
    docker("rmi", "-f", tag, check=False)


class Agentbox:
    def __init__(self, dockerenv, image, tmp_path, folder="my project"):
        self.project = tmp_path / folder          # a space, as users have
        self.project.mkdir()
        os.chmod(self.project, 0o777)             # dev (uid 1000) writes /workspace
        self.env = dict(os.environ, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
                        AGENTBOX_ENGINE="/usr/bin/docker", AGENTBOX_READY_TIMEOUT="60")
        self.start_args = ["--image", image, "--network", dockerenv.network, "--dns", dockerenv.dns_ip]

    def __call__(self, *args, timeout=120, env=None):
        return subprocess.run([AGENTBOX, *args], cwd=self.project, env=dict(self.env, **(env or {})),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def popen(self, *args):
        return subprocess.Popen([AGENTBOX, *args], cwd=self.project, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    def popen_run(self, *args):
        return self.popen("run", *self.start_args, *args)

    def run(self, *args, timeout=120, env=None):
        return self("run", *self.start_args, *args, timeout=timeout, env=env)

    def running(self, timeout=60):
        """Wait until the project's sandbox runs and its init said ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = self.containers()
            if ids and "sandbox ready" in docker("logs", ids[0], check=False).stderr:
                return ids[0]
            time.sleep(0.1)
        raise AssertionError("the sandbox never became ready")

    def gone(self, timeout=30):
        deadline = time.monotonic() + timeout
        while self.containers():
            assert time.monotonic() < deadline, "the sandbox is still there"
            time.sleep(0.1)

    def containers(self):
        out = docker("ps", "-a", "-q", "--filter", f"label=agentbox.project={os.path.realpath(self.project)}")
        return out.stdout.split()


@pytest.fixture
def ab(dockerenv, test_image, tmp_path):
    box = Agentbox(dockerenv, test_image, tmp_path)
    try:
        yield box
    finally:
        box("down")


def test_run_true_exits_zero_and_leaves_nothing(ab):
    r = ab.run("--", "true")
    assert r.returncode == 0, r.stderr
    assert "sandbox ready" in r.stderr
    assert "policy done in" not in r.stderr, "the init's steps are not for the user's terminal"
    assert ab.containers() == []
    r = ab.run("-v", "--", "true")
    assert r.returncode == 0, r.stderr
    assert "policy done in" in r.stderr and "sandbox ready" in r.stderr, r.stderr


def test_run_passes_the_exit_code(ab):
    r = ab.run("--", "sh", "-c", "exit 7")
    assert r.returncode == 7, r.stderr


def test_run_is_dev_in_workspace_with_no_host_env(ab):
    r = ab.run("--", "sh", "-c", "id -un; pwd; touch made-inside; env")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "dev" and lines[1] == "/workspace"
    assert (ab.project / "made-inside").exists()
    assert "XDG_CONFIG_HOME" not in r.stdout


def test_run_firewall_is_up_before_the_command_and_named_variables_pass(ab):
    # TMPDIR is one of the variables the loader drops from a privileged
    # process's environment (PID 1 holds a file capability): passed, it
    # still reaches the command.
    script = ("echo token=$MY_TOKEN other=${OTHER_SECRET:-unset} tmpdir=$TMPDIR; "
              "curl -s -o /dev/null -w 'allowed=%{http_code} ' --max-time 3 http://allowed.test/; "
              "curl -s -o /dev/null -w 'far=%{http_code}\\n' --max-time 3 http://far.test/; exit 0")
    r = ab.run("-e", "MY_TOKEN", "-e", "TMPDIR", "--", "sh", "-c", script,
               env={"MY_TOKEN": "tok-123", "OTHER_SECRET": "no", "TMPDIR": "/tmp/mine"})
    assert r.returncode == 0, r.stderr
    assert "token=tok-123 other=unset tmpdir=/tmp/mine" in r.stdout, r.stdout
    assert "allowed=200 far=000" in r.stdout, r.stdout
    assert ab.containers() == []


def test_run_with_a_terminal(ab):
    """stdin a terminal: the command gets one (-t), as its foreground job,
    and its exit code comes back through it."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ab.project)
        os.execve(AGENTBOX, [AGENTBOX, "run", *ab.start_args, "--", "sh", "-c",
                             "test -t 0 && test -t 1 && echo tty-yes; "
                             "[ $(ps -o tpgid= -p $$) = $(ps -o pgid= -p $$) ] && echo foreground-yes; exit 4"],
                  ab.env)
    out = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 1)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 4, text
    assert "tty-yes" in text and "foreground-yes" in text, text
    ab.gone()


def test_seccomp_profile_refuses_vsock_and_io_uring(ab):
    """Both ways agentbox creates a sandbox (a one-shot run, and --keep
    with a shell) pass its seccomp profile."""
    r = ab.run("--", "sh", "-c", SECCOMP_PROBE)
    assert r.returncode == 0 and r.stdout == SECCOMP_REFUSED, (r.stdout, r.stderr)
    # The kernel reads socket()'s family as an int: junk in the upper half
    # of the register must not get AF_VSOCK past the filter (x86_64: socket is 41).
    r = ab.run("--", "perl", "-e", 'print syscall(41, 0x100000028, 1, 0) >= 0 ? "created" : $!+0')
    assert r.stdout == "97", (r.stdout, r.stderr)
    assert ab.run("--keep", "--", "true").returncode == 0
    r = ab("shell", "--", "sh", "-c", SECCOMP_PROBE)
    assert r.returncode == 0 and r.stdout == SECCOMP_REFUSED, (r.stdout, r.stderr)


def test_second_run_joins_the_first_and_ends_with_it(ab):
    first = ab.popen_run("--", "sh", "-c", "sleep 4; echo first-done")
    try:
        ab.running()
        r = ab.run("--", "sh", "-c", "echo joined")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "joined"
        assert "Conflict" not in r.stderr and "docker run --help" not in r.stderr, r.stderr
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0 and "first-done" in out, err
        ab.gone()
    finally:
        first.kill()
        first.wait()


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_signal_to_run_ends_the_command_and_removes_the_sandbox(ab, sig):
    """SIGHUP is the terminal going away: the sandbox must not outlive it
    (passed on as is, it would only reload the policy)."""
    p = ab.popen_run("--", "sleep", "300")
    try:
        ab.running()
        p.send_signal(getattr(signal, sig))
        p.communicate(timeout=60)
        ab.gone()
    finally:
        p.kill()
        p.wait()


def test_run_ends_the_shells_attached_to_its_sandbox(ab):
    """What a run started, it ends: a shell attached to it does not keep it
    (or the run) alive after the run's command."""
    first = ab.popen_run("--", "sh", "-c", "sleep 3; exit 5")
    try:
        ab.running()
        shell = ab.popen("shell", "--", "sleep", "300")
        first.communicate(timeout=60)
        assert first.returncode == 5
        shell.communicate(timeout=30)
        ab.gone()
    finally:
        first.kill()
        first.wait()


def test_two_shells_at_once(ab):
    assert ab.run("--keep", "--", "true").returncode == 0
    shells = [ab.popen("shell", "--", "sh", "-c", f"sleep 1; echo shell-{i}") for i in range(2)]
    outs = [s.communicate(timeout=60) for s in shells]
    assert [s.returncode for s in shells] == [0, 0], outs
    assert outs[0][0].strip() == "shell-0" and outs[1][0].strip() == "shell-1"


def curl_code(ab, host):
    r = ab("shell", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", f"http://{host}/")
    return r.stdout.strip()


def test_policy_add_reload_remove_reload(ab):
    """The edit reaches the running sandbox through its bind mount, and the
    reload applies it: far.test (outside the sandbox's own network) becomes
    reachable by name, and is refused again once removed."""
    assert ab.run("--keep", "--", "true").returncode == 0
    assert curl_code(ab, "allowed.test") == "200"
    assert curl_code(ab, "far.test") == "000"
    assert ab("policy", "add", "far.test").returncode == 0
    r = ab("reload")
    assert r.returncode == 0, r.stderr
    assert "2 names" in r.stderr, r.stderr
    assert curl_code(ab, "far.test") == "200"
    assert curl_code(ab, "allowed.test") == "200", "a reload keeps what was allowed"
    assert ab("policy", "remove", "far.test").returncode == 0
    r = ab("reload")
    assert r.returncode == 0, r.stderr
    assert re.search(r"\b1 name\b", r.stderr), r.stderr
    assert curl_code(ab, "far.test") == "000"


def test_reload_of_a_one_shot_sandbox_says_what_is_allowed(ab):
    """A sandbox started by a plain `run` logs at notice level; its reload
    still reports what the new rules allow, in the "sandbox ready" line."""
    p = ab.popen_run("--", "sleep", "60")
    try:
        ab.running()
        assert ab("policy", "add", "far.test").returncode == 0
        r = ab("reload")
        assert r.returncode == 0, r.stderr
        assert re.search(r"sandbox ready in [0-9.]+ ms: 2 of 2 names resolved", r.stderr), r.stderr
        assert curl_code(ab, "far.test") == "200"
    finally:
        p.terminate()
        p.communicate(timeout=60)
    ab.gone()


def wait_for_denial(ab, text, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        r = ab("denied")
        if text in r.stdout or time.monotonic() > deadline:
            return r
        time.sleep(0.3)


def test_denied_lists_a_refusal_and_allow_makes_it_reachable(ab, dockerenv):
    """curl to a refused name: denied names it with the allow command; check
    says refused (1); allow applies it without restarting the sandbox, and
    check then says allowed (0)."""
    assert ab.run("--keep", "--", "true").returncode == 0
    cid = ab.containers()[0]
    assert curl_code(ab, "far.test") == "000"
    r = wait_for_denial(ab, "far.test")
    assert r.returncode == 0 and "far.test" in r.stdout, (r.stdout, r.stderr)
    assert "    allow it: agentbox allow far.test" in r.stdout
    groups = [json.loads(line) for line in ab("denied", "--json", "--since", "5m").stdout.splitlines()]
    assert any(g["name"] == "far.test" and g["allow"] == "agentbox allow far.test" for g in groups), groups
    r = ab("check", "far.test:80")
    assert r.returncode == 1 and "refused" in r.stdout, r.stdout
    r = ab("check", "allowed.test:80")
    assert r.returncode == 0 and "(the image's)" in r.stdout, r.stdout
    r = ab("allow", "far.test")
    assert r.returncode == 0 and "added far.test" in r.stdout and "sandbox ready" in r.stderr, r.stderr
    assert curl_code(ab, "far.test") == "200"
    assert ab.containers() == [cid], "the same sandbox, not a restart"
    assert ab("check", "far.test:80").returncode == 0
    # A literal address no name led to: the cidrs line, no command.
    ab("shell", "--", "curl", "-s", "--max-time", "3", f"http://{dockerenv.blocked_ip}/")
    r = wait_for_denial(ab, dockerenv.blocked_ip)
    assert f'cidrs: ["{dockerenv.blocked_ip}/32"]' in r.stdout and "never resolved in the sandbox" in r.stdout


def test_down_leaves_nothing_running(ab):
    assert ab.run("--keep", "--", "true").returncode == 0
    assert len(ab.containers()) == 1
    r = ab("down")
    assert r.returncode == 0 and "removed" in r.stdout
    assert ab.containers() == []
    r = ab("shell", "--", "true")
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        f"agentbox: no sandbox for {os.path.realpath(ab.project)}; start one with agentbox run"], r.stderr


def test_init_then_compose_up_in_a_fresh_folder(dockerenv, test_image, tmp_path):
    box = Agentbox(dockerenv, test_image, tmp_path, folder="fresh")
    r = box("init")
    assert r.returncode == 0, r.stderr
    (box.project / "docker-compose.override.yml").write_text(f"""version: "2.4"
services:
  agent:
    dns: [{dockerenv.dns_ip}]
networks:
  default:
    external: true
    name: {dockerenv.network}
""")
    env = dict(box.env, AGENT_SANDBOX_IMAGE=test_image)
    name = f"agentboxe2e{dockerenv.tag}"

    def compose(*args):
        return subprocess.run(["docker-compose", "-p", name, *args], cwd=box.project, env=env,
                              capture_output=True, text=True, timeout=120)

    up = compose("up", "-d")
    try:
        assert up.returncode == 0, up.stderr
        deadline = time.monotonic() + 30
        while "sandbox ready" not in (logs := compose("logs", "--no-color", "agent").stdout):
            assert time.monotonic() < deadline, logs
            time.sleep(0.2)
        r = compose("exec", "-T", "agent", "id", "-un")
        assert r.stdout.strip() == "dev", r.stderr
        r = compose("exec", "-T", "agent", "sh", "-c", SECCOMP_PROBE)
        assert r.stdout == SECCOMP_REFUSED, "init writes the profile the template names: " + r.stdout + r.stderr
    finally:
        compose("down", "-v")


def test_compose_sandbox_denials_by_the_documented_command_and_agentbox_denied(dockerenv, test_image, tmp_path):
    """docs/compose.md's command lists a refusal in the compose template's
    sandbox, and agentbox denied finds that container by compose's label."""
    box = Agentbox(dockerenv, test_image, tmp_path, folder="composed")
    assert box("init").returncode == 0
    (box.project / "docker-compose.override.yml").write_text(f"""version: "2.4"
services:
  agent:
    dns: [{dockerenv.dns_ip}]
networks:
  default:
    external: true
    name: {dockerenv.network}
""")
    env = dict(box.env, AGENT_SANDBOX_IMAGE=test_image)
    name = f"agentboxdenied{dockerenv.tag}"

    def compose(*args):
        return subprocess.run(["docker-compose", "-p", name, *args], cwd=box.project, env=env,
                              capture_output=True, text=True, timeout=120)

    try:
        assert compose("up", "-d").returncode == 0
        deadline = time.monotonic() + 30
        while "sandbox ready" not in compose("logs", "--no-color", "agent").stdout:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        compose("exec", "-T", "agent", "curl", "-s", "--max-time", "3", "http://far.test/")
        r = compose("exec", "-T", "agent", "agent-sandbox-init", "denials")
        assert r.returncode == 0 and any(json.loads(line).get("name") == "far.test"
                                         for line in r.stdout.splitlines()), r.stdout + r.stderr
        r = box("denied")
        assert r.returncode == 0 and "far.test" in r.stdout, r.stderr
        assert 'allow it: domains: ["far.test"]' in r.stdout and "agentbox allow" not in r.stdout
    finally:
        compose("down", "-v")


def test_doctor_and_run_with_a_stopped_engine(tmp_path):
    """The real docker CLI, its daemon not running (a socket nobody serves):
    doctor says so with the fix, and run fails with one line and exit 125."""
    box_env = dict(os.environ, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
                   AGENTBOX_ENGINE="/usr/bin/docker", DOCKER_HOST=f"unix://{tmp_path}/stopped.sock")
    project = tmp_path / "p"
    project.mkdir()

    def agentbox(*args):
        return subprocess.run([AGENTBOX, *args], cwd=project, env=box_env, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
    r = agentbox("doctor")
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert "daemon not running" in r.stdout and "start dockerd" in r.stdout, r.stdout
    r = agentbox("run", "--", "true")
    assert r.returncode == 125, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not running" in lines[0], r.stderr
