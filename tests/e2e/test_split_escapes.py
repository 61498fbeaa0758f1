# SPDX-License-Identifier: MIT
"""Attacks on split mode from the agent's container, as the user dev: the
firewall in a container of its own, the agent's container sharing its
network namespace without any capability (compose/split/docker-compose.yml,
reproduced here with docker run so that the test needs nothing but the
engine). Each test performs one attack and asserts that it gets nothing."""
import os
import subprocess
import time

import pytest

from dockerenv import IMAGE, ROOT, DockerEnv, docker

# Not whether the engine is installed: on a fresh machine it is not, until
# the fixture's DockerEnv.setup() runs scripts/docker-setup.sh.
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the Docker engine")

SECCOMP = os.path.join(ROOT, "compose", "split", "agent-sandbox-seccomp.json")
HARDEN = ["--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--security-opt",
          f"seccomp={SECCOMP}", "--read-only"]

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    env = DockerEnv(tmp_path_factory.mktemp("split-escapes"))
    try:
        env.setup()
        policy = env.policy(f"domains: [allowed.test, \"*.wild.test\"]\ncidrs: [{env.allowed_ip}/32]\nports: [80]\n"
                            f"selfcheck: {{allowed: \"{env.allowed_ip}:80\", blocked: \"{env.blocked_ip}:80\", "
                            "strict: true}\n")
        names = {role: f"asb-e2e-{role}-{env.tag}" for role in ("network", "firewall", "agent")}
        docker("run", "-d", "--name", names["network"], "--network", env.network, "--dns", env.dns_ip,
               "--init", "--user", "dev", *HARDEN, "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024",
               "--entrypoint", "sleep", IMAGE, "infinity")
        env.containers.append(names["network"])
        ns = ["--network", f"container:{names['network']}", *HARDEN, "--tmpfs", "/tmp", "--tmpfs", "/run",
              "-v", f"{policy}:/etc/agent-sandbox/policy.yaml:ro"]
        docker("run", "-d", "--name", names["firewall"], *ns, "--user", "root", "--cap-add", "NET_ADMIN",
               "--cap-add", "SETPCAP", "--cap-add", "SETUID", "--cap-add", "SETGID", IMAGE, "--role", "firewall")
        env.containers.append(names["firewall"])
        env.wait_log(names["firewall"], "firewall ready", timeout=60)
        docker("run", "-d", "--name", names["agent"], *ns, "--user", "dev", "--tmpfs",
               "/home/dev:uid=1000,gid=1000", IMAGE, "--role", "agent")
        env.containers.append(names["agent"])
        logs = env.wait_log(names["agent"], "supervising", timeout=60)
        assert "supervising" in logs, logs
        env.names = names
        # A web server (not a DNS server) on port 53 of an address the policy does not allow.
        env.port53_ip = env.blocked_ip.rsplit(".", 1)[0] + ".12"
        env.run_helper("port53", env.port53_ip, "python3", "-m", "http.server", "53")
        env.agent_ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                              names["network"]).stdout.strip()
        yield env
    finally:
        env.teardown()


def as_dev(env, script, *args, timeout=60):
    return docker("exec", "-i", "-u", "dev", env.names["agent"], "perl", "-", *args, input=script,
                  check=False, timeout=timeout)


def test_dev_cannot_ride_dockerds_upstream_dns_flow(split):
    """A name outside the policy must never reach the network's DNS server,
    nor may dev talk to it on any port but through the sandbox's resolver:
    not even on the 5-tuple of a query dockerd just forwarded
    (attacks/ride-dns-flow.pl)."""
    with open(os.path.join(HERE, "attacks", "ride-dns-flow.pl")) as f:
        script = f.read()
    r = as_dev(split, script, split.agent_ip, split.dns_ip, "wild.test", "blocked.test")
    assert r.returncode == 0, r.stderr
    # Without a forwarded query to ride the attack proves nothing: make sure it had one.
    assert r.stdout.startswith("seen ") and r.stdout.split("\n")[0] != "seen ", r.stdout
    time.sleep(0.5)
    asked = [line for line in split.dns_log().splitlines() if "blocked.test" in line]
    answers = [line for line in r.stdout.splitlines() if line.startswith("answer ")]
    assert not answers and not asked, (
        f"dev reached the DNS server directly on dockerd's flow:\n{r.stdout}\n" + "\n".join(asked))


def test_dev_reaches_nothing_on_port_53_of_a_blocked_address(split):
    """Port 53 is open to uid 0 only (Docker's embedded DNS forwarding;
    docs/security.md, "Not covered"): dev, the only user of the agent's
    container, gets neither DNS nor anything else there."""
    url = f"http://{split.port53_ip}:53/"
    deadline = time.monotonic() + 10
    while subprocess.run(["curl", "-s", "-m", "1", "-o", "/dev/null", url]).returncode != 0:
        assert time.monotonic() < deadline, f"the web server on {url} did not start"
        time.sleep(0.2)
    dev = docker("exec", "-u", "dev", split.names["agent"], "curl", "-s", "-m", "3", "-o", "/dev/null", "-w",
                 "%{http_code}", url, check=False)
    assert dev.stdout != "200", "dev reached a web server on port 53 of a blocked address"
