# SPDX-License-Identifier: MIT
"""The real Docker engine for the end-to-end tests: the sandbox image built
from this tree, and a fake internet on an --internal docker network (no
traffic leaves the machine): a dnsmasq container serving .test names, two
web servers on that network (allowed.test, blocked.test), and far.test, a
web server outside the sandbox's own subnet (see start_far_host)."""
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKER = "/usr/bin/docker"
# Checkouts that test side by side on one engine give their images their own
# tag, so one build does not replace the image another is testing.
TEST_TAG = os.environ.get("AGENT_SANDBOX_TEST_TAG", "test")
IMAGE = f"agent-sandbox-base:{TEST_TAG}"
TESTNET_IMAGE = f"agent-sandbox-testnet:{TEST_TAG}"


# Run in a sandbox (sh -c), as dev: what the seccomp profile (images/seccomp.json)
# refuses, and that a filter is on. perl because perl-base is in every Debian
# image and python3 is not in the sandbox's. io_uring_setup is 425 on every
# architecture; without the profile it fails with EFAULT (14) on the NULL
# params, i.e. io_uring is there.
# TIOCSTI on a terminal of one's own (a new session whose controlling
# terminal is a fresh pty), through ioctl() and through a raw syscall with
# junk in the upper half of the request; prints the errno of each, 0 when
# the byte went in. No single quote: it goes inside sh -c '...'.
TIOCSTI_PL = ("use POSIX; sysopen(my $m, \"/dev/ptmx\", O_RDWR|O_NOCTTY) or die \"ptmx: $!\"; "
              "my $z = pack(\"i\", 0); ioctl($m, 0x40045431, $z) or die \"unlock: $!\"; "
              "my $n = pack(\"i\", 0); ioctl($m, 0x80045430, $n) or die \"ptn: $!\"; "
              "my $pid = fork; if ($pid) { waitpid($pid, 0); exit($? >> 8) } "
              "setsid(); sysopen(my $s, \"/dev/pts/\" . unpack(\"i\", $n), O_RDWR) or die \"pts: $!\"; "
              "my $c = \"x\"; my $a = ioctl($s, 0x5412, $c) ? 0 : $!+0; "
              "my $b = syscall(16, fileno($s), 0x100005412, $c) >= 0 ? 0 : $!+0; "
              "print \"tiocsti=$a tiocsti64=$b\\n\";")
SECCOMP_PROBE = ("perl -e 'print \"vsock=\", (socket(my $s, 40, 1, 0) ? \"created\" : $!+0), "
                 "\" io_uring=\", (syscall(425, 1, 0) >= 0 ? \"created\" : $!+0), \"\\n\"'; "
                 "perl -e '" + TIOCSTI_PL + "'; "
                 "grep ^Seccomp: /proc/1/status")
# EAFNOSUPPORT for AF_VSOCK, ENOSYS for io_uring, EIO for TIOCSTI; Seccomp 2: a filter.
SECCOMP_REFUSED = "vsock=97 io_uring=38\ntiocsti=5 tiocsti64=5\nSeccomp:\t2\n"
SECCOMP_PROFILE = os.path.join(ROOT, "images", "seccomp.json")


