# SPDX-License-Identifier: MIT
"""Split mode under podman: a pod run by a normal user (rootless podman,
no root anywhere in it), and the Kubernetes manifest
(compose/kubernetes/pod.yaml) through `podman kube play`.

The rootless pod reaches the network through slirp4netns, i.e. from the
host's own network stack: its fake internet is a network namespace of the
test's own behind a veth pair (198.19.N.0/24), with a dnsmasq serving .test
names and two web servers; the pod's DNS is that dnsmasq. The kube play pod
runs on the internal podman network of tests/e2e/test_podman.py."""
import json
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import time
import uuid

import pytest
import yaml

from dockerenv import DOCKER, IMAGE

USER = "asb-rootless"
EMPTY_CAPS = {f"Cap{s}": "0000000000000000" for s in ("Inh", "Prm", "Eff", "Bnd", "Amb")}


def caps_and_uid(output):
    fields = dict(re.findall(r"^(\w+):\s+(\S+)$", output, re.M))
    return {k: fields.get(k) for k in EMPTY_CAPS}, fields.get("NoNewPrivs")


class FakeNet:
    """A network namespace with the test's DNS server and web servers,
    reached from the host over a veth pair; it has no route beyond it."""

    def __init__(self, workdir):
        self.tag = uuid.uuid4().hex[:6]
        self.ns = f"asbpm{self.tag}"
        self.host_if, self.ns_if = f"asbpm{self.tag}h", f"asbpm{self.tag}n"
        self.procs = []
        self.log = workdir / "dns.log"

    def ip(self, *args, ns=False):
        cmd = ["ip", "netns", "exec", self.ns] if ns else []
        subprocess.run(cmd + ["ip", *args], check=True, capture_output=True)

    def setup(self):
        routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
        n = next(n for n in range(100, 250) if f"198.19.{n}." not in routes)
        self.net = f"198.19.{n}"
        self.dns_ip, self.allowed_ip, self.blocked_ip = (f"{self.net}.{h}" for h in (2, 10, 11))
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        self.ip("link", "set", self.ns_if, "netns", self.ns)
        self.ip("addr", "add", f"{self.net}.1/24", "dev", self.host_if)
        self.ip("link", "set", self.host_if, "up")
        self.ip("link", "set", "lo", "up", ns=True)
        self.ip("link", "set", self.ns_if, "up", ns=True)
        for h in (2, 10, 11):
            self.ip("addr", "add", f"{self.net}.{h}/24", "dev", self.ns_if, ns=True)
        run = ["ip", "netns", "exec", self.ns]
        self.procs.append(subprocess.Popen(run + [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
            "--bind-interfaces", f"--listen-address={self.dns_ip}", "--user=root", "--log-queries",
            f"--log-facility={self.log}", f"--host-record=allowed.test,{self.allowed_ip}",
            f"--host-record=blocked.test,{self.blocked_ip}", "--pid-file="]))
        # socat, not python's http.server, which looks its own address up
        # in the DNS when it binds.
        for ip in (self.allowed_ip, self.blocked_ip):
            self.procs.append(subprocess.Popen(run + [
                "socat", f"TCP-LISTEN:80,bind={ip},fork,reuseaddr",
                "SYSTEM:'printf \"HTTP/1.0 200 OK\\\\r\\\\n\\\\r\\\\nok\\\\n\"'"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while any(subprocess.run(run + ["curl", "-sf", "-o", "/dev/null", f"http://{ip}/"]).returncode
                  for ip in (self.allowed_ip, self.blocked_ip)):
            assert time.monotonic() < deadline, "the fake internet's web servers did not start"
            time.sleep(0.1)

    def dns_log(self):
        return self.log.read_text() if self.log.exists() else ""

    def teardown(self):
        for p in self.procs:
            p.kill()
            p.wait()
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


class Rootless:
    """podman as USER, a normal user: its own storage under its home."""

    def __init__(self):
        pw = pwd.getpwnam(USER)
        self.uid, self.home = pw.pw_uid, pw.pw_dir
        self.runtime_dir = f"/run/user/{self.uid}"
        self.image = f"localhost/{IMAGE}"

    def podman(self, *args, check=True, timeout=120, **kw):
        cmd = ["runuser", "-u", USER, "--", "env", f"XDG_RUNTIME_DIR={self.runtime_dir}", f"HOME={self.home}",
               "podman", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/", **kw)
        assert not check or r.returncode == 0, f"podman {' '.join(args)}: {r.stderr}"
        return r

    def logs(self, name):
        r = self.podman("logs", name, check=False)
        return r.stdout + r.stderr

    def state(self, name):
        return json.loads(self.podman("inspect", name).stdout)[0]["State"]

    def exec(self, name, script):
        return self.podman("exec", name, "bash", "-c", script, check=False)

    def wait_log(self, name, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text not in (logs := self.logs(name)):
            assert time.monotonic() < deadline and self.state(name)["Running"], logs
            time.sleep(0.2)
        return logs


def make_user():
    """The normal user, with its subordinate ids (useradd gives them) and a
    containers.conf for this machine (runc; no systemd: cgroupfs and a file
    event log; no default ulimits). As root, once: /dev/net/tun is 0600 on
    these machines, and slirp4netns opens it as the user."""
    for tool in ("podman", "slirp4netns", "newuidmap", "runc"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/install-deps.sh test installs it")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    os.chmod("/dev/net/tun", 0o666)
    r = Rootless()
    os.makedirs(r.runtime_dir, exist_ok=True)
    os.chown(r.runtime_dir, r.uid, r.uid)
    os.chmod(r.runtime_dir, 0o700)
    conf = os.path.join(r.home, ".config", "containers")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "containers.conf"), "w") as f:
        f.write('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'
                'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    for d in (os.path.join(r.home, ".config"), conf):
        os.chown(d, r.uid, r.uid)
    os.chown(os.path.join(conf, "containers.conf"), r.uid, r.uid)
    return r


@pytest.fixture(scope="module")
def rootless(dockerenv, tmp_path_factory):
    work = tmp_path_factory.mktemp("rootless")
    os.chmod(work, 0o755)
    net = FakeNet(work)
    r = make_user()
    pod = f"asb-rl-{net.tag}"
    try:
        net.setup()
        save = subprocess.Popen([DOCKER, "save", IMAGE], stdout=subprocess.PIPE)
        load = r.podman("load", stdin=save.stdout, timeout=600)
        assert save.wait() == 0 and r.image in load.stdout, load.stdout + load.stderr
        # The pytest folders are root's alone: the user's podman reads the
        # policy from a folder of its own.
        policy = pathlib.Path(r.home) / f"policy-{net.tag}.yaml"
        policy.write_text(f'domains: [allowed.test]\ncidrs: [{net.allowed_ip}/32]\nports: [80]\n'
                          f'selfcheck: {{allowed: "{net.allowed_ip}:80", strict: true}}\n')
        os.chmod(policy, 0o644)
        mount = ["-v", f"{policy}:/etc/agent-sandbox/policy.yaml:ro", "--read-only", "--tmpfs", "/tmp",
                 "--tmpfs", "/run"]
        r.podman("pod", "create", "--name", pod, "--dns", net.dns_ip)
        r.podman("run", "-d", "--pod", pod, "--name", f"{pod}-firewall", "--user", "root", "--cap-drop", "ALL",
                 "--cap-add", "NET_ADMIN,SETPCAP,SETUID,SETGID", "--restart", "always", *mount, r.image,
                 "--role", "firewall")
        r.wait_log(f"{pod}-firewall", "firewall ready")
        r.podman("run", "-d", "--pod", pod, "--name", f"{pod}-agent", "--user", "dev", "--cap-drop", "ALL",
                 "--security-opt", "no-new-privileges", *mount, r.image, "--role", "agent")
        r.wait_log(f"{pod}-agent", "supervising")
        r.pod, r.net = pod, net
        yield r
    finally:
        r.podman("pod", "rm", "-f", "-t", "0", pod, check=False)
        r.podman("rmi", "-f", r.image, check=False)
        net.teardown()
        pathlib.Path(r.home, f"policy-{net.tag}.yaml").unlink(missing_ok=True)


def test_rootless_pod_runs_as_a_normal_user_and_the_agent_holds_nothing(rootless):
    r = rootless
    agent = f"{r.pod}-agent"
    # On the host, every process of the pod belongs to the normal user or
    # its subordinate ids: root is nowhere.
    fw_pid = r.state(f"{r.pod}-firewall")["Pid"]
    assert os.stat(f"/proc/{fw_pid}").st_uid == r.uid
    out = r.exec(agent, "grep -E '^(Cap|NoNewPrivs)' /proc/1/status /proc/self/status | sed 's/^[^:]*://'; id -u")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for half in (lines[:6], lines[6:12]):
        caps, nnp = caps_and_uid("\n".join(half))
        assert caps == EMPTY_CAPS and nnp == "1", out.stdout
    assert lines[-1] == "1000"
    out = r.exec(agent, "nft list ruleset; echo list=$?; nft flush ruleset; echo flush=$?")
    assert "list=1" in out.stdout and "flush=1" in out.stdout, out.stdout
    assert "firewall proven from the agent's container" in r.logs(agent)


def test_rootless_pod_allows_and_blocks_as_the_policy_says(rootless):
    r, net = rootless, rootless.net
    out = r.exec(f"{r.pod}-agent",
                 "curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://allowed.test/; echo ' rc='$?; "
                 f"curl -sS -o /dev/null --max-time 5 http://{net.blocked_ip}/; echo ' rc='$?; "
                 "getent hosts blocked.test; echo getent=$?")
    lines = out.stdout.splitlines()
    assert lines[0] == "200 rc=0", out.stdout + out.stderr
    assert "rc=7" in lines[1] and "getent=2" in out.stdout, out.stdout + out.stderr
    assert "allowed.test" in net.dns_log() and "blocked.test" not in net.dns_log()


def test_rootless_killed_firewall_comes_back_and_the_table_held(rootless):
    """podman's restart policy starts the firewall again; the pod's infra
    container keeps the namespace, so the table stayed meanwhile."""
    r, net = rootless, rootless.net
    fw = f"{r.pod}-firewall"
    readies = r.logs(fw).count("firewall ready")
    os.kill(r.state(fw)["Pid"], 9)
    out = r.exec(f"{r.pod}-agent", f"curl -sS -o /dev/null --max-time 5 http://{net.blocked_ip}/; echo ' rc='$?")
    assert "rc=7" in out.stdout, out.stdout
    deadline = time.monotonic() + 60
    while r.logs(fw).count("firewall ready") <= readies:
        assert time.monotonic() < deadline, r.logs(fw)
        time.sleep(0.3)
    out = r.exec(f"{r.pod}-agent", "curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://allowed.test/")
    assert out.stdout == "200", out.stdout + out.stderr


# ---- podman kube play of compose/kubernetes/pod.yaml ----

@pytest.fixture(scope="module")
def kube(dockerenv, tmp_path_factory):
    from test_podman import PODMAN, PodmanEnv
    if not os.path.exists(PODMAN) or shutil.which("catatonit") is None:
        pytest.fail("podman or catatonit is missing: scripts/install-deps.sh test installs them")
    d = tmp_path_factory.mktemp("kube")
    os.chmod(d, 0o755)
    env = PodmanEnv(d)
    try:
        env.setup()
        with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                               "compose", "kubernetes", "pod.yaml")) as f:
            pod = yaml.safe_load(f)
        # Only what a test must change: the image, and the DNS server of
        # the test network (a cluster has its own).
        pod["metadata"]["name"] = name = f"asb-kube-{env.tag}"
        pod["spec"]["dnsPolicy"] = "None"
        pod["spec"]["dnsConfig"] = {"nameservers": [env.dns_ip]}
        for c in pod["spec"]["containers"]:
            assert c["image"] == "agent-sandbox-base:local"
            c["image"] = env.image
        (d / "pod.yaml").write_text(yaml.safe_dump(pod))
        (d / "policy.yaml").write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "agent-sandbox-policy"},
            "data": {"test.yaml": f'domains: [allowed.test]\ncidrs: [{env.allowed_ip}/32]\nports: [80]\n'
                                  f'selfcheck: {{allowed: "{env.allowed_ip}:80", strict: true}}\n'}}))
        play = env.podman("kube", "play", "--network", env.network, "--configmap", str(d / "policy.yaml"),
                          str(d / "pod.yaml"), check=False, timeout=300)
        assert play.returncode == 0, play.stdout + play.stderr
        env.kube_pod = name
        yield env
    finally:
        env.teardown()


