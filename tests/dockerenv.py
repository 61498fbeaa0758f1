"""The real Docker engine for the end-to-end tests: the sandbox image built
from this tree, and a fake internet on an --internal docker network (no
traffic leaves the machine): a dnsmasq container serving .test names and
two web servers, one the policy allows and one it does not."""
import json
import os
import subprocess
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKER = "/usr/bin/docker"
IMAGE = "agent-sandbox-base:test"
TESTNET_IMAGE = "agent-sandbox-testnet:test"
SUBNET = "198.18.7.0/24"
DNS_IP = "198.18.7.2"
ALLOWED_IP = "198.18.7.10"
BLOCKED_IP = "198.18.7.11"


def docker(*args, check=True, timeout=300, **kw):
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, check=check, timeout=timeout, **kw)


class DockerEnv:
    def __init__(self, workdir):
        self.tag = uuid.uuid4().hex[:8]
        self.network = f"asb-e2e-{self.tag}"
        self.workdir = workdir
        self.containers = []

    def setup(self):
        subprocess.run([os.path.join(ROOT, "scripts", "docker-setup.sh"), "bookworm"], check=True,
                       timeout=900)
        docker("build", "-q", "-f", os.path.join(ROOT, "images", "base", "Dockerfile"), "-t", IMAGE, ROOT,
               timeout=900)
        docker("build", "-q", "-t", TESTNET_IMAGE, os.path.join(ROOT, "images", "testnet"), timeout=900)
        docker("network", "create", "--internal", "--subnet", SUBNET, self.network)
        self.run_helper("dns", DNS_IP, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                        "--log-queries", "--log-facility=-", "--user=root",
                        f"--host-record=allowed.test,{ALLOWED_IP}", f"--host-record=blocked.test,{BLOCKED_IP}",
                        "--local-ttl=60")
        for name, ip in (("allowed", ALLOWED_IP), ("blocked", BLOCKED_IP)):
            self.run_helper(name, ip, "python3", "-m", "http.server", "80")

    def run_helper(self, name, ip, *cmd):
        cname = f"asb-e2e-{name}-{self.tag}"
        docker("run", "-d", "--name", cname, "--network", self.network, "--ip", ip, TESTNET_IMAGE, *cmd)
        self.containers.append(cname)

    def policy(self, text, name="policy.yaml"):
        path = self.workdir / name
        path.write_text(text)
        os.chmod(path, 0o644)
        return path

    def sandbox_args(self, policy, *, caps=("NET_ADMIN", "SETPCAP"), extra=()):
        """docker run arguments for a sandbox on the test network."""
        args = ["--network", self.network, "--dns", DNS_IP, "--cap-drop", "ALL",
                "-v", f"{policy}:/etc/agent-sandbox/policy.yaml:ro", "--read-only",
                "--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/home/dev:uid=1000,gid=1000"]
        for c in caps:
            args += ["--cap-add", c]
        return args + list(extra)

    def start_sandbox(self, policy, *cmd, caps=("NET_ADMIN", "SETPCAP"), extra=()):
        name = f"asb-e2e-sbx-{uuid.uuid4().hex[:8]}"
        docker("run", "-d", "--name", name, *self.sandbox_args(policy, caps=caps, extra=extra), IMAGE, *cmd)
        self.containers.append(name)
        return name

    def wait_log(self, name, text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = docker("logs", name, check=False).stderr
            if text in logs:
                return logs
            state = json.loads(docker("inspect", name).stdout)[0]["State"]
            if not state["Running"]:
                return logs
            time.sleep(0.1)
        raise AssertionError(f"{name}: no {text!r} in the log:\n" + docker("logs", name, check=False).stderr)

    def exited(self, name, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = json.loads(docker("inspect", name).stdout)[0]["State"]
            if not state["Running"]:
                return state["ExitCode"]
            time.sleep(0.1)
        raise AssertionError(f"{name} is still running")

    def pid(self, name):
        return json.loads(docker("inspect", name).stdout)[0]["State"]["Pid"]

    def ruleset(self, name):
        out = subprocess.run(["nsenter", "-t", str(self.pid(name)), "-n", "nft", "-j", "list", "ruleset"],
                             capture_output=True, text=True, check=True)
        return out.stdout

    def teardown(self):
        for c in self.containers:
            docker("rm", "-f", c, check=False)
        docker("network", "rm", self.network, check=False)