def assert_terminals_survive_each_other(container, uid):
    """Three `docker exec -i CONTAINER bash` terminals at once, as the
    container's user (uid): the first exits with 3, which it reports, and the
    other two still answer."""
    terms = [subprocess.Popen([DOCKER, "exec", "-i", container, "bash"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        for i, t in enumerate(terms):
            t.stdin.write(f"echo hello-$(id -u)-{i}\n")
            t.stdin.flush()
            assert t.stdout.readline().strip() == f"hello-{uid}-{i}"
        terms[0].stdin.write("exit 3\n")
        terms[0].stdin.flush()
        assert terms[0].wait(timeout=10) == 3
        for i, t in enumerate(terms[1:], 1):
            t.stdin.write(f"echo still-{i}\n")
            t.stdin.flush()
            assert t.stdout.readline().strip() == f"still-{i}"
    finally:
        for t in terms:
            t.kill()
            t.wait()


def docker(*args, check=True, timeout=300, **kw):
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, check=check, timeout=timeout, **kw)


class DockerEnv:
    def __init__(self, workdir):
        self.tag = uuid.uuid4().hex[:8]
        self.network = f"asb-e2e-{self.tag}"
        self.workdir = workdir
        self.containers = []
        self.far_server = None

    def setup(self):
        subprocess.run([os.path.join(ROOT, "scripts", "docker-setup.sh"), "bookworm"], check=True,
                       timeout=900)
        docker("build", "-q", "-f", os.path.join(ROOT, "images", "base", "Dockerfile"), "-t", IMAGE, ROOT,
               timeout=900)
        docker("build", "-q", "-t", TESTNET_IMAGE, os.path.join(ROOT, "images", "testnet"), timeout=900)
        self.create_network()
        self.run_helper("dns", self.dns_ip, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                        "--log-queries", "--log-facility=-", "--user=root",
                        # Authoritative for .test, as a real zone is: a name
                        # with no AAAA gets NODATA, not REFUSED (which the
                        # sandbox's resolver passes on as SERVFAIL, and
                        # musl's getaddrinfo then fails the whole lookup).
                        "--local=/test/",
                        f"--host-record=allowed.test,{self.allowed_ip}",
                        f"--host-record=blocked.test,{self.blocked_ip}",
                        f"--host-record=far.test,{self.far_ip}",
                        # two names on far.test's address, served over TLS by
                        # tests/firewall/nameserver.py (test_docker.py)
                        f"--host-record=tls-ok.test,{self.far_ip}",
                        f"--host-record=tls-other.test,{self.far_ip}",
                        # names under a wildcard of the policy, at depth 1 and 2
                        f"--host-record=a.wild.test,{self.far_ip}",
                        f"--host-record=deep.x.wild.test,{self.far_ip}", "--local-ttl=60")
        for name, ip in (("allowed", self.allowed_ip), ("blocked", self.blocked_ip)):
            self.run_helper(name, ip, "python3", "-m", "http.server", "80")
        self.start_far_host()

    def create_network(self):
        """The first 198.18.N.0/24 no other docker network on this machine uses."""
        for n in range(7, 250):
            r = docker("network", "create", "--internal", "--subnet", f"198.18.{n}.0/24", self.network,
                       check=False)
            if r.returncode == 0:
                self.dns_ip, self.allowed_ip, self.blocked_ip = (f"198.18.{n}.{h}" for h in (2, 10, 11))
                self.far_ip = f"203.0.113.{n}"
                return
            if "overlap" not in r.stderr:
                raise AssertionError(f"docker network create failed: {r.stderr}")
        raise AssertionError("no free 198.18.N.0/24 subnet for the test network")

    def start_far_host(self):
        """A web server outside the sandbox's subnet, so that a policy can
        allow it by name: the init's rebinding guard refuses names that
        resolve into the container's own networks. Containers on an
        --internal network still route through the bridge, so the address
        sits on this network's own bridge and the server runs here; nothing
        else can reach it, and it goes away with the network."""
        net_id = docker("network", "inspect", "-f", "{{.Id}}", self.network).stdout.strip()
        self.bridge = f"br-{net_id[:12]}"
        subprocess.run(["ip", "addr", "add", f"{self.far_ip}/32", "dev", self.bridge], check=True)
        self.far_server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", self.far_ip, "80"],
                                           cwd=self.workdir, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.far_ip, 80), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.far_server.poll() is not None:
                    raise AssertionError(f"the far.test server on {self.far_ip}:80 did not start")
                time.sleep(0.05)

    def run_helper(self, name, ip, *cmd):
        cname = f"asb-e2e-{name}-{self.tag}"
        docker("run", "-d", "--name", cname, "--network", self.network, "--ip", ip, TESTNET_IMAGE, *cmd)
        self.containers.append(cname)

    def policy(self, text, name="policy.yaml"):
        path = self.workdir / name
        path.write_text(text)
        os.chmod(path, 0o644)
        return path

    def sandbox_args(self, policy, *, caps=("NET_ADMIN", "SETPCAP", "SETUID", "SETGID"), extra=()):
        """docker run arguments for a sandbox on the test network."""
        args = ["--network", self.network, "--dns", self.dns_ip, "--cap-drop", "ALL",
                "-v", f"{policy}:/etc/agent-sandbox/policy.yaml:ro", "--read-only",
                "--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/home/dev:uid=1000,gid=1000"]
        for c in caps:
            args += ["--cap-add", c]
        return args + list(extra)

    def start_sandbox(self, policy, *cmd, caps=("NET_ADMIN", "SETPCAP", "SETUID", "SETGID"), extra=()):
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

    def dns_log(self):
        """What the network's DNS server was asked (dnsmasq logs to stderr)."""
        r = docker("logs", f"asb-e2e-dns-{self.tag}")
        return r.stdout + r.stderr

    def ruleset(self, name, stable=False):
        """nft -j list ruleset of the sandbox; stable: without what changes
        by itself, the countdown of learned addresses' expiry and the
        counters (Docker's DNS rules count every lookup)."""
        out = subprocess.run(["nsenter", "-t", str(self.pid(name)), "-n", "nft", "-j", "list", "ruleset"],
                             capture_output=True, text=True, check=True)
        if not stable:
            return out.stdout
        text = re.sub(r', "expires": \d+', "", out.stdout)
        return re.sub(r'"counter": \{"packets": \d+, "bytes": \d+\}', '"counter": {}', text)

    def teardown(self):
        if self.far_server:
            self.far_server.kill()
            self.far_server.wait()
        for c in self.containers:
            docker("rm", "-f", c, check=False)
        docker("network", "rm", self.network, check=False)
