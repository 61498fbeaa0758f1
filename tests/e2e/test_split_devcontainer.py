# SPDX-License-Identifier: MIT
"""The split-mode devcontainer template (devcontainer/split) brought up by
the real Dev Containers CLI: the editor's terminals land in the agent's
container, which holds nothing, beside the firewall's."""
import json
import os
import re
import shutil
import subprocess

import pytest

from dockerenv import DOCKER, IMAGE, ROOT, docker
from test_devcontainer import DevContainer, result_line

EMPTY = "0000000000000000"


class SplitDevContainer(DevContainer):
    def __init__(self, env, base, policy):
        super().__init__(env, base, "init-entrypoint", policy)   # folders, CLI and cache as for the others
        dc = self.workspace / ".devcontainer"
        for f in dc.iterdir():
            f.unlink()
        src = os.path.join(ROOT, "devcontainer", "split")
        cfg = json.loads("".join(l for l in open(os.path.join(src, "devcontainer.json"))
                                 if not l.lstrip().startswith("//")))
        cfg["dockerComposeFile"] = cfg["dockerComposeFile"] + ["docker-compose.test.yml"]
        (dc / "devcontainer.json").write_text(json.dumps(cfg, indent=2))
        shutil.copy(os.path.join(src, "docker-compose.yml"), dc)
        (dc / "docker-compose.test.yml").write_text(f"""version: "2.4"
services:
  network:
    image: {IMAGE}
    dns: [{env.dns_ip}]
    networks: [default]
  firewall:
    image: {IMAGE}
    volumes: ["{policy}:/etc/agent-sandbox/policy.yaml:ro"]
  agent:
    image: {IMAGE}
    volumes: ["{policy}:/etc/agent-sandbox/policy.yaml:ro"]
networks:
  default:
    external: true
    name: {env.network}
""")

    def containers(self):
        return docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}").stdout.split()

    def remove(self):
        for c in self.containers():
            docker("rm", "-f", "-v", c)
        docker("volume", "rm", f"{self.project}_agent-home", check=False)


@pytest.fixture
def split_devcontainer(dockerenv, tmp_path):
    if shutil.which("devcontainer") is None:
        pytest.fail("the Dev Containers CLI is missing: scripts/install-deps.sh test installs it")
    policy = dockerenv.policy(f"domains: [allowed.test]\ncidrs: [{dockerenv.allowed_ip}/32]\nports: [80]\n",
                              "devcontainer-split.yaml")
    dc = SplitDevContainer(dockerenv, tmp_path, policy)
    dc.project = None
    try:
        yield dc
    finally:
        if dc.project:
            dc.remove()


def test_split_template_up_runs_terminals_in_the_agent_container_without_privilege(dockerenv, split_devcontainer):
    dc = split_devcontainer
    up = dc.cli("up")
    result = result_line(up)
    assert up.returncode == 0 and result["outcome"] == "success", up.stdout + up.stderr
    cid = result["containerId"]
    labels = json.loads(docker("inspect", cid).stdout)[0]["Config"]["Labels"]
    dc.project = labels["com.docker.compose.project"]
    assert labels["com.docker.compose.service"] == "agent"
    assert "firewall proven from the agent's container" in docker("logs", cid).stdout + docker("logs", cid).stderr

    r = dc.exec_("id -un; pwd; grep -E '^(Cap|NoNewPrivs)' /proc/self/status")
    lines = r.stdout.splitlines()
    assert lines[:2] == ["dev", "/workspace"], r.stdout + r.stderr
    fields = dict(re.findall(r"^(\w+):\s+(\S+)$", r.stdout, re.M))
    assert all(fields[f"Cap{s}"] == EMPTY for s in ("Inh", "Prm", "Eff", "Bnd", "Amb")), r.stdout
    assert fields["NoNewPrivs"] == "1", r.stdout
    r = dc.exec_("curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://allowed.test/; echo; "
                 f"curl -sS --max-time 5 http://{dockerenv.blocked_ip}/; echo rc=$?; nft flush ruleset; echo nft=$?")
    assert r.stdout.startswith("200\n") and "rc=7" in r.stdout and "nft=1" in r.stdout, r.stdout + r.stderr
    # The workspace is the project folder, one up from .devcontainer.
    dc.exec_("touch /workspace/made-inside")
    assert (dc.workspace / "made-inside").exists()
