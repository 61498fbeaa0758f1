# SPDX-License-Identifier: MIT
"""agentbox run --split against the real Docker engine: the firewall in a
container of its own beside the agent's, on the fake internet of dockerenv."""
import re

import pytest

from dockerenv import docker
from test_agentbox_e2e import Agentbox, curl_code, test_image  # noqa: F401 (the fixture)

pytestmark = pytest.mark.needs_images
EMPTY = "0000000000000000"


@pytest.fixture
def ab(dockerenv, test_image, tmp_path):  # noqa: F811
    box = Agentbox(dockerenv, test_image, tmp_path)
    box.start_args = ["--split", *box.start_args]
    try:
        yield box
    finally:
        box("down")


def all_containers(ab):
    """The agent's container and the two beside it."""
    ids = ab.containers()
    for c in list(ids):
        name = docker("inspect", "-f", "{{.Name}}", c).stdout.strip().lstrip("/")
        for suffix in ("-network", "-firewall"):
            ids += docker("ps", "-aq", "--filter", f"name=^{name}{suffix}$").stdout.split()
    return ids


def test_run_split_runs_the_command_with_nothing_and_leaves_nothing(ab, dockerenv):
    script = ("id -un; grep -E '^(Cap|NoNewPrivs)' /proc/self/status; nft list ruleset >/dev/null 2>&1; "
              "echo nft=$?; curl -s -o /dev/null -w 'allowed=%{http_code} ' --max-time 3 http://allowed.test/; "
              f"curl -s -o /dev/null -w 'blocked=%{{http_code}}\\n' --max-time 3 http://{dockerenv.blocked_ip}/; "
              "exit 5")
    split_before = set(docker("ps", "-aq", "--filter", "label=agentbox.split-of").stdout.split())
    r = ab.run("--", "sh", "-c", script)
    assert r.returncode == 5, r.stdout + r.stderr
    fields = dict(re.findall(r"^(\w+):\s+(\S+)$", r.stdout, re.M))
    assert r.stdout.startswith("dev\n"), r.stdout
    assert all(fields[f"Cap{s}"] == EMPTY for s in ("Inh", "Prm", "Eff", "Bnd", "Amb")), r.stdout
    assert fields["NoNewPrivs"] == "1" and "nft=1" in r.stdout, r.stdout
    assert "allowed=200 blocked=000" in r.stdout, r.stdout
    assert "firewall proven from the agent's container" in r.stderr, r.stderr
    assert ab.containers() == []
    assert set(docker("ps", "-aq", "--filter", "label=agentbox.split-of").stdout.split()) <= split_before


def test_run_split_keep_reload_and_down(ab):
    assert ab.run("--keep", "--", "true").returncode == 0
    ids = all_containers(ab)
    assert len(ids) == 3, ids
    assert curl_code(ab, "allowed.test") == "200"
    assert curl_code(ab, "far.test") == "000"
    assert ab("policy", "add", "far.test").returncode == 0
    r = ab("reload")
    assert r.returncode == 0 and "2 names" in r.stderr, r.stderr
    assert curl_code(ab, "far.test") == "200"
    r = ab("shell", "--", "sh", "-c", "grep CapBnd /proc/self/status")
    assert r.stdout.split()[-1] == EMPTY, r.stdout + r.stderr
    r = ab("down")
    assert r.returncode == 0 and "removed" in r.stdout, r.stdout + r.stderr
    for c in ids:
        assert docker("inspect", c, check=False).returncode != 0, c


def test_denied_logs_and_check_read_the_firewalls_container(ab):
    """In split mode the firewall's container records the denials and logs
    the firewall's setup; the agent's container holds neither. denied,
    logs and check go to the firewall's."""
    from test_agentbox_e2e import wait_for_denial
    assert ab.run("--keep", "--", "true").returncode == 0
    assert curl_code(ab, "far.test") == "000"
    r = wait_for_denial(ab, "far.test")
    assert r.returncode == 0 and "far.test" in r.stdout, (r.stdout, r.stderr)
    assert "allow it: agentbox allow far.test" in r.stdout, r.stdout
    r = ab("logs")
    assert r.returncode == 0 and "sandbox ready" in r.stdout + r.stderr, r.stdout + r.stderr
    r = ab("status")
    assert r.returncode == 0 and re.search(r"^firewall: \S+-firewall \(running\)$", r.stdout, re.M), r.stdout
    r = ab("check", "allowed.test:80")
    assert r.returncode == 0 and "(the image's)" in r.stdout, r.stdout + r.stderr
    assert ab("check", "far.test:80").returncode == 1
