# SPDX-License-Identifier: MIT
"""The sandbox image under Podman (Debian's podman with runc), on an
internal podman network of the test's own with the same fake internet as
tests/dockerenv.py. Podman gets its own storage, run and network-config
folders under the test's temp folder, so nothing here touches another
user's podman state.

Podman hands added capabilities to a non-root container user as ambient
capabilities; as `dev` the init must refuse to start. Run as root (what the
one-container image allows under podman; the documented way is split mode,
tests/e2e/test_split_podman.py), CMD and `podman exec -u dev` terminals must
be as powerless as under Docker."""
import difflib
import json
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from dockerenv import DOCKER, IMAGE, TESTNET_IMAGE

PODMAN = "/usr/bin/podman"
CAP_NET_ADMIN = 12
REFUSAL = ("the container engine gives CAP_NET_ADMIN to every process of uid 1000 "
           "(as an ambient capability, which podman does)")


class PodmanEnv:
    def __init__(self, workdir):
        self.tag = uuid.uuid4().hex[:8]
        self.workdir = workdir
        self.network = f"asb-e2e-pm-{self.tag}"
        self.root, self.runroot, self.netconf = (workdir / d for d in ("storage", "run", "cni"))
        self.netconf.mkdir()
        self.conf = workdir / "containers.conf"
        # crun fails on this host's cgroup layout, and the default ulimits make
        # every run fail (ENVIRONMENT: runc, default_ulimits = []).
        self.conf.write_text(f'[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'
                             f'[network]\nnetwork_config_dir = "{self.netconf}"\n')
        self.image = f"localhost/{IMAGE}"
        self.testnet_image = f"localhost/{TESTNET_IMAGE}"

    def podman(self, *args, check=True, timeout=120, **kw):
        env = dict(os.environ, CONTAINERS_CONF=str(self.conf))
        return subprocess.run([PODMAN, "--root", str(self.root), "--runroot", str(self.runroot), *args],
                              env=env, capture_output=True, text=True, check=check, timeout=timeout, **kw)

    def setup(self):
        save = subprocess.Popen([DOCKER, "save", IMAGE, TESTNET_IMAGE], stdout=subprocess.PIPE)
        load = self.podman("load", stdin=save.stdout, timeout=600)
        assert save.wait() == 0
        assert self.image in load.stdout and self.testnet_image in load.stdout, load.stdout
        self.create_network()
        self.run_helper("dns", self.dns_ip, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                        "--log-queries", "--log-facility=-", "--user=root",
                        f"--host-record=allowed.test,{self.allowed_ip}",
                        f"--host-record=deep.x.wild.test,{self.allowed_ip}",
                        f"--host-record=blocked.test,{self.blocked_ip}", "--local-ttl=60")
        for name, ip in (("allowed", self.allowed_ip), ("blocked", self.blocked_ip)):
            self.run_helper(name, ip, "python3", "-m", "http.server", "80")

    def create_network(self):
        """An --internal network on the first 198.19.N.0/24 no route on this machine uses."""
        routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
        for n in range(10, 250):
            if f"198.19.{n}." in routes:
                continue
            r = self.podman("network", "create", "--internal", "--disable-dns", "--subnet",
                            f"198.19.{n}.0/24", self.network, check=False)
            if r.returncode == 0:
                self.dns_ip, self.allowed_ip, self.blocked_ip = (f"198.19.{n}.{h}" for h in (2, 10, 11))
                return
        raise AssertionError("no free 198.19.N.0/24 subnet for the podman test network")

    def run_helper(self, name, ip, *cmd):
        self.podman("run", "-d", "--name", f"asb-e2e-pm-{name}-{self.tag}", "--network", self.network,
                    "--ip", ip, self.testnet_image, *cmd)

    def sandbox_args(self, policy, as_root=False):
        """The flags of the Docker tests: no capabilities but the two, read-only,
        the test policy. As root (docs/security.md, Podman) the init also needs
        SETUID and SETGID to become dev for CMD."""
        caps = ["NET_ADMIN", "SETPCAP", "SETUID", "SETGID"]
        args = ["--network", self.network, "--dns", self.dns_ip, "--cap-drop", "ALL", "--read-only",
                "--tmpfs", "/tmp", "--tmpfs", "/run", "-v", f"{policy}:/etc/agent-sandbox/policy.yaml:ro"]
        for c in caps:
            args += ["--cap-add", c]
        return args + (["--user", "root"] if as_root else [])

    def logs(self, name):
        r = self.podman("logs", name, check=False)
        return r.stdout + r.stderr

    def state(self, name):
        return json.loads(self.podman("inspect", name).stdout)[0]["State"]

    def wait_log(self, name, text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = self.logs(name)
            if text in logs or not self.state(name)["Running"]:
                return logs
            time.sleep(0.1)
        raise AssertionError(f"{name}: no {text!r} in the log:\n" + self.logs(name))

    def exited(self, name, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state(name)
            if not state["Running"]:
                return state["ExitCode"]
            time.sleep(0.1)
        raise AssertionError(f"{name} is still running")

    def ruleset(self, name):
        pid = self.state(name)["Pid"]
        return subprocess.run(["nsenter", "-t", str(pid), "-n", "nft", "-j", "list", "ruleset"],
                              capture_output=True, text=True, check=True).stdout

    def teardown(self):
        # Everything below lives in this test's own storage and config folders.
        self.podman("rm", "-a", "-f", "-t", "0", check=False)
        self.podman("network", "rm", "-f", self.network, check=False)
        self.podman("rmi", "-a", "-f", check=False)
        subprocess.run(["umount", "-R", str(self.root / "overlay")], capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def podmanenv(dockerenv, tmp_path_factory):
    if not os.path.exists(PODMAN) or shutil.which("runc") is None:
        pytest.skip("podman or runc is missing: scripts/install-deps.sh test installs them")
    d = tmp_path_factory.mktemp("podman")
    os.chmod(d, 0o755)
    env = PodmanEnv(d)
    try:
        env.setup()
        yield env
    finally:
        env.teardown()


def policy(env, name):
    path = env.workdir / name
    path.write_text(f"domains: [allowed.test, \"*.wild.test\"]\ncidrs: [{env.allowed_ip}/32]\nports: [80]\n")
    os.chmod(path, 0o644)
    return path


def without_counts(node):
    """The ruleset minus counter values, which move with any packet (IPv6
    neighbour discovery of podman's bridge comes at its own times), and
    minus the countdown of learned addresses' expiry."""
    if isinstance(node, dict):
        return {k: ({} if k == "counter" else without_counts(v)) for k, v in node.items() if k != "expires"}
    if isinstance(node, list):
        return [without_counts(v) for v in node]
    return node


def rules_lines(ruleset):
    return [json.dumps(without_counts(o), sort_keys=True) for o in json.loads(ruleset)["nftables"]]


def cap_sets(status):
    return {m.group(1): int(m.group(2), 16) for m in re.finditer(r"^Cap(\w+):\s+([0-9a-f]+)$", status, re.M)}


@pytest.mark.parametrize("with_cmd", [True, False], ids=["cmd", "supervise"])
def test_as_image_user_refuses_to_start(podmanenv, tmp_path, with_cmd):
    """The image's own USER dev: podman makes NET_ADMIN ambient, so any
    terminal could flush the rules; the init must not start anything."""
    marks = tmp_path / "marks"
    marks.mkdir()
    os.chown(marks, 1000, 1000)
    name = f"asb-e2e-pm-sbx-{uuid.uuid4().hex[:8]}"
    cmd = ["--", "touch", "/marks/started"] if with_cmd else []
    podmanenv.podman("run", "-d", "--name", name, "-v", f"{marks}:/marks",
                     *podmanenv.sandbox_args(policy(podmanenv, f"dev-{with_cmd}.yaml")), podmanenv.image, *cmd)
    code = podmanenv.exited(name)
    logs = podmanenv.logs(name)
    assert code == 1, logs
    assert REFUSAL in logs, logs
    assert "agentbox run --split" in logs, "the refusal names split mode, not a root container:\n" + logs
    assert "sandbox ready" not in logs and "running as" not in logs, logs
    assert not (marks / "started").exists(), "a user process ran"


def test_as_root_cmd_runs_as_dev_without_capabilities(podmanenv):
    name = f"asb-e2e-pm-sbx-{uuid.uuid4().hex[:8]}"
    podmanenv.podman("run", "-d", "--name", name, *podmanenv.sandbox_args(policy(podmanenv, "cmd.yaml"), as_root=True),
                     podmanenv.image, "--", "sh", "-c",
                     "id -un; grep -E '^Cap(Inh|Prm|Eff|Amb|Bnd)' /proc/self/status; grep NoNewPrivs /proc/self/status")
    code = podmanenv.exited(name)
    logs = podmanenv.logs(name)
    assert code == 0, logs
    assert "sandbox ready" in logs and "\ndev\n" in f"\n{logs}", logs
    caps = cap_sets(logs)
    assert set(caps) == {"Inh", "Prm", "Eff", "Amb", "Bnd"} and not any(caps.values()), caps
    assert re.search(r"^NoNewPrivs:\s+1$", logs, re.M), logs


@pytest.fixture(scope="module")
def root_sandbox(podmanenv):
    name = f"asb-e2e-pm-sbx-{uuid.uuid4().hex[:8]}"
    podmanenv.podman("run", "-d", "--name", name,
                     *podmanenv.sandbox_args(policy(podmanenv, "root.yaml"), as_root=True), podmanenv.image)
    logs = podmanenv.wait_log(name, "supervising")
    assert "sandbox ready" in logs, logs
    return name


def exec_dev(env, name, script, timeout=60):
    return env.podman("exec", "-u", "dev", name, "bash", "-c", script, check=False, timeout=timeout)


def test_as_root_supervising_line_names_exec_as_dev(podmanenv, root_sandbox):
    logs = podmanenv.logs(root_sandbox)
    assert "podman exec -u dev" in logs, logs


def test_as_root_exec_dev_terminal_allowed_and_blocked(podmanenv, root_sandbox):
    tables = [o["table"]["name"] for o in json.loads(podmanenv.ruleset(root_sandbox))["nftables"]
              if o.get("table", {}).get("family") == "inet"]
    assert "agent_sandbox" in tables, tables
    r = exec_dev(podmanenv, root_sandbox, "curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://allowed.test/")
    assert r.stdout == "200", (r.stdout, r.stderr)
    # A name the policy does not allow does not even resolve: the sandbox's
    # resolver answers NXDOMAIN and asks nobody ...
    r = exec_dev(podmanenv, root_sandbox, "curl -sS --max-time 5 http://blocked.test/")
    assert r.returncode == 6, (r.returncode, r.stderr)    # could not resolve
    # ... and its address is refused at once.
    t0 = time.monotonic()
    r = exec_dev(podmanenv, root_sandbox, f"curl -sS --max-time 5 http://{podmanenv.blocked_ip}/")
    assert r.returncode == 7, (r.returncode, r.stderr)    # refused, not a timeout
    assert time.monotonic() - t0 < 2


def test_as_root_exec_dev_terminal_cannot_touch_the_firewall(podmanenv, root_sandbox):
    before = podmanenv.ruleset(root_sandbox)
    r = exec_dev(podmanenv, root_sandbox, "id -un; grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status")
    assert r.stdout.splitlines()[0] == "dev", r.stdout + r.stderr
    caps = cap_sets(r.stdout)
    assert set(caps) == {"Inh", "Prm", "Eff", "Amb"} and not any(caps.values()), caps
    assert exec_dev(podmanenv, root_sandbox, "nft flush ruleset").returncode != 0
    # Refused by the read-only mount; the file's own permissions are tested
    # in test_docker.py, without it.
    r = exec_dev(podmanenv, root_sandbox, "echo 'domains: [evil.test]' > /etc/agent-sandbox/policy.yaml")
    assert r.returncode != 0 and "Read-only file system" in r.stderr, r.stderr
    again = exec_dev(podmanenv, root_sandbox, "/usr/sbin/agent-sandbox-init apply")
    assert again.returncode != 0, again.stderr
    r = exec_dev(podmanenv, root_sandbox, "cat /proc/1/environ")
    assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr
    assert exec_dev(podmanenv, root_sandbox, "kill -9 1").returncode != 0
    assert podmanenv.state(root_sandbox)["Running"]
    before, after = rules_lines(before), rules_lines(podmanenv.ruleset(root_sandbox))
    assert after == before, "\n".join(difflib.unified_diff(before, after, lineterm=""))


def test_as_root_plain_exec_is_root_with_net_admin(podmanenv, root_sandbox):
    """What docs/security.md warns about: without -u, podman exec is root and
    holds CAP_NET_ADMIN (the engine's escape hatch, like docker exec -u root)."""
    r = podmanenv.podman("exec", root_sandbox, "sh", "-c", "id -u; grep -E '^CapEff' /proc/self/status")
    lines = r.stdout.splitlines()
    assert lines[0] == "0", r.stdout
    assert cap_sets(r.stdout)["Eff"] & (1 << CAP_NET_ADMIN), r.stdout


def test_as_root_the_sandbox_resolver_answers_only_allowed_names(podmanenv, root_sandbox):
    """Podman, the init as root and terminals as dev: a name under the
    policy's wildcard resolves and connects; a name outside it is answered
    NXDOMAIN in the sandbox and never reaches the network's DNS server."""
    r = exec_dev(podmanenv, root_sandbox,
                 "curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://deep.x.wild.test/")
    assert r.stdout == "200", (r.stdout, r.stderr)
    r = exec_dev(podmanenv, root_sandbox, "getent hosts leak-3.exfil.test; echo rc=$?")
    assert "rc=2" in r.stdout, r.stdout + r.stderr
    dns_log = podmanenv.logs(f"asb-e2e-pm-dns-{podmanenv.tag}")
    assert "deep.x.wild.test" in dns_log, dns_log
    assert "leak-3" not in dns_log, dns_log