def test_kube_play_of_the_manifest(kube):
    agent, fw = f"{kube.kube_pod}-agent", f"{kube.kube_pod}-firewall"
    logs = kube.wait_log(agent, "supervising", timeout=60)
    assert "firewall proven from the agent's container" in logs, logs + kube.logs(fw)
    assert "firewall ready: nothing of the user's runs" in kube.logs(fw)
    out = kube.podman("exec", agent, "bash", "-c",
                      "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; id -u; nft list ruleset >/dev/null; "
                      "echo nft=$?; curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://allowed.test/; "
                      f"echo ' rc='$?; curl -sS -o /dev/null --max-time 5 http://{kube.blocked_ip}/; echo ' rc='$?",
                      check=False)
    caps, nnp = caps_and_uid(out.stdout)
    assert caps == EMPTY_CAPS and nnp == "1", out.stdout
    assert "\n1000\n" in out.stdout and "nft=1" in out.stdout, out.stdout + out.stderr
    assert "200 rc=0" in out.stdout and " rc=7" in out.stdout, out.stdout + out.stderr
    # the read-only root and the project volume
    out = kube.podman("exec", agent, "bash", "-c", "touch /etc/x; echo etc=$?; touch /workspace/x; echo ws=$?",
                      check=False)
    assert "etc=1" in out.stdout and "ws=0" in out.stdout, out.stdout + out.stderr


