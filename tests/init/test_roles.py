# SPDX-License-Identifier: MIT
"""The split-mode roles of agent-sandbox-init outside a container: what
each refuses before it does anything. The roles at work, in real engines,
are tested in tests/e2e/test_split_*.py."""
import subprocess

import pytest

AS_DEV_WITH_NOTHING = ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "--inh-caps=-all",
                       "--bounding-set=-all"]


def run(args, timeout=30):
    return subprocess.run(["unshare", "--net", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def marker(tmp_path):
    tmp_path.chmod(0o777)
    return tmp_path / "ran"


def test_unknown_role_and_firewall_with_a_command_are_usage_errors(init_binary, need_root, marker):
    r = run([init_binary, "--role", "guard"])
    assert r.returncode == 2 and "--role takes sandbox, firewall or agent" in r.stderr, r.stderr
    r = run([init_binary, "--role", "firewall", "--", "touch", str(marker)])
    assert r.returncode == 2 and "runs nothing of the user's" in r.stderr, r.stderr
    assert not marker.exists()


def test_firewall_role_only_as_root(init_binary, need_root, marker):
    r = run(AS_DEV_WITH_NOTHING + [init_binary, "--role", "firewall"])
    assert r.returncode == 1 and "--role firewall runs as root" in r.stderr, r.stderr


def test_agent_role_refuses_root(init_binary, need_root, marker):
    r = run([init_binary, "--role", "agent", "--firewall-wait", "1", "--", "touch", str(marker)])
    assert r.returncode == 1 and "never as root" in r.stderr, r.stderr
    assert not marker.exists()


def test_agent_role_refuses_any_capability_even_only_in_the_bounding_set(init_binary, need_root, marker):
    args = [a for a in AS_DEV_WITH_NOTHING if a != "--bounding-set=-all"]
    r = run(args + [init_binary, "--role", "agent", "--firewall-wait", "1", "--", "touch", str(marker)])
    assert r.returncode == 1 and "holds capabilities (CapBnd " in r.stderr, r.stderr
    assert not marker.exists()


def test_agent_role_without_a_firewall_waits_then_runs_nothing(init_binary, need_root, marker):
    r = run(AS_DEV_WITH_NOTHING + [init_binary, "--role", "agent", "--firewall-wait", "1", "--", "touch",
                                   str(marker)])
    assert r.returncode == 1, r.stderr
    assert "no firewall in this network namespace within 1 s" in r.stderr, r.stderr
    assert not marker.exists()
