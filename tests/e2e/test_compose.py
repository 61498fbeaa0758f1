# SPDX-License-Identifier: MIT
"""The compose template as a user runs it: docker-compose up -d, terminals
with docker-compose exec (no -u), docker-compose down."""
import os
import shutil
import subprocess
import time
import uuid

from dockerenv import IMAGE, ROOT, SECCOMP_PROBE, SECCOMP_REFUSED


def compose(project_dir, name, *args, timeout=120):
    env = dict(os.environ, AGENT_SANDBOX_IMAGE=IMAGE)
    return subprocess.run(["docker-compose", "-p", name, *args], cwd=project_dir, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_compose_template_end_to_end(dockerenv, tmp_path):
    project = tmp_path / "project dir"        # a path with a space, as users have
    project.mkdir()
    os.chown(project, 1000, 1000)              # the user's own folder: dev has the same uid
    shutil.copy(os.path.join(ROOT, "compose", "docker-compose.yml"), project)
    shutil.copy(os.path.join(ROOT, "compose", "agent-sandbox-seccomp.json"), project)
    policy = dockerenv.policy(f"domains: [allowed.test]\ncidrs: [{dockerenv.allowed_ip}/32]\nports: [80]\n", "compose.yaml")
    (project / "docker-compose.override.yml").write_text(f"""version: "2.4"
services:
  agent:
    dns: [{dockerenv.dns_ip}]
    volumes:
      - {policy}:/etc/agent-sandbox/policy.yaml:ro
networks:
  default:
    external: true
    name: {dockerenv.network}
""")
    name = "asbe2e" + uuid.uuid4().hex[:6]
    up = compose(project, name, "up", "-d")
    assert up.returncode == 0, up.stderr
    try:
        deadline = time.monotonic() + 20
        while "supervising" not in (logs := compose(project, name, "logs", "--no-color", "agent").stdout):
            assert time.monotonic() < deadline, logs
            time.sleep(0.2)
        assert "sandbox ready" in logs
        # The healthcheck passes once the init has reported ready.
        cid = compose(project, name, "ps", "-q", "agent").stdout.strip()
        deadline = time.monotonic() + 30
        while (health := subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", cid],
                                        capture_output=True, text=True).stdout.strip()) != "healthy":
            assert health == "starting" and time.monotonic() < deadline, health
            time.sleep(0.5)
        r = compose(project, name, "exec", "-T", "agent", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start")
        assert r.stdout.strip() == "1024", r.stdout + r.stderr
        r = compose(project, name, "exec", "-T", "agent", "sh", "-c",
                    f"id -un; pwd; touch /workspace/made-inside; "
                    f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 http://{dockerenv.allowed_ip}/; echo; "
                    f"curl -sS --max-time 5 http://{dockerenv.blocked_ip}/ ; echo rc=$?")
        lines = r.stdout.splitlines()
        assert lines[0] == "dev" and lines[1] == "/workspace", r.stdout + r.stderr
        assert lines[2] == "200", r.stdout + r.stderr
        assert "rc=7" in r.stdout, r.stdout
        assert (project / "made-inside").exists(), "the project folder is the workspace"
        # The template's seccomp profile is in force for the terminals.
        r = compose(project, name, "exec", "-T", "agent", "sh", "-c", SECCOMP_PROBE)
        assert r.stdout == SECCOMP_REFUSED, r.stdout + r.stderr
    finally:
        t0 = time.monotonic()
        down = compose(project, name, "down", "-v")
        elapsed = time.monotonic() - t0
    assert down.returncode == 0, down.stderr
    assert elapsed < 5, elapsed