def test_agentbox_run_split_on_podman(kube, tmp_path):
    """agentbox --engine podman run --split: the same three containers as
    under Docker, in this module's podman storage and network."""
    from buildpaths import AGENTBOX
    (tmp_path / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{kube.root}"\nrunroot = "{kube.runroot}"\n')
    project = tmp_path / "project"
    project.mkdir()
    os.chmod(project, 0o777)
    user_policy = tmp_path / "user.yaml"
    user_policy.write_text(f"cidrs: [{kube.allowed_ip}/32]\nports: [80]\n")
    os.chmod(user_policy, 0o644)
    env = dict(os.environ, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               CONTAINERS_CONF=str(kube.conf), CONTAINERS_STORAGE_CONF=str(tmp_path / "storage.conf"),
               AGENTBOX_ENGINE="/usr/bin/podman", AGENTBOX_READY_TIMEOUT="60")
    script = ("grep -E '^CapBnd' /proc/self/status; "
              f"curl -s -o /dev/null -w 'allowed=%{{http_code}} ' --max-time 3 http://{kube.allowed_ip}/; "
              f"curl -s -o /dev/null -w 'blocked=%{{http_code}}\\n' --max-time 3 http://{kube.blocked_ip}/; exit 0")
    r = subprocess.run([AGENTBOX, "run", "--split", "--image", kube.image, "--policy", str(user_policy),
                        "--network", kube.network, "--dns", kube.dns_ip, "--", "sh", "-c", script],
                       cwd=project, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CapBnd:\t0000000000000000" in r.stdout and "allowed=200 blocked=000" in r.stdout, r.stdout + r.stderr
    assert "firewall proven from the agent's container" in r.stderr, r.stderr
    left = kube.podman("ps", "-a", "--filter", "label=agentbox.split-of", "-q").stdout.split()
    assert left == [], left
